// Image module: Pillow-exact resize, HF/torchvision preprocessing, decoding. Expected values come from
// tools/reference/make_image_fixtures.py (PIL / numpy / torchvision), listed in tests/fixtures/image/manifest.json.
#include "core/error.h"
#include "core/image/decode.h"
#include "core/image/preprocess.h"
#include "core/image/resample.h"
#include "core/io/npy.h"
#include "tests/support/tensor_compare.h"

#include <nlohmann/json.hpp>

#include <QTemporaryDir>
#include <QtTest>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>

using namespace attnscope;
using attnscope::testing::fixture;
using json = nlohmann::json;

namespace {

const json& manifest() {
    static const json m = json::parse(std::ifstream(fixture("image/manifest.json")));
    return m;
}

const json& gif_manifest() { // tools/reference/make_gif_fixtures.py (PIL only)
    static const json m = json::parse(std::ifstream(fixture("image/gif_manifest.json")));
    return m;
}

std::string img_fixture(const std::string& name) { return fixture("image/" + name); }

std::string read_bytes(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    std::ostringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

void write_bytes(const std::string& path, const std::string& bytes) {
    std::ofstream(path, std::ios::binary) << bytes;
}

// uint8 HxWx3 .npy → ImageRGB8.
ImageRGB8 load_u8(const std::string& name) {
    const Tensor t = read_npy(img_fixture(name));
    ImageRGB8 im;
    im.height = static_cast<int>(t.size(0));
    im.width = static_cast<int>(t.size(1));
    for (float v : t.data) im.data.push_back(static_cast<uint8_t>(v));
    return im;
}

// Exact comparison; prints the max difference and how many values differ.
bool same_pixels(const ImageRGB8& got, const ImageRGB8& want, const std::string& label) {
    if (got.width != want.width || got.height != want.height) {
        std::printf("  %s: size %dx%d, expected %dx%d\n", label.c_str(), got.width, got.height, want.width, want.height);
        return false;
    }
    int maxd = 0;
    size_t ndiff = 0;
    for (size_t i = 0; i < got.data.size(); ++i) {
        const int d = std::abs(int(got.data[i]) - int(want.data[i]));
        maxd = std::max(maxd, d);
        ndiff += d != 0;
    }
    if (ndiff) std::printf("  %s: max |diff| = %d, %zu of %zu values differ\n", label.c_str(), maxd, ndiff, got.data.size());
    return ndiff == 0;
}

PreprocessSpec spec_from_manifest(const json& j) {
    PreprocessSpec s;
    const std::string r = j.at("resize");
    s.resize = r == "exact" ? PreprocessSpec::Resize::Exact
             : r == "shortest" ? PreprocessSpec::Resize::ShortestEdge
                               : PreprocessSpec::Resize::ShortestEdgeMaxLongest;
    s.resize_h = j.value("h", 0);
    s.resize_w = j.value("w", 0);
    s.shortest_edge = j.value("shortest", 0);
    s.longest_edge = j.value("longest", 0);
    s.resample = resample_from_name(j.at("resample"));
    s.center_crop = j.contains("crop");
    s.crop_h = s.crop_w = j.value("crop", 0);
    s.crop_rounding = j.value("rounding", "floor") == "round" ? PreprocessSpec::CropRounding::Round
                                                              : PreprocessSpec::CropRounding::Floor;
    for (int c = 0; c < 3; ++c) s.mean[c] = j.at("mean")[c].get<float>(), s.std[c] = j.at("std")[c].get<float>();
    return s;
}

// Runs f, expecting an Error whose message contains every part.
template <class F>
void expect_error(F&& f, std::initializer_list<std::string> parts) {
    try {
        f();
        QFAIL("expected an attnscope::Error");
    } catch (const Error& e) {
        for (const auto& p : parts)
            QVERIFY2(std::string(e.what()).find(p) != std::string::npos, (std::string(e.what()) + " lacks: " + p).c_str());
    }
}

} // namespace

class TestImage : public QObject {
    Q_OBJECT
    QTemporaryDir dir;
    std::string tmp(const char* name) { return (dir.path() + "/" + name).toStdString(); }

