// core/analysis on tiny hand-made attention tensors whose answers are known by construction.
#include "core/analysis/distance.h"
#include "core/analysis/embeddings.h"
#include "core/analysis/heads.h"
#include "core/analysis/masks.h"
#include "core/analysis/query_boxes.h"
#include "core/analysis/rollout.h"
#include "core/error.h"
#include "core/io/weights.h"
#include "core/models/loader.h"
#include "tests/support/tensor_compare.h"

#include <QtTest>

#include <cmath>

using namespace attnscope;
using namespace attnscope::analysis;
using namespace attnscope::testing;

namespace {

// heads × T × T map filled by f(h, q, k).
template <class F> AttentionMap make_map(int heads, int T, F f, int layer = 0) {
    AttentionMap m;
    m.layer = layer;
    m.n_heads = heads;
    m.n_q = m.n_k = T;
    m.probs.resize(static_cast<size_t>(heads) * T * T);
    for (int h = 0; h < heads; ++h)
        for (int q = 0; q < T; ++q)
            for (int k = 0; k < T; ++k) m.probs[(static_cast<size_t>(h) * T + q) * T + k] = f(h, q, k);
    return m;
}

} // namespace

class TestAnalysis : public QObject {
    Q_OBJECT
private slots:
    void distance_of_identity_attention_is_zero() {
        const TokenLayout l = token_layout(1, 1, 3, 4, 16);
        const AttentionMap m = make_map(2, l.n_tokens(), [](int, int q, int k) { return q == k ? 1.0f : 0.0f; });
        for (double d : mean_attention_distance(m, l)) QCOMPARE(d, 0.0);
    }

    void distance_of_uniform_attention_is_the_mean_pairwise_distance() {
        // 2×2 grid, patch 16: from any patch the distances are 0, 16, 16, 16√2 → mean (2 + √2)/4 · 16
        TokenLayout l = token_layout(1, 0, 2, 2, 16);
        AttentionMap m = make_map(1, 5, [](int, int q, int k) { return q == 0 ? 0.2f : k == 0 ? 0.0f : 0.25f; });
        QVERIFY(std::abs(mean_attention_distance(m, l)[0] - (2 + std::sqrt(2.0)) / 4 * 16) < 1e-6);
        // half the mass on CLS: no renormalisation, so the distance halves
        m = make_map(1, 5, [](int, int, int k) { return k == 0 ? 0.5f : 0.125f; });
        QVERIFY(std::abs(mean_attention_distance(m, l)[0] - (2 + std::sqrt(2.0)) / 8 * 16) < 1e-6);
        // non-square 1×3 grid, patch 8: mean over all pairs of |i − j|·8 = 8/9 · 8
        l = token_layout(1, 0, 1, 3, 8);
        m = make_map(1, 4, [](int, int, int k) { return k == 0 ? 0.0f : 1.0f / 3; });
        QVERIFY(std::abs(mean_attention_distance(m, l)[0] - 64.0 / 9) < 1e-5);
    }

    void distance_accumulator_streams_mean_and_std() {
        DistanceAccumulator acc;
        acc.add({{1.0, 10.0}});
        acc.add({{3.0, 10.0}});
        QCOMPARE(acc.n_images(), 2);
        QCOMPARE(acc.mean(0, 0), 2.0);
        QCOMPARE(acc.std_dev(0, 0), 1.0);
        QCOMPARE(acc.std_dev(0, 1), 0.0);
        QCOMPARE(acc.min(0, 0), 1.0);
        QCOMPARE(acc.max(0, 0), 3.0);
        QVERIFY_THROWS_EXCEPTION(Error, acc.add({{1.0}}));
    }

