// attnscope-cli eval / scenes: the demo models' figures, measured through AttnScope's own forward
// pass, and the synthetic-scene pool the demo DETR is trained on (tools/train/train_detr.py).
#include "app/cli_args.h"
#include "core/data/evaluate.h"
#include "core/io/npy.h"

#include <nlohmann/json.hpp>

#include <cstdio>
#include <filesystem>
#include <thread>

namespace attnscope::cli {
namespace {

using json = nlohmann::json;

int default_threads() { return std::max(1u, std::thread::hardware_concurrency()); }

data::EvalProgress stderr_progress(bool quiet) {
    if (quiet) return {};
    return [](int done, int total) {
        if (done == total || done % 200 == 0) std::fprintf(stderr, "\r%d/%d", done, total), std::fflush(stderr);
        if (done == total) std::fputc('\n', stderr);
        return true;
    };
}

data::SceneOptions scene_options(const Args& a) {
    data::SceneOptions o;
    o.size = a.get_int("--size", o.size);
    return o;
}

} // namespace

int cmd_eval(const Args& a) {
    const std::string dataset = a.require("--dataset");
    const int threads = a.get_int("--threads", default_threads());
    const bool quiet = a.flag("--quiet");
    const std::string dir = a.get("--data-dir", data::fashion_mnist_dir());
    if (dataset == "fashion-mnist-test") {
        auto model = open_model(a);
        const data::FashionMnist set = data::load_fashion_mnist(dir, "t10k");
        const auto r = data::evaluate_classification(*model, set, a.get_int("--limit", 0), threads, stderr_progress(quiet));
        json per_class = json::object();
        for (int c = 0; c < 10; ++c) {
            int n = 0;
            for (int p = 0; p < 10; ++p) n += r.confusion[c * 10 + p];
            if (n) per_class[data::fashion_mnist_labels()[c]] = double(r.confusion[c * 10 + c]) / n;
        }
        json j = {{"dataset", dataset}, {"model", model->info().source}, {"count", r.count}, {"correct", r.correct},
                  {"accuracy", r.accuracy}, {"accuracy_per_class", per_class}, {"seconds", r.seconds}, {"images_per_second", r.count / std::max(r.seconds, 1e-9)},
                  {"threads", threads}};
        std::puts(j.dump().c_str());
        return 0;
    }
    if (dataset == "synthetic-scenes") {
        auto model = open_model(a);
        // Held-out scenes are built from the Fashion-MNIST TEST items; the training pool uses train items.
        const data::FashionMnist items = data::load_fashion_mnist(dir, a.get("--items", "t10k"));
        const uint64_t seed = static_cast<uint64_t>(a.get_int("--seed", 1));
        const int count = a.get_int("--count", 500);
        if (count <= 0) throw Error(ErrorKind::Argument, "", "--count", "must be positive");
        const auto r = data::evaluate_detection(*model, items, seed, count, threads, scene_options(a), stderr_progress(quiet));
        json per_class = json::object();
        const auto& names = data::fashion_mnist_labels();
        for (const auto& [label, ap] : r.ap.per_class) per_class[label >= 0 && label < 10 ? names[label] : std::to_string(label)] = ap;
        json j = {{"dataset", dataset}, {"model", model->info().source}, {"seed", seed}, {"count", r.scenes},
                  {"map50", r.ap.map}, {"objects", r.ap.n_ground_truth}, {"detections", r.ap.n_detections},
                  {"ap50_per_class", per_class}, {"seconds", r.seconds},
                  {"images_per_second", r.scenes / std::max(r.seconds, 1e-9)}, {"threads", threads}};
        std::puts(j.dump().c_str());
        return 0;
    }
    throw Error(ErrorKind::Argument, "", "--dataset", "expected fashion-mnist-test or synthetic-scenes, got '" + dataset + "'");
}

// Writes images.npy (uint8 [N, S, S]) and objects.npy (float32 [M, 6]: scene, label, x0, y0, x1, y1).
int cmd_scenes(const Args& a) {
    const std::string out = a.require("--out");
    const int count = a.get_int("--count", 1000);
    if (count <= 0) throw Error(ErrorKind::Argument, "", "--count", "must be positive");
    const uint64_t seed = static_cast<uint64_t>(a.get_int("--seed", 1));
    const data::FashionMnist items = data::load_fashion_mnist(a.get("--data-dir", data::fashion_mnist_dir()), a.get("--items", "train"));
    const data::SceneOptions opt = scene_options(a);
    std::vector<uint8_t> images(static_cast<size_t>(count) * opt.size * opt.size);
    std::vector<float> objects;
    for (int i = 0; i < count; ++i) {
        const data::Scene s = data::make_scene(items, seed, static_cast<uint64_t>(i), opt);
        std::copy(s.pixels.begin(), s.pixels.end(), images.begin() + static_cast<size_t>(i) * s.pixels.size());
        for (const auto& o : s.objects)
            objects.insert(objects.end(), {float(i), float(o.label), o.box_xyxy[0], o.box_xyxy[1], o.box_xyxy[2], o.box_xyxy[3]});
    }
    std::filesystem::create_directories(out);
    write_npy_u8(out + "/images.npy", images.data(), {count, opt.size, opt.size});
    write_npy(out + "/objects.npy", objects.data(), {static_cast<int64_t>(objects.size() / 6), 6});
    std::printf("wrote %s: %d scenes, %zu objects\n", out.c_str(), count, objects.size() / 6);
    return 0;
}

} // namespace attnscope::cli
