// DINO's thresholded attention masks (DINO §4.2, visualize_attention.py), every head of the last
// layer side by side on the part of the original image the model saw: each head keeps the smallest
// set of patches holding `mass` of its CLS attention (core's dino_masks). The mass slider is live;
// the head's own attention can be shown under its mask; click a head to select it everywhere.
#pragma once

#include "core/tensor/tensor.h"
#include "ui/export.h"
#include "ui/views/view.h"

#include <QImage>

class QCheckBox;
class QLabel;
class QSlider;

namespace attnscope::ui {

class MasksCanvas : public QWidget, public FigureCanvas {
    Q_OBJECT
public:
    MasksCanvas(Document* doc, QWidget* parent);
    void setMasks(Tensor masks, std::vector<std::vector<float>> attention, int layer, double mass, bool showAttention);
    void setMessage(const QString& text);
    const Tensor& masks() const { return masks_; }   // [heads, gh, gw], 0/1
    int layer() const { return layer_; }
    QRectF panelRect(int head) const;                // the image part of head's panel, widget coordinates
    QRect figureRect() const override;               // the panels, without the read-out / hint line (exports)
    void setExporting(bool) override {}
    int headAt(QPointF pos) const;
    QString readout() const { return readout_; }

protected:
    void paintEvent(QPaintEvent*) override;
    void mouseMoveEvent(QMouseEvent* e) override;
    void mousePressEvent(QMouseEvent* e) override;
    void leaveEvent(QEvent*) override;
    void resizeEvent(QResizeEvent*) override;

private:
    void layoutPanels();
    void recolour();
    void updateReadout();

    Document* doc_;
    Tensor masks_;
    std::vector<std::vector<float>> attention_; // per head, CLS → patches
    std::vector<QImage> heat_;
    int layer_ = -1;
    double mass_ = 0.6;
    bool showAttention_ = true;
    QString message_, readout_;
    QPointF hoverPos_{-1, -1}; // the pointer, (-1, -1) when it left
    int cols_ = 1, rows_ = 1;
    QRectF seen_;      // original-image pixels the grid covers
    double cellW_ = 0, cellH_ = 0;
};

class MasksView : public View {
    Q_OBJECT
public:
    explicit MasksView(Document* doc, QWidget* parent = nullptr);
    QString viewId() const override { return "masks"; }
    QString title() const override { return tr("DINO masks"); }
    QWidget* canvas() override;
    std::vector<float> shownValues() const override;
    std::vector<int64_t> shownShape() const override;
    QString caption() const override;
    bool besideImage() const override { return true; }
    QSize screenshotSize() const override;
    MasksCanvas* masksCanvas() const { return canvas_; }
    double mass() const;

protected:
    void refresh() override;

private:
    QSlider* mass_;
    QLabel* massLabel_;
    QCheckBox* showAttention_;
    MasksCanvas* canvas_;
};

} // namespace attnscope::ui
