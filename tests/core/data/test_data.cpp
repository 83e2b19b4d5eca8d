// core/data: the deterministic generator, the Fashion-MNIST reader, the synthetic scenes and the
// detection metric (hand-computed cases).
#include "core/data/detection_metrics.h"
#include "core/data/fashion_mnist.h"
#include "core/data/rng.h"
#include "core/data/scenes.h"
#include "core/error.h"

#include <QTemporaryDir>
#include <QtTest>

#include <zlib.h>

#include <cmath>
#include <filesystem>
#include <set>

using namespace attnscope;
using namespace attnscope::data;

namespace {
bool have_fashion_mnist() {
    return std::filesystem::exists(fashion_mnist_dir() + "/t10k-images-idx3-ubyte.gz");
}
void write_gz(const std::string& path, const std::string& bytes) {
    gzFile f = gzopen(path.c_str(), "wb");
    gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size()));
    gzclose(f);
}
std::string be32(uint32_t v) {
    return {char(v >> 24), char((v >> 16) & 255), char((v >> 8) & 255), char(v & 255)};
}
} // namespace

class TestData : public QObject {
    Q_OBJECT
    FashionMnist test_set_;

private slots:
    void initTestCase() {
        if (have_fashion_mnist()) test_set_ = load_fashion_mnist(fashion_mnist_dir(), "t10k");
    }

    void splitmix64_matches_the_published_sequence() {
        // Vigna's splitmix64.c from state 0: 0xE220A8397B1DCDAF, 0x6E789E6AA1B965F4, 0x06C45D188009454F.
        Rng r(0);
        QCOMPARE(r.next(), 0xE220A8397B1DCDAFULL);
        QCOMPARE(r.next(), 0x6E789E6AA1B965F4ULL);
        QCOMPARE(r.next(), 0x06C45D188009454FULL);
    }

    void rng_distributions_have_the_right_moments() {
        Rng r(42);
        double s = 0, s2 = 0, n1 = 0, n2 = 0;
        const int N = 200000;
        int lo = 0, hi = 0;
        for (int i = 0; i < N; ++i) {
            const double u = r.uniform();
            QVERIFY(u >= 0.0 && u < 1.0);
            s += u, s2 += u * u;
            const double z = r.normal();
            n1 += z, n2 += z * z;
            const int k = r.integer(3, 8);
            QVERIFY(k >= 3 && k <= 8);
            lo += k == 3, hi += k == 8;
        }
        QVERIFY(std::abs(s / N - 0.5) < 0.005);
        QVERIFY(std::abs(s2 / N - 1.0 / 3.0) < 0.005);
        QVERIFY(std::abs(n1 / N) < 0.01);
        QVERIFY(std::abs(n2 / N - 1.0) < 0.01);
        QVERIFY(lo > N / 6 - 2000 && hi > N / 6 - 2000); // both ends reachable, roughly uniform
    }

    void fashion_mnist_reads_debians_files() {
        if (!have_fashion_mnist()) QSKIP("dataset-fashion-mnist is not installed");
        QCOMPARE(test_set_.count, 10000);
        QCOMPARE(int(test_set_.labels.size()), 10000);
        QCOMPARE(int(test_set_.labels[0]), 9); // the first test image is an ankle boot (dataset README)
        std::vector<int> per_class(10, 0);
        for (uint8_t l : test_set_.labels) per_class[l]++;
        for (int c : per_class) QCOMPARE(c, 1000); // the test split is balanced
        QCOMPARE(fashion_mnist_labels()[9], std::string("Ankle boot"));
    }

    void fashion_mnist_errors_name_the_file_and_field() {
        QTemporaryDir dir;
        const std::string d = dir.path().toStdString();
        try {
            load_fashion_mnist(d, "t10k");
            QFAIL("no error for a missing file");
        } catch (const Error& e) {
            QVERIFY(e.file().find("t10k-images-idx3-ubyte.gz") != std::string::npos);
        }
        write_gz(d + "/t10k-images-idx3-ubyte.gz", be32(2051) + be32(3) + be32(28) + be32(28) + std::string(3 * 784, '\0'));
        write_gz(d + "/t10k-labels-idx1-ubyte.gz", be32(2049) + be32(4) + std::string(4, '\1'));
        try {
            load_fashion_mnist(d, "t10k");
            QFAIL("no error for mismatched counts");
        } catch (const Error& e) {
            QVERIFY(e.file().find("labels") != std::string::npos);
            QCOMPARE(e.field(), std::string("count"));
        }
        write_gz(d + "/t10k-images-idx3-ubyte.gz", be32(2052) + std::string(12, '\0'));
        try {
            load_fashion_mnist(d, "t10k");
            QFAIL("no error for a bad magic");
        } catch (const Error& e) {
            QCOMPARE(e.field(), std::string("magic"));
        }
    }

