// Head importance (core/analysis/importance.h) against the PyTorch references of
// tools/reference/make_ablation_fixtures.py (tests/fixtures/ablation/*.json: per head, clean target
// minus ablated target, logit and probability), plus progress, cancel, the folder mean and the CSV.
#include "core/analysis/importance.h"
#include "core/error.h"
#include "core/io/npy.h"
#include "core/models/loader.h"
#include "tests/support/ablation_ref.h"

#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>

#include <QTemporaryDir>
#include <QtTest>

#include <cmath>
#include <fstream>

using namespace attnscope;
using namespace attnscope::analysis;
using namespace attnscope::testing;
using json = nlohmann::json;

namespace {

// Every importance table of a reference file, within 1e-4 (target, clean values, every delta).
void check_tables(const std::string& ref_file, const Model& model, const Tensor& input) {
    const json ref = read_json(ref_file);
    QVERIFY(!ref["importance"].empty());
    for (const json& t : ref["importance"]) {
        Interventions base;
        QVERIFY(ablation_mode_from_name(t["mode"].get<std::string>(), base.mode));
        Site site;
        QVERIFY(site_from_name(t["site"].get<std::string>(), site));
        const HeadImportance imp = head_importance(model, input, base, site);
        const std::string label = t["site"].get<std::string>() + "/" + t["mode"].get<std::string>();
        QCOMPARE(imp.target.class_index, t["target_class"].get<int>());
        QCOMPARE(imp.target.query, t["target_query"].get<int>());
        QVERIFY(std::abs(imp.target.logit - t["clean_logit"].get<double>()) <= 1e-4);
        QVERIFY(std::abs(imp.target.prob - t["clean_prob"].get<double>()) <= 1e-4);
        QCOMPARE(size_t(imp.n_layers) * imp.n_heads, t["table"].size());
        double worst = 0, largest = 0;
        for (const json& row : t["table"]) {
            const int l = row[0], h = row[1];
            worst = std::max({worst, std::abs(imp.logit_at(l, h) - row[2].get<double>()), std::abs(imp.prob_at(l, h) - row[3].get<double>())});
            largest = std::max(largest, std::abs(row[2].get<double>()));
        }
        std::printf("  %-40s importance maxdiff = %.3e (largest |delta_logit| %.3f)\n", label.c_str(), worst, largest);
        QVERIFY2(worst <= 1e-4, label.c_str());
        QVERIFY2(largest > 1e-2, label.c_str()); // the table is not trivially zero
    }
}

} // namespace

class TestImportance : public QObject {
    Q_OBJECT
private slots:
    void vit_tables_match_pytorch() {
        auto model = load_model(fixture("vit/hf_vit"));
        check_tables(fixture("ablation/hf_vit.json"), *model, read_npy(fixture("vit/hf_vit/input.npy")));
        auto deit = load_model(fixture("vit/deit_distilled"));
        check_tables(fixture("ablation/deit_distilled.json"), *deit, read_npy(fixture("vit/deit_distilled/input.npy")));
    }

    void detr_cross_attention_table_matches_pytorch() {
        auto model = load_model(fixture("detr/r50tiny/hf"));
        check_tables(fixture("ablation/detr_r50tiny.json"), *model, read_npy(fixture("detr/r50tiny/input.npy")));
    }

    void real_deit_tiny_table_matches_pytorch() {
        const std::string dir = shared_path("models/deit-tiny-imagenet");
        if (dir.empty()) QSKIP("../shared/models/deit-tiny-imagenet absent: real-model importance test skipped");
        auto model = load_model(dir);
        check_tables(fixture("ablation/deit_tiny_real.json"), *model, analytic_input(224, 224));
    }

    void progress_cancel_and_errors() {
        auto model = load_model(fixture("vit/hf_vit"));
        const Tensor input = read_npy(fixture("vit/hf_vit/input.npy"));
        std::vector<std::pair<int, int>> seen;
        head_importance(*model, input, {}, Site::Encoder, [&](int d, int t) { seen.emplace_back(d, t); });
        QCOMPARE(int(seen.size()), 10); // the baseline and 3 × 3 heads
        QCOMPARE(seen.front(), std::make_pair(1, 10));
        QCOMPARE(seen.back(), std::make_pair(10, 10));
        CancelFlag cancel{false};
        try {
            head_importance(*model, input, {}, Site::Encoder, [&](int d, int) { if (d == 3) cancel = true; }, &cancel);
            QFAIL("not cancelled");
        } catch (const Error& e) {
            QCOMPARE(e.kind(), ErrorKind::Cancelled);
        }
        QVERIFY_THROWS_EXCEPTION(Error, head_importance(*model, input, {}, Site::DecoderCross));
    }

