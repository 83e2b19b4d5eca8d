// The comparison view: a header saying which side is which (A: the window's model and image, B: the
// other image or model) with the figure choice, the comparison figure (CompareCanvas), and Export /
// Leave. The selection bar and the arrow keys drive both sides (CompareSession locks them).
#pragma once

#include "ui/views/compare_canvas.h"
#include "ui/views/view.h"

class QComboBox;
class QLabel;
class QPushButton;

namespace attnscope::ui {

class CompareView : public View {
    Q_OBJECT
public:
    CompareView(CompareSession* session, QWidget* parent = nullptr);
    QString viewId() const override { return "compare"; }
    QString title() const override { return tr("Compare"); }
    QWidget* canvas() override { return canvas_; }
    std::vector<float> shownValues() const override { return canvas_->shownValues(); }
    std::vector<int64_t> shownShape() const override { return canvas_->shownShape(); }
    QString caption() const override; // "A: … · B: … · <the figure's title>"
    bool busy() const override;       // B (or A) still loading or running
    QSize screenshotSize() const override { return {1180, 520}; }

    CompareCanvas* figure() const { return canvas_; }
    void setMode(CompareCanvas::Mode m); // also the combo
    QString exportFigure(const QString& path); // PNG / SVG / PDF with the caption; error message or empty

signals:
    void leaveRequested();
    void exportRequested();

private:
    void updateHeader();

    CompareSession* s_;
    CompareCanvas* canvas_;
    QComboBox* mode_;
    QLabel* sides_;
    QLabel* note_;
};

} // namespace attnscope::ui
