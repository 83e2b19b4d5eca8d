#include "ui/views/view.h"

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

} // namespace attnscope::ui
