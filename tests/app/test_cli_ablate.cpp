// attnscope-cli ablate (issue 18): the files and fields of its contract, checked against the PyTorch
// references of tools/reference/make_ablation_fixtures.py (tests/fixtures/ablation/*.json), and its errors;
// DETR's --importance of a chosen detection (--detection) against the reference's single-head case.
#include "core/io/npy.h"
#include "tests/support/cli_process.h"
#include "tests/support/ablation_ref.h"

#include <QProcess>
#include <QTemporaryDir>
#include <QtTest>

#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>

using namespace attnscope;
using namespace attnscope::testing;
namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {
using Out = CliOut;
Out cli(const QStringList& args) { return run_cli(args, 300000); }
const json& ref_case(const json& ref, const std::string& name) {
    for (const json& c : ref["cases"])
        if (c["name"] == name) return c;
    throw std::runtime_error("no reference case " + name);
}
// head_importance.csv rows → {layer, head, delta_logit, delta_prob}
std::vector<std::array<double, 4>> read_importance(const std::string& path) {
    std::ifstream f(path);
    std::string line;
    std::getline(f, line);
    if (line != "layer,head,delta_logit,delta_prob") throw std::runtime_error("bad header: " + line);
    std::vector<std::array<double, 4>> rows;
    while (std::getline(f, line)) {
        std::array<double, 4> r{};
        char c;
        std::istringstream s(line);
        s >> r[0] >> c >> r[1] >> c >> r[2] >> c >> r[3];
        rows.push_back(r);
    }
    return rows;
}
// A detector's head_importance.csv: the header, then per row {layer, head, delta_logit, delta_prob, target_class, target_query}.
std::vector<std::array<double, 6>> read_detr_importance(const std::string& path, std::string& header) {
    std::ifstream f(path);
    std::string line;
    std::getline(f, header);
    std::vector<std::array<double, 6>> rows;
    while (std::getline(f, line)) {
        std::array<double, 6> r{};
        char c;
        std::istringstream s(line);
        s >> r[0] >> c >> r[1] >> c >> r[2] >> c >> r[3] >> c >> r[4] >> c >> r[5];
        if (!s) throw std::runtime_error("bad row: " + line);
        rows.push_back(r);
    }
    return rows;
}
} // namespace

class TestCliAblate : public QObject {
    Q_OBJECT
private slots:
    void vit_heads_logits_predictions_and_importance() {
        QTemporaryDir tmp;
        const QString out = tmp.path() + "/o";
        const Out r = cli({"ablate", "--model", fixture_arg("vit/hf_vit"), "--input-npy", fixture_arg("vit/hf_vit/input.npy"), "--heads", "0:1,2:0",
                           "--mode", "mean", "--importance", "--out", out});
        QVERIFY2(r.code == 0, qPrintable(r.err));
        const std::string o = out.toStdString();
        const json ref = read_json(fixture("ablation/hf_vit.json"));
        QVERIFY(diff_to(read_npy(o + "/logits.npy"), ref_case(ref, "mean")["logits"], "cli mean logits") <= 1e-4);
        QVERIFY(max_abs_diff(read_npy(o + "/input.npy"), read_npy(fixture("vit/hf_vit/input.npy")), "input.npy") == 0);
        const json res = read_json(o + "/result.json");
        QCOMPARE(res["interventions"]["mode"].get<std::string>(), std::string("mean"));
        QCOMPARE(res["interventions"]["heads"].size(), size_t(2));
        QCOMPARE(res["interventions"]["heads"][1]["layer"].get<int>(), 2);
        // before = the clean reference, after = the ablated one (top-1 probability from the logits)
        auto softmax_max = [](const json& logits) {
            std::vector<float> v;
            flatten(logits, v);
            const double mx = *std::max_element(v.begin(), v.end());
            double s = 0;
            for (float x : v) s += std::exp(x - mx);
            return 1.0 / s;
        };
        QVERIFY(std::abs(res["predictions_before"][0]["prob"].get<double>() - softmax_max(ref["clean_logits"])) < 1e-4);
        QVERIFY(std::abs(res["predictions_after"][0]["prob"].get<double>() - softmax_max(ref_case(ref, "mean")["logits"])) < 1e-4);
        QCOMPARE(res["predictions_before"].size(), size_t(5));
        // --importance on top of the listed heads: baseline = the ablated run; the listed heads read 0
        const auto rows = read_importance(o + "/head_importance.csv");
        QCOMPARE(int(rows.size()), 9);
        QCOMPARE(rows[1][2], 0.0);
        QCOMPARE(rows[6][2], 0.0);
        QCOMPARE(res["importance"]["baseline"].get<std::string>(), std::string("run with the listed interventions"));
        QVERIFY(fs::file_size(o + "/head_importance.png") > 1000);
    }

