// core/analysis/heads (head selection, query rows and maps, where the key grid starts, the grid laid back
// on the original image) and core/analysis/colormap, against values worked out by hand.
#include "core/analysis/colormap.h"
#include "core/analysis/heads.h"
#include "core/error.h"
#include "tests/support/tensor_compare.h"

#include <QtTest>

#include <cmath>

using namespace attnscope;
using namespace attnscope::analysis;
using attnscope::testing::token_layout;

namespace {

// heads × n_q × n_k with explicit values, row-major per head.
AttentionMap map_of(Site site, int heads, int n_q, int n_k, std::vector<float> probs) {
    AttentionMap m;
    m.site = site;
    m.n_heads = heads;
    m.n_q = n_q;
    m.n_k = n_k;
    m.probs = std::move(probs);
    return m;
}

bool near(double a, double b, double tol = 1e-6) { return std::abs(a - b) <= tol; }

} // namespace

class TestHeads : public QObject {
    Q_OBJECT
private slots:
    void key_grid_start_by_kind_of_keys() {
        const TokenLayout vit = token_layout(1, 0, 2, 2, 16); // CLS + 4 patches
        QCOMPARE(key_grid_start(map_of(Site::Encoder, 1, 5, 5, std::vector<float>(25)), vit), 1);
        TokenLayout reg = token_layout(1, 4, 2, 2, 14); // DINOv2 with registers: CLS + 4 REG before the grid
        QCOMPARE(key_grid_start(map_of(Site::Encoder, 1, 9, 9, std::vector<float>(81)), reg), 5);
        TokenLayout detr = token_layout(0, 0, 2, 3, 32);
        const AttentionMap cross = map_of(Site::DecoderCross, 1, 4, 6, std::vector<float>(24));
        QCOMPARE(key_grid_start(cross, detr), 0);  // keys: the 6 feature cells
        QCOMPARE(query_grid_start(cross, detr), -1); // queries: 4 object queries
        const AttentionMap self = map_of(Site::DecoderSelf, 1, 10, 10, std::vector<float>(100));
        QCOMPARE(key_grid_start(self, detr), -1); // 10 object queries are not a 2×3 grid (nor did it take the last 6)
        QCOMPARE(key_grid_start(self, TokenLayout{}), -1); // no grid at all
    }

    void query_row_one_head_and_fusions() {
        // 2 heads, 2 queries, 3 keys
        const AttentionMap m = map_of(Site::Encoder, 2, 2, 3, {0.2f, 0.3f, 0.5f, /**/ 0.6f, 0.3f, 0.1f, //
                                                                0.4f, 0.4f, 0.2f, /**/ 0.1f, 0.1f, 0.8f});
        QCOMPARE(query_row(m, 1, {0}), (std::vector<float>{0.6f, 0.3f, 0.1f}));
        QCOMPARE(query_row(m, 1, {1}), (std::vector<float>{0.1f, 0.1f, 0.8f}));
        const auto mean = query_row(m, 1, {-1, HeadFusion::Mean});
        QVERIFY(near(mean[0], 0.35) && near(mean[1], 0.2) && near(mean[2], 0.45));
        QCOMPARE(query_row(m, 0, {-1, HeadFusion::Max}), (std::vector<float>{0.4f, 0.4f, 0.5f}));
        QCOMPARE(query_row(m, 0, {-1, HeadFusion::Min}), (std::vector<float>{0.2f, 0.3f, 0.2f}));
        QVERIFY_THROWS_EXCEPTION(Error, query_row(m, 2, {0}));  // query out of range
        QVERIFY_THROWS_EXCEPTION(Error, query_row(m, -1, {0}));
        QVERIFY_THROWS_EXCEPTION(Error, query_row(m, 0, {2}));  // head out of range
        // the whole matrix, row-major
        QCOMPARE(head_matrix(m, {1}), (std::vector<float>{0.4f, 0.4f, 0.2f, 0.1f, 0.1f, 0.8f}));
        const auto mx = head_matrix(m, {-1, HeadFusion::Max});
        QCOMPARE(mx, (std::vector<float>{0.4f, 0.4f, 0.5f, 0.6f, 0.3f, 0.8f}));
        QVERIFY((HeadSelect{-1}).fused() && !(HeadSelect{0}).fused());
    }

