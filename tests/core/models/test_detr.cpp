// DETR vs the independent PyTorch reference (tools/reference/make_detr_fixtures.py): logits/boxes ≤ 1e-4,
// every attention map ≤ 1e-5, encoder token norms ≤ 1e-4; HF and original names; DC5; pixel mask; post-processing; malformed checkpoints;
// convolution vs a naive loop.
#include "core/error.h"
#include "core/io/npy.h"
#include "core/io/weights.h"
#include "core/models/detr.h"
#include "core/models/loader.h"
#include "core/postprocess.h"
#include "core/session.h"
#include "core/tensor/conv.h"
#include "tests/support/conv_reference.h"
#include "tests/support/fixture_models.h"
#include "tests/support/tensor_compare.h"

#include <nlohmann/json.hpp>

#include <QtTest>

#include <cmath>
#include <fstream>
#include <map>
#include <random>

using namespace attnscope;
using attnscope::testing::error_of;
using attnscope::testing::fixture;
using attnscope::testing::load_detr_fixture;
using attnscope::testing::max_abs_diff;
using attnscope::testing::open_detr_weights;
using attnscope::testing::read_detr_json;

namespace {

// In-memory checkpoint for the malformed cases.
class MemorySource final : public WeightSource {
public:
    explicit MemorySource(const WeightSource& from) {
        for (const std::string& n : from.names()) tensors[n] = from.load(n);
    }
    const std::string& path() const override { return path_; }
    std::vector<std::string> names() const override {
        std::vector<std::string> out;
        for (const auto& [k, v] : tensors) out.push_back(k);
        return out;
    }
    bool has(const std::string& name) const override { return tensors.count(name) != 0; }
    TensorInfo info(const std::string& name) const override {
        if (!has(name)) throw Error(ErrorKind::Missing, path_, "tensor '" + name + "'", "not found");
        return TensorInfo{name, DType::F32, tensors.at(name).shape};
    }
    Tensor load(const std::string& name) const override {
        if (!has(name)) throw Error(ErrorKind::Missing, path_, "tensor '" + name + "'", "not found");
        return tensors.at(name);
    }
    std::map<std::string, Tensor> tensors;

private:
    std::string path_ = "/tmp/bad.safetensors";
};

const AttentionMap* find_map(const std::vector<AttentionMap>& maps, Site site, int layer) {
    for (const AttentionMap& m : maps)
        if (m.site == site && m.layer == layer) return &m;
    return nullptr;
}

// Runs `model` and compares with fixtures/detr/<expected>/; returns the result.
RunResult check_against(const Model& model, const std::string& input_rel, const std::string& expected,
                        const std::string& label, const Tensor* pixel_mask = nullptr) {
    const Tensor input = read_npy(fixture("detr/" + input_rel));
    RunResult r;
    if (pixel_mask) { // the model's own entry point: Session runs unmasked inputs only
        RecordAll rec;
        dynamic_cast<const DetrModel&>(model).forward_masked(input, pixel_mask, rec, r);
        r.attention = rec.take();
    } else {
        r = Session(model).run(input);
    }
    const std::string dir = fixture("detr/" + expected + "/");
    std::printf("%s (grid %dx%d, stride %d, %.1f ms)\n", label.c_str(), r.layout.grid_h, r.layout.grid_w,
                r.layout.patch_size, r.timings_ms["forward"]);
    if (max_abs_diff(r.logits, read_npy(dir + "logits.npy"), "logits") > 1e-4) QTest::qFail("logits", __FILE__, __LINE__);
    if (max_abs_diff(r.boxes, read_npy(dir + "boxes.npy"), "boxes") > 1e-4) QTest::qFail("boxes", __FILE__, __LINE__);
    // every encoder token's L2 norm after each encoder layer [n_enc, S] (the Tokens view's DETR input)
    if (max_abs_diff(r.token_norms, read_npy(dir + "encoder_token_norms.npy"), "encoder token norms") > 1e-4)
        QTest::qFail("encoder token norms", __FILE__, __LINE__);
    if (!r.final_tokens.empty()) QTest::qFail("DETR hands out no final tokens", __FILE__, __LINE__);
    const DetrConfig& c = dynamic_cast<const DetrModel&>(model).config();
    const int S = r.layout.grid_h * r.layout.grid_w;
    struct SiteRef { Site site; const char* name; int n_layers; int n_q, n_k; };
    const SiteRef sites[] = {{Site::Encoder, "encoder", c.n_enc, S, S},
                             {Site::DecoderSelf, "decoder_self", c.n_dec, c.n_queries, c.n_queries},
                             {Site::DecoderCross, "decoder_cross", c.n_dec, c.n_queries, S}};
    for (const SiteRef& s : sites) {
        for (int il = 0; il < s.n_layers; ++il) {
            char name[64];
            std::snprintf(name, sizeof name, "%s_layer%02d", s.name, il);
            const AttentionMap* m = find_map(r.attention, s.site, il);
            if (!m) {
                QTest::qFail((std::string("missing map ") + name).c_str(), __FILE__, __LINE__);
                continue;
            }
            const Tensor want = read_npy(dir + name + ".npy");
            const Tensor got({m->n_heads, m->n_q, m->n_k}, m->probs);
            if (m->n_q != s.n_q || m->n_k != s.n_k || max_abs_diff(got, want, name) > 1e-5)
                QTest::qFail(name, __FILE__, __LINE__);
        }
    }
    return r;
}

} // namespace

