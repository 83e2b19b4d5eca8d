// Predictions: what the model says about the image. A classifier's top-k classes with probability bars,
// DETR's detections (label, score bar, box), a headless model's (DINO) feature summary: dimension, norm,
// spread and its largest components. Clicking a class (a detection's class) makes it the Document's
// target class, the class that class-specific views explain; the target is drawn highlighted.
#pragma once

#include "ui/export.h"
#include "ui/views/view.h"

#include <QString>

#include <limits>

#include <vector>

namespace attnscope::ui {

class PredictionsCanvas : public QWidget, public FigureCanvas {
    Q_OBJECT
public:
    explicit PredictionsCanvas(Document* doc, QWidget* parent = nullptr);

    // One bar of the figure: a class (label >= 0, clickable) or a feature component (label -1).
    struct Row {
        int label = -1;    // class index: the target class a click sets
        int query = -1;    // DETR: the detection's object query
        QString name;      // "tabby, tabby cat", "cat  (412, 80)–(530, 230)", "component 17"
        double value = 0;  // probability / score (0…1), or a component's value
        QString valueText; // "36.2%", "0.93", "-4.1"; with interventions "12.0% (was 36.2%, −24.2 pp)"
        double before = std::numeric_limits<double>::quiet_NaN(); // with interventions: the clean run's value
    };
    const std::vector<Row>& rows() const { return rows_; }
    QString heading() const { return heading_; }
    QString summary() const { return summary_; } // headless models: "384 dimensions · L2 norm …"
    QRectF rowRect(int i) const;                 // widget coordinates of row i (for tests and clicks)
    QSize sizeHint() const override { return {520, 360}; }
    QRect figureRect() const override; // the heading, the bars and the target line (exports)
    void setExporting(bool) override {}

protected:
    void paintEvent(QPaintEvent*) override;
    void mousePressEvent(QMouseEvent* e) override;

private:
    void rebuild();
    void addBefore(const RunResult& r); // interventions: the clean run's values beside these
    void addBoxChanges(const RunResult& r); // DETR with interventions: scores before → after per query
    double rowHeight() const;
    double top() const;

    Document* doc_;
    std::vector<Row> rows_;
    QString heading_, summary_;
    bool signedBars_ = false; // feature components: bars left / right of a zero line
};

class PredictionsView : public View {
    Q_OBJECT
public:
    static constexpr int kTopK = 10;
    explicit PredictionsView(Document* doc, QWidget* parent = nullptr);
    QString viewId() const override { return "predictions"; }
    QString title() const override { return tr("Predictions"); }
    QWidget* canvas() override { return canvas_; }
    std::vector<float> shownValues() const override; // the bars' values, top first
    std::vector<int64_t> shownShape() const override { return {int64_t(canvas_->rows().size())}; }
    QString caption() const override;
    QSize screenshotSize() const override { return {640, 420}; }
    PredictionsCanvas* predictions() const { return canvas_; }

private:
    PredictionsCanvas* canvas_;
};

} // namespace attnscope::ui
