// YOLOS vs the independent PyTorch reference (tools/reference/make_yolos_fixtures.py): logits / boxes
// ≤ 1e-4, every encoder map ≤ 1e-5, token norms and final tokens ≤ 1e-4; mid position embeddings on and
// off, a non-square input whose grid differs from the table's (interpolation) and the native size; the
// token layout with detection tokens after the patches, and what the analyses make of it; YolosImageProcessor
// sizes; malformed checkpoints and configs.
#include "core/analysis/heads.h"
#include "core/analysis/tokens.h"
#include "core/error.h"
#include "core/image/preprocess.h"
#include "core/io/npy.h"
#include "core/io/weights.h"
#include "core/models/loader.h"
#include "core/models/model_config.h"
#include "core/models/yolos.h"
#include "core/postprocess.h"
#include "core/session.h"
#include "tests/support/fixture_models.h"
#include "tests/support/tensor_compare.h"

#include <nlohmann/json.hpp>

#include <QtTest>

#include <QTemporaryDir>

#include <cmath>
#include <filesystem>
#include <fstream>

using namespace attnscope;
using attnscope::testing::error_of;
using attnscope::testing::fixture;
using attnscope::testing::read_json;
using attnscope::testing::max_abs_diff;
namespace fs = std::filesystem;

namespace {

// A copy of fixtures/yolos/<name>/hf in `dir`, with the config (and tensors) changed by the callers.
std::string copy_model(const QTemporaryDir& dir, const std::string& name, const nlohmann::json& config,
                       const std::map<std::string, Tensor>* tensors = nullptr) {
    const std::string out = dir.path().toStdString() + "/" + name;
    fs::create_directories(out);
    if (tensors) attnscope::testing::write_safetensors(out + "/model.safetensors", *tensors);
    else fs::copy_file(fixture("yolos/" + name + "/hf/model.safetensors"), out + "/model.safetensors", fs::copy_options::overwrite_existing);
    fs::remove(out + "/config.json");
    if (!config.is_null()) std::ofstream(out + "/config.json") << config.dump(2);
    return out;
}

} // namespace

class TestYolos : public QObject {
    Q_OBJECT

private slots:
    void matches_reference_data() {
        QTest::addColumn<QString>("name");
        QTest::addColumn<QString>("run");
        QTest::addColumn<int>("gh");
        QTest::addColumn<int>("gw");
        QTest::newRow("mid position embeddings, 44×76 input (5×9 grid from the 4×6 table)") << "mid" << "resized" << 5 << 9;
        QTest::newRow("mid position embeddings, native 32×48") << "mid" << "native" << 4 << 6;
        QTest::newRow("no mid position embeddings, 44×76 input") << "nomid" << "resized" << 5 << 9;
        QTest::newRow("no mid position embeddings, native 32×48") << "nomid" << "native" << 4 << 6;
    }
    void matches_reference() {
        QFETCH(QString, name);
        QFETCH(QString, run);
        QFETCH(int, gh);
        QFETCH(int, gw);
        const std::string root = fixture("yolos/" + name.toStdString() + "/");
        auto model = load_model(root + "hf");
        QVERIFY(model->info().family == Family::Yolos);
        QVERIFY(model->info().task == Task::Detect);
        QCOMPARE(std::string(family_name(model->info().family)), std::string("yolos"));
        QCOMPARE(model->info().n_heads, 4);
        QCOMPARE(model->info().n_layers, 3);
        QCOMPARE(model->info().n_labels, 4);
        QCOMPARE(model->info().image_h, 32);
        QCOMPARE(model->info().image_w, 48);
        QCOMPARE(model->info().labels.at(1), std::string("remote"));
        QCOMPARE(dynamic_cast<const YolosModel&>(*model).config().mid_pos, name == "mid");

        const Tensor input = read_npy(root + "input_" + run.toStdString() + ".npy");
        const RunResult r = Session(*model).run(input);
        const std::string dir = root + "expected_" + run.toStdString() + "/";
        QCOMPARE(r.layout.n_cls, 1);
        QCOMPARE(r.layout.n_det, 5);
        QCOMPARE(r.layout.grid_h, gh);
        QCOMPARE(r.layout.grid_w, gw);
        QCOMPARE(r.layout.patch_size, 8);
        const int T = 1 + gh * gw + 5;
        QCOMPARE(r.layout.n_tokens(), T);
        QCOMPARE(r.layout.det_start(), 1 + gh * gw);
        QVERIFY(max_abs_diff(r.logits, read_npy(dir + "logits.npy"), "logits") <= 1e-4);
        QVERIFY(max_abs_diff(r.boxes, read_npy(dir + "boxes.npy"), "boxes") <= 1e-4);
        QVERIFY(max_abs_diff(r.token_norms, read_npy(dir + "token_norms.npy"), "token norms") <= 1e-4);
        QVERIFY(max_abs_diff(r.final_tokens, read_npy(dir + "final_tokens.npy"), "final tokens") <= 1e-4);
        QCOMPARE(r.attention.size(), size_t(3));
        for (int il = 0; il < 3; ++il) {
            const AttentionMap& m = r.attention[size_t(il)];
            QVERIFY(m.site == Site::Encoder);
            QCOMPARE(m.layer, il);
            QCOMPARE(m.n_q, T);
            QCOMPARE(m.n_k, T);
            char file[32];
            std::snprintf(file, sizeof file, "encoder_layer%02d", il);
            QVERIFY(max_abs_diff(Tensor({m.n_heads, m.n_q, m.n_k}, m.probs), read_npy(dir + file + ".npy"), file) <= 1e-5);
        }
        // Every detection token, post-processed as DETR's queries (index == query).
        QCOMPARE(r.detections.size(), size_t(5));
        for (int q = 0; q < 5; ++q) QCOMPARE(r.detections[size_t(q)].query, q);
    }

