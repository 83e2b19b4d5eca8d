#include "core/interventions.h"

#include "core/error.h"
#include "core/models/model.h"

#include <algorithm>
#include <cctype>

namespace attnscope {

const char* ablation_mode_name(AblationMode mode) { return mode == AblationMode::Mean ? "mean" : "zero"; }

bool ablation_mode_from_name(const std::string& name, AblationMode& mode) {
    if (name == "zero") mode = AblationMode::Zero;
    else if (name == "mean") mode = AblationMode::Mean;
    else return false;
    return true;
}

bool Interventions::is_ablated(const HeadRef& h) const { return std::find(ablated.begin(), ablated.end(), h) != ablated.end(); }

void Interventions::set_ablated(const HeadRef& h, bool on) {
    auto it = std::find(ablated.begin(), ablated.end(), h);
    if (on && it == ablated.end()) ablated.push_back(h);
    if (!on && it != ablated.end()) ablated.erase(it);
}

void zero_patches(Tensor& input, int patch_size, const std::vector<int>& cells) {
    if (input.dim() != 3 || patch_size <= 0)
        throw Error(ErrorKind::Mismatch, "input", "", "expected a [3, H, W] tensor and a positive patch size");
    const int64_t C = input.size(0), H = input.size(1), W = input.size(2);
    const int64_t gw = W / patch_size, gh = H / patch_size;
    for (int cell : cells) {
        if (cell < 0 || cell >= gh * gw)
            throw Error(ErrorKind::Argument, "", "--mask-patches",
                        "patch " + std::to_string(cell) + " is outside the " + std::to_string(gh) + "×" + std::to_string(gw) +
                            " patch grid (cells 0…" + std::to_string(gh * gw - 1) + ")");
        const int64_t y0 = (cell / gw) * patch_size, x0 = (cell % gw) * patch_size;
        for (int64_t c = 0; c < C; ++c)
            for (int64_t y = y0; y < y0 + patch_size; ++y) {
                float* row = input.ptr() + (c * H + y) * W + x0;
                std::fill(row, row + patch_size, 0.0f);
            }
    }
}

int site_layers(const ModelInfo& info, Site site) {
    switch (site) {
    case Site::Encoder: return info.n_layers;
    case Site::DecoderSelf:
    case Site::DecoderCross: return info.n_decoder_layers;
    case Site::Pool: return info.family == Family::Siglip ? 1 : 0; // SigLIP's attention-pooling probe
    }
    return 0;
}

void validate_interventions(const Interventions& iv, const ModelInfo& info) {
    for (const HeadRef& h : iv.ablated) {
        const int layers = site_layers(info, h.site);
        const std::string name = std::string(site_name(h.site)) + " " + std::to_string(h.layer) + ":" + std::to_string(h.head);
        if (layers == 0)
            throw Error(ErrorKind::Argument, "", "--heads", "head " + name + ": this model has no " + site_name(h.site) + " attention");
        if (h.layer < 0 || h.layer >= layers)
            throw Error(ErrorKind::Argument, "", "--heads",
                        "head " + name + ": layer out of range (the " + site_name(h.site) + " has layers 0…" +
                            std::to_string(layers - 1) + ")");
        if (h.head < 0 || h.head >= info.n_heads)
            throw Error(ErrorKind::Argument, "", "--heads",
                        "head " + name + ": head out of range (each layer has heads 0…" + std::to_string(info.n_heads - 1) + ")");
    }
}

namespace {

std::vector<std::string> split(const std::string& text, char sep) {
    std::vector<std::string> out;
    std::string cur;
    for (char c : text) {
        if (std::isspace(static_cast<unsigned char>(c))) continue;
        if (c == sep) {
            out.push_back(cur);
            cur.clear();
        } else {
            cur += c;
        }
    }
    out.push_back(cur);
    return out;
}

bool to_int(const std::string& s, int& v) {
    if (s.empty() || s.size() > 9 || !std::all_of(s.begin(), s.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); }))
        return false;
    v = std::stoi(s);
    return true;
}

} // namespace

std::vector<HeadRef> parse_head_list(const std::string& text, Site default_site) {
    std::vector<HeadRef> out;
    if (split(text, ',') == std::vector<std::string>{""}) return out;
    for (const std::string& entry : split(text, ',')) {
        const std::vector<std::string> parts = split(entry, ':');
        HeadRef h;
        h.site = default_site;
        bool ok = parts.size() == 2 || parts.size() == 3;
        if (ok && parts.size() == 3) ok = site_from_name(parts[0], h.site);
        ok = ok && to_int(parts[parts.size() - 2], h.layer) && to_int(parts.back(), h.head);
        if (!ok)
            throw Error(ErrorKind::Argument, "", "--heads",
                        "expects LAYER:HEAD or SITE:LAYER:HEAD entries separated by commas (0-based; site encoder, "
                        "decoder_self or decoder_cross), got '" + entry + "'");
        if (std::find(out.begin(), out.end(), h) == out.end()) out.push_back(h);
    }
    return out;
}

std::vector<int> parse_patch_list(const std::string& text) {
    std::vector<int> out;
    if (split(text, ',') == std::vector<std::string>{""}) return out;
    for (const std::string& entry : split(text, ',')) {
        int v = 0;
        if (!to_int(entry, v))
            throw Error(ErrorKind::Argument, "", "--mask-patches", "expects patch indices (row-major, 0-based) separated by commas, got '" + entry + "'");
        if (std::find(out.begin(), out.end(), v) == out.end()) out.push_back(v);
    }
    return out;
}

nlohmann::json interventions_json(const Interventions& iv) {
    nlohmann::json heads = nlohmann::json::array();
    for (const HeadRef& h : iv.ablated) heads.push_back({{"site", site_name(h.site)}, {"layer", h.layer}, {"head", h.head}});
    return {{"mode", ablation_mode_name(iv.mode)}, {"heads", heads}, {"masked_patches", iv.masked_patches}};
}

std::string describe_interventions(const Interventions& iv) {
    if (iv.empty()) return "none";
    std::string s;
    if (!iv.ablated.empty()) {
        s = std::string(ablation_mode_name(iv.mode)) + "-ablated";
        Site last = Site::Encoder;
        for (size_t i = 0; i < iv.ablated.size(); ++i) {
            const HeadRef& h = iv.ablated[i];
            s += i == 0 ? " " : ", ";
            if (i == 0 || h.site != last) s += std::string(site_name(h.site)) + " ";
            last = h.site;
            s += std::to_string(h.layer) + ":" + std::to_string(h.head);
        }
    }
    if (!iv.masked_patches.empty()) {
        if (!s.empty()) s += "; ";
        s += std::to_string(iv.masked_patches.size()) + (iv.masked_patches.size() == 1 ? " patch masked" : " patches masked");
    }
    return s;
}

HeadOutput AblatingRecorder::head_output(Site site, int layer, int head) const {
    if (!iv_.is_ablated(HeadRef{site, layer, head})) return HeadOutput::Keep;
    return iv_.mode == AblationMode::Mean ? HeadOutput::Mean : HeadOutput::Zero;
}

} // namespace attnscope
