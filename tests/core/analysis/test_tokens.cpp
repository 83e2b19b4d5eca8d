// core/analysis/tokens and the forward's token taps (RunResult::token_norms / final_tokens) against the
// references of tools/reference/make_token_fixtures.py (PyTorch forward hooks on vit_ref.PrefixViT
// loaded from the ViT fixtures' checkpoints; NumPy sinks, outliers and PCA from their definitions).
#include "core/analysis/tokens.h"
#include "core/error.h"
#include "core/image/decode.h"
#include "core/io/npy.h"
#include "core/models/loader.h"
#include "core/session.h"
#include "tests/support/tensor_compare.h"

#include <QtTest>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>

using namespace attnscope;
using namespace attnscope::analysis;
using namespace attnscope::testing;
namespace fs = std::filesystem;

namespace {

constexpr double kTol = 1e-5;

struct Case {
    fs::path ref, src;
    nlohmann::json meta;
    TokenLayout layout;
};

Case open_case(const QString& name) {
    Case c;
    c.ref = fixture("analysis/" + name.toStdString());
    c.src = fixture("vit/" + name.toStdString());
    if (!fs::exists(c.ref / "tokens_meta.json"))
        throw Error(ErrorKind::Missing, (c.ref / "tokens_meta.json").string(), "", "run tools/reference/make_token_fixtures.py");
    c.meta = nlohmann::json::parse(std::ifstream(c.ref / "tokens_meta.json"));
    c.layout = TokenLayout{c.meta["n_cls"], c.meta["n_dist"], c.meta["n_reg"], c.meta["grid_h"], c.meta["grid_w"], c.meta["patch"]};
    return c;
}

double max_rel_diff(const Tensor& a, const Tensor& b, const std::string& label) {
    if (a.shape != b.shape) {
        std::printf("  %s: shape %s vs %s\n", label.c_str(), shape_str(a.shape).c_str(), shape_str(b.shape).c_str());
        return INFINITY;
    }
    double m = 0;
    for (size_t i = 0; i < a.data.size(); ++i)
        m = std::max(m, std::abs(static_cast<double>(a.data[i]) - b.data[i]) / std::max(1e-12, std::abs(static_cast<double>(b.data[i]))));
    std::printf("  %s: max relative diff = %.3g over %zu values\n", label.c_str(), m, a.data.size());
    return m;
}

// PCA components are defined up to sign: a flipped axis min-max scales to 1 − v. Per component, the
// smaller of |a − b| and |a − (1 − b)| over the whole component.
double diff_up_to_sign(const Tensor& a, const Tensor& b, const std::string& label) {
    if (a.shape != b.shape || a.dim() != 3) return INFINITY;
    double worst = 0;
    const int64_t n = a.numel() / 3;
    for (int c = 0; c < 3; ++c) {
        double same = 0, flip = 0;
        for (int64_t p = 0; p < n; ++p) {
            same = std::max(same, std::abs(static_cast<double>(a.data[p * 3 + c]) - b.data[p * 3 + c]));
            flip = std::max(flip, std::abs(static_cast<double>(a.data[p * 3 + c]) - (1.0 - b.data[p * 3 + c])));
        }
        std::printf("  %s, component %d: maxdiff = %.3g (%s)\n", label.c_str(), c + 1, std::min(same, flip),
                    same <= flip ? "same sign" : "flipped");
        worst = std::max(worst, std::min(same, flip));
    }
    return worst;
}

} // namespace

class TestTokens : public QObject {
    Q_OBJECT
private slots:
    void reference_data() {
        QTest::addColumn<QString>("name");
        for (const char* c : {"hf_vit", "deit_distilled", "dinov2_reg"}) QTest::newRow(c) << QString(c);
    }

