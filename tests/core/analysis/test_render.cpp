// core/analysis/render: the CLI's PNGs use the GUI's conventions — head colours from core's head_colour,
// yes/no masks without a colour scale, the one viridis table — read back from the decoded pixels.
#include "core/analysis/colormap.h"
#include "core/analysis/render.h"

#include <QtTest>
#include <opencv2/imgcodecs.hpp>

#include <set>

using namespace attnscope;
using namespace attnscope::analysis;

namespace {
// Every distinct colour of a PNG, as 0xRRGGBB.
std::set<uint32_t> colours(const std::string& png) {
    const std::vector<uint8_t> buf(png.begin(), png.end());
    const cv::Mat m = cv::imdecode(buf, cv::IMREAD_COLOR);
    std::set<uint32_t> out;
    for (int y = 0; y < m.rows; ++y)
        for (int x = 0; x < m.cols; ++x) {
            const cv::Vec3b c = m.at<cv::Vec3b>(y, x);
            out.insert((uint32_t(c[2]) << 16) | (uint32_t(c[1]) << 8) | c[0]);
        }
    return out;
}
} // namespace

class TestRender : public QObject {
    Q_OBJECT
private slots:
    void masksInHeadColoursWithoutAScale() {
        Tensor masks({3, 4, 4});
        for (int h = 0; h < 3; ++h) masks.data[size_t(h) * 16 + size_t(h)] = 1.0f; // one kept cell per head
        const auto c = colours(masks_png(masks, "masks"));
        for (int h = 0; h < 3; ++h) QVERIFY2(c.count(head_colour(h)), qPrintable(QString("head %1's colour").arg(h)));
        // no colour bar: neither end of viridis appears
        QVERIFY(!c.count(colormap_lut(Colormap::Viridis)[255]));
        QVERIFY(!c.count(colormap_lut(Colormap::Viridis)[0]));
    }

    void heatmapUsesTheSharedTable() {
        Tensor map({2, 2});
        map.data = {0.0f, 1.0f, 2.0f, 3.0f};
        const auto c = colours(heatmap_png(map, "t", 20, {}, "", {"head", "layer", true}));
        QVERIFY(c.count(colormap_lut(Colormap::Viridis)[0]));
        QVERIFY(c.count(colormap_lut(Colormap::Viridis)[255]));
        QVERIFY(c.count(colormap_lut(Colormap::Viridis)[85])); // 1/3 of the range
    }

    void distanceDotsInHeadColours() {
        const std::vector<std::vector<double>> d{{10, 20, 30, 40, 50, 60, 70, 80}, {15, 25, 35, 45, 55, 65, 75, 85}};
        const auto c = colours(distance_scatter_png(d, "distance"));
        for (int h = 0; h < 8; ++h) QVERIFY2(c.count(head_colour(h)), qPrintable(QString("head %1's colour").arg(h)));
    }
};

QTEST_APPLESS_MAIN(TestRender)
#include "test_render.moc"