    void clean_importance_table_matches_pytorch() {
        QTemporaryDir tmp;
        const QString out = tmp.path() + "/o";
        const Out r = cli({"ablate", "--model", fixture_arg("vit/hf_vit"), "--input-npy", fixture_arg("vit/hf_vit/input.npy"), "--importance", "--out", out});
        QVERIFY2(r.code == 0, qPrintable(r.err));
        const json ref = read_json(fixture("ablation/hf_vit.json"));
        const json& t = ref["importance"][0];
        QCOMPARE(t["mode"].get<std::string>(), std::string("zero"));
        const auto rows = read_importance(out.toStdString() + "/head_importance.csv");
        QCOMPARE(rows.size(), t["table"].size());
        double worst = 0;
        for (size_t i = 0; i < rows.size(); ++i) {
            QCOMPARE(rows[i][0], t["table"][i][0].get<double>());
            QCOMPARE(rows[i][1], t["table"][i][1].get<double>());
            worst = std::max({worst, std::abs(rows[i][2] - t["table"][i][2].get<double>()), std::abs(rows[i][3] - t["table"][i][3].get<double>())});
        }
        QVERIFY2(worst <= 1e-4, qPrintable(QString::number(worst)));
        const json res = read_json(out.toStdString() + "/result.json");
        QCOMPARE(res["importance"]["target"]["class"].get<int>(), t["target_class"].get<int>());
        QCOMPARE(res["importance"]["baseline"].get<std::string>(), std::string("clean run"));
    }

    void masked_patches() {
        QTemporaryDir tmp;
        const QString out = tmp.path() + "/o";
        const Out r = cli({"ablate", "--model", fixture_arg("vit/hf_vit"), "--input-npy", fixture_arg("vit/hf_vit/input.npy"), "--mask-patches", "3,6",
                           "--heads", "1:2", "--out", out});
        QVERIFY2(r.code == 0, qPrintable(r.err));
        const json ref = read_json(fixture("ablation/hf_vit.json"));
        QVERIFY(diff_to(read_npy(out.toStdString() + "/logits.npy"), ref_case(ref, "mask_zero")["logits"], "cli mask_zero") <= 1e-4);
        const Tensor masked = read_npy(out.toStdString() + "/input_masked.npy");
        QCOMPARE(masked.data[24], 0.0f);          // pixel (y 0, x 24): patch 3 (grid row 0, column 3)
        QCOMPARE(masked.data[9 * 32 + 17], 0.0f); // pixel (9, 17): patch 6 (row 1, column 2)
        QVERIFY(masked.data[0] != 0.0f);          // (0, 0): patch 0, kept
        QVERIFY(masked.data[8] != 0.0f);          // (0, 8): patch 1, kept
    }

    void detr_boxes_and_detections_before_after() {
        QTemporaryDir tmp;
        const QString out = tmp.path() + "/o";
        const Out r = cli({"ablate", "--model", fixture_arg("detr/r50tiny/hf"), "--input-npy", fixture_arg("detr/r50tiny/input.npy"), "--heads",
                           "encoder:1:2,decoder_self:0:1,decoder_cross:1:3", "--threshold", "0.1", "--out", out});
        QVERIFY2(r.code == 0, qPrintable(r.err));
        const json ref = read_json(fixture("ablation/detr_r50tiny.json"));
        const json& c = ref_case(ref, "mixed_zero");
        QVERIFY(diff_to(read_npy(out.toStdString() + "/boxes.npy"), c["boxes"], "cli DETR boxes") <= 1e-4);
        QVERIFY(diff_to(read_npy(out.toStdString() + "/logits.npy"), c["logits"], "cli DETR logits") <= 1e-4);
        const json res = read_json(out.toStdString() + "/result.json");
        QVERIFY(res.contains("detections_before") && res.contains("detections_after"));
        QVERIFY(res["detections_before"].is_array());
        QCOMPARE(res["interventions"]["heads"][2]["site"].get<std::string>(), std::string("decoder_cross"));
    }

