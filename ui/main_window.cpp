#include "ui/main_window.h"

#include "core/image/decode.h"
#include "core/session.h"
#include "ui/detr_state.h"
#include "ui/export.h"
#include "ui/settings.h"
#include "ui/views/compare_view.h"
#include "ui/views/detections_view.h"
#include "ui/views/distance_view.h"
#include "ui/views/explain_view.h"
#include "ui/views/filters_view.h"
#include "ui/views/head_grid_view.h"
#include "ui/views/heads_figure.h"
#include "ui/views/masks_view.h"
#include "ui/views/position_view.h"
#include "ui/views/rollout_view.h"
#include "ui/views/matrix_view.h"
#include "ui/views/overlay_view.h"
#include "ui/views/predictions_view.h"
#include "ui/views/selection_bar.h"
#include "ui/views/tokens_view.h"

#include <QAbstractItemView>
#include <QAbstractSlider>
#include <QAbstractSpinBox>
#include <QApplication>
#include <QClipboard>
#include <QCloseEvent>
#include <QComboBox>
#include <QDir>
#include <QKeyEvent>
#include <QLineEdit>
#include <QPlainTextEdit>
#include <QTextEdit>
#include <QDockWidget>
#include <QFileDialog>
#include <QFileInfo>
#include <QLabel>
#include <QMenuBar>
#include <QMessageBox>
#include <QMimeData>
#include <QProgressBar>
#include <QStatusBar>
#include <QTabBar>
#include <QTimer>
#include <QToolButton>

