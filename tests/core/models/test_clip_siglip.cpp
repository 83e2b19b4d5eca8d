// CLIP and SigLIP image towers against the independent PyTorch references in tests/fixtures/{clip,siglip}
// (tools/reference/make_clip_fixtures.py, towers from torch.nn modules in clip_ref.py): features ≤ 1e-4,
// every encoder map and SigLIP's pooling-head map ≤ 1e-5; HF safetensors, OpenAI .pth (torch.save) and
// open_clip safetensors names; the run folder's pool_attention.npy; preprocessing; clear errors.
#include "core/analysis/rollout.h"
#include "core/analysis/tokens.h"
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

namespace {

Error load_error(const std::string& path, const LoadOptions& opt = {}) {
    try {
        load_model(path, opt);
    } catch (const Error& e) {
        qInfo("%s", e.what());
        return e;
    }
    return Error(ErrorKind::Io, "", "", "no error");
}

} // namespace

class TestClipSiglip : public QObject {
    Q_OBJECT
private slots:
    void matches_reference_data() {
        QTest::addColumn<QString>("name");
        for (const char* c : {"clip/hf_vision_proj", "clip/hf_full", "clip/hf_vision", "clip/openai_pth", "clip/openclip",
                              "siglip/hf_vision", "siglip/hf_full"})
            QTest::newRow(c) << QString(c);
    }
    void matches_reference() {
        QFETCH(QString, name);
        const fs::path dir = fixture(name.toStdString());
        QVERIFY2(fs::exists(dir / "expected.json"), "fixture missing: run tools/reference/make_clip_fixtures.py");
        const nlohmann::json ex = nlohmann::json::parse(std::ifstream(dir / "expected.json"));
        auto model = load_model(dir.string());
        const ModelInfo& info = model->info();
        QCOMPARE(QString(family_name(info.family)), QString::fromStdString(ex["family"].get<std::string>()));
        QCOMPARE(info.task, Task::Embed);
        QCOMPARE(QString::fromStdString(info.format), QString::fromStdString(ex["format"].get<std::string>()));
        QCOMPARE(info.n_heads, ex["heads"].get<int>());
        QCOMPARE(info.n_layers, ex["layers"].get<int>());
        QCOMPARE(info.hidden, ex["hidden"].get<int>());
        QCOMPARE(info.patch_size, ex["patch"].get<int>());

        const Tensor input = read_npy((dir / "input.npy").string());
        RunResult r = Session(*model).run(input);
        std::printf("%s (%s, %s, %s)\n", name.toUtf8().constData(), family_name(info.family), info.format.c_str(),
                    info.architecture.c_str());
        QVERIFY(r.logits.empty());
        QVERIFY(r.predictions.empty());
        QCOMPARE(r.features.numel(), static_cast<int64_t>(ex["features_dim"].get<int>()));
        QVERIFY(max_abs_diff(r.features, read_npy((dir / "features.npy").string()), "features") <= 1e-4);
        QCOMPARE(r.layout.n_cls, ex["n_cls"].get<int>());
        QCOMPARE(r.layout.n_prefix(), ex["n_cls"].get<int>());
        QCOMPARE(r.layout.n_tokens(), ex["tokens"].get<int>());
        QCOMPARE(r.layout.grid_h, ex["grid_h"].get<int>());
        QCOMPARE(r.layout.grid_w, ex["grid_w"].get<int>());
        QCOMPARE(r.token_norms.size(0), static_cast<int64_t>(ex["layers"].get<int>()));
        QCOMPARE(r.final_tokens.size(0), static_cast<int64_t>(ex["tokens"].get<int>()));

        int n_enc = 0, n_pool = 0;
        for (const AttentionMap& m : r.attention) {
            if (m.site == Site::Pool) {
                ++n_pool;
                QCOMPARE(m.n_q, 1);
                QCOMPARE(m.n_k, ex["tokens"].get<int>());
                const Tensor got({m.n_heads, m.n_q, m.n_k}, m.probs);
                QVERIFY(max_abs_diff(got, read_npy((dir / "pool_attention.npy").string()), "pool attention") <= 1e-5);
                continue;
            }
            QCOMPARE(m.site, Site::Encoder);
            ++n_enc;
            char file[32];
            std::snprintf(file, sizeof file, "attn_layer%02d.npy", m.layer);
            const Tensor got({m.n_heads, m.n_q, m.n_k}, m.probs);
            QVERIFY2(max_abs_diff(got, read_npy((dir / file).string()), std::string("attention ") + file) <= 1e-5, file);
        }
        QCOMPARE(n_enc, ex["layers"].get<int>());
        QCOMPARE(n_pool, fs::exists(dir / "pool_attention.npy") ? 1 : 0);
    }

