// Document's selection / query state machine, driven directly (no window, no model run): synthetic
// results, QSignalSpy on every signal. Expected values are worked out by hand in the comments.
#include "core/models/model.h"
#include "ui/detr_state.h"
#include "ui/document.h"

#include <QSignalSpy>
#include <QtTest>

#include <cmath>

using namespace attnscope;
using namespace attnscope::ui;

namespace {

// A model that is never run: the Document only asks for its info.
class FakeModel final : public Model {
public:
    const ModelInfo& info() const override { return info_; }
    const PreprocessSpec& preprocess() const override { return spec_; }
    void forward(const Tensor&, AttentionRecorder&, RunResult&, const CancelFlag*) const override {}

private:
    ModelInfo info_;
    PreprocessSpec spec_;
};

// n_heads × T × T where head h, query q gives key k the value (h + 1) · 0.1 + q · 0.01 + k · 0.001.
AttentionMap encoderMap(int layer, int heads, int T) {
    AttentionMap m;
    m.site = Site::Encoder;
    m.layer = layer;
    m.n_heads = heads;
    m.n_q = m.n_k = T;
    for (int h = 0; h < heads; ++h)
        for (int q = 0; q < T; ++q)
            for (int k = 0; k < T; ++k) m.probs.push_back(float((h + 1) * 0.1 + q * 0.01 + k * 0.001));
    return m;
}

// CLS + a 2×2 grid (5 tokens), two encoder layers of 2 heads; with `decoder`, one DecoderCross layer
// of 3 object queries over the 4 cells (2 heads).
std::shared_ptr<RunResult> makeResult(bool decoder = false) {
    auto r = std::make_shared<RunResult>();
    r->layout.n_cls = 1;
    r->layout.grid_h = r->layout.grid_w = 2;
    r->layout.patch_size = 16;
    r->geometry = {64, 48, 43, 32, 5, 0, 32, 32}; // orig 64×48 → 43×32, crop x 5 → 32×32
    r->attention = {encoderMap(0, 2, 5), encoderMap(1, 2, 5)};
    if (decoder) {
        AttentionMap c;
        c.site = Site::DecoderCross;
        c.n_heads = 2;
        c.n_q = 3;
        c.n_k = 4;
        c.probs.assign(2 * 3 * 4, 0.25f);
        r->attention.push_back(c);
    }
    return r;
}

Selection sel(Site site, int layer, analysis::HeadSelect heads, int query) { return Selection{site, layer, heads, query}; }

} // namespace

class TestDocument : public QObject {
    Q_OBJECT
private slots:
    void emptyDocumentIsSafe() {
        Document doc;
        QVERIFY(!doc.result());
        QVERIFY(doc.queryMap(doc.selection()).row.empty());
        QVERIFY(doc.matrix(doc.selection()).empty());
        QVERIFY(doc.headMaps(doc.selection(), 0).empty());
        QCOMPARE(doc.headCount(), 0);
        QVERIFY(doc.gridInOriginal().isEmpty());
        QVERIFY(!doc.detr()->active());
        QVERIFY(doc.detr()->detections().empty());
        QSignalSpy spy(&doc, &Document::selectionChanged);
        doc.setSelection(sel(Site::Encoder, 3, {1}, 7)); // nothing to clamp against: taken as is
        QCOMPARE(spy.count(), 1);
        doc.setSelection(sel(Site::Encoder, 3, {1}, 7));
        QCOMPARE(spy.count(), 1); // unchanged: no signal
    }

