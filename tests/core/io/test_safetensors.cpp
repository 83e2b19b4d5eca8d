// safetensors reader: valid files round-trip; every malformed-input class gets a precise error.
#include "core/error.h"
#include "core/io/safetensors.h"
#include "core/io/weights.h"
#include "tests/support/tensor_compare.h"

#include <QTemporaryDir>
#include <QtTest>

#include <cstring>
#include <fstream>

using namespace attnscope;

namespace {

std::string make_file(const std::string& header, const std::string& data) {
    std::string out(8, '\0');
    uint64_t n = header.size();
    std::memcpy(out.data(), &n, 8);
    return out + header + data;
}

std::string floats(std::initializer_list<float> v) {
    std::string s(v.size() * 4, '\0');
    std::memcpy(s.data(), std::data(v), s.size());
    return s;
}

void write(const std::string& path, const std::string& bytes) {
    std::ofstream(path, std::ios::binary) << bytes;
}

} // namespace

class TestSafetensors : public QObject {
    Q_OBJECT
    QTemporaryDir dir;
    std::string path(const char* name) { return (dir.path() + "/" + name).toStdString(); }

private slots:
    void reads_f32_f16_bf16_f64() {
        // a: F32 [2,2]; b: F16 [2] = {1.0, -2.5}; c: BF16 [1] = 3.0; d: F64 [1] = 0.25
        std::string data = floats({1, 2, 3, 4});
        const uint16_t h[2] = {0x3C00, 0xC100};
        data.append(reinterpret_cast<const char*>(h), 4);
        const uint16_t b = 0x4040;
        data.append(reinterpret_cast<const char*>(&b), 2);
        data.append(2, '\0'); // pad tensor (U8 [2])
        const double d = 0.25;
        data.append(reinterpret_cast<const char*>(&d), 8);
        const std::string header =
            R"({"__metadata__":{"format":"pt"},"a":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]},)"
            R"("b":{"dtype":"F16","shape":[2],"data_offsets":[16,20]},"c":{"dtype":"BF16","shape":[1],"data_offsets":[20,22]},)"
            R"("p":{"dtype":"U8","shape":[2],"data_offsets":[22,24]},"d":{"dtype":"F64","shape":[1],"data_offsets":[24,32]}})";
        write(path("ok.safetensors"), make_file(header, data));
        SafeTensorsFile f(path("ok.safetensors"));
        QCOMPARE(f.names().size(), size_t(5));
        QCOMPARE(f.metadata().at("format"), std::string("pt"));
        Tensor a = f.load("a");
        QCOMPARE(a.shape, (Shape{2, 2}));
        QCOMPARE(a.data[3], 4.0f);
        Tensor tb = f.load("b");
        QCOMPARE(tb.data[0], 1.0f);
        QCOMPARE(tb.data[1], -2.5f);
        QCOMPARE(f.load("c").data[0], 3.0f);
        QCOMPARE(f.load("d").data[0], 0.25f);
    }

    void half_conversion_special_values() {
        QCOMPARE(half_to_float(0x0001), 5.9604644775390625e-08f); // smallest subnormal 2^-24
        QCOMPARE(half_to_float(0x7BFF), 65504.0f);
        QVERIFY(std::isinf(half_to_float(0x7C00)));
        QVERIFY(std::isnan(half_to_float(0x7E00)));
        QCOMPARE(half_to_float(0x8000), -0.0f);
    }

    void malformed_data() {
        QTest::addColumn<QByteArray>("bytes");
        QTest::addColumn<QString>("expected");
        const std::string good_hdr = R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
        auto row = [](const char* name, const std::string& bytes, const char* expected) {
            QTest::newRow(name) << QByteArray(bytes.data(), static_cast<int>(bytes.size())) << QString(expected);
        };
        row("truncated file", std::string("\x10\x00\x00", 3), "shorter than the 8-byte header");
        std::string past_eof = make_file(good_hdr, floats({1, 2}));
        past_eof[0] = '\xff'; // header length's low byte: 255 bytes, more than the file holds
        row("header length past EOF", past_eof, "runs past end of file");
        row("invalid JSON", make_file("{not json", ""), "invalid JSON");
        row("offsets out of range",
            make_file(R"({"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})", floats({1, 2})),
            "tensor 'w': data_offsets run past end of file");
        row("size disagrees with shape",
            make_file(R"({"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", floats({1, 2})),
            "tensor 'w': data_offsets span 8 bytes but shape [3] of F32 needs 12");
        row("overlapping tensors",
            make_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
                      floats({1, 2})),
            "data overlaps the previous tensor");
        row("gap between tensors",
            make_file(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", floats({1, 2})),
            "tensor 'a': gap in the data");
        row("trailing bytes", make_file(good_hdr, floats({1, 2, 3})), "truncated or trailing bytes");
        row("wrong dtype", make_file(R"({"w":{"dtype":"F8_E4M3","shape":[8],"data_offsets":[0,8]}})", floats({1, 2})),
            "tensor 'w': unsupported dtype F8_E4M3");
        row("negative dim", make_file(R"({"w":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", floats({1, 2})),
            "tensor 'w': shape has an invalid dimension");
        row("missing keys", make_file(R"({"w":{"dtype":"F32","shape":[2]}})", floats({1, 2})),
            "tensor 'w': needs dtype, shape and data_offsets");
        row("huge shape product",
            make_file(R"({"w":{"dtype":"F32","shape":[281474976710655,281474976710655],"data_offsets":[0,8]}})", floats({1, 2})),
            "shape product overflows");
    }
    void malformed() {
        QFETCH(QByteArray, bytes);
        QFETCH(QString, expected);
        const std::string p = path("bad.safetensors");
        write(p, bytes.toStdString());
        try {
            SafeTensorsFile f(p);
            QFAIL("expected an error");
        } catch (const Error& e) {
            const QString msg = QString::fromStdString(e.what());
            qInfo("%s", e.what());
            QVERIFY2(msg.contains(expected), qPrintable(msg));
            QVERIFY2(msg.startsWith("bad.safetensors"), qPrintable(msg)); // names the file
        }
    }

    void missing_tensor_is_named() {
        write(path("one.safetensors"), make_file(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", floats({1, 2})));
        SafeTensorsFile f(path("one.safetensors"));
        try {
            f.load("blocks.0.attn.qkv.weight");
            QFAIL("expected an error");
        } catch (const Error& e) {
            QCOMPARE(e.kind(), ErrorKind::Missing);
            QVERIFY(QString(e.what()).contains("tensor 'blocks.0.attn.qkv.weight'"));
        }
    }

    void sharded_index() {
        write(path("model-00001-of-00002.safetensors"),
              make_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", floats({1, 2})));
        write(path("model-00002-of-00002.safetensors"),
              make_file(R"({"b":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})", floats({7})));
        write(path("model.safetensors.index.json"),
              R"({"metadata":{"total_size":12},"weight_map":{"a":"model-00001-of-00002.safetensors","b":"model-00002-of-00002.safetensors"}})");
        auto src = open_weights(path("model.safetensors.index.json"));
        QCOMPARE(src->names().size(), size_t(2));
        QCOMPARE(src->load("b").data[0], 7.0f);
        write(path("bad.index.json"), R"({"weight_map":{"zz":"model-00001-of-00002.safetensors"}})");
        QVERIFY_THROWS_EXCEPTION(Error, open_weights(path("bad.index.json")));
    }
};

QTEST_APPLESS_MAIN(TestSafetensors)
#include "test_safetensors.moc"
