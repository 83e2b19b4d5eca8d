#include "core/data/scenes.h"

#include "core/data/rng.h"
#include "core/error.h"

#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cmath>

namespace attnscope::data {

double box_iou(const std::array<float, 4>& a, const std::array<float, 4>& b) {
    const double iw = std::max(0.0, double(std::min(a[2], b[2])) - std::max(a[0], b[0]));
    const double ih = std::max(0.0, double(std::min(a[3], b[3])) - std::max(a[1], b[1]));
    const double inter = iw * ih;
    const double area_a = double(a[2] - a[0]) * (a[3] - a[1]), area_b = double(b[2] - b[0]) * (b[3] - b[1]);
    const double uni = area_a + area_b - inter;
    return uni > 0 ? inter / uni : 0.0;
}

Scene make_scene(const FashionMnist& items, uint64_t seed, uint64_t index, const SceneOptions& opt) {
    if (items.count <= 0) throw Error(ErrorKind::Argument, "", "items", "no Fashion-MNIST items to place");
    if (opt.max_side > opt.size || opt.min_side < 1 || opt.min_side > opt.max_side || opt.min_items < 0 ||
        opt.min_items > opt.max_items)
        throw Error(ErrorKind::Argument, "", "SceneOptions", "inconsistent scene options");
    Rng rng = Rng::for_item(seed, index);
    const int S = opt.size;

    // Background: a g×g grid of uniform values, upsampled bilinearly, scaled into [base, base + amp].
    const int g = rng.integer(3, 8);
    cv::Mat grid(g, g, CV_32F);
    for (int i = 0; i < g * g; ++i) grid.ptr<float>()[i] = static_cast<float>(rng.uniform());
    cv::Mat canvas;
    cv::resize(grid, canvas, cv::Size(S, S), 0, 0, cv::INTER_LINEAR);
    const float base = static_cast<float>(rng.uniform(0.0, 0.25)), amp = static_cast<float>(rng.uniform(0.05, 0.2));
    canvas = canvas * amp + base;

    Scene scene;
    scene.size = S;
    std::vector<cv::Rect> placed;
    const int n = rng.integer(opt.min_items, opt.max_items);
    for (int k = 0; k < n; ++k) {
        const int which = rng.integer(0, items.count - 1);
        const int side = rng.integer(opt.min_side, opt.max_side);
        const cv::Mat src(items.rows, items.cols, CV_8U, const_cast<uint8_t*>(items.image(which)));
        cv::Mat item;
        cv::resize(src, item, cv::Size(side, side), 0, 0, cv::INTER_LINEAR);
        cv::Mat nz;
        cv::findNonZero(item, nz);
        const cv::Rect tight = nz.empty() ? cv::Rect() : cv::boundingRect(nz);
        bool ok = false;
        int ox = 0, oy = 0;
        for (int t = 0; t < opt.placement_tries && !ok; ++t) {
            ox = rng.integer(0, S - side);
            oy = rng.integer(0, S - side);
            if (tight.area() == 0) break;
            const std::array<float, 4> box{float(ox + tight.x), float(oy + tight.y), float(ox + tight.x + tight.width),
                                           float(oy + tight.y + tight.height)};
            ok = std::all_of(scene.objects.begin(), scene.objects.end(),
                             [&](const SceneObject& o) { return box_iou(o.box_xyxy, box) <= opt.max_iou; });
            if (ok) scene.objects.push_back({items.labels[which], box});
        }
        if (!ok) continue;
        cv::Mat itemf;
        item.convertTo(itemf, CV_32F, 1.0 / 255.0);
        cv::Mat roi = canvas(cv::Rect(ox, oy, side, side));
        cv::max(roi, itemf, roi);
    }

    // Sensor noise over everything, then 8-bit.
    const double sigma = rng.uniform(0.01, 0.05);
    scene.pixels.resize(static_cast<size_t>(S) * S);
    const float* c = canvas.ptr<float>();
    for (size_t i = 0; i < scene.pixels.size(); ++i) {
        const double v = std::clamp(c[i] + sigma * rng.normal(), 0.0, 1.0);
        scene.pixels[i] = static_cast<uint8_t>(std::lround(v * 255.0));
    }
    return scene;
}

} // namespace attnscope::data
