#include "core/data/evaluate.h"

#include "core/error.h"
#include "core/models/detr.h"
#include "core/session.h"
#include "core/tensor/ops.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <exception>
#include <mutex>
#include <thread>

namespace attnscope::data {
namespace {

// Calls fn(i) for i in [0, n) on `threads` workers; rethrows the first exception; honours progress.
template <class Fn>
void parallel_for(int n, int threads, const EvalProgress& progress, Fn fn) {
    threads = std::max(1, std::min(threads, n));
    const int saved = ops::num_threads();
    ops::set_num_threads(1);
    std::atomic<int> next{0}, done{0};
    std::atomic<bool> stop{false}, cancelled{false};
    std::exception_ptr error;
    std::mutex m;
    auto work = [&] {
        for (int i; !stop && (i = next++) < n;) {
            try {
                fn(i);
            } catch (...) {
                std::lock_guard<std::mutex> lock(m);
                if (!error) error = std::current_exception();
                stop = true;
            }
            const int d = ++done;
            if (progress) {
                std::lock_guard<std::mutex> lock(m);
                if (!progress(d, n)) cancelled = stop = true;
            }
        }
    };
    std::vector<std::thread> pool;
    for (int t = 1; t < threads; ++t) pool.emplace_back(work);
    work();
    for (auto& t : pool) t.join();
    ops::set_num_threads(saved);
    if (error) std::rethrow_exception(error);
    if (cancelled) throw Error(ErrorKind::Cancelled, "", "", "evaluation cancelled");
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

} // namespace

ImageRGB8 grey_to_rgb(const uint8_t* pixels, int width, int height) {
    ImageRGB8 img;
    img.width = width, img.height = height;
    img.data.resize(static_cast<size_t>(width) * height * 3);
    for (size_t i = 0; i < static_cast<size_t>(width) * height; ++i)
        img.data[3 * i] = img.data[3 * i + 1] = img.data[3 * i + 2] = pixels[i];
    return img;
}

ClassificationResult evaluate_classification(const Model& model, const FashionMnist& set, int limit, int threads,
                                             const EvalProgress& progress) {
    const ModelInfo& info = model.info();
    if (info.task == Task::Detect) throw Error(ErrorKind::Unsupported, info.source, "", "a DETR model cannot be scored on classification");
    const int n = limit > 0 ? std::min(limit, set.count) : set.count;
    ClassificationResult r;
    r.count = n;
    r.confusion.assign(100, 0);
    std::vector<int> predicted(n, -1);
    const auto t0 = std::chrono::steady_clock::now();
    parallel_for(n, threads, progress, [&](int i) {
        const RunResult out = Session(model).run(grey_to_rgb(set.image(i), set.cols, set.rows), RecordPolicy::None);
        if (out.logits.numel() != 10)
            throw Error(ErrorKind::Mismatch, info.source, "logits",
                        "the model has " + std::to_string(out.logits.numel()) + " outputs; Fashion-MNIST has 10 classes");
        predicted[i] = static_cast<int>(std::max_element(out.logits.ptr(), out.logits.ptr() + 10) - out.logits.ptr());
    });
    for (int i = 0; i < n; ++i) {
        r.confusion[set.labels[i] * 10 + predicted[i]]++;
        r.correct += predicted[i] == set.labels[i];
    }
    r.accuracy = n ? double(r.correct) / n : 0.0;
    r.seconds = seconds_since(t0);
    return r;
}

DetectionEvalResult evaluate_detection(const Model& model, const FashionMnist& items, uint64_t seed, int count,
                                       int threads, const SceneOptions& opt, const EvalProgress& progress) {
    const ModelInfo& info = model.info();
    if (info.task != Task::Detect) throw Error(ErrorKind::Unsupported, info.source, "", "synthetic-scenes needs a DETR model");
    std::vector<std::vector<ScoredBox>> dets(count), gts(count);
    const auto t0 = std::chrono::steady_clock::now();
    parallel_for(count, threads, progress, [&](int i) {
        const Scene s = make_scene(items, seed, static_cast<uint64_t>(i), opt);
        const RunResult out = Session(model).run(grey_to_rgb(s.pixels.data(), s.size, s.size), RecordPolicy::None);
        for (const Detection& d : out.detections)
            dets[i].push_back({i, d.label_id, d.score, d.box_xyxy});
        for (const SceneObject& o : s.objects) gts[i].push_back({i, o.label, 1.0f, o.box_xyxy});
    });
    std::vector<ScoredBox> all_d, all_g;
    for (int i = 0; i < count; ++i) {
        all_d.insert(all_d.end(), dets[i].begin(), dets[i].end());
        all_g.insert(all_g.end(), gts[i].begin(), gts[i].end());
    }
    DetectionEvalResult r;
    r.scenes = count;
    r.ap = average_precision(all_d, all_g, 0.5);
    r.seconds = seconds_since(t0);
    return r;
}

} // namespace attnscope::data
