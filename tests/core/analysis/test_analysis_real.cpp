// The analyses on the real DeiT-Tiny (../shared/models) and the two-cats photo (../shared/images):
// shapes, invariants and the ViT paper's distance pattern. Skips, with a message, when ../shared is absent.
#include "core/analysis/distance.h"
#include "core/analysis/embeddings.h"
#include "core/analysis/masks.h"
#include "core/analysis/rollout.h"
#include "core/image/decode.h"
#include "core/models/loader.h"
#include "core/session.h"
#include "tests/support/tensor_compare.h"

#include <QtTest>

#include <algorithm>
#include <cmath>

using namespace attnscope;
using namespace attnscope::analysis;
using namespace attnscope::testing;

class TestAnalysisReal : public QObject {
    Q_OBJECT
private slots:
    void deit_tiny_on_two_cats() {
        const std::string dir = shared_path("models/deit-tiny-imagenet");
        const std::string img = shared_path("images/coco_000000039769_two_cats.png");
        if (dir.empty() || img.empty()) QSKIP("../shared/models/deit-tiny-imagenet or ../shared/images absent: real-model analysis test skipped");
        auto model = load_model(dir);
        RunResult r = Session(*model).run(decode_image_file(img));

        const Tensor roll = attention_rollout(r.attention, r.layout, {HeadFusion::Mean, 0.9});
        QCOMPARE(roll.shape, (Shape{14, 14}));
        for (float v : roll.data) QVERIFY(std::isfinite(v) && v >= 0.0f);

        const auto d = mean_attention_distances(r.attention, r.layout);
        QCOMPARE(d.size(), size_t(12));
        const double early_min = std::min({*std::min_element(d[0].begin(), d[0].end()), *std::min_element(d[1].begin(), d[1].end())});
        const double late_min = *std::min_element(d[11].begin(), d[11].end());
        std::printf("  early local head %.1f px, last layer min %.1f px\n", early_min, late_min);
        QVERIFY(early_min < 40.0); // an early local head
        QVERIFY(late_min > 80.0);  // the last layer is all global

        QCOMPARE(dino_masks(r.attention.back(), r.layout, 0.6).shape, (Shape{3, 14, 14}));

        const PatchEmbedding pe = model->patch_embedding();
        QCOMPARE(pe.pos_grid_h, 14);
        const Tensor sim = position_similarity(pe.pos);
        for (int i = 0; i < 196; ++i) QVERIFY(std::abs(sim.data[i * 196 + i] - 1.0f) < 1e-5);
        QCOMPARE(filter_pca(pe.filters, 28).axes.shape, (Shape{28, 3, 16, 16}));
    }
};

QTEST_APPLESS_MAIN(TestAnalysisReal)
#include "test_analysis_real.moc"
