#include "ui/views/explain_canvas.h"

#include "ui/views/analysis_paint.h"
#include "ui/views/map_paint.h"

#include <QMouseEvent>
#include <QPainter>

#include <cmath>

namespace attnscope::ui {

namespace {
constexpr int kTitle = 24, kReadout = 24, kBarArea = 78, kGap = 10;
}

ExplainCanvas::ExplainCanvas(Document* doc, QWidget* parent) : QWidget(parent), doc_(doc) {
    setObjectName("explainCanvas");
    setMouseTracking(true);
    setMinimumSize(320, 240);
    setToolTip(tr("Which patches made the model predict the chosen class, by the chosen method. Colours: min…max of "
                  "each map's raw values (one colour bar per map). Hover a patch for its value."));
    connect(doc_, &Document::displayChanged, this, &ExplainCanvas::recolour);
    connect(doc_, &Document::imageChanged, this, qOverload<>(&QWidget::update));
}

void ExplainCanvas::setPanels(std::vector<Panel> panels) {
    panels_ = std::move(panels);
    message_.clear();
    recolour();
    updateReadout();
}

void ExplainCanvas::setMessage(const QString& text) {
    panels_.clear();
    message_ = text;
    recolour();
    readout_.clear();
}

void ExplainCanvas::recolour() {
    images_.assign(panels_.size(), QImage());
    ranges_.assign(panels_.size(), {0.0f, 1.0f});
    const DisplayOptions& d = doc_->display();
    for (size_t i = 0; i < panels_.size(); ++i) {
        const Panel& p = panels_[i];
        if (p.values.empty() || p.values.size() != size_t(p.gw) * p.gh) continue;
        ranges_[i] = valueRange(p.values.data(), p.values.size());
        images_[i] = mapToImage(p.values, p.gw, p.gh, ranges_[i].first, ranges_[i].second, d.colormap,
                                int(std::lround(d.opacity * 255)), d.fade);
    }
    update();
}

bool ExplainCanvas::stacked() const {
    const int n = int(panels_.size());
    const QSizeF img = doc_->qimage().size();
    if (n < 2 || img.isEmpty()) return false;
    auto scale = [&](double w, double h) { return std::min((w - kBarArea) / img.width(), (h - kTitle) / img.height()); };
    const double tall = height() - kReadout - 8.0;
    return scale(width() - 2.0 * kGap, (tall - kGap * (n - 1)) / n) > scale((width() - kGap * (n + 1.0)) / n, tall);
}

QRectF ExplainCanvas::panelRect(int i) const {
    const int n = std::max<int>(1, int(panels_.size()));
    const double tall = height() - kReadout - 8.0;
    if (stacked()) { // a narrow, tall dock: one map above the other, each larger than side by side
        const double h = (tall - kGap * (n - 1)) / n;
        return {double(kGap), 4 + i * (h + kGap), width() - 2.0 * kGap, h};
    }
    const double w = (width() - kGap * (n + 1)) / double(n);
    return {kGap + i * (w + kGap), 4.0, w, tall};
}

QRectF ExplainCanvas::imageRect(int i) const {
    const QImage& img = doc_->qimage();
    if (img.isNull()) return {};
    const QRectF p = panelRect(i);
    QRectF r = fitRect(img.size(), QRectF(p.left(), p.top() + kTitle, p.width() - kBarArea, p.height() - kTitle));
    r.moveTop(p.top() + kTitle); // under its title, not centred far below it
    return r;
}

QRectF ExplainCanvas::barRect(int i) const {
    const QRectF img = imageRect(i);
    return {img.right() + 22, img.top() + 6, 14, std::max(40.0, img.height() - 12)};
}

QRectF ExplainCanvas::gridRect(int i) const {
    if (i < 0 || i >= int(panels_.size()) || images_[size_t(i)].isNull()) return {};
    const QRectF img = imageRect(i), g = doc_->gridInOriginal();
    if (img.isEmpty() || g.isEmpty()) return {};
    const double s = img.width() / doc_->imageSize().width(); // original pixels → widget
    return {img.x() + g.x() * s, img.y() + g.y() * s, g.width() * s, g.height() * s};
}

QRectF ExplainCanvas::boxRect(int i) const {
    if (i < 0 || i >= int(panels_.size()) || panels_[size_t(i)].box.isEmpty() || gridRect(i).isEmpty()) return {};
    return originalToTarget(QRectF(QPointF(0, 0), doc_->imageSize()), imageRect(i)).mapRect(panels_[size_t(i)].box);
}

QRect ExplainCanvas::figureRect() const {
    if (panels_.empty()) return rect();
    QRectF all;
    for (int i = 0; i < int(panels_.size()); ++i) {
        const QRectF img = imageRect(i);
        const QRectF p = panelRect(i);
        all |= QRectF(p.left(), p.top(), img.isEmpty() ? p.width() : barRect(i).right() + 48 - p.left(), p.height());
    }
    return all.adjusted(-6, -4, 6, 4).toAlignedRect().intersected(rect());
}

void ExplainCanvas::paintEvent(QPaintEvent*) {
    QPainter p(this);
    p.fillRect(rect(), palette().window());
    if (panels_.empty() || doc_->qimage().isNull())
        return paintPlaceholder(p, rect(), message_.isEmpty() ? tr("Open a model and an image to explain its prediction.") : message_,
                                palette());
    const QColor text = palette().color(QPalette::Text);
    for (int i = 0; i < int(panels_.size()); ++i) {
        const Panel& panel = panels_[size_t(i)];
        const QRectF pr = panelRect(i), img = imageRect(i);
        QFont bold = font();
        bold.setBold(true);
        p.setFont(bold);
        p.setPen(text);
        p.drawText(QRectF(pr.left(), pr.top(), pr.width(), kTitle), Qt::AlignLeft | Qt::AlignVCenter,
                   QFontMetricsF(bold).elidedText(panel.title, Qt::ElideRight, pr.width()));
        p.setFont(font());
        p.setRenderHint(QPainter::SmoothPixmapTransform, true);
        p.drawImage(img, doc_->qimage());
        const QRectF g = gridRect(i);
        if (g.isEmpty()) {
            p.fillRect(img, QColor(0, 0, 0, 140));
            p.setPen(Qt::white);
            p.drawText(img.adjusted(12, 12, -12, -12), Qt::AlignCenter | Qt::TextWordWrap,
                       panel.message.isEmpty() ? tr("No map") : panel.message);
            continue;
        }
        paintMapOverPhoto(p, img, g, images_[size_t(i)], panel.gw, panel.gh, doc_->display().smooth, doc_->display().grid);
        if (const QRectF box = boxRect(i); !box.isEmpty())
            paintDetectionBox(p, box, panel.boxTag, panel.boxColour, img, panel.boxDashed);
        paintColourBar(p, barRect(i), doc_->display().colormap, ranges_[size_t(i)].first, ranges_[size_t(i)].second,
                       panel.barLabel, text);
    }
    if (exporting_) return;
    p.setPen(text);
    const QString line = !readout_.isEmpty() ? readout_ : tr("Hover a patch for its value · colours: min…max of each map");
    p.drawText(QRectF(8, height() - kReadout, width() - 16, kReadout), Qt::AlignVCenter | Qt::AlignLeft,
               p.fontMetrics().elidedText(line, Qt::ElideRight, width() - 16));
}

void ExplainCanvas::mouseMoveEvent(QMouseEvent* e) {
    hoverPos_ = e->position();
    updateReadout();
}

void ExplainCanvas::leaveEvent(QEvent*) {
    hoverPos_ = {-1, -1};
    updateReadout();
}

void ExplainCanvas::updateReadout() {
    QString text;
    for (int i = 0; i < int(panels_.size()) && hoverPos_.x() >= 0; ++i) {
        const Panel& panel = panels_[size_t(i)];
        int r = 0, c = 0;
        if (!gridCellAt(gridRect(i), panel.gw, panel.gh, hoverPos_, r, c)) continue;
        const float v = panel.values[size_t(r * panel.gw + c)], hi = ranges_[size_t(i)].second;
        text = tr("%1 · patch row %2, col %3 · relevance %4 · %5% of this map's max")
                   .arg(panel.barLabel).arg(r).arg(c).arg(double(v), 0, 'g', 4)
                   .arg(hi > 0 ? 100.0 * v / hi : 0.0, 0, 'f', 1);
    }
    if (text != readout_) {
        readout_ = text;
        update();
    }
}

} // namespace attnscope::ui
