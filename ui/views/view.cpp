#include "ui/views/view.h"

#include <QDockWidget>
#include <QEvent>
#include <QFileInfo>

namespace attnscope::ui {

bool navigateSelection(Document* doc, int key) {
    Selection s = doc->selection();
    switch (key) {
    case Qt::Key_Left:
    case Qt::Key_Right: {
        const int n = doc->headCount();
        if (n == 0) return false;
        const int step = key == Qt::Key_Right ? 1 : -1;
        s.heads = {s.heads.fused() ? (step > 0 ? 0 : n - 1) : (s.heads.head + step + n) % n};
        break;
    }
    case Qt::Key_Up: s.layer -= 1; break;
    case Qt::Key_Down: s.layer += 1; break;
    default: return false;
    }
    doc->setSelection(s);
    return true;
}

bool onScreen(const QWidget* w) {
    if (!w->isVisible()) return false;
    const QWidget* top = w->window();
    return QRect(w->mapTo(top, QPoint(0, 0)), w->size()).intersects(top->rect());
}

bool View::event(QEvent* e) {
    if (e->type() == QEvent::ParentChange)
        if (auto* dock = qobject_cast<QDockWidget*>(parentWidget()))
            connect(dock, &QDockWidget::visibilityChanged, this, [this](bool on) {
                if (on) QMetaObject::invokeMethod(this, &View::raised, Qt::QueuedConnection); // once the tab moved it in
            });
    return QWidget::event(e);
}

QString View::sourceCaption() const {
    const QString model = doc_->model() ? QFileInfo(doc_->modelPath()).fileName() : tr("no model");
    return QString("%1 · %2").arg(model, doc_->imageName().isEmpty() ? tr("no image") : doc_->imageName());
}

void View::invalidate() {
    stale_ = true;
    if (onScreen(this)) { // a tab behind another stays isVisible(): it waits until it is raised
        stale_ = false;
        refresh();
    }
}

void View::ensureFresh() {
    if (!stale_) return;
    stale_ = false;
    refresh();
}

void View::raised() {
    if (onScreen(this)) ensureFresh();
    dockShown();
}

void View::showEvent(QShowEvent* e) {
    QWidget::showEvent(e);
    if (stale_) {
        stale_ = false;
        refresh();
    }
}

} // namespace attnscope::ui
