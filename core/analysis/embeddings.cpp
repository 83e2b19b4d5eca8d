#include "core/analysis/embeddings.h"

#include "core/error.h"

#include <Eigen/Dense>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <limits>

namespace attnscope::analysis {

namespace {

bool ends_with(const std::string& s, const std::string& tail) {
    return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

// The one tensor named `timm` or ending in `hf_tail` ("" when none).
std::string find_key(const WeightSource& w, const std::string& timm, const std::string& hf_tail) {
    if (w.has(timm)) return timm;
    for (const std::string& k : w.names())
        if (k == hf_tail.substr(1) || ends_with(k, hf_tail)) return k;
    return {};
}

int square_root(int64_t v) {
    const int r = static_cast<int>(std::lround(std::sqrt(static_cast<double>(std::max<int64_t>(v, 0)))));
    return static_cast<int64_t>(r) * r == v ? r : -1;
}

} // namespace

PatchEmbedding read_patch_embedding(const WeightSource& w) {
    const std::string file = std::filesystem::path(w.path()).filename().string();
    PatchEmbedding pe;
    const std::string fk = find_key(w, "patch_embed.proj.weight", ".embeddings.patch_embeddings.projection.weight");
    if (fk.empty()) throw Error(ErrorKind::Missing, file, "patch_embed.proj.weight", "no patch-embedding filters in the checkpoint");
    pe.filters = w.load(fk);
    if (pe.filters.dim() != 4 || pe.filters.size(1) != 3 || pe.filters.size(2) != pe.filters.size(3))
        throw Error(ErrorKind::Mismatch, file, "tensor '" + fk + "'", "expected [D, 3, P, P], found " + shape_str(pe.filters.shape));
    const int64_t D = pe.filters.size(0);

    const std::string pk = find_key(w, "pos_embed", ".embeddings.position_embeddings");
    if (pk.empty()) return pe; // no learned table
    const TensorInfo info = w.info(pk);
    if (info.shape.size() != 3 || info.shape[0] != 1 || info.shape[2] != D)
        throw Error(ErrorKind::Mismatch, file, "tensor '" + pk + "'", "expected [1, T, " + std::to_string(D) + "], found " + shape_str(info.shape));
    const bool dist = !find_key(w, "dist_token", ".embeddings.distillation_token").empty();
    const int64_t n_pos = info.shape[1];
    int g = square_root(n_pos - 1 - (dist ? 1 : 0));
    pe.n_pos_prefix = 1 + (dist ? 1 : 0);
    if (g < 0) {
        g = square_root(n_pos);
        pe.n_pos_prefix = 0; // timm no_embed_class
    }
    if (g <= 0) throw Error(ErrorKind::Mismatch, file, "tensor '" + pk + "'", "position table " + shape_str(info.shape) + " is not a square grid plus prefix rows");
    const Tensor all = w.load(pk);
    pe.pos_grid_h = pe.pos_grid_w = g;
    pe.pos = Tensor({static_cast<int64_t>(g) * g, D},
                    std::vector<float>(all.data.begin() + pe.n_pos_prefix * D, all.data.end()));
    return pe;
}

Tensor position_similarity(const Tensor& pos) {
    if (pos.dim() != 2) throw Error(ErrorKind::Argument, "", "pos", "expected [G, D], got " + shape_str(pos.shape));
    const int G = static_cast<int>(pos.size(0)), D = static_cast<int>(pos.size(1));
    const Eigen::MatrixXd e = Eigen::Map<const Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>(pos.ptr(), G, D).cast<double>();
    Eigen::VectorXd inv = e.rowwise().norm();
    for (int i = 0; i < G; ++i) inv[i] = inv[i] > 0.0 ? 1.0 / inv[i] : 0.0;
    const Eigen::MatrixXd unit = inv.asDiagonal() * e;
    const Eigen::MatrixXd sim = unit * unit.transpose();
    Tensor out({G, G});
    for (int i = 0; i < G; ++i)
        for (int j = 0; j < G; ++j) out.data[static_cast<size_t>(i) * G + j] = static_cast<float>(sim(i, j));
    return out;
}

Tensor similarity_tiles(const Tensor& sim, int grid_h, int grid_w, int gap) {
    const int G = grid_h * grid_w;
    if (sim.dim() != 2 || sim.size(0) != G || sim.size(1) != G)
        throw Error(ErrorKind::Argument, "", "similarity", "expected [" + std::to_string(G) + ", " + std::to_string(G) + "], got " + shape_str(sim.shape));
    const int H = grid_h * grid_h + (grid_h - 1) * gap, W = grid_w * grid_w + (grid_w - 1) * gap;
    Tensor out({H, W}, std::vector<float>(static_cast<size_t>(H) * W, std::numeric_limits<float>::quiet_NaN()));
    for (int r = 0; r < grid_h; ++r)
        for (int c = 0; c < grid_w; ++c)
            for (int i = 0; i < G; ++i) {
                const int y = r * (grid_h + gap) + i / grid_w, x = c * (grid_w + gap) + i % grid_w;
                out.data[static_cast<size_t>(y) * W + x] = sim.data[static_cast<size_t>(r * grid_w + c) * G + i];
            }
    return out;
}

FilterPca filter_pca(const Tensor& filters, int n_components) {
    if (filters.dim() != 4 || filters.size(1) != 3 || filters.size(2) != filters.size(3))
        throw Error(ErrorKind::Argument, "", "filters", "expected [D, 3, P, P], got " + shape_str(filters.shape));
    const int D = static_cast<int>(filters.size(0)), F = static_cast<int>(filters.numel() / D);
    if (D < 2) throw Error(ErrorKind::Argument, "", "filters", "PCA needs at least 2 filters");
    Eigen::MatrixXd x = Eigen::Map<const Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>(filters.ptr(), D, F).cast<double>();
    x.rowwise() -= x.colwise().mean();
    const Eigen::MatrixXd cov = (x.transpose() * x) / (D - 1); // (F, F)
    const Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> eig(cov);
    const int k = std::min({n_components, D, F});
    FilterPca out;
    out.total_variance = cov.trace();
    out.axes = Tensor({k, 3, filters.size(2), filters.size(3)});
    for (int c = 0; c < k; ++c) {
        const int col = F - 1 - c; // eigenvalues ascending
        Eigen::VectorXd v = eig.eigenvectors().col(col);
        Eigen::Index arg = 0;
        v.cwiseAbs().maxCoeff(&arg);
        if (v[arg] < 0) v = -v;
        for (int i = 0; i < F; ++i) out.axes.data[static_cast<size_t>(c) * F + i] = static_cast<float>(v[i]);
        out.variance.push_back(eig.eigenvalues()[col]);
    }
    return out;
}

} // namespace attnscope::analysis
