// DETR explanations (core/explain/detr_grad, detr_methods) against PyTorch autograd and an independent NumPy
// implementation of Chefer et al.'s DETR rules (tools/reference/make_detr_explain_fixtures.py), on the DETR
// forward fixtures (r50tiny: Bottleneck backbone, 4 heads; basic_dc5: BasicBlock DC5, 2 heads):
// ∂y/∂A of every encoder, decoder-self and decoder-cross map for a class logit and a box coordinate, and the
// chefer2 / gradcam / rollout / attention maps, each ≤ 1e-4 relative (max |got − ref| / max |ref|); the default
// target; query and class specificity; what DETR cannot be asked.
#include "core/error.h"
#include "core/explain/detr_methods.h"
#include "core/explain/explain.h"
#include "core/io/npy.h"
#include "core/models/loader.h"
#include "core/session.h"
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
using explain::Method;

namespace {

struct Case {
    fs::path model, input, expected;
};

Case case_paths(const std::string& name) {
    const fs::path detr = fixture("detr/" + name);
    return {name == "r50tiny" ? detr / "hf" : detr, detr / "input.npy", fixture("explain/detr_" + name)};
}

const char* site_file(Site s) {
    return s == Site::Encoder ? "encoder" : s == Site::DecoderSelf ? "decoder_self" : "decoder_cross";
}

constexpr double kTol = 1e-4;

} // namespace

class TestExplainDetr : public QObject {
    Q_OBJECT

private slots:
    void fixtures_data() {
        QTest::addColumn<QString>("name");
        QTest::newRow("r50tiny") << QString("r50tiny");
        QTest::newRow("basic_dc5") << QString("basic_dc5");
    }

    void fixtures() {
        QFETCH(QString, name);
        const Case k = case_paths(name.toStdString());
        QVERIFY2(fs::exists(k.expected / "explain.json"), "fixture missing: run tools/reference/make_detr_explain_fixtures.py");
        const nlohmann::json ex = nlohmann::json::parse(std::ifstream(k.expected / "explain.json"));
        const auto model = load_model(k.model.string());
        const auto* detr = dynamic_cast<const DetrModel*>(model.get());
        QVERIFY(detr != nullptr);
        const Tensor input = read_npy(k.input.string());
        const RunResult run = Session(*model).run(input, RecordPolicy::All);
        for (const nlohmann::json& t : ex["targets"]) {
            const std::string tn = t["name"].get<std::string>();
            const int q = t["query"].get<int>(), c = t["class"].get<int>(), coord = t["box_coord"].get<int>();
            std::printf("%s, target %s: query %d class %d box coordinate %d\n", name.toUtf8().constData(), tn.c_str(), q, c, coord);
            const explain::DetrGradients g = explain::detr_gradients(*detr, input, {q, c, coord});
            QCOMPARE(g.query, q);
            QCOMPARE(g.class_index, c);
            QVERIFY(g.tape_bytes > 0);
            // the taped forward is the model's forward, bit for bit
            QCOMPARE(g.logits.data, run.logits.data);
            QCOMPARE(g.boxes.data, run.boxes.data);
            QCOMPARE(g.attention.size(), run.attention.size());
            for (size_t i = 0; i < g.attention.size(); ++i) QVERIFY(g.attention[i].probs == run.attention[i].probs);
            // ∂y/∂A of every map
            QCOMPARE(g.grad.size(), g.attention.size());
            for (const AttentionMap& dA : g.grad) {
                char file[80];
                std::snprintf(file, sizeof file, "grad_%s_%s_layer%02d.npy", tn.c_str(), site_file(dA.site), dA.layer);
                const Tensor got({dA.n_heads, dA.n_q, dA.n_k}, dA.probs);
                QVERIFY2(rel_max_diff(got, read_npy((k.expected / file).string()), file) <= kTol, file);
            }
            // chefer2 of any scalar (the box coordinate too)
            const std::string cf = "chefer2_" + tn + ".npy";
            QVERIFY2(rel_max_diff(explain::detr_chefer2_map(g), read_npy((k.expected / cf).string()), cf) <= kTol, cf.c_str());
            if (coord >= 0) { // a box coordinate through explain()'s Target::box_coord (the class is the query's own)
                for (Method m : {Method::Chefer2, Method::GradCam}) {
                    const std::string file = std::string(m == Method::Chefer2 ? "chefer2_" : "gradcam_") + tn + ".npy";
                    if (!fs::exists(k.expected / file)) continue; // older fixtures: chefer2 only
                    explain::Target bt;
                    bt.detection = q;
                    bt.box_coord = coord;
                    const explain::Explanation e = explain::explain(*model, input, m, bt);
                    QCOMPARE(e.box_coord, coord);
                    QCOMPARE(e.detection, q);
                    QCOMPARE(e.target_index, c);
                    QVERIFY(std::abs(e.box[size_t(coord)] - t["value"].get<double>()) <= 1e-5);
                    const std::string label = std::string(explain::method_name(m)) + " " + tn;
                    QVERIFY2(rel_max_diff(e.relevance, read_npy((k.expected / file).string()), label) <= kTol, label.c_str());
                }
                continue;
            }
            // every method through explain(), and what it reports
            for (Method m : {Method::Chefer2, Method::GradCam, Method::Rollout, Method::Attention}) {
                const explain::Explanation e = explain::explain(*model, input, m, {c, q});
                QCOMPARE(e.detection, q);
                QCOMPARE(e.target_index, c);
                QVERIFY(std::abs(e.logit - t["logit"].get<double>()) <= 1e-4 * std::max(1.0, std::abs(double(e.logit))));
                QVERIFY(std::abs(e.prob - t["prob"].get<double>()) <= 1e-5);
                for (int i = 0; i < 4; ++i) QVERIFY(std::abs(e.box[size_t(i)] - t["box"][size_t(i)].get<double>()) <= 1e-5);
                QCOMPARE(e.layout.grid_h, ex["grid"][0].get<int>());
                QCOMPARE(e.layout.grid_w, ex["grid"][1].get<int>());
                const std::string file = m == Method::Chefer2   ? "chefer2_" + tn + ".npy"
                                         : m == Method::GradCam ? "gradcam_" + tn + ".npy"
                                         : m == Method::Rollout ? "rollout_q" + std::to_string(q) + ".npy"
                                                                : "attention_q" + std::to_string(q) + ".npy";
                const std::string label = std::string(explain::method_name(m)) + " " + tn;
                QVERIFY2(rel_max_diff(e.relevance, read_npy((k.expected / file).string()), label) <= kTol, label.c_str());
            }
        }
        // the default target: the most confident detection and its class
        const nlohmann::json& top = ex["targets"][0];
        const explain::Explanation e = explain::explain(*model, input, Method::Chefer2, {});
        QCOMPARE(e.detection, top["query"].get<int>());
        QCOMPARE(e.target_index, top["class"].get<int>());
        QVERIFY(!e.target_label.empty());
    }

