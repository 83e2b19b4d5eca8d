// The comparison figure: side A (the window's document) and side B (CompareSession) in one picture,
// selection locked. Three figures, one at a time:
//  - Map: A's and B's map of the selection over their images on one colour scale, and A − B on the
//    diverging colour map (RdBu_r, symmetric about 0) over the key grid;
//  - Heads: every head of the selected layer, rows A, B and A − B;
//  - Distance: mean attention distance per layer of both (heads as dots, the layer mean as a line) and
//    the top classes of both as paired bars.
// What one side lacks is said in its panel; nothing is clamped silently. Painted on white for papers.
#pragma once

#include "ui/compare_session.h"
#include "ui/export.h"

#include <QImage>
#include <QWidget>

#include <vector>

namespace attnscope::ui {

class CompareCanvas : public QWidget, public FigureCanvas {
    Q_OBJECT
public:
    enum class Mode { Map, Heads, Distance };
    CompareCanvas(CompareSession* session, QWidget* parent = nullptr);

    Mode mode() const { return mode_; }
    void setMode(Mode m);
    QRect figureRect() const override { return figure_.toAlignedRect(); } // the figure, without the room around it
    void setExporting(bool on) override { exporting_ = on; }
    QSize sizeHint() const override { return {1100, 460}; }

    // What is drawn (for exports and tests). Map: A's and B's map and A − B (empty when not comparable).
    const QueryMap& mapA() const { return qa_; }
    const QueryMap& mapB() const { return qb_; }
    const std::vector<float>& difference() const { return diff_; }
    // Heads: A − B per head (heads both sides have, same grid), [heads][cells]; Distance: per side [layer][head].
    const std::vector<std::vector<float>>& headDifferences() const { return headDiff_; }
    const std::vector<std::vector<double>>& distances(int side) const { return dist_[side]; }
    QString title() const;              // the figure's title line (the selection, named on A)
    QString why() const { return why_; } // what is not comparable, empty when everything is
    std::vector<float> shownValues() const;
    std::vector<int64_t> shownShape() const;

    // Map figure: the panel of side 0 / 1 (its image area), for clicks and tests.
    QRectF panelImageRect(int side) const { return imageRect_[side]; }

public slots:
    void rebuild();

protected:
    void paintEvent(QPaintEvent*) override;
    void resizeEvent(QResizeEvent*) override;
    void mousePressEvent(QMouseEvent* e) override;

private:
    void layoutFigure(); // geometry of the current figure (panels, cells, the figure's extent)
    QRectF headCell(int row, int head) const;
    void paintMap(QPainter& p);
    void paintHeads(QPainter& p);
    void paintDistance(QPainter& p, const QRectF& area);
    void paintPredictions(QPainter& p, const QRectF& area);
    void paintSideHeader(QPainter& p, const QRectF& r, int side, const QString& text) const;
    void paintQueryMark(QPainter& p, int side, const QRectF& target) const;
    void paintNote(QPainter& p, const QRectF& r, const QString& text) const;
    QString topLine(int side) const; // "tabby cat 62.1%"

    CompareSession* s_;
    Mode mode_ = Mode::Map;
    bool exporting_ = false;
    QueryMap qa_, qb_;
    std::vector<float> diff_;
    float lo_ = 0, hi_ = 1; // A and B on one scale
    double dm_ = 1;         // A − B on −dm…dm
    QImage imgA_, imgB_, imgDiff_;
    std::vector<QueryMap> headsA_, headsB_;
    std::vector<std::vector<float>> headDiff_;
    std::vector<QImage> headImg_[3];
    std::vector<std::vector<double>> dist_[2];
    QString why_;
    QRectF imageRect_[2], diffRect_, figure_;
    double seqBarX_ = 0;                       // Map: the A-and-B colour bar's left
    double cellW_ = 0, cellH_ = 0, cellLeft_ = 0; // Heads: the grid of cells
};

} // namespace attnscope::ui
