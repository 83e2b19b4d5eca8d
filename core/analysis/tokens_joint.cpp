// JointFeaturePca (tokens.h): one PCA over the patch tokens of several images.
#include "core/analysis/tokens.h"

#include "core/error.h"

#include <Eigen/Dense>

#include <algorithm>

namespace attnscope::analysis {

void JointFeaturePca::add(const Tensor& tokens, const TokenLayout& l) {
    const int P = l.n_prefix(), N = l.grid_h * l.grid_w;
    if (tokens.dim() != 2 || tokens.size(0) != l.n_tokens() || N < 1)
        throw Error(ErrorKind::Argument, "", "final_tokens",
                    "expected [" + std::to_string(l.n_tokens()) + ", hidden] with at least 1 patch, got " + shape_str(tokens.shape));
    const int D = static_cast<int>(tokens.size(1));
    if (dim_ && D != dim_)
        throw Error(ErrorKind::Argument, "", "final_tokens",
                    "hidden size " + std::to_string(D) + " differs from the first image's " + std::to_string(dim_));
    dim_ = D;
    patches_.emplace_back(tokens.data.begin() + static_cast<int64_t>(P) * D, tokens.data.end());
    grids_.emplace_back(l.grid_h, l.grid_w);
}

std::vector<FeaturePca> JointFeaturePca::finish() const {
    const int D = dim_;
    int64_t n_all = 0;
    for (const auto& [gh, gw] : grids_) n_all += static_cast<int64_t>(gh) * gw;
    if (n_all < 2) throw Error(ErrorKind::Argument, "", "final_tokens", "a joint PCA needs at least 2 patches in all");
    using RowMajor = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
    auto rows = [&](size_t i) {
        return Eigen::Map<const RowMajor>(patches_[i].data(), static_cast<int64_t>(grids_[i].first) * grids_[i].second, D).cast<double>();
    };
    Eigen::RowVectorXd mean = Eigen::RowVectorXd::Zero(D);
    for (size_t i = 0; i < grids_.size(); ++i) mean += rows(i).colwise().sum();
    mean /= static_cast<double>(n_all);
    Eigen::MatrixXd cov = Eigen::MatrixXd::Zero(D, D);
    for (size_t i = 0; i < grids_.size(); ++i) {
        const Eigen::MatrixXd x = rows(i).rowwise() - mean;
        cov.noalias() += x.transpose() * x;
    }
    const Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> eig(cov); // eigenvalues ascending
    const double total = cov.trace();
    const int n_axes = std::min(3, D);
    Eigen::MatrixXd axes = Eigen::MatrixXd::Zero(D, 3);
    std::array<double, 3> explained{};
    for (int c = 0; c < n_axes; ++c) {
        Eigen::VectorXd v = eig.eigenvectors().col(D - 1 - c);
        Eigen::Index arg = 0;
        v.cwiseAbs().maxCoeff(&arg);
        if (v[arg] < 0) v = -v; // largest coefficient positive
        axes.col(c) = v;
        explained[c] = total > 0 ? std::max(0.0, eig.eigenvalues()[D - 1 - c]) / total : 0.0;
    }
    std::vector<Eigen::MatrixXd> proj;
    double border = 0;
    int64_t n_border = 0;
    for (size_t i = 0; i < grids_.size(); ++i) {
        proj.push_back((rows(i).rowwise() - mean) * axes); // (N_i, 3)
        const auto [gh, gw] = grids_[i];
        for (int p = 0; p < gh * gw; ++p) {
            const int r = p / gw, c = p % gw;
            if (r == 0 || c == 0 || r == gh - 1 || c == gw - 1) border += proj.back()(p, 0), ++n_border;
        }
    }
    const bool flip = n_border < n_all && border > 0; // axis 1: every image's border on the negative side
    Eigen::RowVector3d lo = Eigen::RowVector3d::Constant(1e300), hi = Eigen::RowVector3d::Constant(-1e300);
    for (Eigen::MatrixXd& pr : proj) {
        if (flip) pr.col(0) = -pr.col(0);
        lo = lo.cwiseMin(pr.colwise().minCoeff());
        hi = hi.cwiseMax(pr.colwise().maxCoeff());
    }
    std::vector<FeaturePca> out;
    for (size_t i = 0; i < grids_.size(); ++i) {
        const auto [gh, gw] = grids_[i];
        FeaturePca f;
        f.image = Tensor({gh, gw, 3});
        f.mask = Tensor({gh, gw});
        f.explained = explained;
        for (int p = 0; p < gh * gw; ++p) {
            for (int c = 0; c < 3; ++c)
                f.image.data[static_cast<size_t>(p) * 3 + c] =
                    hi[c] > lo[c] ? static_cast<float>((proj[i](p, c) - lo[c]) / (hi[c] - lo[c])) : 0.0f;
            f.mask.data[p] = proj[i](p, 0) > 0 ? 1.0f : 0.0f;
        }
        out.push_back(std::move(f));
    }
    return out;
}

} // namespace attnscope::analysis
