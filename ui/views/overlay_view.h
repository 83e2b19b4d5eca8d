// Attention overlay: the ORIGINAL image with the selected map laid back through the preprocessing
// geometry (undo resize + crop). Click a patch to make it the query; hover for a read-out;
// ←/→ head, ↑/↓ layer.
#pragma once

#include "ui/export.h"
#include "ui/views/map_paint.h"
#include "ui/views/mask_brush.h"
#include "ui/views/view.h"

#include <QImage>
#include <QPointF>
#include <QRectF>

class QAction;

namespace attnscope::ui {

class OverlayCanvas : public QWidget, public FigureCanvas {
    Q_OBJECT
public:
    explicit OverlayCanvas(Document* doc, QWidget* parent = nullptr);
    const QueryMap& shown() const { return shown_; }
    QPoint patchAt(QPointF widgetPos) const; // (col, row) or (-1, -1)
    QRectF imageRect() const;                // the original image, in widget coordinates
    QRectF gridRect() const;                 // the patch grid, in widget coordinates
    QString readout() const { return readout_; }
    QRect figureRect() const override;        // the image and its colour bar (exports)
    void setExporting(bool on) override { exporting_ = on; }
    QString statusLine() const;              // the line under the image: hover read-out, query, or why no map
    // Mask brush mode (issue 18): a drag paints / erases patches to mask (set to 0 in the normalised input);
    // Esc leaves it. The view's toolbar toggles it.
    MaskBrush& brush() { return brush_; }
    void setBrushActive(bool on);

signals:
    void hovered(const QString& text);
    void brushActiveChanged(bool on);

protected:
    void paintEvent(QPaintEvent*) override;
    void mouseMoveEvent(QMouseEvent* e) override;
    void mousePressEvent(QMouseEvent* e) override;
    void mouseReleaseEvent(QMouseEvent* e) override;
    void leaveEvent(QEvent*) override;
    void keyPressEvent(QKeyEvent* e) override;
    bool event(QEvent* e) override; // Esc leaves the brush mode before the window's Cancel sees it
    // Right-click: switch the shown head off / on, or any head of the shown layer (issue 18).
    void contextMenuEvent(QContextMenuEvent* e) override;

private:
    void refresh();
    bool updateReadout(); // from hoverPos_ and the map shown now; whether it changed
    void paintColorBar(QPainter& p, const QRectF& r);
    void paintQueryKeys(QPainter& p, const QRectF& img); // DETR decoder self-attention
    void paintEmptyState(QPainter& p);

    Document* doc_;
    QueryMap shown_;
    QImage mapImage_;
    float lo_ = 0, hi_ = 1;
    QPoint hover_{-1, -1};
    QPointF hoverPos_{-1, -1}; // the pointer over the canvas, (-1, -1) when it left
    QString readout_;
    ScaledImageCache photo_;
    bool exporting_ = false;
    MaskBrush brush_{doc_};
    QRectF barRect(const QRectF& img) const; // the colour bar beside the image
};

class OverlayView : public View {
    Q_OBJECT
public:
    explicit OverlayView(Document* doc, QWidget* parent = nullptr);
    QString viewId() const override { return "overlay"; }
    QString title() const override { return tr("Attention overlay"); }
    QWidget* canvas() override { return canvas_; }
    std::vector<float> shownValues() const override;
    std::vector<int64_t> shownShape() const override;
    OverlayCanvas* overlay() const { return canvas_; }
    QAction* brushAction() const { return brushAction_; }

private:
    OverlayCanvas* canvas_;
    QAction* brushAction_;
};

} // namespace attnscope::ui
