// float32 safetensors tensors served straight from the file's mapping (FloatData::borrow, MappedFile's
// lease): they outlive the loader, copy on write, survive the file being rewritten in place, and every
// case that must not borrow (misaligned offsets, other dtypes) is converted into owned memory instead.
#include "core/io/npy.h"
#include "core/io/safetensors.h"
#include "core/models/loader.h"
#include "core/session.h"
#include "tests/support/tensor_compare.h"

#include <QTemporaryDir>
#include <QtTest>

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <fstream>

using namespace attnscope;
using namespace attnscope::testing;

namespace {

// A safetensors file whose data section starts at 8 + header.size() (no padding added).
void write_raw(const std::string& path, const std::string& header, const std::string& data) {
    std::string out(8, '\0');
    const uint64_t n = header.size();
    std::memcpy(out.data(), &n, 8);
    std::ofstream(path, std::ios::binary) << out << header << data;
}

std::string bytes_of(const std::vector<float>& v) {
    return std::string(reinterpret_cast<const char*>(v.data()), v.size() * 4);
}

} // namespace

class TestMappedWeights : public QObject {
    Q_OBJECT
    QTemporaryDir dir;
    std::string path(const char* name) { return (dir.path() + "/" + name).toStdString(); }
    const std::vector<float> a_ = {1.5f, -2.0f, 3.25f, 4.0f, 5.0f, -6.5f};

    // Loads "a" (F32 [2, 3]) from a fresh aligned file; skips the test where this file system gives no lease.
    // pad: a tensor of that many floats stored before "a" (so "a" lies pages past the file's start).
    Tensor load_borrowed(const std::string& p, bool* skipped, int64_t pad = 0) {
        std::map<std::string, Tensor> t = {{"a", Tensor({2, 3}, a_)}, {"b", Tensor({2}, {7.0f, 8.0f})}};
        if (pad) t["0pad"] = Tensor({pad});
        write_safetensors(p, t);
        SafeTensorsFile f(p);
        Tensor a = f.load("a");
        *skipped = !a.data.borrowed();
        return a; // the SafeTensorsFile ends here: the tensor keeps the mapping alive
    }

private slots:
    void f32_tensor_outlives_its_loader() {
        bool skipped = false;
        const Tensor a = load_borrowed(path("outlive.safetensors"), &skipped);
        if (skipped) QSKIP("float32 tensors are copied here (ATTNSCOPE_MAP_WEIGHTS=0, or no read lease on this file system); the other tests cover that path");
        QVERIFY(a.data.borrowed());
        QCOMPARE(a.shape, (Shape{2, 3}));
        QCOMPARE(a.data.vector(), a_);
        const Tensor copy = a; // a copy shares the read-only floats
        QVERIFY(copy.data.borrowed());
        QCOMPARE(copy.ptr(), a.ptr());
    }

    void writing_a_borrowed_tensor_copies_it_first() {
        bool skipped = false;
        const std::string p = path("cow.safetensors");
        const Tensor a = load_borrowed(p, &skipped);
        if (skipped) QSKIP("float32 tensors are copied here (ATTNSCOPE_MAP_WEIGHTS=0, or no read lease on this file system)");
        const uint64_t before = FloatData::copies_made();
        Tensor b = a;
        b.data[1] = 42.0f; // mutable access: b gets its own floats
        QVERIFY(!b.data.borrowed());
        QCOMPARE(FloatData::copies_made(), before + 1);
        QCOMPARE(b.data[1], 42.0f);
        QCOMPARE(b.data[0], a_[0]);
        QCOMPARE(a.data.vector(), a_);                   // the original is untouched
        QCOMPARE(SafeTensorsFile(p).load("a").data, a_); // and so is the file
        Tensor c = a;
        for (float& v : c.data) v = 0.0f; // begin()/end() copy too
        QCOMPARE(a.data.vector(), a_);
        QCOMPARE(c.data, (std::vector<float>(6, 0.0f)));
    }