    // The parameter count is every tensor in the file; the patch embedding's position rows are the table's
    // grid rows only (after CLS, before the detection tokens) — both through the ViT parts (vit_parts.h).
    void parameters_and_patch_embedding_from_the_checkpoint() {
        for (const char* name : {"mid", "nomid"}) {
            const std::string file = fixture(std::string("yolos/") + name + "/hf/model.safetensors");
            auto model = load_model(fixture(std::string("yolos/") + name + "/hf"));
            const auto w = open_weights(file);
            int64_t total = 0;
            for (const std::string& t : w->names()) {
                int64_t n = 1;
                for (int64_t d : w->info(t).shape) n *= d;
                total += n;
            }
            QCOMPARE(model->info().n_params, total);
            const PatchEmbedding pe = model->patch_embedding();
            QCOMPARE(pe.pos_grid_h, 4);
            QCOMPARE(pe.pos_grid_w, 6);
            QCOMPARE(pe.n_pos_prefix, 1);
            const Tensor table = w->load("vit.embeddings.position_embeddings"); // [1, 1 + 24 + 5, D]
            const int64_t D = table.size(2);
            QCOMPARE(pe.pos.shape, (Shape{24, D}));
            QVERIFY(std::equal(pe.pos.data.begin(), pe.pos.data.end(), table.data.begin() + D));
            QCOMPARE(pe.filters.shape, w->load("vit.embeddings.patch_embeddings.projection.weight").shape);
        }
    }

    // A detection token's row of the encoder self-attention, over the patch keys: what the Detections view shows.
    void detection_token_attention_over_the_grid() {
        const std::string root = fixture("yolos/mid/");
        auto model = load_model(root + "hf");
        const RunResult r = Session(*model).run(read_npy(root + "input_resized.npy"));
        const TokenLayout& L = r.layout;
        const Tensor want = read_npy(root + "expected_resized/encoder_layer02.npy"); // [4, T, T] from PyTorch
        const int T = L.n_tokens(), G = L.grid_h * L.grid_w;
        const AttentionMap& m = r.attention.back();
        QCOMPARE(analysis::key_grid_start(m, L), 1);
        QCOMPARE(analysis::query_grid_start(m, L), 1);
        for (int q = 0; q < L.n_det; ++q) {
            const int token = L.det_start() + q;
            for (int h = 0; h < 4; ++h) {
                const analysis::QueryAttention a = analysis::query_attention(m, L, token, {h});
                QCOMPARE(a.grid_h, 5);
                QCOMPARE(a.grid_w, 9);
                QCOMPARE(int(a.grid.size()), G);
                for (int c = 0; c < G; ++c) // keys 1 … G are the patches; the detection keys are not in the grid
                    QVERIFY(std::abs(a.grid[size_t(c)] - want.data[(size_t(h) * T + token) * T + 1 + c]) <= 1e-5f);
            }
        }
    }

