// attnscope-cli explain (issue 16): the files it writes against the PyTorch/NumPy references of
// tools/reference/make_explain_fixtures.py, its errors, and `bench --explain`.
#include "core/io/npy.h"
#include "tests/support/cli_process.h"
#include "tests/support/tensor_compare.h"

#include <QTemporaryDir>
#include <QtTest>

#include <nlohmann/json.hpp>

#include <cmath>
#include <filesystem>
#include <fstream>

using namespace attnscope;
using namespace attnscope::testing;
namespace fs = std::filesystem;

namespace {
using Out = CliOut;
Out cli(const QStringList& args) { return run_cli(args); }
QString fx(const std::string& rel) { return QString::fromStdString(fixture(rel)); }
bool is_png(const fs::path& p) {
    std::ifstream f(p, std::ios::binary);
    char sig[8] = {};
    f.read(sig, 8);
    return f && std::string(sig + 1, 3) == "PNG";
}
} // namespace

class TestCliExplain : public QObject {
    Q_OBJECT
    QTemporaryDir tmp;

private slots:
    void chefer2_second_class() {
        const QString out = tmp.path() + "/chefer2";
        const Out r = cli({"explain", "--model", fx("vit/hf_vit"), "--input-npy", fx("vit/hf_vit/input.npy"), "--method",
                           "chefer2", "--target", "7", "--out", out});
        QVERIFY2(r.code == 0, qPrintable(r.err));
        const fs::path d = out.toStdString(), ref = fixture("explain/hf_vit");
        const Tensor rel = read_npy((d / "relevance.npy").string());
        QCOMPARE(rel.shape, (Shape{4, 4}));
        QVERIFY(rel_max_diff(rel, read_npy((ref / "chefer2_t7.npy").string()), "relevance.npy vs chefer2_t7") <= 1e-4);
        QCOMPARE(max_abs_diff(read_npy((d / "input.npy").string()), read_npy(fixture("vit/hf_vit/input.npy")), "input.npy"), 0.0);
        const auto j = nlohmann::json::parse(std::ifstream(d / "explain.json"));
        const auto ex = nlohmann::json::parse(std::ifstream(ref / "explain.json"));
        QCOMPARE(j["method"].get<std::string>(), std::string("chefer2"));
        QCOMPARE(j["target"]["index"].get<int>(), 7);
        QVERIFY(!j["target"]["label"].get<std::string>().empty());
        QVERIFY(std::abs(j["logit"].get<double>() - ex["logits"][1].get<double>()) <= 1e-4);
        QVERIFY(std::abs(j["prob"].get<double>() - ex["probs"][1].get<double>()) <= 1e-5);
        QVERIFY(!j.contains("discard_ratio")); // chefer2 has none
        QVERIFY(is_png(d / "relevance_overlay.png"));
    }

    void grad_rollout_default_target() {
        const QString out = tmp.path() + "/gr";
        const Out r = cli({"explain", "--model", fx("vit/deit_distilled"), "--input-npy", fx("vit/deit_distilled/input.npy"),
                           "--method", "grad-rollout", "--discard", "0.9", "--out", out});
        QVERIFY2(r.code == 0, qPrintable(r.err));
        const fs::path d = out.toStdString(), ref = fixture("explain/deit_distilled");
        const auto j = nlohmann::json::parse(std::ifstream(d / "explain.json"));
        QCOMPARE(j["target"]["index"].get<int>(), 2); // top-1 of the reference
        QCOMPARE(j["discard_ratio"].get<double>(), 0.9);
        QVERIFY(rel_max_diff(read_npy((d / "relevance.npy").string()), read_npy((ref / "grad_rollout_d90_t2.npy").string()),
                         "relevance.npy vs grad_rollout_d90_t2") <= 1e-4);
    }

    void real_image() {
        const std::string model = shared_path("models/deit-tiny-imagenet"), img = shared_path("images/coco_000000039769_two_cats.png");
        if (model.empty() || img.empty()) QSKIP("../shared absent: real-image explain skipped");
        const QString out = tmp.path() + "/cats";
        const Out r = cli({"explain", "--model", QString::fromStdString(model), "--image", QString::fromStdString(img),
                           "--method", "gradcam", "--out", out});
        QVERIFY2(r.code == 0, qPrintable(r.err));
        const fs::path d = out.toStdString();
        const auto j = nlohmann::json::parse(std::ifstream(d / "explain.json"));
        QCOMPARE(j["target"]["index"].get<int>(), 281);
        QCOMPARE(j["target"]["label"].get<std::string>(), std::string("tabby, tabby cat"));
        QCOMPARE(read_npy((d / "relevance.npy").string()).shape, (Shape{14, 14}));
        QCOMPARE(read_npy((d / "input.npy").string()).shape, (Shape{3, 224, 224}));
        QVERIFY(is_png(d / "relevance_overlay.png"));
    }

