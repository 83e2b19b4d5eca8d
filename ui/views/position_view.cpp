#include "ui/views/position_view.h"

#include "core/analysis/embeddings.h"
#include "ui/settings.h"
#include "ui/views/analysis_paint.h"

#include <QCheckBox>
#include <QFileInfo>
#include <QLabel>
#include <QMouseEvent>
#include <QPainter>

#include <cmath>

namespace attnscope::ui {
namespace an = attnscope::analysis;

namespace {
constexpr int kTitle = 26, kLeft = 54, kBottom = 44, kReadout = PosSimCanvas::kReadoutLine, kBar = 92, kBetween = 70;
}

PosSimCanvas::PosSimCanvas(Document* doc, QWidget* parent) : QWidget(parent), doc_(doc) {
    setObjectName("posSimCanvas");
    setMouseTracking(true);
    setFocusPolicy(Qt::ClickFocus);
    setMinimumSize(360, 300);
    setToolTip(tr("Tile (row, col) shows how similar the learned position embedding of that input patch is to the "
                  "embedding of every other patch position. Hover a tile to enlarge it, click to pin it."));
    connect(doc_, &Document::displayChanged, this, &PosSimCanvas::recolour);
}

void PosSimCanvas::setSimilarity(Tensor sim, int grid_h, int grid_w, const QString& title) {
    sim_ = std::move(sim);
    gh_ = grid_h;
    gw_ = grid_w;
    title_ = title;
    message_.clear();
    hover_ = pinned_ = detailCell_ = {-1, -1};
    recolour();
}

void PosSimCanvas::setMessage(const QString& text) {
    sim_ = Tensor();
    gh_ = gw_ = 0;
    tiles_.clear();
    message_ = text;
    hover_ = pinned_ = detailCell_ = {-1, -1};
    update();
}

void PosSimCanvas::setTileRange(bool perTile) {
    perTile_ = perTile;
    recolour();
}

std::vector<float> PosSimCanvas::tileValues(int row, int col) const {
    const int G = gh_ * gw_;
    if (row < 0 || row >= gh_ || col < 0 || col >= gw_) return {};
    const float* src = sim_.ptr() + size_t(row * gw_ + col) * G;
    return {src, src + G};
}

std::pair<float, float> PosSimCanvas::tileRange(int row, int col) const {
    if (!perTile_) return {-1.0f, 1.0f};
    const int G = gh_ * gw_;
    return valueRange(sim_.ptr() + size_t(row * gw_ + col) * G, size_t(G));
}

void PosSimCanvas::recolour() {
    tiles_.clear();
    const int G = gh_ * gw_;
    for (int t = 0; t < G && !sim_.empty(); ++t) {
        const auto [lo, hi] = tileRange(t / gw_, t % gw_);
        tiles_.push_back(mapToImage(sim_.ptr() + size_t(t) * G, gw_, gh_, lo, hi, doc_->display().colormap));
    }
    update();
}

bool PosSimCanvas::sideBySide() const { return width() >= 1.35 * height() && width() >= 640; }

PosSimCanvas::Geometry PosSimCanvas::geometry() const {
    Geometry g;
    if (gh_ == 0) return g;
    const double availH = height() - kTitle - kBottom - kReadout;
    double S, used;
    if (sideBySide()) {
        S = std::min(availH, (width() - kLeft - kBetween - kBar - 12) / 2.0);
        used = kLeft + S + kBetween + S + kBar;
    } else {
        S = std::min(availH, width() - kLeft - kBar - 12.0);
        used = kLeft + S + kBar;
    }
    S = std::max(S, 40.0);
    const double x0 = std::max(0.0, (width() - used) / 2) + kLeft;
    const int G = std::max(gh_, gw_);
    g.gap = std::clamp(S / G * 0.08, 1.0, 4.0);
    g.tile = (S - (G - 1) * g.gap) / G;
    g.grid = QRectF(x0, kTitle, gw_ * g.tile + (gw_ - 1) * g.gap, gh_ * g.tile + (gh_ - 1) * g.gap);
    if (sideBySide()) g.detail = QRectF(g.grid.right() + kBetween, kTitle, S, S * gh_ / double(gw_));
    const QRectF& right = g.detail.isEmpty() ? g.grid : g.detail;
    g.bar = QRectF(right.right() + 30, right.top() + 4, 16, std::max(40.0, right.height() - 8));
    return g;
}

QRectF PosSimCanvas::tileRect(int row, int col) const {
    const Geometry g = geometry();
    return {g.grid.x() + col * (g.tile + g.gap), g.grid.y() + row * (g.tile + g.gap), g.tile, g.tile};
}

QPoint PosSimCanvas::tileAt(QPointF pos) const {
    const Geometry g = geometry();
    if (gh_ == 0 || !g.grid.adjusted(0, 0, 0.5, 0.5).contains(pos)) return {-1, -1};
    const int c = std::min(int((pos.x() - g.grid.x()) / (g.tile + g.gap)), gw_ - 1);
    const int r = std::min(int((pos.y() - g.grid.y()) / (g.tile + g.gap)), gh_ - 1);
    return {c, r};
}

QPoint PosSimCanvas::detailTile() const {
    if (gh_ == 0) return {-1, -1};
    if (pinned_.x() >= 0) return pinned_;
    if (hover_.x() >= 0) return hover_;
    return sideBySide() ? QPoint(gw_ / 2, gh_ / 2) : QPoint(-1, -1);
}

QRectF PosSimCanvas::magnifierRect(QPoint tile) const {
    const Geometry g = geometry();
    const double side = g.grid.width() * 0.5;
    const double x = tile.x() < gw_ / 2 ? g.grid.right() - side - 4 : g.grid.left() + 4;
    const double y = tile.y() < gh_ / 2 ? g.grid.bottom() - side - 10 : g.grid.top() + 30;
    return {x, y, side, side * gh_ / double(gw_)};
}

void PosSimCanvas::paintDetail(QPainter& p, const QRectF& r, QPoint tile, bool axes) {
    const int row = tile.y(), col = tile.x();
    const QColor text = palette().color(QPalette::Text);
    p.setRenderHint(QPainter::SmoothPixmapTransform, false);
    p.drawImage(r, tiles_[size_t(row * gw_ + col)]);
    const double cw = r.width() / gw_, ch = r.height() / gh_;
    if (cw >= 12) { // faint cell grid when the cells are large enough to read
        p.setPen(QPen(QColor(255, 255, 255, 50), 0));
        for (int c = 1; c < gw_; ++c) p.drawLine(QPointF(r.x() + c * cw, r.top()), QPointF(r.x() + c * cw, r.bottom()));
        for (int k = 1; k < gh_; ++k) p.drawLine(QPointF(r.left(), r.y() + k * ch), QPointF(r.right(), r.y() + k * ch));
    }
    const QRectF self(r.x() + col * cw, r.y() + row * ch, cw, ch); // the reference position itself
    p.setPen(QPen(Qt::black, 3));
    p.drawRect(self);
    p.setPen(QPen(Qt::white, 1.5));
    p.drawRect(self);
    if (detailCell_.x() >= 0) {
        p.setPen(QPen(Qt::white, 1.5, Qt::DashLine));
        p.drawRect(QRectF(r.x() + detailCell_.x() * cw, r.y() + detailCell_.y() * ch, cw, ch));
    }
    p.setPen(QPen(text, 1));
    p.drawRect(r);
    QFont f = font();
    p.setFont(f);
    p.drawText(QRectF(r.x() - 40, r.y() - 24, r.width() + 80, 24), Qt::AlignCenter,
               axes ? tr("Position (row %1, col %2) vs every position").arg(row).arg(col) : tr("row %1, col %2").arg(row).arg(col));
    if (!axes) return;
    f.setPointSizeF(f.pointSizeF() * 0.85);
    p.setFont(f);
    const int step = std::max(1, int(std::ceil(22.0 / std::min(cw, ch))));
    for (int c = 0; c < gw_; c += step)
        p.drawText(QRectF(r.x() + c * cw - 15, r.bottom() + 2, cw + 30, 16), Qt::AlignHCenter | Qt::AlignTop, QString::number(c));
    for (int k = 0; k < gh_; k += step)
        p.drawText(QRectF(r.x() - 34, r.y() + k * ch, 30, ch), Qt::AlignRight | Qt::AlignVCenter, QString::number(k));
    p.setFont(font());
}

void PosSimCanvas::paintEvent(QPaintEvent*) {
    QPainter p(this);
    p.fillRect(rect(), palette().window());
    if (!message_.isEmpty() || tiles_.empty())
        return paintPlaceholder(p, rect(), message_.isEmpty() ? tr("Open a model to see its position embeddings.") : message_, palette());
    const QColor text = palette().color(QPalette::Text);
    const Geometry g = geometry();
    // The tiles (nearest: a cell is one position).
    p.setRenderHint(QPainter::SmoothPixmapTransform, false);
    for (int r = 0; r < gh_; ++r)
        for (int c = 0; c < gw_; ++c) p.drawImage(tileRect(r, c), tiles_[size_t(r * gw_ + c)]);
    const QPoint shown = detailTile();
    if (shown.x() >= 0) { // the enlarged tile, framed black and white to stand out on any colour map
        const QRectF t = tileRect(shown.y(), shown.x()).adjusted(-1.5, -1.5, 1.5, 1.5);
        p.setPen(QPen(Qt::black, pinned_.x() >= 0 ? 4 : 3));
        p.drawRect(t);
        p.setPen(QPen(Qt::white, pinned_.x() >= 0 ? 2 : 1.5));
        p.drawRect(t);
    }
    // Axes as in the paper: rows down the left, columns along the bottom.
    QFont f = font();
    f.setPointSizeF(f.pointSizeF() * 0.85);
    p.setFont(f);
    p.setPen(text);
    const int step = std::max(1, int(std::ceil(20.0 / (g.tile + g.gap))));
    for (int c = 0; c < gw_; c += step) {
        const QRectF t = tileRect(0, c);
        p.drawText(QRectF(t.x() - 15, g.grid.bottom() + 2, t.width() + 30, 16), Qt::AlignHCenter | Qt::AlignTop, QString::number(c));
    }
    for (int r = 0; r < gh_; r += step) {
        const QRectF t = tileRect(r, 0);
        p.drawText(QRectF(g.grid.x() - 30, t.y(), 26, t.height()), Qt::AlignRight | Qt::AlignVCenter, QString::number(r));
    }
    p.setFont(font());
    p.drawText(QRectF(g.grid.x(), g.grid.bottom() + 18, g.grid.width(), 20), Qt::AlignCenter, tr("Input patch column"));
    p.save();
    p.translate(g.grid.x() - 40, g.grid.center().y());
    p.rotate(-90);
    p.drawText(QRectF(-g.grid.height() / 2, -18, g.grid.height(), 18), Qt::AlignCenter, tr("Input patch row"));
    p.restore();
    // The enlarged tile: its own panel, or a magnifier over the grid.
    if (!g.detail.isEmpty() && shown.x() >= 0) {
        paintDetail(p, g.detail, shown, true);
    } else if (shown.x() >= 0) {
        const QRectF m = magnifierRect(shown);
        p.fillRect(m.adjusted(-6, -26, 6, 6), palette().color(QPalette::Window));
        p.setPen(QPen(palette().color(QPalette::Mid), 1));
        p.drawRect(m.adjusted(-6, -26, 6, 6));
        paintDetail(p, m, shown, false);
    }
    const auto [lo, hi] = shown.x() >= 0 ? tileRange(shown.y(), shown.x()) : tileRange(0, 0);
    paintColourBar(p, g.bar, doc_->display().colormap, perTile_ && shown.x() < 0 ? -1 : lo, perTile_ && shown.x() < 0 ? 1 : hi,
                   perTile_ ? tr("Cosine similarity (enlarged tile's range)") : tr("Cosine similarity"), text);
    p.setPen(text);
    const QString line = !readout_.isEmpty() ? readout_ : tr("Hover a tile to enlarge it · click to pin it · cell (r, c) of tile (row, col): cos(E_row,col, E_r,c)");
    p.drawText(QRectF(8, height() - kReadout, width() - 16, kReadout), Qt::AlignVCenter | Qt::AlignLeft,
               p.fontMetrics().elidedText(line, Qt::ElideRight, width() - 16));
}

void PosSimCanvas::mouseMoveEvent(QMouseEvent* e) {
    if (gh_ == 0) return;
    const Geometry g = geometry();
    QString text;
    QPoint cell{-1, -1};
    const QPoint tile = tileAt(e->position());
    if (tile.x() >= 0) {
        hover_ = tile;
        text = tr("input patch row %1, col %2 — %3").arg(tile.y()).arg(tile.x()).arg(pinned_ == tile ? tr("pinned; click to unpin") : tr("click to pin"));
    } else if (!g.detail.isEmpty() && g.detail.contains(e->position())) {
        cell = QPoint(std::min(int((e->position().x() - g.detail.x()) / g.detail.width() * gw_), gw_ - 1),
                      std::min(int((e->position().y() - g.detail.y()) / g.detail.height() * gh_), gh_ - 1));
        const QPoint t = detailTile();
        const float v = sim_.data[size_t(t.y() * gw_ + t.x()) * (gh_ * gw_) + size_t(cell.y() * gw_ + cell.x())];
        text = tr("cosine similarity of positions (row %1, col %2) and (row %3, col %4): %5")
                   .arg(t.y()).arg(t.x()).arg(cell.y()).arg(cell.x()).arg(double(v), 0, 'f', 3);
    } else if (!sideBySide()) {
        hover_ = {-1, -1}; // the magnifier follows the pointer only over the grid
    }
    detailCell_ = cell;
    readout_ = text;
    update();
}

void PosSimCanvas::mousePressEvent(QMouseEvent* e) {
    const QPoint tile = tileAt(e->position());
    if (e->button() != Qt::LeftButton || tile.x() < 0) return;
    pinned_ = pinned_ == tile ? QPoint(-1, -1) : tile;
    update();
}

void PosSimCanvas::leaveEvent(QEvent*) {
    if (!sideBySide()) hover_ = {-1, -1};
    detailCell_ = {-1, -1};
    readout_.clear();
    update();
}

PositionView::PositionView(Document* doc, QWidget* parent)
    : CheckpointView(doc, parent,
                     {tr("Open a model to see its position embeddings."),
                      tr("This model (detr) has no learned position embeddings to compare: DETR adds fixed sine "
                         "encodings to its ResNet features."),
                      tr("Reading the position embeddings…"), tr("Cannot read the position embeddings: %1")}) {
    setObjectName("positionView");
    tileRange_ = new QCheckBox(tr("Each tile to its own range"), this);
    tileRange_->setObjectName("posSimTileRange");
    tileRange_->setChecked(Settings().posSimTileRange());
    tileRange_->setToolTip(tr("Off: one scale −1…1 for all tiles, as in the ViT paper. On: each tile spans its own "
                              "min…max, which shows the structure of every tile"));
    canvas_ = new PosSimCanvas(doc, this);
    canvas_->setTileRange(tileRange_->isChecked());
    place({tileRange_}, canvas_);
    connect(tileRange_, &QCheckBox::toggled, this, [this](bool on) {
        Settings().setPosSimTileRange(on);
        canvas_->setTileRange(on);
    });
    invalidate(); // the empty state, on first show
}

QWidget* PositionView::canvas() { return canvas_; }
void PositionView::showMessage(const QString& text) { canvas_->setMessage(text); }

BackgroundTask::Deliver PositionView::compute(const PatchEmbedding& pe, const QString& family) const {
    PosSimCanvas* canvas = canvas_;
    if (pe.pos.empty())
        return [canvas, family] { canvas->setMessage(tr("This model (%1) has no learned position embeddings to compare.").arg(family)); };
    Tensor sim = an::position_similarity(pe.pos);
    return [canvas, sim = std::move(sim), gh = pe.pos_grid_h, gw = pe.pos_grid_w]() mutable {
        canvas->setSimilarity(std::move(sim), gh, gw, tr("Position-embedding similarity · %1×%2 patch positions").arg(gh).arg(gw));
    };
}

std::vector<float> PositionView::shownValues() const { return canvas_->similarity().data; }
std::vector<int64_t> PositionView::shownShape() const { // [row, col, row', col']
    return {canvas_->gridH(), canvas_->gridW(), canvas_->gridH(), canvas_->gridW()};
}

QString PositionView::caption() const {
    const QString model = doc_->model() ? QFileInfo(doc_->modelPath()).fileName() : tr("no model");
    return tr("%1 · position-embedding cosine similarity, %2×%3 positions · %4")
        .arg(model).arg(canvas_->gridH()).arg(canvas_->gridW())
        .arg(tileRange_->isChecked() ? tr("each tile to its own range") : tr("scale −1…1"));
}

} // namespace attnscope::ui
