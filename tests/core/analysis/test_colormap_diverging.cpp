// core/analysis/colormap's diverging map (RdBu_r, for differences A − B) against ColorBrewer's RdBu
// anchors, and diverging_range, worked out by hand.
#include "core/analysis/colormap.h"

#include <QtTest>

#include <cmath>
#include <cstdlib>

using namespace attnscope::analysis;

namespace {
int channel(uint32_t c, int shift) { return int((c >> shift) & 255); }
int maxChannelDiff(uint32_t a, uint32_t b) {
    int d = 0;
    for (int s : {16, 8, 0}) d = std::max(d, std::abs(channel(a, s) - channel(b, s)));
    return d;
}
} // namespace

class TestColormapDiverging : public QObject {
    Q_OBJECT
private slots:
    void ends_and_middle() {
        const auto& lut = colormap_lut(Colormap::RdBuR);
        QCOMPARE(lut[0], 0x053061u);   // ColorBrewer RdBu's darkest blue: the low (negative) end
        QCOMPARE(lut[255], 0x67001fu); // its darkest red: the high (positive) end
        // 0 of a symmetric range lands on index 128 (127.5 rounds up): next to the white middle anchor
        QCOMPARE(colormap_index(0.0, -1.0, 1.0), 128);
        QVERIFY2(maxChannelDiff(lut[128], 0xf7f7f7u) <= 6, "the middle of RdBu_r is near-white");
        QVERIFY2(maxChannelDiff(lut[127], 0xf7f7f7u) <= 6, "the middle of RdBu_r is near-white");
        // index 51 = 1/5 of the way: exactly the anchor 0x4393c3 (t = 51 / 255 · 10 = 2)
        QCOMPARE(lut[51], 0x4393c3u);
        // blue below the middle, red above
        QVERIFY(channel(lut[64], 0) > channel(lut[64], 16));
        QVERIFY(channel(lut[192], 16) > channel(lut[192], 0));
    }

    void names_and_kind() {
        QCOMPARE(std::string(colormap_name(Colormap::RdBuR)), std::string("rdbu_r"));
        QVERIFY(colormap_diverging(Colormap::RdBuR));
        QVERIFY(!colormap_diverging(Colormap::Viridis));
        // not a choice for attention maps: the sequential list (the GUI combo, --colormap) stays as it was
        QCOMPARE(int(colormap_names().size()), 6);
        Colormap cm = Colormap::Viridis;
        QVERIFY(!colormap_from_name("rdbu_r", cm));
        QCOMPARE(kColormapCount, 7);
    }

    void symmetric_range() {
        const float v[] = {0.25f, -0.5f, NAN, 0.1f};
        QCOMPARE(diverging_range(v, 4), 0.5);
        const float zeros[] = {0.0f, 0.0f};
        QVERIFY(diverging_range(zeros, 2) > 0); // never an empty range
        QVERIFY(diverging_range(nullptr, 0) > 0);
    }
};

QTEST_APPLESS_MAIN(TestColormapDiverging)
#include "test_colormap_diverging.moc"
