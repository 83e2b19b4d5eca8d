// Head importance (core/analysis/importance.h) against the PyTorch references of
// tools/reference/make_ablation_fixtures.py (tests/fixtures/ablation/*.json: per head, clean target
// minus ablated target, logit and probability), plus progress, cancel, the folder mean and the CSV.
// A chosen DETR detection (`detection` = q): against a brute force written here (one Session run per
// head with that head zeroed, query q's class probability read from the logits by the test) and
// against the PyTorch reference's single-head case (decoder cross 0:2, mean) for every query.
#include "core/analysis/importance.h"
#include "core/error.h"
#include "core/io/npy.h"
#include "core/models/loader.h"
#include "core/session.h"
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

// Query q's (top class at the clean run, logit, softmax probability over its whole row) in logits [Q, C + 1],
// computed here in double from the floats: the reference for the chosen-detection tables.
struct QueryValue {
    int cls = 0;
    double logit = 0, prob = 0;
};
QueryValue query_value(const Tensor& logits, int q, int cls = -1) {
    const int64_t n = logits.size(1);
    const float* x = logits.ptr() + q * n;
    if (cls < 0) {
        cls = 0;
        for (int c = 1; c + 1 < n; ++c)
            if (x[c] > x[cls]) cls = c;
    }
    double mx = x[0], sum = 0;
    for (int64_t c = 1; c < n; ++c) mx = std::max(mx, double(x[c]));
    for (int64_t c = 0; c < n; ++c) sum += std::exp(double(x[c]) - mx);
    return {cls, double(x[cls]), std::exp(double(x[cls]) - mx) / sum};
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

    // The chosen detection's table equals one zeroed head at a time, read off query q by the test, for
    // every site; the default (best detection) is another query with other values.
    void detr_chosen_detection_matches_brute_force() {
        auto model = load_model(fixture("detr/r50tiny/hf"));
        const Tensor input = read_npy(fixture("detr/r50tiny/input.npy"));
        Session session(*model);
        const RunResult clean = session.run(input, RecordPolicy::None);
        const int Q = int(clean.logits.size(0));
        QCOMPARE(Q, 10);
        const HeadImportance best = head_importance(*model, input, {}, Site::DecoderCross);
        QVERIFY(!best.target.chosen);
        for (const Site site : {Site::Encoder, Site::DecoderSelf, Site::DecoderCross}) {
            const int layers = site_layers(model->info(), site), heads = model->info().n_heads;
            QVERIFY(layers > 0);
            std::vector<RunResult> ablated; // [layer · heads + head]: that head zeroed, nothing else
            for (int l = 0; l < layers; ++l)
                for (int h = 0; h < heads; ++h) {
                    Interventions iv;
                    iv.ablated = {HeadRef{site, l, h}};
                    session.set_interventions(iv);
                    ablated.push_back(session.run(input, RecordPolicy::None));
                }
            session.clear_interventions();
            for (const int q : {0, 7, Q - 1}) {
                QVERIFY(q != best.target.query); // another detection than the default's
                const QueryValue ref = query_value(clean.logits, q);
                const HeadImportance imp = head_importance(*model, input, {}, site, q);
                const std::string label = std::string(site_name(site)) + " query " + std::to_string(q);
                QCOMPARE(imp.target.query, q);
                QVERIFY(imp.target.chosen);
                QCOMPARE(imp.target.class_index, ref.cls);
                const std::vector<std::string>& labels = model->info().labels;
                QCOMPARE(imp.target.label, size_t(ref.cls) < labels.size() && !labels[size_t(ref.cls)].empty()
                                               ? labels[size_t(ref.cls)] : "class " + std::to_string(ref.cls));
                QVERIFY2(std::abs(imp.target.logit - ref.logit) < 1e-9 && std::abs(imp.target.prob - ref.prob) < 1e-9, label.c_str());
                QCOMPARE(size_t(imp.n_layers) * imp.n_heads, ablated.size());
                double worst = 0, largest = 0;
                for (int l = 0; l < layers; ++l)
                    for (int h = 0; h < heads; ++h) {
                        const QueryValue v = query_value(ablated[size_t(l * heads + h)].logits, q, ref.cls);
                        worst = std::max({worst, std::abs(imp.logit_at(l, h) - (ref.logit - v.logit)),
                                          std::abs(imp.prob_at(l, h) - (ref.prob - v.prob))});
                        largest = std::max(largest, std::abs(ref.prob - v.prob));
                    }
                std::printf("  %-32s brute-force maxdiff = %.3e (largest |delta_prob| %.4f)\n", label.c_str(), worst, largest);
                QVERIFY2(worst <= 1e-6, label.c_str());
                QVERIFY2(largest > 1e-4, label.c_str()); // the heads matter to this query: the comparison means something
                if (site == Site::DecoderCross) { // not the best detection's table under another name
                    double apart = 0;
                    for (size_t i = 0; i < imp.delta_prob.size(); ++i) apart = std::max(apart, std::abs(imp.delta_prob[i] - best.delta_prob[i]));
                    QVERIFY2(apart > 1e-4, label.c_str());
                }
            }
        }
        // choosing the best detection's own query gives the default's numbers (marked as chosen)
        const HeadImportance same = head_importance(*model, input, {}, Site::DecoderCross, best.target.query);
        QVERIFY(same.target.chosen);
        QCOMPARE(same.target.class_index, best.target.class_index);
        QCOMPARE(same.delta_prob, best.delta_prob);
    }

    // The PyTorch reference's single-head case (decoder cross-attention 0:2 mean-ablated, every query's
    // logits): each query's table, at that head, is the reference's clean minus ablated logit.
    void detr_every_query_matches_pytorch_single_head_case() {
        auto model = load_model(fixture("detr/r50tiny/hf"));
        const Tensor input = read_npy(fixture("detr/r50tiny/input.npy"));
        const json ref = read_json(fixture("ablation/detr_r50tiny.json"));
        const json* one = nullptr;
        for (const json& c : ref["cases"])
            if (c["name"] == "cross_mean") one = &c;
        QVERIFY(one);
        QCOMPARE((*one)["heads"].size(), size_t(1));
        const HeadRef head = interventions_of(*one).ablated.at(0);
        QCOMPARE(head.site, Site::DecoderCross);
        Interventions base;
        base.mode = AblationMode::Mean;
        double worst = 0;
        for (int q = 0; q < int(ref["clean_logits"].size()); ++q) {
            const std::vector<double> clean = ref["clean_logits"][q].get<std::vector<double>>();
            const std::vector<double> abl = (*one)["logits"][q].get<std::vector<double>>();
            const int cls = int(std::max_element(clean.begin(), clean.end() - 1) - clean.begin()); // no-object excluded
            const HeadImportance imp = head_importance(*model, input, base, Site::DecoderCross, q);
            QCOMPARE(imp.target.class_index, cls);
            worst = std::max(worst, std::abs(imp.logit_at(head.layer, head.head) - (clean[size_t(cls)] - abl[size_t(cls)])));
        }
        std::printf("  cross_mean, every query: delta_logit maxdiff vs PyTorch = %.3e\n", worst);
        QVERIFY(worst <= 1e-4);
    }

    void detection_errors_and_csv() {
        auto detr = load_model(fixture("detr/r50tiny/hf"));
        const Tensor input = read_npy(fixture("detr/r50tiny/input.npy"));
        for (const int bad : {10, -2}) {
            try {
                head_importance(*detr, input, {}, Site::DecoderCross, bad);
                QFAIL("no error for a query out of range");
            } catch (const Error& e) {
                QCOMPARE(e.kind(), ErrorKind::Argument);
                QCOMPARE(e.field(), std::string("--detection"));
                QVERIFY2(std::string(e.what()).find("out of range: this model has 10 object queries (0…9)") != std::string::npos, e.what());
            }
        }
        auto vit = load_model(fixture("vit/hf_vit"));
        try {
            head_importance(*vit, read_npy(fixture("vit/hf_vit/input.npy")), {}, Site::Encoder, 0);
            QFAIL("no error for a detection of a classifier");
        } catch (const Error& e) {
            QCOMPARE(e.kind(), ErrorKind::Argument);
            QCOMPARE(e.field(), std::string("--detection"));
        }
        // a detector's table names the class and query measured on every row
        const HeadImportance imp = head_importance(*detr, input, {}, Site::DecoderCross, 7);
        const std::string csv = importance_csv(imp);
        const std::string tail = "," + std::to_string(imp.target.class_index) + ",7\n";
        QVERIFY2(csv.rfind("layer,head,delta_logit,delta_prob,target_class,target_query\n0,0,", 0) == 0, csv.c_str());
        QCOMPARE(int(std::count(csv.begin(), csv.end(), '\n')), 1 + imp.n_layers * imp.n_heads);
        size_t rows = 0;
        for (size_t at = csv.find('\n'); (at = csv.find(tail, at)) != std::string::npos; at += tail.size()) ++rows;
        QCOMPARE(int(rows), imp.n_layers * imp.n_heads);
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
        head_importance(*model, input, {}, Site::Encoder, -1, [&](int d, int t) { seen.emplace_back(d, t); });
        QCOMPARE(int(seen.size()), 10); // the baseline and 3 × 3 heads
        QCOMPARE(seen.front(), std::make_pair(1, 10));
        QCOMPARE(seen.back(), std::make_pair(10, 10));
        CancelFlag cancel{false};
        try {
            head_importance(*model, input, {}, Site::Encoder, -1, [&](int d, int) { if (d == 3) cancel = true; }, &cancel);
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
