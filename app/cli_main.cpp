// attnscope-cli: info / run / bench. Scripts depend on this contract (README "CLI").
// Errors: non-zero exit and one line naming what is wrong.
#include "app/blas_env.h"
#include "app/cli_args.h"
#include "core/error.h"
#include "core/image/decode.h"
#include "core/io/npy.h"
#include "core/models/detr.h"
#include "core/models/loader.h"
#include "core/session.h"
#include "core/tensor/ops.h"

#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <cstdio>
#include <map>
#include <random>
#include <string>
#include <vector>

using namespace attnscope;
using json = nlohmann::json;
using cli::Args;
using cli::open_model;

namespace attnscope::cli {
int cmd_analyze(const Args& a); // app/cli_analyze.cpp
int cmd_dataset(const Args& a);
int cmd_explain(const Args& a); // app/cli_explain.cpp
int cmd_bench_explain(const Args& a);
int cmd_eval(const Args& a); // app/cli_eval.cpp
int cmd_scenes(const Args& a);
int cmd_ablate(const Args& a); // app/cli_ablate.cpp
int cmd_faithfulness(const Args& a); // app/cli_faithfulness.cpp
} // namespace attnscope::cli

namespace {

const char* kUsage = R"(usage:
  attnscope-cli info  --model PATH [--heads N] [--config FILE]
  attnscope-cli run   --model PATH (--image IMG | --input-npy X.npy) --out DIR [--top-k 5] [--threads N]
                      DETR: [--threshold 0.7] [--no-encoder-maps]
  attnscope-cli bench --model PATH [--image IMG] [--runs 10] [--threads N] [--no-record]
  attnscope-cli analyze --model PATH (--image IMG | --input-npy X.npy) --out DIR [--rollout-discard 0.9 --fusion mean] [--mask-mass 0.6] [--norm-k 2]
  attnscope-cli explain --model PATH (--image IMG | --input-npy X.npy) --method chefer2|gradcam|grad-rollout|rollout|attention
                      --out DIR [--target CLASS] [--discard 0.9]
                      DETR: [--target CLASS | [--detection QUERY] [--box cx|cy|w|h]]   (--box: a box coordinate, not a class logit)
  attnscope-cli bench --model PATH --explain METHOD [--image IMG] [--runs 10] [--threads N]   (explain time vs forward)
  attnscope-cli dataset --model PATH --images DIR --out DIR [--limit N] [--shard i/n]
  attnscope-cli ablate --model PATH (--image IMG | --input-npy X.npy | --images DIR [--shard i/n] [--limit N]) --out DIR
                      [--heads L:H,... | S:L:H,...] [--site encoder|decoder_self|decoder_cross] [--mode zero|mean]
                      [--mask-patches i,j,...] [--importance [--detection QUERY]] [--top-k 5] [--threshold 0.7] [--model-heads N]
  attnscope-cli eval  --model PATH --dataset fashion-mnist-test [--limit N] [--threads N] [--quiet]
  attnscope-cli eval  --model PATH --dataset synthetic-scenes [--seed S] [--count N] [--threads N] [--quiet]
  attnscope-cli scenes --out DIR [--seed S] [--count N] [--items train|t10k]   (the demo DETR's training pool)
  attnscope-cli faithfulness --model PATH --images DIR --out DIR [--methods chefer2,gradcam,grad-rollout,rollout,attention]
                      [--limit N] [--shard i/n] [--step 0.1] [--discard 0] [--threads N]
PATH: a Hugging Face or timm model folder, a .safetensors or torch .pth file, or a model.safetensors.index.json.
)";

int cmd_info(const Args& a) {
    auto model = open_model(a);
    json j = model_summary_json(model->info());
    j["preprocessing"] = preprocess_json(model->preprocess());
    std::puts(j.dump(2).c_str());
    return 0;
}

// The input tensor: --input-npy as is, or --image preprocessed as the model's authors did.
RunResult run_model(Session& session, const Args& a, RecordPolicy record, Tensor& input) {
    if (a.flag("--input-npy")) {
        input = read_npy(a.get("--input-npy"));
        if (input.dim() == 4 && input.size(0) == 1) input.shape.erase(input.shape.begin());
        return session.run(input, record);
    }
    const ImageRGB8 img = decode_image_file(a.require("--image"));
    return session.run(img, record, nullptr, &input);
}

int cmd_run(const Args& a) {
    ops::set_num_threads(a.get_int("--threads", 0));
    auto model = open_model(a);
    const std::string out = a.require("--out");
    if (!a.flag("--image") && !a.flag("--input-npy")) throw Error(ErrorKind::Argument, "", "--image", "or --input-npy is required");
    Session session(*model);
    Tensor input;
    const RunResult r = run_model(session, a, a.flag("--no-encoder-maps") ? RecordPolicy::SkipEncoder : RecordPolicy::All, input);
    json extra = json::object();
    if (model->info().task == Task::Detect) {
        const float threshold = a.get_float("--threshold", 0.7f);
        const std::vector<Detection> dets = above_threshold(r.detections, threshold);
        for (const Detection& d : dets)
            std::printf("%6.4f  %-16s [%.1f, %.1f, %.1f, %.1f]\n", d.score, d.label.c_str(), d.box_xyxy[0],
                        d.box_xyxy[1], d.box_xyxy[2], d.box_xyxy[3]);
        extra["detections"] = detections_json(dets);
        extra["threshold"] = threshold;
        extra["feature_grid"] = {r.layout.grid_h, r.layout.grid_w};
        extra["stride"] = r.layout.patch_size;
    }
    write_run_folder(out, *model, r, input, a.get_int("--top-k", 5), extra);
    for (const Prediction& p : top_k(r, std::min(3, a.get_int("--top-k", 5))))
        std::printf("%6.4f  %s\n", p.prob, p.label.c_str());
    std::printf("wrote %s (%zu attention maps)\n", out.c_str(), r.attention.size());
    return 0;
}

long peak_rss_kb() {
    struct rusage ru {};
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

// CPU time of the whole process (every thread, spin-waiting included): on a loaded machine the
// single-thread figure is the code's own cost, whatever the wall clock says.
double process_cpu_ms() {
    timespec ts{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec * 1e-6;
}

int cmd_bench(const Args& a) {
    const int threads = a.get_int("--threads", 2);
    ops::set_num_threads(threads);
    const int runs = std::max(1, a.get_int("--runs", 10));
    auto model = open_model(a);
    const ModelInfo& info = model->info();
    Session session(*model);
    Tensor input;
    if (a.flag("--image")) {
        run_model(session, a, RecordPolicy::None, input);
    } else {
        input = Tensor({3, info.image_h, info.image_w});
        std::mt19937 rng(1);
        std::normal_distribution<float> nd;
        for (float& v : input.data) v = nd(rng);
    }
    const bool record = !a.flag("--no-record");
    std::vector<double> ms, cpu; // wall-clock and process CPU time (all threads) per run
    size_t n_maps = 0;
    for (int i = 0; i <= runs; ++i) { // first run is warm-up
        const double c0 = process_cpu_ms();
        const auto t0 = std::chrono::steady_clock::now();
        RunResult r = session.run(input, record ? RecordPolicy::All : RecordPolicy::None);
        const double t = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
        n_maps = r.attention.size();
        session.recycle(std::move(r.attention)); // the next run writes into these maps (no allocation)
        if (i > 0) {
            ms.push_back(t);
            cpu.push_back(process_cpu_ms() - c0);
        }
    }
    std::sort(ms.begin(), ms.end());
    std::sort(cpu.begin(), cpu.end());
    json j = {{"model", info.architecture}, {"family", family_name(info.family)}, {"input", input.shape}, {"threads", threads},
              {"runs", runs}, {"record_attention", record},
              {"backend", ops::backend_name(ops::gemm_backend())}, {"blas_core", ops::blas_core_name()},
              {"attention_maps", n_maps}, {"median_ms", ms[ms.size() / 2]}, {"min_ms", ms.front()},
              {"median_cpu_ms", cpu[cpu.size() / 2]}, {"peak_rss_mb", peak_rss_kb() / 1024.0}};
    std::puts(j.dump().c_str());
    return 0;
}

} // namespace

int main(int argc, char** argv) {
    ensure_fast_blas(argv);
    try {
        const Args a = cli::parse(argc, argv);
        if (a.command == "info") return cmd_info(a);
        if (a.command == "run") return cmd_run(a);
        if (a.command == "bench") return a.flag("--explain") ? cli::cmd_bench_explain(a) : cmd_bench(a);
        if (a.command == "explain") return cli::cmd_explain(a);
        if (a.command == "analyze") return cli::cmd_analyze(a);
        if (a.command == "dataset") return cli::cmd_dataset(a);
        if (a.command == "eval") return cli::cmd_eval(a);
        if (a.command == "scenes") return cli::cmd_scenes(a);
        if (a.command == "ablate") return cli::cmd_ablate(a);
        if (a.command == "faithfulness") return cli::cmd_faithfulness(a);
        if (a.command == "--help" || a.command == "-h" || a.command == "help") {
            std::fputs(kUsage, stdout);
            return 0;
        }
        throw Error(ErrorKind::Argument, "", a.command, "unknown command (info, run, bench, analyze, explain, dataset, ablate, faithfulness, eval, scenes)");
    } catch (const Error& e) {
        std::fprintf(stderr, "attnscope-cli: %s\n", e.what());
        if (e.kind() == ErrorKind::Argument) std::fputs(kUsage, stderr);
        return 2;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "attnscope-cli: internal error: %s\n", e.what());
        return 3;
    }
}