    static void manifest_rows(const char* section) {
        QTest::addColumn<int>("index");
        const json& list = manifest().at(section);
        for (size_t i = 0; i < list.size(); ++i) {
            const json& c = list[i];
            const std::string name = c.contains("name") ? c["name"].get<std::string>() : c.at("expected").get<std::string>();
            QTest::newRow(name.c_str()) << int(i);
        }
    }

private slots:
    void resize_matches_pil_data() { manifest_rows("resize"); }
    void resize_matches_pil() {
        QFETCH(int, index);
        const json& c = manifest()["resize"][index];
        const ImageRGB8 src = decode_image_file(img_fixture(c["source"]));
        const ImageRGB8 got = pil_resize(src, c["width"], c["height"], resample_from_name(c["filter"]));
        QVERIFY(same_pixels(got, load_u8(c["expected"]), c["expected"]));
    }

    void pipeline_matches_reference_data() { manifest_rows("pipeline"); }
    void pipeline_matches_reference() {
        QFETCH(int, index);
        const json& c = manifest()["pipeline"][index];
        PreprocessGeometry g;
        const Tensor got = preprocess(decode_image_file(img_fixture(c["source"])), spec_from_manifest(c["spec"]), &g);
        const Tensor want = read_npy(img_fixture(c["expected"]));
        QVERIFY(testing::max_abs_diff(got, want, c["name"]) <= 1e-6);
        const std::vector<int> geo{g.orig_w, g.orig_h, g.resized_w, g.resized_h, g.crop_x, g.crop_y, g.input_w, g.input_h};
        QCOMPARE(geo, c["geometry"].get<std::vector<int>>());
    }

    void decode_matches_pil_data() { manifest_rows("decode"); }
    void decode_matches_pil() {
        QFETCH(int, index);
        const json& c = manifest()["decode"][index];
        QVERIFY(same_pixels(decode_image_file(img_fixture(c["file"])), load_u8(c["expected"]), c["note"]));
    }

    // Issue 14, defect 6: GIF is offered by Open Image and listed in kImageExtensions, so it decodes —
    // as PIL does (tools/reference/make_gif_fixtures.py: interlacing, 1-bit to 12-bit codes, transparency,
    // animation, a frame offset on a larger screen).
    void decode_gif_matches_pil_data() {
        QTest::addColumn<int>("index");
        const json& list = gif_manifest().at("decode");
        for (size_t i = 0; i < list.size(); ++i) QTest::newRow(list[i].at("file").get<std::string>().c_str()) << int(i);
    }
    void decode_gif_matches_pil() {
        QFETCH(int, index);
        const json& c = gif_manifest()["decode"][index];
        ImageRGB8 got;
        try {
            got = decode_image_file(img_fixture(c["file"]));
        } catch (const Error& e) {
            QFAIL(e.what());
        }
        QVERIFY(same_pixels(got, load_u8(c["expected"]), c["note"]));
    }
    void extension_list_offers_gif_and_jfif() {
        for (const char* e : {".gif", ".jfif"}) {
            QVERIFY2(std::find(kImageExtensions.begin(), kImageExtensions.end(), e) != kImageExtensions.end(), e);
            QVERIFY(has_image_extension(std::string("dir/x") + e));
        }
        // A JPEG named .jfif decodes as one (the decoder sniffs the content).
        const std::string jfif = tmp("photo.jfif");
        write_bytes(jfif, read_bytes(img_fixture("jpeg_named.png")));
        QCOMPARE(decode_image_file(jfif).width, 24);
    }

