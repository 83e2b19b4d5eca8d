// Compare mode of the main window: File ▸ Compare with Image… / Compare with Model… open side B (a
// CompareSession: a second Document run through its own RunController) and show the Compare view
// alone in the window; Leave Comparison (or a new model/image comparison) closes B and restores the
// window's docks as they were. The window's other views keep showing side A throughout.
#pragma once

#include "ui/compare_session.h"

#include <QByteArray>
#include <QObject>

class QAction;
class QDockWidget;
class QMenu;

namespace attnscope::ui {

class CompareView;
class MainWindow;

class CompareMode : public QObject {
    Q_OBJECT
public:
    explicit CompareMode(MainWindow* window);
    ~CompareMode() override;

    // The Compare submenu of `file`: compare with image / model, export, leave.
    void addActions(QMenu* file);
    bool active() const { return session_ != nullptr; }
    CompareSession* session() const { return session_; }
    CompareView* view() const { return view_; }

    // Enters compare mode with `path` as side B's image (Kind::Images) or model (Kind::Models); a comparison
    // already open is left first. Errors (nothing to share with B, B failing to load) go to error().
    void start(CompareSession::Kind kind, const QString& path);
    void leave(); // no-op when not comparing
    QString exportFigure(const QString& path); // error message, empty on success

signals:
    void error(const QString& message);
    void activeChanged(bool active);

private:
    void chooseImage();
    void chooseModel();
    void exportDialog();
    void updateActions();

    MainWindow* w_;
    CompareSession* session_ = nullptr;
    CompareView* view_ = nullptr;
    QDockWidget* dock_ = nullptr;
    QByteArray savedState_; // the window's docks before compare mode
    QAction* withImage_ = nullptr;
    QAction* withModel_ = nullptr;
    QAction* export_ = nullptr;
    QAction* leave_ = nullptr;
};

} // namespace attnscope::ui