    void rollout_of_identity_is_zero_and_of_uniform_is_uniform() {
        const TokenLayout l = token_layout(1, 1, 2, 3, 8); // T = 8
        const int T = l.n_tokens();
        std::vector<AttentionMap> id, uni;
        for (int il = 0; il < 3; ++il) {
            id.push_back(make_map(2, T, [](int, int q, int k) { return q == k ? 1.0f : 0.0f; }, il));
            uni.push_back(make_map(2, T, [T](int, int, int) { return 1.0f / T; }, il));
        }
        for (float v : attention_rollout(id, l).data) QCOMPARE(v, 0.0f);
        // (½J/T + ½I)^L = 2^−L·I + (1 − 2^−L)·J/T: CLS row off the diagonal is (1 − 1/8)/8
        const Tensor u = attention_rollout(uni, l);
        QCOMPARE(u.shape, (Shape{2, 3}));
        for (float v : u.data) QVERIFY(std::abs(v - 0.875 / 8) < 1e-7);
    }

    void rollout_discard_spares_cls_row_and_column() {
        // 4 smallest of 9 (ratio 0.5): (2,0) (1,0) (2,1) (0,2); only (2,1) lies outside the CLS row/column
        const float a[3][3] = {{0.5f, 0.3f, 0.2f}, {0.1f, 0.6f, 0.3f}, {0.05f, 0.15f, 0.8f}};
        const TokenLayout l = token_layout(1, 0, 1, 2, 8);
        std::vector<AttentionMap> maps{make_map(1, 3, [&](int, int q, int k) { return a[q][k]; }, 0)};
        RolloutOptions o;
        o.discard_ratio = 0.5;
        const std::vector<double> step = rollout_step(maps[0], o);
        QVERIFY(std::abs(step[7]) < 1e-12);                  // zeroed
        QVERIFY(std::abs(step[6] - 0.025 / 0.925) < 1e-7);   // (2,0) kept, row renormalised
        QVERIFY(std::abs(step[8] - 0.9 / 0.925) < 1e-7);
        Tensor r = attention_rollout(maps, l, o);
        QVERIFY(std::abs(r.data[0] - 0.15) < 1e-7 && std::abs(r.data[1] - 0.1) < 1e-7);
        maps.push_back(make_map(1, 3, [&](int, int q, int k) { return a[q][k]; }, 1));
        r = attention_rollout(maps, l, o); // row 0 of Â·Â, by hand
        QVERIFY(std::abs(r.data[0] - 0.2325) < 1e-7);
        QVERIFY(std::abs(r.data[1] - (0.075 + 0.0225 + 0.1 * 0.9 / 0.925)) < 1e-7);
    }

    void head_fusion_and_query_maps() {
        const TokenLayout l = token_layout(1, 0, 1, 2, 8);
        const AttentionMap m = make_map(2, 3, [](int h, int q, int k) { return static_cast<float>(h * 0.5 + q * 0.1 + k * 0.01); });
        QVERIFY(std::abs(fuse_heads(m, HeadFusion::Mean)[5] - (0.12f + 0.62f) / 2) < 1e-6); // (q 1, k 2)
        QVERIFY(std::abs(fuse_heads(m, HeadFusion::Max)[5] - 0.62f) < 1e-6);
        QVERIFY(std::abs(fuse_heads(m, HeadFusion::Min)[5] - 0.12f) < 1e-6);
        const Tensor q = query_map(m, l, 2, {1, HeadFusion::Mean}); // head 1, query 2, keys 1..2
        QCOMPARE(q.shape, (Shape{1, 2}));
        QVERIFY(std::abs(q.data[0] - 0.71f) < 1e-6 && std::abs(q.data[1] - 0.72f) < 1e-6);
        // DETR cross-attention: every key is a feature cell
        AttentionMap cross = m;
        cross.site = Site::DecoderCross;
        cross.n_q = 1;
        cross.n_k = 2;
        cross.n_heads = 1;
        cross.probs = {0.3f, 0.7f};
        QCOMPARE(query_map(cross, l, 0).data, (std::vector<float>{0.3f, 0.7f}));
        QVERIFY_THROWS_EXCEPTION(Error, query_map(m, l, 3));
        const auto top = top_k_keys(m, 0, 2, {0});
        QCOMPARE(top.size(), size_t(2));
        QCOMPARE(top[0].key, 2);
        QCOMPARE(top[1].key, 1);
    }

