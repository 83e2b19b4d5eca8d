// GUI test (QT_QPA_PLATFORM=offscreen): a SigLIP tower opens on its attention-pooling head's map (the site
// "pool", one query: the learned probe), the selection bar lists that site beside the encoder, the overlay
// shows the probe's row over the patch grid (core's query_attention of the recorded map), the views that
// need a CLS token say so, and the Tokens view shows the last block's norms. CLIP opens on its CLS row.
#include "tests/support/view_test.h"

#include "core/analysis/heads.h"
#include "core/analysis/tokens.h"
#include "ui/views/rollout_view.h"
#include "ui/views/tokens_view.h"

#include <QComboBox>
#include <QSpinBox>
#include <QToolButton>
#include <QtTest>

using namespace attnscope;
using namespace attnscope::ui;
namespace an = attnscope::analysis;

class TestClipSiglipViews : public testing::ViewTest {
    Q_OBJECT

private slots:
    void siglipOpensOnThePoolingProbe() {
        openFixture("siglip/hf_vision");
        const RunResult* r = doc()->result();
        QVERIFY(r);
        QCOMPARE(r->layout.n_cls, 0);
        QCOMPARE(doc()->selection().site, Site::Pool);
        QCOMPARE(doc()->selection().query, 0);
        const AttentionMap* pool = doc()->map(Site::Pool, 0);
        QVERIFY(pool && pool->n_q == 1 && pool->n_k == r->layout.n_tokens());

        // the selection bar offers both sites
        auto* site = find<QComboBox>("siteCombo");
        QCOMPARE(site->count(), 2);
        QVERIFY(site->findText(siteTitle(Site::Pool)) >= 0);
        QVERIFY(site->findText(siteTitle(Site::Encoder)) >= 0);

        // the overlay: the probe's row over every patch, mean of heads, as core computes it
        QVERIFY(show("overlay"));
        const auto want = an::query_attention(*pool, r->layout, 0, {-1, an::HeadFusion::Mean});
        QCOMPARE(w_->view("overlay")->shownShape(), (std::vector<int64_t>{r->layout.grid_h, r->layout.grid_w}));
        const Tensor grid({r->layout.grid_h, r->layout.grid_w}, want.grid);
        QCOMPARE(testing::diff(w_->view("overlay")->shownValues(), grid, "overlay, pooling probe"), 0.0);
        QVERIFY(!w_->view("overlay")->canvas()->grab().isNull());

        // one head of the probe, then the encoder's last layer (a patch query: no CLS token)
        Selection s = doc()->selection();
        s.heads = {1};
        doc()->setSelection(s);
        QVERIFY(show("overlay"));
        const auto head1 = an::query_attention(*pool, r->layout, 0, {1});
        QCOMPARE(testing::diff(w_->view("overlay")->shownValues(), Tensor(grid.shape, head1.grid), "overlay, probe head 1"), 0.0);
        s.site = Site::Encoder;
        s.layer = doc()->layerCount(Site::Encoder) - 1;
        doc()->setSelection(s);
        QCOMPARE(doc()->selection().site, Site::Encoder);
        QVERIFY(show("overlay"));
        const auto enc = an::query_attention(*doc()->map(Site::Encoder, s.layer), r->layout, doc()->selection().query, {1});
        QCOMPARE(testing::diff(w_->view("overlay")->shownValues(), Tensor(grid.shape, enc.grid), "overlay, encoder"), 0.0);
        QCOMPARE(doc()->tokenName(0), QString("token 0 (row 0, col 0)"));
        // no CLS token: the bar's CLS button is off and says why
        auto* cls = find<QToolButton>("queryClsButton");
        QVERIFY(!cls->isEnabled());
        QVERIFY2(cls->toolTip().contains("no CLS token"), qPrintable(cls->toolTip()));
    }

    void siglipViewsThatNeedClsSaySo() {
        openFixture("siglip/hf_vision");
        QVERIFY(show("rollout"));
        QVERIFY(view<RolloutView>("rollout")->shownValues().empty());
        // the Tokens view: the last block's patch norms while the pooling site is selected
        QVERIFY(show("tokens"));
        const RunResult* r = doc()->result();
        const Tensor grids = an::patch_norm_grids(r->token_norms, r->layout);
        const int64_t last = grids.size(0) - 1;
        QCOMPARE(testing::diff(w_->view("tokens")->shownValues(), testing::slice(grids, last), "tokens view, last layer"), 0.0);
        QVERIFY(w_->view("tokens")->caption().contains(QString("layer %1").arg(last)));
    }

    void clipOpensOnItsClsRow() {
        openFixture("clip/hf_vision_proj");
        const RunResult* r = doc()->result();
        QVERIFY(r);
        QCOMPARE(doc()->selection().site, Site::Encoder);
        QCOMPARE(doc()->selection().query, 0);
        QCOMPARE(doc()->tokenName(0), QString("CLS"));
        QCOMPARE(find<QComboBox>("siteCombo")->count(), 1);
        // the CLS button picks query 0, the CLS row
        auto* cls = find<QToolButton>("queryClsButton");
        QVERIFY(cls->isEnabled());
        QVERIFY(!cls->toolTip().contains("no CLS token"));
        find<QSpinBox>("querySpin")->setValue(5);
        QCOMPARE(doc()->selection().query, 5);
        cls->click();
        QCOMPARE(doc()->selection().query, 0);
        QVERIFY(show("rollout"));
        QVERIFY(!view<RolloutView>("rollout")->shownValues().empty());
    }
};

QTEST_MAIN(TestClipSiglipViews)
#include "test_clip_siglip_views.moc"
