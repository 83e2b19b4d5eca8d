// The attnscope-cli contract (scripts depend on it): files, shapes, JSON fields, error lines.
#include "core/io/npy.h"
#include "tests/support/cli_process.h"
#include "tests/support/tensor_compare.h"

#include <QFileInfo>
#include <QProcess>
#include <QTemporaryDir>
#include <QtTest>

#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>

using namespace attnscope;
using namespace attnscope::testing;
namespace fs = std::filesystem;

namespace {
using Out = CliOut;
Out cli(const QStringList& args) { return run_cli(args, 120000); }
} // namespace

class TestCli : public QObject {
    Q_OBJECT
    QTemporaryDir tmp;

private slots:
    void run_writes_the_contract() {
        const QString out = tmp.path() + "/run";
        const Out r = cli({"run", "--model", fixture_arg("vit/hf_vit"), "--input-npy", fixture_arg("vit/hf_vit/input.npy"), "--out", out, "--top-k", "3"});
        QVERIFY2(r.code == 0, qPrintable(r.err));
        const fs::path d = out.toStdString();
        const nlohmann::json j = nlohmann::json::parse(std::ifstream(d / "result.json"));
        QCOMPARE(j["predictions"].size(), size_t(3));
        for (const char* k : {"index", "label", "prob", "logit"}) QVERIFY(j["predictions"][0].contains(k));
        QVERIFY(j["model"]["heads"].get<int>() > 0);
        QVERIFY(j.contains("preprocessing"));
        QVERIFY(j["timings_ms"].contains("forward"));
        const Tensor input = read_npy((d / "input.npy").string());
        QCOMPARE(input.dim(), 3);
        const Tensor logits = read_npy((d / "logits.npy").string());
        QVERIFY(max_abs_diff(logits, read_npy(fixture("vit/hf_vit/logits.npy")), "cli logits") <= 1e-4);
        // the best prediction's logit is the max of logits.npy
        QCOMPARE(j["predictions"][0]["logit"].get<float>(), *std::max_element(logits.data.begin(), logits.data.end()));
        const int layers = j["model"]["layers"].get<int>();
        for (int il = 0; il < layers; ++il) {
            char name[64];
            std::snprintf(name, sizeof name, "attention/encoder_layer%02d.npy", il);
            const Tensor a = read_npy((d / name).string());
            QCOMPARE(a.dim(), 3);
            QCOMPARE(a.size(0), static_cast<int64_t>(j["model"]["heads"].get<int>()));
            QCOMPARE(a.size(1), static_cast<int64_t>(j["layout"]["tokens"].get<int>()));
        }
    }

    void detr_run_writes_detections_boxes_and_every_site() {
        const QString out = tmp.path() + "/detr";
        const Out r = cli({"run", "--model", fixture_arg("detr/r50tiny/hf"), "--input-npy", fixture_arg("detr/r50tiny/input.npy"), "--out", out,
                           "--threshold", "0.0"});
        QVERIFY2(r.code == 0, qPrintable(r.err));
        const fs::path d = out.toStdString();
        const nlohmann::json j = nlohmann::json::parse(std::ifstream(d / "result.json"));
        QCOMPARE(j["model"]["family"].get<std::string>(), std::string("detr")); // the JSON keeps the name
        const Tensor logits = read_npy((d / "logits.npy").string());
        const Tensor boxes = read_npy((d / "boxes.npy").string());
        QVERIFY(max_abs_diff(logits, read_npy(fixture("detr/r50tiny/expected/logits.npy")), "cli detr logits") <= 1e-4);
        QVERIFY(max_abs_diff(boxes, read_npy(fixture("detr/r50tiny/expected/boxes.npy")), "cli detr boxes") <= 1e-4);
        const int n_queries = static_cast<int>(logits.size(0));
        QCOMPARE(j["detections"].size(), static_cast<size_t>(n_queries)); // threshold 0 keeps every query
        for (const char* k : {"query", "label_id", "label", "score", "box_xyxy"}) QVERIFY(j["detections"][0].contains(k));
        const int gh = j["feature_grid"][0].get<int>(), gw = j["feature_grid"][1].get<int>();
        QCOMPARE(j["stride"].get<int>(), 32);
        const Tensor enc = read_npy((d / "attention/encoder_layer00.npy").string());
        QCOMPARE(enc.size(1), static_cast<int64_t>(gh * gw));
        const Tensor self = read_npy((d / "attention/decoder_self_layer01.npy").string());
        QCOMPARE(self.size(1), static_cast<int64_t>(n_queries));
        const Tensor cross = read_npy((d / "attention/decoder_cross_layer01.npy").string());
        QCOMPARE(cross.size(2), static_cast<int64_t>(gh * gw));
        QVERIFY(max_abs_diff(cross, read_npy(fixture("detr/r50tiny/expected/decoder_cross_layer01.npy")), "cli cross 1") <= 1e-5);
    }