    void baseline_includes_the_base_interventions() {
        // with head 0:1 already ablated in the base, ablating it "again" changes nothing
        auto model = load_model(fixture("vit/hf_vit"));
        const Tensor input = read_npy(fixture("vit/hf_vit/input.npy"));
        Interventions base;
        base.ablated = {{Site::Encoder, 0, 1}};
        const HeadImportance imp = head_importance(*model, input, base, Site::Encoder);
        QCOMPARE(imp.logit_at(0, 1), 0.0);
        QCOMPARE(imp.prob_at(0, 1), 0.0);
        const json ref = read_json(fixture("ablation/hf_vit.json"));
        // The reference case "zero" ablates 0:1 and 2:0: the target's logit with 2:0 ablated on top of
        // the 0:1 base, i.e. baseline − delta(2, 0), is that case's logit.
        const json& both = ref["cases"][0];
        QCOMPARE(both["name"].get<std::string>(), std::string("zero"));
        const double with_both = both["logits"][imp.target.class_index].get<double>();
        QVERIFY(std::abs((imp.target.logit - imp.logit_at(2, 0)) - with_both) <= 1e-4);
    }

    void folder_mean_of_per_image_tables_and_csv() {
        auto model = load_model(fixture("vit/hf_vit"));
        QTemporaryDir tmp;
        const std::string dir = tmp.path().toStdString();
        cv::Mat a(32, 32, CV_8UC3), b(40, 24, CV_8UC3);
        cv::randu(a, 0, 255);
        cv::randu(b, 0, 255);
        QVERIFY(cv::imwrite(dir + "/a.png", a) && cv::imwrite(dir + "/b.png", b));
        std::ofstream(dir + "/c.png") << "not a png";
        std::vector<std::pair<std::string, HeadImportance>> per;
        BatchSummary summary;
        int skipped = 0;
        BatchCallbacks cb;
        cb.skipped = [&](size_t, const std::string&, const std::string&) { ++skipped; };
        const HeadImportance mean = folder_head_importance(*model, dir, list_image_files(dir), {}, Site::Encoder, cb, &per, nullptr, &summary);
        QCOMPARE(mean.n_images, 2);
        QCOMPARE(skipped, 1);
        QCOMPARE(summary.skipped, 1);
        QCOMPARE(int(per.size()), 2);
        QCOMPARE(per[0].first, std::string("a.png"));
        for (int l = 0; l < 3; ++l)
            for (int h = 0; h < 3; ++h) {
                QVERIFY(std::abs(mean.logit_at(l, h) - (per[0].second.logit_at(l, h) + per[1].second.logit_at(l, h)) / 2) < 1e-12);
                QVERIFY(std::abs(mean.prob_at(l, h) - (per[0].second.prob_at(l, h) + per[1].second.prob_at(l, h)) / 2) < 1e-12);
            }
        const std::string csv = importance_csv(mean);
        QVERIFY(csv.rfind("layer,head,delta_logit,delta_prob\n0,0,", 0) == 0);
        QCOMPARE(int(std::count(csv.begin(), csv.end(), '\n')), 10);
        const std::string pi = importance_per_image_csv(per);
        QVERIFY(pi.rfind("image,layer,head,delta_logit,delta_prob,target_class,target_query\na.png,0,0,", 0) == 0);
        QCOMPARE(int(std::count(pi.begin(), pi.end(), '\n')), 19);
        const Tensor g = importance_grid(mean, true);
        QCOMPARE(g.shape, (std::vector<int64_t>{3, 3}));
        QCOMPARE(double(g.data[4]), double(float(mean.prob_at(1, 1))));
    }
};

QTEST_GUILESS_MAIN(TestImportance)
#include "test_importance.moc"
