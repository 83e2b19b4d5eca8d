// A view: one dock in the main window, observing the Document. Register new views (rollout,
// position embeddings, DETR, …) in MainWindow::createViews(); each gets a dock, a View-menu toggle,
// export and --screenshot --view <id> for free.
#pragma once

#include "ui/document.h"

#include <QSize>
#include <QWidget>

namespace attnscope::ui {

// ←/→ head (leaving fusion), ↑/↓ layer. Returns whether the key was used.
bool navigateSelection(Document* doc, int key);

// Whether any of `w` is on screen. A dock tab behind another is not hidden — QMainWindow moves it off
// the window — so isVisible() stays true for it; this is false.
bool onScreen(const QWidget* w);

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
    // The caption line of exports: by default the selection (model, image, site, layer, head, query).
    virtual QString caption() const { return doc_->selectionCaption(); }
    // Work still running off the GUI thread for what the view shows (exports and screenshots wait).
    virtual bool busy() const { return false; }
    // Docked in the image's tab group (left) rather than with the analyses (right).
    virtual bool besideImage() const { return false; }
    // --screenshot --view: the size to render at (floating); empty: as docked.
    virtual QSize screenshotSize() const { return {}; }
    // Recompute now what changed while the view was covered (exports and screenshots of a view that is
    // not on screen call this first; it may start work that busy() then reports).
    void ensureFresh();

protected:
    // "model · image" for captions.
    QString sourceCaption() const;
    // Lazy recomputation for heavy views: invalidate() on a change recomputes now (refresh()) when the
    // view is on screen, else when it is next shown or its dock tab raised — a covered tab costs nothing.
    void invalidate();
    virtual void refresh() {}
    void showEvent(QShowEvent* e) override;
    // Called (queued) when the view's dock tab is raised, which shows nothing and so sends no showEvent.
    virtual void dockShown() {}
    bool event(QEvent* e) override;

    Document* doc_;

private:
    void raised();
    bool stale_ = false;
};

} // namespace attnscope::ui
