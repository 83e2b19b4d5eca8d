// Resource limits: a checkpoint or image that would need more memory than is available is refused with
// a message naming the file, the size needed and the size available, before anything is allocated.
// The ceiling is lowered for the tests through set_memory_limit() and ATTNSCOPE_MEMORY_LIMIT.
#include "core/error.h"
#include "core/image/decode.h"
#include "core/io/pth.h"
#include "core/io/safetensors.h"
#include "core/limits.h"
#include "core/models/loader.h"
#include "tests/support/tensor_compare.h"

#include <QProcess>
#include <QTemporaryDir>
#include <QtTest>

#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

using namespace attnscope;
using namespace attnscope::testing;
namespace fs = std::filesystem;

namespace {

template <typename F> std::string expect_error(F&& f, std::initializer_list<std::string> parts) {
    try {
        f();
    } catch (const Error& e) {
        for (const auto& p : parts)
            if (std::string(e.what()).find(p) == std::string::npos) {
                QTest::qFail((std::string(e.what()) + "\n  lacks: " + p).c_str(), __FILE__, __LINE__);
                return e.what();
            }
        return e.what();
    }
    QTest::qFail("expected an attnscope::Error", __FILE__, __LINE__);
    return {};
}

std::string read_bytes(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return std::move(s).str();
}

void write_bytes(const std::string& path, const std::string& bytes) {
    std::ofstream(path, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// Restores "no override" whatever a test did.
struct LimitGuard {
    explicit LimitGuard(uint64_t bytes) { set_memory_limit(bytes); }
    ~LimitGuard() { set_memory_limit(0); }
};

} // namespace

class TestLimits : public QObject {
    Q_OBJECT
    QTemporaryDir tmp;

private slots:
    void init() {
        set_memory_limit(0);
        unsetenv("ATTNSCOPE_MEMORY_LIMIT");
    }

    void available_memory_is_plausible() {
        const uint64_t phys = uint64_t(sysconf(_SC_PHYS_PAGES)) * uint64_t(sysconf(_SC_PAGE_SIZE));
        const uint64_t avail = available_memory();
        QVERIFY(avail > 0);
        QVERIFY2(avail <= phys, qPrintable(QString("available %1 > physical %2").arg(avail).arg(phys)));
        LimitGuard g(12345);
        QCOMPARE(available_memory(), uint64_t(12345));
    }

    void env_var_sizes() {
        setenv("ATTNSCOPE_MEMORY_LIMIT", "512M", 1);
        QCOMPARE(memory_limit_override(), uint64_t(512) << 20);
        setenv("ATTNSCOPE_MEMORY_LIMIT", "2G", 1);
        QCOMPARE(memory_limit_override(), uint64_t(2) << 30);
        setenv("ATTNSCOPE_MEMORY_LIMIT", "100k", 1);
        QCOMPARE(memory_limit_override(), uint64_t(102400));
        setenv("ATTNSCOPE_MEMORY_LIMIT", "1048576", 1);
        QCOMPARE(memory_limit_override(), uint64_t(1048576));
        setenv("ATTNSCOPE_MEMORY_LIMIT", "lots", 1);
        QCOMPARE(memory_limit_override(), uint64_t(0)); // unreadable: ignored
        set_memory_limit(777);                          // the setter wins over the environment
        setenv("ATTNSCOPE_MEMORY_LIMIT", "1G", 1);
        QCOMPARE(memory_limit_override(), uint64_t(777));
        set_memory_limit(0);
        unsetenv("ATTNSCOPE_MEMORY_LIMIT");
        QCOMPARE(memory_limit_override(), uint64_t(0));
    }

    // A 768-byte torch.save file (tools/reference/make_limit_fixtures.py) whose one tensor is a
    // stride-0 expansion to [1048576, 1024] float32: 4 GiB once materialised.
    void pth_broadcast_tensor_refused_before_allocating() {
        const std::string path = fixture("limits/broadcast_4gib.pth");
        QVERIFY(fs::file_size(path) < 4096);
        PthFile f(path);
        QCOMPARE(f.info("big").shape, (Shape{1048576, 1024}));
        LimitGuard g(uint64_t(1) << 30);
        expect_error([&] { f.load("big"); },
                     {"broadcast_4gib.pth", "tensor 'big'", "needs 4.0 GiB", "only 1.0 GiB is available", "before allocating"});
        expect_error([&] { require_memory_for_weights(f); }, {"broadcast_4gib.pth", "1 tensors", "needs 4.0 GiB"});
    }

    // The whole model is checked before its weights are loaded: the fixture ViT (all F32, so its
    // float32 size is its data section: file size − 8 − header length) under a 64 KiB ceiling.
    void model_total_refused_before_loading() {
        const std::string st = fixture("vit/hf_vit/model.safetensors");
        const std::string bytes = read_bytes(st);
        uint64_t header = 0;
        std::memcpy(&header, bytes.data(), 8);
        const uint64_t data = bytes.size() - 8 - header;
        const std::string need = std::to_string(std::lround(double(data) / 1024.0)) + " KiB";
        {
            LimitGuard g(64 << 10);
            expect_error([&] { load_model(fixture("vit/hf_vit")); },
                         {"model.safetensors", "tensors as float32 needs " + need, "only 64 KiB is available"});
        }
        QVERIFY(load_model(fixture("vit/hf_vit")) != nullptr); // and loads without the ceiling
    }

    void cli_honours_the_environment_variable() {
        QProcess p;
        QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
        env.insert("ATTNSCOPE_MEMORY_LIMIT", "100K");
        p.setProcessEnvironment(env);
        p.start(ATTNSCOPE_CLI, {"info", "--model", QString::fromStdString(fixture("vit/hf_vit"))});
        QVERIFY(p.waitForFinished(60000));
        const QString err = QString::fromUtf8(p.readAllStandardError());
        QCOMPARE(p.exitCode(), 2);
        QVERIFY2(err.contains("model.safetensors") && err.contains("only 100 KiB is available") &&
                     err.contains("ATTNSCOPE_MEMORY_LIMIT"),
                 qPrintable(err));
    }

    // Sizes in a safetensors header are checked against the file before anything is allocated.
    void safetensors_huge_tensor_in_tiny_file() {
        const std::string path = tmp.filePath("huge.safetensors").toStdString();
        const std::string h = R"({"w":{"dtype":"F32","shape":[65536,65536],"data_offsets":[0,17179869184]}})";
        std::string file(8, '\0');
        const uint64_t n = h.size();
        std::memcpy(file.data(), &n, 8);
        write_bytes(path, file + h + std::string(4, '\0'));
        expect_error([&] { SafeTensorsFile f(path); }, {"huge.safetensors", "tensor 'w'", "data_offsets run past end of file"});
    }

    // An image header announcing more pixels than memory allows is refused before decoding.
    void image_header_refused_by_memory() {
        std::string png = read_bytes(fixture("image/src_64x48.png")).substr(0, 33);
        const auto be32 = [&](size_t at, uint32_t v) {
            for (int i = 0; i < 4; ++i) png[at + i] = char((v >> (24 - 8 * i)) & 0xFF);
        };
        be32(16, 20000); // width
        be32(20, 15000); // height: under the 20000-a-side and 1 GiB caps
        LimitGuard g(uint64_t(256) << 20);
        expect_error([&] { decode_image_bytes(png, "big.png"); },
                     {"big.png", "20000x15000", "needs", "only 256 MiB is available"});
    }

    void image_pixels_checked_against_memory() {
        const std::string png = read_bytes(fixture("image/src_64x48.png"));
        {
            LimitGuard g(16 << 10);
            expect_error([&] { decode_image_bytes(png, "small.png"); }, {"small.png", "64x48", "only 16 KiB is available"});
        }
        QCOMPARE(decode_image_bytes(png, "small.png").width, 64);
    }
};

QTEST_GUILESS_MAIN(TestLimits)
#include "test_limits.moc"
