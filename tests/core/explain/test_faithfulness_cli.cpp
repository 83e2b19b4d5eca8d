// attnscope-cli faithfulness end to end: the files and their columns on the tiny fixture ViT, the errors a
// user meets, and on two shared photos with the real DeiT-Tiny (skipped when ../shared is absent) the
// rows (rollout, attention and chefer2), the summary, --limit, and Ctrl+C writing what is done.
#include "tests/support/cli_process.h"
#include "tests/support/tensor_compare.h"

#include <QFile>
#include <QProcess>
#include <QTemporaryDir>
#include <QtTest>

#include <csignal>
#include <filesystem>

using namespace attnscope::testing;
namespace fs = std::filesystem;

namespace {
using Out = CliOut;
Out cli(const QStringList& args) { return run_cli(args, 300000); }
QStringList lines(const QString& path) {
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly)) return {};
    return QString::fromUtf8(f.readAll()).split('\n', Qt::SkipEmptyParts);
}
QString fx(const char* rel) { return QString::fromStdString(fixture(rel)); }
} // namespace

class TestFaithfulnessCli : public QObject {
    Q_OBJECT
    QTemporaryDir tmp;

    // Two 224 × 224 photos (and a text file) in a folder of their own; "" without ../shared.
    QString photos() {
        const std::string a = shared_path("images/vit-explain/plane.png"), b = shared_path("images/vit-explain/dogbird.png");
        if (a.empty() || !fs::exists(a) || !fs::exists(b)) return {};
        const QString dir = tmp.path() + "/photos";
        fs::create_directories(dir.toStdString());
        fs::copy_file(a, dir.toStdString() + "/plane.png", fs::copy_options::overwrite_existing);
        fs::copy_file(b, dir.toStdString() + "/dogbird.png", fs::copy_options::overwrite_existing);
        QFile notes(dir + "/notes.txt");
        notes.open(QIODevice::WriteOnly);
        notes.write("not an image\n");
        return dir;
    }
    QString deit() { return QString::fromStdString(shared_path("models/deit-tiny-imagenet")); }

private slots:
    void fixture_model_writes_every_file() {
        const QString dir = tmp.path() + "/fx";
        fs::create_directories(dir.toStdString());
        for (const char* f : {"src_64x48.png", "src_37x23.png"})
            fs::copy_file(fixture(std::string("image/") + f), dir.toStdString() + "/" + f);
        const QString out = tmp.path() + "/fx-out";
        const Out r = cli({"faithfulness", "--model", fx("vit/hf_vit"), "--images", dir, "--methods", "attention,rollout",
                           "--out", out, "--threads", "1"});
        QVERIFY2(r.code == 0, qPrintable(r.err));
        QVERIFY(r.out.contains("\"processed\": 2"));
        QVERIFY(r.err.contains("[1/2]") && r.err.contains("[2/2]")); // progress
        const QStringList rows = lines(out + "/faithfulness.csv");
        QCOMPARE(rows.size(), 1 + 2 * 2);
        QCOMPARE(rows[0], QString("image,method,target,label,prob,positive_auc_top1,positive_auc_prob,negative_auc_top1,"
                                  "negative_auc_prob,deletion_auc,insertion_auc,explain_ms"));
        QVERIFY(rows[1].startsWith("src_37x23.png,attention,"));
        QVERIFY(rows[2].startsWith("src_37x23.png,rollout,"));
        // 16 patches: 10 + 10 perturbation steps, 11 + 11 RISE steps per row.
        QCOMPARE(lines(out + "/faithfulness_curves.csv").size(), 1 + 4 * 42);
        const QStringList summary = lines(out + "/summary.csv");
        QCOMPARE(summary.size(), 3);
        QVERIFY(summary[1].startsWith("attention,2,"));
        QVERIFY(summary[2].startsWith("rollout,2,"));
    }

