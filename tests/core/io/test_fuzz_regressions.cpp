// Every input that crashed, hung or over-allocated a fuzz target (tools/fuzz, docs/reliability.md) —
// whether the fuzzer found it or it was found reading the code while writing the targets and then
// reproduced with the target ("review") — fed to the same entry point: each must now end in a clean attnscope::Error naming the file and what is
// wrong (or, for valid input, load). Under the ASan/UBSan build (CI's second ctest run) the old
// behaviour is a sanitizer abort; in the plain build the messages below are what changed.
#include "core/error.h"
#include "core/image/decode.h"
#include "core/image/preprocess.h"
#include "core/io/pickle.h"
#include "core/io/pth.h"
#include "core/io/safetensors.h"
#include "core/models/loader.h"
#include "tests/support/tensor_compare.h"

#include <QtTest>

#include <nlohmann/json.hpp>

#include <fstream>
#include <sstream>

using namespace attnscope;
using namespace attnscope::testing;

namespace {

std::string fuzz_fixture(const std::string& name) { return fixture("fuzz/" + name); }

std::string read_bytes(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return std::move(s).str();
}

template <typename F> void expect_error(F&& f, std::initializer_list<std::string> parts) {
    try {
        f();
    } catch (const Error& e) {
        for (const auto& p : parts)
            if (std::string(e.what()).find(p) == std::string::npos)
                QTest::qFail((std::string(e.what()) + "\n  lacks: " + p).c_str(), __FILE__, __LINE__);
        return;
    }
    QTest::qFail("expected an attnscope::Error", __FILE__, __LINE__);
}

// The config-handling path as load_model takes it, with the fixture ViT's weights.
void load_with_config(const std::string& config_file) {
    const nlohmann::json cfg = parse_json_object(read_bytes(fuzz_fixture(config_file)), "config.json");
    load_model_from(open_weights(fixture("vit/hf_vit/model.safetensors")), &cfg, nullptr);
}

} // namespace

class TestFuzzRegressions : public QObject {
    Q_OBJECT
private slots:
    // fuzz_safetensors: an empty F32 tensor made convert_to_f32 call memcpy(nullptr, …, 0) (UBSan).
    void safetensors_empty_tensor_loads() {
        SafeTensorsFile f(fuzz_fixture("safetensors_empty_f32_tensor.safetensors"));
        const Tensor t = f.load("a");
        QCOMPARE(t.shape, (Shape{0, 3}));
        QCOMPARE(t.numel(), int64_t(0));
    }

    // review, reproduced with fuzz_pth (ASan heap-buffer-overflow): a ZIP64 locator in a 46-byte file: `n - 56` wrapped and the EOCD64 read ran past the buffer.
    void pth_zip64_in_tiny_file() {
        expect_error([] { PthFile f(fuzz_fixture("pth_zip64_locator_in_46_bytes.pth")); },
                     {"pth_zip64_locator_in_46_bytes.pth", "zip", "bad ZIP64 end-of-central-directory"});
    }

    // review, reproduced with fuzz_pth: size 5, stride 2^62: (5 − 1)·2^62 wrapped to 0, passed the bounds check, then read far
    // outside the storage (UBSan signed overflow, then a wild read).
    void pth_stride_product_wraps() {
        PthFile f(fuzz_fixture("pth_stride_product_wraps.pth"));
        QCOMPARE(f.info("a").shape, (Shape{5}));
        expect_error([&] { f.load("a"); }, {"pth_stride_product_wraps.pth", "tensor 'a'", "offset and strides overflow"});
    }

    // review, reproduced with fuzz_pickle (UBSan): _rebuild_tensor_v3 on a DoubleStorage of 2^62 elements: numel · 8 overflowed int64.
    void pickle_v3_numel_overflow() {
        const std::string b = read_bytes(fuzz_fixture("pickle_v3_numel_overflow.pkl"));
        const std::string where = "v3.pkl";
        size_t pos = 0;
        expect_error([&] {
            pickle::unpickle(reinterpret_cast<const uint8_t*>(b.data()), b.size(), pos, where, pth_persistent_load,
                             const_cast<std::string*>(&where));
        },
                     {"v3.pkl", "storage element count too large"});
    }

