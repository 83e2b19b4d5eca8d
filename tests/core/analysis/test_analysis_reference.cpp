// core/analysis against the NumPy references in tests/fixtures/analysis (tools/reference/
// make_analysis_fixtures.py), computed from the ViT fixtures' PyTorch attention maps and
// checkpoints: every value ≤ 1e-5.
#include "core/analysis/distance.h"
#include "core/analysis/embeddings.h"
#include "core/analysis/heads.h"
#include "core/analysis/masks.h"
#include "core/analysis/rollout.h"
#include "core/io/npy.h"
#include "core/io/weights.h"
#include "core/models/loader.h"
#include "tests/support/analysis_reference.h"
#include "tests/support/tensor_compare.h"

#include <QtTest>

#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>

using namespace attnscope;
using namespace attnscope::analysis;
using namespace attnscope::testing;
namespace fs = std::filesystem;

namespace {

constexpr double kTol = 1e-5;

Tensor from_rows(const std::vector<std::vector<double>>& v) {
    Tensor t({static_cast<int64_t>(v.size()), static_cast<int64_t>(v[0].size())});
    for (size_t i = 0; i < v.size(); ++i)
        for (size_t j = 0; j < v[i].size(); ++j) t.data[i * v[0].size() + j] = static_cast<float>(v[i][j]);
    return t;
}

// NaN where the reference has NaN, then max |a − b| over the rest.
double diff_with_nan(Tensor a, Tensor b, const std::string& label) {
    if (a.shape != b.shape) return max_abs_diff(a, b, label);
    for (size_t i = 0; i < a.data.size(); ++i) {
        if (std::isnan(a.data[i]) != std::isnan(b.data[i])) {
            std::printf("  %s: NaN mismatch at %zu\n", label.c_str(), i);
            return INFINITY;
        }
        if (std::isnan(a.data[i])) a.data[i] = b.data[i] = 0.0f;
    }
    return max_abs_diff(a, b, label);
}

} // namespace

class TestAnalysisReference : public QObject {
    Q_OBJECT
private slots:
    void matches_numpy_data() {
        QTest::addColumn<QString>("name");
        for (const char* c : {"hf_vit", "deit_distilled", "dinov2_reg"}) QTest::newRow(c) << QString(c);
    }
    void matches_numpy() {
        QFETCH(QString, name);
        const fs::path ref = fixture("analysis/" + name.toStdString());
        const fs::path src = fixture("vit/" + name.toStdString());
        QVERIFY2(fs::exists(ref / "meta.json"), "fixture missing: run tools/reference/make_analysis_fixtures.py");
        const AnalysisReference reference = read_analysis_reference(name.toStdString());
        const nlohmann::json& meta = reference.meta;
        const TokenLayout& l = reference.layout;
        const std::vector<AttentionMap>& maps = reference.maps;
        std::printf("%s\n", name.toUtf8().constData());

        const Tensor rollout = read_npy((ref / "rollout.npy").string()); // [fusion, discard, gh, gw]
        const auto fusions = meta["fusions"].get<std::vector<std::string>>();
        const auto discards = meta["discards"].get<std::vector<double>>();
        for (size_t f = 0; f < fusions.size(); ++f)
            for (size_t d = 0; d < discards.size(); ++d) {
                const Tensor got = attention_rollout(maps, l, {fusion_from_name(fusions[f]), discards[d]});
                const std::string label = "rollout " + fusions[f] + " discard " + std::to_string(discards[d]).substr(0, 3);
                QVERIFY2(max_abs_diff(got, slice(slice(rollout, f), d), label) <= kTol, label.c_str());
            }
        QVERIFY(max_abs_diff(from_rows(mean_attention_distances(maps, l)), read_npy((ref / "distance.npy").string()), "mean attention distance (px)") <= 1e-4);
        std::vector<std::vector<double>> ent;
        for (const AttentionMap& m : maps) ent.push_back(attention_entropy(m));
        QVERIFY(max_abs_diff(from_rows(ent), read_npy((ref / "entropy.npy").string()), "entropy (nats)") <= kTol);
        const Tensor masks = read_npy((ref / "masks.npy").string());
        const auto masses = meta["masses"].get<std::vector<double>>();
        for (size_t i = 0; i < masses.size(); ++i)
            QCOMPARE(max_abs_diff(dino_masks(maps.back(), l, masses[i]), slice(masks, i), "DINO masks mass " + std::to_string(masses[i]).substr(0, 3)), 0.0);

        const Tensor qm = read_npy((ref / "query_map.npy").string());
        const Tensor q_cls = query_map(maps[0], l, 0, {1});
        QVERIFY(max_abs_diff(q_cls, slice(qm, 0), "query map: CLS, layer 0, head 1") <= kTol);
        QVERIFY(max_abs_diff(query_map(maps[0], l, maps[0].n_q - 1, {-1, HeadFusion::Max}), slice(qm, 1), "query map: last patch, max fusion") <= kTol);
        const nlohmann::json& g = meta["geometry"];
        const PreprocessGeometry geom{g["orig_w"], g["orig_h"], g["resized_w"], g["resized_h"], g["crop_x"], g["crop_y"], g["input_w"], g["input_h"]};
        const Tensor orig = read_npy((ref / "query_map_original.npy").string());
        QVERIFY(diff_with_nan(map_to_original(q_cls, geom, Upsample::Bilinear), slice(orig, 0), "query map on the original image, bilinear") <= kTol);
        QVERIFY(diff_with_nan(map_to_original(q_cls, geom, Upsample::Nearest), slice(orig, 1), "query map on the original image, nearest") <= kTol);

        const PatchEmbedding pe = load_model(src.string())->patch_embedding(); // the loaded model's tensors
        QCOMPARE(pe.pos_grid_h, meta["pos_grid"].get<int>());
        QVERIFY(max_abs_diff(position_similarity(pe.pos), read_npy((ref / "pos_similarity.npy").string()), "position-embedding similarity") <= kTol);
        const FilterPca pca = filter_pca(pe.filters, 28);
        QVERIFY(max_abs_diff(pca.axes, read_npy((ref / "filters_pca.npy").string()), "filter PCA axes") <= kTol);
        const auto var = meta["pca_variance"].get<std::vector<double>>();
        for (size_t i = 0; i < var.size(); ++i) QVERIFY(std::abs(pca.variance[i] - var[i]) <= kTol * std::max(1.0, var[i]));
    }
};

QTEST_APPLESS_MAIN(TestAnalysisReference)
#include "test_analysis_reference.moc"
