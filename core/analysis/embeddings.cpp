#include "core/analysis/embeddings.h"

#include "core/error.h"

#include <Eigen/Dense>

#include <algorithm>
#include <cmath>
#include <limits>

namespace attnscope::analysis {

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
