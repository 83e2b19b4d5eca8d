// Patch-embedding filters, the ViT paper's Fig. 7 left: the principal axes of the D patch-embedding
// filters (each 3·P·P values, core's filter_pca), first 28 as a 4 × 7 grid of RGB tiles, each tile
// scaled to its own min…max, labelled with the share of variance it explains. Hover or click a
// tile to see it large beside its R, G and B channels (grey, symmetric about 0).
#pragma once

#include "core/analysis/embeddings.h"
#include "ui/export.h"
#include "ui/views/checkpoint_view.h"

#include <QImage>

class QSpinBox;

namespace attnscope::ui {

class FiltersCanvas : public QWidget, public FigureCanvas {
    Q_OBJECT
public:
    FiltersCanvas(Document* doc, QWidget* parent);
    void setPca(analysis::FilterPca pca, const QString& title);
    void setMessage(const QString& text);
    void setCount(int n);
    int count() const;                                  // tiles shown
    const analysis::FilterPca& pca() const { return pca_; }
    QString message() const { return message_; }
    QString title() const { return title_; }
    QRectF tileRect(int i) const;
    int detailComponent() const;                        // shown large; -1 when none
    QString readout() const { return readout_; }
    QRect figureRect() const override { return rect().adjusted(0, 0, 0, -kReadoutLine); } // without the hint line
    void setExporting(bool) override {}
    static constexpr int kReadoutLine = 22; // the bottom line: read-out or hint

protected:
    void paintEvent(QPaintEvent*) override;
    void mouseMoveEvent(QMouseEvent* e) override;
    void mousePressEvent(QMouseEvent* e) override;
    void leaveEvent(QEvent*) override;

private:
    struct Geometry {
        int cols = 1, rows = 1;
        double tile = 0;
        QRectF grid, detail;
    };
    Geometry geometry() const;
    int tileAt(QPointF pos) const;

    Document* doc_;
    analysis::FilterPca pca_;
    std::vector<QImage> tiles_;
    int count_ = 28;
    int hover_ = -1, pinned_ = -1;
    QString title_, message_, readout_;
};

class FiltersView : public CheckpointView {
    Q_OBJECT
public:
    explicit FiltersView(Document* doc, QWidget* parent = nullptr);
    ~FiltersView() override { stopWork(); }
    QString viewId() const override { return "filters"; }
    QString title() const override { return tr("Filter PCA"); }
    QWidget* canvas() override;
    std::vector<float> shownValues() const override;     // [count, 3, P, P]
    std::vector<int64_t> shownShape() const override;
    QString caption() const override;
    QSize screenshotSize() const override { return {1000, 560}; }
    FiltersCanvas* filtersCanvas() const { return canvas_; }

protected:
    void showMessage(const QString& text) override;
    BackgroundTask::Deliver compute(const PatchEmbedding& pe, const QString& family) const override;

private:
    QSpinBox* count_;
    FiltersCanvas* canvas_;
};

} // namespace attnscope::ui