    // sinks.csv values: most-attended key, its mean share, the non-patch share, from the fixture's PyTorch maps.
    void sinks_match_numpy_data() { reference_data(); }
    void sinks_match_numpy() {
        QFETCH(QString, name);
        const Case c = open_case(name);
        const Tensor ref = read_npy((c.ref / "sinks.npy").string()); // [layers, heads, 3]
        const int L = c.meta["layers"], H = c.meta["heads"];
        QCOMPARE(ref.size(0), L);
        double worst = 0;
        for (int il = 0; il < L; ++il) {
            char file[32];
            std::snprintf(file, sizeof file, "attn_layer%02d.npy", il);
            const Tensor a = read_npy((c.src / file).string());
            AttentionMap m{Site::Encoder, il, static_cast<int>(a.size(0)), static_cast<int>(a.size(1)), static_cast<int>(a.size(2)), a.data};
            const std::vector<SinkStats> s = attention_sinks(m, c.layout);
            QCOMPARE(static_cast<int>(s.size()), H);
            for (int h = 0; h < H; ++h) {
                const float* r = ref.ptr() + (static_cast<int64_t>(il) * H + h) * 3;
                QCOMPARE(s[h].layer, il);
                QCOMPARE(s[h].top_key, static_cast<int>(r[0]));
                worst = std::max({worst, std::abs(s[h].top_share - r[1]), std::abs(s[h].non_patch_share - r[2])});
            }
        }
        std::printf("  %s sinks: top-key indices equal, shares maxdiff = %.3g\n", name.toUtf8().constData(), worst);
        QVERIFY(worst <= kTol);
        const std::string csv = sinks_csv(attention_sinks(AttentionMap{Site::Encoder, 0, 1, 1, c.layout.n_tokens(),
                                                                       std::vector<float>(c.layout.n_tokens(), 0.0f)}, c.layout), c.layout);
        QVERIFY(csv.rfind("layer,head,top_key,top_key_kind,top_key_row,top_key_col,top_key_share,non_patch_share\n0,0,0,cls,,,", 0) == 0);
    }

    // The forward's residual-stream norms and final-norm tokens against PyTorch forward hooks.
    void forward_taps_match_torch_data() { reference_data(); }
    void forward_taps_match_torch() {
        QFETCH(QString, name);
        const Case c = open_case(name);
        auto model = load_model(c.src.string());
        Session session(*model);
        const RunResult r = session.run(read_npy((c.src / "input.npy").string()), RecordPolicy::None);
        QVERIFY(max_rel_diff(r.token_norms, read_npy((c.ref / "token_norms.npy").string()), name.toStdString() + " token norms") <= kTol);
        QVERIFY(max_abs_diff(r.final_tokens, read_npy((c.ref / "final_tokens.npy").string()), name.toStdString() + " final-norm tokens") <= kTol);
    }

    void outliers_match_numpy_data() { reference_data(); }
    void outliers_match_numpy() {
        QFETCH(QString, name);
        const Case c = open_case(name);
        const Tensor norms = read_npy((c.ref / "token_norms.npy").string());
        for (const auto& [key, k] : {std::pair<const char*, double>{"outliers_k1_2", 1.2}, {"outliers_k2", 2.0}}) {
            const auto want = c.meta[key];
            const std::vector<NormOutlier> got = norm_outliers(norms, c.layout, k);
            std::printf("  %s k = %.1f: %zu outliers (reference %zu)\n", name.toUtf8().constData(), k, got.size(), want.size());
            QCOMPARE(got.size(), want.size());
            for (size_t i = 0; i < got.size(); ++i) {
                QCOMPARE(got[i].layer, want[i][0].get<int>());
                QCOMPARE(got[i].token, want[i][1].get<int>());
                QVERIFY(std::abs(got[i].median_patch - want[i][3].get<double>()) <= kTol * want[i][3].get<double>());
            }
        }
        // and the median itself, where the reference lists none (k = 0 lists every token with its median)
        const std::vector<NormOutlier> all = norm_outliers(norms, c.layout, 0.0);
        QCOMPARE(static_cast<int64_t>(all.size()), norms.numel());
        const std::string csv = norm_outliers_csv(all, c.layout);
        QVERIFY(csv.rfind("layer,token,kind,row,col,norm,median_patch_norm,ratio\n0,0,cls,,,", 0) == 0);
        QCOMPARE(patch_norm_grids(norms, c.layout).shape, (Shape{norms.size(0), c.layout.grid_h, c.layout.grid_w}));
    }