    void exif_orientation_is_applied() {
        // stored 16×8: left half red, right half green (top) / blue (bottom); orientation 6 → rotate 90° CW.
        const ImageRGB8 im = decode_image_file(img_fixture("exif_orient6.jpg"));
        QCOMPARE(im.width, 8);
        QCOMPARE(im.height, 16);
        auto px = [&](int x, int y) { return &im.data[(size_t(y) * im.width + x) * 3]; };
        QVERIFY(px(4, 2)[0] > 200 && px(4, 2)[1] < 60);  // top = former left half: red
        QVERIFY(px(1, 12)[2] > 200 && px(1, 12)[0] < 60); // bottom-left = former bottom-right: blue
        QVERIFY(px(6, 12)[1] > 200 && px(6, 12)[0] < 60); // bottom-right = former top-right: green
    }

    void sniffs_content_not_extension() {
        QCOMPARE(sniff_image_header(read_bytes(img_fixture("jpeg_named.png"))).format, std::string("jpeg"));
        const ImageHeader h = sniff_image_header(read_bytes(img_fixture("src_37x23.png")));
        QCOMPARE(h.format, std::string("png"));
        QCOMPARE(h.width, 37);
        QCOMPARE(h.height, 23);
        QCOMPARE(sniff_image_header(read_bytes(img_fixture("exif_orient6.jpg"))).width, 16);
    }

    void unreadable_inputs_data() {
        QTest::addColumn<QString>("kind");
        QTest::addColumn<QString>("expected");
        QTest::newRow("missing file") << "missing" << "cannot open image file";
        QTest::newRow("empty file") << "empty" << "empty file";
        QTest::newRow("not an image") << "text" << "not a recognised image format";
        QTest::newRow("truncated JPEG") << "cut_jpeg" << "truncated or corrupt JPEG";
        QTest::newRow("truncated PNG") << "cut_png" << "cannot decode png image";
        QTest::newRow("absurd PNG size") << "huge_png" << "30000x30000 pixels: refusing";
        QTest::newRow("directory") << "dir" << "is a directory";
        QTest::newRow("truncated GIF") << "cut_gif" << "truncated";
    }
    void unreadable_inputs() {
        QFETCH(QString, kind);
        QFETCH(QString, expected);
        const std::string k = kind.toStdString(), path = k == "dir" ? dir.path().toStdString() : tmp((k + ".png").c_str());
        const std::string jpeg = read_bytes(img_fixture("jpeg_named.png")), png = read_bytes(img_fixture("src_64x48.png"));
        if (k == "empty") write_bytes(path, "");
        if (k == "text") write_bytes(path, "hello, not an image\n");
        if (k == "cut_jpeg") write_bytes(path, jpeg.substr(0, jpeg.size() / 2));
        if (k == "cut_png") write_bytes(path, png.substr(0, png.size() / 2));
        if (k == "cut_gif") {
            const std::string gif = read_bytes(img_fixture("gif_plain_37x23.gif"));
            write_bytes(path, gif.substr(0, gif.size() / 2));
        }
        if (k == "huge_png") { // valid signature + IHDR claiming 30000×30000, no data
            std::string h = png.substr(0, 33);
            for (int i : {16, 20}) h[i] = 0, h[i + 1] = 0, h[i + 2] = char(0x75), h[i + 3] = char(0x30);
            write_bytes(path, h);
        }
        expect_error([&] { decode_image_file(path); }, {path, expected.toStdString()});
    }

    void crop_offsets_data() {
        QTest::addColumn<int>("size");
        QTest::addColumn<int>("crop");
        QTest::addColumn<int>("floor_off");
        QTest::addColumn<int>("round_off");
        QTest::newRow("even difference") << 256 << 224 << 16 << 16;
        QTest::newRow("odd, 58.5 → 58 (banker's)") << 341 << 224 << 58 << 58;
        QTest::newRow("odd, 3.5 → 4 (banker's)") << 40 << 33 << 3 << 4;
        QTest::newRow("odd, 0.5 → 0 (banker's)") << 225 << 224 << 0 << 0;
        QTest::newRow("odd, 1.5 → 2 (banker's)") << 227 << 224 << 1 << 2;
        QTest::newRow("equal") << 224 << 224 << 0 << 0;
        QTest::newRow("pad odd: HF ceil, torchvision floor") << 20 << 25 << -3 << -2;
        QTest::newRow("pad even") << 20 << 24 << -2 << -2;
    }
    void crop_offsets() {
        QFETCH(int, size);
        QFETCH(int, crop);
        QFETCH(int, floor_off);
        QFETCH(int, round_off);
        QCOMPARE(center_crop_offset(size, crop, PreprocessSpec::CropRounding::Floor), floor_off);
        QCOMPARE(center_crop_offset(size, crop, PreprocessSpec::CropRounding::Round), round_off);
    }

