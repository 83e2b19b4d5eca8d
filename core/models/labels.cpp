#include "core/models/labels.h"

#include "core/error.h"

#include <nlohmann/json.hpp>

#include <cctype>
#include <filesystem>
#include <fstream>

namespace attnscope {

namespace fs = std::filesystem;

std::vector<std::string> read_labels_txt(const std::string& path) {
    std::ifstream in(path);
    if (!in) throw Error(ErrorKind::Io, path, "", "cannot open labels file");
    std::vector<std::string> out;
    std::string line;
    while (std::getline(in, line)) {
        while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
        if (line.empty()) continue;
        // "n01440764 tench, Tinca tinca" → "tench, Tinca tinca"
        if (line.size() > 10 && line[0] == 'n' && line[9] == ' ' &&
            std::all_of(line.begin() + 1, line.begin() + 9, [](unsigned char ch) { return std::isdigit(ch); }))
            line = line.substr(10);
        out.push_back(line);
    }
    return out;
}

std::vector<std::string> load_labels(const nlohmann::json* config, const std::string& model_dir, int n_labels) {
    std::vector<std::string> labels(static_cast<size_t>(std::max(n_labels, 0)));
    if (n_labels <= 0) return labels;
    if (config && config->contains("id2label") && (*config)["id2label"].is_object()) {
        for (auto it = (*config)["id2label"].begin(); it != (*config)["id2label"].end(); ++it) {
            int id = -1;
            try {
                id = std::stoi(it.key());
            } catch (...) {
                throw Error(ErrorKind::Format, "config.json", "id2label." + it.key(), "key is not an integer");
            }
            if (id >= 0 && id < n_labels && it->is_string()) labels[static_cast<size_t>(id)] = it->get<std::string>();
        }
        return labels;
    }
    // a labels file beside the model with exactly n_labels entries
    std::error_code ec;
    if (model_dir.empty() || !fs::is_directory(model_dir, ec)) return labels;
    for (const auto& entry : fs::directory_iterator(model_dir, ec)) {
        if (entry.path().extension() != ".txt") continue;
        std::vector<std::string> txt = read_labels_txt(entry.path().string());
        if (static_cast<int>(txt.size()) == n_labels) return txt;
    }
    return labels;
}

} // namespace attnscope