    // PCA of the reference final tokens (up to sign per component) and of our forward's; the mask exactly.
    void feature_pca_matches_numpy_data() { reference_data(); }
    void feature_pca_matches_numpy() {
        QFETCH(QString, name);
        const Case c = open_case(name);
        const Tensor want = read_npy((c.ref / "feature_pca.npy").string());
        const Tensor want_mask = read_npy((c.ref / "feature_pca_mask.npy").string());
        const FeaturePca pca = feature_pca(read_npy((c.ref / "final_tokens.npy").string()), c.layout);
        QVERIFY(diff_up_to_sign(pca.image, want, name.toStdString() + " PCA image (reference tokens)") <= kTol);
        QCOMPARE(max_abs_diff(pca.mask, want_mask, name.toStdString() + " foreground mask"), 0.0);
        const auto explained = c.meta["pca_explained"].get<std::vector<double>>();
        for (int i = 0; i < 3; ++i) QVERIFY(std::abs(pca.explained[i] - explained[i]) <= kTol);

        auto model = load_model(c.src.string());
        Session session(*model);
        const RunResult r = session.run(read_npy((c.src / "input.npy").string()), RecordPolicy::None);
        const FeaturePca ours = feature_pca(r.final_tokens, r.layout);
        QVERIFY(diff_up_to_sign(ours.image, want, name.toStdString() + " PCA image (our forward)") <= 1e-4);
        QCOMPARE(max_abs_diff(ours.mask, want_mask, name.toStdString() + " foreground mask (our forward)"), 0.0);
    }

    void bad_input_is_an_error() {
        const TokenLayout l{1, 0, 0, 2, 2, 16};
        AttentionMap wrong{Site::Encoder, 0, 1, 4, 4, std::vector<float>(16, 0.25f)};
        QVERIFY_THROWS_EXCEPTION(Error, attention_sinks(wrong, l));
        QVERIFY_THROWS_EXCEPTION(Error, norm_outliers(Tensor({2, 4}), l, 2.0));
        QVERIFY_THROWS_EXCEPTION(Error, feature_pca(Tensor({4, 8}), l));
        QVERIFY_THROWS_EXCEPTION(Error, feature_pca(Tensor({2, 8}), TokenLayout{1, 0, 0, 1, 1, 16}));
    }

    // Real DeiT-Tiny on the two-cats photo (docs/analyses.md): a few patch tokens of the last block at
    // ≈ 2.6× the layer's median patch norm.
    void deit_tiny_high_norm_tokens() {
        const std::string dir = shared_path("models/deit-tiny-imagenet");
        const std::string img = shared_path("images/coco_000000039769_two_cats.png");
        if (dir.empty() || img.empty() || !fs::exists(dir) || !fs::exists(img))
            QSKIP("../shared/models/deit-tiny-imagenet or the two-cats photo absent: real-model token test skipped");
        auto model = load_model(dir);
        Session session(*model);
        const RunResult r = session.run(decode_image_file(img), RecordPolicy::None);
        const TokenLayout& l = r.layout;
        QCOMPARE(r.token_norms.shape, (Shape{model->info().n_layers, l.n_tokens()}));
        const std::vector<double> med = median_patch_norms(r.token_norms, l);
        const int last = static_cast<int>(med.size()) - 1;
        double top = 0;
        int top_t = 0;
        for (int t = l.n_prefix(); t < l.n_tokens(); ++t)
            if (r.token_norms.data[static_cast<size_t>(last) * l.n_tokens() + t] > top)
                top = r.token_norms.data[static_cast<size_t>(last) * l.n_tokens() + t], top_t = t;
        const auto out2 = norm_outliers(r.token_norms, l, 2.0);
        const long n_last = std::count_if(out2.begin(), out2.end(), [&](const NormOutlier& o) { return o.layer == last && o.token >= l.n_prefix(); });
        std::printf("  DeiT-Tiny last block: median patch norm %.3f, largest patch norm %.3f (token %d) = %.3fx; "
                    "%ld patch tokens above 2x; CLS %.3fx\n",
                    med[last], top, top_t, top / med[last], n_last,
                    r.token_norms.data[static_cast<size_t>(last) * l.n_tokens()] / med[last]);
        for (int il = 0; il <= last; ++il) {
            double mx = 0;
            for (int t = l.n_prefix(); t < l.n_tokens(); ++t) mx = std::max(mx, static_cast<double>(r.token_norms.data[static_cast<size_t>(il) * l.n_tokens() + t]));
            std::printf("    layer %2d: median patch norm %8.3f, max patch %8.3f (%.2fx)\n", il, med[il], mx, mx / med[il]);
        }
        // "≈ 2.6×" is stated to one decimal: [2.55, 2.65]. (Our forward matches PyTorch to 1e-5 relative on the
        // fixtures, so the measured ratio moves by far less than that with BLAS or thread counts.)
        QVERIFY2(top / med[last] >= 2.55 && top / med[last] <= 2.65, "the documented ≈ 2.6× high-norm patch tokens");
        QVERIFY(n_last >= 1 && n_last <= l.grid_h * l.grid_w / 10);
    }
};

QTEST_APPLESS_MAIN(TestTokens)
#include "test_tokens.moc"