    void resized_sizes() {
        PreprocessSpec s;
        s.resize = PreprocessSpec::Resize::ShortestEdge;
        s.shortest_edge = 256;
        QCOMPARE(resized_size(640, 480, s), std::make_pair(341, 256)); // int(256·640/480) = int(341.33)
        QCOMPARE(resized_size(480, 640, s), std::make_pair(256, 341));
        s.resize = PreprocessSpec::Resize::ShortestEdgeMaxLongest;
        s.shortest_edge = 800;
        s.longest_edge = 1333;
        QCOMPARE(resized_size(640, 480, s), std::make_pair(1066, 800)); // HF DetrImageProcessor get_size_with_aspect_ratio: cats → 800×1066
        QCOMPARE(resized_size(2000, 500, s), std::make_pair(1333, 333)); // capped: raw = 333.25
        QCOMPARE(resized_size(800, 600, s), std::make_pair(1066, 800));
    }

    void hf_preprocessor_configs() {
        // google/vit-base-patch16-224 (legacy, exactly as on the hub)
        PreprocessSpec s = spec_from_hf_preprocessor(json::parse(R"({"do_normalize": true, "do_resize": true,
            "image_mean": [0.5,0.5,0.5], "image_std": [0.5,0.5,0.5], "size": 224})"), "vit.json");
        QVERIFY(s.resize == PreprocessSpec::Resize::Exact && s.resize_h == 224 && s.resize_w == 224);
        QVERIFY(s.resample == Resample::Bilinear && !s.center_crop && s.rescale == 1.0 / 255.0);
        // facebook/deit-base-distilled-patch16-224 (legacy DeiTFeatureExtractor)
        s = spec_from_hf_preprocessor(json::parse(R"({"crop_size": 224, "do_center_crop": true, "do_normalize": true,
            "do_resize": true, "feature_extractor_type": "DeiTFeatureExtractor", "image_mean": [0.485,0.456,0.406],
            "image_std": [0.229,0.224,0.225], "resample": 3, "size": 256})"), "deit.json");
        QVERIFY(s.resize == PreprocessSpec::Resize::Exact && s.resize_h == 256 && s.resample == Resample::Bicubic);
        QVERIFY(s.center_crop && s.crop_h == 224 && s.crop_rounding == PreprocessSpec::CropRounding::Floor);
        QCOMPARE(s.mean[0], 0.485f);
        // modern DINOv2 (BitImageProcessor)
        s = spec_from_hf_preprocessor(json::parse(R"({"image_processor_type": "BitImageProcessor", "do_center_crop": true,
            "crop_size": {"height": 224, "width": 224}, "size": {"shortest_edge": 256}, "resample": 3,
            "do_rescale": true, "rescale_factor": 0.00392156862745098, "image_mean": [0.485,0.456,0.406],
            "image_std": [0.229,0.224,0.225]})"), "dinov2.json");
        QVERIFY(s.resize == PreprocessSpec::Resize::ShortestEdge && s.shortest_edge == 256 && s.center_crop);
        // DETR legacy and modern
        for (const char* cfg : {R"({"feature_extractor_type": "DetrFeatureExtractor", "size": 800, "max_size": 1333})",
                                R"({"image_processor_type": "DetrImageProcessor", "size": {"shortest_edge": 800, "longest_edge": 1333}})"}) {
            s = spec_from_hf_preprocessor(json::parse(cfg), "detr.json");
            QVERIFY(s.resize == PreprocessSpec::Resize::ShortestEdgeMaxLongest && s.shortest_edge == 800 && s.longest_edge == 1333);
            QVERIFY(s.resample == Resample::Bilinear && !s.center_crop && s.mean[2] == 0.406f);
        }
        s = spec_from_hf_preprocessor(json::parse(R"({"do_normalize": false, "do_rescale": false, "size": {"height": 32, "width": 48}})"), "x.json");
        QVERIFY(s.resize_w == 48 && s.rescale == 1.0 && s.mean[0] == 0.0f && s.std[0] == 1.0f);
    }

