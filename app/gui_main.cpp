// attnscope: the desktop GUI.
//   attnscope [--model PATH] [--image IMG] [--images DIR] [--screenshot OUT.png [--view NAME]] [FILE...]
// FILE...: model folders / checkpoints and images, each opened by what it is (a file manager's "Open
// with", the .desktop entry's %F). --screenshot loads, runs, renders the main window (or the named view,
// with its caption) to a PNG and exits: with no display it renders offscreen, it neither reads nor
// writes the user's settings, and any error goes to stderr with exit code 1. --images DIR averages the
// mean attention distance over a folder once the first run is done (the Attention distance view's "Add
// images…"). With no model/image the demo opens: $ATTNSCOPE_DEMO_MODEL / $ATTNSCOPE_DEMO_IMAGE, else
// the installed resources (<prefix>/share/attnscope/resources beside <prefix>/bin), else an empty window.
// --help and --version need no display.
#include "app/blas_env.h"
#include "ui/export.h"
#include "ui/main_window.h"
#include "ui/views/distance_view.h"

#include "ui/settings.h"

#include <QApplication>
#include <QCommandLineParser>
#include <QDir>
#include <QDockWidget>
#include <QElapsedTimer>
#include <QFileInfo>
#include <QIcon>
#include <QTemporaryDir>
#include <QTimer>

#include <algorithm>
#include <cstdio>
#include <cstring>

using namespace attnscope::ui;

namespace {

// Where bundled resources may live: installed (<prefix>/share/attnscope/resources beside <prefix>/bin),
// beside the binary, and — for the binary in this build's bin/ only — the source tree.
QStringList resourceDirs() {
    const QString exe = QCoreApplication::applicationDirPath();
    QStringList dirs = {QDir::cleanPath(exe + "/../share/attnscope/resources"), exe + "/resources"};
    if (QFileInfo(exe).canonicalFilePath() == QFileInfo(QStringLiteral(ATTNSCOPE_BUILD_BIN_DIR)).canonicalFilePath())
        dirs << QStringLiteral(ATTNSCOPE_SOURCE_RESOURCES);
    return dirs;
}

// The window icon: the installed hicolor SVG, else the source tree's.
QIcon appIcon() {
    const QString exe = QCoreApplication::applicationDirPath();
    for (const QString& f : {exe + "/../share/icons/hicolor/scalable/apps/attnscope.svg",
                             QStringLiteral(ATTNSCOPE_SOURCE_RESOURCES) + "/icons/attnscope.svg"})
        if (QFileInfo::exists(f)) return QIcon::fromTheme("attnscope", QIcon(f));
    return QIcon::fromTheme("attnscope");
}

QString demoModel() {
    if (qEnvironmentVariableIsSet("ATTNSCOPE_DEMO_MODEL")) return qEnvironmentVariable("ATTNSCOPE_DEMO_MODEL");
    for (const QString& d : resourceDirs())
        if (QFileInfo::exists(d + "/models/demo-vit")) return QDir::cleanPath(d + "/models/demo-vit");
    return {};
}

QString demoImage() {
    if (qEnvironmentVariableIsSet("ATTNSCOPE_DEMO_IMAGE")) return qEnvironmentVariable("ATTNSCOPE_DEMO_IMAGE");
    for (const QString& d : resourceDirs()) {
        const QFileInfoList imgs = QDir(d + "/images").entryInfoList({"*.png", "*.jpg", "*.jpeg"}, QDir::Files, QDir::Name);
        if (!imgs.isEmpty()) return imgs.first().absoluteFilePath();
    }
    return {};
}

void setNames() {
    QCoreApplication::setOrganizationName("AttnScope");
    QCoreApplication::setApplicationName("AttnScope");
    QCoreApplication::setApplicationVersion(ATTNSCOPE_VERSION);
}

void addOptions(QCommandLineParser& cli) {
    cli.setApplicationDescription("AttnScope: look inside vision transformers");
    cli.addHelpOption();
    cli.addVersionOption();
    cli.addOption({"model", "Model folder or checkpoint file.", "PATH"});
    cli.addOption({"image", "Image file.", "IMG"});
    cli.addOption({"images", "Average the mean attention distance over the images in DIR (as \"Add images…\").", "DIR"});
    cli.addOption({"screenshot", "Render the window (or --view) to a PNG once the run is done, then exit. "
                                 "Works without a display; leaves the user's settings alone.", "OUT.png"});
    cli.addOption({"view", "With --screenshot: the view to render (overlay, model, matrix, rollout, masks, posembed, "
                           "filters, distance, detections, predictions, tokens, explain).", "NAME"});
    cli.addPositionalArgument("FILE", "Model folders or checkpoints and images to open (each by what it is).", "[FILE...]");
}

bool hasArg(int argc, char** argv, std::initializer_list<const char*> names) {
    for (int i = 1; i < argc; ++i)
        for (const char* n : names)
            if (std::strcmp(argv[i], n) == 0 || (std::strncmp(argv[i], n, std::strlen(n)) == 0 && argv[i][std::strlen(n)] == '='))
                return true;
    return false;
}

// Whether Qt can show windows here: a platform chosen explicitly (QT_QPA_PLATFORM, -platform), or a
// display to connect to. Without one, Qt's xcb plugin aborts the process.
bool haveDisplay(int argc, char** argv) {
    if (!qEnvironmentVariableIsEmpty("QT_QPA_PLATFORM") || hasArg(argc, argv, {"-platform", "--platform"})) return true;
    return !qEnvironmentVariableIsEmpty("DISPLAY") || !qEnvironmentVariableIsEmpty("WAYLAND_DISPLAY");
}

} // namespace

