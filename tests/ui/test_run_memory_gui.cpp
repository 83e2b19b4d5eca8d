// GUI test (QT_QPA_PLATFORM=offscreen): a run whose recorded attention maps would not fit in memory
// (core/run_memory.h; YOLOS at its native 800 px under a forced 256 MiB ceiling: ~4.5 GiB of maps) is
// refused before it starts; the window shows the message (the model, the size, what to do) and stays
// usable: with the ceiling lifted, the next model opens and runs.
#include "tests/support/view_test.h"

#include "core/limits.h"

#include <QMessageBox>
#include <QtTest>

using namespace attnscope;

class TestRunMemoryGui : public testing::ViewTest {
    Q_OBJECT

private slots:
    void cleanupTestCase() { set_memory_limit(0); }

    void mapsThatDoNotFitAreRefusedWithAMessage() {
        set_memory_limit(uint64_t(256) << 20);
        w_->openPath(QString::fromStdString(testing::fixture("yolos/mid/hf")));
        w_->openPath(png_); // resized to 800 × 960 by YOLOS's preprocessing
        QTRY_VERIFY_WITH_TIMEOUT(!w_->lastError().isEmpty(), 30000);
        QTRY_VERIFY_WITH_TIMEOUT(!w_->runner()->busy(), 30000);
        const QString msg = w_->lastError();
        qInfo("%s", qPrintable(msg));
        for (const char* part : {"yolos", "attention maps", "800×960 input", "GiB of memory", "smaller input size"})
            QVERIFY2(msg.contains(part), part);
        auto* box = w_->findChild<QMessageBox*>("errorMessage");
        QVERIFY(box && box->isVisible() && box->text().contains("attention maps"));
        QVERIFY(doc()->result() == nullptr);
        QCOMPARE(doc()->runState(), ui::Document::RunState::Failed);

        // still usable: lift the ceiling, open a small model, it runs
        set_memory_limit(0);
        box->close();
        QVERIFY(openAndRun("vit/hf_vit", png_));
        QVERIFY(doc()->result() != nullptr);
        QCOMPARE(doc()->runState(), ui::Document::RunState::Idle);
    }
};

QTEST_MAIN(TestRunMemoryGui)
#include "test_run_memory_gui.moc"
