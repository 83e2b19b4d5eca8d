#include "ui/compare_mode.h"

#include "ui/main_window.h"
#include "ui/settings.h"
#include "ui/views/compare_view.h"

#include <QDockWidget>
#include <QFileDialog>
#include <QFileInfo>
#include <QMenu>
#include <QStatusBar>

namespace attnscope::ui {

CompareMode::CompareMode(MainWindow* window) : QObject(window), w_(window) {
    for (auto sig : {&Document::resultChanged, &Document::modelChanged, &Document::imageChanged})
        connect(w_->document(), sig, this, &CompareMode::updateActions);
}

CompareMode::~CompareMode() = default; // the session and the dock are children of the window

void CompareMode::addActions(QMenu* file) {
    QMenu* m = file->addMenu(tr("C&ompare"));
    m->setObjectName("menuCompare");
    auto make = [this, m](const char* name, const QString& text, const QString& tip, auto slot) {
        QAction* a = m->addAction(text);
        a->setObjectName(name);
        a->setToolTip(tip);
        a->setStatusTip(tip);
        connect(a, &QAction::triggered, this, slot);
        return a;
    };
    withImage_ = make("actionCompareImage", tr("Compare with &Image…"),
                      tr("Run this model on a second image and show both side by side (selection locked, A − B)"),
                      &CompareMode::chooseImage);
    withModel_ = make("actionCompareModel", tr("Compare with &Model…"),
                      tr("Run a second model (or checkpoint) on this image and show both side by side"), &CompareMode::chooseModel);
    m->addSeparator();
    export_ = make("actionCompareExport", tr("&Export Comparison Figure…"), tr("The comparison as one figure: PNG, SVG or PDF"),
                   &CompareMode::exportDialog);
    leave_ = make("actionCompareLeave", tr("&Leave Comparison"), tr("Close side B and restore the window"), &CompareMode::leave);
    updateActions();
}

void CompareMode::updateActions() {
    if (!withImage_) return;
    const Document* a = w_->document();
    withImage_->setEnabled(a->model() != nullptr);
    withModel_->setEnabled(a->hasImage());
    export_->setEnabled(active());
    leave_->setEnabled(active());
}

void CompareMode::chooseImage() {
    const QString path = QFileDialog::getOpenFileName(w_, tr("Compare with Image — side B"), Settings().lastDirectory(),
                                                      MainWindow::imageFileFilter() + tr(";;All files (*)"));
    if (!path.isEmpty()) start(CompareSession::Kind::Images, path);
}

void CompareMode::chooseModel() {
    const QString path = w_->chooseModelPath(tr("Compare with Model — side B: a folder, or a .safetensors file"));
    if (!path.isEmpty()) start(CompareSession::Kind::Models, path);
}

void CompareMode::start(CompareSession::Kind kind, const QString& path) {
    if (!QFileInfo::exists(path)) return emit error(tr("%1: no such file or folder").arg(QFileInfo(path).absoluteFilePath()));
    leave();
    auto* session = new CompareSession(w_->document(), kind, w_);
    const QString err = session->start(path);
    if (!err.isEmpty()) {
        delete session;
        return emit error(err);
    }
    session_ = session;
    connect(session_, &CompareSession::failed, this, &CompareMode::error);
    // The window as it was, then the comparison alone in it (the other docks hidden, not closed).
    savedState_ = w_->saveState();
    for (QDockWidget* d : w_->findChildren<QDockWidget*>())
        if (!d->isHidden()) d->hide();
    view_ = new CompareView(session_, nullptr);
    dock_ = new QDockWidget(tr("Compare — A: %1 · B: %2").arg(session_->sideSource(0), QFileInfo(path).fileName()), w_);
    dock_->setObjectName("dock_compare");
    dock_->setFeatures(QDockWidget::NoDockWidgetFeatures); // Leave Comparison closes it and restores the rest
    dock_->setWidget(view_);
    w_->addDockWidget(Qt::RightDockWidgetArea, dock_);
    connect(view_, &CompareView::leaveRequested, this, &CompareMode::leave, Qt::QueuedConnection); // not inside the button's click
    connect(view_, &CompareView::exportRequested, this, &CompareMode::exportDialog);
    connect(session_, &CompareSession::changed, this, [this] {
        if (dock_) dock_->setWindowTitle(tr("Compare — A: %1 · B: %2").arg(session_->sideSource(0), session_->sideSource(1)));
    });
    updateActions();
    emit activeChanged(true);
}

void CompareMode::leave() {
    if (!session_) return;
    w_->removeDockWidget(dock_);
    delete dock_; // and the view in it
    dock_ = nullptr;
    view_ = nullptr;
    delete session_; // cancels and waits for B's run
    session_ = nullptr;
    w_->restoreState(savedState_);
    w_->interventions()->syncVisibility();
    updateActions();
    emit activeChanged(false);
}

QString CompareMode::exportFigure(const QString& path) {
    if (!view_) return tr("%1: nothing to export (not comparing)").arg(path);
    return view_->exportFigure(path);
}

void CompareMode::exportDialog() {
    if (!view_) return;
    const QString path = QFileDialog::getSaveFileName(w_, tr("Export comparison figure"), Settings().lastExportDirectory() + "/compare.png",
                                                      tr("PNG image (*.png);;SVG drawing (*.svg);;PDF document (*.pdf)"));
    if (path.isEmpty()) return;
    const QString err = exportFigure(path);
    if (!err.isEmpty()) return emit error(err);
    Settings().setLastExportDirectory(QFileInfo(path).absolutePath());
    w_->statusBar()->showMessage(tr("Saved %1").arg(path), 5000);
}

} // namespace attnscope::ui
