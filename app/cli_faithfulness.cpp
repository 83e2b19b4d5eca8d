// attnscope-cli faithfulness: Chefer et al.'s positive / negative perturbation and RISE's deletion /
// insertion AUCs of explanation methods over a folder of images (core/explain/faithfulness.h). Writes
// faithfulness.csv (per image and method), faithfulness_curves.csv (every step) and summary.csv (per
// method), atomically; progress on stderr; Ctrl+C stops after the current pass and writes what is done.
#include "app/cli_args.h"
#include "core/batch.h"
#include "core/error.h"
#include "core/explain/faithfulness.h"
#include "core/io/npy.h"
#include "core/tensor/ops.h"

#include <csignal>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

namespace attnscope::cli {

namespace fs = std::filesystem;
namespace ex = attnscope::explain;

namespace {

CancelFlag g_cancel{false};
extern "C" void on_interrupt(int) { g_cancel.store(true); }

std::vector<ex::Method> parse_methods(const std::string& list) {
    std::vector<ex::Method> out;
    size_t at = 0;
    while (at <= list.size()) {
        const size_t comma = std::min(list.find(',', at), list.size());
        const std::string name = list.substr(at, comma - at);
        ex::Method m;
        if (!ex::method_from_name(name, m))
            throw Error(ErrorKind::Argument, "", "--methods",
                        "unknown method '" + name + "' (chefer2, gradcam, grad-rollout, rollout, attention)");
        if (std::find(out.begin(), out.end(), m) == out.end()) out.push_back(m);
        at = comma + 1;
    }
    return out;
}

double fraction_arg(const Args& a, const std::string& k, double fallback) {
    double v = fallback;
    if (a.flag(k)) {
        size_t used = 0;
        try {
            v = std::stod(a.get(k), &used);
        } catch (...) {
            used = 0;
        }
        if (used == 0 || used != a.get(k).size()) throw Error(ErrorKind::Argument, "", k, "expects a number, got '" + a.get(k) + "'");
    }
    if (!(v > 0 && v <= 1)) throw Error(ErrorKind::Argument, "", k, "expects a fraction in (0, 1], got '" + a.get(k) + "'");
    return v;
}

} // namespace

int cmd_faithfulness(const Args& a) {
    ops::set_num_threads(a.get_int("--threads", 0));
    const std::string dir = a.require("--images"), out = a.require("--out");
    const std::vector<ex::Method> methods = parse_methods(a.get("--methods", "chefer2,gradcam,grad-rollout,rollout,attention"));
    ex::FaithfulnessOptions opt;
    opt.step = fraction_arg(a, "--step", 0.1);
    if (a.flag("--discard")) {
        opt.explain.discard_ratio = a.get_float("--discard", 0.0f);
        if (!(opt.explain.discard_ratio >= 0 && opt.explain.discard_ratio < 1))
            throw Error(ErrorKind::Argument, "", "--discard", "expects a ratio in [0, 1), got '" + a.get("--discard") + "'");
    }
    const std::vector<std::string> files = list_image_files(dir, a.get("--shard"), a.get_int("--limit", 0));
    auto model = open_model(a);
    if (model->info().task != Task::Classify)
        throw Error(ErrorKind::Unsupported, model->info().source, "",
                    std::string("faithfulness needs a classifier (the target is its top-1 class); this model is a '") +
                        task_name(model->info().task) + "' model");
    std::error_code ec;
    fs::create_directories(out, ec);
    if (ec || !fs::is_directory(out)) throw Error(ErrorKind::Io, out, "--out", "cannot create the folder: " + ec.message());

    ex::FaithfulnessCallbacks cb;
    cb.starting = [](size_t k, size_t n, const std::string& file) { std::fprintf(stderr, "[%zu/%zu] %s\n", k + 1, n, file.c_str()); };
    cb.skipped = [](size_t, const std::string&, const std::string& why) { std::fprintf(stderr, "  skipped: %s\n", why.c_str()); };
    cb.dropped = [](ex::Method m, const std::string& why) {
        std::fprintf(stderr, "  method %s left out: %s\n", ex::method_name(m), why.c_str());
    };
    cb.row = [](const ex::FaithfulnessRow& r) {
        std::fprintf(stderr, "  %-12s target %d (%s, p %.3f) · positive %.3f · negative %.3f · deletion %.3f · insertion %.3f\n",
                     ex::method_name(r.method), r.target, r.label.c_str(), double(r.prob), r.curves.positive.auc_top1(),
                     r.curves.negative.auc_top1(), r.curves.deletion.auc_prob(), r.curves.insertion.auc_prob());
    };
    g_cancel.store(false);
    auto previous = std::signal(SIGINT, on_interrupt);
    const ex::FaithfulnessRun run = ex::run_faithfulness(*model, dir, files, methods, opt, cb, &g_cancel);
    std::signal(SIGINT, previous);

    write_file_atomic((fs::path(out) / "faithfulness.csv").string(), ex::faithfulness_csv(run.rows));
    write_file_atomic((fs::path(out) / "faithfulness_curves.csv").string(), ex::curves_csv(run.rows));
    write_file_atomic((fs::path(out) / "summary.csv").string(), ex::summary_csv(run.rows, methods));
    std::printf("{\"images\": %zu, \"processed\": %d, \"skipped\": %d, \"rows\": %zu, \"methods_left_out\": %zu, "
                "\"cancelled\": %s, \"out\": \"%s\"}\n",
                files.size(), run.batch.processed, run.batch.skipped, run.rows.size(), run.dropped.size(),
                run.batch.cancelled ? "true" : "false", out.c_str());
    if (run.batch.cancelled) return 130; // as a shell reports Ctrl+C; the files hold the images done
    return run.rows.empty() && !files.empty() ? 1 : 0;
}

} // namespace attnscope::cli