    void scenes_are_reproducible_and_well_formed() {
        if (!have_fashion_mnist()) QSKIP("dataset-fashion-mnist is not installed");
        SceneOptions opt;
        int total = 0;
        double in_sum = 0, out_sum = 0, in_n = 0, out_n = 0;
        std::set<int> counts;
        for (int i = 0; i < 200; ++i) {
            const Scene a = make_scene(test_set_, 5, i, opt), b = make_scene(test_set_, 5, i, opt);
            QVERIFY(a.pixels == b.pixels);
            QCOMPARE(a.objects.size(), b.objects.size());
            QCOMPARE(int(a.pixels.size()), opt.size * opt.size);
            QVERIFY(!a.objects.empty() && int(a.objects.size()) <= opt.max_items);
            counts.insert(int(a.objects.size()));
            for (size_t k = 0; k < a.objects.size(); ++k) {
                const auto& bx = a.objects[k].box_xyxy;
                QVERIFY(bx[0] >= 0 && bx[1] >= 0 && bx[2] <= opt.size && bx[3] <= opt.size);
                QVERIFY(bx[2] > bx[0] && bx[3] > bx[1]);
                QVERIFY(bx[2] - bx[0] <= opt.max_side && bx[3] - bx[1] <= opt.max_side);
                for (size_t j = 0; j < k; ++j) QVERIFY(box_iou(bx, a.objects[j].box_xyxy) <= opt.max_iou + 1e-9);
                // items are drawn: summed over all scenes, pixels inside boxes are brighter than outside
                for (int y = 0; y < opt.size; ++y)
                    for (int x = 0; x < opt.size; ++x) {
                        const bool inside = x >= bx[0] && x < bx[2] && y >= bx[1] && y < bx[3];
                        (inside ? in_sum : out_sum) += a.pixels[y * opt.size + x];
                        (inside ? in_n : out_n) += 1;
                    }
            }
            total += int(a.objects.size());
        }
        QVERIFY(in_sum / in_n > 1.5 * out_sum / out_n);
        QCOMPARE(int(counts.size()), 5); // 1..5 items all occur
        QVERIFY(total > 200 * 2);
        QVERIFY(make_scene(test_set_, 5, 0, opt).pixels != make_scene(test_set_, 6, 0, opt).pixels);
        QVERIFY(make_scene(test_set_, 5, 0, opt).pixels != make_scene(test_set_, 5, 1, opt).pixels);
    }

    void scene_options_are_validated() {
        FashionMnist none;
        QVERIFY_THROWS_EXCEPTION(Error, make_scene(none, 1, 0));
    }

    void scene_size_is_validated() {
        if (!have_fashion_mnist()) QSKIP("dataset-fashion-mnist is not installed");
        SceneOptions bad;
        bad.max_side = 200;
        QVERIFY_THROWS_EXCEPTION(Error, make_scene(test_set_, 1, 0, bad));
    }

    void iou_by_hand() {
        QCOMPARE(box_iou({0, 0, 10, 10}, {0, 0, 10, 10}), 1.0);
        QCOMPARE(box_iou({0, 0, 10, 10}, {10, 0, 20, 10}), 0.0);
        QCOMPARE(box_iou({0, 0, 10, 10}, {5, 0, 15, 10}), 50.0 / 150.0);
    }

    void average_precision_by_hand() {
        // Perfect detections → AP 1 for each class.
        std::vector<ScoredBox> gt{{0, 1, 1, {0, 0, 10, 10}}, {1, 2, 1, {5, 5, 20, 20}}};
        std::vector<ScoredBox> det{{0, 1, 0.9f, {0, 0, 10, 10}}, {1, 2, 0.8f, {5, 5, 20, 20}}};
        ApResult r = average_precision(det, gt);
        QCOMPARE(r.map, 1.0);
        // One class, two objects: TP (0.9), FP (0.8, wrong place), TP (0.7).
        // precision 1, 1/2, 2/3 at recall 1/2, 1/2, 1 → envelope 1 up to recall 0.5 (51 of the 101
        // points), 2/3 after (50 points): AP = (51 + 50·2/3) / 101.
        gt = {{0, 3, 1, {0, 0, 10, 10}}, {0, 3, 1, {50, 50, 60, 60}}};
        det = {{0, 3, 0.9f, {0, 0, 10, 10}}, {0, 3, 0.8f, {20, 20, 30, 30}}, {0, 3, 0.7f, {50, 50, 60, 61}}};
        r = average_precision(det, gt);
        QVERIFY(std::abs(r.map - (51.0 + 50.0 * 2.0 / 3.0) / 101.0) < 1e-12);
        // A duplicate of an already-matched object is a false positive; the wrong class never matches.
        det = {{0, 3, 0.9f, {0, 0, 10, 10}}, {0, 3, 0.8f, {0, 0, 10, 10}}, {0, 4, 0.95f, {50, 50, 60, 60}}};
        r = average_precision(det, gt);
        QVERIFY(std::abs(r.per_class.at(3) - 51.0 / 101.0) < 1e-12); // recall stops at 0.5
        QCOMPARE(int(r.per_class.size()), 1);                         // class 4 has no ground truth
        // IoU below 0.5 is a miss: box [0,0,10,10] vs [0,0,10,21] has IoU 100/210.
        r = average_precision({{0, 3, 0.9f, {0, 0, 10, 21}}}, {{0, 3, 1, {0, 0, 10, 10}}});
        QCOMPARE(r.map, 0.0);
    }
};

QTEST_GUILESS_MAIN(TestData)
#include "test_data.moc"
