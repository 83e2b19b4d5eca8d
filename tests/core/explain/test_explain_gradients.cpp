// The explanation engine (core/explain/vit_grad, gradient_methods) against PyTorch autograd and an
// independent NumPy implementation of each map (tools/reference/make_explain_fixtures.py):
// ∂logit/∂A of every layer and every map (chefer2, gradcam, grad-rollout at discard 0 and 0.9)
// ≤ 1e-4 relative (max |got − ref| / max |ref|), on every ViT head kind and the real DeiT-Tiny.
#include "core/error.h"
#include "core/explain/explain.h"
#include "core/explain/vit_grad.h"
#include "core/io/npy.h"
#include "core/models/loader.h"
#include "tests/support/tensor_compare.h"

#include <QtTest>

#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>

using namespace attnscope;
using namespace attnscope::testing;
namespace fs = std::filesystem;

namespace {

struct Case {
    fs::path model_dir, input, expected;
};

Case case_paths(const std::string& name) {
    const fs::path ex = fixture("explain/" + name);
    if (fs::exists(ex / "model.safetensors")) return {ex, ex / "input.npy", ex};
    const fs::path vit = fixture("vit/" + name);
    return {vit, vit / "input.npy", ex};
}

std::string dn(const char* prefix, int t, const char* suffix = "") {
    return std::string(prefix) + "_t" + std::to_string(t) + suffix + ".npy";
}

// ImageNet normalisation of the fixture's uint8 [H, W, 3] crop → [3, H, W].
Tensor normalise_rgb(const Tensor& rgb) {
    const int64_t H = rgb.size(0), W = rgb.size(1);
    const float mean[3] = {0.485f, 0.456f, 0.406f}, stdv[3] = {0.229f, 0.224f, 0.225f};
    Tensor x({3, H, W});
    for (int c = 0; c < 3; ++c)
        for (int64_t i = 0; i < H * W; ++i)
            x.data[static_cast<size_t>(c * H * W + i)] = (rgb.data[static_cast<size_t>(i * 3 + c)] / 255.0f - mean[c]) / stdv[c];
    return x;
}

} // namespace

class TestExplainGradients : public QObject {
    Q_OBJECT

    // Every map of `target` through explain(), against the reference files in `dir`.
    void check_maps(const Model& model, const Tensor& input, const fs::path& dir, int t, const nlohmann::json& ex, int ti) {
        using explain::Method;
        explain::Target target;
        target.class_index = t;
        struct M { Method m; const char* file; double discard; };
        for (const M& m : {M{Method::Chefer2, "chefer2", 0.0}, M{Method::GradCam, "gradcam", 0.0},
                           M{Method::GradRollout, "grad_rollout", 0.0}, M{Method::GradRollout, "grad_rollout", 0.9}}) {
            explain::ExplainOptions opt;
            opt.discard_ratio = m.discard;
            const explain::Explanation e = explain::explain(model, input, m.m, target, opt);
            QCOMPARE(e.target_index, t);
            QVERIFY(std::abs(e.logit - ex["logits"][ti].get<double>()) <= 1e-4 * std::max(1.0, std::abs(static_cast<double>(e.logit))));
            QVERIFY(std::abs(e.prob - ex["probs"][ti].get<double>()) <= 1e-5);
            std::string file = m.file;
            if (m.m == Method::GradRollout) file = dn(("grad_rollout_d" + std::to_string(std::lround(m.discard * 100))).c_str(), t);
            else file = dn(m.file, t);
            QVERIFY2(rel_max_diff(e.relevance, read_npy((dir / file).string()), file) <= 1e-4, file.c_str());
        }
    }

private slots:
    void fixtures_data() {
        QTest::addColumn<QString>("name");
        for (const char* c : {"hf_vit", "timm_vit", "deit_distilled", "dinov2_reg_cls", "dinov2_swiglu_cls", "timm_avg"})
            QTest::newRow(c) << QString(c);
    }
    void fixtures() {
        QFETCH(QString, name);
        const Case k = case_paths(name.toStdString());
        QVERIFY2(fs::exists(k.expected / "explain.json"), "fixture missing: run tools/reference/make_explain_fixtures.py");
        const nlohmann::json ex = nlohmann::json::parse(std::ifstream(k.expected / "explain.json"));
        const auto model = load_model(k.model_dir.string());
        const VitConfig* c = vit_config(*model);
        QVERIFY(c != nullptr);
        const Tensor input = read_npy(k.input.string());
        const std::vector<int> targets = ex["targets"].get<std::vector<int>>();
        for (size_t ti = 0; ti < targets.size(); ++ti) {
            const int t = targets[ti];
            std::printf("%s, target %d\n", name.toUtf8().constData(), t);
            const explain::VitGradients g = explain::vit_gradients(*c, *vit_weights(*model), input, t);
            QCOMPARE(g.target, t);
            QVERIFY(max_abs_diff(g.logits, read_npy((k.expected / "logits.npy").string()), "logits") <= 1e-4);
            QCOMPARE(static_cast<int>(g.grad.size()), ex["layers"].get<int>());
            for (const AttentionMap& dA : g.grad) {
                char file[48];
                std::snprintf(file, sizeof file, "grad_t%d_layer%02d.npy", t, dA.layer);
                const Tensor ref = read_npy((k.expected / file).string());
                QVERIFY2(rel_max_diff(Tensor({dA.n_heads, dA.n_q, dA.n_k}, dA.probs), ref, file) <= 1e-4, file);
            }
            check_maps(*model, input, k.expected, t, ex, static_cast<int>(ti));
        }
        // default target: the top-1 class
        const explain::Explanation e = explain::explain(*model, input, explain::Method::Chefer2, {});
        QCOMPARE(e.target_index, targets[0]);
    }

