#include "core/data/fashion_mnist.h"

#include "core/error.h"

#include <zlib.h>

#include <cstdlib>
#include <filesystem>
#include <memory>

namespace attnscope::data {
namespace {

// Whole decompressed contents of a .gz file (bounded: the IDX files are < 50 MB).
std::string read_gz(const std::string& path) {
    if (!std::filesystem::exists(path))
        throw Error(ErrorKind::Io, path, "", "not found (Debian package dataset-fashion-mnist, or set FASHION_MNIST_DIR)");
    std::unique_ptr<gzFile_s, int (*)(gzFile)> f(gzopen(path.c_str(), "rb"), gzclose);
    if (!f) throw Error(ErrorKind::Io, path, "", "cannot open");
    std::string out;
    char buf[1 << 16];
    for (;;) {
        const int n = gzread(f.get(), buf, sizeof buf);
        if (n < 0) throw Error(ErrorKind::Format, path, "", "corrupt gzip stream");
        if (n == 0) break;
        out.append(buf, static_cast<size_t>(n));
        if (out.size() > (size_t{256} << 20)) throw Error(ErrorKind::Format, path, "", "larger than 256 MB decompressed");
    }
    return out;
}

uint32_t be32(const std::string& s, size_t at) {
    return (uint32_t(uint8_t(s[at])) << 24) | (uint32_t(uint8_t(s[at + 1])) << 16) | (uint32_t(uint8_t(s[at + 2])) << 8) |
           uint32_t(uint8_t(s[at + 3]));
}

} // namespace

std::string fashion_mnist_dir() {
    const char* env = std::getenv("FASHION_MNIST_DIR");
    return env && *env ? env : "/usr/share/datasets/fashion-mnist";
}

FashionMnist load_fashion_mnist(const std::string& dir, const std::string& split) {
    if (split != "train" && split != "t10k") throw Error(ErrorKind::Argument, "", "split", "expected train or t10k, got " + split);
    const std::string ipath = dir + "/" + split + "-images-idx3-ubyte.gz";
    const std::string lpath = dir + "/" + split + "-labels-idx1-ubyte.gz";
    const std::string img = read_gz(ipath), lab = read_gz(lpath);
    if (img.size() < 16 || be32(img, 0) != 2051) throw Error(ErrorKind::Format, ipath, "magic", "expected IDX3 magic 2051");
    if (lab.size() < 8 || be32(lab, 0) != 2049) throw Error(ErrorKind::Format, lpath, "magic", "expected IDX1 magic 2049");
    FashionMnist d;
    const uint32_t n = be32(img, 4), rows = be32(img, 8), cols = be32(img, 12);
    if (rows != 28 || cols != 28) throw Error(ErrorKind::Format, ipath, "dimensions", "expected 28×28 images");
    if (img.size() != 16 + size_t{n} * rows * cols) throw Error(ErrorKind::Format, ipath, "count", "file size does not match the image count");
    if (be32(lab, 4) != n || lab.size() != 8 + size_t{n}) throw Error(ErrorKind::Format, lpath, "count", "label count does not match the images");
    d.count = static_cast<int>(n);
    d.images.assign(img.begin() + 16, img.end());
    d.labels.assign(lab.begin() + 8, lab.end());
    for (uint8_t l : d.labels)
        if (l > 9) throw Error(ErrorKind::Format, lpath, "label", "label " + std::to_string(l) + " outside 0..9");
    return d;
}

const std::vector<std::string>& fashion_mnist_labels() {
    static const std::vector<std::string> names{"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                                "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};
    return names;
}

} // namespace attnscope::data
