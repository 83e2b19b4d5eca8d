#include "ui/views/mask_brush.h"

#include <QPainter>

#include <algorithm>
#include <cmath>

namespace attnscope::ui {

void MaskBrush::setActive(bool on) {
    active_ = on;
    if (!on) dragging_ = false;
}

QSize MaskBrush::grid() const {
    const Model* m = doc_->model();
    const Tensor& in = doc_->input();
    if (!m || !doc_->result() || in.dim() != 3 || m->info().patch_size <= 0) return {0, 0};
    const int p = m->info().patch_size;
    return {int(in.size(2)) / p, int(in.size(1)) / p};
}

int MaskBrush::cellAt(QPointF pos, const QRectF& g) const {
    const RunResult* r = doc_->result();
    const QSize mg = grid();
    if (!r || mg.isEmpty() || g.isEmpty() || r->layout.grid_w <= 0 || r->layout.grid_h <= 0 || !g.contains(pos)) return -1;
    const int gx = int((pos.x() - g.x()) / g.width() * r->layout.grid_w);
    const int gy = int((pos.y() - g.y()) / g.height() * r->layout.grid_h);
    if (gx < 0 || gy < 0 || gx >= mg.width() || gy >= mg.height()) return -1;
    return gy * mg.width() + gx;
}

QRectF MaskBrush::cellRect(int cell, const QRectF& g) const {
    const RunResult* r = doc_->result();
    const QSize mg = grid();
    if (!r || mg.isEmpty() || r->layout.grid_w <= 0 || r->layout.grid_h <= 0) return {};
    const double cw = g.width() / r->layout.grid_w, ch = g.height() / r->layout.grid_h;
    return {g.x() + (cell % mg.width()) * cw, g.y() + (cell / mg.width()) * ch, cw, ch};
}

bool MaskBrush::press(int cell) {
    if (!active_ || cell < 0) return false;
    const auto& m = doc_->interventions().masked_patches;
    erasing_ = std::find(m.begin(), m.end(), cell) != m.end();
    dragging_ = true;
    stroke_ = {cell};
    return true;
}

bool MaskBrush::move(int cell) {
    if (!dragging_ || cell < 0) return false;
    return stroke_.insert(cell).second;
}

void MaskBrush::release() {
    if (!dragging_) return;
    Interventions iv = doc_->interventions();
    iv.masked_patches = shownMasked_for(iv.masked_patches);
    dragging_ = false;
    stroke_.clear();
    doc_->setInterventions(iv); // emits only on change: InterventionsBar keeps the undo step and reruns
}

std::vector<int> MaskBrush::shownMasked() const { return shownMasked_for(doc_->interventions().masked_patches); }

std::vector<int> MaskBrush::shownMasked_for(const std::vector<int>& masked) const {
    if (!dragging_) return masked;
    std::set<int> s(masked.begin(), masked.end());
    for (int c : stroke_) {
        if (erasing_) s.erase(c);
        else s.insert(c);
    }
    return {s.begin(), s.end()};
}

void MaskBrush::paint(QPainter& p, const QRectF& g) const {
    const std::vector<int> cells = shownMasked();
    if (cells.empty() || grid().isEmpty()) return;
    p.save();
    for (int c : cells) {
        const QRectF r = cellRect(c, g);
        p.fillRect(r, QColor(0, 0, 0, 120));
        p.fillRect(r, QBrush(QColor(255, 255, 255, 170), Qt::BDiagPattern));
    }
    p.restore();
}

} // namespace attnscope::ui
