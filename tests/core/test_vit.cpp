// ViT family against the independent PyTorch references in tests/fixtures/vit (tools/reference/
// make_vit_fixtures.py): logits/features ≤ 1e-4, every attention map ≤ 1e-5, token layout exact.
#include "core/error.h"
#include "core/io/npy.h"
#include "core/models/loader.h"
#include "core/session.h"
#include "tests/support/tensor_compare.h"

#include <QtTest>

#include <nlohmann/json.hpp>

#include <cstdio>
#include <filesystem>
#include <fstream>

using namespace attnscope;
using namespace attnscope::testing;
namespace fs = std::filesystem;

class TestVit : public QObject {
    Q_OBJECT
private slots:
    void matches_reference_data() {
        QTest::addColumn<QString>("name");
        for (const char* c : {"hf_vit", "timm_vit", "timm_vit_f16", "timm_vit_bf16", "deit_distilled", "dinov2_reg", "dino_timm"})
            QTest::newRow(c) << QString(c);
    }
    void matches_reference() {
        QFETCH(QString, name);
        const fs::path dir = fixture("vit/" + name.toStdString());
        QVERIFY2(fs::exists(dir / "expected.json"), "fixture missing: run tools/reference/make_vit_fixtures.py");
        const nlohmann::json ex = nlohmann::json::parse(std::ifstream(dir / "expected.json"));
        LoadOptions opt;
        if (!fs::exists(dir / "config.json")) opt.heads_override = ex["heads"].get<int>(); // bare checkpoint
        auto model = load_model(dir.string(), opt);
        QCOMPARE(model->info().n_heads, ex["heads"].get<int>());
        QCOMPARE(model->info().n_layers, ex["layers"].get<int>());
        QCOMPARE(model->info().hidden, ex["hidden"].get<int>());

        const Tensor input = read_npy((dir / "input.npy").string());
        RunResult r = Session(*model).run(input);
        std::printf("%s (%s, %s)\n", name.toUtf8().constData(), model->info().family.c_str(), model->info().format.c_str());
        if (fs::exists(dir / "logits.npy")) {
            QVERIFY(max_abs_diff(r.logits, read_npy((dir / "logits.npy").string()), "logits") <= 1e-4);
        } else {
            QVERIFY(r.logits.empty());
            QVERIFY(max_abs_diff(r.features, read_npy((dir / "features.npy").string()), "features (normed CLS)") <= 1e-4);
        }
        QCOMPARE(r.layout.n_tokens(), ex["tokens"].get<int>());
        QCOMPARE(r.layout.n_dist, ex["n_dist"].get<int>());
        QCOMPARE(r.layout.n_reg, ex["n_reg"].get<int>());
        QCOMPARE(r.layout.grid_h, ex["grid_h"].get<int>());
        QCOMPARE(r.layout.grid_w, ex["grid_w"].get<int>());
        QCOMPARE(static_cast<int>(r.attention.size()), ex["layers"].get<int>());
        for (const AttentionMap& m : r.attention) {
            char file[32];
            std::snprintf(file, sizeof file, "attn_layer%02d.npy", m.layer);
            const Tensor ref = read_npy((dir / file).string());
            const Tensor got({m.n_heads, m.n_q, m.n_k}, m.probs);
            QVERIFY2(max_abs_diff(got, ref, std::string("attention ") + file) <= 1e-5, file);
        }
    }

    void bare_checkpoint_without_heads_is_a_clear_error() {
        try {
            load_model(fixture("vit/dino_timm/model.safetensors"));
            QFAIL("expected an error");
        } catch (const Error& e) {
            qInfo("%s", e.what());
            QVERIFY(QString(e.what()).contains("--heads"));
            QVERIFY(QString(e.what()).contains("model.safetensors"));
        }
    }

    void config_mismatch_and_missing_tensor() {
        QTemporaryDir tmp;
        const fs::path src = fixture("vit/hf_vit");
        const fs::path dst = tmp.path().toStdString();
        fs::copy(src / "model.safetensors", dst / "model.safetensors");
        nlohmann::json cfg = nlohmann::json::parse(std::ifstream(src / "config.json"));
        cfg["hidden_size"] = cfg["hidden_size"].get<int>() * 2;
        std::ofstream(dst / "config.json") << cfg.dump();
        try {
            load_model(dst.string());
            QFAIL("expected a mismatch error");
        } catch (const Error& e) {
            qInfo("%s", e.what());
            QCOMPARE(e.kind(), ErrorKind::Mismatch);
            QVERIFY(QString(e.what()).startsWith("config.json: hidden_size"));
        }
        // a missing tensor is named
        auto all = read_all((src / "model.safetensors").string());
        all.erase("vit.encoder.layer.1.attention.attention.key.weight");
        fs::remove(dst / "config.json");
        write_safetensors((dst / "model.safetensors").string(), all);
        fs::copy(src / "config.json", dst / "config.json");
        try {
            load_model(dst.string());
            QFAIL("expected a missing-tensor error");
        } catch (const Error& e) {
            qInfo("%s", e.what());
            QCOMPARE(e.kind(), ErrorKind::Missing);
            QVERIFY(QString(e.what()).contains("tensor 'vit.encoder.layer.1.attention.attention.key.weight'"));
        }
        // a tensor of the wrong shape is named with both shapes
        all = read_all((src / "model.safetensors").string());
        all["vit.encoder.layer.0.output.dense.bias"] = Tensor({7});
        write_safetensors((dst / "model.safetensors").string(), all);
        try {
            load_model(dst.string());
            QFAIL("expected a shape error");
        } catch (const Error& e) {
            qInfo("%s", e.what());
            QVERIFY(QString(e.what()).contains("tensor 'vit.encoder.layer.0.output.dense.bias': shape [7]"));
        }
    }

    void attention_rows_sum_to_one_and_recording_is_optional() {
        auto model = load_model(fixture("vit/hf_vit"));
        const Tensor input = read_npy(fixture("vit/hf_vit/input.npy"));
        Session session(*model);
        RunResult a = session.run(input, RecordPolicy::All);
        RunResult b = session.run(input, RecordPolicy::None);
        QCOMPARE(a.logits.data, b.logits.data); // recording never changes the result
        QVERIFY(!a.attention.empty());
        QVERIFY(b.attention.empty());
        for (const AttentionMap& m : a.attention)
            for (int h = 0; h < m.n_heads; ++h)
                for (int q = 0; q < m.n_q; ++q) {
                    double s = 0;
                    for (int k = 0; k < m.n_k; ++k) s += m.at(h, q, k);
                    QVERIFY(std::abs(s - 1.0) < 1e-5);
                }
    }
};

QTEST_APPLESS_MAIN(TestVit)
#include "test_vit.moc"
