#include "ui/compare_session.h"

#include "ui/run_controller.h"

#include <QFileInfo>

#include <algorithm>

namespace attnscope::ui {

CompareSession::CompareSession(Document* a, Kind kind, QObject* parent)
    : QObject(parent), a_(a), b_(new Document(this)), kind_(kind) {
    runnerB_ = new RunController(b_, this);
    b_->setDisplay(a_->display());
    connect(a_, &Document::selectionChanged, this, [this] { pushSelection(a_, b_, false); if (!syncing_) emit changed(); });
    connect(b_, &Document::selectionChanged, this, [this] { pushSelection(b_, a_, false); if (!syncing_) emit changed(); });
    // A result on either side: B takes A's selection (a fresh model of B would open on its own).
    for (Document* d : {a_, b_}) {
        connect(d, &Document::resultChanged, this, [this] { pushSelection(a_, b_, true); emit changed(); });
        connect(d, &Document::runStateChanged, this, &CompareSession::changed);
    }
    connect(a_, &Document::displayChanged, this, [this] { b_->setDisplay(a_->display()); emit changed(); });
    connect(a_, &Document::modelChanged, this, [this] { if (kind_ == Kind::Images) followA(); });
    connect(a_, &Document::imageChanged, this, [this] { if (kind_ == Kind::Models) followA(); });
    connect(runnerB_, &RunController::failed, this, [this](const QString& m) { emit failed(tr("B: %1").arg(m)); });
}

CompareSession::~CompareSession() { runnerB_->cancel(); }

QColor CompareSession::sideColour(int i) { return i == 0 ? QColor(0x1f, 0x77, 0xb4) : QColor(0xe0, 0x6a, 0x00); }

QString CompareSession::sideSource(int i) const {
    const Document* d = side(i);
    const QString model = d->model() ? QFileInfo(d->modelPath()).fileName() : tr("no model");
    return QString("%1 · %2").arg(model, d->imageName().isEmpty() ? tr("no image") : d->imageName());
}

QString CompareSession::start(const QString& path) {
    if (kind_ == Kind::Images) {
        if (!a_->model()) return tr("Open a model first: the second image is run with the window's model.");
        b_->setModel(a_->modelPtr(), a_->modelPath());
        runnerB_->openImageFile(QFileInfo(path).absoluteFilePath());
    } else {
        if (!a_->hasImage()) return tr("Open an image first: the second model is run on the window's image.");
        b_->setImage(a_->image(), a_->imageName());
        runnerB_->openModel(QFileInfo(path).absoluteFilePath());
    }
    return {};
}

void CompareSession::followA() {
    if (kind_ == Kind::Images) {
        if (!a_->model()) return;
        b_->setModel(a_->modelPtr(), a_->modelPath());
    } else {
        if (!a_->hasImage()) return;
        b_->setImage(a_->image(), a_->imageName());
    }
    if (b_->model() && b_->hasImage()) runnerB_->rerun();
}

int CompareSession::mapQuery(const TokenLayout& from, const TokenLayout& to, Site site, int q) {
    if (site != Site::Encoder) return q; // DETR object queries: the same slot
    if (q < 0) return -1;
    if (q < from.n_cls) return q < to.n_cls ? q : -1;
    if (q < from.n_cls + from.n_dist) return to.n_dist > 0 ? to.n_cls : -1;
    if (q < from.n_prefix()) {
        const int r = q - from.n_cls - from.n_dist;
        return r < to.n_reg ? to.n_cls + to.n_dist + r : -1;
    }
    if (from.grid_h != to.grid_h || from.grid_w != to.grid_w) return -1;
    const int p = q - from.n_prefix();
    return p < to.grid_h * to.grid_w ? to.n_prefix() + p : -1;
}

Selection CompareSession::mapSelection(const Document& from, const Document& to, const Selection& s) {
    Selection out = s;
    if (!from.result() || !to.result()) return out;
    // DETR's encoder has no prefix and its grid varies with the image: the cell index is its place too.
    const int q = mapQuery(from.result()->layout, to.result()->layout, s.site, s.query);
    out.query = q >= 0 ? q : to.selection().query;
    return out;
}

Selection CompareSession::selectionB() const { return mapSelection(*a_, *b_, a_->selection()); }

void CompareSession::pushSelection(Document* from, Document* to, bool force) {
    if (syncing_ || !from->result() || !to->result()) return;
    // An echo: `from` still holds what the lock set it to (e.g. B clamped A's layer 11 to its last, 5, and
    // announces it late); pushing it back would move A to B's clamp.
    auto& lastFrom = from == a_ ? lastA_ : lastB_;
    if (!force && lastFrom && *lastFrom == from->selection()) return;
    syncing_ = true;
    Selection s = mapSelection(*from, *to, from->selection());
    const auto sites = to->sites();
    if (std::find(sites.begin(), sites.end(), s.site) == sites.end()) s.site = to->selection().site;
    to->setSelection(s); // clamped by `to`; what it lacks is reported by notComparable, not pushed back
    lastA_ = a_->selection();
    lastB_ = b_->selection();
    syncing_ = false;
}

QString CompareSession::notComparable() const {
    if (!a_->result() || !b_->result()) return {};
    const Selection s = a_->selection();
    const QString b = tr("B (%1)").arg(sideSource(1));
    const auto sites = b_->sites();
    if (std::find(sites.begin(), sites.end(), s.site) == sites.end())
        return tr("%1 has no %2.").arg(b, siteTitle(s.site).toLower());
    const AttentionMap* m = b_->map(s.site, s.layer);
    if (!m) return tr("%1 has %2 layers: no layer %3.").arg(b).arg(b_->layerCount(s.site)).arg(s.layer);
    if (!s.heads.fused() && s.heads.head >= m->n_heads)
        return tr("%1 has %2 heads: no head %3.").arg(b).arg(m->n_heads).arg(s.heads.head);
    if (mapQuery(a_->result()->layout, b_->result()->layout, s.site, s.query) < 0 ||
        mapQuery(a_->result()->layout, b_->result()->layout, s.site, s.query) >= m->n_q)
        return tr("%1 has no token matching A's %2.").arg(b, a_->tokenName(s.query));
    return {};
}

QString CompareSession::noDifference() const {
    const QString why = notComparable();
    if (!why.isEmpty()) return why;
    const QueryMap qa = a_->queryMap(a_->selection()), qb = b_->queryMap(selectionB());
    if (qa.values().empty() || qb.values().empty()) return tr("No map on one side.");
    if (qa.spatial() != qb.spatial() || qa.grid_h != qb.grid_h || qa.grid_w != qb.grid_w || qa.values().size() != qb.values().size())
        return tr("The key grids differ (A %1×%2, B %3×%4): no A − B.").arg(qa.grid_h).arg(qa.grid_w).arg(qb.grid_h).arg(qb.grid_w);
    return {};
}

} // namespace attnscope::ui