int main(int argc, char** argv) {
    attnscope::ensure_fast_blas(argv);
    if (hasArg(argc, argv, {"--help", "-h", "-?", "--help-all", "--version", "-v"})) {
        QCoreApplication plain(argc, argv); // no GUI: usage and version print without a display
        setNames();
        QCommandLineParser cli;
        addOptions(cli);
        cli.process(plain); // prints and exits
        return 0;
    }
    const bool screenshot = hasArg(argc, argv, {"--screenshot"});
    if (!haveDisplay(argc, argv)) {
        if (!screenshot) {
            std::fprintf(stderr, "attnscope: no display to show a window on (DISPLAY is not set); "
                                 "--screenshot OUT.png renders without one, attnscope-cli runs models headless\n");
            return 1;
        }
        qputenv("QT_QPA_PLATFORM", "offscreen");
    }
    QApplication app(argc, argv);
    setNames();
    QGuiApplication::setDesktopFileName("attnscope"); // resources/attnscope.desktop
    QApplication::setWindowIcon(appIcon());
    QCommandLineParser cli;
    addOptions(cli);
    cli.process(app);

    QString model = cli.value("model"), image = cli.value("image");
    QStringList files = cli.positionalArguments(); // each opened by what it is
    if (!cli.isSet("model") && !cli.isSet("image") && files.isEmpty()) {
        model = demoModel();
        image = demoImage();
    }
    const QString shot = cli.value("screenshot");
    // A screenshot renders its arguments with the defaults: no user settings read, none written.
    QTemporaryDir scratch;
    if (!shot.isEmpty()) Settings::useScratchStore(scratch.path());

    MainWindow w;
    if (!shot.isEmpty()) {
        w.resize(1060, 680); // a fixed size makes screenshots reproducible
        const QString viewId = cli.value("view");
        View* v = viewId.isEmpty() ? nullptr : w.view(viewId);
        if (!viewId.isEmpty() && !v) {
            QStringList ids;
            for (View* known : w.views()) ids << known->viewId();
            std::fprintf(stderr, "attnscope: unknown view '%s' (%s)\n", qPrintable(viewId), qPrintable(ids.join(", ")));
            return 2;
        }
        if (v) { // the view alone, floating at the window's size, rather than squeezed into its dock's share
            if (auto* dock = w.findChild<QDockWidget*>("dock_" + v->viewId())) {
                dock->setFloating(true);
                dock->resize(w.size());
            }
        }
        bool anyModel = !model.isEmpty(), anyImage = !image.isEmpty();
        for (const QString& f : files) (MainWindow::looksLikeModel(f) || !QFileInfo::exists(f) ? anyModel : anyImage) = true;
        if (!anyModel || !anyImage) {
            std::fprintf(stderr, "attnscope: --screenshot needs a model and an image (--model, --image, FILE... or the demo)\n");
            return 2;
        }
        auto save = [&w, v, shot] {
            QApplication::processEvents();
            QString err;
            if (v) {
                if (auto* dock = w.findChild<QDockWidget*>("dock_" + v->viewId())) {
                    dock->raise();
                    if (!v->screenshotSize().isEmpty()) { // analysis figures get room of their own
                        dock->setFloating(true);
                        dock->resize(v->screenshotSize());
                    }
                }
                QApplication::processEvents();
                v->ensureFresh(); // what changed while its tab was covered
                QElapsedTimer waited; // work the view does off the GUI thread (rollout, embeddings)
                waited.start();
                QTimer wake; // wakes the wait below at least every 50 ms
                wake.start(50);
                // Sleep until the next event: spinning here (processEvents with a time limit returns at once when
                // nothing is pending) took a core from the worker and made --images 5-7x slower than the CLI.
                while (v->busy() && waited.elapsed() < 120000)
                    QApplication::processEvents(QEventLoop::AllEvents | QEventLoop::WaitForMoreEvents);
                QApplication::processEvents();
                err = exportView(v->canvas(), v->caption(), shot);
            } else if (!w.grab().save(shot, "PNG", 0)) { // 0: smallest file
                err = "cannot write " + shot;
            }
            if (!err.isEmpty()) std::fprintf(stderr, "attnscope: %s\n", qPrintable(err));
            QApplication::exit(err.isEmpty() ? 0 : 1);
        };
        QObject::connect(w.runner(), &RunController::finished, &w, [save] { QTimer::singleShot(50, save); });
        // Every error the window shows (a model that fails to load, a missing file, …) ends the run.
        QObject::connect(&w, &MainWindow::errorShown, &w, [](const QString& m) {
            std::fprintf(stderr, "attnscope: %s\n", qPrintable(m));
            QApplication::exit(1);
        });
        // Idle with nothing to render and no error (cannot happen today): say why rather than hang.
        QObject::connect(w.runner(), &RunController::busyChanged, &w, [&w](bool busy) {
            if (busy) return;
            QTimer::singleShot(0, &w, [&w] {
                if (w.runner()->busy() || w.document()->result()) return;
                if (w.document()->runState() == Document::RunState::Failed) return; // reported by errorShown
                std::fprintf(stderr, "attnscope: nothing to render: %s\n", qPrintable(w.document()->waitingText()));
                QApplication::exit(1);
            });
        });
    }
    if (cli.isSet("images")) { // after the first run, so that the model is loaded
        auto once = std::make_shared<QMetaObject::Connection>();
        *once = QObject::connect(w.runner(), &RunController::finished, &w, [&w, once, dir = cli.value("images")] {
            QObject::disconnect(*once);
            auto* d = qobject_cast<DistanceView*>(w.view("distance"));
            d->addFolder(dir);
            if (!d->busy()) std::fprintf(stderr, "attnscope: --images: %s\n", qPrintable(d->status()));
        });
    }
    w.show();
    // Models first, so that the run uses the model given with the image.
    std::stable_sort(files.begin(), files.end(), [](const QString& a, const QString& b) {
        return MainWindow::looksLikeModel(a) && !MainWindow::looksLikeModel(b);
    });
    // From the event loop, so that an error reported at once (a missing file) can end a --screenshot.
    QTimer::singleShot(0, &w, [&w, model, image, files] {
        if (!model.isEmpty()) w.openModel(model);
        for (const QString& f : files) w.openPath(f);
        if (!image.isEmpty()) w.openImage(image);
    });
    return app.exec();
}