    // `run`'s folder: features.npy, the encoder maps under attention/, and SigLIP's pooling map as
    // pool_attention.npy [heads, 1, tokens] beside them.
    void run_folder_has_pool_attention() {
        const fs::path dir = fixture("siglip/hf_vision");
        auto model = load_model(dir.string());
        const Tensor input = read_npy((dir / "input.npy").string());
        const RunResult r = Session(*model).run(input);
        QTemporaryDir tmp;
        const std::string out = tmp.path().toStdString() + "/run";
        write_run_folder(out, *model, r, input, 5, nlohmann::json::object());
        const Tensor pool = read_npy(out + "/pool_attention.npy");
        const nlohmann::json ex = nlohmann::json::parse(std::ifstream(dir / "expected.json"));
        QCOMPARE(pool.shape, (Shape{ex["heads"].get<int64_t>(), 1, ex["tokens"].get<int64_t>()}));
        QVERIFY(max_abs_diff(pool, read_npy((dir / "pool_attention.npy").string()), "run folder pool_attention.npy") <= 1e-5);
        QVERIFY(max_abs_diff(read_npy(out + "/features.npy"), read_npy((dir / "features.npy").string()), "run folder features.npy") <= 1e-4);
        QVERIFY(fs::exists(out + "/attention/encoder_layer01.npy"));
        QVERIFY(!fs::exists(out + "/attention/pool_layer00.npy"));
        const nlohmann::json j = nlohmann::json::parse(std::ifstream(out + "/result.json"));
        QCOMPARE(j["model"]["family"].get<std::string>(), std::string("siglip"));
        QCOMPARE(j["layout"]["cls"].get<int>(), 0);
        QVERIFY(std::find(j["attention_files"].begin(), j["attention_files"].end(), "pool_attention.npy") != j["attention_files"].end());
        // CLIP: no pool map, the image embedding after the projection
        const fs::path cdir = fixture("clip/hf_vision_proj");
        auto clip = load_model(cdir.string());
        const Tensor cin = read_npy((cdir / "input.npy").string());
        const std::string cout_dir = tmp.path().toStdString() + "/clip";
        write_run_folder(cout_dir, *clip, Session(*clip).run(cin), cin, 5, nlohmann::json::object());
        QVERIFY(!fs::exists(cout_dir + "/pool_attention.npy"));
        QVERIFY(max_abs_diff(read_npy(cout_dir + "/features.npy"), read_npy((cdir / "features.npy").string()), "clip features.npy") <= 1e-4);
    }

    // CLIP preprocessing from preprocessor_config.json (CLIPImageProcessor) and, without one, CLIP's own
    // (shortest side, bicubic, centre crop, CLIP mean/std); SigLIP's from SiglipImageProcessor.
    void preprocessing() {
        for (const char* name : {"clip/hf_vision_proj", "clip/hf_vision", "clip/openai_pth"}) {
            auto m = load_model(fixture(name));
            const PreprocessSpec& s = m->preprocess();
            const int size = m->info().image_h;
            QCOMPARE(s.resize, PreprocessSpec::Resize::ShortestEdge);
            QCOMPARE(s.shortest_edge, size);
            QCOMPARE(s.resample, Resample::Bicubic);
            QVERIFY(s.center_crop);
            QCOMPARE(s.crop_h, size);
            QCOMPARE(s.crop_w, size);
            QCOMPARE(s.crop_rounding, PreprocessSpec::CropRounding::Floor);
            QCOMPARE(s.mean[0], 0.48145466f);
            QCOMPARE(s.std[2], 0.27577711f);
        }
        auto m = load_model(fixture("siglip/hf_vision"));
        const PreprocessSpec& s = m->preprocess();
        QCOMPARE(s.resize, PreprocessSpec::Resize::Exact);
        QCOMPARE(s.resize_h, m->info().image_h);
        QCOMPARE(s.resample, Resample::Bicubic);
        QVERIFY(!s.center_crop);
        QCOMPARE(s.mean[1], 0.5f);
        QCOMPARE(s.std[1], 0.5f);
    }

