// The interventions bar (issue 18): what is switched off (heads, per site and layer) and masked, the
// ablation mode (zero / mean), Undo (Ctrl+Z) and Clear. It owns the undo history and reruns the model
// whenever the Document's interventions change (a right-click in the Model view, Undo, Clear, the
// mode), so every view re-renders from the new run. Hidden while nothing is switched off.
#pragma once

#include "ui/document.h"

#include <QToolBar>

#include <vector>

class QAction;
class QComboBox;
class QLabel;
class QMenu;

namespace attnscope::ui {

class RunController;

class InterventionsBar : public QToolBar {
    Q_OBJECT
public:
    InterventionsBar(Document* doc, RunController* runner, QWidget* parent = nullptr);
    // Undo / Clear in `menu` (the Run menu), so that Ctrl+Z works with the bar hidden too.
    void addActionsTo(QMenu* menu);
    QAction* undoAction() const { return undo_; }
    QAction* clearAction() const { return clear_; }
    QString text() const; // what the label says
    void syncVisibility() { refresh(); } // after the window restored a saved state (which sets toolbars' visibility)

    // Switch one head of the document's model off (on = true) or back on: the helpers the views' context
    // menus call (Model view, overlay).
    static void setHeadAblated(Document* doc, const HeadRef& head, bool on);
    // THE context-menu entries for one head, shared by the Model view and the overlay: "Switch off layer L
    // head H (ablate)" / "Restore layer L head H" (object name actionToggleHead) and "Restore every head"
    // (actionRestoreAllHeads); they act through setHeadAblated / the document.
    static void addHeadActions(QMenu* menu, Document* doc, const HeadRef& head);

private:
    void changed();
    void undo();
    void refresh();

    Document* doc_;
    RunController* runner_;
    QLabel* label_;
    QComboBox* mode_;
    QAction* undo_;
    QAction* clear_;
    std::vector<Interventions> history_; // what came before each change, newest last
    Interventions last_;                 // the document's interventions as this bar last saw them
    bool undoing_ = false;
};

} // namespace attnscope::ui