    void token_analyses_keep_detection_tokens_apart() {
        const std::string root = fixture("yolos/nomid/");
        auto model = load_model(root + "hf");
        const RunResult r = Session(*model).run(read_npy(root + "input_resized.npy"));
        const TokenLayout& L = r.layout;
        QCOMPARE(analysis::token_kind(L, 0), std::string("cls"));
        QCOMPARE(analysis::token_kind(L, 1), std::string("patch"));
        QCOMPARE(analysis::token_kind(L, L.det_start() - 1), std::string("patch"));
        QCOMPARE(analysis::token_kind(L, L.det_start()), std::string("det0"));
        QCOMPARE(analysis::token_kind(L, L.n_tokens() - 1), std::string("det4"));
        QVERIFY(!L.is_patch(0) && L.is_patch(1) && !L.is_patch(L.det_start()));
        // Patch norms: the 45 patch tokens only (reference norms), not the detection tokens after them.
        const Tensor norms = read_npy(root + "expected_resized/token_norms.npy"); // [3, 51]
        const Tensor grids = analysis::patch_norm_grids(r.token_norms, L);
        QCOMPARE(grids.shape, (Shape{3, 5, 9}));
        const int T = L.n_tokens();
        for (int layer = 0; layer < 3; ++layer) {
            std::vector<double> patch;
            for (int c = 0; c < 45; ++c) {
                const float want = norms.data[size_t(layer) * T + 1 + c];
                QVERIFY(std::abs(grids.data[size_t(layer) * 45 + c] - want) <= 1e-4f * std::max(1.0f, want));
                patch.push_back(want);
            }
            std::sort(patch.begin(), patch.end());
            QVERIFY(std::abs(analysis::median_patch_norms(r.token_norms, L)[size_t(layer)] - patch[22]) <= 1e-4 * patch[22]);
        }
        // An outlier table lists detection tokens with their kind and no grid cell.
        const auto outliers = analysis::norm_outliers(r.token_norms, L, 0.0); // k = 0: every token
        const std::string csv = analysis::norm_outliers_csv(outliers, L);
        QVERIFY(csv.find("," + std::to_string(L.det_start()) + ",det0,,,") != std::string::npos);
        QVERIFY(!analysis::feature_pca(r.final_tokens, L).image.empty());
        const nlohmann::json lj = layout_json(L);
        QCOMPARE(lj["detection"].get<int>(), 5);
        QCOMPARE(lj["tokens"].get<int>(), 51);
    }

    // sinks.csv's non_patch_share: the attention on CLS *and* the detection tokens after the patches, summed
    // here straight from PyTorch's maps (tests/fixtures/yolos/*/expected_resized/encoder_layerNN.npy).
    void sinks_count_every_non_patch_token() {
        const std::string root = fixture("yolos/nomid/");
        auto model = load_model(root + "hf");
        const RunResult r = Session(*model).run(read_npy(root + "input_resized.npy"));
        const TokenLayout& L = r.layout;
        const int T = L.n_tokens(), G = L.grid_h * L.grid_w; // 1 + 45 + 5
        for (int il = 0; il < 3; ++il) {
            char file[48];
            std::snprintf(file, sizeof file, "expected_resized/encoder_layer%02d.npy", il);
            const Tensor want = read_npy(root + file); // [heads, T, T]
            const AttentionMap ref{Site::Encoder, il, int(want.size(0)), T, T, want.data};
            const auto sinks = analysis::attention_sinks(ref, L);
            QCOMPARE(int(sinks.size()), int(want.size(0)));
            for (int h = 0; h < int(want.size(0)); ++h) {
                double cls = 0, det = 0;
                for (int q = 0; q < T; ++q) {
                    const float* row = want.ptr() + (int64_t(h) * T + q) * T;
                    cls += row[0];
                    for (int k = 1 + G; k < T; ++k) det += row[k];
                }
                cls /= T, det /= T;
                QVERIFY(det > 1e-3); // the detection tokens do draw attention: leaving them out would show
                QVERIFY2(std::abs(sinks[size_t(h)].non_patch_share - (cls + det)) <= 1e-6,
                         qPrintable(QString("layer %1 head %2: %3 vs %4").arg(il).arg(h).arg(sinks[size_t(h)].non_patch_share).arg(cls + det)));
            }
        }
        const std::string csv = analysis::sinks_csv(analysis::attention_sinks(r.attention.front(), L), L);
        QVERIFY(csv.rfind("layer,head,top_key,top_key_kind,top_key_row,top_key_col,top_key_share,non_patch_share\n", 0) == 0);
    }