    // Two classes of one query, and two queries, are explained differently.
    void specificity() {
        const Case k = case_paths("r50tiny");
        const nlohmann::json ex = nlohmann::json::parse(std::ifstream(k.expected / "explain.json"));
        const auto model = load_model(k.model.string());
        const Tensor input = read_npy(k.input.string());
        const auto target = [&](int i) {
            const nlohmann::json& t = ex["targets"][size_t(i)];
            return explain::Target{t["class"].get<int>(), t["query"].get<int>()};
        };
        for (Method m : {Method::Chefer2, Method::GradCam}) {
            const Tensor top = explain::explain(*model, input, m, target(0)).relevance;
            const Tensor class2 = explain::explain(*model, input, m, target(1)).relevance;
            const Tensor query2 = explain::explain(*model, input, m, target(2)).relevance;
            QVERIFY2(max_abs_diff(top, class2, std::string(explain::method_name(m)) + " top vs second class") > 1e-4, explain::method_name(m));
            QVERIFY2(max_abs_diff(top, query2, std::string(explain::method_name(m)) + " top vs second query") > 1e-4, explain::method_name(m));
        }
        // the baselines follow the query, not the class
        const Tensor a = explain::explain(*model, input, Method::Rollout, target(0)).relevance;
        const Tensor b = explain::explain(*model, input, Method::Rollout, target(1)).relevance;
        QCOMPARE(a.data, b.data);
    }

    void severalMethodsShareOnePass() {
        const Case k = case_paths("basic_dc5");
        const auto model = load_model(k.model.string());
        const Tensor input = read_npy(k.input.string());
        const std::vector<Method> all = {Method::Attention, Method::Chefer2, Method::Rollout, Method::GradCam};
        const auto many = explain::explain_methods(*model, input, all, {});
        QCOMPARE(many.size(), all.size());
        for (size_t i = 0; i < all.size(); ++i) {
            const explain::Explanation one = explain::explain(*model, input, all[i], {});
            QVERIFY(many[i].method == all[i]);
            QCOMPARE(many[i].detection, one.detection);
            QCOMPARE(many[i].relevance.data, one.relevance.data);
        }
    }

    void refusals() {
        const Case k = case_paths("r50tiny");
        const auto model = load_model(k.model.string());
        const Tensor input = read_npy(k.input.string());
        auto kind = [&](Method m, explain::Target t) {
            try {
                explain::explain(*model, input, m, t);
            } catch (const Error& e) {
                std::printf("  %s\n", e.what());
                return e.kind();
            }
            return ErrorKind::Io; // no error: a failure below
        };
        QCOMPARE(kind(Method::GradRollout, {}), ErrorKind::Unsupported);
        QCOMPARE(kind(Method::Chefer2, {-1, 10}), ErrorKind::Argument); // 10 queries: 0…9
        QCOMPARE(kind(Method::Rollout, {-1, 10}), ErrorKind::Argument);
        QCOMPARE(kind(Method::Chefer2, {6, -1}), ErrorKind::Argument);  // 5 labels + no-object: 0…5
        QCOMPARE(kind(Method::Chefer2, {-1, -1, 4}), ErrorKind::Argument); // box coordinates: 0…3
        // a box coordinate of a classifier is refused, naming --box
        const auto vit = load_model(fixture("vit/hf_vit"));
        try {
            explain::explain(*vit, read_npy(fixture("vit/hf_vit/input.npy")), Method::Chefer2, {-1, -1, 0});
            QFAIL("a classifier's box coordinate was explained");
        } catch (const Error& err) {
            QCOMPARE(err.kind(), ErrorKind::Argument);
            QVERIFY2(QString(err.what()).contains("--box"), err.what());
        }
        // the no-object logit can be explained
        const explain::Explanation e = explain::explain(*model, input, Method::Chefer2, {5, 0});
        QCOMPARE(e.target_label, std::string("no object"));
        // a detector without a decoder (YOLOS) is refused, saying why
        const auto yolos = load_model(fixture("yolos/nomid/hf"));
        const Tensor yin = read_npy(fixture("yolos/nomid/input_native.npy"));
        try {
            explain::explain(*yolos, yin, Method::Chefer2, {});
            QFAIL("YOLOS was explained");
        } catch (const Error& err) {
            QCOMPARE(err.kind(), ErrorKind::Unsupported);
            QVERIFY2(QString(err.what()).contains("DETR"), err.what());
        }
    }
};

QTEST_MAIN(TestExplainDetr)
#include "test_explain_detr.moc"
