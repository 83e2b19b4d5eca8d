#include "core/analysis/tokens.h"

#include "core/error.h"

#include <Eigen/Dense>

#include <algorithm>
#include <cstdio>

namespace attnscope::analysis {

namespace {

std::string num(double v) {
    char b[32];
    std::snprintf(b, sizeof b, "%.6f", v);
    return b;
}

// "row,col" of a patch token, "," for a prefix or detection token.
std::string row_col(const TokenLayout& l, int t) {
    const int p = t - l.n_prefix();
    if (!l.is_patch(t) || l.grid_w < 1) return ",";
    return std::to_string(p / l.grid_w) + "," + std::to_string(p % l.grid_w);
}

void check_norms(const Tensor& norms, const TokenLayout& l) {
    if (norms.dim() != 2 || norms.size(1) != l.n_tokens() || l.grid_h * l.grid_w < 1)
        throw Error(ErrorKind::Argument, "", "token_norms",
                    "expected [layers, " + std::to_string(l.n_tokens()) + "], got " + shape_str(norms.shape));
}

} // namespace

std::string token_kind(const TokenLayout& l, int t) {
    if (t < l.n_cls) return "cls";
    if (t < l.n_cls + l.n_dist) return "dist";
    if (t < l.n_prefix()) return "reg" + std::to_string(t - l.n_cls - l.n_dist);
    if (t >= l.det_start()) return "det" + std::to_string(t - l.det_start());
    return "patch";
}

std::vector<SinkStats> attention_sinks(const AttentionMap& m, const TokenLayout& l) {
    const int T = l.n_tokens();
    if (m.n_k != T || m.n_q < 1 || m.probs.size() != static_cast<size_t>(m.n_heads) * m.n_q * m.n_k)
        throw Error(ErrorKind::Argument, "", "attention",
                    "map of layer " + std::to_string(m.layer) + " has " + std::to_string(m.n_k) +
                        " keys, the token layout " + std::to_string(T));
    std::vector<SinkStats> out;
    std::vector<double> col(static_cast<size_t>(T));
    for (int h = 0; h < m.n_heads; ++h) {
        std::fill(col.begin(), col.end(), 0.0);
        double non_patch = 0;
        const float* a = m.head(h);
        for (int q = 0; q < m.n_q; ++q)
            for (int k = 0; k < T; ++k) {
                const double v = a[static_cast<size_t>(q) * T + k];
                col[k] += v;
                if (!l.is_patch(k)) non_patch += v;
            }
        SinkStats s;
        s.layer = m.layer;
        s.head = h;
        s.top_key = static_cast<int>(std::max_element(col.begin(), col.end()) - col.begin()); // first on ties
        s.top_share = col[s.top_key] / m.n_q;
        s.non_patch_share = non_patch / m.n_q;
        out.push_back(s);
    }
    return out;
}

std::string sinks_csv(const std::vector<SinkStats>& s, const TokenLayout& l) {
    std::string csv = "layer,head,top_key,top_key_kind,top_key_row,top_key_col,top_key_share,non_patch_share\n";
    for (const SinkStats& x : s)
        csv += std::to_string(x.layer) + "," + std::to_string(x.head) + "," + std::to_string(x.top_key) + "," +
               token_kind(l, x.top_key) + "," + row_col(l, x.top_key) + "," + num(x.top_share) + "," +
               num(x.non_patch_share) + "\n";
    return csv;
}

std::vector<double> median_patch_norms(const Tensor& norms, const TokenLayout& l) {
    check_norms(norms, l);
    const int T = l.n_tokens(), P = l.n_prefix(), N = l.grid_h * l.grid_w;
    std::vector<double> med;
    for (int64_t layer = 0; layer < norms.size(0); ++layer) {
        std::vector<double> v(norms.data.begin() + layer * T + P, norms.data.begin() + layer * T + P + N);
        std::sort(v.begin(), v.end());
        med.push_back(N % 2 ? v[N / 2] : 0.5 * (v[N / 2 - 1] + v[N / 2]));
    }
    return med;
}

std::vector<NormOutlier> norm_outliers(const Tensor& norms, const TokenLayout& l, double k) {
    const std::vector<double> med = median_patch_norms(norms, l);
    const int T = l.n_tokens();
    std::vector<NormOutlier> out;
    for (int layer = 0; layer < static_cast<int>(med.size()); ++layer)
        for (int t = 0; t < T; ++t) {
            const double n = norms.data[static_cast<size_t>(layer) * T + t];
            if (n > k * med[layer]) out.push_back({layer, t, n, med[layer]});
        }
    return out;
}

std::string norm_outliers_csv(const std::vector<NormOutlier>& o, const TokenLayout& l) {
    std::string csv = "layer,token,kind,row,col,norm,median_patch_norm,ratio\n";
    for (const NormOutlier& x : o)
        csv += std::to_string(x.layer) + "," + std::to_string(x.token) + "," + token_kind(l, x.token) + "," +
               row_col(l, x.token) + "," + num(x.norm) + "," + num(x.median_patch) + "," +
               num(x.median_patch > 0 ? x.norm / x.median_patch : 0.0) + "\n";
    return csv;
}

Tensor patch_norm_grids(const Tensor& norms, const TokenLayout& l) {
    check_norms(norms, l);
    const int64_t L = norms.size(0), T = l.n_tokens(), P = l.n_prefix(), N = l.grid_h * l.grid_w;
    Tensor g({L, l.grid_h, l.grid_w});
    for (int64_t layer = 0; layer < L; ++layer)
        std::copy(norms.data.begin() + layer * T + P, norms.data.begin() + layer * T + P + N, g.data.begin() + layer * N);
    return g;
}

FeaturePca feature_pca(const Tensor& tokens, const TokenLayout& l) {
    const int P = l.n_prefix(), N = l.grid_h * l.grid_w;
    if (tokens.dim() != 2 || tokens.size(0) != l.n_tokens() || N < 2)
        throw Error(ErrorKind::Argument, "", "final_tokens",
                    "expected [" + std::to_string(l.n_tokens()) + ", hidden] with at least 2 patches, got " +
                        shape_str(tokens.shape));
    const int D = static_cast<int>(tokens.size(1));
    using RowMajor = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
    Eigen::MatrixXd x = Eigen::Map<const RowMajor>(tokens.ptr() + static_cast<int64_t>(P) * D, N, D).cast<double>();
    x.rowwise() -= x.colwise().mean();
    const Eigen::MatrixXd cov = x.transpose() * x; // (D, D); eigenvalues ascending
    const Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> eig(cov);
    const double total = cov.trace();
    FeaturePca out;
    out.image = Tensor({l.grid_h, l.grid_w, 3});
    out.mask = Tensor({l.grid_h, l.grid_w});
    Eigen::MatrixXd proj = Eigen::MatrixXd::Zero(N, 3);
    for (int c = 0; c < std::min(3, D); ++c) {
        Eigen::VectorXd v = eig.eigenvectors().col(D - 1 - c);
        Eigen::Index arg = 0;
        v.cwiseAbs().maxCoeff(&arg);
        if (v[arg] < 0) v = -v;
        proj.col(c) = x * v;
        out.explained[c] = total > 0 ? std::max(0.0, eig.eigenvalues()[D - 1 - c]) / total : 0.0;
    }
    // axis 1: border patches on the negative side (skipped when every patch is on the border)
    double border = 0;
    int n_border = 0;
    for (int p = 0; p < N; ++p) {
        const int r = p / l.grid_w, c = p % l.grid_w;
        if (r == 0 || c == 0 || r == l.grid_h - 1 || c == l.grid_w - 1) border += proj(p, 0), ++n_border;
    }
    if (n_border < N && border > 0) proj.col(0) = -proj.col(0);
    for (int c = 0; c < 3; ++c) {
        const double lo = proj.col(c).minCoeff(), hi = proj.col(c).maxCoeff();
        for (int p = 0; p < N; ++p)
            out.image.data[static_cast<size_t>(p) * 3 + c] = hi > lo ? static_cast<float>((proj(p, c) - lo) / (hi - lo)) : 0.0f;
    }
    for (int p = 0; p < N; ++p) out.mask.data[p] = proj(p, 0) > 0 ? 1.0f : 0.0f;
    return out;
}

} // namespace attnscope::analysis
