// The recorded maps' memory, checked before a run (core/run_memory.h): the estimate equals what the
// recorder then holds, for every family's fixtures (ViT, DeiT, DINOv2 with registers, CLIP, SigLIP with
// its pooling probe, YOLOS with detection tokens, DETR plain / DC5 / BasicBlock, encoder maps skipped);
// a run over a forced ceiling fails with a clear Error (the model, the size, what to do) before
// anything is allocated, and the same Session runs again once the ceiling is lifted; the CLI says the
// same and exits 2 — YOLOS at its native 800 px, the case that records gigabytes.
#include "core/error.h"
#include "core/io/npy.h"
#include "core/limits.h"
#include "core/models/loader.h"
#include "core/run_memory.h"
#include "core/session.h"
#include "tests/support/cli_process.h"
#include "tests/support/fixture_models.h"
#include "tests/support/tensor_compare.h"

#include <QTemporaryDir>
#include <QtTest>

#include <filesystem>

using namespace attnscope;
using namespace attnscope::testing;
namespace fs = std::filesystem;

namespace {
uint64_t bytes_held(const RunResult& r) {
    uint64_t b = 0;
    for (const AttentionMap& m : r.attention) b += m.probs.size() * sizeof(float);
    return b;
}
} // namespace

class TestRunMemory : public QObject {
    Q_OBJECT
    QTemporaryDir tmp;

private slots:
    void cleanup() { set_memory_limit(0); }

    void estimateIsWhatTheRecorderHolds_data() {
        QTest::addColumn<QString>("model");
        QTest::addColumn<QString>("config"); // DETR: a config.json beside the checkpoint ("" : the folder's own)
        QTest::addColumn<QString>("input");
        QTest::newRow("ViT") << "vit/hf_vit" << "" << "vit/hf_vit/input.npy";
        QTest::newRow("DeiT distilled, non-square") << "vit/deit_distilled" << "" << "vit/deit_distilled/input.npy";
        QTest::newRow("DINOv2 with registers") << "vit/dinov2_reg" << "" << "vit/dinov2_reg/input.npy";
        QTest::newRow("CLIP, 40×48") << "clip/hf_full" << "" << "clip/hf_full/input.npy";
        QTest::newRow("SigLIP with the pooling head") << "siglip/hf_vision" << "" << "siglip/hf_vision/input.npy";
        QTest::newRow("YOLOS, 44×76 (detection tokens)") << "yolos/mid/hf" << "" << "yolos/mid/input_resized.npy";
        QTest::newRow("DETR") << "detr/r50tiny/hf/model.safetensors" << "r50tiny/hf/config.json" << "detr/r50tiny/input.npy";
        QTest::newRow("DETR DC5") << "detr/r50tiny/hf/model.safetensors" << "r50tiny/hf/config_dc5.json" << "detr/r50tiny/input.npy";
        QTest::newRow("DETR BasicBlock DC5") << "detr/basic_dc5/model.safetensors" << "basic_dc5/config.json" << "detr/basic_dc5/input.npy";
    }
    void estimateIsWhatTheRecorderHolds() {
        QFETCH(QString, model);
        QFETCH(QString, config);
        QFETCH(QString, input);
        const std::unique_ptr<Model> m = config.isEmpty()
                                             ? load_model(fixture(model.toStdString()))
                                             : load_detr_fixture(model.toStdString().substr(5), config.toStdString());
        const Tensor x = read_npy(fixture(input.toStdString()));
        Session s(*m);
        for (const RecordPolicy p : {RecordPolicy::All, RecordPolicy::SkipEncoder, RecordPolicy::None}) {
            const RunResult r = s.run(x, p);
            QVERIFY(!r.attention.empty() || p != RecordPolicy::All);
            QCOMPARE(recorded_map_bytes(*m, x.size(1), x.size(2), p), bytes_held(r));
        }
    }

    // A forced ceiling: the run is refused before the forward pass with the model, the size, the
    // ceiling and what to do; lifted, the same Session runs.
    void overTheCeilingIsAClearError() {
        auto m = load_model(fixture("yolos/mid/hf"));
        const Tensor x = read_npy(fixture("yolos/mid/input_resized.npy")); // 44×76: 3 layers × 4 heads × 51² floats
        const uint64_t need = recorded_map_bytes(*m, 44, 76, RecordPolicy::All);
        QCOMPARE(need, uint64_t(3 * 4 * 51 * 51 * 4));
        Session s(*m);
        set_memory_limit(need); // less its margin, the maps no longer fit
        QString msg;
        try {
            s.run(x);
        } catch (const Error& e) {
            msg = QString::fromStdString(e.what());
            QCOMPARE(e.kind(), ErrorKind::Unsupported);
        }
        qInfo("%s", qPrintable(msg));
        QVERIFY2(msg.startsWith(QString::fromStdString(fixture("yolos/mid/hf"))), qPrintable(msg)); // the model's path
        for (const char* part : {"yolos", "attention maps", "44×76 input", "needs 122 KiB", "ATTNSCOPE_MEMORY_LIMIT",
                                 "refusing before the run", "smaller input", "fewer layers"})
            QVERIFY2(msg.contains(part), part);
        set_memory_limit(need + need / 4); // fits with its margin
        QCOMPARE(bytes_held(s.run(x)), need);
        set_memory_limit(need);
        QCOMPARE(s.run(x, RecordPolicy::None).attention.size(), size_t(0)); // nothing recorded: nothing to check
    }

    // Recycled buffers count: handing the previous result's maps back lets the next run reuse them.
    void recycledMapsAreNotCountedTwice() {
        auto m = load_model(fixture("yolos/mid/hf"));
        const Tensor x = read_npy(fixture("yolos/mid/input_resized.npy"));
        const uint64_t need = recorded_map_bytes(*m, 44, 76, RecordPolicy::All);
        Session s(*m);
        RunResult first = s.run(x);
        set_memory_limit(need);
        QVERIFY_THROWS_EXCEPTION(Error, s.run(x)); // the first result still holds its maps
        s.recycle(std::move(first.attention));
        QCOMPARE(bytes_held(s.run(x)), need);      // they are reused: no new memory needed
    }

    // The CLI: YOLOS at its preprocessing's native 800 px (any image is resized to it) records ~4.8 GB;
    // under a 256 MiB ceiling the run is refused with the message, exit code 2, no crash, no run folder.
    void cliSaysSoAndExits() {
        const QString out = tmp.path() + "/yolos800";
        qputenv("ATTNSCOPE_MEMORY_LIMIT", "256M");
        const CliOut r = run_cli({"run", "--model", fixture_arg("yolos/mid/hf"), "--image",
                                  QString(ATTNSCOPE_RESOURCES) + "/images/fmnist-00-t-shirt-top-test19.png", "--out", out});
        qunsetenv("ATTNSCOPE_MEMORY_LIMIT");
        qInfo("%s", qPrintable(r.err));
        QCOMPARE(r.code, 2);
        for (const char* part : {"yolos", "attention maps of a 800×800 input needs 4.", "GiB of memory", "ATTNSCOPE_MEMORY_LIMIT", "smaller input"})
            QVERIFY2(r.err.contains(part), part);
        QVERIFY(!fs::exists(fs::path(out.toStdString()) / "result.json"));
    }
};

QTEST_GUILESS_MAIN(TestRunMemory)
#include "test_run_memory.moc"
