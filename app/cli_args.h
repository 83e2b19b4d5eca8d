// Command-line parsing shared by the attnscope-cli commands (one file per command group).
#pragma once

#include "core/error.h"
#include "core/models/loader.h"

#include <algorithm>
#include <map>
#include <memory>
#include <set>
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
    double get_double(const std::string& k, double fallback) const {
        if (!flag(k)) return fallback;
        try {
            size_t used = 0;
            const double v = std::stod(get(k), &used);
            if (used == get(k).size()) return v;
        } catch (...) {
        }
        throw Error(ErrorKind::Argument, "", k, "expects a number, got '" + get(k) + "'");
    }
    std::string require(const std::string& k) const {
        if (!flag(k) || get(k).empty()) throw Error(ErrorKind::Argument, "", k, "is required");
        return get(k);
    }
};

// The options each command reads (app/cli_*.cpp), in one table: parse() refuses any other, naming it,
// so that a typo (--treshold) fails instead of silently running with the default. A command added to
// main() must be listed here; one missing from the table is not checked.
inline const std::map<std::string, std::set<std::string>>& known_options() {
    static const std::set<std::string> model = {"--model", "--heads", "--config"}; // open_model()
    static const std::map<std::string, std::set<std::string>> table = [] {
        auto with_model = [](std::set<std::string> s) {
            s.insert(model.begin(), model.end());
            return s;
        };
        return std::map<std::string, std::set<std::string>>{
            {"info", with_model({})},
            {"run", with_model({"--image", "--input-npy", "--out", "--top-k", "--threads", "--threshold", "--no-encoder-maps"})},
            {"bench", with_model({"--image", "--input-npy", "--runs", "--threads", "--no-record", "--explain"})},
            {"analyze", with_model({"--image", "--input-npy", "--out", "--threads", "--rollout-discard", "--fusion", "--mask-mass", "--norm-k"})},
            {"explain", with_model({"--image", "--input-npy", "--out", "--threads", "--method", "--target", "--detection", "--box", "--discard"})},
            {"dataset", with_model({"--images", "--out", "--limit", "--shard", "--threads"})},
            {"eval", with_model({"--dataset", "--threads", "--quiet", "--data-dir", "--limit", "--items", "--seed", "--count", "--size"})},
            {"ablate", {"--model", "--config", "--model-heads", "--image", "--input-npy", "--images", "--shard", "--limit", "--out",
                        "--heads", "--site", "--mode", "--mask-patches", "--importance", "--detection", "--top-k", "--threshold",
                        "--threads"}},
            {"scenes", {"--out", "--count", "--seed", "--data-dir", "--items", "--size"}},
            {"faithfulness", with_model({"--images", "--out", "--methods", "--limit", "--shard", "--threads", "--step", "--discard"})},
        };
    }();
    return table;
}

// Flags that take no value are listed in `switches`.
inline Args parse(int argc, char** argv) {
    static const char* switches[] = {"--no-record", "--no-encoder-maps", "--quiet", "--importance"};
    Args a;
    if (argc < 2) throw Error(ErrorKind::Argument, "", "", "missing command (info, run, bench)");
    a.command = argv[1];
    const auto known = known_options().find(a.command);
    for (int i = 2; i < argc; ++i) {
        std::string k = argv[i];
        if (k.rfind("--", 0) != 0) throw Error(ErrorKind::Argument, "", k, "unexpected argument");
        if (known != known_options().end() && known->second.count(k) == 0) {
            std::string list;
            for (const std::string& o : known->second) list += (list.empty() ? "" : ", ") + o;
            throw Error(ErrorKind::Argument, "", k, "unknown option for '" + a.command + "' (known: " + list + ")");
        }
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
