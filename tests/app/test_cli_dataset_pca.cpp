// attnscope-cli dataset: the joint feature PCA across a folder (feature_pca/NNNN.npy, feature_pca.csv) is
// core's JointFeaturePca (checked against NumPy in test_joint_pca) of every image's run, in the listed order;
// DETR writes none and says why.
#include "core/analysis/tokens.h"
#include "core/batch.h"
#include "core/image/decode.h"
#include "core/io/npy.h"
#include "core/models/loader.h"
#include "tests/support/cli_process.h"
#include "tests/support/tensor_compare.h"

#include <QProcess>
#include <QTemporaryDir>
#include <QtTest>

#include <filesystem>
#include <fstream>

using namespace attnscope;
using namespace attnscope::testing;
namespace fs = std::filesystem;

namespace {
using Out = CliOut;
Out cli(const QStringList& args) { return run_cli(args, 120000); }
} // namespace

class TestCliDatasetPca : public QObject {
    Q_OBJECT
    QTemporaryDir tmp;

private slots:
    void joint_pca_is_cores() {
        const fs::path images = fs::path(tmp.path().toStdString()) / "images";
        fs::create_directories(images / "sub");
        const fs::path res = fs::path(ATTNSCOPE_RESOURCES) / "images";
        fs::copy(res / "fmnist-03-dress-test13.png", images / "b.png");
        fs::copy(res / "fmnist-08-bag-test18.png", images / "a.png");
        fs::copy(res / "scene-seed7-000.png", images / "sub" / "c.png");
        const std::string model = (fs::path(ATTNSCOPE_RESOURCES) / "models" / "demo-vit").string();
        const QString out = tmp.path() + "/out";
        const Out r = cli({"dataset", "--model", QString::fromStdString(model), "--images", QString::fromStdString(images.string()), "--out", out});
        QVERIFY2(r.code == 0, qPrintable(r.err));

        auto m = load_model(model);
        Session session(*m);
        analysis::JointFeaturePca joint;
        const std::vector<std::string> files = list_image_files(images.string());
        QCOMPARE(files, (std::vector<std::string>{"a.png", "b.png", "sub/c.png"}));
        for (const std::string& f : files) {
            const RunResult run = session.run(decode_image_file((images / f).string()));
            joint.add(run.final_tokens, run.layout);
        }
        const auto want = joint.finish();
        const fs::path d = out.toStdString();
        std::ifstream csv(d / "feature_pca.csv");
        std::string line;
        std::getline(csv, line);
        QCOMPARE(line, std::string("index,image,grid_h,grid_w,pc1_explained,pc2_explained,pc3_explained,foreground_share"));
        for (size_t i = 0; i < want.size(); ++i) {
            char stem[16];
            std::snprintf(stem, sizeof stem, "%04zu", i);
            const Tensor img = read_npy((d / "feature_pca" / (std::string(stem) + ".npy")).string());
            QCOMPARE(img.shape, want[i].image.shape);
            QCOMPARE(max_abs_diff(img, want[i].image, "feature_pca/" + std::string(stem)), 0.0);
            QCOMPARE(max_abs_diff(read_npy((d / "feature_pca" / (std::string(stem) + "_mask.npy")).string()), want[i].mask, "mask"), 0.0);
            QVERIFY(fs::exists(d / "feature_pca" / (std::string(stem) + ".png")));
            QVERIFY(std::getline(csv, line));
            QVERIFY2(QString::fromStdString(line).startsWith(QString("%1,%2,").arg(i).arg(QString::fromStdString(files[i]))), line.c_str());
        }
        QVERIFY(!std::getline(csv, line)); // one row per image
    }

    void detr_writes_no_pca() {
        const fs::path images = fs::path(tmp.path().toStdString()) / "detr_images";
        fs::create_directories(images);
        fs::copy(fs::path(ATTNSCOPE_RESOURCES) / "images" / "scene-seed7-000.png", images / "a.png");
        const QString out = tmp.path() + "/detr_out";
        const Out r = cli({"dataset", "--model", QString::fromStdString((fs::path(ATTNSCOPE_RESOURCES) / "models" / "demo-detr").string()),
                           "--images", QString::fromStdString(images.string()), "--out", out});
        QVERIFY2(r.code == 0, qPrintable(r.err));
        QVERIFY(!fs::exists(out.toStdString() + "/feature_pca.csv"));
        QVERIFY(r.err.contains("feature_pca: skipped"));
    }
};

QTEST_GUILESS_MAIN(TestCliDatasetPca)
#include "test_cli_dataset_pca.moc"