    // HF YolosImageProcessor get_size_with_aspect_ratio (mod_size 16), worked by hand.
    void preprocessing_sizes() {
        PreprocessSpec s;
        s.resize = PreprocessSpec::Resize::ShortestEdgeMaxLongest;
        s.shortest_edge = 512;
        s.longest_edge = 1333;
        s.size_divisor = 16;
        QCOMPARE(resized_size(640, 480, s), (std::pair<int, int>{672, 512}));  // 682 → 672
        s.shortest_edge = 800;
        QCOMPARE(resized_size(640, 480, s), (std::pair<int, int>{1056, 800})); // 1066 → 1056
        QCOMPARE(resized_size(480, 640, s), (std::pair<int, int>{800, 1056})); // portrait
        QCOMPARE(resized_size(300, 1200, s), (std::pair<int, int>{320, 1328})); // capped: raw 333.25 → 333, 1333 → 320, 1328
        s.size_divisor = 0; // DETR's rule is unchanged
        QCOMPARE(resized_size(640, 480, s), (std::pair<int, int>{1066, 800}));

        const nlohmann::json prep = {{"feature_extractor_type", "YolosFeatureExtractor"}, {"size", 512}, {"max_size", 1333},
                                     {"do_normalize", true}, {"image_mean", {0.485, 0.456, 0.406}}, {"image_std", {0.229, 0.224, 0.225}}};
        auto model = load_model(fixture("yolos/mid/hf"));
        const PreprocessSpec d = model->preprocess(); // no preprocessor_config.json: YolosImageProcessor defaults
        QCOMPARE(d.shortest_edge, 800);
        QCOMPARE(d.longest_edge, 1333);
        QCOMPARE(d.size_divisor, 16);
        const PreprocessSpec p = resolve_preprocess(Family::Yolos, d, &prep, nullptr);
        QCOMPARE(p.shortest_edge, 512);
        QCOMPARE(p.longest_edge, 1333);
        QCOMPARE(p.size_divisor, 16);
        QVERIFY(!p.center_crop);
        QCOMPARE(preprocess_json(p)["size_divisor"].get<int>(), 16);

        // A photo through Session, with a preprocessor_config.json beside the model: the input is the floored
        // size, the grid follows it, the boxes are in the photo's pixels.
        QTemporaryDir tmp;
        const std::string folder = copy_model(tmp, "mid", read_json(fixture("yolos/mid/hf/config.json")));
        nlohmann::json small = prep;
        small["size"] = 40, small["max_size"] = 64;
        std::ofstream(folder + "/preprocessor_config.json") << small.dump();
        auto photo_model = load_model(folder);
        QCOMPARE(photo_model->preprocess().size_divisor, 16);
        ImageRGB8 img;
        img.width = 90, img.height = 60;
        img.data.assign(size_t(90) * 60 * 3, 128);
        Tensor input;
        const RunResult r = Session(*photo_model).run(img, RecordPolicy::All, nullptr, &input);
        QCOMPARE(input.shape, (Shape{3, 32, 48})); // 40 × int(40·90/60) = 60, floored to 32 × 48
        QCOMPARE(r.layout.grid_h, 4);
        QCOMPARE(r.layout.grid_w, 6);
        QCOMPARE(r.geometry.orig_w, 90);
        QCOMPARE(r.detections.size(), size_t(5));
        const float* b = r.boxes.ptr();
        QVERIFY(std::abs(r.detections[0].box_xyxy[0] - (b[0] - 0.5f * b[2]) * 90) < 1e-3f);
        QVERIFY(std::abs(r.detections[0].box_xyxy[3] - (b[1] + 0.5f * b[3]) * 60) < 1e-3f);
    }