    // --detection Q: query Q's top class is measured; the decoder cross-attention head the PyTorch reference
    // mean-ablates alone (cross_mean) reads that query's clean − ablated logit from the reference. Without
    // it: the best detection (the reference's query 5), named as such.
    void detr_importance_of_a_chosen_detection() {
        const json ref = read_json(fixture("ablation/detr_r50tiny.json"));
        const json& one = ref_case(ref, "cross_mean");
        const HeadRef head = interventions_of(one).ablated.at(0);
        QTemporaryDir tmp;
        for (const int q : {7, 2}) {
            const QString out = tmp.path() + "/q" + QString::number(q);
            const Out r = cli({"ablate", "--model", fixture_arg("detr/r50tiny/hf"), "--input-npy", fixture_arg("detr/r50tiny/input.npy"),
                               "--importance", "--detection", QString::number(q), "--mode", "mean", "--site", "decoder_cross", "--out", out});
            QVERIFY2(r.code == 0, qPrintable(r.err));
            const std::vector<double> clean = ref["clean_logits"][q].get<std::vector<double>>();
            const std::vector<double> abl = one["logits"][q].get<std::vector<double>>();
            const int cls = int(std::max_element(clean.begin(), clean.end() - 1) - clean.begin()); // no-object excluded
            std::string header;
            const auto rows = read_detr_importance(out.toStdString() + "/head_importance.csv", header);
            QCOMPARE(header, std::string("layer,head,delta_logit,delta_prob,target_class,target_query"));
            QCOMPARE(int(rows.size()), 8); // 2 decoder layers × 4 heads
            bool found = false;
            for (const auto& row : rows) {
                QCOMPARE(row[4], double(cls));
                QCOMPARE(row[5], double(q));
                if (int(row[0]) == head.layer && int(row[1]) == head.head) {
                    found = true;
                    QVERIFY2(std::abs(row[2] - (clean[size_t(cls)] - abl[size_t(cls)])) <= 1e-4, qPrintable(QString::number(row[2])));
                }
            }
            QVERIFY(found);
            const json res = read_json(out.toStdString() + "/result.json");
            const json& t = res["importance"]["target"];
            QCOMPARE(t["query"].get<int>(), q);
            QCOMPARE(t["class"].get<int>(), cls);
            QCOMPARE(t["rule"].get<std::string>(), std::string("--detection"));
            double mx = *std::max_element(clean.begin(), clean.end()), sum = 0;
            for (double x : clean) sum += std::exp(x - mx);
            QVERIFY(std::abs(t["prob"].get<double>() - std::exp(clean[size_t(cls)] - mx) / sum) <= 1e-4);
            QVERIFY2(r.out.contains(QString("head importance of query %1's '").arg(q)), qPrintable(r.out));
        }
        const QString out = tmp.path() + "/best";
        const Out r = cli({"ablate", "--model", fixture_arg("detr/r50tiny/hf"), "--input-npy", fixture_arg("detr/r50tiny/input.npy"),
                           "--importance", "--site", "decoder_cross", "--out", out});
        QVERIFY2(r.code == 0, qPrintable(r.err));
        const json best = read_json(out.toStdString() + "/result.json");
        const json& t = best["importance"]["target"];
        QCOMPARE(t["query"].get<int>(), ref["importance"][0]["target_query"].get<int>());
        QCOMPARE(t["rule"].get<std::string>(), std::string("best detection"));
        std::string header;
        const auto rows = read_detr_importance(out.toStdString() + "/head_importance.csv", header);
        QCOMPARE(rows.at(0)[5], ref["importance"][0]["target_query"].get<double>());
    }

