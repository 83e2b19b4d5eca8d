#include "core/models/loader.h"

#include "core/error.h"
#include "core/io/weights.h"
#include "core/models/clip_siglip.h"
#include "core/models/detr.h"
#include "core/models/vit.h"
#include "core/models/yolos.h"

#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>

namespace attnscope {

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

std::optional<json> read_json_if_exists(const fs::path& p) {
    std::error_code ec;
    if (!fs::is_regular_file(p, ec)) return std::nullopt;
    std::ifstream in(p, std::ios::binary);
    if (!in) throw Error(ErrorKind::Io, p.string(), "", "cannot open");
    std::ostringstream text;
    text << in.rdbuf();
    if (in.bad()) throw Error(ErrorKind::Io, p.string(), "", "read error");
    return parse_json_object(std::move(text).str(), p.filename().string());
}

// The weights file inside a model folder.
fs::path weights_in_folder(const fs::path& dir) {
    for (const char* name : {"model.safetensors", "model.safetensors.index.json"})
        if (fs::exists(dir / name)) return dir / name;
    std::vector<fs::path> found;
    for (const auto& e : fs::directory_iterator(dir))
        if (e.path().extension() == ".safetensors") found.push_back(e.path());
    if (found.empty())
        for (const auto& e : fs::directory_iterator(dir))
            if (e.path().extension() == ".pth" || e.path().extension() == ".pt") found.push_back(e.path());
    if (found.size() == 1) return found[0];
    if (found.size() > 1)
        throw Error(ErrorKind::Argument, dir.string(), "", "several checkpoint files and no model.safetensors; open one of them directly");
    for (const char* name : {"pytorch_model.bin", "model.pth", "checkpoint.pth"})
        if (fs::exists(dir / name)) return dir / name;
    throw Error(ErrorKind::Missing, dir.string(), "model.safetensors", "no weights file in the model folder");
}

std::string sample_names(const WeightSource& w) {
    std::string s;
    int n = 0;
    for (const std::string& k : w.names()) {
        if (n++ == 4) break;
        s += (s.empty() ? "" : ", ") + k;
    }
    return s;
}

} // namespace

json parse_json_object(const std::string& text, const std::string& file) {
    json j;
    try {
        j = json::parse(text);
    } catch (const json::exception& e) {
        throw Error(ErrorKind::Format, file, "", std::string("invalid JSON: ") + e.what());
    }
    if (!j.is_object()) throw Error(ErrorKind::Format, file, "", "is not a JSON object");
    return j;
}

std::unique_ptr<Model> load_model(const std::string& path, const LoadOptions& options) {
    std::error_code ec;
    const fs::path p(path);
    if (!fs::exists(p, ec)) throw Error(ErrorKind::Io, path, "", "no such file or folder");
    const fs::path dir = fs::is_directory(p, ec) ? p : p.parent_path();
    const fs::path weights = fs::is_directory(p, ec) ? weights_in_folder(p) : p;

    LoadOptions o = options;
    std::optional<json> config;
    if (!o.config_path.empty()) {
        config = read_json_if_exists(o.config_path);
        if (!config) throw Error(ErrorKind::Io, o.config_path, "", "config file not found");
    } else {
        config = read_json_if_exists(dir / "config.json");
        if (config) o.config_path = (dir / "config.json").string();
    }
    const std::optional<json> preprocessor = read_json_if_exists(dir / "preprocessor_config.json");

    return load_model_from(open_weights(weights.string()), config ? &*config : nullptr,
                           preprocessor ? &*preprocessor : nullptr, o);
}

std::unique_ptr<Model> load_model_from(std::shared_ptr<const WeightSource> w, const json* config, const json* preprocessor,
                                       const LoadOptions& options) {
    if (is_yolos_checkpoint(*w)) return load_yolos(w, config, preprocessor, options); // before ViT: its names are ViT's
    if (is_vit_checkpoint(*w)) return load_vit(w, config, preprocessor, options);
    if (is_detr_checkpoint(*w)) return load_detr(w, config, preprocessor, options);
    if (is_clip_siglip_checkpoint(*w)) return load_clip_siglip(w, config, preprocessor, options);
    throw Error(ErrorKind::Unsupported, file_of(*w), "",
                "tensor names match no supported family (ViT, DeiT, DINO, DINOv2, DETR, YOLOS, CLIP, SigLIP); first names: " + sample_names(*w));
}

} // namespace attnscope
