// Class names: id2label from config.json, else a .txt labels file beside the model
// (one label per line, e.g. ImageNet synsets "n01440764 tench, Tinca tinca" → "tench, Tinca tinca").
#pragma once

#include <nlohmann/json_fwd.hpp>

#include <string>
#include <vector>

namespace attnscope {

// Returns n_labels entries ("" where unknown). config may be null.
std::vector<std::string> load_labels(const nlohmann::json* config, const std::string& model_dir, int n_labels);

// Reads one label per non-empty line; strips a leading WordNet id ("n01440764 ").
std::vector<std::string> read_labels_txt(const std::string& path);

} // namespace attnscope
