#include "ui/views/detections_canvas.h"

#include "ui/detr_state.h"
#include "ui/views/analysis_paint.h"

#include "core/session.h"
#include "ui/settings.h"
#include "ui/views/map_paint.h"

#include <QFileInfo>
#include <QKeyEvent>
#include <QMouseEvent>
#include <QPaintEngine>
#include <QPainter>

#include <cmath>

namespace attnscope::ui {
namespace {
constexpr double kMargin = 8, kGap = 4, kBar = 74, kRowTitle = 18, kHeadLabel = 14, kRowGap = 8, kHint = 20;
} // namespace

QString detectionText(const Detection& d) {
    return QString("%1 %2").arg(QString::fromStdString(d.label.empty() ? std::to_string(d.label_id) : d.label))
        .arg(double(d.score), 0, 'f', 2);
}

QString detectionCountText(size_t n) {
    return n == 0 ? QObject::tr("no detection") : n == 1 ? QObject::tr("1 detection") : QObject::tr("%1 detections").arg(n);
}

DetectionsCanvas::DetectionsCanvas(Document* doc, QWidget* parent) : QWidget(parent), doc_(doc), detr_(doc->detr()) {
    setObjectName("detectionsCanvas");
    setFocusPolicy(Qt::StrongFocus);
    setMinimumSize(360, 300);
    setToolTip(tr("Click a box to select a detection · Shift+click or right-click: encoder reference point "
                  "(drag to move it) · click a head map to open it in the other views · ←/→ previous/next detection"));
    connect(doc_, &Document::resultChanged, this, &DetectionsCanvas::rebuild);
    connect(doc_, &Document::imageChanged, this, &DetectionsCanvas::rescaleThumb);
    connect(doc_, &Document::runStateChanged, this, qOverload<>(&QWidget::update)); // emptyMessage()
    connect(detr_, &DetrState::queriesChanged, this, &DetectionsCanvas::rebuild);
    connect(detr_, &DetrState::detectionsChanged, this, &DetectionsCanvas::rebuild); // titles say "below threshold"
    connect(doc_, &Document::displayChanged, this, &DetectionsCanvas::recolour);
    connect(doc_, &Document::selectionChanged, this, [this] { // the outline of the map shown elsewhere, when it moves
        const QPoint now = shownCell();
        if (now != outlined_) update();
    });
}

void DetectionsCanvas::setLayers(int decoderLayer, int encoderLayer) {
    if (decoderLayer == decLayer_ && encoderLayer == encLayer_) return;
    decLayer_ = decoderLayer;
    encLayer_ = encoderLayer;
    rebuild();
}

QString DetectionsCanvas::emptyMessage() const {
    const Model* m = doc_->model();
    if (!m) return tr("Open a DETR model or a YOLOS model (Ctrl+M) and an image (Ctrl+O) to see its detections.");
    const ModelInfo& i = m->info();
    if (i.task != Task::Detect)
        return tr("Detections need a DETR model (facebook/detr-resnet-50, -101 or -dc5: a Hugging Face folder or the "
                  "authors' .pth) or a YOLOS model (hustvl/yolos-tiny, -small: a Hugging Face folder).\n\n%1 is a %2 model: "
                  "its attention is in the overlay and the model view.")
            .arg(QFileInfo(doc_->modelPath()).fileName(), QString(family_name(i.family)));
    if (!doc_->hasImage()) return tr("Open an image (Ctrl+O), paste one (Ctrl+V) or drop it here to run %1.")
                                  .arg(QFileInfo(doc_->modelPath()).fileName());
    if (!detr_->active()) return doc_->waitingText();
    return {};
}

int DetectionsCanvas::encoderGridStart() const {
    const AttentionMap* m = doc_->map(Site::Encoder, 0);
    return m && doc_->result() ? std::max(0, analysis::query_grid_start(*m, doc_->result()->layout)) : 0;
}

int DetectionsCanvas::selectedQuery() const {
    return detr_->active() && doc_->layerCount(detr_->detectionSite()) > 0 ? detr_->queryFor(Site::DecoderCross) : -1;
}

int DetectionsCanvas::referenceToken() const {
    return detr_->active() && doc_->layerCount(Site::Encoder) > 0 ? detr_->queryFor(Site::Encoder) : -1;
}

void DetectionsCanvas::rebuild() {
    for (Row& r : rows_) r = Row{};
    const RunResult* res = doc_->result();
    gridW_ = res ? res->layout.grid_w : 0;
    gridH_ = res ? res->layout.grid_h : 0;
    // Every head's map over the feature grid (core's head_maps), then their mean.
    auto fill = [&](Row& row, const AttentionMap* m, int q) {
        if (!m || q < 0 || q >= m->n_q || analysis::key_grid_start(*m, res->layout) < 0) return false;
        for (auto& h : analysis::head_maps(*m, res->layout, q)) row.maps.push_back(std::move(h.grid));
        row.maps.push_back(analysis::query_attention(*m, res->layout, q, {-1, analysis::HeadFusion::Mean}).grid);
        return true;
    };
    if (detr_->active()) {
        const int q = selectedQuery();
        const auto& all = detr_->allQueries();
        // DETR: the query's decoder cross-attention row; YOLOS: its detection token's encoder row (patch keys)
        if (fill(rows_[0], doc_->map(detr_->detectionSite(), decLayer_), q < 0 ? -1 : detr_->detectionRow(q))) {
            const int d = detr_->detectionOfQuery(q);
            QString who = tr("object query %1").arg(q); // DETR's name; YOLOS's detection tokens play the part
            if (d >= 0) who = tr("%1 (query %2)").arg(detectionText(detr_->detections()[size_t(d)])).arg(q);
            else if (q < int(all.size()))
                who = tr("query %1: %2, below the %3 threshold").arg(q).arg(detectionText(all[size_t(q)]))
                          .arg(double(detr_->threshold()), 0, 'f', 2);
            rows_[0].title = detr_->detectionSite() == Site::Encoder
                                 ? tr("Layer %1 detection token %2 over the patches · %3").arg(decLayer_).arg(q).arg(who)
                                 : tr("Decoder layer %1 cross-attention · %2").arg(decLayer_).arg(who);
        }
        const int t = referenceToken();
        if (fill(rows_[1], doc_->map(Site::Encoder, encLayer_), t)) {
            const int cell = t - encoderGridStart();
            rows_[1].title = tr("Encoder layer %1 self-attention at the reference point · cell %2 (row %3, col %4)")
                                 .arg(encLayer_).arg(cell).arg(cell / gridW_).arg(cell % gridW_);
        }
    }
    recolour();
}

void DetectionsCanvas::recolour() {
    const DisplayOptions& d = doc_->display();
    for (Row& row : rows_) {
        row.images.clear();
        if (row.maps.empty()) continue;
        row.lo = row.maps[0][0];
        row.hi = row.lo;
        for (const auto& m : row.maps) {
            const auto [lo, hi] = valueRange(m.data(), m.size());
            row.lo = std::min(row.lo, lo);
            row.hi = std::max(row.hi, hi);
        }
        // One scale per row, so the heads can be compared (the colour bar says which).
        const int alpha = int(std::lround(std::clamp(d.opacity, 0.25, 1.0) * 255));
        for (const auto& m : row.maps) row.images.push_back(mapToImage(m, gridW_, gridH_, row.lo, row.hi, d.colormap, alpha)); // small multiples: flat, as the DETR colab's head maps
    }
    update();
}

void DetectionsCanvas::rescaleThumb() {
    const QImage& img = doc_->qimage();
    thumb_ = {};
    thumbScale_ = 1;
    if (img.isNull()) return;
    if (img.width() <= 480) {
        thumb_ = img;
        return;
    }
    thumb_ = img.scaledToWidth(480, Qt::SmoothTransformation);
    thumbScale_ = double(thumb_.width()) / doc_->imageSize().width(); // thumb pixels per original pixel
}

void DetectionsCanvas::resizeEvent(QResizeEvent* e) {
    QWidget::resizeEvent(e);
    update();
}

int DetectionsCanvas::rowCount() const { return int(!rows_[0].maps.empty()) + int(!rows_[1].maps.empty()); }

DetectionsCanvas::Layout DetectionsCanvas::layout() const {
    Layout L;
    L.left = kMargin;
    const QImage& img = doc_->qimage();
    const int rows = rowCount();
    double rowsHeight = 0;
    // A wide canvas (an export, a screenshot) puts the image on the left and the head rows beside it, so
    // the maps get the height; a narrow one stacks them under the image.
    const double fullH = height() - kHint - 2 * kMargin;
    const bool side = !img.isNull() && rows > 0 && width() > 1.3 * height();
    if (side) {
        const double w = std::min(width() * 0.42, fullH * img.width() / img.height());
        L.image = QRectF(kMargin, kMargin + (fullH - w * img.height() / img.width()) / 2, w, w * img.height() / img.width());
        L.left = L.image.right() + 3 * kMargin;
    }
    if (rows > 0) {
        const size_t n = std::max(rows_[0].maps.size(), rows_[1].maps.size()); // heads + mean
        const QRectF seen = doc_->seenInOriginal();
        const double aspect = seen.isEmpty() ? 0.75 : seen.height() / seen.width();
        // The maps on one line, or wrapped on two when that makes them larger (a tall, narrow dock);
        // the rows take 60% of the height at most.
        const double budget = (side ? fullH : (height() - kHint) * 0.6) / rows - kRowTitle - kRowGap;
        for (int lines : {1, 2}) {
            const int cols = int((n + size_t(lines) - 1) / size_t(lines));
            double w = (width() - L.left - kMargin - kBar) / cols - kGap, h = w * aspect;
            const double maxH = budget / lines - kHeadLabel;
            if (h > maxH) {
                h = std::max(12.0, maxH);
                w = h / aspect;
            }
            if (w > L.cellW * 1.15) { // wrapping must pay for itself
                L.cellW = w;
                L.cellH = h;
                L.cols = cols;
                L.lines = lines;
            }
        }
        rowsHeight = rows * rowHeight(L);
    }
    // The image on top, as large as the rows leave room for; the rows right under it.
    double y = kMargin;
    if (side) {
        y = kMargin + std::max(0.0, (fullH - rowsHeight) / 2);
    } else if (!img.isNull()) {
        const QRectF area(kMargin, kMargin, width() - 2 * kMargin, height() - kHint - rowsHeight - 2 * kMargin);
        const double s = std::min(area.width() / img.width(), area.height() / img.height());
        const QSizeF sz(img.width() * s, img.height() * s);
        L.image = QRectF(QPointF(area.center().x() - sz.width() / 2, area.top()), sz);
        y = L.image.bottom() + kMargin;
    }
    for (int r = 0; r < 2; ++r)
        if (!rows_[r].maps.empty()) {
            L.rowTop[r] = y;
            y += rowHeight(L);
        }
    return L;
}

double DetectionsCanvas::rowHeight(const Layout& L) { return kRowTitle + L.lines * (kHeadLabel + L.cellH) + kRowGap; }

QRectF DetectionsCanvas::cellRect(const Layout& L, int row, int head) {
    const int line = head / std::max(1, L.cols), col = head % std::max(1, L.cols);
    return {L.left + col * (L.cellW + kGap), L.rowTop[row] + kRowTitle + kHeadLabel + line * (kHeadLabel + L.cellH), L.cellW, L.cellH};
}

QRect DetectionsCanvas::figureRect() const { // the image and the rows, without the hint line and blank bands
    const Layout L = layout();
    QRectF r = L.image;
    for (int row = 0; row < 2; ++row)
        if (!rows_[row].maps.empty())
            r = r.united(QRectF(L.left, L.rowTop[row], width() - L.left - kMargin, rowHeight(L)));
    if (r.isEmpty()) return rect().adjusted(0, 0, 0, -int(kHint));
    return QRectF(0, r.top() - kMargin, width(), r.height() + 2 * kMargin).toAlignedRect().intersected(rect());
}

QRectF DetectionsCanvas::imageRect() const { return layout().image; }

QRectF DetectionsCanvas::boxRect(int i) const {
    const auto& dets = detr_->detections();
    if (i < 0 || i >= int(dets.size())) return {};
    const auto& b = dets[size_t(i)].box_xyxy;
    return originalToTarget(QRectF(QPointF(0, 0), doc_->imageSize()), imageRect()).mapRect(QRectF(QPointF(b[0], b[1]), QPointF(b[2], b[3])));
}

QRectF DetectionsCanvas::headCellRect(int row, int head) const {
    if (row < 0 || row > 1 || rows_[row].maps.empty() || head < 0 || head >= int(rows_[row].maps.size())) return {};
    const Layout L = layout();
    return cellRect(L, row, head);
}

int DetectionsCanvas::cellAt(QPointF pos) const {
    const RunResult* r = doc_->result();
    const QRectF img = imageRect();
    const QRectF g = doc_->gridInOriginal();
    if (!r || !img.contains(pos) || g.isEmpty() || gridW_ == 0) return -1;
    const QPointF o = originalToTarget(QRectF(QPointF(0, 0), doc_->imageSize()), img).inverted().map(pos);
    const int c = std::clamp(int(std::floor((o.x() - g.x()) / (g.width() / gridW_))), 0, gridW_ - 1);
    const int row = std::clamp(int(std::floor((o.y() - g.y()) / (g.height() / gridH_))), 0, gridH_ - 1);
    return encoderGridStart() + row * gridW_ + c;
}

QPointF DetectionsCanvas::cellCentre(int token) const {
    const RunResult* r = doc_->result();
    const QRectF g = doc_->gridInOriginal();
    if (!r || gridW_ == 0 || g.isEmpty()) return {};
    const int cell = token - encoderGridStart();
    const double cw = g.width() / gridW_, ch = g.height() / gridH_;
    const QPointF o(g.x() + (cell % gridW_ + 0.5) * cw, g.y() + (cell / gridW_ + 0.5) * ch);
    return originalToTarget(QRectF(QPointF(0, 0), doc_->imageSize()), imageRect()).map(o);
}

void DetectionsCanvas::paintEvent(QPaintEvent*) {
    QPainter p(this);
    p.fillRect(rect(), palette().window());
    const QString empty = emptyMessage();
    if (!empty.isEmpty()) {
        p.setPen(palette().color(QPalette::PlaceholderText));
        QFont f = p.font();
        f.setPointSizeF(f.pointSizeF() * 1.15);
        p.setFont(f);
        p.drawText(rect().adjusted(30, 20, -30, -20), Qt::AlignCenter | Qt::TextWordWrap, empty);
        return;
    }
    const Layout L = layout();
    outlined_ = shownCell();
    const QImage& img = doc_->qimage();
    const QRectF full(QPointF(0, 0), doc_->imageSize());
    const QTransform toWidget = originalToTarget(full, L.image);
    photo_.paint(p, L.image, img);
    // The selected query's box when it is below the threshold: dashed, so it is not taken for a detection.
    const int q = selectedQuery();
    if (q >= 0 && detr_->detectionOfQuery(q) < 0 && q < int(detr_->allQueries().size())) {
        const auto& b = detr_->allQueries()[size_t(q)].box_xyxy;
        p.save();
        p.setClipRect(L.image);
        p.setPen(QPen(Qt::white, 2, Qt::DashLine));
        p.drawRect(toWidget.mapRect(QRectF(QPointF(b[0], b[1]), QPointF(b[2], b[3]))));
        p.restore();
    }
    // Reference point: its feature cell, outlined, and a dot at the centre (under the boxes and their labels).
    const int t = referenceToken();
    const QRectF g = doc_->gridInOriginal();
    if (t >= 0 && gridW_ > 0 && !g.isEmpty()) {
        const int cell = t - encoderGridStart();
        const double cw = g.width() / gridW_, ch = g.height() / gridH_;
        const QRectF c = toWidget.mapRect(QRectF(g.x() + (cell % gridW_) * cw, g.y() + (cell / gridW_) * ch, cw, ch));
        p.save();
        p.setClipRect(L.image);
        p.setRenderHint(QPainter::Antialiasing, true);
        p.setPen(QPen(Qt::black, 3));
        p.setBrush(Qt::NoBrush);
        p.drawRect(c);
        p.drawEllipse(c.center(), 4, 4);
        p.setPen(QPen(Qt::white, 1.5));
        p.drawRect(c);
        p.setBrush(QColor(255, 60, 60));
        p.drawEllipse(c.center(), 4, 4);
        p.restore();
    }
    if (!detr_->changes().empty()) { // interventions: before → after, both ways, and the key
        paintDetectionChanges(p, detr_->changes(), toWidget, L.image);
        paintChangesLegend(p, L.image.topLeft() + QPointF(6, 6));
    } else {
        paintDetections(p, detr_->detections(), toWidget, q, L.image);
    }
    if (detr_->detections().empty()) {
        const QString text = tr("No detection scores above %1: lower the threshold").arg(double(detr_->threshold()), 0, 'f', 2);
        QFont f = p.font();
        f.setBold(true);
        p.setFont(f);
        const QRectF band(L.image.left(), L.image.top(), L.image.width(), QFontMetricsF(f).height() + 8);
        p.fillRect(band, QColor(0, 0, 0, 140));
        p.setPen(Qt::white);
        p.drawText(band, Qt::AlignCenter, text);
        p.setFont(font());
    }
    for (int r = 0; r < 2; ++r)
        if (!rows_[r].maps.empty()) paintRow(p, r, L);
    p.setPen(palette().color(QPalette::Text));
    p.drawText(QRectF(kMargin, height() - kHint, width() - 2 * kMargin, kHint), Qt::AlignVCenter | Qt::AlignLeft,
               p.fontMetrics().elidedText(tr("Click a box to select a detection · Shift+click or right-click: encoder "
                                             "reference point · click a head map to open it"),
                                          Qt::ElideRight, int(width() - 2 * kMargin)));
}

void DetectionsCanvas::paintRow(QPainter& p, int r, const Layout& L) {
    const Row& row = rows_[r];
    const int heads = int(row.maps.size()) - 1;
    const QColor text = palette().color(QPalette::Text);
    QFont bold = font();
    bold.setBold(true);
    p.setFont(bold);
    p.setPen(text);
    p.drawText(QRectF(L.left, L.rowTop[r], width() - L.left - kMargin, kRowTitle), Qt::AlignLeft | Qt::AlignVCenter,
               QFontMetricsF(bold).elidedText(row.title, Qt::ElideRight, width() - L.left - kMargin));
    QFont small = font();
    small.setPointSizeF(small.pointSizeF() * 0.85);
    p.setFont(small);
    const QRectF seen = doc_->seenInOriginal(), grid = doc_->gridInOriginal();
    for (int h = 0; h <= heads; ++h) {
        const QRectF cell = cellRect(L, r, h);
        p.setPen(text);
        p.drawText(QRectF(cell.left(), cell.top() - kHeadLabel, cell.width(), kHeadLabel), Qt::AlignHCenter | Qt::AlignBottom,
                   h < heads ? tr("head %1").arg(h) : tr("mean"));
        if (p.paintEngine() && p.paintEngine()->type() == QPaintEngine::Raster) { // the photo scaled once per cell size
            if (cellPhoto_.size() != cell.size().toSize() || cellPhotoKey_ != doc_->qimage().cacheKey()) {
                const QRectF src(seen.x() * thumbScale_, seen.y() * thumbScale_, seen.width() * thumbScale_, seen.height() * thumbScale_);
                cellPhoto_ = thumb_.copy(src.toAlignedRect()).scaled(cell.size().toSize(), Qt::IgnoreAspectRatio, Qt::SmoothTransformation);
                cellPhotoKey_ = doc_->qimage().cacheKey();
            }
            p.drawImage(cell.topLeft(), cellPhoto_);
            paintMapCell(p, cell, QImage(), 1.0, seen, grid, row.images[size_t(h)], doc_->display().smooth);
        } else { // SVG / PDF: from the photo itself
            paintMapCell(p, cell, thumb_, thumbScale_, seen, grid, row.images[size_t(h)], doc_->display().smooth);
        }
        const QTransform toCell = originalToTarget(seen, cell);
        p.save();
        p.setClipRect(cell);
        p.setRenderHint(QPainter::Antialiasing, true);
        if (r == 0) { // the detection's box
            const int q = selectedQuery();
            const int d = detr_->detectionOfQuery(q);
            const auto& b = d >= 0 ? detr_->detections()[size_t(d)].box_xyxy : detr_->allQueries()[size_t(q)].box_xyxy;
            p.setPen(QPen(d >= 0 ? detectionColor(d) : QColor(Qt::white), 1.5, d >= 0 ? Qt::SolidLine : Qt::DashLine));
            p.drawRect(toCell.mapRect(QRectF(QPointF(b[0], b[1]), QPointF(b[2], b[3]))));
        } else { // the reference point
            const int cellIdx = referenceToken() - encoderGridStart();
            const QPointF c = toCell.map(QPointF(grid.x() + (cellIdx % gridW_ + 0.5) * grid.width() / gridW_,
                                                 grid.y() + (cellIdx / gridW_ + 0.5) * grid.height() / gridH_));
            p.setPen(QPen(Qt::black, 1));
            p.setBrush(QColor(255, 60, 60));
            p.drawEllipse(c, 3, 3);
        }
        p.restore();
        // The map the other views show, when it is this one.
        const bool shown = shownCell() == QPoint(h, r);
        p.setPen(QPen(shown ? palette().color(QPalette::Highlight) : palette().color(QPalette::Mid), shown ? 3 : 1));
        p.setBrush(Qt::NoBrush);
        p.drawRect(shown ? cell.adjusted(-1.5, -1.5, 1.5, 1.5) : cell);
    }
    const QRectF bar(L.left + L.cols * (L.cellW + kGap) + 14, L.rowTop[r] + kRowTitle + kHeadLabel, 12,
                     L.lines * (L.cellH + kHeadLabel) - kHeadLabel);
    paintColourBar(p, bar, doc_->display().colormap, row.lo, row.hi, QString(), text, -1);
    p.setFont(font());
}

QPoint DetectionsCanvas::shownCell() const {
    const Selection& sel = doc_->selection();
    for (int r = 0; r < 2; ++r) {
        const int heads = int(rows_[r].maps.size()) - 1;
        if (heads < 1 || sel.site != (r == 0 ? detr_->detectionSite() : Site::Encoder) || sel.layer != (r == 0 ? decLayer_ : encLayer_) ||
            sel.query != (r == 0 ? detr_->detectionRow(selectedQuery()) : referenceToken()))
            continue;
        if (!sel.heads.fused()) return {sel.heads.head, r};
        if (sel.heads.fusion == analysis::HeadFusion::Mean) return {heads, r};
    }
    return {-1, -1};
}

void DetectionsCanvas::setReference(QPointF pos) {
    const int t = cellAt(pos);
    if (t >= 0) detr_->setQueryFor(Site::Encoder, t);
}

void DetectionsCanvas::mousePressEvent(QMouseEvent* e) {
    setFocus();
    if (!emptyMessage().isEmpty()) return;
    const QPointF pos = e->position();
    // A head map: open it in the overlay / model view / matrix.
    for (int r = 0; r < 2; ++r)
        for (int h = 0; h < int(rows_[r].maps.size()); ++h)
            if (headCellRect(r, h).contains(pos) && e->button() == Qt::LeftButton) {
                Selection s = doc_->selection();
                s.site = r == 0 ? detr_->detectionSite() : Site::Encoder;
                s.layer = r == 0 ? decLayer_ : encLayer_;
                s.query = r == 0 ? detr_->detectionRow(selectedQuery()) : referenceToken();
                s.heads = h + 1 == int(rows_[r].maps.size()) ? analysis::HeadSelect{-1, analysis::HeadFusion::Mean} : analysis::HeadSelect{h};
                doc_->setSelection(s);
                return;
            }
    const QRectF img = imageRect();
    if (!img.contains(pos)) return;
    const bool referenceOnly = e->button() == Qt::RightButton || (e->modifiers() & Qt::ShiftModifier);
    if (e->button() == Qt::LeftButton && !referenceOnly) {
        const QPointF o = originalToTarget(QRectF(QPointF(0, 0), doc_->imageSize()), img).inverted().map(pos);
        const int d = detectionAt(detr_->detections(), o);
        if (d >= 0) return detr_->setQueryFor(Site::DecoderCross, detr_->detections()[size_t(d)].query);
    }
    if (e->button() == Qt::LeftButton || e->button() == Qt::RightButton) {
        setReference(pos);
        dragging_ = true;
    }
}

void DetectionsCanvas::mouseMoveEvent(QMouseEvent* e) {
    if (dragging_ && (e->buttons() & (Qt::LeftButton | Qt::RightButton))) setReference(e->position());
}

void DetectionsCanvas::mouseReleaseEvent(QMouseEvent*) { dragging_ = false; }

void DetectionsCanvas::keyPressEvent(QKeyEvent* e) {
    const auto& dets = detr_->detections();
    if ((e->key() != Qt::Key_Left && e->key() != Qt::Key_Right) || dets.empty()) return QWidget::keyPressEvent(e);
    const int n = int(dets.size());
    const int cur = detr_->detectionOfQuery(selectedQuery());
    const int next = cur < 0 ? 0 : (cur + (e->key() == Qt::Key_Right ? 1 : n - 1)) % n;
    detr_->setQueryFor(Site::DecoderCross, dets[size_t(next)].query);
}

} // namespace attnscope::ui
