// Head ablation and patch masking (issue 18) against the PyTorch references of
// tools/reference/make_ablation_fixtures.py (nn.MultiheadAttention re-implemented from its weights with a
// head mask before the output projection; tests/fixtures/ablation/*.json), plus the Session API:
// validation errors, the recorded maps, RunResult::interventions, and recorder buffers reused across runs.
#include "core/error.h"
#include "core/interventions.h"
#include "core/io/npy.h"
#include "core/models/loader.h"
#include "core/session.h"
#include "tests/support/ablation_ref.h"

#include <nlohmann/json.hpp>

#include <QtTest>


using namespace attnscope;
using namespace attnscope::testing;
using json = nlohmann::json;

namespace {

// Every case of one reference file: clean and intervened logits (and DETR boxes) within 1e-4.
void check_cases(const std::string& ref_file, const Model& model, const Tensor& input) {
    const json ref = read_json(ref_file);
    Session session(model);
    const RunResult clean = session.run(input, RecordPolicy::None);
    QVERIFY(diff_to(clean.logits, ref["clean_logits"], "clean logits") <= 1e-4);
    QVERIFY(!ref["cases"].empty());
    for (const json& c : ref["cases"]) {
        const std::string name = c["name"];
        session.set_interventions(interventions_of(c));
        const RunResult r = session.run(input, RecordPolicy::None);
        QVERIFY2(r.interventions == interventions_of(c), name.c_str());
        QVERIFY2(diff_to(r.logits, c["logits"], name + " logits") <= 1e-4, name.c_str());
        // the intervention really changes the output (so the comparison above can fail)
        QVERIFY2(diff_to(r.logits, ref["clean_logits"], name + " vs clean") > 1e-3, name.c_str());
        if (c.contains("boxes")) QVERIFY2(diff_to(r.boxes, c["boxes"], name + " boxes") <= 1e-4, name.c_str());
    }
}

} // namespace

class TestInterventions : public QObject {
    Q_OBJECT
private slots:
    void vit_heads_and_patches_match_pytorch() {
        auto model = load_model(fixture("vit/hf_vit"));
        check_cases(fixture("ablation/hf_vit.json"), *model, read_npy(fixture("vit/hf_vit/input.npy")));
    }

    void deit_distilled_non_square_matches_pytorch() {
        auto model = load_model(fixture("vit/deit_distilled"));
        check_cases(fixture("ablation/deit_distilled.json"), *model, read_npy(fixture("vit/deit_distilled/input.npy")));
    }

    void detr_encoder_decoder_self_cross_match_pytorch() {
        auto model = load_model(fixture("detr/r50tiny/hf"));
        QCOMPARE(model->info().n_decoder_layers, 2);
        check_cases(fixture("ablation/detr_r50tiny.json"), *model, read_npy(fixture("detr/r50tiny/input.npy")));
    }

    void real_deit_tiny_matches_pytorch() {
        const std::string dir = shared_path("models/deit-tiny-imagenet");
        if (dir.empty()) QSKIP("../shared/models/deit-tiny-imagenet absent: real-model ablation test skipped");
        auto model = load_model(dir);
        check_cases(fixture("ablation/deit_tiny_real.json"), *model, analytic_input(224, 224));
    }

    void recorded_maps_stay_the_real_probabilities() {
        auto model = load_model(fixture("vit/hf_vit"));
        const Tensor input = read_npy(fixture("vit/hf_vit/input.npy"));
        Session session(*model);
        const RunResult clean = session.run(input);
        Interventions iv;
        iv.ablated = {{Site::Encoder, 1, 0}, {Site::Encoder, 1, 2}};
        session.set_interventions(iv);
        const RunResult r = session.run(input);
        QCOMPARE(r.attention.size(), clean.attention.size());
        // layers 0 and 1 (the ablated layer itself: ablation acts after its softmax) are untouched …
        QVERIFY(r.attention[0].probs == clean.attention[0].probs);
        QVERIFY(r.attention[1].probs == clean.attention[1].probs);
        // … layer 2 sees the changed residual stream
        QVERIFY(max_abs_diff(r.attention[2].probs.data(), clean.attention[2].probs.data(),
                             int64_t(clean.attention[2].probs.size()), "layer 2 after ablation") > 1e-4);
    }

    void masked_patches_zero_the_input_handed_out() {
        auto model = load_model(fixture("vit/hf_vit"));
        Session session(*model);
        Interventions iv;
        iv.masked_patches = {5};
        session.set_interventions(iv);
        ImageRGB8 img;
        img.width = img.height = 32;
        img.data.assign(32 * 32 * 3, uint8_t(200));
        Tensor input;
        session.run(img, RecordPolicy::None, nullptr, &input);
        // patch 5 of the 4×4 grid of 8-px patches: rows 8…15, columns 8…15
        for (int c = 0; c < 3; ++c)
            for (int y = 0; y < 32; ++y)
                for (int x = 0; x < 32; ++x) {
                    const bool in = y >= 8 && y < 16 && x >= 8 && x < 16;
                    const float v = input.data[(size_t(c) * 32 + y) * 32 + x];
                    if (in) QCOMPARE(v, 0.0f);
                    else QVERIFY(v != 0.0f);
                }
    }

