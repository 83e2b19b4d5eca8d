// attnscope-cli analyze: the token-analysis files (issue 17) against the references of
// tools/reference/make_token_fixtures.py, and what DETR writes and skips.
#include "core/io/npy.h"
#include "tests/support/cli_process.h"
#include "tests/support/tensor_compare.h"

#include <QProcess>
#include <QTemporaryDir>
#include <QtTest>

#include <nlohmann/json.hpp>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

using namespace attnscope;
using namespace attnscope::testing;
namespace fs = std::filesystem;

namespace {
using Out = CliOut;
Out cli(const QStringList& args) { return run_cli(args, 120000); }
std::vector<std::vector<std::string>> read_csv(const fs::path& p) { // no quoted fields in these files
    std::vector<std::vector<std::string>> rows;
    std::ifstream f(p);
    for (std::string line; std::getline(f, line);) {
        std::vector<std::string> row;
        std::stringstream s(line);
        for (std::string field; std::getline(s, field, ',');) row.push_back(field);
        if (!line.empty() && line.back() == ',') row.emplace_back();
        rows.push_back(row);
    }
    return rows;
}
} // namespace

class TestCliTokens : public QObject {
    Q_OBJECT
    QTemporaryDir tmp;

private slots:
    void analyze_writes_the_token_files() {
        const QString out = tmp.path() + "/dinov2_reg";
        const Out r = cli({"analyze", "--model", fixture_arg("vit/dinov2_reg"), "--input-npy", fixture_arg("vit/dinov2_reg/input.npy"), "--out", out, "--norm-k", "1.2"});
        QVERIFY2(r.code == 0, qPrintable(r.err));
        const fs::path d = out.toStdString(), ref = fixture("analysis/dinov2_reg");
        QCOMPARE(max_abs_diff(read_npy((d / "input.npy").string()), read_npy(fixture("vit/dinov2_reg/input.npy")), "input.npy"), 0.0);
        const Tensor norms = read_npy((d / "token_norms.npy").string()), want = read_npy((ref / "token_norms.npy").string());
        QCOMPARE(norms.shape, want.shape);
        double rel = 0;
        for (size_t i = 0; i < norms.data.size(); ++i) rel = std::max(rel, std::abs(static_cast<double>(norms.data[i]) - want.data[i]) / want.data[i]);
        std::printf("  token_norms.npy: max relative diff %.3g\n", rel);
        QVERIFY(rel <= 1e-5);
        const nlohmann::json meta = nlohmann::json::parse(std::ifstream(ref / "tokens_meta.json"));
        const auto outliers = read_csv(d / "token_norms.csv");
        QCOMPARE(outliers.size(), meta["outliers_k1_2"].size() + 1);
        for (size_t i = 1; i < outliers.size(); ++i) QCOMPARE(std::stoi(outliers[i][1]), meta["outliers_k1_2"][i - 1][1].get<int>());
        const auto sinks = read_csv(d / "sinks.csv");
        const Tensor ref_sinks = read_npy((ref / "sinks.npy").string()); // [layers, heads, 3]
        QCOMPARE(static_cast<int64_t>(sinks.size()), ref_sinks.numel() / 3 + 1);
        for (size_t i = 1; i < sinks.size(); ++i) {
            QCOMPARE(std::stoi(sinks[i][2]), static_cast<int>(ref_sinks.data[(i - 1) * 3]));
            QVERIFY(std::abs(std::stod(sinks[i][6]) - ref_sinks.data[(i - 1) * 3 + 1]) <= 1e-5); // 6 decimals
            QVERIFY(std::abs(std::stod(sinks[i][7]) - ref_sinks.data[(i - 1) * 3 + 2]) <= 1e-5);
        }
        QCOMPARE(read_npy((d / "feature_pca.npy").string()).shape, (Shape{8, 8, 3}));
        QCOMPARE(max_abs_diff(read_npy((d / "feature_pca_mask.npy").string()), read_npy((ref / "feature_pca_mask.npy").string()), "mask"), 0.0);
        for (const char* png : {"sinks_top_key.png", "sinks_non_patch.png", "token_norms.png", "token_norms_layers.png", "feature_pca.png", "feature_pca_mask.png"})
            QVERIFY2(fs::file_size(d / png) > 100, png);
    }

    void detr_writes_sinks_and_says_what_it_skips() {
        const QString out = tmp.path() + "/detr";
        const Out r = cli({"analyze", "--model", fixture_arg("detr/r50tiny/hf"), "--input-npy", fixture_arg("detr/r50tiny/input.npy"), "--out", out});
        QVERIFY2(r.code == 0, qPrintable(r.err));
        const fs::path d = out.toStdString();
        QVERIFY(fs::exists(d / "sinks.csv"));
        QVERIFY(fs::exists(d / "input.npy"));
        QVERIFY(fs::exists(d / "token_norms.npy")); // the encoder's feature cells after each encoder layer
        QVERIFY(!fs::exists(d / "feature_pca.npy")); // no final tokens
        QVERIFY(r.err.contains("feature_pca: skipped"));
        QVERIFY(r.err.contains("sinks_non_patch.png: skipped"));
    }

    // Checked before the model runs: the error (then the usage) and no output folder.
    void bad_norm_k_is_an_argument_error() {
        for (const char* k : {"-1", "two", "nan"}) {
            const Out r = cli({"analyze", "--model", fixture_arg("vit/hf_vit"), "--input-npy", fixture_arg("vit/hf_vit/input.npy"), "--out", tmp.path() + "/bad", "--norm-k", k});
            QVERIFY(r.code != 0);
            QVERIFY2(r.err.section('\n', 0, 0).startsWith("attnscope-cli: --norm-k: expects a number"), qPrintable(r.err));
            QVERIFY(!fs::exists((tmp.path() + "/bad").toStdString()));
        }
    }
};

QTEST_APPLESS_MAIN(TestCliTokens)
#include "test_cli_tokens.moc"
