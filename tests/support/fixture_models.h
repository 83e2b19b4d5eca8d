// Loading what the model tests read from tests/fixtures (JSON files, the DETR fixture checkpoints and
// configs) and the text of the Error a call throws — shared by test_detr, test_yolos, test_kernels_conv
// and the ablation tests.
#pragma once

#include "core/error.h"
#include "core/io/weights.h"
#include "core/models/detr.h"
#include "core/models/loader.h"
#include "tests/support/tensor_compare.h"

#include <nlohmann/json.hpp>

#include <QString>

#include <fstream>
#include <memory>
#include <stdexcept>
#include <string>

namespace attnscope::testing {

// A JSON file parsed; a std::runtime_error naming it when it cannot be opened.
inline nlohmann::json read_json(const std::string& path) {
    std::ifstream f(path);
    if (!f) throw std::runtime_error("cannot open " + path);
    return nlohmann::json::parse(f);
}

// tests/fixtures/detr/<rel>: its JSON, its checkpoint, and a DETR loaded from a checkpoint and a config
// (config_rel "" for none).
inline nlohmann::json read_detr_json(const std::string& rel) { return read_json(fixture("detr/" + rel)); }
inline std::shared_ptr<const WeightSource> open_detr_weights(const std::string& rel) {
    return open_weights(fixture("detr/" + rel));
}
inline std::unique_ptr<Model> load_detr_fixture(const std::string& ckpt_rel, const std::string& config_rel,
                                                LoadOptions opts = {}, const nlohmann::json* preprocessor = nullptr) {
    if (config_rel.empty()) return load_detr(open_detr_weights(ckpt_rel), nullptr, preprocessor, opts);
    const nlohmann::json cfg = read_detr_json(config_rel);
    return load_detr(open_detr_weights(ckpt_rel), &cfg, preprocessor, opts);
}

// The message of the attnscope::Error that f() throws; empty when it throws none.
template <typename F>
QString error_of(F&& f) {
    try {
        f();
    } catch (const Error& e) {
        return QString::fromStdString(e.what());
    }
    return QString();
}

} // namespace attnscope::testing