class TestDetr : public QObject {
    Q_OBJECT

private slots:
    // ------------------------------------------------------------------ convolution
    void conv_matches_naive_data() {
        testing::add_conv_columns();
        QTest::newRow("1x1 s1 (plain GEMM)") << 8 << 5 << 1 << 1 << 0 << 1 << 9 << 13;
        QTest::newRow("1x1 s2 (downsample)") << 8 << 6 << 1 << 2 << 0 << 1 << 9 << 13;
        QTest::newRow("3x3 s1 p1") << 4 << 7 << 3 << 1 << 1 << 1 << 11 << 6;
        QTest::newRow("3x3 s2 p1 odd size") << 5 << 3 << 3 << 2 << 1 << 1 << 13 << 7;
        QTest::newRow("3x3 dilation 2 pad 2") << 4 << 4 << 3 << 1 << 2 << 2 << 10 << 9;
        QTest::newRow("7x7 s2 p3 stem") << 3 << 4 << 7 << 2 << 3 << 1 << 17 << 22;
        QTest::newRow("3x3 s1 p1 several chunks") << 16 << 4 << 3 << 1 << 1 << 1 << 100 << 100;
        QTest::newRow("5x5 s3 p0 no padding") << 2 << 3 << 5 << 3 << 0 << 1 << 16 << 20;
    }
    void conv_matches_naive() {
        const auto [c_in, c_out, k, stride, pad, dilation, h, w] = testing::fetch_conv_case();
        std::mt19937 rng(42);
        std::normal_distribution<float> nd;
        std::vector<float> x(static_cast<size_t>(c_in) * h * w), wt(static_cast<size_t>(c_out) * c_in * k * k), b(c_out),
            res;
        for (float& v : x) v = nd(rng);
        for (float& v : wt) v = nd(rng);
        for (float& v : b) v = nd(rng);
        const int ho = ops::conv_out_size(h, k, stride, pad, dilation), wo = ops::conv_out_size(w, k, stride, pad, dilation);
        res.resize(static_cast<size_t>(c_out) * ho * wo);
        for (float& v : res) v = nd(rng);
        for (int variant = 0; variant < 2; ++variant) { // 0: bias only; 1: + residual, ReLU
            const ops::ConvShape s{c_in, c_out, k, k, stride, pad, dilation};
            std::vector<float> y(static_cast<size_t>(c_out) * ho * wo), scratch;
            ops::conv2d(s, x.data(), h, w, wt.data(), b.data(), variant ? res.data() : nullptr, variant == 1, y.data(), scratch);
            const std::vector<float> ref = testing::reference_conv(s, x, h, w, wt, b, variant ? &res : nullptr, variant == 1);
            QVERIFY(max_abs_diff(y.data(), ref.data(), static_cast<int64_t>(y.size()),
                                 variant ? "conv + residual + relu" : "conv + bias") < 1e-4);
        }
    }