    void file_rewritten_in_place_keeps_the_loaded_values() {
        bool skipped = false;
        const std::string p = path("rewrite.safetensors");
        const Tensor a = load_borrowed(p, &skipped, 1 << 16); // "a" 256 KB into the file
        if (skipped) QSKIP("float32 tensors are copied here (ATTNSCOPE_MAP_WEIGHTS=0, or no read lease on this file system)");
        // Another process truncates and rewrites the checkpoint (as saving it again in place does). Without
        // the lease, reading `a` afterwards would fault (SIGBUS: its pages are past the new end of file).
        const pid_t child = ::fork();
        QVERIFY(child >= 0);
        if (child == 0) {
            const int fd = ::open(p.c_str(), O_WRONLY | O_TRUNC);
            const char junk[] = "junk";
            const bool ok = fd >= 0 && ::write(fd, junk, 4) == 4;
            ::_exit(ok ? 0 : 1);
        }
        int status = 0;
        while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {}
        QVERIFY(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        std::ifstream in(p, std::ios::binary | std::ios::ate);
        QCOMPARE(static_cast<long long>(in.tellg()), 4LL); // the file really changed
        QCOMPARE(a.data.vector(), a_);                     // the tensor did not
        QVERIFY(a.data.borrowed());
        // The same in this process (a test or a tool rewriting a checkpoint it has loaded).
        bool skipped2 = false;
        const Tensor a2 = load_borrowed(path("rewrite2.safetensors"), &skipped2, 1 << 16);
        QVERIFY(!skipped2);
        std::ofstream(path("rewrite2.safetensors"), std::ios::binary) << "x";
        QCOMPARE(a2.data.vector(), a_);
    }

    void misaligned_offsets_fall_back_to_a_copy() {
        // Header of 14 bytes: the data section starts at byte 22, so "a" (offset 0) is not float-aligned,
        // "b" (offset 24 → byte 46) neither; "c" after a 2-byte pad tensor (byte 48) is aligned.
        std::string header = R"({"a":{"dtype":"F32","shape":[6],"data_offsets":[0,24]},)"
                             R"("b":{"dtype":"F32","shape":[2],"data_offsets":[24,32]},)"
                             R"("p":{"dtype":"U8","shape":[2],"data_offsets":[32,34]},)"
                             R"("c":{"dtype":"F32","shape":[1],"data_offsets":[34,38]}})";
        header.append((4 - (8 + header.size()) % 4 + 2) % 4, ' '); // data section at 2 (mod 4)
        QCOMPARE((8 + header.size()) % 4, size_t(2));
        write_raw(path("misaligned.safetensors"), header, bytes_of(a_) + bytes_of({7, 8}) + "pp" + bytes_of({9}));
        SafeTensorsFile f(path("misaligned.safetensors"));
        const Tensor a = f.load("a"), b = f.load("b"), c = f.load("c");
        QVERIFY(!a.data.borrowed());
        QVERIFY(!b.data.borrowed());
        QCOMPARE(a.data.vector(), a_);
        QCOMPARE(b.data, (std::vector<float>{7, 8}));
        QCOMPARE(c.data, (std::vector<float>{9}));
        if (reinterpret_cast<uintptr_t>(f.load("c").ptr()) % 4 != 0) QFAIL("a float tensor at a misaligned address");
    }

    void other_dtypes_are_converted_into_owned_floats() {
        const uint16_t h[2] = {0x3C00, 0xC100}; // F16 1.0, -2.5
        const uint16_t bf = 0x4040;             // BF16 3.0
        const double d = 0.25;
        std::string data(reinterpret_cast<const char*>(h), 4);
        data.append(reinterpret_cast<const char*>(&bf), 2).append(2, '\0').append(reinterpret_cast<const char*>(&d), 8);
        std::string header = R"({"h":{"dtype":"F16","shape":[2],"data_offsets":[0,4]},)"
                             R"("bf":{"dtype":"BF16","shape":[1],"data_offsets":[4,6]},)"
                             R"("p":{"dtype":"U8","shape":[2],"data_offsets":[6,8]},)"
                             R"("d":{"dtype":"F64","shape":[1],"data_offsets":[8,16]}})";
        header.append((8 - header.size() % 8) % 8, ' ');
        write_raw(path("dtypes.safetensors"), header, data);
        SafeTensorsFile f(path("dtypes.safetensors"));
        for (const char* n : {"h", "bf", "d"}) QVERIFY2(!f.load(n).data.borrowed(), n);
        QCOMPARE(f.load("h").data, (std::vector<float>{1.0f, -2.5f}));
        QCOMPARE(f.load("bf").data, (std::vector<float>{3.0f}));
        QCOMPARE(f.load("d").data, (std::vector<float>{0.25f}));
    }

    void a_forward_pass_never_copies_a_borrowed_weight() {
        const std::string src = fixture("vit/timm_vit");
        const uint64_t before_load = FloatData::copies_made();
        auto model = load_model(src);
        QCOMPARE(FloatData::copies_made(), before_load); // nothing loaded was copied again
        const Tensor input = read_npy(src + "/input.npy");
        const uint64_t before = FloatData::copies_made();
        const RunResult r = Session(*model).run(input);
        QCOMPARE(FloatData::copies_made(), before);
        QVERIFY(max_abs_diff(r.logits, read_npy(src + "/logits.npy"), "logits (borrowed weights)") <= 1e-4);
    }
};

QTEST_APPLESS_MAIN(TestMappedWeights)
#include "test_mapped_weights.moc"
