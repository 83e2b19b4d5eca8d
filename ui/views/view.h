// A view: one dock in the main window, observing the Document. Register new views (rollout,
// position embeddings, DETR, …) in MainWindow::createViews(); each gets a dock, a View-menu toggle,
// export and --screenshot --view <id> for free.
#pragma once

#include "ui/document.h"

#include <QWidget>

namespace attnscope::ui {

// ←/→ head (leaving fusion), ↑/↓ layer. Returns whether the key was used.
bool navigateSelection(Document* doc, int key);

class View : public QWidget {
    Q_OBJECT
public:
    View(Document* doc, QWidget* parent) : QWidget(parent), doc_(doc) {}
    virtual QString viewId() const = 0;  // "overlay": object names, --view, settings
    virtual QString title() const = 0;   // dock title
    virtual QWidget* canvas() = 0;       // the part that exports and Copy Image render
    // Values behind the picture (for export and tests): the map currently shown, row-major.
    virtual std::vector<float> shownValues() const = 0;
    virtual std::vector<int64_t> shownShape() const = 0;
    // The caption line of exports and Copy Image (model, image, site, layer, head, query by default).
    virtual QString caption() const { return doc_->selectionCaption(); }

protected:
    Document* doc_;
};

} // namespace attnscope::ui