    void malformed_inputs_name_file_and_field() {
        QTemporaryDir tmp;
        QVERIFY(tmp.isValid());
        nlohmann::json cfg = read_json(fixture("yolos/mid/hf/config.json"));

        nlohmann::json bad = cfg;
        bad["image_size"] = {40, 48};
        QString e = error_of([&] { load_model(copy_model(tmp, "mid", bad)); });
        QVERIFY2(e.contains("config.json") && e.contains("image_size") && e.contains("5×6"), qPrintable(e));

        bad = cfg;
        bad["image_size"] = "big";
        e = error_of([&] { load_model(copy_model(tmp, "mid", bad)); });
        QVERIFY2(e.contains("image_size") && e.contains("expected a positive integer"), qPrintable(e));

        bad = cfg;
        bad["use_mid_position_embeddings"] = false;
        e = error_of([&] { load_model(copy_model(tmp, "mid", bad)); });
        QVERIFY2(e.contains("use_mid_position_embeddings"), qPrintable(e));

        bad = cfg;
        bad["num_detection_tokens"] = 100;
        e = error_of([&] { load_model(copy_model(tmp, "mid", bad)); });
        QVERIFY2(e.contains("num_detection_tokens") && e.contains("says 100"), qPrintable(e));

        bad = cfg;
        bad["hidden_act"] = "relu";
        e = error_of([&] { load_model(copy_model(tmp, "mid", bad)); });
        QVERIFY2(e.contains("hidden_act"), qPrintable(e));

        bad = cfg;
        bad["id2label"] = {{"0", "a"}};
        e = error_of([&] { load_model(copy_model(tmp, "mid", bad)); });
        QVERIFY2(e.contains("id2label") && e.contains("5 rows"), qPrintable(e));

        // No config: a 4×6 table is not square, so the grid cannot be known; heads neither.
        e = error_of([&] { load_model(copy_model(tmp, "nomid", nlohmann::json())); });
        QVERIFY2(e.contains("model.safetensors") && e.contains("image_size"), qPrintable(e));

        // Tensors: a detection-token table of the wrong width, and a mid-position table of the wrong length.
        std::map<std::string, Tensor> t = attnscope::testing::read_all(fixture("yolos/mid/hf/model.safetensors"));
        t["vit.embeddings.detection_tokens"] = Tensor({1, 5, 16});
        e = error_of([&] { load_model(copy_model(tmp, "mid", cfg, &t)); });
        QVERIFY2(e.contains("vit.embeddings.detection_tokens") && e.contains("[1, 5, 16]"), qPrintable(e));
        t = attnscope::testing::read_all(fixture("yolos/mid/hf/model.safetensors"));
        t["vit.encoder.mid_position_embeddings"] = Tensor({2, 1, 29, 32});
        e = error_of([&] { load_model(copy_model(tmp, "mid", cfg, &t)); });
        QVERIFY2(e.contains("vit.encoder.mid_position_embeddings"), qPrintable(e));
        t = attnscope::testing::read_all(fixture("yolos/mid/hf/model.safetensors"));
        t.erase("bbox_predictor.layers.1.bias");
        e = error_of([&] { load_model(copy_model(tmp, "mid", cfg, &t)); });
        QVERIFY2(e.contains("bbox_predictor.layers.1.bias"), qPrintable(e));

        // A too-small input is an error, not a crash.
        auto model = load_model(fixture("yolos/mid/hf"));
        e = error_of([&] { Session(*model).run(Tensor({3, 4, 40})); });
        QVERIFY2(e.contains("smaller than one 8-pixel patch"), qPrintable(e));
    }
};

QTEST_APPLESS_MAIN(TestYolos)
#include "test_yolos.moc"