    void errors_name_the_field() {
        struct Bad {
            QStringList args;
            const char* names;
        };
        const QString m = fx("vit/hf_vit"), x = fx("vit/hf_vit/input.npy"), out = tmp.path() + "/bad";
        const Bad cases[] = {
            {{"--method", "lrp", "--input-npy", x}, "--method"},
            {{"--method", "gradcam", "--input-npy", x, "--target", "10"}, "--target"},
            {{"--method", "gradcam", "--input-npy", x, "--target", "-3"}, "--target"},
            {{"--method", "gradcam", "--input-npy", x, "--target", "1", "--detection", "0"}, "--detection"},
            {{"--method", "gradcam", "--input-npy", x, "--detection", "0"}, "--detection"},
            {{"--method", "grad-rollout", "--input-npy", x, "--discard", "1.5"}, "--discard"},
            {{"--method", "gradcam", "--input-npy", "/nonexistent/x.npy"}, "/nonexistent/x.npy"},
            {{"--method", "gradcam"}, "--image"},
            {{"--method", "gradcam", "--input-npy", x, "--bogus", "1"}, "--bogus"},
        };
        for (const Bad& b : cases) {
            const Out r = cli(QStringList{"explain", "--model", m, "--out", out} + b.args);
            QCOMPARE(r.code, 2);
            QVERIFY2(r.err.contains(b.names), qPrintable(r.err));
        }
        // a headless model has no class to explain
        const Out r = cli({"explain", "--model", fx("vit/dinov2_reg"), "--input-npy", fx("vit/dinov2_reg/input.npy"),
                           "--method", "chefer2", "--out", out});
        QVERIFY(r.code != 0);
        QVERIFY2(r.err.contains("no classifier head"), qPrintable(r.err));
        QVERIFY(!fs::exists((out + "/relevance.npy").toStdString()));
    }

    // DETR: a chosen query and class on the fixture, against the reference (make_detr_explain_fixtures.py).
    void detr_detection_and_class() {
        const fs::path ref = fixture("explain/detr_r50tiny");
        const auto ex = nlohmann::json::parse(std::ifstream(ref / "explain.json"));
        const auto& t = ex["targets"][1]; // the top query's second class
        const QString out = tmp.path() + "/detr";
        const Out r = cli({"explain", "--model", fx("detr/r50tiny/hf"), "--input-npy", fx("detr/r50tiny/input.npy"), "--method",
                           "chefer2", "--detection", QString::number(t["query"].get<int>()), "--target",
                           QString::number(t["class"].get<int>()), "--out", out});
        QVERIFY2(r.code != 0 && r.err.contains("--detection"), qPrintable(r.err)); // one or the other, not both
        const Out r2 = cli({"explain", "--model", fx("detr/r50tiny/hf"), "--input-npy", fx("detr/r50tiny/input.npy"), "--method",
                            "chefer2", "--detection", QString::number(t["query"].get<int>()), "--out", out});
        QVERIFY2(r2.code == 0, qPrintable(r2.err));
        const fs::path d = out.toStdString();
        const auto j = nlohmann::json::parse(std::ifstream(d / "explain.json"));
        const auto& top = ex["targets"][0]; // --detection alone: that query's arg-max class (the top query here)
        QCOMPARE(j["detection"].get<int>(), top["query"].get<int>());
        QCOMPARE(j["target"]["index"].get<int>(), top["class"].get<int>());
        QVERIFY(std::abs(j["prob"].get<double>() - top["prob"].get<double>()) <= 1e-5);
        for (int i = 0; i < 4; ++i)
            QVERIFY(std::abs(j["box"]["cxcywh"][size_t(i)].get<double>() - top["box"][size_t(i)].get<double>()) <= 1e-5);
        QVERIFY(!j.contains("discard_ratio"));
        QVERIFY(rel_max_diff(read_npy((d / "relevance.npy").string()), read_npy((ref / "chefer2_top.npy").string()),
                             "relevance.npy vs chefer2_top") <= 1e-4);
        QVERIFY(is_png(d / "relevance_overlay.png"));
    }