    void maxpool_matches_naive() {
        const int c = 3, h = 9, w = 12;
        std::mt19937 rng(1);
        std::normal_distribution<float> nd;
        std::vector<float> x(static_cast<size_t>(c) * h * w);
        for (float& v : x) v = nd(rng) - 3.0f; // all negative-ish: padding must never win
        const int ho = ops::conv_out_size(h, 3, 2, 1, 1), wo = ops::conv_out_size(w, 3, 2, 1, 1);
        QCOMPARE(ho, 5);
        QCOMPARE(wo, 6);
        std::vector<float> y(static_cast<size_t>(c) * ho * wo);
        ops::maxpool2d(x.data(), c, h, w, 3, 2, 1, y.data());
        QVERIFY(y == testing::reference_maxpool_3s2p1(x, c, h, w));
    }

    // ------------------------------------------------------------------ forward vs PyTorch
    void bottleneck_hf() {
        auto model = load_detr_fixture("r50tiny/hf/model.safetensors", "r50tiny/hf/config.json");
        QVERIFY(model->info().family == Family::Detr);
        QVERIFY(model->info().task == Task::Detect);
        QCOMPARE(model->info().format, std::string("hf"));
        QCOMPARE(model->info().n_heads, 4);
        QCOMPARE(model->info().patch_size, 32);
        QCOMPARE(model->info().labels.at(2), std::string("remote"));
        const auto& c = dynamic_cast<const DetrModel&>(*model).config();
        QCOMPARE(c.n_enc, 2);
        QCOMPARE(c.n_dec, 2);
        QCOMPARE(c.n_queries, 10);
        QCOMPARE(c.n_labels, 5);
        const RunResult r = check_against(*model, "r50tiny/input.npy", "r50tiny/expected", "bottleneck [3,4,6,3], HF names");
        QCOMPARE(r.layout.grid_h, 3);
        QCOMPARE(r.layout.grid_w, 4);
        QCOMPARE(r.layout.n_cls, 0);
        QCOMPARE(r.attention.size(), size_t(6));
    }

    void bottleneck_original_names_equal_hf() {
        LoadOptions opts;
        opts.heads_override = 4; // no config: the default would be 8
        auto orig = load_detr_fixture("r50tiny/original/model.safetensors", "", opts);
        QCOMPARE(orig->info().format, std::string("original"));
        QCOMPARE(orig->info().labels.at(0), std::string("LABEL_0"));
        const RunResult ro = check_against(*orig, "r50tiny/input.npy", "r50tiny/expected", "bottleneck, original names");
        auto hf = load_detr_fixture("r50tiny/hf/model.safetensors", "r50tiny/hf/config.json");
        const Tensor input = read_npy(fixture("detr/r50tiny/input.npy"));
        const RunResult rh = Session(*hf).run(input);
        QCOMPARE(max_abs_diff(ro.logits, rh.logits, "original vs HF logits"), 0.0);
        QCOMPARE(max_abs_diff(ro.boxes, rh.boxes, "original vs HF boxes"), 0.0);
    }

    void bottleneck_dc5_from_config_and_override() {
        auto model = load_detr_fixture("r50tiny/hf/model.safetensors", "r50tiny/hf/config_dc5.json");
        QCOMPARE(model->info().patch_size, 16);
        const RunResult r = check_against(*model, "r50tiny/input.npy", "r50tiny/expected_dc5", "bottleneck DC5 (config)");
        QCOMPARE(r.layout.grid_h, 5);
        QCOMPARE(r.layout.grid_w, 7);
        LoadOptions opts;
        opts.heads_override = 4;
        opts.dc5 = true;
        auto orig = load_detr_fixture("r50tiny/original/model.safetensors", "", opts);
        check_against(*orig, "r50tiny/input.npy", "r50tiny/expected_dc5", "bottleneck DC5 (--dc5, original names)");
    }

    void pixel_mask() {
        auto model = load_detr_fixture("r50tiny/hf/model.safetensors", "r50tiny/hf/config.json");
        const Tensor mask = read_npy(fixture("detr/r50tiny/pixel_mask.npy"));
        check_against(*model, "r50tiny/input.npy", "r50tiny/expected_masked", "bottleneck, padded (pixel mask)", &mask);
    }

