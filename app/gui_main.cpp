// attnscope: the desktop GUI.
//   attnscope [--model PATH] [--image IMG] [--images DIR] [--screenshot OUT.png [--view NAME]]
// --screenshot loads, runs, renders the main window (or the named view, with its caption) to a PNG
// and exits; it works under QT_QPA_PLATFORM=offscreen. --images DIR averages the mean attention
// distance over a folder once the first run is done (the Attention distance view's "Add images…"). With no model/image the demo opens:
// $ATTNSCOPE_DEMO_MODEL / $ATTNSCOPE_DEMO_IMAGE, else the installed resources, else an empty window.
#include "app/blas_env.h"
#include "ui/export.h"
#include "ui/main_window.h"
#include "ui/views/distance_view.h"

#include <QApplication>
#include <QCommandLineParser>
#include <QDir>
#include <QDockWidget>
#include <QElapsedTimer>
#include <QFileInfo>
#include <QTimer>

#include <cstdio>

using namespace attnscope::ui;

namespace {

// Where bundled resources may live: installed (<prefix>/share/attnscope/resources), beside the
// binary, then the source tree of a development build.
QStringList resourceDirs() {
    const QString exe = QCoreApplication::applicationDirPath();
    return {exe + "/../share/attnscope/resources", exe + "/resources", QStringLiteral(ATTNSCOPE_SOURCE_RESOURCES)};
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

} // namespace

int main(int argc, char** argv) {
    attnscope::ensure_fast_blas(argv);
    QApplication app(argc, argv);
    QApplication::setOrganizationName("AttnScope");
    QApplication::setApplicationName("AttnScope");
    QApplication::setApplicationVersion(ATTNSCOPE_VERSION);

    QCommandLineParser cli;
    cli.setApplicationDescription("AttnScope: look inside vision transformers");
    cli.addHelpOption();
    cli.addVersionOption();
    cli.addOption({"model", "Model folder or checkpoint file.", "PATH"});
    cli.addOption({"image", "Image file.", "IMG"});
    cli.addOption({"images", "Average the mean attention distance over the images in DIR (as \"Add images…\").", "DIR"});
    cli.addOption({"screenshot", "Render the window (or --view) to a PNG once the run is done, then exit.", "OUT.png"});
    cli.addOption({"view", "With --screenshot: the view to render (overlay, model, matrix, rollout, masks, posembed, "
                           "filters, distance, detections, predictions).", "NAME"});
    cli.process(app);

    QString model = cli.value("model"), image = cli.value("image");
    if (!cli.isSet("model") && !cli.isSet("image")) {
        model = demoModel();
        image = demoImage();
    }
    const QString shot = cli.value("screenshot");

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
        if (model.isEmpty() || image.isEmpty()) {
            std::fprintf(stderr, "attnscope: --screenshot needs --model and --image (or the demo)\n");
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
        QObject::connect(w.runner(), &RunController::failed, &w, [](const QString& m) {
            std::fprintf(stderr, "attnscope: %s\n", qPrintable(m));
            QApplication::exit(1);
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
    if (!model.isEmpty()) w.openPath(model);
    if (!image.isEmpty()) w.openPath(image);
    return app.exec();
}