    // DETR --box: the default detection's box cx against the reference's box case (chefer2 of ∂cx/∂A), what
    // explain.json records; --detection with --box; the errors (a bad coordinate, a classifier, --target too).
    void detr_box_coordinate() {
        const fs::path ref = fixture("explain/detr_r50tiny");
        const auto ex = nlohmann::json::parse(std::ifstream(ref / "explain.json"));
        const nlohmann::json* box = nullptr;
        for (const auto& t : ex["targets"])
            if (t["box_coord"].get<int>() == 0) box = &t; // cx
        QVERIFY(box != nullptr);
        const QString m = fx("detr/r50tiny/hf"), x = fx("detr/r50tiny/input.npy");
        for (const bool withQuery : {false, true}) {
            const QString out = tmp.path() + (withQuery ? "/detr-box-q" : "/detr-box");
            QStringList args{"explain", "--model", m, "--input-npy", x, "--method", "chefer2", "--box", "cx", "--out", out};
            if (withQuery) args << "--detection" << QString::number((*box)["query"].get<int>());
            const Out r = cli(args);
            QVERIFY2(r.code == 0, qPrintable(r.err));
            const fs::path d = out.toStdString();
            QVERIFY(rel_max_diff(read_npy((d / "relevance.npy").string()), read_npy((ref / "chefer2_box.npy").string()),
                                 "relevance.npy vs chefer2_box") <= 1e-4);
            // ... and not the class logit's map
            QVERIFY(max_abs_diff(read_npy((d / "relevance.npy").string()), read_npy((ref / "chefer2_top.npy").string()),
                                 "box vs class") > 1e-4);
            const auto j = nlohmann::json::parse(std::ifstream(d / "explain.json"));
            QCOMPARE(j["detection"].get<int>(), (*box)["query"].get<int>());
            QCOMPARE(j["target"]["kind"].get<std::string>(), std::string("box_coordinate"));
            QCOMPARE(j["target"]["box_coord"].get<std::string>(), std::string("cx"));
            QVERIFY(std::abs(j["target"]["value"].get<double>() - (*box)["value"].get<double>()) <= 1e-5);
            QCOMPARE(j["target"]["index"].get<int>(), (*box)["class"].get<int>()); // the detection's class, reported
            QVERIFY(std::abs(j["prob"].get<double>() - (*box)["prob"].get<double>()) <= 1e-5);
            QVERIFY2(r.out.contains("box cx = ") && r.out.contains(QString::number((*box)["value"].get<double>(), 'f', 4)),
                     qPrintable(r.out));
            QVERIFY(is_png(d / "relevance_overlay.png"));
        }
        // --box h with gradcam on a chosen query: against the reference's box_h case
        const nlohmann::json* boxH = nullptr;
        for (const auto& t : ex["targets"])
            if (t["box_coord"].get<int>() == 3) boxH = &t;
        QVERIFY2(boxH != nullptr, "fixture without the box_h target: run tools/reference/make_detr_explain_fixtures.py");
        const QString outH = tmp.path() + "/detr-box-h";
        const Out rh = cli({"explain", "--model", m, "--input-npy", x, "--method", "gradcam", "--detection",
                            QString::number((*boxH)["query"].get<int>()), "--box", "h", "--out", outH});
        QVERIFY2(rh.code == 0, qPrintable(rh.err));
        const fs::path dh = outH.toStdString();
        QVERIFY(rel_max_diff(read_npy((dh / "relevance.npy").string()), read_npy((ref / "gradcam_box_h.npy").string()),
                             "relevance.npy vs gradcam_box_h") <= 1e-4);
        const auto jh = nlohmann::json::parse(std::ifstream(dh / "explain.json"));
        QCOMPARE(jh["target"]["box_coord"].get<std::string>(), std::string("h"));
        QVERIFY(std::abs(jh["target"]["value"].get<double>() - (*boxH)["value"].get<double>()) <= 1e-5);
        // a class target says so
        const QString out = tmp.path() + "/detr-class";
        const Out rc = cli({"explain", "--model", m, "--input-npy", x, "--method", "chefer2", "--out", out});
        QVERIFY2(rc.code == 0, qPrintable(rc.err));
        const auto jc = nlohmann::json::parse(std::ifstream(fs::path(out.toStdString()) / "explain.json"));
        QCOMPARE(jc["target"]["kind"].get<std::string>(), std::string("class_logit"));
        QVERIFY(!jc["target"].contains("box_coord"));
        QVERIFY(std::abs(jc["target"]["value"].get<double>() - ex["targets"][0]["logit"].get<double>()) <= 1e-4);
        // errors, each naming --box, nothing written
        const QString bad = tmp.path() + "/detr-box-bad";
        const QStringList cases[] = {
            {"--model", m, "--input-npy", x, "--box", "x"},
            {"--model", m, "--input-npy", x, "--box", "cx", "--target", "1"},
            {"--model", fx("vit/hf_vit"), "--input-npy", fx("vit/hf_vit/input.npy"), "--box", "w"},
        };
        for (const QStringList& c : cases) {
            const Out r = cli(QStringList{"explain", "--method", "chefer2", "--out", bad} + c);
            QCOMPARE(r.code, 2);
            QVERIFY2(r.err.contains("--box"), qPrintable(r.err));
            QVERIFY(!fs::exists((bad + "/relevance.npy").toStdString()));
        }
    }

