// Decoded images and the preprocessing contract shared by every model family.
#pragma once

#include "core/tensor/tensor.h"

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace attnscope {

// 8-bit RGB, interleaved, row-major: pixel (x, y) channel c at data[(y·width + x)·3 + c].
struct ImageRGB8 {
    int width = 0, height = 0;
    std::vector<uint8_t> data;
};

enum class Resample { Nearest, Box, Bilinear, Hamming, Bicubic, Lanczos }; // PIL's filters
Resample resample_from_pil(int pil_code);  // PIL ints: 0 nearest, 1 lanczos, 2 bilinear, 3 bicubic, 4 box, 5 hamming
Resample resample_from_name(const std::string& name); // "bilinear", "bicubic", ...
const char* resample_name(Resample r);

struct PreprocessSpec {
    enum class Resize {
        None,
        Exact,         // to resize_h × resize_w (aspect not kept; HF ViT/DeiT int size)
        ShortestEdge,  // short side → shortest_edge, long side = int(shortest·long/short) (torchvision, HF dict)
        ShortestEdgeMaxLongest, // DETR: shortest_edge, long side capped at longest_edge
    };
    enum class CropRounding { Floor, Round }; // HF: (H−h)//2; torchvision: round((H−h)/2) (banker's)

    Resize resize = Resize::Exact;
    int resize_h = 224, resize_w = 224;
    int shortest_edge = 0, longest_edge = 0;
    int size_divisor = 0;      // ShortestEdgeMaxLongest: > 0 floors both sides to a multiple (YOLOS: 16)
    Resample resample = Resample::Bilinear;
    bool center_crop = false;
    int crop_h = 224, crop_w = 224;
    CropRounding crop_rounding = CropRounding::Floor;
    double rescale = 1.0 / 255.0;
    std::array<float, 3> mean{0.5f, 0.5f, 0.5f};
    std::array<float, 3> std{0.5f, 0.5f, 0.5f};
};

// Where the model input sits in the original image, so maps can be laid back over it:
// original (orig_w × orig_h) → resized (resized_w × resized_h) → crop at (crop_x, crop_y) of size input_w × input_h.
struct PreprocessGeometry {
    int orig_w = 0, orig_h = 0;
    int resized_w = 0, resized_h = 0;
    int crop_x = 0, crop_y = 0;
    int input_w = 0, input_h = 0;
};

} // namespace attnscope