    void freshModelOpensOnLastLayerMeanOfHeadsCls() {
        Document doc;
        doc.setModel(std::make_shared<FakeModel>(), "fake");
        QSignalSpy selSpy(&doc, &Document::selectionChanged), resSpy(&doc, &Document::resultChanged);
        doc.setSelection(sel(Site::Encoder, 0, {0}, 3)); // no result yet: kept, overridden by the fresh model
        doc.setResult(makeResult(), Tensor());
        QCOMPARE(resSpy.count(), 1);
        QCOMPARE(doc.selection(), sel(Site::Encoder, 1, {-1, analysis::HeadFusion::Mean}, 0));
        QCOMPARE(selSpy.count(), 2);
        // The next result of the same model keeps what the user chose.
        doc.setSelection(sel(Site::Encoder, 0, {1}, 2));
        doc.setResult(makeResult(), Tensor());
        QCOMPARE(doc.selection(), sel(Site::Encoder, 0, {1}, 2));
        QCOMPARE(selSpy.count(), 3); // the setSelection only; the result changed nothing
    }

    void selectionIsClampedAndEmitsOnlyOnChange() {
        Document doc;
        doc.setModel(std::make_shared<FakeModel>(), "fake");
        doc.setResult(makeResult(), Tensor());
        QSignalSpy spy(&doc, &Document::selectionChanged);
        doc.setSelection(sel(Site::Encoder, 9, {7}, 99)); // 2 layers, 2 heads, 5 tokens
        QCOMPARE(doc.selection(), sel(Site::Encoder, 1, {1}, 4));
        QCOMPARE(spy.count(), 1);
        doc.setSelection(sel(Site::Encoder, 5, {3}, 40)); // clamps to the same selection: no signal
        QCOMPARE(spy.count(), 1);
        doc.setSelection(sel(Site::Encoder, -2, {-1, analysis::HeadFusion::Max}, -5)); // fused keeps head < 0
        QCOMPARE(doc.selection(), sel(Site::Encoder, 0, {-1, analysis::HeadFusion::Max}, 0));
        QCOMPARE(spy.count(), 2);
        doc.setSelection(sel(Site::DecoderCross, 0, {0}, 0)); // a site the result lacks: its first site
        QCOMPARE(doc.selection().site, Site::Encoder);
        // One head: the fusion of the request is not kept (one head is one head).
        doc.setSelection(sel(Site::Encoder, 0, {1, analysis::HeadFusion::Min}, 0));
        QCOMPARE(doc.selection().heads, (analysis::HeadSelect{1, analysis::HeadFusion::Mean}));
        QSignalSpy dispSpy(&doc, &Document::displayChanged);
        DisplayOptions d = doc.display();
        doc.setDisplay(d);
        QCOMPARE(dispSpy.count(), 0);
        d.opacity = 0.3;
        doc.setDisplay(d);
        QCOMPARE(dispSpy.count(), 1);
    }

    void queryMapsAreCoresRowsByHand() {
        Document doc;
        doc.setModel(std::make_shared<FakeModel>(), "fake");
        doc.setResult(makeResult(), Tensor());
        // layer 1, head 1, query 2: (2)·0.1 + 0.02 + k·0.001 → keys 1..4 (CLS dropped) = 0.221 … 0.224
        const QueryMap one = doc.queryMap(sel(Site::Encoder, 1, {1}, 2));
        QCOMPARE(one.grid_w, 2);
        QCOMPARE(one.grid_h, 2);
        QCOMPARE(one.row.size(), size_t(5));
        for (int i = 0; i < 4; ++i) QVERIFY(std::abs(one.grid[size_t(i)] - (0.22 + (i + 1) * 0.001)) < 1e-6);
        // mean of heads 0 and 1: 0.15 + q·0.01 + k·0.001; query 0, key 3 → 0.153
        const QueryMap mean = doc.queryMap(sel(Site::Encoder, 0, {-1, analysis::HeadFusion::Mean}, 0));
        QVERIFY(std::abs(mean.grid[2] - 0.153) < 1e-6);
        // min over heads = head 0: 0.1 + …; query 4, key 4 → 0.144
        QVERIFY(std::abs(doc.queryMap(sel(Site::Encoder, 0, {-1, analysis::HeadFusion::Min}, 4)).grid[3] - 0.144) < 1e-6);
        // out of range: empty, never a throw
        QVERIFY(doc.queryMap(sel(Site::Encoder, 0, {0}, 5)).row.empty());
        QVERIFY(doc.queryMap(sel(Site::Encoder, 0, {2}, 0)).row.empty());
        const auto heads = doc.headMaps(sel(Site::Encoder, 0, {-1}, 1), 1); // layer 1, query 1
        QCOMPARE(heads.size(), size_t(2));
        QVERIFY(std::abs(heads[1].grid[0] - 0.211) < 1e-6);
        const auto mat = doc.matrix(sel(Site::Encoder, 1, {0}, 0)); // 5 × 5 of head 0
        QCOMPARE(mat.size(), size_t(25));
        QVERIFY(std::abs(mat[size_t(3 * 5 + 4)] - 0.134) < 1e-6);
        // The grid on the original: crop x 5 of 43 → 64 px; a 2×2 grid of 16 px = 32 input px
        const double s = 64.0 / 43;
        QVERIFY(std::abs(doc.gridInOriginal().x() - 5 * s) < 1e-9);
        QVERIFY(std::abs(doc.gridInOriginal().width() - 32 * s) < 1e-9);
        QVERIFY(std::abs(doc.gridInOriginal().height() - 48.0) < 1e-9); // 32 · 48/32
    }