    void basicblock_dc5() {
        auto model = load_detr_fixture("basic_dc5/model.safetensors", "basic_dc5/config.json");
        QCOMPARE(model->info().n_heads, 2);
        QCOMPARE(model->info().hidden, 48);
        const RunResult r = check_against(*model, "basic_dc5/input.npy", "basic_dc5/expected", "BasicBlock [1,1,1,1] DC5");
        QCOMPARE(r.layout.patch_size, 16);
        QCOMPARE(r.layout.grid_h, 6);
        QCOMPARE(r.layout.grid_w, 4);
    }

    // A DETR folder's preprocessor_config.json is honoured beyond the resize bounds: the demo DETR is
    // trained on Fashion-MNIST statistics, and ImageNet's in their place shift every input pixel.
    void folder_preprocessor_sets_normalisation_and_filter() {
        const nlohmann::json cfg = read_detr_json("r50tiny/hf/config.json");
        auto spec_of = [&](const char* text) {
            const nlohmann::json prep = nlohmann::json::parse(text);
            return load_model_from(open_detr_weights("r50tiny/hf/model.safetensors"), &cfg, &prep)->preprocess();
        };
        PreprocessSpec p = spec_of(R"({"image_processor_type": "DetrImageProcessor", "size": {"shortest_edge": 256,
            "longest_edge": 256}, "resample": 0, "rescale_factor": 0.5, "image_mean": [0.286, 0.286, 0.286],
            "image_std": [0.353, 0.353, 0.353]})");
        QVERIFY(p.resize == PreprocessSpec::Resize::ShortestEdgeMaxLongest);
        QCOMPARE(p.shortest_edge, 256);
        QCOMPARE(p.longest_edge, 256);
        QVERIFY(p.resample == Resample::Nearest);
        QCOMPARE(p.rescale, 0.5);
        for (int c = 0; c < 3; ++c) {
            QCOMPARE(p.mean[c], 0.286f);
            QCOMPARE(p.std[c], 0.353f);
        }
        // Keys left out take DetrImageProcessor's defaults, also when the file names no processor type.
        for (const char* text : {R"({"image_processor_type": "DetrImageProcessor"})", R"({"size": {"shortest_edge": 600}})"}) {
            p = spec_of(text);
            QVERIFY(p.resample == Resample::Bilinear);
            QCOMPARE(p.rescale, 1.0 / 255.0);
            QCOMPARE(p.mean[1], 0.456f);
            QCOMPARE(p.std[0], 0.229f);
            QCOMPARE(p.longest_edge, 1333);
        }
        QCOMPARE(p.shortest_edge, 600);
        QCOMPARE(spec_of("{}").shortest_edge, 800);
    }

    void detects_checkpoints_and_preprocess_spec() {
        QVERIFY(is_detr_checkpoint(*open_detr_weights("r50tiny/hf/model.safetensors")));
        QVERIFY(is_detr_checkpoint(*open_detr_weights("r50tiny/original/model.safetensors")));
        MemorySource vitlike(*open_detr_weights("r50tiny/hf/model.safetensors"));
        vitlike.tensors.erase("model.query_position_embeddings.weight");
        QVERIFY(!is_detr_checkpoint(vitlike));
        const nlohmann::json prep = nlohmann::json::parse(R"({"size": {"shortest_edge": 512}})");
        auto model = load_detr_fixture("r50tiny/hf/model.safetensors", "r50tiny/hf/config.json", {}, &prep);
        const PreprocessSpec& p = model->preprocess();
        QVERIFY(p.resize == PreprocessSpec::Resize::ShortestEdgeMaxLongest);
        QCOMPARE(p.shortest_edge, 512);
        QCOMPARE(p.longest_edge, 1333);
        QVERIFY(p.resample == Resample::Bilinear);
        QVERIFY(!p.center_crop);
        QCOMPARE(p.mean[0], 0.485f);
        QCOMPARE(p.std[2], 0.225f);
        QCOMPARE(coco_detr_labels().size(), size_t(91));
        QCOMPARE(coco_detr_labels()[17], std::string("cat"));
        QCOMPARE(coco_detr_labels()[75], std::string("remote"));
        QCOMPARE(coco_detr_labels()[90], std::string("toothbrush"));
    }

    // ------------------------------------------------------------------ post-processing
    void postprocess_threshold_is_strict_and_in_query_order() {
        ModelInfo info;
        info.labels = {"cat", "dog"};
        RunResult r;
        // 3 queries, 2 labels + no-object; logits = ln of unnormalised probabilities so scores are exact.
        r.logits = Tensor({3, 3}, {std::log(1.0f), std::log(1.0f), std::log(2.0f),    // cat 0.25, dog 0.25
                                   std::log(1.0f), std::log(6.0f), std::log(1.0f),    // dog 0.75
                                   std::log(8.0f), std::log(1.0f), std::log(1.0f)});  // cat 0.8
        r.boxes = Tensor({3, 4}, std::vector<float>(12, 0.5f));
        r.geometry.orig_w = 100;
        r.geometry.orig_h = 50;
        auto dets = detr_postprocess(r, info, 0.25f); // 0.25 is not > 0.25
        QCOMPARE(dets.size(), size_t(2));
        QCOMPARE(dets[0].query, 1);
        QCOMPARE(dets[0].label, std::string("dog"));
        QCOMPARE(dets[0].label_id, 1);
        QVERIFY(std::fabs(dets[0].score - 0.75f) < 1e-6f);
        QCOMPARE(dets[1].query, 2);
        QCOMPARE(dets[1].label, std::string("cat"));
        QVERIFY(std::fabs(dets[1].score - 0.8f) < 1e-6f);
        QCOMPARE(detr_postprocess(r, info, 0.2f).size(), size_t(3));
        QCOMPARE(detr_postprocess(r, info, 0.8f).size(), size_t(0)); // 0.8 not > 0.8 (within float)
        // no-object never wins: q0's max over real classes is 0.25 even though no-object has 0.5
        QCOMPARE(detr_postprocess(r, info, 0.24f).at(0).label_id, 0);
    }

    void postprocess_maps_boxes_to_original_image() {
        // 640×480 original resized to 1066×800 (DETR 800/1333); the model sees the resized image, boxes are
        // relative, so pixels come from the ORIGINAL size: box (cx .25, cy .5, w .1, h .2) →
        // x0 = (.25 − .05)·640 = 128, y0 = (.5 − .1)·480 = 192, x1 = .3·640 = 192, y1 = .6·480 = 288.
        ModelInfo info;
        info.labels = {"cat"};
        RunResult r;
        r.logits = Tensor({1, 2}, {5.0f, 0.0f});
        r.boxes = Tensor({1, 4}, {0.25f, 0.5f, 0.1f, 0.2f});
        r.geometry.orig_w = 640;
        r.geometry.orig_h = 480;
        r.geometry.resized_w = r.geometry.input_w = 1066;
        r.geometry.resized_h = r.geometry.input_h = 800;
        auto dets = detr_postprocess(r, info, 0.5f);
        QCOMPARE(dets.size(), size_t(1));
        const std::array<float, 4> want{128.0f, 192.0f, 192.0f, 288.0f};
        for (int i = 0; i < 4; ++i) QVERIFY2(std::fabs(dets[0].box_xyxy[i] - want[i]) < 1e-3f, qPrintable(QString::number(i)));
        // empty geometry → input size
        r.geometry = PreprocessGeometry{};
        r.geometry.input_w = 1066;
        r.geometry.input_h = 800;
        dets = detr_postprocess(r, info, 0.5f);
        QVERIFY(std::fabs(dets[0].box_xyxy[0] - 0.2f * 1066) < 1e-3f);
        QVERIFY(std::fabs(dets[0].box_xyxy[3] - 0.6f * 800) < 1e-3f);
    }

    // ------------------------------------------------------------------ malformed checkpoints
    void missing_backbone_stage() {
        auto src = std::make_shared<MemorySource>(*open_detr_weights("r50tiny/hf/model.safetensors"));
        for (auto it = src->tensors.begin(); it != src->tensors.end();)
            it = it->first.find(".layer3.") != std::string::npos ? src->tensors.erase(it) : std::next(it);
        const QString msg = error_of([&] { load_detr(src, nullptr, nullptr, {}); });
        qInfo() << msg;
        QVERIFY(msg.contains("bad.safetensors"));
        QVERIFY(msg.contains("model.backbone.conv_encoder.model.layer3.0.conv1.weight"));
        QVERIFY(msg.contains("backbone stage layer3 is missing"));
    }

    void wrong_d_model() {
        auto src = std::make_shared<MemorySource>(*open_detr_weights("r50tiny/hf/model.safetensors"));
        src->tensors["model.input_projection.weight"] = Tensor({40, 128, 1, 1});
        src->tensors["model.input_projection.bias"] = Tensor({40});
        const QString msg = error_of([&] { load_detr(src, nullptr, nullptr, {}); });
        qInfo() << msg;
        QVERIFY(msg.contains("bad.safetensors"));
        QVERIFY(msg.contains("tensor 'model.input_projection.weight'"));
        QVERIFY(msg.contains("input projection outputs 40 channels but the query embeddings"));
        QVERIFY(msg.contains("are 32 wide (d_model)"));
        // config d_model disagreeing with the checkpoint
        nlohmann::json cfg = read_detr_json("r50tiny/hf/config.json");
        cfg["d_model"] = 64;
        const QString msg2 = error_of([&] { load_detr(open_detr_weights("r50tiny/hf/model.safetensors"), &cfg, nullptr, {}); });
        qInfo() << msg2;
        QVERIFY(msg2.contains("query embeddings are 32 but config.json d_model = 64"));
    }

    void bad_query_count() {
        // class head rows ≠ num_labels + 1
        nlohmann::json cfg = read_detr_json("r50tiny/hf/config.json");
        cfg["id2label"]["5"] = "extra";
        QString msg = error_of([&] { load_detr(open_detr_weights("r50tiny/hf/model.safetensors"), &cfg, nullptr, {}); });
        qInfo() << msg;
        QVERIFY(msg.contains("model.safetensors"));
        QVERIFY(msg.contains("tensor 'class_labels_classifier.weight'"));
        QVERIFY(msg.contains("class head has 6 rows but config.json has 6 labels (expected num_labels + 1 = 7 rows"));
        // query embeddings vs config num_queries
        cfg = read_detr_json("r50tiny/hf/config.json");
        cfg["num_queries"] = 12;
        msg = error_of([&] { load_detr(open_detr_weights("r50tiny/hf/model.safetensors"), &cfg, nullptr, {}); });
        qInfo() << msg;
        QVERIFY(msg.contains("tensor 'model.query_position_embeddings.weight'"));
        QVERIFY(msg.contains("checkpoint has query count 10 but config.json num_queries = 12"));
        // class head without a no-object row / wrong width
        auto src = std::make_shared<MemorySource>(*open_detr_weights("r50tiny/original/model.safetensors"));
        src->tensors["class_embed.weight"] = Tensor({6, 16});
        msg = error_of([&] { load_detr(src, nullptr, nullptr, LoadOptions{4, {}, {}}); });
        qInfo() << msg;
        QVERIFY(msg.contains("tensor 'class_embed.weight'"));
        QVERIFY(msg.contains("expected [num_labels + 1, 32], found [6, 16]"));
    }

    // One label loader for every family: id2label keys must be integers (DETR used to skip bad keys silently).
    void id2label_keys_must_be_integers() {
        nlohmann::json cfg = read_detr_json("r50tiny/hf/config.json");
        cfg["id2label"].erase("4");
        cfg["id2label"]["four"] = "extra"; // still 5 entries: the count check passes
        const QString msg = error_of([&] { load_detr(open_detr_weights("r50tiny/hf/model.safetensors"), &cfg, nullptr, {}); });
        qInfo() << msg;
        QVERIFY(msg.contains("config.json: id2label.four: key is not an integer"));
    }

    void cancel_stops_the_forward_pass() {
        auto model = load_detr_fixture("r50tiny/hf/model.safetensors", "r50tiny/hf/config.json");
        CancelFlag cancel{true};
        try {
            Session(*model).run(read_npy(fixture("detr/r50tiny/input.npy")), RecordPolicy::None, &cancel);
            QFAIL("no exception");
        } catch (const Error& e) {
            QCOMPARE(e.kind(), ErrorKind::Cancelled);
        }
    }

    void heads_must_divide_d_model() {
        LoadOptions opts;
        opts.heads_override = 5;
        const QString msg = error_of([&] { load_detr_fixture("r50tiny/hf/model.safetensors", "r50tiny/hf/config.json", opts); });
        QVERIFY(msg.contains("d_model 32 is not divisible by 5 heads"));
    }
};

QTEST_APPLESS_MAIN(TestDetr)
#include "test_detr.moc"