    void real_deit_tiny() {
        const std::string dir = shared_path("models/deit-tiny-imagenet");
        if (dir.empty()) QSKIP("../shared/models/deit-tiny-imagenet not present: real-weights test skipped");
        const fs::path fx = fixture("explain/deit_tiny_real");
        const nlohmann::json ex = nlohmann::json::parse(std::ifstream(fx / "explain.json"));
        const auto model = load_model(dir);
        const Tensor input = normalise_rgb(read_npy((fx / "input_rgb.npy").string()));
        const Tensor idx = read_npy((fx / "grad_sample_index.npy").string()); // [layers, n]
        const std::vector<int> targets = ex["targets"].get<std::vector<int>>();
        std::vector<Tensor> chefer;
        for (size_t ti = 0; ti < targets.size(); ++ti) {
            const int t = targets[ti];
            std::printf("deit-tiny, target %d (%s)\n", t, ex["labels"][ti].get<std::string>().c_str());
            const explain::VitGradients g = explain::vit_gradients(*vit_config(*model), *vit_weights(*model), input, t);
            const Tensor stats = read_npy((fx / dn("grad", t, "_stats")).string());
            const Tensor samples = read_npy((fx / dn("grad", t, "_samples")).string());
            const int64_t n = idx.size(1);
            for (const AttentionMap& dA : g.grad) {
                const int l = dA.layer;
                // the CLS rows of every head, 256 sampled entries, and max |∂A| / Σ|∂A| / Σ∂A of the layer
                char file[48];
                std::snprintf(file, sizeof file, "grad_t%d_layer%02d_cls.npy", t, l);
                Tensor cls({dA.n_heads, dA.n_k});
                for (int h = 0; h < dA.n_heads; ++h) std::copy_n(dA.head(h), dA.n_k, cls.ptr() + static_cast<int64_t>(h) * dA.n_k);
                QVERIFY2(rel_max_diff(cls, read_npy((fx / file).string()), file) <= 1e-4, file);
                Tensor got({n});
                for (int64_t i = 0; i < n; ++i) got.data[static_cast<size_t>(i)] = dA.probs[static_cast<size_t>(idx.data[static_cast<size_t>(l * n + i)])];
                const std::string sl = "layer " + std::to_string(l) + " sampled entries";
                QVERIFY2(rel_max_diff(got.ptr(), samples.ptr() + l * n, n, sl) <= 1e-4, sl.c_str());
                double mx = 0.0, sa = 0.0;
                for (float v : dA.probs) mx = std::max(mx, static_cast<double>(std::abs(v))), sa += std::abs(v);
                QVERIFY(std::abs(mx - stats.data[static_cast<size_t>(l * 3)]) <= 1e-4 * stats.data[static_cast<size_t>(l * 3)]);
                QVERIFY(std::abs(sa - stats.data[static_cast<size_t>(l * 3 + 1)]) <= 1e-4 * stats.data[static_cast<size_t>(l * 3 + 1)]);
            }
            check_maps(*model, input, fx, t, ex, static_cast<int>(ti));
            chefer.push_back(explain::explain(*model, input, explain::Method::Chefer2, {t, -1}).relevance);
        }
        // class specificity: tabby and tiger cat are explained differently
        QVERIFY(max_abs_diff(chefer[0], chefer[1], "chefer2 tabby vs tiger cat") > 1e-3);
    }

