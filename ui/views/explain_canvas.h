// The Explain view's figure: one or two relevance maps (two methods or two classes, side by side or stacked), each
// laid over the ORIGINAL image through the preprocessing geometry (Document::gridInOriginal, core's
// grid_in_original), each with its own colour bar (a method's raw values, min…max of that map) and a
// title naming method and class. Hover reads a patch out; a panel without a map says why.
#pragma once

#include "ui/export.h"
#include "ui/document.h"

#include <QImage>
#include <QWidget>

#include <vector>

namespace attnscope::ui {

class ExplainCanvas : public QWidget, public FigureCanvas {
    Q_OBJECT
public:
    struct Panel {
        QString title;             // "Chefer 2021 · tabby, tabby cat (281) · p 0.52"
        QString barLabel;          // "relevance (chefer2)"
        std::vector<float> values; // [gh, gw] row-major; empty: `message` instead
        int gw = 0, gh = 0;
        QString message;           // "Computing…", or why there is no map
        // DETR: the explained detection's box, outlined over the map with its tag (as the Detections view draws
        // the selected detection). Original-image pixels; empty: no box (classifiers).
        QRectF box;
        QString boxTag;            // "sneaker 0.93", "sneaker 0.93 · w 0.214"
        QColor boxColour;          // the Detections view's colour of that detection
        bool boxDashed = false;    // below the detection threshold (dashed, as the Detections view)
    };

    explicit ExplainCanvas(Document* doc, QWidget* parent = nullptr);
    void setPanels(std::vector<Panel> panels);
    void setMessage(const QString& text); // no panels: the view's empty state
    const std::vector<Panel>& panels() const { return panels_; }
    QString message() const { return message_; }
    QString readout() const { return readout_; }

    // Two maps sit side by side, or one above the other when that shows them larger (a narrow, tall dock).
    bool stacked() const;
    QRectF panelRect(int i) const;  // title, image and colour bar of panel i (widget coordinates)
    QRectF imageRect(int i) const;  // the original image in panel i
    QRectF gridRect(int i) const;   // the patch grid in panel i (empty without a map)
    QRectF boxRect(int i) const;    // panel i's outlined detection box, widget coordinates (empty: none drawn)
    QRect figureRect() const override;
    void setExporting(bool on) override { exporting_ = on; }
    QSize sizeHint() const override { return {760, 520}; }

protected:
    void paintEvent(QPaintEvent*) override;
    void mouseMoveEvent(QMouseEvent* e) override;
    void leaveEvent(QEvent*) override;

private:
    void recolour();
    void updateReadout();
    QRectF barRect(int i) const;

    Document* doc_;
    std::vector<Panel> panels_;
    std::vector<QImage> images_; // the coloured maps
    std::vector<std::pair<float, float>> ranges_;
    QString message_, readout_;
    QPointF hoverPos_{-1, -1};
    bool exporting_ = false;
};

} // namespace attnscope::ui