    void queryMemoryPerSiteKind() {
        Document doc;
        doc.setModel(std::make_shared<FakeModel>(), "fake");
        doc.setResult(makeResult(true), Tensor());
        DetrState* detr = doc.detr();
        QVERIFY(!detr->active()); // not a DETR model: no detections, but the per-kind memory still works
        QSignalSpy qSpy(detr, &DetrState::queriesChanged), selSpy(&doc, &Document::selectionChanged);
        doc.setSelection(sel(Site::Encoder, 0, {0}, 3)); // encoder: token 3
        QCOMPARE(detr->queryFor(Site::Encoder), 3);
        QCOMPARE(qSpy.count(), 1);
        // To the decoder, keeping the number: the decoder's own query (0) comes back.
        doc.setSelection(sel(Site::DecoderCross, 0, {0}, 3));
        QCOMPARE(doc.selection().query, 0);
        QCOMPARE(qSpy.count(), 1); // nothing remembered changed
        doc.setSelection(sel(Site::DecoderCross, 0, {0}, 2));
        QCOMPARE(detr->queryFor(Site::DecoderCross), 2);
        QCOMPARE(qSpy.count(), 2);
        // Back to the encoder with the number unchanged: token 3 again.
        doc.setSelection(sel(Site::Encoder, 0, {0}, 2));
        QCOMPARE(doc.selection().query, 3);
        // An explicit new number on a kind change is taken as it is.
        doc.setSelection(sel(Site::DecoderCross, 0, {0}, 1));
        QCOMPARE(doc.selection().query, 1);
        QCOMPARE(detr->queryFor(Site::Encoder), 3);
        // setQueryFor the other kind: remembered (clamped to its queries), the selection stays.
        const int before = selSpy.count(), q = qSpy.count();
        detr->setQueryFor(Site::Encoder, 99);
        QCOMPARE(detr->queryFor(Site::Encoder), 4);
        QCOMPARE(doc.selection().site, Site::DecoderCross);
        QCOMPARE(selSpy.count(), before);
        QCOMPARE(qSpy.count(), q + 1);
        detr->setQueryFor(Site::Encoder, 4); // unchanged: no signal
        QCOMPARE(qSpy.count(), q + 1);
        // setQueryFor the shown kind moves the selection.
        detr->setQueryFor(Site::DecoderCross, 2);
        QCOMPARE(doc.selection().query, 2);
        QCOMPARE(selSpy.count(), before + 1);
        QCOMPARE(qSpy.count(), q + 2);
        // The threshold is clamped and signals only on change.
        QSignalSpy dSpy(detr, &DetrState::detectionsChanged);
        detr->setThreshold(2.0f);
        QCOMPARE(detr->threshold(), 1.0f);
        detr->setThreshold(1.0f);
        QCOMPARE(dSpy.count(), 1);
    }
};

QTEST_MAIN(TestDocument)
#include "test_document.moc"