    void query_attention_and_head_maps_split_off_the_grid() {
        const TokenLayout l = token_layout(1, 0, 1, 2, 16); // CLS + 2 patches
        // head 0: row 0 = (0.5 | 0.2, 0.3); head 1: row 0 = (0.1 | 0.6, 0.3); other rows uniform-ish
        std::vector<float> p(2 * 3 * 3, 1.0f / 3);
        const float h0[3] = {0.5f, 0.2f, 0.3f}, h1[3] = {0.1f, 0.6f, 0.3f};
        std::copy(h0, h0 + 3, p.begin());
        std::copy(h1, h1 + 3, p.begin() + 9);
        const AttentionMap m = map_of(Site::Encoder, 2, 3, 3, p);
        const QueryAttention a = query_attention(m, l, 0, {-1, HeadFusion::Mean});
        QVERIFY(a.spatial());
        QCOMPARE(a.grid_h, 1);
        QCOMPARE(a.grid_w, 2);
        QCOMPARE(a.row.size(), size_t(3));
        QVERIFY(near(a.grid[0], 0.4) && near(a.grid[1], 0.3)); // CLS key (0.3 mean) dropped
        const auto heads = head_maps(m, l, 0);
        QCOMPARE(heads.size(), size_t(2));
        QCOMPARE(heads[0].grid, (std::vector<float>{0.2f, 0.3f}));
        QCOMPARE(heads[1].grid, (std::vector<float>{0.6f, 0.3f}));
        const Tensor t = query_map(m, l, 0, {1});
        QCOMPARE(t.shape, (Shape{1, 2}));
        QCOMPARE(t.data, (std::vector<float>{0.6f, 0.3f}));
        // DETR decoder self-attention: keys are queries, no grid part; query_map refuses it
        const AttentionMap self = map_of(Site::DecoderSelf, 1, 3, 3, std::vector<float>(9, 1.0f / 3));
        const QueryAttention s = query_attention(self, token_layout(0, 0, 1, 2, 32), 1, {0}); // 3 queries, 2 cells
        QVERIFY(!s.spatial());
        QCOMPARE(s.values().size(), size_t(3));
        QVERIFY_THROWS_EXCEPTION(Error, query_map(self, token_layout(0, 0, 1, 2, 32), 0));
    }

    void grid_in_original_undoes_resize_and_crop() {
        // 640×480 → shorter side 256: 341×256, centre crop 224: crop (58, 16); 14×14 patches of 16
        PreprocessGeometry g;
        g.orig_w = 640, g.orig_h = 480, g.resized_w = 341, g.resized_h = 256, g.crop_x = 58, g.crop_y = 16;
        g.input_w = g.input_h = 224;
        const RectD r = grid_in_original(g, token_layout(1, 0, 14, 14, 16));
        QVERIFY(near(r.x, 58 * 640.0 / 341, 1e-9));
        QVERIFY(near(r.y, 30.0, 1e-9)); // 16 · 480/256
        QVERIFY(near(r.w, 224 * 640.0 / 341, 1e-9));
        QVERIFY(near(r.h, 420.0, 1e-9)); // 224 · 1.875
        QCOMPARE(seen_in_original(g, token_layout(1, 0, 14, 14, 16)), r); // inside the image: nothing clipped
        // DETR: 100×50 shown at 200×100, stride 32: a 7×4 grid spans 224×128 input px = 112×64 original
        PreprocessGeometry d;
        d.orig_w = 100, d.orig_h = 50, d.resized_w = d.input_w = 200, d.resized_h = d.input_h = 100;
        const TokenLayout dl = token_layout(0, 0, 4, 7, 32);
        QCOMPARE(grid_in_original(d, dl), (RectD{0, 0, 112, 64}));
        QCOMPARE(seen_in_original(d, dl), (RectD{0, 0, 100, 50})); // clipped to the image
        // no patch size: the grid spans the input
        QCOMPARE(grid_in_original(d, token_layout(0, 0, 4, 7, 0)), (RectD{0, 0, 100, 50}));
        // nothing to lay back: empty grid, the whole image seen
        QVERIFY(grid_in_original(d, TokenLayout{}).empty());
        QCOMPARE(seen_in_original(d, TokenLayout{}), (RectD{0, 0, 100, 50}));
    }

