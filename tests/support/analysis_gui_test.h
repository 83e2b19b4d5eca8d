// The analysis views' GUI tests share this fixture: open a fixture model, hand the Document PyTorch's
// recorded maps as a result (openReference), raise a view's dock and wait for its work, make image folders.
#pragma once

#include "core/io/npy.h"
#include "tests/support/analysis_reference.h"
#include "tests/support/gui_test.h"
#include "ui/main_window.h"
#include "ui/views/view.h"

#include <QDirIterator>
#include <QDockWidget>
#include <QFile>
#include <QtTest>

#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>

namespace attnscope::testing {

using ui::View;
namespace fs = std::filesystem;

inline double diff(const std::vector<float>& got, const Tensor& want, const std::string& label) {
    if (int64_t(got.size()) != want.numel()) {
        std::printf("  %s: %zu values shown, %lld expected\n", label.c_str(), got.size(), static_cast<long long>(want.numel()));
        return INFINITY;
    }
    return max_abs_diff(got.data(), want.ptr(), want.numel(), label);
}

class AnalysisGuiTest : public GuiTest {
protected:
    template <class V> V* view(const char* id) const { return qobject_cast<V*>(w_->view(id)); }
    // Bring a view's dock to the front (as clicking its tab does) and wait for its work.
    bool show(const char* id) {
        find<QDockWidget>(QString("dock_") + id)->raise();
        QCoreApplication::processEvents();
        View* v = w_->view(id);
        QElapsedTimer t;
        t.start();
        while ((v->busy() || !v->isVisible()) && t.elapsed() < 30000) QTest::qWait(5);
        return v->isVisible() && !v->busy();
    }
    bool idle(const char* id) {
        View* v = w_->view(id);
        QElapsedTimer t;
        t.start();
        while (v->busy() && t.elapsed() < 30000) QTest::qWait(5);
        return !v->busy();
    }
    void openFixture(const std::string& model = "vit/hf_vit") { QVERIFY(openAndRun(model, png_)); }
    // The fixture model, and as the result PyTorch's recorded maps of that model (no forward of ours).
    nlohmann::json openReference(const QString& name) {
        AnalysisReference reference = read_analysis_reference(name.toStdString());
        const nlohmann::json& meta = reference.meta;
        this->w_->openPath(QString::fromStdString(fixture("vit/" + name.toStdString())));
        QElapsedTimer t;
        t.start();
        while ((doc()->model() == nullptr || w_->runner()->busy()) && t.elapsed() < 30000) QTest::qWait(5);
        auto r = std::make_shared<RunResult>();
        r->layout = reference.layout;
        const nlohmann::json& g = meta["geometry"];
        r->geometry = {g["orig_w"], g["orig_h"], g["resized_w"], g["resized_h"], g["crop_x"], g["crop_y"], g["input_w"], g["input_h"]};
        r->attention = std::move(reference.maps);
        ImageRGB8 img{r->geometry.orig_w, r->geometry.orig_h, std::vector<uint8_t>(size_t(r->geometry.orig_w) * r->geometry.orig_h * 3, 128)};
        doc()->setImage(std::move(img), "reference");
        doc()->setResult(r, Tensor());
        return meta;
    }
    // Copies of small fixture images into a fresh folder (+ a text file, + a broken "image").
    QString imageFolder(const QString& name, int copies, bool broken) {
        const QString dir = tmp_.filePath(name);
        QDir().mkpath(dir + "/sub");
        const QStringList src{"src_64x48.png", "src_37x23.png", "palette_9x6.png"};
        for (int i = 0; i < copies; ++i) {
            const QString from = QString::fromStdString(fixture("image/" + src[i % src.size()].toStdString()));
            QFile::copy(from, QString("%1/%2img%3.png").arg(i % 2 ? dir + "/sub" : dir).arg(i, 2, 10, QChar('0')).arg(i));
        }
        QFile notes(dir + "/notes.txt");
        notes.open(QIODevice::WriteOnly);
        notes.write("not an image\n");
        if (broken) {
            QFile bad(dir + "/zz_broken.png");
            bad.open(QIODevice::WriteOnly);
            bad.write("this is text with a .png name\n");
        }
        return dir;
    }
    // A pointer move without buttons, as the window system delivers it to a tracking widget.
    static void hover(QWidget* w, QPointF pos) {
        QMouseEvent e(QEvent::MouseMove, pos, w->mapToGlobal(pos), Qt::NoButton, Qt::NoButton, Qt::NoModifier);
        QCoreApplication::sendEvent(w, &e);
    }
    static QStringList sortedImages(const QString& dir) {
        QStringList files;
        QDirIterator it(dir, {"*.png"}, QDir::Files, QDirIterator::Subdirectories);
        while (it.hasNext()) files << it.next();
        files.sort();
        return files;
    }
};

} // namespace attnscope::testing