    // review, reproduced with fuzz_pickle: `] DUP APPEND`: a list inside itself leaked (shared_ptr cycle; LeakSanitizer) and
    // would send any walk of the result round forever.
    void pickle_self_reference_refused() {
        const std::string b = read_bytes(fuzz_fixture("pickle_list_contains_itself.pkl"));
        const std::string where = "cycle.pkl";
        size_t pos = 0;
        expect_error([&] {
            pickle::unpickle(reinterpret_cast<const uint8_t*>(b.data()), b.size(), pos, where, pth_persistent_load,
                             const_cast<std::string*>(&where));
        },
                     {"cycle.pkl", "contains itself"});
        // sharing without a cycle (the memo's normal use) still loads: [x, x] with x = []
        const std::string shared = "\x80\x02(]q\x01h\x01l.";
        pos = 0;
        const pickle::Ref r = pickle::unpickle(reinterpret_cast<const uint8_t*>(shared.data()), shared.size(), pos, where,
                                               pth_persistent_load, const_cast<std::string*>(&where));
        QCOMPARE(r->items.size(), size_t(2));
        QCOMPARE(r->items[0].get(), r->items[1].get());
    }

    // review: a legacy stream whose root holds one 4000-item list 4000 times: the storage-size walk pushed all
    // 16 million references (256 MB); it now visits each object once.
    void pth_legacy_shared_list_walked_once() {
        expect_error([] { PthFile f(fuzz_fixture("pth_legacy_shared_list_4000x4000.pth")); },
                     {"pth_legacy_shared_list_4000x4000.pth", "no tensors found"});
    }

    // review, reproduced with fuzz_config: "architectures": [1] threw nlohmann::type_error out of the loader (uncaught).
    void config_architectures_not_strings() {
        expect_error([] { load_with_config("config_architectures_not_strings.json"); }, {"num_heads", "pass --heads N"});
    }

    // review: a negative head count passed the divisibility check.
    void config_negative_heads() {
        expect_error([] { load_with_config("config_negative_heads.json"); }, {"config.json: num_attention_heads", "-4 attention heads"}); // the config's own field name
    }

    // review: layer_norm_eps 1e300 became a float by an out-of-range conversion (undefined).
    void config_layer_norm_eps_out_of_range() {
        expect_error([] { load_with_config("config_layer_norm_eps_1e300.json"); }, {"config.json", "layer_norm_eps", "[0, 1]"});
    }

    // review, reproduced with fuzz_config: crop_pct 1e-300 passed (0, 4] and floor(224 / 1e-300) was cast to int (UBSan).
    void config_timm_crop_pct_tiny() {
        const nlohmann::json cfg = parse_json_object(read_bytes(fuzz_fixture("config_timm_crop_pct_1e-300.json")), "config.json");
        expect_error([&] { spec_from_timm_pretrained_cfg(cfg, "config.json"); }, {"config.json", "pretrained_cfg.crop_pct", "too large"});
    }

    // review, reproduced with fuzz_image: PNM and TIFF headers were not read, so a 35-byte PNM made OpenCV allocate 2.7 GB
    // (libFuzzer out-of-memory); both sizes are now read and checked, and a header with no size is refused.
    void image_sizes_from_every_header_data() {
        QTest::addColumn<QString>("file");
        QTest::addColumn<QString>("expected");
        QTest::newRow("pnm") << "image_pnm_30000x30000_no_data.pgm" << "pnm header says 30000x30000 pixels: refusing";
        QTest::newRow("tiff") << "image_tiff_30000x30000_no_data.tiff" << "tiff header says 30000x30000 pixels: refusing";
        QTest::newRow("bmp INT32_MIN width") << "image_bmp_width_int32_min.bmp" << "bmp header says 2147483647x1 pixels: refusing";
    }
    void image_sizes_from_every_header() {
        QFETCH(QString, file);
        QFETCH(QString, expected);
        expect_error([&] { decode_image_file(fuzz_fixture(file.toStdString())); }, {file.toStdString(), expected.toStdString()});
    }
    void image_header_without_size_refused() {
        expect_error([] { decode_image_bytes("P6\n# no size\n", "nosize.ppm"); },
                     {"nosize.ppm", "cannot read the image size from the pnm header"});
        expect_error([] { decode_image_bytes(std::string("II*\0\x08\0\0\0\0\0", 10), "nosize.tiff"); },
                     {"nosize.tiff", "cannot read the image size from the tiff header"});
    }
};

QTEST_APPLESS_MAIN(TestFuzzRegressions)
#include "test_fuzz_regressions.moc"
