// Shared by the GUI tests (tests/ui/test_gui*.cpp): settings isolated per test program, a non-square
// test image, one main window per test function, lookups by object name, and waiting for a run.
// Header-only: tests/support's library links no Qt Widgets, and core tests never include this.
#pragma once

#include "tests/support/tensor_compare.h"
#include "ui/main_window.h"

#include <QCoreApplication>
#include <QImage>
#include <QSettings>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QtTest>

#include <memory>
#include <string>

namespace attnscope::testing {

class GuiTest : public QObject {
protected:
    QTemporaryDir tmp_;
    QString png_; // 48 × 40 gradient: non-square, so the geometry is exercised
    std::unique_ptr<ui::MainWindow> w_;

    // For initTestCase: QSettings in test mode under `org`/`app` (cleared), and png_ written into tmp_.
    bool setUpTestCase(const char* org, const char* app) {
        QStandardPaths::setTestModeEnabled(true);
        QCoreApplication::setOrganizationName(org);
        QCoreApplication::setApplicationName(app);
        QSettings().clear();
        if (!tmp_.isValid()) return false;
        QImage img(48, 40, QImage::Format_RGB888);
        for (int y = 0; y < img.height(); ++y)
            for (int x = 0; x < img.width(); ++x) img.setPixelColor(x, y, QColor(x * 5, y * 6, (x * y) % 256));
        png_ = tmp_.filePath("gradient.png");
        return img.save(png_);
    }
    // For init: a fresh, shown main window (optionally of a given size).
    void newWindow(QSize size = {}) {
        w_ = std::make_unique<ui::MainWindow>();
        if (!size.isEmpty()) w_->resize(size);
        w_->show();
    }

    ui::Document* doc() const { return w_->document(); }
    template <class T> T* find(const QString& name) const {
        T* t = w_->findChild<T*>(name);
        if (!t) qFatal("no widget named %s", qPrintable(name));
        return t;
    }
    // Opens a fixture model (path under tests/fixtures) and an image, and waits for the run to finish.
    bool openAndRun(const std::string& fixtureModel, const QString& image, int timeoutMs = 60000) {
        w_->openPath(QString::fromStdString(fixture(fixtureModel)));
        w_->openPath(image);
        return QTest::qWaitFor([this] { return doc()->result() != nullptr && !w_->runner()->busy(); }, timeoutMs);
    }
};

} // namespace attnscope::testing
