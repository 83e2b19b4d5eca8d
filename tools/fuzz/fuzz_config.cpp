// config.json and preprocessor_config.json: the JSON text → parse_json_object → the model loaders'
// config handling (load_model_from: ViT/DeiT/DINOv2/timm/DETR head counts, sizes, eps, id2label,
// architecture names) with a real fixture checkpoint, plus the preprocessing parsers on their own
// (HF preprocessor_config, timm pretrained_cfg).
//
// The checkpoints are read once at start-up and served from memory by a WeightSource that hands out
// copies of the already-converted tensors, so an execution costs the config handling and the model
// assembly, not float conversion (the safetensors target covers that).
//
// Input: byte 0 picks the fixture checkpoint; the rest is the config.json text, optionally followed by
// a NUL byte and the preprocessor_config.json text (JSON text never holds a raw NUL).
#include "fuzz_common.h"

#include "core/image/preprocess.h"
#include "core/io/weights.h"
#include "core/models/labels.h"
#include "core/models/loader.h"

#include <nlohmann/json.hpp>

#include <cstring>
#include <memory>
#include <unordered_map>
#include <vector>

#ifndef ATTNSCOPE_FIXTURES
#error "ATTNSCOPE_FIXTURES must name tests/fixtures"
#endif

namespace {
const char* const kModels[] = {"vit/hf_vit/model.safetensors",        "vit/timm_vit/model.safetensors",
                               "vit/deit_distilled/model.safetensors", "vit/dinov2_reg/model.safetensors",
                               "vit/dino_timm/model.safetensors",      "detr/basic_dc5/model.safetensors"};

class PreloadedWeights final : public attnscope::WeightSource {
public:
    explicit PreloadedWeights(const attnscope::WeightSource& src) : path_(src.path()), names_(src.names()) {
        for (const std::string& n : names_) tensors_.emplace(n, std::make_pair(src.info(n), src.load(n)));
    }
    const std::string& path() const override { return path_; }
    std::vector<std::string> names() const override { return names_; }
    bool has(const std::string& name) const override { return tensors_.count(name) != 0; }
    attnscope::TensorInfo info(const std::string& name) const override { return at(name).first; }
    attnscope::Tensor load(const std::string& name) const override { return at(name).second; }

private:
    const std::pair<attnscope::TensorInfo, attnscope::Tensor>& at(const std::string& name) const {
        auto it = tensors_.find(name);
        if (it == tensors_.end()) throw attnscope::Error(attnscope::ErrorKind::Missing, path_, name, "not in checkpoint");
        return it->second;
    }
    std::string path_;
    std::vector<std::string> names_;
    std::unordered_map<std::string, std::pair<attnscope::TensorInfo, attnscope::Tensor>> tensors_;
};

std::vector<std::shared_ptr<const attnscope::WeightSource>> g_weights;
} // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    attnscope::set_memory_limit(kFuzzMemoryLimit);
    for (const char* m : kModels)
        g_weights.push_back(std::make_shared<PreloadedWeights>(*attnscope::open_weights(std::string(ATTNSCOPE_FIXTURES) + "/" + m)));
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size < 1) return 0;
    const auto& weights = g_weights[data[0] % g_weights.size()];
    const char* text = reinterpret_cast<const char*>(data + 1);
    const size_t n = size - 1;
    const void* nul = std::memchr(text, 0, n);
    const size_t config_len = nul ? static_cast<size_t>(static_cast<const char*>(nul) - text) : n;
    const std::string config_text(text, config_len);
    const std::string pre_text = nul ? std::string(text + config_len + 1, n - config_len - 1) : std::string();

    nlohmann::json config, pre;
    bool have_config = false, have_pre = false;
    expect_clean([&] {
        config = attnscope::parse_json_object(config_text, "config.json");
        have_config = true;
    });
    if (nul)
        expect_clean([&] {
            pre = attnscope::parse_json_object(pre_text, "preprocessor_config.json");
            have_pre = true;
        });
    expect_clean([&] {
        attnscope::LoadOptions o;
        if (!have_config) o.heads_override = 4; // no config: the bare-checkpoint path still needs heads
        auto model = attnscope::load_model_from(weights, have_config ? &config : nullptr, have_pre ? &pre : nullptr, o);
        (void)model->info();
    });
    if (have_pre) expect_clean([&] { attnscope::spec_from_hf_preprocessor(pre, "preprocessor_config.json"); });
    if (have_config) {
        expect_clean([&] { attnscope::spec_from_timm_pretrained_cfg(config, "config.json"); });
        expect_clean([&] { attnscope::load_labels(&config, "", 10); });
    }
    return 0;
}