    void detection_errors_name_the_option() {
        QTemporaryDir tmp;
        auto expect = [&](const std::string& model, const QStringList& extra, const char* needle) {
            const QString out = tmp.path() + "/o" + QString::number(qHash(extra.join(' ')));
            QStringList args = {"ablate", "--model", fixture_arg(model), "--out", out};
            args += extra;
            const Out r = cli(args);
            QCOMPARE(r.code, 2);
            QVERIFY2(r.err.contains(needle), qPrintable(r.err));
            QVERIFY(!fs::exists(out.toStdString() + "/result.json") && !fs::exists(out.toStdString() + "/head_importance.csv"));
        };
        const QString vin = fixture_arg("vit/hf_vit/input.npy"), din = fixture_arg("detr/r50tiny/input.npy");
        expect("vit/hf_vit", {"--input-npy", vin, "--importance", "--detection", "0"}, "--detection: selects a DETR query; this model (vit) is not a detector");
        expect("detr/r50tiny/hf", {"--input-npy", din, "--importance", "--detection", "10"},
               "--detection: query 10 is out of range: this model has 10 object queries (0…9)");
        expect("detr/r50tiny/hf", {"--input-npy", din, "--importance", "--detection", "-1"}, "--detection: expects a query index >= 0, got '-1'");
        expect("detr/r50tiny/hf", {"--input-npy", din, "--importance", "--detection", "x"}, "--detection: expects an integer, got 'x'");
        expect("detr/r50tiny/hf", {"--input-npy", din, "--heads", "0:0", "--detection", "3"}, "--detection: chooses the detection --importance measures: add --importance");
        expect("detr/r50tiny/hf", {"--images", fixture_arg("detr"), "--importance", "--detection", "3"}, "--detection: chooses a detection of one input");
    }

    void folder_importance_sharded() {
        QTemporaryDir tmp;
        const std::string dir = tmp.path().toStdString() + "/imgs";
        fs::create_directories(dir);
        for (int i = 0; i < 3; ++i) {
            cv::Mat m(32, 32, CV_8UC3);
            cv::randu(m, 0, 255);
            QVERIFY(cv::imwrite(dir + "/img" + std::to_string(i) + ".png", m));
        }
        const QString out = tmp.path() + "/o";
        const Out r = cli({"ablate", "--model", fixture_arg("vit/hf_vit"), "--images", QString::fromStdString(dir), "--shard", "0/2",
                           "--importance", "--out", out});
        QVERIFY2(r.code == 0, qPrintable(r.err));
        const json summary = json::parse(r.out.toStdString());
        QCOMPARE(summary["images"].get<int>(), 2); // img0, img2
        QCOMPARE(summary["processed"].get<int>(), 2);
        QCOMPARE(int(read_importance(out.toStdString() + "/head_importance.csv").size()), 9);
        std::ifstream f(out.toStdString() + "/head_importance_per_image.csv");
        const std::string all{std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
        QVERIFY(all.find("\nimg0.png,0,0,") != std::string::npos && all.find("\nimg2.png,2,2,") != std::string::npos);
        QVERIFY(all.find("img1.png") == std::string::npos);
    }

    void errors_name_the_option() {
        QTemporaryDir tmp;
        const QString out = tmp.path() + "/o";
        auto expect = [&](const QStringList& extra, const char* needle) {
            QStringList args = {"ablate", "--model", fixture_arg("vit/hf_vit"), "--out", out};
            args += extra;
            const Out r = cli(args);
            QCOMPARE(r.code, 2);
            QVERIFY2(r.err.contains(needle), qPrintable(r.err));
        };
        const QString in = fixture_arg("vit/hf_vit/input.npy");
        expect({"--input-npy", in, "--heads", "3:0"}, "--heads: head encoder 3:0: layer out of range (the encoder has layers 0…2)");
        expect({"--input-npy", in, "--heads", "0:7"}, "--heads: head encoder 0:7: head out of range");
        expect({"--input-npy", in, "--heads", "0-1"}, "--heads: expects LAYER:HEAD");
        expect({"--input-npy", in, "--heads", "decoder_cross:0:0"}, "no decoder_cross attention");
        expect({"--input-npy", in, "--mode", "half"}, "--mode: expects zero or mean");
        expect({"--input-npy", in, "--mask-patches", "99"}, "--mask-patches: patch 99 is outside the 4×4 patch grid");
        expect({"--input-npy", in}, "nothing to ablate");
        expect({"--heads", "0:0"}, "give exactly one of --image, --input-npy or --images");
        expect({"--images", fixture_arg("vit"), "--heads", "0:0"}, "add --importance");
        expect({"--input-npy", in, "--importance", "--site", "decoder_self"}, "--site: this model has no decoder_self attention");
        expect({"--input-npy", in, "--bogus", "1"}, "unknown option for 'ablate'");
    }
};

QTEST_GUILESS_MAIN(TestCliAblate)
#include "test_cli_ablate.moc"
