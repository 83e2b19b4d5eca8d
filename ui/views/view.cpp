#include "ui/views/view.h"

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
        s.head = s.fusion != Fusion::None ? (step > 0 ? 0 : n - 1) : (s.head + step + n) % n;
        s.fusion = Fusion::None;
        break;
    }
    case Qt::Key_Up: s.layer -= 1; break;
    case Qt::Key_Down: s.layer += 1; break;
    default: return false;
    }
    doc->setSelection(s);
    return true;
}

QString View::sourceCaption() const {
    const QString model = doc_->model() ? QFileInfo(doc_->modelPath()).fileName() : tr("no model");
    return QString("%1 · %2").arg(model, doc_->imageName().isEmpty() ? tr("no image") : doc_->imageName());
}

void View::invalidate() {
    stale_ = true;
    if (isVisible()) {
        stale_ = false;
        refresh();
    }
}

void View::showEvent(QShowEvent* e) {
    QWidget::showEvent(e);
    if (stale_) {
        stale_ = false;
        refresh();
    }
}

} // namespace attnscope::ui
