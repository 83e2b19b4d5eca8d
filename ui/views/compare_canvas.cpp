#include "ui/views/compare_canvas.h"

#include "core/analysis/distance.h"
#include "ui/views/analysis_paint.h"
#include "ui/views/map_paint.h"

#include <QMouseEvent>
#include <QPainter>

#include <algorithm>
#include <cmath>

namespace attnscope::ui {
namespace {
constexpr double kMargin = 10, kTitle = 26, kHeader = 22, kFooter = 20, kBarArea = 74, kGap = 12;
constexpr double kTailArea = 104; // the last colour bar with its tick labels ("−0.025")
const QColor kText(20, 20, 20);

// a − b element-wise (NaN where either is NaN).
std::vector<float> minus(const std::vector<float>& a, const std::vector<float>& b) {
    std::vector<float> d(a.size());
    for (size_t i = 0; i < a.size(); ++i) d[i] = a[i] - b[i];
    return d;
}

// A side's map on the shared scale: over its photo (opacity as displayed; `fade` as the overlay, low
// values transparent), or opaque when the keys are not the image grid.
QImage sequential(const QueryMap& q, float lo, float hi, const DisplayOptions& d, bool fade) {
    if (q.values().empty()) return {};
    const int alpha = q.spatial() ? int(std::lround(std::clamp(d.opacity, 0.3, 1.0) * 255)) : 255;
    return mapToImage(q.values(), q.spatial() ? q.grid_w : int(q.values().size()), q.spatial() ? q.grid_h : 1, lo, hi,
                      d.colormap, alpha, q.spatial() && fade && d.fade);
}

QImage diverging(const std::vector<float>& v, int w, int h, double m) {
    return v.empty() ? QImage() : mapToImage(v, w, h, float(-m), float(m), Colormap::RdBuR);
}

bool sameGrid(const QueryMap& a, const QueryMap& b) {
    return !a.values().empty() && a.spatial() == b.spatial() && a.grid_h == b.grid_h && a.grid_w == b.grid_w &&
           a.values().size() == b.values().size();
}
} // namespace

CompareCanvas::CompareCanvas(CompareSession* session, QWidget* parent) : QWidget(parent), s_(session) {
    setObjectName("compareCanvas");
    setMinimumSize(560, 300);
    setAutoFillBackground(false);
    connect(s_, &CompareSession::changed, this, &CompareCanvas::rebuild);
    rebuild();
}

void CompareCanvas::setMode(Mode m) {
    if (m == mode_) return;
    mode_ = m;
    rebuild();
}

QString CompareCanvas::title() const {
    const Document* a = s_->a();
    const Selection& s = a->selection();
    switch (mode_) {
    case Mode::Map:
        return tr("%1 · layer %2 · %3 · attention of %4").arg(siteTitle(s.site)).arg(s.layer).arg(headsName(s.heads), a->tokenName(s.query));
    case Mode::Heads:
        return tr("%1 · layer %2 · every head · attention of %3").arg(siteTitle(s.site)).arg(s.layer).arg(a->tokenName(s.query));
    case Mode::Distance: return tr("Mean attention distance per layer, and the top classes");
    }
    return {};
}

void CompareCanvas::rebuild() {
    Document* a = s_->a();
    Document* b = s_->b();
    const DisplayOptions& d = a->display();
    qa_ = {};
    qb_ = {};
    diff_.clear();
    headsA_.clear();
    headsB_.clear();
    headDiff_.clear();
    for (auto& v : headImg_) v.clear();
    imgA_ = imgB_ = imgDiff_ = {};
    why_.clear();
    const Selection sa = a->selection(), sb = s_->selectionB();
    if (!a->result() || !b->result()) {
        update();
        return;
    }
    why_ = s_->notComparable();
    if (mode_ == Mode::Map) {
        qa_ = a->queryMap(sa);
        if (why_.isEmpty()) qb_ = b->queryMap(sb);
        auto range = [](const QueryMap& q, float& lo, float& hi) {
            for (float v : q.values())
                if (std::isfinite(v)) lo = std::min(lo, v), hi = std::max(hi, v);
        };
        lo_ = INFINITY, hi_ = -INFINITY;
        range(qa_, lo_, hi_);
        range(qb_, lo_, hi_);
        if (!(hi_ >= lo_)) lo_ = 0, hi_ = 1;
        imgA_ = sequential(qa_, lo_, hi_, d, true);
        imgB_ = sequential(qb_, lo_, hi_, d, true);
        const QString noDiff = s_->noDifference();
        if (noDiff.isEmpty()) {
            diff_ = minus(qa_.values(), qb_.values());
            dm_ = analysis::diverging_range(diff_.data(), diff_.size());
            imgDiff_ = diverging(diff_, qa_.spatial() ? qa_.grid_w : int(diff_.size()), qa_.spatial() ? qa_.grid_h : 1, dm_);
        } else if (why_.isEmpty()) {
            why_ = noDiff;
        }
    } else if (mode_ == Mode::Heads) {
        headsA_ = a->headMaps(sa, sa.layer);
        if (b->map(sb.site, sb.layer) && s_->notComparable().isEmpty()) headsB_ = b->headMaps(sb, sb.layer);
        else if (b->map(sb.site, sb.layer) && b->map(sb.site, sb.layer)->n_heads > 0) { // only a head out of range: all heads still compare
            Selection all = sb;
            all.heads = {-1, analysis::HeadFusion::Mean};
            if (b->queryMap(all).values().size()) headsB_ = b->headMaps(all, sb.layer);
        }
        if (!headsB_.empty()) why_.clear();
        lo_ = INFINITY, hi_ = -INFINITY;
        for (const auto* side : {&headsA_, &headsB_})
            for (const QueryMap& q : *side)
                for (float v : q.values())
                    if (std::isfinite(v)) lo_ = std::min(lo_, v), hi_ = std::max(hi_, v);
        if (!(hi_ >= lo_)) lo_ = 0, hi_ = 1;
        const size_t common = std::min(headsA_.size(), headsB_.size());
        for (size_t h = 0; h < common; ++h)
            if (sameGrid(headsA_[h], headsB_[h])) headDiff_.push_back(minus(headsA_[h].values(), headsB_[h].values()));
        if (headDiff_.size() != common) headDiff_.clear();
        dm_ = 1e-12;
        for (const auto& v : headDiff_) dm_ = std::max(dm_, analysis::diverging_range(v.data(), v.size()));
        for (const QueryMap& q : headsA_) headImg_[0].push_back(sequential(q, lo_, hi_, d, false));
        for (const QueryMap& q : headsB_) headImg_[1].push_back(sequential(q, lo_, hi_, d, false));
        for (size_t h = 0; h < headDiff_.size(); ++h)
            headImg_[2].push_back(diverging(headDiff_[h], headsA_[h].spatial() ? headsA_[h].grid_w : int(headDiff_[h].size()),
                                            headsA_[h].spatial() ? headsA_[h].grid_h : 1, dm_));
        if (headsB_.empty() && why_.isEmpty()) why_ = tr("B has no map here.");
        else if (headDiff_.empty() && !headsB_.empty()) why_ = tr("The key grids differ: no A − B.");
        else if (headsA_.size() != headsB_.size())
            why_ = tr("A has %1 heads, B %2: A − B for heads 0–%3 only.").arg(headsA_.size()).arg(headsB_.size()).arg(common - 1);
    } else {
        for (int i = 0; i < 2; ++i) {
            const RunResult* r = s_->side(i)->result();
            dist_[i] = r && r->layout.grid_h > 0 ? analysis::mean_attention_distances(r->attention, r->layout)
                                                 : std::vector<std::vector<double>>{};
        }
        why_.clear();
    }
    layoutFigure();
    update();
}

std::vector<float> CompareCanvas::shownValues() const {
    if (mode_ == Mode::Map) return diff_;
    if (mode_ == Mode::Heads) {
        std::vector<float> out;
        for (const auto& v : headDiff_) out.insert(out.end(), v.begin(), v.end());
        return out;
    }
    const size_t n = std::max(dist_[0].size(), dist_[1].size());
    std::vector<float> out(2 * n, NAN);
    for (int i = 0; i < 2; ++i)
        for (size_t l = 0; l < dist_[i].size(); ++l) {
            double sum = 0;
            for (double v : dist_[i][l]) sum += v;
            out[i * n + l] = dist_[i][l].empty() ? NAN : float(sum / double(dist_[i][l].size()));
        }
    return out;
}

std::vector<int64_t> CompareCanvas::shownShape() const {
    if (mode_ == Mode::Map) {
        if (diff_.empty()) return {0};
        if (qa_.spatial()) return {qa_.grid_h, qa_.grid_w};
        return {int64_t(diff_.size())};
    }
    if (mode_ == Mode::Heads) {
        if (headDiff_.empty()) return {0};
        if (headsA_[0].spatial()) return {int64_t(headDiff_.size()), headsA_[0].grid_h, headsA_[0].grid_w};
        return {int64_t(headDiff_.size()), int64_t(headDiff_[0].size())};
    }
    return {2, int64_t(std::max(dist_[0].size(), dist_[1].size()))};
}

void CompareCanvas::resizeEvent(QResizeEvent*) { layoutFigure(); }

// Geometry of the figure shown, its panels top-aligned under their headers; figure_ is what they cover
// (exports take it, not the empty room of a large dock).
void CompareCanvas::layoutFigure() {
    figure_ = rect();
    if (mode_ == Mode::Map) {
        const double w = std::floor((width() - 2 * kMargin - kBarArea - kTailArea - 2 * kGap) / 3);
        const double top = kTitle + kHeader, maxH = height() - top - kFooter - kMargin;
        double bottom = top + 40;
        for (int i = 0; i < 2; ++i) {
            const QRectF area(kMargin + i * (w + kGap), top, w, maxH);
            const Document* d = s_->side(i);
            QRectF r = d->hasImage() ? fitRect(d->seenInOriginal().size(), area) : area;
            r.moveTop(top);
            imageRect_[i] = r;
            bottom = std::max(bottom, r.bottom());
        }
        seqBarX_ = kMargin + 2 * w + kGap + 30;
        const QRectF area(kMargin + 2 * (w + kGap) + kBarArea, top, w, maxH);
        if (qa_.spatial()) {
            diffRect_ = fitRect(s_->a()->gridInOriginal().size(), area);
            diffRect_.moveTop(top);
        } else { // keys that are not a grid: a strip
            diffRect_ = QRectF(area.left(), top, area.width(), 40);
        }
        bottom = std::max(bottom, diffRect_.bottom());
        figure_ = QRectF(0, 0, std::min<double>(width(), diffRect_.right() + kTailArea), bottom + kFooter + kMargin);
    } else if (mode_ == Mode::Heads) {
        const int n = int(std::max(headsA_.size(), headsB_.size()));
        const QRectF seen = s_->a()->seenInOriginal();
        const double aspect = seen.isEmpty() ? 1.0 : std::clamp(seen.height() / seen.width(), 0.25, 4.0);
        cellLeft_ = 64;
        const double avail = width() - cellLeft_ - 2 * kBarArea - kMargin;
        const double rowsH = height() - kTitle - 4 * kFooter - kMargin;
        cellW_ = std::max(16.0, std::floor(std::min(avail / std::max(n, 1) - 6, rowsH / 3 / aspect)));
        cellH_ = std::round(cellW_ * aspect);
        const QRectF last = headCell(2, std::max(n, 1) - 1);
        figure_ = QRectF(0, 0, std::min<double>(width(), last.right() + 30 + kBarArea + kMargin), last.bottom() + kFooter + kMargin);
    }
}

QRectF CompareCanvas::headCell(int row, int h) const {
    return {cellLeft_ + h * (cellW_ + 6), kTitle + kFooter + row * (cellH_ + kFooter), cellW_, cellH_};
}

void CompareCanvas::paintSideHeader(QPainter& p, const QRectF& r, int side, const QString& text) const {
    p.save();
    QFont bold = font();
    bold.setBold(true);
    p.setFont(bold);
    const QString letter = side < 2 ? CompareSession::sideLetter(side) : QString("A − B");
    const double bw = QFontMetricsF(bold).horizontalAdvance(letter) + 12;
    const QRectF badge(r.left(), r.center().y() - 9, bw, 18);
    p.setPen(Qt::NoPen);
    p.setBrush(side < 2 ? CompareSession::sideColour(side) : QColor(90, 90, 90));
    p.setRenderHint(QPainter::Antialiasing, true);
    p.drawRoundedRect(badge, 4, 4);
    p.setPen(Qt::white);
    p.drawText(badge, Qt::AlignCenter, letter);
    p.setPen(kText);
    QFont f = font();
    p.setFont(f);
    const QRectF tr_(badge.right() + 6, r.top(), r.right() - badge.right() - 6, r.height());
    p.drawText(tr_, Qt::AlignVCenter | Qt::AlignLeft, QFontMetricsF(f).elidedText(text, Qt::ElideMiddle, tr_.width()));
    p.restore();
}

void CompareCanvas::paintNote(QPainter& p, const QRectF& r, const QString& text) const {
    p.save();
    p.setPen(QColor(110, 110, 110));
    p.drawText(r.adjusted(8, 8, -8, -8), Qt::AlignCenter | Qt::TextWordWrap, text);
    p.restore();
}

QString CompareCanvas::topLine(int side) const {
    const RunResult* r = s_->side(side)->result();
    if (!r) return {};
    if (!r->predictions.empty())
        return tr("top: %1 %2%").arg(QString::fromStdString(r->predictions[0].label)).arg(r->predictions[0].prob * 100, 0, 'f', 1);
    if (!r->detections.empty()) {
        const auto best = std::max_element(r->detections.begin(), r->detections.end(),
                                           [](const Detection& x, const Detection& y) { return x.score < y.score; });
        return tr("best box: %1 %2").arg(QString::fromStdString(best->label)).arg(double(best->score), 0, 'f', 2);
    }
    return tr("no class head (features only)");
}

void CompareCanvas::paintQueryMark(QPainter& p, int side, const QRectF& target) const {
    const Document* d = s_->side(side);
    const Selection s = side == 0 ? d->selection() : s_->selectionB();
    const RunResult* r = d->result();
    const AttentionMap* m = d->map(s.site, s.layer);
    if (!r || !m || s.site != Site::Encoder) return;
    const int start = analysis::query_grid_start(*m, r->layout);
    const int cell = s.query - start;
    const TokenLayout& L = r->layout;
    if (start < 0 || cell < 0 || L.grid_w <= 0 || cell >= L.grid_w * L.grid_h) return;
    const QRectF grid = d->gridInOriginal();
    const double cw = grid.width() / L.grid_w, ch = grid.height() / L.grid_h;
    const QRectF mark = originalToTarget(d->seenInOriginal(), target)
                            .mapRect(QRectF(grid.x() + (cell % L.grid_w) * cw, grid.y() + (cell / L.grid_w) * ch, cw, ch));
    p.save();
    p.setClipRect(target);
    p.setBrush(Qt::NoBrush);
    p.setPen(QPen(Qt::black, 2.5));
    p.drawRect(mark);
    p.setPen(QPen(Qt::white, 1.2));
    p.drawRect(mark);
    p.restore();
}

void CompareCanvas::paintEvent(QPaintEvent*) {
    QPainter p(this);
    p.fillRect(rect(), Qt::white);
    p.setPen(kText);
    const Document* a = s_->a();
    const Document* b = s_->b();
    if (!a->result() || !b->result()) {
        const Document* waiting = a->result() ? b : a;
        paintNote(p, rect(), tr("%1: %2").arg(a->result() ? "B" : "A", waiting->waitingText()));
        return;
    }
    QFont bold = font();
    bold.setBold(true);
    p.setFont(bold);
    p.drawText(QRectF(kMargin, 0, figure_.width() - 2 * kMargin, kTitle), Qt::AlignVCenter | Qt::AlignLeft,
               QFontMetricsF(bold).elidedText(title(), Qt::ElideRight, figure_.width() - 2 * kMargin));
    p.setFont(font());
    if (mode_ == Mode::Map) paintMap(p);
    else if (mode_ == Mode::Heads) paintHeads(p);
    else {
        const QRectF area(kMargin, kTitle, width() - 2 * kMargin, height() - kTitle - kMargin);
        const double split = std::round(area.width() * 0.54);
        paintDistance(p, QRectF(area.left(), area.top(), split - kGap, area.height()));
        paintPredictions(p, QRectF(area.left() + split + kGap, area.top(), area.width() - split - kGap, area.height()));
    }
}

void CompareCanvas::paintMap(QPainter& p) {
    const DisplayOptions& d = s_->a()->display();
    const QueryMap* q[2] = {&qa_, &qb_};
    const QImage* img[2] = {&imgA_, &imgB_};
    for (int i = 0; i < 2; ++i) {
        const Document* doc = s_->side(i);
        const QRectF t = imageRect_[i];
        paintSideHeader(p, QRectF(t.left(), kTitle, t.width(), kHeader - 2), i, s_->sideSource(i));
        if (q[i]->values().empty()) {
            p.setPen(QColor(200, 200, 200));
            p.drawRect(t);
            paintNote(p, t, i == 1 && !why_.isEmpty() ? why_ : tr("No map for this selection."));
        } else if (q[i]->spatial()) {
            paintMapCell(p, t, doc->qimage(), doc->displayScale(), doc->seenInOriginal(), doc->gridInOriginal(), *img[i], d.smooth);
            paintQueryMark(p, i, t);
        } else {
            p.drawImage(QRectF(t.left(), t.center().y() - 20, t.width(), 40), *img[i]);
        }
        p.setPen(kText);
        p.drawText(QRectF(t.left(), t.bottom() + 2, t.width(), kFooter), Qt::AlignLeft | Qt::AlignTop,
                   QFontMetricsF(font()).elidedText(topLine(i), Qt::ElideRight, t.width()));
    }
    const double top = kTitle + kHeader, h = std::max(imageRect_[0].height(), imageRect_[1].height());
    paintColourBar(p, QRectF(seqBarX_, top + 6, 14, std::max(40.0, h - 12)), d.colormap, lo_, hi_, tr("attention (A and B)"), kText);
    // A − B
    paintSideHeader(p, QRectF(diffRect_.left(), kTitle, diffRect_.width(), kHeader - 2), 2,
                    s_->kind() == CompareSession::Kind::Images ? tr("same model, image A minus image B")
                                                               : tr("same image, model A minus model B"));
    if (diff_.empty()) {
        const QRectF area(diffRect_.left(), top, diffRect_.width(), std::max(h, diffRect_.height()));
        p.setPen(QColor(200, 200, 200));
        p.drawRect(area);
        paintNote(p, area, why_.isEmpty() ? tr("No difference map.") : why_);
        return;
    }
    p.save();
    p.setRenderHint(QPainter::SmoothPixmapTransform, false); // cells as they are: a difference is per token
    p.drawImage(diffRect_, imgDiff_);
    p.restore();
    p.setPen(QPen(QColor(120, 120, 120), 1));
    p.setBrush(Qt::NoBrush);
    p.drawRect(diffRect_);
    p.setPen(kText);
    p.drawText(QRectF(diffRect_.left(), diffRect_.bottom() + 2, diffRect_.width(), kFooter), Qt::AlignLeft | Qt::AlignTop,
               tr("red: A attends more · blue: B attends more"));
    const QRectF bar(diffRect_.right() + 30, diffRect_.top() + 6, 14, std::max(40.0, diffRect_.height() - 12));
    paintColourBar(p, bar, Colormap::RdBuR, -dm_, dm_, tr("A − B"), kText);
}

void CompareCanvas::mousePressEvent(QMouseEvent* e) {
    // A click on a patch of A's or B's map makes it the query of both (the lock carries it across).
    if (mode_ != Mode::Map || e->button() != Qt::LeftButton) return;
    for (int i = 0; i < 2; ++i) {
        Document* d = s_->side(i);
        const RunResult* r = d->result();
        if (!r || !imageRect_[i].contains(e->position()) || r->layout.grid_w <= 0) continue;
        const Selection s = d->selection();
        const AttentionMap* m = d->map(s.site, s.layer);
        const int start = m ? analysis::query_grid_start(*m, r->layout) : -1;
        if (start < 0 || s.site != Site::Encoder) return;
        const QPointF orig = originalToTarget(d->seenInOriginal(), imageRect_[i]).inverted().map(e->position());
        const QRectF g = d->gridInOriginal();
        if (!g.contains(orig)) return;
        const int col = std::min(int((orig.x() - g.x()) / g.width() * r->layout.grid_w), r->layout.grid_w - 1);
        const int row = std::min(int((orig.y() - g.y()) / g.height() * r->layout.grid_h), r->layout.grid_h - 1);
        Selection next = s;
        next.query = start + row * r->layout.grid_w + col;
        d->setSelection(next);
        return;
    }
}

} // namespace attnscope::ui
