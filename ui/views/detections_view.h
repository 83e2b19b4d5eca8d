// Detections (DETR, YOLOS): the boxes above a score threshold over the original image, and two rows of
// per-head maps under it — the selected detection's decoder cross-attention in the chosen decoder layer
// (the colab's figure, for every head and any layer; YOLOS: its detection token's row of the encoder
// self-attention over the patch keys in the chosen layer) and the encoder self-attention at a reference
// point (the colab's "reference points"). Click a box (or the list) to select a detection; click
// outside the boxes, Shift+click or right-click to move the reference point (drag to sweep it); click a
// head map to open it in the other views. The selected detection and the reference point are the
// Document's decoder and encoder queries, so the attention overlay and model view follow them.
#pragma once

#include "ui/views/detections_canvas.h"

class QLabel;
class QListWidget;
class QSlider;
class QSpinBox;

namespace attnscope::ui {

class DetectionsView : public View {
    Q_OBJECT
public:
    explicit DetectionsView(Document* doc, QWidget* parent = nullptr);
    QString viewId() const override { return "detections"; }
    QString title() const override { return tr("Detections (DETR, YOLOS)"); }
    QWidget* canvas() override;
    // The selected detection's cross-attention: [heads, grid_h, grid_w].
    std::vector<float> shownValues() const override;
    std::vector<int64_t> shownShape() const override;
    QString caption() const override; // model, image, threshold, the two rows' layers, query and reference cell
    QSize screenshotSize() const override { return {1600, 820}; } // wide: the image beside the two rows of head maps
    DetectionsCanvas* detectionsCanvas() const { return canvas_; }

private:
    void syncControls();   // result changed: layer ranges
    void syncList();       // detections changed
    void syncListSelection();

    DetectionsCanvas* canvas_;
    QSlider* threshold_;
    QLabel* thresholdLabel_;
    QLabel* count_;
    QLabel* decLayerLabel_;  // "Decoder layer" (DETR) or "Detection layer" (YOLOS)
    QSpinBox* decLayer_;
    QSpinBox* encLayer_;
    QListWidget* list_;
};

// The detections as JSON (model, image, threshold, sizes, feature grid, stride, detections as the CLI's
// result.json writes them).
QByteArray detectionsJson(const Document& doc);

} // namespace attnscope::ui
