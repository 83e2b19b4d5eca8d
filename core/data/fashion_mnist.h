// Fashion-MNIST (Xiao, Rasul, Vollgraf 2017) in its IDX form, gzip-compressed, as Debian's
// dataset-fashion-mnist installs it (/usr/share/datasets/fashion-mnist). Used by `eval` and by the
// synthetic detection scenes.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace attnscope::data {

struct FashionMnist {
    int count = 0, rows = 28, cols = 28;
    std::vector<uint8_t> images; // count × rows × cols, row-major
    std::vector<uint8_t> labels; // count, 0..9
    const uint8_t* image(int i) const { return images.data() + static_cast<size_t>(i) * rows * cols; }
};

// The directory holding the four .gz files: $FASHION_MNIST_DIR, else Debian's location.
std::string fashion_mnist_dir();
// split: "train" (60k) or "t10k" (10k). Throws Error(Io/Format) naming the file and the field.
FashionMnist load_fashion_mnist(const std::string& dir, const std::string& split);
// Class names in label order ("T-shirt/top", "Trouser", ...).
const std::vector<std::string>& fashion_mnist_labels();

} // namespace attnscope::data
