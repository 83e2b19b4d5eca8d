// Brushing patches to mask (issue 18): in the overlay's brush mode a drag paints patch cells into the
// Document's interventions (core's Interventions::masked_patches: the cells are SET TO 0 IN THE NORMALISED
// INPUT — the dataset-mean colour — the tokens stay in the sequence) or, when the drag starts on a masked
// cell, erases them. The drag is a preview until the button is released; then one setInterventions (one
// undo step, one rerun). The masking grid is core's: cells of info.patch_size input pixels,
// gy · (W / P) + gx (DETR: 32-px cells of its input).
#pragma once

#include "ui/document.h"

#include <QPointF>
#include <QRectF>

#include <set>
#include <vector>

class QPainter;

namespace attnscope::ui {

class MaskBrush {
public:
    explicit MaskBrush(Document* doc) : doc_(doc) {}
    bool active() const { return active_; }
    void setActive(bool on);
    bool dragging() const { return dragging_; }

    // The masking grid of the document's result: cells across and down (0 × 0 without a result / patches).
    QSize grid() const;
    // The cell under `pos` (widget coordinates) when `gridRect` (widget coordinates) shows the result's
    // token grid (layout.grid_w × grid_h cells); -1 outside the masking grid.
    int cellAt(QPointF pos, const QRectF& gridRect) const;
    // The cell's rectangle in widget coordinates.
    QRectF cellRect(int cell, const QRectF& gridRect) const;

    // A press starts a stroke (painting, or erasing when it starts on a masked cell); moves extend it;
    // release commits it to the Document. Each returns whether the preview changed (repaint).
    bool press(int cell);
    bool move(int cell);
    void release();
    void cancelStroke() { dragging_ = false; }

    // What is drawn masked now: the document's masks with the stroke in progress applied.
    std::vector<int> shownMasked() const;
    // Hatched, dimmed cells for `cells` over `gridRect`.
    void paint(QPainter& p, const QRectF& gridRect) const;

private:
    std::vector<int> shownMasked_for(const std::vector<int>& masked) const; // `masked` with the stroke applied (sorted)

    Document* doc_;
    bool active_ = false, dragging_ = false, erasing_ = false;
    std::set<int> stroke_;
};

} // namespace attnscope::ui