    void map_to_original_undoes_resize_and_crop() {
        const Tensor grid({1, 2}, {1.0f, 3.0f});
        PreprocessGeometry g{6, 1, 6, 1, 1, 0, 4, 1}; // crop x 1..4 of a 6-pixel row
        Tensor n = map_to_original(grid, g, Upsample::Nearest);
        QVERIFY(std::isnan(n.data[0]) && std::isnan(n.data[5]));
        QCOMPARE(n.data[1], 1.0f);
        QCOMPARE(n.data[2], 1.0f);
        QCOMPARE(n.data[3], 3.0f);
        QCOMPARE(n.data[4], 3.0f);
        Tensor b = map_to_original(grid, g, Upsample::Bilinear); // cell centres at input x 1 and 3
        QCOMPARE(b.data[1], 1.0f);
        QCOMPARE(b.data[2], 1.5f);
        QCOMPARE(b.data[3], 2.5f);
        QCOMPARE(b.data[4], 3.0f);
        g = {4, 1, 2, 1, 0, 0, 2, 1}; // downscale ×2, no crop
        n = map_to_original(grid, g, Upsample::Nearest);
        QCOMPARE(n.data, (std::vector<float>{1, 1, 3, 3}));
    }

    void entropy_of_uniform_and_one_hot() {
        const AttentionMap m = make_map(2, 4, [](int h, int q, int k) { return h == 0 ? 0.25f : (q == k ? 1.0f : 0.0f); });
        const auto e = attention_entropy(m);
        QVERIFY(std::abs(e[0] - std::log(4.0)) < 1e-6);
        QCOMPARE(e[1], 0.0);
    }

    void dino_masks_keep_the_top_mass() {
        const TokenLayout l = token_layout(1, 0, 2, 2, 8);
        const float cls[5] = {0.9f, 0.1f, 0.4f, 0.2f, 0.3f}; // CLS column ignored; patches sum to 1
        const AttentionMap m = make_map(1, 5, [&](int, int q, int k) { return q == 0 ? cls[k] : 0.2f; });
        // sorted 0.1, 0.2, 0.3, 0.4 → cumulative 0.1, 0.3, 0.6, 1.0
        QCOMPARE(dino_masks(m, l, 0.6).data, (std::vector<float>{0, 1, 0, 1}));  // > 0.4
        QCOMPARE(dino_masks(m, l, 0.75).data, (std::vector<float>{0, 1, 1, 1})); // > 0.25
        QCOMPARE(upsample_nearest(Tensor({1, 2}, {1, 2}), 2).data, (std::vector<float>{1, 1, 2, 2, 1, 1, 2, 2}));
    }

    void position_similarity_of_orthogonal_embeddings_is_identity() {
        Tensor pos({6, 8});
        for (int i = 0; i < 6; ++i) pos.data[i * 8 + i] = static_cast<float>(i + 1); // orthogonal, any length
        const Tensor sim = position_similarity(pos);
        for (int i = 0; i < 6; ++i)
            for (int j = 0; j < 6; ++j) QVERIFY(std::abs(sim.data[i * 6 + j] - (i == j ? 1.0f : 0.0f)) < 1e-7);
        // non-square 2×3 grid: tile (r, c) is lit at (r, c) only; gap pixels are NaN
        const Tensor t = similarity_tiles(sim, 2, 3, 1);
        QCOMPARE(t.shape, (Shape{2 * 2 + 1, 3 * 3 + 2}));
        for (int r = 0; r < 2; ++r)
            for (int c = 0; c < 3; ++c) QCOMPARE(t.data[(r * 3 + r) * 11 + c * 4 + c], 1.0f);
        QVERIFY(std::isnan(t.data[2 * 11]) && std::isnan(t.data[3]));
        float lit = 0;
        for (float v : t.data) lit += std::isnan(v) ? 0 : v;
        QCOMPARE(lit, 6.0f);
    }