    // demo-detr on a scene: the default is the most confident detection; --detection picks another.
    void detr_demo_detection() {
        const fs::path demo = fs::path(ATTNSCOPE_RESOURCES) / "models" / "demo-detr";
        const fs::path scene = fs::path(ATTNSCOPE_RESOURCES) / "images" / "scene-seed7-000.png";
        if (!fs::exists(demo / "model.safetensors") || !fs::exists(scene)) QSKIP("resources/models/demo-detr or its scene is not there");
        const QString a = tmp.path() + "/demo-a", b = tmp.path() + "/demo-b";
        const Out r = cli({"explain", "--model", QString::fromStdString(demo.string()), "--image", QString::fromStdString(scene.string()),
                           "--method", "chefer2", "--out", a});
        QVERIFY2(r.code == 0, qPrintable(r.err));
        const auto ja = nlohmann::json::parse(std::ifstream(fs::path(a.toStdString()) / "explain.json"));
        // the most confident detection, as `run` post-processes it (result.json's detections, every query)
        const QString run_out = tmp.path() + "/demo-run";
        const Out rr = cli({"run", "--model", QString::fromStdString(demo.string()), "--image", QString::fromStdString(scene.string()),
                            "--threshold", "0", "--out", run_out});
        QVERIFY2(rr.code == 0, qPrintable(rr.err));
        const auto res = nlohmann::json::parse(std::ifstream(fs::path(run_out.toStdString()) / "result.json"));
        int best = -1, second = -1;
        double best_s = -1, second_s = -1;
        for (const auto& det : res["detections"]) {
            const double s = det["score"].get<double>();
            if (s > best_s) second = best, second_s = best_s, best = det["query"].get<int>(), best_s = s;
            else if (s > second_s) second = det["query"].get<int>(), second_s = s;
        }
        QVERIFY(best >= 0 && second >= 0);
        QCOMPARE(ja["detection"].get<int>(), best);
        QVERIFY(std::abs(ja["prob"].get<double>() - best_s) <= 1e-5);
        QVERIFY(!ja["target"]["label"].get<std::string>().empty());
        QCOMPARE(read_npy((fs::path(a.toStdString()) / "relevance.npy").string()).shape, (Shape{8, 8}));
        const Out r2 = cli({"explain", "--model", QString::fromStdString(demo.string()), "--image", QString::fromStdString(scene.string()),
                            "--method", "chefer2", "--detection", QString::number(second), "--out", b});
        QVERIFY2(r2.code == 0, qPrintable(r2.err));
        const auto jb = nlohmann::json::parse(std::ifstream(fs::path(b.toStdString()) / "explain.json"));
        QCOMPARE(jb["detection"].get<int>(), second);
        QVERIFY(max_abs_diff(read_npy((fs::path(a.toStdString()) / "relevance.npy").string()),
                             read_npy((fs::path(b.toStdString()) / "relevance.npy").string()), "two detections") > 1e-4);
        // what DETR cannot be asked: a query out of range, grad-rollout
        const Out bad = cli({"explain", "--model", QString::fromStdString(demo.string()), "--image", QString::fromStdString(scene.string()),
                             "--method", "chefer2", "--detection", "16", "--out", tmp.path() + "/demo-bad"});
        QCOMPARE(bad.code, 2);
        QVERIFY2(bad.err.contains("--detection"), qPrintable(bad.err));
        const Out gr = cli({"explain", "--model", QString::fromStdString(demo.string()), "--image", QString::fromStdString(scene.string()),
                            "--method", "grad-rollout", "--out", tmp.path() + "/demo-gr"});
        QVERIFY(gr.code != 0);
        QVERIFY2(gr.err.contains("grad-rollout") && gr.err.contains("DETR"), qPrintable(gr.err));
    }

    void bench_explain() {
        const Out r = cli({"bench", "--model", fx("vit/hf_vit"), "--explain", "chefer2", "--runs", "2", "--threads", "1"});
        QVERIFY2(r.code == 0, qPrintable(r.err));
        const auto j = nlohmann::json::parse(r.out.toStdString());
        QCOMPARE(j["method"].get<std::string>(), std::string("chefer2"));
        QVERIFY(j["forward_median_ms"].get<double>() > 0 && j["explain_median_ms"].get<double>() > 0);
        QVERIFY(j["ratio_wall"].get<double>() > 0 && j["tape_mb"].get<double>() > 0);
    }
};

QTEST_APPLESS_MAIN(TestCliExplain)
#include "test_cli_explain.moc"
