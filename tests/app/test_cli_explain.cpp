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
