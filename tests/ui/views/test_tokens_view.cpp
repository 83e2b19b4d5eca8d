// GUI test (QT_QPA_PLATFORM=offscreen): the Tokens view shows core's token analyses of the Document's
// result (RunResult::token_norms checked against PyTorch in test_tokens): the selected layer's patch
// norms, following the layer selection; its empty state and DETR's message; a clicked token's attention
// out of it and into it (read straight from the recorded map here).
#include "tests/support/view_test.h"

#include "core/analysis/tokens.h"
#include "ui/views/tokens_view.h"

#include <QDoubleSpinBox>
#include <QtTest>

using namespace attnscope;
using namespace attnscope::ui;
namespace an = attnscope::analysis;

class TestTokensView : public testing::ViewTest {
    Q_OBJECT

private slots:
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

    void clickedTokenShowsItsAttentionOutAndIn() {
        openFixture("vit/dinov2_reg");
        Selection s = doc()->selection();
        s.layer = 1;
        s.heads = an::HeadSelect{1};
        doc()->setSelection(s);
        QVERIFY(show("tokens"));
        auto* v = view<TokensView>("tokens");
        TokensCanvas* c = v->tokensCanvas();
        c->resize(900, 480);
        QVERIFY(!c->grab().isNull()); // paints: the grid's place is known
        const RunResult* r = doc()->result();
        const TokenLayout& L = r->layout;
        const int gy = 1, gx = L.grid_w - 1, cell = gy * L.grid_w + gx, token = L.n_prefix() + cell;
        const QRectF g = c->gridRect();
        QVERIFY(!g.isEmpty());
        const QPointF at(g.x() + (gx + 0.5) * g.width() / L.grid_w, g.y() + (gy + 0.5) * g.height() / L.grid_h);
        QCOMPARE(c->cellAt(at), cell);
        QTest::mouseClick(c, Qt::LeftButton, {}, at.toPoint());
        QCOMPARE(v->pickedToken(), token);
        QCOMPARE(v->show(), TokensView::Show::AttentionOut); // a click on the norms switches to "out"
        QCOMPARE(doc()->selection().query, token);           // the other views follow the picked token
        QVERIFY(show("tokens"));
        const AttentionMap* m = nullptr;
        for (const AttentionMap& a : r->attention)
            if (a.site == Site::Encoder && a.layer == 1) m = &a;
        QVERIFY(m);
        std::vector<float> out, in;
        for (int i = 0; i < L.grid_h * L.grid_w; ++i) {
            out.push_back(m->at(1, token, L.n_prefix() + i));
            in.push_back(m->at(1, L.n_prefix() + i, token));
        }
        QCOMPARE(testing::diff(v->shownValues(), Tensor({L.grid_h, L.grid_w}, out), "attention out of the picked token"), 0.0);
        QVERIFY(v->caption().contains("attention out of patch (1, " + QString::number(gx) + ")"));
        v->setShow(TokensView::Show::AttentionIn);
        QVERIFY(show("tokens"));
        QCOMPARE(testing::diff(v->shownValues(), Tensor({L.grid_h, L.grid_w}, in), "attention into the picked token"), 0.0);
        QVERIFY(v->caption().contains("attention into"));
        v->setShow(TokensView::Show::Norms);
        QVERIFY(show("tokens"));
        const Tensor grids = an::patch_norm_grids(r->token_norms, r->layout);
        QCOMPARE(testing::diff(v->shownValues(), testing::slice(grids, 1), "norms again"), 0.0);
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