    void colormap_table_and_index() {
        // matplotlib's viridis ends and cividis start (the anchors), grey is the identity
        QCOMPARE(colormap_lut(Colormap::Viridis)[0], 0x440154u);
        QCOMPARE(colormap_lut(Colormap::Viridis)[255], 0xfde725u);
        QCOMPARE(colormap_lut(Colormap::Cividis)[0], 0x00204du);
        QCOMPARE(colormap_lut(Colormap::Grey)[128], 0x808080u);
        QCOMPARE(colormap_lut(Colormap::Jet)[0], 0x000080u); // MATLAB jet starts dark blue (0, 0, 0.5)
        QCOMPARE(colormap_index(0.0, 0.0, 1.0), 0);
        QCOMPARE(colormap_index(1.0, 0.0, 1.0), 255);
        QCOMPARE(colormap_index(0.5, 0.0, 1.0), 128);  // 127.5 rounds up
        QCOMPARE(colormap_index(2.0, 0.0, 1.0), 255);  // clamped
        QCOMPARE(colormap_index(-1.0, 0.0, 1.0), 0);
        QCOMPARE(colormap_index(NAN, 0.0, 1.0), 0);
        QCOMPARE(colormap_index(3.0, 3.0, 3.0), 0); // constant map
        Colormap cm = Colormap::Viridis;
        QVERIFY(colormap_from_name("Magma", cm));
        QCOMPARE(cm, Colormap::Magma);
        QVERIFY(!colormap_from_name("rainbow", cm));
        QCOMPARE(std::string(colormap_name(Colormap::Grey)), std::string("grey"));
    }

    // Colour-bar ticks: round numbers inside the range, labelled with the decimals their step needs.
    void nice_ticks_data() {
        QTest::addColumn<double>("lo");
        QTest::addColumn<double>("hi");
        QTest::addColumn<int>("target");
        QTest::addColumn<QString>("labels");
        QTest::newRow("attention 0.000358…0.0697") << 0.000358 << 0.0697 << 5 << "0.01 0.02 0.03 0.04 0.05 0.06";
        QTest::newRow("short bar: three ticks") << 0.000358 << 0.0697 << 3 << "0.025 0.050";
        QTest::newRow("0…1") << 0.0 << 1.0 << 5 << "0 0.25 0.50 0.75 1.00";
        QTest::newRow("cosine -1…1") << -1.0 << 1.0 << 5 << "-1.0 -0.5 0 0.5 1.0";
        QTest::newRow("entropy 0.31…5.2 nats") << 0.31 << 5.2 << 5 << "1 2 3 4 5";
        QTest::newRow("pixels 12…118") << 12.0 << 118.0 << 5 << "25 50 75 100";
        QTest::newRow("tiny 5.64e-05…0.0003") << 5.64e-05 << 0.0003 << 5 << "0.00010 0.00015 0.00020 0.00025 0.00030";
        QTest::newRow("empty range") << 0.5 << 0.5 << 5 << "";
    }
    void nice_ticks() {
        QFETCH(double, lo);
        QFETCH(double, hi);
        QFETCH(int, target);
        QFETCH(QString, labels);
        const Ticks t = analysis::nice_ticks(lo, hi, target);
        QStringList got;
        for (double v : t.values) {
            QVERIFY2(v >= lo - 1e-12 && v <= hi + 1e-12, qPrintable(QString::number(v)));
            got << QString::fromStdString(tick_label(v, t.step));
        }
        QCOMPARE(got.join(' '), labels);
    }

    void head_colours() {
        QCOMPARE(head_colour(0), 0x1f77b4u); // Tableau 10, as matplotlib's default cycle
        QCOMPARE(head_colour(3), 0xd62728u);
        QCOMPARE(head_colour(9), 0x17becfu);
        QCOMPARE(head_colour(10), 0x165581u); // head 0's hue at 100/140 of its value: 0x1f/1.4 = 0x16, 0x77/1.4 = 0x55, 0xb4/1.4 = 0x81
        QVERIFY(head_colour(12) != head_colour(2));
    }
};

QTEST_APPLESS_MAIN(TestHeads)
#include "test_heads.moc"
