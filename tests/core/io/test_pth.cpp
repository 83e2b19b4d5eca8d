// torch.save checkpoints (made by real torch.save in tools/reference/make_pth_fixtures.py):
// every benign variant gives exactly the safetensors path's outputs; hostile pickles are refused
// with a message naming the global, and nothing runs.
#include "core/error.h"
#include "core/io/npy.h"
#include "core/io/pth.h"
#include "core/models/loader.h"
#include "core/session.h"
#include "tests/support/tensor_compare.h"

#include <QDir>
#include <QTemporaryDir>
#include <QtTest>

#include <filesystem>

using namespace attnscope;
using namespace attnscope::testing;
namespace fs = std::filesystem;

namespace {
RunResult run(const std::string& path) {
    LoadOptions o;
    o.heads_override = 4; // the DINO fixture is a bare checkpoint
    auto model = load_model(path, o);
    RunResult r = Session(*model).run(read_npy(fixture("vit/dino_timm/input.npy")));
    return r;
}
} // namespace

class TestPth : public QObject {
    Q_OBJECT
private slots:
    void same_as_safetensors_data() {
        QTest::addColumn<QString>("file");
        for (const char* f : {"zip_bare.pth", "zip_wrapped.pth", "legacy.pth", "views.pth"}) QTest::newRow(f) << QString(f);
    }
    void same_as_safetensors() {
        QFETCH(QString, file);
        const RunResult ref = run(fixture("vit/dino_timm/model.safetensors"));
        const RunResult got = run(fixture("pth/" + file.toStdString()));
        QCOMPARE(max_abs_diff(got.features, ref.features, file.toStdString() + " features"), 0.0);
        QCOMPARE(got.attention.size(), ref.attention.size());
        for (size_t i = 0; i < got.attention.size(); ++i) QCOMPARE(got.attention[i].probs, ref.attention[i].probs);
        // and the PyTorch reference itself
        QVERIFY(max_abs_diff(got.features, read_npy(fixture("vit/dino_timm/features.npy")), "vs torch") <= 1e-4);
    }

    void legacy_and_wrapped_are_recognised() {
        PthFile legacy(fixture("pth/legacy.pth"));
        QVERIFY(legacy.legacy());
        PthFile wrapped(fixture("pth/zip_wrapped.pth"));
        QVERIFY(wrapped.has("blocks.0.attn.qkv.weight")); // "module." stripped, "model" unwrapped
        QVERIFY(!wrapped.legacy());
    }

    void half_precision() {
        const RunResult ref = run(fixture("pth/half_expected.safetensors"));
        const RunResult got = run(fixture("pth/half.pth"));
        QCOMPARE(max_abs_diff(got.features, ref.features, "half.pth features"), 0.0);
        QCOMPARE(PthFile(fixture("pth/half.pth")).info("norm.weight").dtype, DType::F16);
    }

    void detr_original_pth() {
        LoadOptions o;
        o.heads_override = 4; // no config beside the original checkpoint; the fixture uses 4 heads
        auto model = load_model(fixture("pth/detr_original.pth"), o);
        QCOMPARE(QString(family_name(model->info().family)), QString("detr"));
        const RunResult r = Session(*model).run(read_npy(fixture("detr/r50tiny/input.npy")));
        QVERIFY(max_abs_diff(r.logits, read_npy(fixture("detr/r50tiny/expected/logits.npy")), "detr .pth logits") <= 1e-4);
        QVERIFY(max_abs_diff(r.boxes, read_npy(fixture("detr/r50tiny/expected/boxes.npy")), "detr .pth boxes") <= 1e-4);
    }

    void hostile_pickles_are_refused_data() {
        QTest::addColumn<QString>("file");
        QTest::addColumn<QString>("global");
        QTest::newRow("os.system") << "hostile_os_system.pth" << "posix.system";
        QTest::newRow("builtins.eval") << "hostile_eval.pth" << "builtins.eval";
        QTest::newRow("subprocess.call") << "hostile_subprocess.pth" << "subprocess.call";
        QTest::newRow("nested REDUCE") << "hostile_nested.pth" << "posix.system";
        QTest::newRow("legacy os.system") << "hostile_legacy.pth" << "posix.system";
    }
    void hostile_pickles_are_refused() {
        QFETCH(QString, file);
        QFETCH(QString, global);
        QTemporaryDir cwd;
        const QString old = QDir::currentPath();
        QDir::setCurrent(cwd.path()); // the payload would `touch attnscope-hostile-marker` here
        try {
            run(fixture("pth/" + file.toStdString()));
            QDir::setCurrent(old);
            QFAIL("expected the file to be refused");
        } catch (const Error& e) {
            QDir::setCurrent(old);
            qInfo("%s", e.what());
            QVERIFY2(QString(e.what()).contains(global), e.what());
            QVERIFY2(QString(e.what()).contains(file), e.what());
            QVERIFY(QString(e.what()).contains("nothing was run"));
        }
        QVERIFY(!QFile::exists(cwd.path() + "/attnscope-hostile-marker"));
    }

    void truncated_and_garbage() {
        QTemporaryDir tmp;
        const std::string good = fixture("pth/zip_bare.pth");
        const auto size = fs::file_size(good);
        for (uintmax_t cut : {size / 2, size - 10, uintmax_t(100)}) {
            const std::string p = tmp.path().toStdString() + "/cut.pth";
            fs::copy_file(good, p, fs::copy_options::overwrite_existing);
            fs::resize_file(p, cut);
            QVERIFY_THROWS_EXCEPTION(Error, PthFile{p});
        }
        const std::string legacy = tmp.path().toStdString() + "/legacy_cut.pth";
        fs::copy_file(fixture("pth/legacy.pth"), legacy);
        fs::resize_file(legacy, fs::file_size(legacy) - 100);
        try {
            PthFile f(legacy);
            QFAIL("expected an error");
        } catch (const Error& e) {
            qInfo("%s", e.what());
            QVERIFY(QString(e.what()).startsWith("legacy_cut.pth"));
        }
    }
};

QTEST_APPLESS_MAIN(TestPth)
#include "test_pth.moc"
