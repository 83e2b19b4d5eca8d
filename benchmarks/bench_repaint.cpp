// attnscope-bench-repaint: how long a layer/head change takes to reach a rendered frame in the GUI.
//   attnscope-bench-repaint --model PATH [--image IMG] [--iterations 300] [--size 1360x860] [--site NAME]
// Opens the model and image in a MainWindow (offscreen unless QT_QPA_PLATFORM says otherwise), waits for
// the one forward pass, then times, over many random (layer, head) changes (the path ←/→, ↑/↓ and the
// selection bar take):
//   select        Document::setSelection only: every view recomputes what it shows, nothing painted yet
//   frame         setSelection + the posted events (what the event loop does next): the widgets that
//                 changed are painted into the window's backing store — one frame; once with each of the
//                 tabs that share the right dock raised (model view, matrix, detections)
//   full_repaint  setSelection + QWidget::repaint() of the whole window (every widget, as on an expose)
//   view_paint    setSelection + the overlay or the model view repainted alone (its share of a frame)
// Prints one JSON line per measurement (median, p95, max in ms) and how many forward passes ran during
// the timed changes, which must be 0: a selection change only repaints. Results: docs/performance.md.
#include "app/blas_env.h"
#include "ui/main_window.h"

#include <QApplication>
#include <QDockWidget>
#include <QElapsedTimer>
#include <QImage>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QThread>

#include <nlohmann/json.hpp>

#include <time.h>

#include <algorithm>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

using namespace attnscope;
using namespace attnscope::ui;

