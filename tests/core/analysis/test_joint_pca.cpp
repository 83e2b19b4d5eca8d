// The joint feature PCA of `dataset` (JointFeaturePca) against NumPy from the definition
// (tools/reference/make_joint_pca_fixtures.py): three token sets of different grids, one PCA across them,
// joint min-max scaling; and its errors. The CLI's feature_pca/ files are checked against it on real runs.
#include "core/analysis/tokens.h"
#include "core/error.h"
#include "core/io/npy.h"
#include "tests/support/tensor_compare.h"

#include <QtTest>

#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>

using namespace attnscope;
using namespace attnscope::analysis;
using namespace attnscope::testing;
namespace fs = std::filesystem;

class TestJointPca : public QObject {
    Q_OBJECT
private slots:
    void matches_numpy() {
        const fs::path dir = fixture("analysis/joint_pca");
        QVERIFY2(fs::exists(dir / "meta.json"), "fixture missing: run tools/reference/make_joint_pca_fixtures.py");
        const nlohmann::json meta = nlohmann::json::parse(std::ifstream(dir / "meta.json"));
        JointFeaturePca joint;
        std::vector<TokenLayout> layouts;
        for (size_t i = 0; i < meta["grids"].size(); ++i) {
            const TokenLayout l{meta["n_prefix"].get<int>(), 0, 0, meta["grids"][i][0].get<int>(), meta["grids"][i][1].get<int>(), 16};
            joint.add(read_npy((dir / ("tokens_" + std::to_string(i) + ".npy")).string()), l);
            layouts.push_back(l);
        }
        QCOMPARE(joint.size(), layouts.size());
        const std::vector<FeaturePca> got = joint.finish();
        QCOMPARE(got.size(), layouts.size());
        QVERIFY(meta["min_abs_first_component"].get<double>() > 1e-3); // the mask is not decided by rounding
        float lo = 1, hi = 0;
        for (size_t i = 0; i < got.size(); ++i) {
            const std::string n = std::to_string(i);
            QCOMPARE(got[i].image.shape, (Shape{layouts[i].grid_h, layouts[i].grid_w, 3}));
            QVERIFY(max_abs_diff(got[i].image, read_npy((dir / ("pca_" + n + ".npy")).string()), "joint PCA image " + n) <= 1e-5);
            QCOMPARE(max_abs_diff(got[i].mask, read_npy((dir / ("mask_" + n + ".npy")).string()), "joint PCA mask " + n), 0.0);
            for (int c = 0; c < 3; ++c) QVERIFY(std::abs(got[i].explained[c] - meta["explained"][c].get<double>()) <= 1e-6);
            lo = std::min(lo, *std::min_element(got[i].image.data.begin(), got[i].image.data.end()));
            hi = std::max(hi, *std::max_element(got[i].image.data.begin(), got[i].image.data.end()));
        }
        QCOMPARE(lo, 0.0f); // scaled over all images together: only the extremes of the set reach 0 and 1
        QCOMPARE(hi, 1.0f);
        // One image alone is feature_pca's (per-image) definition.
        JointFeaturePca one;
        const Tensor t0 = read_npy((dir / "tokens_0.npy").string());
        one.add(t0, layouts[0]);
        const FeaturePca single = feature_pca(t0, layouts[0]);
        QVERIFY(max_abs_diff(one.finish()[0].image, single.image, "joint of one image vs feature_pca") <= 1e-5);
    }

    void errors() {
        JointFeaturePca j;
        QVERIFY_THROWS_EXCEPTION(Error, j.finish()); // nothing added
        j.add(Tensor({5, 8}), TokenLayout{1, 0, 0, 2, 2, 16});
        QVERIFY_THROWS_EXCEPTION(Error, j.add(Tensor({5, 6}), TokenLayout{1, 0, 0, 2, 2, 16})); // other hidden size
        QVERIFY_THROWS_EXCEPTION(Error, j.add(Tensor({4, 8}), TokenLayout{1, 0, 0, 2, 2, 16})); // not the layout's tokens
        QCOMPARE(j.size(), size_t(1));
    }
};

QTEST_GUILESS_MAIN(TestJointPca)
#include "test_joint_pca.moc"
