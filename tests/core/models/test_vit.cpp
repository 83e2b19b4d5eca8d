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
        std::printf("%s (%s, %s)\n", name.toUtf8().constData(), family_name(model->info().family), model->info().format.c_str());
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

    // A wrong value in config.json is config.json's error (its full path and the field), never the
    // checkpoint's: a head count that does not divide the width, and a field that is not an integer.
    void config_field_errors_name_config_json() {
        QTemporaryDir tmp;
        const fs::path src = fixture("vit/hf_vit");
        const fs::path dst = tmp.path().toStdString();
        fs::copy(src / "model.safetensors", dst / "model.safetensors");
        const nlohmann::json good = nlohmann::json::parse(std::ifstream(src / "config.json"));
        const QString cfg_path = QString::fromStdString((dst / "config.json").string());
        auto error_with = [&](const char* key, const nlohmann::json& value) -> Error {
            nlohmann::json cfg = good;
            cfg[key] = value;
            std::ofstream(dst / "config.json", std::ios::trunc) << cfg.dump();
            try {
                load_model(dst.string());
            } catch (const Error& e) {
                qInfo("%s", e.what());
                return e;
            }
            return Error(ErrorKind::Io, "", "", "no error");
        };
        const int hidden = good["hidden_size"].get<int>();
        const int bad_heads = hidden % 5 ? 5 : 7;
        QVERIFY(hidden % bad_heads != 0);
        Error e = error_with("num_attention_heads", bad_heads);
        QCOMPARE(e.kind(), ErrorKind::Mismatch);
        QVERIFY(QString(e.what()).startsWith(cfg_path + ": num_attention_heads: "));
        QVERIFY(QString(e.what()).contains(QString("%1 heads do not divide the hidden size %2").arg(bad_heads).arg(hidden)));
        e = error_with("num_attention_heads", hidden + 1);
        QCOMPARE(e.kind(), ErrorKind::Format);
        QVERIFY(QString(e.what()).startsWith(cfg_path + ": num_attention_heads: "));
        // json_int is strict: a present field of the wrong type is an error, not silently the fallback
        e = error_with("num_attention_heads", "3");
        QCOMPARE(e.kind(), ErrorKind::Format);
        QVERIFY(QString(e.what()).startsWith(cfg_path + ": num_attention_heads: expected an integer"));
        e = error_with("num_hidden_layers", nlohmann::json::array({3, 3}));
        QCOMPARE(e.kind(), ErrorKind::Format);
        QVERIFY(QString(e.what()).startsWith(cfg_path + ": num_hidden_layers: expected an integer"));
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
            QVERIFY(QString(e.what()).startsWith(QString::fromStdString((dst / "config.json").string()) + ": hidden_size"));
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