    void class_specific() {
        const Case k = case_paths("hf_vit");
        const auto model = load_model(k.model_dir.string());
        const Tensor input = read_npy(k.input.string());
        for (explain::Method m : {explain::Method::Chefer2, explain::Method::GradCam, explain::Method::GradRollout}) {
            const Tensor a = explain::explain(*model, input, m, {9, -1}).relevance;
            const Tensor b = explain::explain(*model, input, m, {7, -1}).relevance;
            QVERIFY2(max_abs_diff(a, b, std::string(explain::method_name(m)) + " class 9 vs 7") > 1e-4,
                     explain::method_name(m));
        }
    }

    void several_methods_in_one_pass() {
        using explain::Method;
        const Case k = case_paths("deit_distilled");
        const auto model = load_model(k.model_dir.string());
        const Tensor input = read_npy(k.input.string());
        const std::vector<Method> all = {Method::GradRollout, Method::Rollout, Method::Chefer2, Method::Attention, Method::GradCam};
        explain::ExplainOptions opt;
        opt.discard_ratio = 0.9;
        const auto many = explain::explain_methods(*model, input, all, {3, -1}, opt);
        QCOMPARE(many.size(), all.size());
        for (size_t i = 0; i < all.size(); ++i) {
            const explain::Explanation one = explain::explain(*model, input, all[i], {3, -1}, opt);
            QVERIFY(many[i].method == all[i]);
            QCOMPARE(many[i].target_index, 3);
            QCOMPARE(many[i].logit, one.logit);
            QCOMPARE(max_abs_diff(many[i].relevance, one.relevance, explain::method_name(all[i])), 0.0);
        }
        QVERIFY(explain::explain_methods(*model, input, {}, {}).empty());
    }

    void errors() {
        const Case k = case_paths("hf_vit");
        const auto model = load_model(k.model_dir.string());
        const Tensor input = read_npy(k.input.string());
        try {
            explain::explain(*model, input, explain::Method::Chefer2, {10, -1});
            QFAIL("class 10 of 10 accepted");
        } catch (const Error& e) {
            QCOMPARE(e.kind(), ErrorKind::Argument);
            QVERIFY(std::string(e.what()).find("--target") != std::string::npos);
        }
        const auto headless = load_model(fixture("vit/dinov2_reg"));
        try {
            explain::explain(*headless, read_npy(fixture("vit/dinov2_reg/input.npy")), explain::Method::GradCam, {});
            QFAIL("headless model explained");
        } catch (const Error& e) {
            QCOMPARE(e.kind(), ErrorKind::Unsupported);
        }
        CancelFlag cancel{true};
        try {
            explain::explain(*model, input, explain::Method::Chefer2, {}, {}, &cancel);
            QFAIL("cancel ignored");
        } catch (const Error& e) {
            QCOMPARE(e.kind(), ErrorKind::Cancelled);
        }
    }
};

QTEST_APPLESS_MAIN(TestExplainGradients)
#include "test_explain_gradients.moc"