    void config_errors_name_file_and_field_data() {
        QTest::addColumn<QString>("config");
        QTest::addColumn<bool>("timm");
        QTest::addColumn<QString>("expected");
        QTest::newRow("hf mean length") << R"({"image_mean": [0.5, 0.5]})" << false << "cfg.json: image_mean: expected 3 numbers";
        QTest::newRow("hf zero std") << R"({"image_std": [0.5, 0, 0.5]})" << false << "cfg.json: image_std: must be finite and non-zero";
        QTest::newRow("hf size string") << R"({"size": "big"})" << false << "cfg.json: size: expected an integer";
        QTest::newRow("hf size dict") << R"({"size": {"longest_edge": 3}})" << false << "cfg.json: size: unsupported size";
        QTest::newRow("hf crop") << R"({"do_center_crop": true, "crop_size": {"height": 0, "width": 3}})" << false << "cfg.json: crop_size.height";
        QTest::newRow("hf resample") << R"({"resample": 9})" << false << "cfg.json: resample: unknown PIL resampling code 9";
        QTest::newRow("hf do_resize") << R"({"do_resize": "yes"})" << false << "cfg.json: do_resize: expected true or false";
        QTest::newRow("timm input_size missing") << R"({"pretrained_cfg": {"crop_pct": 0.9}})" << true << "cfg.json: pretrained_cfg.input_size: missing";
        QTest::newRow("timm input_size bad") << R"({"input_size": [224, 224]})" << true << "cfg.json: input_size: expected [3, H, W]";
        QTest::newRow("timm interpolation") << R"({"input_size": [3, 224, 224], "interpolation": "random"})" << true << "cfg.json: interpolation: unknown resampling filter 'random'";
        QTest::newRow("timm crop_pct") << R"({"input_size": [3, 224, 224], "crop_pct": -1})" << true << "cfg.json: crop_pct";
        QTest::newRow("timm crop_mode") << R"({"input_size": [3, 224, 224], "crop_mode": "border"})" << true << "cfg.json: crop_mode: unsupported";
        QTest::newRow("timm std") << R"({"input_size": [3, 224, 224], "std": [1, 2]})" << true << "cfg.json: std: expected 3 numbers";
    }
    void config_errors_name_file_and_field() {
        QFETCH(QString, config);
        QFETCH(bool, timm);
        QFETCH(QString, expected);
        const json j = json::parse(config.toStdString());
        expect_error([&] { timm ? spec_from_timm_pretrained_cfg(j, "cfg.json") : spec_from_hf_preprocessor(j, "cfg.json"); },
                     {expected.toStdString()});
    }

    void timm_pretrained_cfg() {
        const std::string real = testing::shared_path("models/deit-tiny-imagenet/config.json");
        const json cfg = real.empty() ? json::parse(R"({"pretrained_cfg": {"input_size": [3, 224, 224],
            "interpolation": "bicubic", "crop_pct": 0.875, "crop_mode": "center",
            "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]}})")
                                      : json::parse(std::ifstream(real));
        const PreprocessSpec s = spec_from_timm_pretrained_cfg(cfg, "config.json");
        QVERIFY(s.resize == PreprocessSpec::Resize::ShortestEdge && s.shortest_edge == 256);
        QVERIFY(s.center_crop && s.crop_h == 224 && s.crop_w == 224 && s.crop_rounding == PreprocessSpec::CropRounding::Round);
        QVERIFY(s.resample == Resample::Bicubic && s.std[1] == 0.224f);
        const PreprocessSpec q = spec_from_timm_pretrained_cfg(json::parse(R"({"input_size": [3, 384, 384], "crop_pct": 1.0,
            "interpolation": "bilinear", "crop_mode": "squash"})"), "c.json");
        QVERIFY(q.resize == PreprocessSpec::Resize::Exact && q.resize_h == 384 && q.resample == Resample::Bilinear);
    }

