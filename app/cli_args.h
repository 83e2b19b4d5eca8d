// Command-line parsing shared by the attnscope-cli commands (one file per command group).
#pragma once

#include "core/error.h"
#include "core/models/loader.h"

#include <algorithm>
#include <map>
#include <memory>
#include <string>

namespace attnscope::cli {

struct Args {
    std::string command;
    std::map<std::string, std::string> values;
    bool flag(const std::string& k) const { return values.count(k) != 0; }
    std::string get(const std::string& k, const std::string& fallback = "") const {
        auto it = values.find(k);
        return it == values.end() ? fallback : it->second;
    }
    int get_int(const std::string& k, int fallback) const {
        if (!flag(k)) return fallback;
        try {
            size_t used = 0;
            const int v = std::stoi(get(k), &used);
            if (used != get(k).size()) throw std::invalid_argument("trailing");
            return v;
        } catch (...) {
            throw Error(ErrorKind::Argument, "", k, "expects an integer, got '" + get(k) + "'");
        }
    }
    float get_float(const std::string& k, float fallback) const {
        if (!flag(k)) return fallback;
        try {
            size_t used = 0;
            const float v = std::stof(get(k), &used);
            if (used != get(k).size()) throw std::invalid_argument("trailing");
            return v;
        } catch (...) {
            throw Error(ErrorKind::Argument, "", k, "expects a number, got '" + get(k) + "'");
        }
    }
    std::string require(const std::string& k) const {
        if (!flag(k) || get(k).empty()) throw Error(ErrorKind::Argument, "", k, "is required");
        return get(k);
    }
};

// Flags that take no value are listed in `switches`.
inline Args parse(int argc, char** argv) {
    static const char* switches[] = {"--no-record", "--no-encoder-maps", "--quiet"};
    Args a;
    if (argc < 2) throw Error(ErrorKind::Argument, "", "", "missing command (info, run, bench)");
    a.command = argv[1];
    for (int i = 2; i < argc; ++i) {
        std::string k = argv[i];
        if (k.rfind("--", 0) != 0) throw Error(ErrorKind::Argument, "", k, "unexpected argument");
        if (std::find(std::begin(switches), std::end(switches), k) != std::end(switches)) {
            a.values[k] = "1";
            continue;
        }
        if (i + 1 >= argc) throw Error(ErrorKind::Argument, "", k, "needs a value");
        a.values[k] = argv[++i];
    }
    return a;
}

inline std::unique_ptr<Model> open_model(const Args& a) {
    LoadOptions o;
    o.heads_override = a.get_int("--heads", 0);
    o.config_path = a.get("--config");
    return load_model(a.require("--model"), o);
}

} // namespace attnscope::cli
