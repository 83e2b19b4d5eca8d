// GUI test (QT_QPA_PLATFORM=offscreen): the Tokens view shows core's token analyses of the Document's
// result (RunResult::token_norms checked against PyTorch in test_tokens): the selected layer's patch
// norms, following the layer selection; its empty state and DETR's message.
#include "tests/support/analysis_gui_test.h"

#include "core/analysis/tokens.h"
#include "ui/views/tokens_view.h"

#include <QDoubleSpinBox>
#include <QtTest>

using namespace attnscope;
using namespace attnscope::ui;
namespace an = attnscope::analysis;

class TestTokensView : public testing::AnalysisGuiTest {
    Q_OBJECT

private slots:
    void initTestCase() { QVERIFY(setUpTestCase("AttnScopeTest", "AttnScopeTestTokensView")); }
    void init() { newWindow(); }
    void cleanup() { w_.reset(); }

    void registeredWithEmptyState() {
        QVERIFY(w_->view("tokens") != nullptr);
        QVERIFY(show("tokens"));
        QVERIFY(w_->view("tokens")->shownValues().empty());
    }

    void showsCoreNormsOfTheSelectedLayer() {
        openFixture("vit/dinov2_reg");
        QVERIFY(show("tokens"));
        const RunResult* r = doc()->result();
        QVERIFY(r && !r->token_norms.empty());
        const Tensor grids = an::patch_norm_grids(r->token_norms, r->layout);
        for (int layer : {0, int(grids.size(0)) - 1}) {
            Selection s = doc()->selection();
            s.layer = layer;
            doc()->setSelection(s);
            QVERIFY(show("tokens"));
            QCOMPARE(w_->view("tokens")->shownShape(), (std::vector<int64_t>{r->layout.grid_h, r->layout.grid_w}));
            QCOMPARE(testing::diff(w_->view("tokens")->shownValues(), testing::slice(grids, layer), "tokens view, layer " + std::to_string(layer)), 0.0);
        }
        find<QDoubleSpinBox>("tokensNormK")->setValue(1.2);
        QVERIFY(w_->view("tokens")->caption().contains("1.2"));
        QVERIFY(!w_->view("tokens")->canvas()->grab().isNull());
    }

    void detrShowsItsEncoderTokenNorms() { // DETR: the encoder's feature cells, one grid per encoder layer
        w_->openPath(QString::fromStdString(testing::fixture("detr/r50tiny/hf")));
        w_->openPath(png_);
        QTRY_VERIFY_WITH_TIMEOUT(doc()->result() != nullptr && !w_->runner()->busy(), 60000);
        QVERIFY(show("tokens"));
        const TokenLayout& L = doc()->result()->layout;
        QCOMPARE(int(w_->view("tokens")->shownValues().size()), L.grid_h * L.grid_w);
        QCOMPARE(doc()->result()->token_norms.size(1), int64_t(L.grid_h * L.grid_w));
        QVERIFY(view<TokensView>("tokens")->tokensCanvas()->message().isEmpty());
    }
};

QTEST_MAIN(TestTokensView)
#include "test_tokens_view.moc"