namespace {

struct Options {
    QString model, image;
    int iterations = 300;
    QSize size{1360, 860};
    QString site; // "" = the site the model opens on
};

int usage() {
    std::fprintf(stderr, "usage: attnscope-bench-repaint --model PATH [--image IMG] [--iterations 300] [--size 1360x860]\n"
                         "                               [--site encoder|decoder_self|decoder_cross]\n");
    return 2;
}

// A counter of paint events on one widget (to check that a frame really painted the views).
// Counts only the paints inside the timed region (`timing` set).
bool timing = false;
class PaintCounter : public QObject {
public:
    int count = 0;
    bool eventFilter(QObject*, QEvent* e) override {
        if (e->type() == QEvent::Paint && timing) ++count;
        return false;
    }
};

double cpuMs(clockid_t clock) {
    timespec ts{};
    clock_gettime(clock, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}
double threadCpuMs() { return cpuMs(CLOCK_THREAD_CPUTIME_ID); }   // the GUI thread
double processCpuMs() { return cpuMs(CLOCK_PROCESS_CPUTIME_ID); } // + Qt's painting helper threads

// Wall-clock median / p95 / max, and the GUI thread's CPU time (robust when the machine is shared).
nlohmann::json stats(std::vector<double> ms, std::vector<double> cpu, std::vector<double> pcpu) {
    std::sort(ms.begin(), ms.end());
    std::sort(cpu.begin(), cpu.end());
    std::sort(pcpu.begin(), pcpu.end());
    auto at = [](const std::vector<double>& v, double q) { return v[std::min(v.size() - 1, size_t(q * double(v.size() - 1) + 0.5))]; };
    return {{"median_ms", at(ms, 0.5)}, {"p95_ms", at(ms, 0.95)}, {"max_ms", ms.back()}, {"min_ms", ms.front()},
            {"cpu_median_ms", at(cpu, 0.5)}, {"cpu_p95_ms", at(cpu, 0.95)},
            {"process_cpu_median_ms", at(pcpu, 0.5)}};
}

} // namespace

int main(int argc, char** argv) {
    ensure_fast_blas(argv);
    if (!qEnvironmentVariableIsSet("QT_QPA_PLATFORM")) qputenv("QT_QPA_PLATFORM", "offscreen");
    QApplication app(argc, argv);
    QStandardPaths::setTestModeEnabled(true); // leave the user's settings alone
    QApplication::setOrganizationName("AttnScopeBench");
    QApplication::setApplicationName("AttnScopeBench");

    Options o;
    const QStringList args = app.arguments();
    for (int i = 1; i < args.size(); ++i) {
        const QString a = args[i];
        auto next = [&]() -> QString { return i + 1 < args.size() ? args[++i] : QString(); };
        if (a == "--model") o.model = next();
        else if (a == "--image") o.image = next();
        else if (a == "--iterations") o.iterations = std::max(10, next().toInt());
        else if (a == "--site") o.site = next();
        else if (a == "--size") {
            const QStringList wh = next().split('x');
            if (wh.size() != 2) return usage();
            o.size = QSize(wh[0].toInt(), wh[1].toInt());
        } else return usage();
    }
    if (o.model.isEmpty()) return usage();
    QTemporaryDir tmp;
    if (o.image.isEmpty()) { // a smooth synthetic photo-sized image
        QImage img(640, 480, QImage::Format_RGB888);
        for (int y = 0; y < img.height(); ++y)
            for (int x = 0; x < img.width(); ++x) img.setPixelColor(x, y, QColor(x * 255 / 640, y * 255 / 480, (x + y) % 256));
        o.image = tmp.filePath("synthetic.png");
        img.save(o.image);
    }

    MainWindow w;
    w.resize(o.size);
    w.show();
    int forwardPasses = 0;
    QString error;
    QObject::connect(w.runner(), &RunController::finished, &w, [&] { ++forwardPasses; });
    QObject::connect(w.runner(), &RunController::failed, &w, [&](const QString& m) { error = m; });
    w.openPath(o.model);
    w.openPath(o.image);
    QElapsedTimer wait;
    wait.start();
    while ((w.runner()->busy() || !w.document()->result()) && error.isEmpty() && wait.elapsed() < 600000) {
        QApplication::processEvents(QEventLoop::AllEvents, 50);
        QThread::msleep(5);
    }
    if (!error.isEmpty() || !w.document()->result()) {
        std::fprintf(stderr, "attnscope-bench-repaint: %s\n", qPrintable(error.isEmpty() ? "no result" : error));
        return 1;
    }
    QApplication::processEvents();
    Document* doc = w.document();
    const RunResult* result = doc->result();
    if (!o.site.isEmpty()) {
        Selection s = doc->selection();
        bool known = false;
        for (Site site : doc->sites())
            if (o.site == site_name(site)) {
                s.site = site;
                known = true;
            }
        if (!known) {
            std::fprintf(stderr, "attnscope-bench-repaint: --site %s: not a site of this model\n", qPrintable(o.site));
            return 2;
        }
        doc->setSelection(s);
        QApplication::processEvents();
    }
    const Selection start = doc->selection();
    const int layers = doc->layerCount(start.site), heads = doc->headCount();
    const int passesBefore = forwardPasses;

    // The same pseudo-random walk for every measurement: each step changes the layer or the head or both.
    std::mt19937 rng(7);
    std::vector<std::pair<int, int>> steps;
    int l = start.layer, h = std::max(0, start.heads.head);
    for (int i = 0; i < o.iterations + 10; ++i) {
        const int kind = int(rng() % 3);
        if (kind != 1 || heads == 1) l = (l + 1 + int(rng() % std::max(1, layers - 1))) % layers;
        if (kind != 0 || layers == 1) h = (h + 1 + int(rng() % std::max(1, heads - 1))) % heads;
        steps.emplace_back(l, h);
    }
    auto select = [&](const std::pair<int, int>& lh) {
        Selection s = doc->selection();
        s.layer = lh.first;
        s.heads = {lh.second};
        doc->setSelection(s);
    };

    // How a change reaches the screen: `paint` is called after Document::setSelection, inside the timing.
    enum class Paint { None, Posted, Window, Canvas };
    PaintCounter overlayPaints, tabPaints;
    if (View* v = w.view("overlay")) v->canvas()->installEventFilter(&overlayPaints);
    auto measure = [&](const char* name, const char* raisedDock, Paint paint) {
        QWidget* tabCanvas = nullptr;
        if (raisedDock) {
            if (auto* dock = w.findChild<QDockWidget*>(QString("dock_") + raisedDock)) dock->raise();
            if (View* v = w.view(raisedDock)) tabCanvas = v->canvas();
            if (tabCanvas) tabCanvas->installEventFilter(&tabPaints);
        }
        w.repaint();
        QApplication::processEvents();
        overlayPaints.count = tabPaints.count = 0;
        std::vector<double> ms, cpu, pcpu;
        for (int i = 0; i < int(steps.size()); ++i) {
            QElapsedTimer t;
            const double c0 = threadCpuMs(), pc0 = processCpuMs();
            t.start();
            timing = true;
            select(steps[size_t(i)]);
            switch (paint) {
            case Paint::None: break;
            case Paint::Posted: QCoreApplication::processEvents(); break; // what the event loop does next: paint what changed
            case Paint::Window: w.repaint(); break;                           // everything, as on an expose
            case Paint::Canvas: tabCanvas->repaint(); break;                  // that view alone
            }
            const double elapsed = t.nsecsElapsed() / 1e6, used = threadCpuMs() - c0, pused = processCpuMs() - pc0;
            timing = false;
            if (i >= 10) { // 10 warm-up changes
                ms.push_back(elapsed);
                cpu.push_back(used);
                pcpu.push_back(pused);
            }
            QApplication::processEvents();     // anything left is handled outside the timing (and counted below)
        }
        if (tabCanvas) tabCanvas->removeEventFilter(&tabPaints);
        nlohmann::json j = {{"measure", name}, {"model", doc->model()->info().architecture},
                            {"family", family_name(doc->model()->info().family)}, {"site", site_name(start.site)},
                            {"tokens", result->layout.n_tokens()}, {"layers", layers}, {"heads", heads},
                            {"window", {o.size.width(), o.size.height()}}, {"changes", ms.size()},
                            {"overlay_paints", overlayPaints.count}, {"forward_passes", forwardPasses - passesBefore},
                            {"platform", QApplication::platformName().toStdString()}};
        if (raisedDock) {
            j["view"] = raisedDock;
            j["view_paints"] = tabPaints.count;
        }
        j.update(stats(ms, cpu, pcpu));
        std::puts(j.dump().c_str());
        std::fflush(stdout);
    };
    measure("select", nullptr, Paint::None);
    for (const char* tab : {"model", "matrix", "detections"}) measure("frame", tab, Paint::Posted);
    measure("full_repaint", "model", Paint::Window);
    for (const char* view : {"overlay", "model"}) measure("view_paint", view, Paint::Canvas);
    if (doc->result() != result || forwardPasses != passesBefore) {
        std::fprintf(stderr, "attnscope-bench-repaint: a selection change re-ran the model\n");
        return 1;
    }
    return 0;
}