    void out_of_range_heads_name_the_option() {
        const auto heads = [](HeadRef h) { // one head off, the rest of Interventions as default
            Interventions iv;
            iv.ablated = {h};
            return iv;
        };
        auto vit = load_model(fixture("vit/hf_vit")); // 3 layers × 3 heads, no decoder
        Session session(*vit);
        auto expect = [&](const Interventions& iv, const char* needle) {
            try {
                session.set_interventions(iv);
                QFAIL("no error");
            } catch (const Error& e) {
                QCOMPARE(e.kind(), ErrorKind::Argument);
                const std::string what = e.what();
                QVERIFY2(what.find("--heads") != std::string::npos, what.c_str());
                QVERIFY2(what.find(needle) != std::string::npos, what.c_str());
            }
        };
        expect(heads({Site::Encoder, 3, 0}), "layers 0…2");
        expect(heads({Site::Encoder, 0, 3}), "heads 0…2");
        expect(heads({Site::Encoder, -1, 0}), "layer out of range");
        expect(heads({Site::DecoderCross, 0, 0}), "no decoder_cross");
        QVERIFY(session.interventions().empty()); // a refused set leaves the old one
        auto detr = load_model(fixture("detr/r50tiny/hf")); // 2 + 2 layers × 4 heads
        Session ds(*detr);
        ds.set_interventions(heads({Site::DecoderSelf, 1, 3}));
        try {
            ds.set_interventions(heads({Site::DecoderSelf, 2, 0}));
            QFAIL("no error");
        } catch (const Error& e) {
            QVERIFY(std::string(e.what()).find("--heads") != std::string::npos);
        }
    }

    void out_of_range_patch_names_the_option() {
        auto model = load_model(fixture("vit/hf_vit"));
        Session session(*model);
        Interventions iv;
        iv.masked_patches = {16}; // 4×4 grid: 0…15
        session.set_interventions(iv);
        try {
            session.run(read_npy(fixture("vit/hf_vit/input.npy")));
            QFAIL("no error");
        } catch (const Error& e) {
            const std::string what = e.what();
            QVERIFY2(what.find("--mask-patches") != std::string::npos && what.find("0…15") != std::string::npos, what.c_str());
        }
    }

    void parse_lists() {
        const auto h = parse_head_list(" 0:1, decoder_cross:5:7 ,2:0,0:1", Site::DecoderSelf);
        QCOMPARE(int(h.size()), 3); // the duplicate is dropped
        QVERIFY((h[0] == HeadRef{Site::DecoderSelf, 0, 1}));
        QVERIFY((h[1] == HeadRef{Site::DecoderCross, 5, 7}));
        QVERIFY((h[2] == HeadRef{Site::DecoderSelf, 2, 0}));
        QVERIFY(parse_head_list("").empty());
        for (const char* bad : {"1", "1:", "a:b", "1:2:3", "bogus:1:2", "1:-2", "0:1,,2:2"}) {
            try {
                parse_head_list(bad);
                QFAIL(bad);
            } catch (const Error& e) {
                QVERIFY(std::string(e.what()).find("--heads") != std::string::npos);
            }
        }
        QCOMPARE(parse_patch_list("3, 1,3"), (std::vector<int>{3, 1}));
        QVERIFY_THROWS_EXCEPTION(Error, parse_patch_list("1,x"));
        Interventions iv;
        iv.mode = AblationMode::Mean;
        iv.ablated = {{Site::Encoder, 3, 1}, {Site::Encoder, 5, 2}, {Site::DecoderCross, 0, 0}};
        iv.masked_patches = {1, 2};
        QCOMPARE(describe_interventions(iv), std::string("mean-ablated encoder 3:1, 5:2, decoder_cross 0:0; 2 patches masked"));
        QCOMPARE(describe_interventions({}), std::string("none"));
        iv.set_ablated({Site::Encoder, 5, 2}, false);
        iv.set_ablated({Site::Encoder, 3, 1}, true);
        QCOMPARE(int(iv.ablated.size()), 2);
        const json j = interventions_json(iv);
        QCOMPARE(j["mode"].get<std::string>(), std::string("mean"));
        QCOMPARE(j["heads"][1]["site"].get<std::string>(), std::string("decoder_cross"));
    }

    // Issue 15: one RecordAll per Session; recycled maps are written again, results identical.
    void second_run_reuses_buffers_and_gives_identical_maps() {
        auto model = load_model(fixture("vit/hf_vit"));
        const Tensor input = read_npy(fixture("vit/hf_vit/input.npy"));
        Session session(*model);
        RunResult first = session.run(input);
        const std::vector<AttentionMap> kept = first.attention; // a copy to compare with
        std::vector<const float*> buffers;
        for (const AttentionMap& m : first.attention) buffers.push_back(m.probs.data());
        session.recycle(std::move(first.attention));
        QCOMPARE(session.spare_buffers(), kept.size());
        const RunResult second = session.run(input);
        QCOMPARE(session.spare_buffers(), size_t(0));
        QCOMPARE(second.attention.size(), kept.size());
        for (size_t i = 0; i < kept.size(); ++i) {
            QVERIFY(second.attention[i].probs == kept[i].probs);
            QCOMPARE(second.attention[i].layer, kept[i].layer);
            QVERIFY(second.attention[i].probs.data() == buffers[i]); // written into the recycled buffer
        }
        // a third run without recycling allocates afresh and is still identical
        const RunResult third = session.run(input);
        for (size_t i = 0; i < kept.size(); ++i) QVERIFY(third.attention[i].probs == kept[i].probs);
    }
};

QTEST_GUILESS_MAIN(TestInterventions)
#include "test_interventions.moc"
