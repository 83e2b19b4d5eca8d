// The main window: actions, menus, docks (one per registered View), status bar, drag & drop.
// Everything else lives in Document (state), RunController (work), the views and Settings.
#pragma once

#include "ui/compare_mode.h"
#include "ui/document.h"
#include "ui/interventions_bar.h"
#include "ui/run_controller.h"
#include "ui/views/view.h"

#include <QMainWindow>

class QLabel;
class QMenu;
class QMessageBox;
class QProgressBar;
class QToolButton;

namespace attnscope::ui {

class MainWindow : public QMainWindow {
    Q_OBJECT
public:
    explicit MainWindow(QWidget* parent = nullptr);
    ~MainWindow() override;

    Document* document() const { return doc_; }
    RunController* runner() const { return runner_; }
    View* view(const QString& id) const;     // "overlay", "model", "matrix", "detections"
    QList<View*> views() const { return views_; }
    QString lastError() const { return lastError_; }
    CompareMode* compare() const { return compare_; } // File ▸ Compare: side B beside this window's document
    InterventionsBar* interventions() const { return interventions_; } // switched-off heads, undo, clear

    // Open a path by what it is: a folder / .safetensors / .json / .pth / .bin is a model, else an image.
    // A path that does not exist is reported as such (it is neither). Drops, Recent, positional arguments.
    void openPath(const QString& path);
    // Open a path as a model / as an image whatever it looks like (--model, --image, the dialogs). Paths
    // go to the loader absolute, so that every error names the full path; Recent and the open dialogs'
    // folder are updated only once the file has opened.
    void openModel(const QString& path);
    void openImage(const QString& path);
    static bool looksLikeModel(const QString& path);
    // "Images (*.png *.jpg …)": core's kImageExtensions, the one list.
    static QString imageFileFilter();
    // The Open Model dialog (a folder or a checkpoint file); empty when cancelled.
    QString chooseModelPath(const QString& title);

signals:
    void errorShown(const QString& message); // every error the window reports (--screenshot exits on it)

protected:
    void closeEvent(QCloseEvent* e) override;
    void dragEnterEvent(QDragEnterEvent* e) override;
    void dropEvent(QDropEvent* e) override;
    // ←/→ head, ↑/↓ layer anywhere in the window, unless the focused widget uses arrows itself (a text
    // field, spin box, list, …): the keys reach the window only when no widget took them.
    void keyPressEvent(QKeyEvent* e) override;

private:
    void createActions();
    void createViews();
    void createInterventionsBar(); // below the selection bar; Undo / Clear go to the Run menu
    void createStatusBar();
    void readSettings();
    void writeSettings();
    void updateStatus();
    void updateRecentMenu();
    void showError(const QString& message);
    void openImageDialog();
    void openModelDialog();
    void paste();
    void rerunClicked();
    void exportViewDialog();
    void copyImage();
    void exportMapDialog();
    void exportRunDialog();
    void exportDetectionsDialog();
    void exportFigureDialog(bool allLayers);
    QString exportPath(const QString& caption, const QString& name, const QString& filter, QString* selected = nullptr);
    void exported(const QString& path);
    View* activeView() const;

    Document* doc_;
    RunController* runner_;
    CompareMode* compare_;
    InterventionsBar* interventions_ = nullptr;
    QList<View*> views_;
    QMenu* viewMenu_ = nullptr;
    QMenu* recentMenu_ = nullptr;
    QLabel* modelLabel_ = nullptr;
    QLabel* tokensLabel_ = nullptr;
    QLabel* timeLabel_ = nullptr;
    QProgressBar* progress_ = nullptr;
    QToolButton* cancelButton_ = nullptr;
    QMessageBox* errorBox_ = nullptr;
    QString lastError_;
    double lastForwardMs_ = -1;
};

} // namespace attnscope::ui
