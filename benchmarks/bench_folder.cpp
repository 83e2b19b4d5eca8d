// attnscope-bench-folder: the folder job in the GUI ("Add images…" of the Mean distance view) against
// `attnscope-cli dataset` on the same folder, alternating GUI, CLI, GUI, CLI… in one process run.
//   attnscope-bench-folder --model PATH --images DIR [--image IMG] [--rounds 3] [--cli build/bin/attnscope-cli]
// The GUI side is a MainWindow (offscreen unless QT_QPA_PLATFORM says otherwise) with the model and an
// image open and the Mean distance tab raised, as a user has it; timed from addFolder() until the view is
// idle again. The CLI side is the whole `attnscope-cli dataset` process (model load, CSV and PNG writes
// included), so the ratio is on the GUI's side. Prints one JSON line per run and a summary with the
// best (least disturbed) time of each and their ratio gui / cli. Results: docs/performance.md.
#include "app/blas_env.h"
#include "ui/main_window.h"
#include "ui/views/distance_view.h"

#include <QApplication>
#include <QDockWidget>
#include <QElapsedTimer>
#include <QProcess>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QTimer>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdio>
#include <functional>
#include <vector>

using namespace attnscope;
using namespace attnscope::ui;

namespace {

// Waits in the event loop (sleeping between events, as app.exec() does: never spinning on the CPU the
// worker needs), woken at least every 20 ms.
bool waitFor(const std::function<bool()>& done, int timeoutMs) {
    QElapsedTimer t;
    t.start();
    QTimer wake;
    wake.start(20);
    while (!done()) {
        if (t.elapsed() > timeoutMs) return false;
        QCoreApplication::processEvents(QEventLoop::AllEvents | QEventLoop::WaitForMoreEvents);
    }
    return true;
}

} // namespace

int main(int argc, char** argv) {
    ensure_fast_blas(argv); // as attnscope and attnscope-cli do
    QApplication app(argc, argv);
    QStandardPaths::setTestModeEnabled(true); // keep the user's settings out of it
    QString model, images, image, cli = QCoreApplication::applicationDirPath() + "/attnscope-cli";
    int rounds = 3;
    const QStringList args = app.arguments();
    for (int i = 1; i + 1 < args.size(); i += 2) {
        if (args[i] == "--model") model = args[i + 1];
        else if (args[i] == "--images") images = args[i + 1];
        else if (args[i] == "--image") image = args[i + 1];
        else if (args[i] == "--rounds") rounds = std::max(1, args[i + 1].toInt());
        else if (args[i] == "--cli") cli = args[i + 1];
        else return std::fprintf(stderr, "unknown option %s\n", qPrintable(args[i])), 2;
    }
    if (model.isEmpty() || images.isEmpty()) {
        std::fprintf(stderr, "usage: attnscope-bench-folder --model PATH --images DIR [--image IMG] [--rounds 3] [--cli PATH]\n");
        return 2;
    }
    MainWindow w;
    w.resize(1360, 860);
    w.show();
    w.openPath(model);
    if (!image.isEmpty()) w.openPath(image);
    if (!waitFor([&] { return !w.runner()->busy() && (image.isEmpty() || w.document()->result()); }, 120000)) {
        std::fprintf(stderr, "the model did not open / run\n");
        return 1;
    }
    if (auto* dock = w.findChild<QDockWidget*>("dock_distance")) dock->raise();
    auto* dv = qobject_cast<DistanceView*>(w.view("distance"));
    if (!dv) return std::fprintf(stderr, "no distance view\n"), 1;
    waitFor([&] { return !dv->busy(); }, 60000);
    QTemporaryDir tmp;
    std::vector<double> gui, cliMs;
    for (int r = 0; r < rounds; ++r) {
        dv->clearFolder();
        QElapsedTimer t;
        t.start();
        dv->addFolder(images);
        if (!waitFor([&] { return !dv->busy(); }, 600000)) return std::fprintf(stderr, "GUI folder job timed out\n"), 1;
        gui.push_back(double(t.nsecsElapsed()) / 1e6);
        std::printf("%s\n", nlohmann::json{{"side", "gui"}, {"round", r}, {"ms", gui.back()}, {"images", dv->folderStats().n_images()},
                                           {"skipped", dv->skipped()}}.dump().c_str());
        std::fflush(stdout);

        QProcess p;
        p.setProcessChannelMode(QProcess::ForwardedOutputChannel);
        t.restart();
        p.start(cli, {"dataset", "--model", model, "--images", images, "--out", tmp.filePath(QString("cli%1").arg(r))});
        if (!p.waitForFinished(600000) || p.exitCode() != 0) return std::fprintf(stderr, "attnscope-cli dataset failed\n"), 1;
        cliMs.push_back(double(t.nsecsElapsed()) / 1e6);
        std::printf("%s\n", nlohmann::json{{"side", "cli"}, {"round", r}, {"ms", cliMs.back()}}.dump().c_str());
        std::fflush(stdout);
    }
    const double g = *std::min_element(gui.begin(), gui.end()), c = *std::min_element(cliMs.begin(), cliMs.end());
    std::printf("%s\n", nlohmann::json{{"gui_best_ms", g}, {"cli_best_ms", c}, {"ratio_gui_over_cli", g / c}, {"rounds", rounds}}.dump().c_str());
    return 0;
}