    void image_from_pixels_layouts() {
        const uint8_t bgra[8] = {1, 2, 3, 4, 5, 6, 7, 8};
        const ImageRGB8 a = image_from_pixels(bgra, 2, 1, 8, PixelLayout::BGRA);
        QCOMPARE(a.data, (std::vector<uint8_t>{3, 2, 1, 7, 6, 5}));
        const ImageRGB8 g = image_from_pixels(bgra, 2, 2, 4, PixelLayout::Grey);
        QCOMPARE(g.data, (std::vector<uint8_t>{1, 1, 1, 2, 2, 2, 5, 5, 5, 6, 6, 6}));
        const ImageRGB8 c = crop(a, -1, 0, 4, 2, 9); // padding filled with 9
        QCOMPARE(c.data, (std::vector<uint8_t>{9, 9, 9, 3, 2, 1, 7, 6, 5, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9}));
    }

    // The real photo: timm DeiT eval pipeline vs PIL + torchvision (summary in the manifest, not the tensor).
    void real_photo_deit_pipeline() {
        const std::string path = testing::shared_path("images/coco_000000039769_two_cats.png");
        if (path.empty() || !manifest().contains("shared")) QSKIP("../shared/images not found: real-photo check skipped");
        const json& sum = manifest()["shared"]["cats_deit"];
        PreprocessSpec s;
        s.resize = PreprocessSpec::Resize::ShortestEdge;
        s.shortest_edge = 256;
        s.resample = Resample::Bicubic;
        s.center_crop = true;
        s.crop_rounding = PreprocessSpec::CropRounding::Round;
        s.mean = {0.485f, 0.456f, 0.406f};
        s.std = {0.229f, 0.224f, 0.225f};
        PreprocessGeometry g;
        const Tensor t = preprocess(decode_image_file(path), s, &g);
        QCOMPARE(t.shape, (Shape{3, 224, 224}));
        QVERIFY(g.resized_w == 341 && g.resized_h == 256 && g.crop_x == 58 && g.crop_y == 16);
        double total = 0.0;
        for (float v : t.data) total += v;
        std::printf("  sum %.6f vs %.6f\n", total, sum["sum"].get<double>());
        QVERIFY(std::fabs(total - sum["sum"].get<double>()) <= 1e-5 * std::max(1.0, std::fabs(total)));
        const int64_t plane = 224 * 224;
        for (int c = 0; c < 3; ++c) {
            double m = 0.0;
            for (int64_t i = 0; i < plane; ++i) m += t.data[c * plane + i];
            QVERIFY(std::fabs(m / plane - sum["channel_mean"][c].get<double>()) <= 1e-5);
        }
        for (const auto& [idx, v] : sum["samples"].items())
            QVERIFY2(std::fabs(t.data[std::stoul(idx)] - v.get<double>()) <= 1e-5, idx.c_str());
    }

    void real_jpeg_decode_matches_pil() {
        const std::string path = testing::shared_path("images/transformer-explainability/el1.png");
        if (path.empty() || !manifest().contains("shared")) QSKIP("../shared/images not found: JPEG decode check skipped");
        const json& sum = manifest()["shared"]["el1_decode"];
        const ImageRGB8 im = decode_image_file(path); // JPEG data under a .png name
        QCOMPARE(im.width, sum["width"].get<int>());
        QCOMPARE(im.height, sum["height"].get<int>());
        int64_t total = 0;
        for (uint8_t v : im.data) total += v;
        QCOMPARE(total, sum["sum"].get<int64_t>());
        for (const auto& [idx, v] : sum["samples"].items()) QCOMPARE(int(im.data[std::stoul(idx)]), v.get<int>());
    }
};

QTEST_APPLESS_MAIN(TestImage)
#include "test_image.moc"