namespace attnscope::ui {

MainWindow::MainWindow(QWidget* parent) : QMainWindow(parent) {
    setObjectName("mainWindow");
    setWindowTitle("AttnScope");
    setAcceptDrops(true);
    doc_ = new Document(this);
    runner_ = new RunController(doc_, this);
    compare_ = new CompareMode(this);
    connect(compare_, &CompareMode::error, this, &MainWindow::showError);
    createViews();
    createInterventionsBar();
    createActions();
    createStatusBar();
    readSettings();
    interventions_->syncVisibility();
    connect(doc_, &Document::modelChanged, this, &MainWindow::updateStatus);
    connect(doc_, &Document::resultChanged, this, &MainWindow::updateStatus);
    connect(runner_, &RunController::finished, this, [this](double ms) {
        lastForwardMs_ = ms;
        updateStatus();
        statusBar()->showMessage(tr("Done"), 3000);
    });
    connect(runner_, &RunController::failed, this, &MainWindow::showError);
    connect(runner_, &RunController::cancelled, this, [this] { statusBar()->showMessage(tr("Cancelled"), 5000); });
    // Recent files and the open dialogs' folder: only what did open (issue 14, defect 2).
    auto opened = [this](const QString& p) {
        Settings s;
        s.addRecentFile(p);
        s.setLastDirectory(QFileInfo(p).absolutePath());
        updateRecentMenu();
    };
    connect(runner_, &RunController::modelLoaded, this, opened);
    connect(runner_, &RunController::imageLoaded, this, opened);
    connect(runner_, &RunController::busyChanged, this, [this](bool busy, const QString& what) {
        progress_->setVisible(busy);
        cancelButton_->setVisible(busy);
        if (busy) statusBar()->showMessage(what);
        else statusBar()->clearMessage();
    });
    updateStatus();
}

MainWindow::~MainWindow() = default;

void MainWindow::createViews() {
    setDockNestingEnabled(true);
    auto* bar = new SelectionBar(doc_, this);
    addToolBar(Qt::TopToolBarArea, bar);
    views_ = {new OverlayView(doc_, this), new HeadGridView(doc_, this), new MatrixView(doc_, this), new PredictionsView(doc_, this)};
    views_ << new RolloutView(doc_, this) << new MasksView(doc_, this);
    views_ << new PositionView(doc_, this) << new FiltersView(doc_, this) << new DistanceView(doc_, this);
    views_ << new DetectionsView(doc_, this);
    views_ << new TokensView(doc_, this);
    views_ << new ExplainView(doc_, this);
    // Views are docks; the central area holds nothing, so the docks share the whole window.
    auto* centre = new QWidget(this);
    centre->setMaximumSize(0, 0);
    setCentralWidget(centre);
    QDockWidget* previous = nullptr;
    for (View* v : views_) {
        auto* dock = new QDockWidget(v->title(), this);
        dock->setObjectName("dock_" + v->viewId());
        dock->setWidget(v);
        if (!previous) addDockWidget(Qt::LeftDockWidgetArea, dock);
        else if (v->besideImage()) tabifyDockWidget(findChild<QDockWidget*>("dock_overlay"), dock);
        else if (previous == findChild<QDockWidget*>("dock_overlay")) addDockWidget(Qt::RightDockWidgetArea, dock);
        else tabifyDockWidget(previous, dock);
        if (!v->besideImage()) previous = dock;
    }
    findChild<QDockWidget*>("dock_overlay")->raise();
    findChild<QDockWidget*>("dock_model")->raise();
    // The Detections dock only for a detection model (its View-menu entry greyed out otherwise).
    auto detectionsDock = [this] {
        auto* dock = findChild<QDockWidget*>("dock_detections");
        const bool detr = DetrState::isDetectionModel(doc_->model());
        dock->toggleViewAction()->setEnabled(detr);
        if (detr != !dock->isHidden()) dock->setVisible(detr);
    };
    connect(doc_, &Document::modelChanged, this, detectionsDock);
    detectionsDock();
    // Dock tabs show their whole titles (scroll buttons when they do not fit) rather than "Attention m…".
    auto unelide = [this] {
        for (auto* tabs : findChildren<QTabBar*>()) {
            tabs->setElideMode(Qt::ElideNone);
            tabs->setUsesScrollButtons(true);
        }
    };
    connect(this, &QMainWindow::tabifiedDockWidgetActivated, this, unelide);
    QTimer::singleShot(0, this, unelide);
    resizeDocks({findChild<QDockWidget*>("dock_overlay"), findChild<QDockWidget*>("dock_model")}, {620, 520}, Qt::Horizontal);
}

void MainWindow::createInterventionsBar() {
    interventions_ = new InterventionsBar(doc_, runner_, this);
    addToolBarBreak(Qt::TopToolBarArea);
    addToolBar(Qt::TopToolBarArea, interventions_);
}

View* MainWindow::view(const QString& id) const {
    for (View* v : views_)
        if (v->viewId() == id) return v;
    return nullptr;
}

void MainWindow::createActions() {
    auto make = [this](QMenu* menu, const QString& name, const QString& text, QKeySequence key, const QString& tip,
                       auto slot) {
        auto* a = menu->addAction(text);
        a->setObjectName(name);
        a->setShortcut(key);
        a->setToolTip(tip);
        a->setStatusTip(tip);
        connect(a, &QAction::triggered, this, slot);
        return a;
    };
    QMenu* file = menuBar()->addMenu(tr("&File"));
    make(file, "actionOpenImage", tr("Open &Image…"), QKeySequence::Open, tr("Open an image file"), &MainWindow::openImageDialog);
    make(file, "actionOpenModel", tr("Open &Model…"), QKeySequence(Qt::CTRL | Qt::Key_M),
         tr("Open a model folder or a .safetensors file"), &MainWindow::openModelDialog);
    recentMenu_ = file->addMenu(tr("Open &Recent"));
    recentMenu_->setObjectName("menuRecent");
    make(file, "actionPaste", tr("&Paste Image"), QKeySequence::Paste, tr("Use the image on the clipboard"), &MainWindow::paste);
    compare_->addActions(file);
    file->addSeparator();
    QList<QAction*> needResult;
    needResult << make(file, "actionExportView", tr("&Export View…"), QKeySequence(Qt::CTRL | Qt::Key_E),
                       tr("Save the focused view as PNG, SVG or PDF with a caption"), &MainWindow::exportViewDialog);
    needResult << make(file, "actionCopyImage", tr("&Copy Image"), QKeySequence(Qt::CTRL | Qt::SHIFT | Qt::Key_C),
                       tr("Copy the focused view to the clipboard"), &MainWindow::copyImage);
    needResult << make(file, "actionExportMap", tr("Export Map &Data…"), QKeySequence(),
                       tr("Save the values of the focused view as .npy"), &MainWindow::exportMapDialog);
    needResult << make(file, "actionExportRun", tr("Export &Run…"), QKeySequence(),
                       tr("Write the whole run (logits, input, every attention map) to a folder"), &MainWindow::exportRunDialog);
    needResult << make(file, "actionExportLayerFigure", tr("Export &Heads of Layer…"), QKeySequence(),
                       tr("Every head of the selected layer (site and query as selected) as one figure: PNG, SVG or PDF"),
                       [this] { exportFigureDialog(false); });
    needResult << make(file, "actionExportGridFigure", tr("Export &Layer × Head Figure…"), QKeySequence(),
                       tr("Every layer and head (site and query as selected) as one figure: PNG, SVG or PDF"),
                       [this] { exportFigureDialog(true); });
    QAction* exportDetections = make(file, "actionExportDetections", tr("Export &Detections…"), QKeySequence(),
                                     tr("DETR: the detections above the threshold as .json"), &MainWindow::exportDetectionsDialog);
    connect(doc_, &Document::resultChanged, this, [this, exportDetections] { exportDetections->setEnabled(doc_->detr()->active()); });
    exportDetections->setEnabled(false);
    file->addSeparator();
    make(file, "actionQuit", tr("&Quit"), QKeySequence::Quit, tr("Quit AttnScope"), &MainWindow::close);
    auto enable = [this, needResult] { for (QAction* a : needResult) a->setEnabled(doc_->result() != nullptr); };
    connect(doc_, &Document::resultChanged, this, enable);
    enable();

    QMenu* run = menuBar()->addMenu(tr("&Run"));
    make(run, "actionRerun", tr("&Run Again"), QKeySequence(Qt::Key_F5), tr("Run the model on the image again"), &MainWindow::rerunClicked);
    make(run, "actionCancel", tr("&Cancel"), QKeySequence(Qt::Key_Escape), tr("Stop loading or running"),
         [this] { runner_->cancel(); });
    interventions_->addActionsTo(run);

    viewMenu_ = menuBar()->addMenu(tr("&View"));
    for (auto* dock : findChildren<QDockWidget*>()) {
        QAction* t = dock->toggleViewAction();
        t->setObjectName("toggle_" + dock->objectName().mid(5));
        viewMenu_->addAction(t);
    }
    viewMenu_->addSeparator();
    make(viewMenu_, "actionExplain", tr("E&xplain Prediction"), QKeySequence(Qt::CTRL | Qt::SHIFT | Qt::Key_X),
         tr("Show the Explain view: why the model predicted a class (relevance maps)"), [this] {
             auto* dock = findChild<QDockWidget*>("dock_explain");
             dock->show();
             dock->raise();
             view("explain")->setFocus();
         });
    viewMenu_->addSeparator();
    viewMenu_->addAction(findChild<QToolBar*>("selectionBar")->toggleViewAction());
    updateRecentMenu();
}

void MainWindow::rerunClicked() { runner_->rerun(); }

void MainWindow::createStatusBar() {
    modelLabel_ = new QLabel(this);
    modelLabel_->setObjectName("statusModel");
    tokensLabel_ = new QLabel(this);
    tokensLabel_->setObjectName("statusTokens");
    timeLabel_ = new QLabel(this);
    timeLabel_->setObjectName("statusTime");
    progress_ = new QProgressBar(this);
    progress_->setObjectName("runProgress");
    progress_->setRange(0, 0);
    progress_->setMaximumWidth(120);
    progress_->setVisible(false);
    cancelButton_ = new QToolButton(this);
    cancelButton_->setObjectName("cancelButton");
    cancelButton_->setText(tr("Cancel"));
    cancelButton_->setToolTip(tr("Stop loading or running (Esc)"));
    cancelButton_->setVisible(false);
    connect(cancelButton_, &QToolButton::clicked, runner_, &RunController::cancel);
    statusBar()->addPermanentWidget(progress_);
    statusBar()->addPermanentWidget(cancelButton_);
    for (QLabel* l : {modelLabel_, tokensLabel_, timeLabel_}) {
        l->setFrameStyle(QFrame::StyledPanel | QFrame::Sunken);
        l->setContentsMargins(4, 0, 4, 0);
        statusBar()->addPermanentWidget(l);
    }
}

void MainWindow::updateStatus() {
    const Model* m = doc_->model();
    if (m) {
        const ModelInfo& i = m->info();
        modelLabel_->setText(tr("%1 (%2) · %3 M params · %4 layers × %5 heads")
                                 .arg(QString(family_name(i.family)), QString::fromStdString(i.format))
                                 .arg(double(i.n_params) / 1e6, 0, 'f', 1).arg(i.n_layers).arg(i.n_heads));
        modelLabel_->setToolTip(QString::fromStdString(i.architecture + "\n" + i.source));
    } else {
        modelLabel_->setText(tr("no model"));
    }
    const RunResult* r = doc_->result();
    tokensLabel_->setText(r ? tr("%1 tokens · grid %2×%3").arg(r->layout.n_tokens()).arg(r->layout.grid_h).arg(r->layout.grid_w)
                            : QString());
    timeLabel_->setText(r && lastForwardMs_ >= 0 ? tr("forward %1 ms").arg(lastForwardMs_, 0, 'f', 1) : QString());
    QString title = "AttnScope";
    if (m) title += " — " + QFileInfo(doc_->modelPath()).fileName();
    if (!doc_->imageName().isEmpty()) title += " · " + doc_->imageName();
    if (r && m && r->logits.dim() == 1) {
        const auto top = top_k(*r, 1);
        if (!top.empty()) title += tr(" · %1 (%2%)").arg(QString::fromStdString(top[0].label)).arg(top[0].prob * 100, 0, 'f', 1);
    }
    setWindowTitle(title);
}

void MainWindow::showError(const QString& message) {
    lastError_ = message;
    statusBar()->showMessage(tr("Error: %1").arg(message), 15000);
    if (!errorBox_) {
        errorBox_ = new QMessageBox(QMessageBox::Warning, tr("AttnScope"), {}, QMessageBox::Ok, this);
        errorBox_->setObjectName("errorMessage");
        errorBox_->setWindowModality(Qt::NonModal);
    }
    errorBox_->setText(message);
    errorBox_->show();
    emit errorShown(message);
}

bool MainWindow::looksLikeModel(const QString& path) {
    const QFileInfo fi(path);
    const QString s = fi.suffix().toLower();
    return fi.isDir() || s == "safetensors" || s == "json" || s == "pth" || s == "bin" || s == "pt";
}

void MainWindow::openPath(const QString& path) {
    const QFileInfo fi(path);
    if (!fi.exists()) return showError(tr("%1: no such file or folder").arg(fi.absoluteFilePath()));
    if (looksLikeModel(path)) openModel(path);
    else openImage(path);
}

void MainWindow::openModel(const QString& path) { runner_->openModel(QFileInfo(path).absoluteFilePath()); }
void MainWindow::openImage(const QString& path) { runner_->openImageFile(QFileInfo(path).absoluteFilePath()); }

QString MainWindow::imageFileFilter() { return tr("Images (%1)").arg(QString::fromStdString(image_name_patterns())); }

void MainWindow::openImageDialog() {
    const QString path = QFileDialog::getOpenFileName(this, tr("Open Image"), Settings().lastDirectory(),
                                                      imageFileFilter() + tr(";;All files (*)"));
    if (!path.isEmpty()) openImage(path);
}

namespace {
// The Open Model dialog: a model is a file or a folder. Qt's dialog in file mode enters a folder whose
// path is typed + Enter (or Open) instead of accepting it; this one accepts a folder that holds a
// model (config.json or weights), and enters any other.
class ModelFileDialog : public QFileDialog {
public:
    using QFileDialog::QFileDialog;
    void accept() override {
        const QStringList files = selectedFiles();
        if (files.size() == 1 && QFileInfo(files.first()).isDir()) {
            const QDir dir(files.first());
            if (!dir.entryList({"config.json", "*.safetensors", "*.pth", "*.bin", "*.pt", "*.safetensors.index.json"},
                               QDir::Files).isEmpty())
                return QDialog::accept();
        }
        QFileDialog::accept();
    }
};
} // namespace

void MainWindow::openModelDialog() {
    const QString path = chooseModelPath(tr("Open Model — a folder, or a .safetensors file"));
    if (!path.isEmpty()) openModel(path);
}

QString MainWindow::chooseModelPath(const QString& title) {
    ModelFileDialog dlg(this, title, Settings().lastDirectory(),
                        tr("Checkpoints (*.safetensors *.json *.pth *.bin);;All files (*)"));
    dlg.setObjectName("openModelDialog");
    dlg.setFileMode(QFileDialog::ExistingFile);
    dlg.setOption(QFileDialog::DontUseNativeDialog); // lets a folder be chosen too: type or pick it, then Open
    connect(&dlg, &QFileDialog::currentChanged, &dlg, [&dlg](const QString& p) {
        dlg.setFileMode(QFileInfo(p).isDir() ? QFileDialog::Directory : QFileDialog::ExistingFile);
    });
    return dlg.exec() == QDialog::Accepted && !dlg.selectedFiles().isEmpty() ? dlg.selectedFiles().first() : QString();
}

void MainWindow::paste() {
    const QMimeData* mime = QApplication::clipboard()->mimeData();
    if (mime && mime->hasImage()) {
        const QImage img = qvariant_cast<QImage>(mime->imageData());
        if (!img.isNull()) return runner_->openImage(fromQImage(img), tr("pasted image"));
    }
    if (mime && mime->hasUrls() && !mime->urls().isEmpty()) return openPath(mime->urls().first().toLocalFile());
    statusBar()->showMessage(tr("The clipboard holds no image"), 5000);
}

void MainWindow::updateRecentMenu() {
    recentMenu_->clear();
    const QStringList files = Settings().recentFiles();
    for (const QString& f : files) {
        QAction* a = recentMenu_->addAction(QFileInfo(f).fileName() + (looksLikeModel(f) ? tr("  (model)") : QString()));
        a->setToolTip(f);
        connect(a, &QAction::triggered, this, [this, f] { openPath(f); });
    }
    recentMenu_->setEnabled(!files.isEmpty());
}

View* MainWindow::activeView() const {
    const QWidget* focus = QApplication::focusWidget();
    for (View* v : views_)
        if (focus && v->isAncestorOf(focus) && v->isVisible()) return v;
    if (View* c = compare_->view()) return c; // compare mode: the comparison, unless a view shown beside it has focus
    return views_.front();
}

void MainWindow::exportViewDialog() {
    View* v = activeView();
    const QString path = exportPath(tr("Export %1").arg(v->title()), v->viewId() + ".png",
                                    tr("PNG image (*.png);;SVG drawing (*.svg);;PDF document (*.pdf)"));
    if (path.isEmpty()) return;
    v->ensureFresh();
    const QString err = exportView(v->canvas(), v->caption(), path);
    if (!err.isEmpty()) return showError(err);
    exported(path);
}

void MainWindow::copyImage() {
    View* v = activeView();
    QApplication::clipboard()->setImage(renderWithCaption(v->canvas(), v->caption()));
    statusBar()->showMessage(tr("Copied %1").arg(v->title()), 3000);
}

void MainWindow::exportMapDialog() {
    View* v = activeView();
    const QString path = exportPath(tr("Export map data"), v->viewId() + ".npy", tr("NumPy array (*.npy)"));
    if (path.isEmpty()) return;
    const QString err = exportNpy(v->shownValues(), v->shownShape(), path);
    if (!err.isEmpty()) return showError(err);
    exported(path);
}

void MainWindow::exportDetectionsDialog() {
    const QString path = exportPath(tr("Export detections"), "detections.json", tr("JSON (*.json)"));
    if (path.isEmpty()) return;
    const QString err = exportBytes(detectionsJson(*doc_), path);
    if (!err.isEmpty()) return showError(err);
    exported(path);
}

void MainWindow::exportFigureDialog(bool allLayers) {
    const QString path = exportPath(allLayers ? tr("Export layer × head figure") : tr("Export heads of layer"),
                                    allLayers ? "layers_heads.png" : "heads.png",
                                    tr("PNG image (*.png);;SVG drawing (*.svg);;PDF document (*.pdf)"));
    if (path.isEmpty()) return;
    const QString err = exportHeadsFigure(*doc_, allLayers, path);
    if (!err.isEmpty()) return showError(err);
    exported(path);
}

void MainWindow::exportRunDialog() {
    const QString dir = QFileDialog::getExistingDirectory(this, tr("Export run to folder"), Settings().lastExportDirectory());
    if (dir.isEmpty() || !doc_->result() || !doc_->model()) return;
    try {
        write_run_folder(dir.toStdString(), *doc_->model(), *doc_->result(), doc_->input(), 5,
                         {{"image", doc_->imageName().toStdString()}});
    } catch (const std::exception& e) {
        return showError(QString::fromStdString(e.what()));
    }
    Settings().setLastExportDirectory(QFileInfo(dir).absolutePath()); // beside the run folder
    statusBar()->showMessage(tr("Wrote run to %1").arg(dir), 5000);
}

// Export dialogs start in the last export folder (the folder images come from may be read-only).
QString MainWindow::exportPath(const QString& caption, const QString& name, const QString& filter, QString* selected) {
    return QFileDialog::getSaveFileName(this, caption, Settings().lastExportDirectory() + "/" + name, filter, selected);
}

void MainWindow::exported(const QString& path) {
    Settings().setLastExportDirectory(QFileInfo(path).absolutePath());
    statusBar()->showMessage(tr("Saved %1").arg(path), 5000);
}

void MainWindow::keyPressEvent(QKeyEvent* e) {
    const QWidget* focus = QApplication::focusWidget();
    const bool arrowsTaken = focus && (qobject_cast<const QLineEdit*>(focus) || qobject_cast<const QAbstractSpinBox*>(focus) ||
                                       qobject_cast<const QComboBox*>(focus) || qobject_cast<const QAbstractItemView*>(focus) ||
                                       qobject_cast<const QAbstractSlider*>(focus) || qobject_cast<const QTextEdit*>(focus) ||
                                       qobject_cast<const QPlainTextEdit*>(focus));
    if (e->modifiers() == Qt::NoModifier && !arrowsTaken && doc_->result() && navigateSelection(doc_, e->key())) return;
    QMainWindow::keyPressEvent(e);
}

void MainWindow::dragEnterEvent(QDragEnterEvent* e) {
    if (e->mimeData()->hasUrls() || e->mimeData()->hasImage()) e->acceptProposedAction();
}

void MainWindow::dropEvent(QDropEvent* e) {
    const QMimeData* mime = e->mimeData();
    if (mime->hasUrls()) {
        // A model and an image dropped together: the model first, so the run uses it.
        QList<QUrl> urls = mime->urls();
        std::stable_sort(urls.begin(), urls.end(), [](const QUrl& a, const QUrl& b) {
            return looksLikeModel(a.toLocalFile()) && !looksLikeModel(b.toLocalFile());
        });
        for (const QUrl& u : urls)
            if (u.isLocalFile()) openPath(u.toLocalFile());
    } else if (mime->hasImage()) {
        runner_->openImage(fromQImage(qvariant_cast<QImage>(mime->imageData())), tr("dropped image"));
    }
    e->acceptProposedAction();
}

void MainWindow::readSettings() {
    Settings s;
    DisplayOptions d;
    d.colormap = colormapFromName(s.colormap());
    d.opacity = s.opacity();
    d.grid = s.showGrid();
    d.smooth = s.smooth();
    d.fade = s.fade();
    doc_->setDisplay(d);
    if (!restoreGeometry(s.windowGeometry())) resize(1360, 860);
    restoreState(s.windowState());
}

void MainWindow::writeSettings() {
    Settings s;
    const DisplayOptions& d = doc_->display();
    s.setColormap(colormapName(d.colormap));
    s.setOpacity(d.opacity);
    s.setShowGrid(d.grid);
    s.setSmooth(d.smooth);
    s.setFade(d.fade);
    s.setWindowGeometry(saveGeometry());
    s.setWindowState(saveState());
}

void MainWindow::closeEvent(QCloseEvent* e) {
    compare_->leave(); // the docks as they were, not compare mode's, are what is saved
    writeSettings();
    runner_->cancel();
    e->accept();
}

} // namespace attnscope::ui