    void pca_recovers_a_known_subspace() {
        // filters = mean + a_i·u + b_i·v, with Σa = Σb = Σab = 0 and var(a) = 9·var(b)
        const int D = 40, P = 2, F = 3 * P * P;
        std::vector<double> u(F, 0.0), v(F, 0.0);
        u[0] = -0.8; u[3] = 0.6;      // largest magnitude negative: the sign rule flips it
        v[5] = 0.6; v[7] = 0.8;
        Tensor f({D, 3, P, P});
        for (int i = 0; i < D; ++i) {
            const double a = 3 * std::cos(2 * M_PI * i / D), b = std::sin(2 * M_PI * i / D);
            for (int j = 0; j < F; ++j) f.data[i * F + j] = static_cast<float>(0.1 * j + a * u[j] + b * v[j]);
        }
        const FilterPca p = filter_pca(f, 28);
        QCOMPARE(p.axes.shape, (Shape{F, 3, P, P})); // k = min(28, D, 3·P·P)
        for (int j = 0; j < F; ++j) {
            QVERIFY(std::abs(p.axes.data[j] - (-u[j])) < 1e-5);
            QVERIFY(std::abs(p.axes.data[F + j] - v[j]) < 1e-5);
        }
        QVERIFY(std::abs(p.variance[0] - 9.0 * D / 2 / (D - 1)) < 1e-4);
        QVERIFY(std::abs(p.variance[1] - 1.0 * D / 2 / (D - 1)) < 1e-4);
        QVERIFY(std::abs(p.variance[2]) < 1e-4);
        // Only the two directions vary: the total is their sum, 10·D/2/(D−1).
        QVERIFY(std::abs(p.total_variance - 10.0 * D / 2 / (D - 1)) < 1e-4);
    }

    // The views and `cli analyze` take the filters and the position table from the loaded model (no second
    // read of the checkpoint): they must be the file's tensors, the table without its CLS/DIST rows.
    void model_hands_out_its_patch_embedding() {
        struct Case { const char* dir; const char* filters; const char* pos; int prefix, grid; };
        for (const Case& c : {Case{"vit/timm_vit", "patch_embed.proj.weight", "pos_embed", 1, 4},
                              Case{"vit/deit_distilled", "deit.embeddings.patch_embeddings.projection.weight",
                                   "deit.embeddings.position_embeddings", 2, 4}}) {
            const PatchEmbedding pe = load_model(fixture(c.dir))->patch_embedding();
            const auto w = open_weights(fixture(std::string(c.dir) + "/model.safetensors"));
            const Tensor filters = w->load(c.filters), pos = w->load(c.pos); // [D, 3, P, P], [1, prefix + G, D]
            QVERIFY2(pe.filters.shape == filters.shape && pe.filters.data == filters.data, c.dir);
            QCOMPARE(pe.n_pos_prefix, c.prefix);
            QCOMPARE(pe.pos_grid_h, c.grid);
            QCOMPARE(pe.pos_grid_w, c.grid);
            const int64_t D = pos.size(2);
            QCOMPARE(pe.pos.shape, (Shape{c.grid * c.grid, D}));
            QVERIFY2(std::equal(pe.pos.data.begin(), pe.pos.data.end(), pos.data.begin() + c.prefix * D), c.dir);
        }
        // DETR has a ResNet stem and a sine position encoding: nothing to hand out.
        const PatchEmbedding detr = load_model(fixture("detr/r50tiny/hf"))->patch_embedding();
        QVERIFY(detr.filters.empty());
        QVERIFY(detr.pos.empty());
    }

    void query_boxes_take_the_best_real_class() {
        RunResult r;
        r.boxes = Tensor({2, 4}, {0.5f, 0.5f, 0.2f, 0.1f, 0.1f, 0.2f, 0.3f, 0.4f});
        r.logits = Tensor({2, 3}, {0.0f, 2.0f, 5.0f, 1.0f, 0.0f, 0.0f}); // last column: no object
        const auto rows = query_boxes("a,b.jpg", r);
        QCOMPARE(rows.size(), size_t(2));
        QCOMPARE(rows[0].label, 1);
        QVERIFY(std::abs(rows[0].score - std::exp(2.0) / (1 + std::exp(2.0) + std::exp(5.0))) < 1e-6);
        QCOMPARE(rows[1].label, 0);
        QVERIFY(QString::fromStdString(query_boxes_csv(rows)).startsWith("\"a,b.jpg\",0,0.500000,0.500000,0.200000,0.100000,"));
    }
};

QTEST_APPLESS_MAIN(TestAnalysis)
#include "test_analysis.moc"