    void user_errors_are_named() {
        const QString out = tmp.path() + "/err";
        Out r = cli({"faithfulness", "--model", fx("vit/hf_vit"), "--images", fx("image"), "--methods", "rollout,lime", "--out", out});
        QCOMPARE(r.code, 2);
        QVERIFY2(r.err.contains("--methods") && r.err.contains("lime"), qPrintable(r.err));
        r = cli({"faithfulness", "--model", fx("vit/hf_vit"), "--images", fx("image"), "--step", "0", "--out", out});
        QCOMPARE(r.code, 2);
        QVERIFY(r.err.contains("--step"));
        r = cli({"faithfulness", "--model", fx("detr/r50tiny/hf"), "--images", fx("image"), "--out", out});
        QCOMPARE(r.code, 2);
        QVERIFY2(r.err.contains("classifier"), qPrintable(r.err));
        r = cli({"faithfulness", "--model", fx("vit/hf_vit"), "--images", tmp.path() + "/nowhere", "--out", out});
        QCOMPARE(r.code, 2);
        QVERIFY(r.err.contains("nowhere"));
        r = cli({"faithfulness", "--model", fx("vit/hf_vit"), "--images", fx("image"), "--out", out, "--treshold", "1"});
        QCOMPARE(r.code, 2);
        QVERIFY(r.err.contains("--treshold"));
    }

    void deit_tiny_on_two_photos() {
        const QString dir = photos();
        if (dir.isEmpty() || deit().isEmpty()) QSKIP("needs ../shared (models/deit-tiny-imagenet, images/vit-explain)");
        const QString out = tmp.path() + "/deit";
        const Out r = cli({"faithfulness", "--model", deit(), "--images", dir, "--methods", "rollout,attention,chefer2", "--out", out});
        QVERIFY2(r.code == 0, qPrintable(r.err));
        QVERIFY2(r.out.contains("\"methods_left_out\": 0"), qPrintable(r.err)); // the gradient engine is in
        const QStringList rows = lines(out + "/faithfulness.csv");
        QCOMPARE(rows.size(), 1 + 2 * 3);
        QVERIFY(rows[4].startsWith("plane.png,rollout,404,airliner,")); // DeiT-Tiny's top-1 for the plane
        QVERIFY(rows[6].startsWith("plane.png,chefer2,404,airliner,"));
        const QStringList summary = lines(out + "/summary.csv");
        QCOMPARE(summary.size(), 4);
        for (int m = 1; m <= 3; ++m) {
            const QStringList f = summary[m].split(',');
            QCOMPARE(f[1], QString("2"));
            for (int i = 2; i < f.size(); ++i) QVERIFY(f[i].toDouble() >= 0 && f[i].toDouble() <= 1);
            // Any map that follows the object: removing its most relevant patches hurts more than its least.
            QVERIFY2(f[2].toDouble() < f[6].toDouble(), qPrintable(summary[m])); // positive < negative (top-1 AUC)
        }
        const Out one = cli({"faithfulness", "--model", deit(), "--images", dir, "--methods", "attention", "--limit", "1",
                             "--out", out + "-limit"});
        QVERIFY2(one.code == 0, qPrintable(one.err));
        QCOMPARE(lines(out + "-limit/faithfulness.csv").size(), 2);
    }

    void ctrl_c_stops_and_writes_what_is_done() {
        const QString dir = photos();
        if (dir.isEmpty() || deit().isEmpty()) QSKIP("needs ../shared (models/deit-tiny-imagenet, images/vit-explain)");
        const QString out = tmp.path() + "/cancel";
        QProcess p;
        p.start(ATTNSCOPE_CLI, {"faithfulness", "--model", deit(), "--images", dir, "--methods", "rollout,attention", "--out", out,
                                "--threads", "1"});
        QVERIFY(p.waitForStarted());
        QString err;
        QElapsedTimer t;
        t.start();
        while (!err.contains("[1/2]") && t.elapsed() < 60000) { // the first image is under way
            p.waitForReadyRead(100);
            err += QString::fromUtf8(p.readAllStandardError());
        }
        QVERIFY(err.contains("[1/2]"));
        ::kill(pid_t(p.processId()), SIGINT);
        QVERIFY(p.waitForFinished(120000));
        QCOMPARE(p.exitCode(), 130);
        QVERIFY(QString::fromUtf8(p.readAllStandardOutput()).contains("\"cancelled\": true"));
        QVERIFY(lines(out + "/faithfulness.csv").size() <= 3); // the header and at most the first image
        QCOMPARE(lines(out + "/summary.csv").size(), 3);
    }
};

QTEST_GUILESS_MAIN(TestFaithfulnessCli)
#include "test_faithfulness_cli.moc"
