// Attention rollout (Abnar & Zuidema; vit-explain's head fusion and discard ratio) laid over the
// original image: the CLS row of Â_L·…·Â_1 over the patches, computed by core's attention_rollout
// off the GUI thread. Fusion, discard ratio and depth (all layers, or up to the selected one) are
// live controls; hover reads a patch out; the values are exported as .npy like any map.
#pragma once

#include "core/analysis/rollout.h"
#include "ui/export.h"
#include "ui/views/view.h"

#include <QImage>

class QCheckBox;
class QComboBox;
class QLabel;
class QSlider;

namespace attnscope::ui {

class BackgroundTask;

class RolloutCanvas : public QWidget, public FigureCanvas {
    Q_OBJECT
public:
    RolloutCanvas(Document* doc, QWidget* parent);
    void setMap(std::vector<float> values, int grid_w, int grid_h, const QString& layers);
    void setMessage(const QString& text); // empty state / error; clears the map
    const std::vector<float>& values() const { return values_; }
    int gridW() const { return gw_; }
    int gridH() const { return gh_; }
    QString message() const { return message_; }
    QRectF gridRect() const;            // the patch grid, widget coordinates
    QString readout() const { return readout_; }
    QRect figureRect() const override; // the image and its colour bar (exports)
    void setExporting(bool) override {} // nothing interactive is drawn inside the figure

protected:
    void paintEvent(QPaintEvent*) override;
    void mouseMoveEvent(QMouseEvent* e) override;
    void leaveEvent(QEvent*) override;

private:
    QRectF imageRect() const;
    void recolour();
    void updateReadout();

    Document* doc_;
    std::vector<float> values_; // [gh, gw]
    int gw_ = 0, gh_ = 0;
    float lo_ = 0, hi_ = 1;
    QImage mapImage_;
    QString title_, message_, readout_;
    QPointF hoverPos_{-1, -1}; // the pointer, (-1, -1) when it left
};

class RolloutView : public View {
    Q_OBJECT
public:
    explicit RolloutView(Document* doc, QWidget* parent = nullptr);
    QString viewId() const override { return "rollout"; }
    QString title() const override { return tr("Rollout"); }
    QWidget* canvas() override;
    std::vector<float> shownValues() const override;
    std::vector<int64_t> shownShape() const override;
    QString caption() const override;
    bool busy() const override;
    bool besideImage() const override { return true; }
    QSize screenshotSize() const override { return {760, 600}; }

    RolloutCanvas* rolloutCanvas() const { return canvas_; }
    // What the shown map was computed with: options and the encoder layers used (0…lastLayer).
    analysis::RolloutOptions shownOptions() const { return shownOpt_; }
    int shownLastLayer() const { return shownLast_; }

protected:
    void refresh() override;

private:
    analysis::RolloutOptions options() const;
    void optionsChanged();

    QComboBox* fusion_;
    QSlider* discard_;
    QLabel* discardLabel_;
    QCheckBox* upTo_;
    RolloutCanvas* canvas_;
    BackgroundTask* task_;
    analysis::RolloutOptions shownOpt_;
    int shownLast_ = -1;
    const RunResult* shownResult_ = nullptr;
};

} // namespace attnscope::ui