    void info_prints_json() {
        const Out r = cli({"info", "--model", fixture_arg("vit/timm_vit")});
        QCOMPARE(r.code, 0);
        const auto j = nlohmann::json::parse(r.out.toStdString());
        QCOMPARE(QString::fromStdString(j["format"].get<std::string>()), QString("timm"));
    }

    void errors_are_one_line_and_nonzero() {
        const Out missing = cli({"run", "--model", tmp.path() + "/nope", "--input-npy", "x.npy", "--out", tmp.path()});
        QVERIFY(missing.code != 0);
        QVERIFY2(missing.err.contains("nope: no such file or folder"), qPrintable(missing.err));
        QCOMPARE(missing.err.trimmed().count('\n'), 0);

        std::ofstream(tmp.path().toStdString() + "/broken.png") << "this is not an image";
        const Out img = cli({"run", "--model", fixture_arg("vit/hf_vit"), "--image", tmp.path() + "/broken.png", "--out", tmp.path() + "/o"});
        QVERIFY(img.code != 0);
        QVERIFY2(img.err.contains("broken.png"), qPrintable(img.err));

        const Out bad = cli({"bench", "--model", fixture_arg("vit/hf_vit"), "--runs", "many"});
        QVERIFY(bad.code != 0);
        QVERIFY(bad.err.contains("--runs: expects an integer"));
    }

    // Issue 14, defect 8: an option the command does not read is refused, naming it (a typo must not
    // silently run with the default), for every command.
    void unknown_options_are_refused() {
        const QString model = fixture_arg("vit/hf_vit"), out = tmp.path() + "/unknown";
        const QList<QStringList> calls = {
            {"run", "--model", model, "--input-npy", fixture_arg("vit/hf_vit/input.npy"), "--out", out, "--bogus", "1"},
            {"run", "--model", model, "--input-npy", fixture_arg("vit/hf_vit/input.npy"), "--out", out, "--treshold", "0.5"},
            {"info", "--model", model, "--bogus", "1"},
            {"bench", "--model", model, "--runs", "1", "--bogus"},
            {"analyze", "--model", model, "--input-npy", fixture_arg("vit/hf_vit/input.npy"), "--out", out, "--image-size", "3"},
            {"dataset", "--model", model, "--images", tmp.path(), "--out", out, "--bogus", "1"},
            {"eval", "--model", model, "--dataset", "fashion-mnist-test", "--bogus", "1"},
            {"scenes", "--out", out, "--count", "1", "--bogus", "1"},
        };
        for (const QStringList& args : calls) {
            const QString option = args[args.size() - (args.last().startsWith("--") ? 1 : 2)];
            const Out r = cli(args);
            QVERIFY2(r.code == 2, qPrintable(args.join(' ') + " exited " + QString::number(r.code)));
            QVERIFY2(r.err.startsWith("attnscope-cli: " + option + ": unknown option for '" + args[0] + "'"), qPrintable(r.err));
        }
        QVERIFY2(!QFileInfo::exists(out), "nothing is written when an option is refused");
        // The options the usage documents are still accepted.
        const Out ok = cli({"run", "--model", model, "--input-npy", fixture_arg("vit/hf_vit/input.npy"), "--out", out, "--top-k", "2",
                            "--threads", "1", "--threshold", "0.5", "--no-encoder-maps"});
        QVERIFY2(ok.code == 0, qPrintable(ok.err));
    }
};

QTEST_GUILESS_MAIN(TestCli)
#include "test_cli.moc"