    // SigLIP has no CLS token: the token analyses work on the patches alone, rollout says why it cannot run.
    void no_cls_token_analyses() {
        const fs::path dir = fixture("siglip/hf_vision");
        auto model = load_model(dir.string());
        const RunResult r = Session(*model).run(read_npy((dir / "input.npy").string()));
        QCOMPARE(analysis::token_kind(r.layout, 0), std::string("patch"));
        const auto sinks = analysis::attention_sinks(r.attention.front(), r.layout);
        QVERIFY(!sinks.empty());
        for (const auto& s : sinks) QCOMPARE(s.non_patch_share, 0.0);
        const auto pca = analysis::feature_pca(r.final_tokens, r.layout);
        QCOMPARE(pca.image.shape, (Shape{r.layout.grid_h, r.layout.grid_w, 3}));
        try {
            analysis::attention_rollout(r.attention, r.layout, {});
            QFAIL("expected an error");
        } catch (const Error& e) {
            qInfo("%s", e.what());
            QCOMPARE(e.kind(), ErrorKind::Unsupported);
            QVERIFY(QString(e.what()).contains("no CLS token"));
        }
    }

    void errors_name_file_and_field() {
        QTemporaryDir tmp;
        const fs::path src = fixture("clip/hf_full"), dst = tmp.path().toStdString();
        fs::copy(src / "model.safetensors", dst / "model.safetensors");
        nlohmann::json cfg = nlohmann::json::parse(std::ifstream(src / "config.json"));
        const std::string cfg_path = (dst / "config.json").string();
        // an activation we do not implement is config.json's error, with the field inside vision_config
        cfg["vision_config"]["hidden_act"] = "swish";
        std::ofstream(dst / "config.json", std::ios::trunc) << cfg.dump();
        Error e = load_error(dst.string());
        QCOMPARE(e.kind(), ErrorKind::Unsupported);
        QVERIFY(QString(e.what()).startsWith(QString::fromStdString(cfg_path + ": vision_config.hidden_act: ")));
        QVERIFY(QString(e.what()).contains("swish"));
        // a layer count that disagrees with the checkpoint
        cfg["vision_config"]["hidden_act"] = "gelu";
        cfg["vision_config"]["num_hidden_layers"] = 7;
        std::ofstream(dst / "config.json", std::ios::trunc) << cfg.dump();
        e = load_error(dst.string());
        QCOMPARE(e.kind(), ErrorKind::Mismatch);
        QVERIFY(QString(e.what()).startsWith(QString::fromStdString(cfg_path + ": vision_config.num_hidden_layers: ")));
        // a missing tensor is named
        auto all = read_all((src / "model.safetensors").string());
        all.erase("vision_model.encoder.layers.1.self_attn.k_proj.weight");
        write_safetensors((dst / "model.safetensors").string(), all);
        fs::copy(src / "config.json", dst / "config.json", fs::copy_options::overwrite_existing);
        e = load_error(dst.string());
        QCOMPARE(e.kind(), ErrorKind::Missing);
        QVERIFY(QString(e.what()).contains("vision_model.encoder.layers.1.self_attn.k_proj.weight"));
        QVERIFY(QString(e.what()).contains("model.safetensors"));
        // SigLIP without config.json: the head count cannot be guessed (so400m is 1152 wide with 16 heads)
        const fs::path bare = dst / "bare";
        fs::create_directories(bare);
        fs::copy(fixture("siglip/hf_vision/model.safetensors"), bare / "model.safetensors");
        e = load_error((bare / "model.safetensors").string());
        QCOMPARE(e.kind(), ErrorKind::Missing);
        QVERIFY(QString(e.what()).contains("--heads"));
        LoadOptions opt;
        opt.heads_override = 4;
        QCOMPARE(load_model((bare / "model.safetensors").string(), opt)->info().n_heads, 4);
    }
};

QTEST_GUILESS_MAIN(TestClipSiglip)
#include "test_clip_siglip.moc"
