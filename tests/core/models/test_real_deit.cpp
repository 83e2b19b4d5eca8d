// The real pretrained DeiT-Tiny in ../shared/models on real photos in ../shared/images:
// decode → timm eval preprocessing (PIL-exact bicubic) → forward. Expected numbers are the
// independent NumPy forward quoted in ../shared/models/deit-tiny-imagenet/README.md.
// Skips, with a message, when ../shared is absent.
#include "core/image/decode.h"
#include "core/models/loader.h"
#include "core/session.h"
#include "tests/support/tensor_compare.h"

#include <QtTest>

using namespace attnscope;
using namespace attnscope::testing;

class TestRealDeit : public QObject {
    Q_OBJECT
    std::unique_ptr<Model> model;

private slots:
    void initTestCase() {
        const std::string dir = shared_path("models/deit-tiny-imagenet");
        if (dir.empty()) QSKIP("../shared/models/deit-tiny-imagenet not present: real-weights test skipped");
        model = load_model(dir);
    }

    void two_cats_top3() {
        const std::string img = shared_path("images/coco_000000039769_two_cats.png");
        if (img.empty()) QSKIP("../shared/images absent");
        const RunResult r = Session(*model).run(decode_image_file(img));
        const auto top = top_k(r, 3);
        for (const Prediction& p : top) std::printf("  %.4f %d %s\n", p.prob, p.index, p.label.c_str());
        QCOMPARE(top[0].index, 281); // tabby, tabby cat
        QCOMPARE(top[1].index, 282); // tiger cat
        QCOMPARE(top[2].index, 285); // Egyptian cat
        QVERIFY(std::abs(top[0].prob - 0.362) <= 0.002);
        QVERIFY(std::abs(top[1].prob - 0.273) <= 0.002);
        QVERIFY(std::abs(top[2].prob - 0.151) <= 0.002);
        QCOMPARE(QString::fromStdString(top[0].label), QString("tabby, tabby cat"));
        QCOMPARE(static_cast<int>(r.attention.size()), 12);
        QCOMPARE(r.attention[0].n_q, 197);
    }

    void plane_is_an_airliner() {
        const std::string img = shared_path("images/vit-explain/plane.png");
        if (img.empty()) QSKIP("../shared/images absent");
        const auto top = top_k(Session(*model).run(decode_image_file(img), RecordPolicy::None), 1);
        std::printf("  %.4f %d %s\n", top[0].prob, top[0].index, top[0].label.c_str());
        QCOMPARE(top[0].index, 404); // airliner
        QVERIFY(std::abs(top[0].prob - 0.83) <= 0.01); // README quotes "≈ 0.83"
    }
};

QTEST_APPLESS_MAIN(TestRealDeit)
#include "test_real_deit.moc"
