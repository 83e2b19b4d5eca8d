// Synthetic detection scenes: 1–5 Fashion-MNIST items, scaled and placed on a textured grey canvas,
// with their tight boxes and classes. Reproducible: scene i of seed s is the same on every machine.
// One implementation serves both the demo DETR's training pool (`attnscope-cli scenes`) and its
// held-out evaluation (`attnscope-cli eval --dataset synthetic-scenes`), so the two cannot drift.
#pragma once

#include "core/data/fashion_mnist.h"

#include <array>
#include <cstdint>
#include <vector>

namespace attnscope::data {

struct SceneOptions {
    int size = 128;                   // square canvas
    int min_items = 1, max_items = 5;
    int min_side = 24, max_side = 64; // an item's 28×28 image is resized to side × side
    double max_iou = 0.25;            // pairwise IoU limit between item boxes
    int placement_tries = 50;         // an item that finds no place is dropped
};

struct SceneObject {
    int label = 0;                   // Fashion-MNIST class 0..9
    std::array<float, 4> box_xyxy{}; // tight bounds of the item's non-zero pixels; x1, y1 exclusive
};

struct Scene {
    int size = 0;
    std::vector<uint8_t> pixels; // size × size grey
    std::vector<SceneObject> objects;
};

Scene make_scene(const FashionMnist& items, uint64_t seed, uint64_t index, const SceneOptions& opt = {});

double box_iou(const std::array<float, 4>& a, const std::array<float, 4>& b);

} // namespace attnscope::data
