#include "core/io/npy.h"

#include "core/error.h"
#include "core/io/weights.h"

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <fcntl.h>
#include <unistd.h>

namespace attnscope {

namespace fs = std::filesystem;

namespace {
std::string npy_bytes_raw(const void* data, size_t elem_size, const char* descr, const Shape& shape) {
    std::string dict = std::string("{'descr': '") + descr + "', 'fortran_order': False, 'shape': (";
    for (size_t i = 0; i < shape.size(); ++i) dict += std::to_string(shape[i]) + (shape.size() == 1 ? "," : i + 1 < shape.size() ? ", " : "");
    dict += "), }";
    // magic(6) + version(2) + len(2) + dict + pad + '\n' to a multiple of 64
    size_t total = 10 + dict.size() + 1;
    dict.append((64 - total % 64) % 64, ' ');
    dict += '\n';
    std::string out("\x93NUMPY\x01\x00", 8);
    const uint16_t len = static_cast<uint16_t>(dict.size());
    out.push_back(static_cast<char>(len & 0xff));
    out.push_back(static_cast<char>(len >> 8));
    out += dict;
    const size_t n = static_cast<size_t>(shape_numel(shape)) * elem_size;
    out.append(reinterpret_cast<const char*>(data), n);
    return out;
}
} // namespace

std::string npy_bytes(const float* data, const Shape& shape) { return npy_bytes_raw(data, sizeof(float), "<f4", shape); }

void write_npy_u8(const std::string& path, const uint8_t* data, const Shape& shape) {
    write_file_atomic(path, npy_bytes_raw(data, 1, "|u1", shape));
}

void write_file_atomic(const std::string& path, const std::string& bytes) {
    const std::string tmp = path + ".tmp-" + std::to_string(::getpid());
    const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) throw Error(ErrorKind::Io, path, "", std::string("cannot write: ") + std::strerror(errno));
    size_t done = 0;
    while (done < bytes.size()) {
        const ssize_t w = ::write(fd, bytes.data() + done, bytes.size() - done);
        if (w < 0) {
            const int err = errno;
            ::close(fd);
            ::unlink(tmp.c_str());
            throw Error(ErrorKind::Io, path, "", std::string("write failed: ") + std::strerror(err));
        }
        done += static_cast<size_t>(w);
    }
    if (::fsync(fd) != 0 || ::close(fd) != 0) {
        ::unlink(tmp.c_str());
        throw Error(ErrorKind::Io, path, "", "cannot flush to disk");
    }
    if (std::rename(tmp.c_str(), path.c_str()) != 0) {
        ::unlink(tmp.c_str());
        throw Error(ErrorKind::Io, path, "", std::string("cannot rename into place: ") + std::strerror(errno));
    }
}

void write_npy(const std::string& path, const float* data, const Shape& shape) {
    write_file_atomic(path, npy_bytes(data, shape));
}

Tensor read_npy(const std::string& path) {
    const std::string name = fs::path(path).filename().string();
    std::ifstream in(path, std::ios::binary);
    if (!in) throw Error(ErrorKind::Io, path, "", "cannot open");
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (bytes.size() < 10 || bytes.compare(0, 6, "\x93NUMPY") != 0)
        throw Error(ErrorKind::Format, name, "", "not a .npy file (bad magic)");
    const int major = static_cast<uint8_t>(bytes[6]);
    size_t hlen = 0, hstart = 0;
    if (major == 1) {
        hlen = static_cast<uint8_t>(bytes[8]) | (static_cast<size_t>(static_cast<uint8_t>(bytes[9])) << 8);
        hstart = 10;
    } else if (major == 2 || major == 3) {
        if (bytes.size() < 12) throw Error(ErrorKind::Format, name, "", "truncated header");
        uint32_t l;
        std::memcpy(&l, bytes.data() + 8, 4);
        hlen = l;
        hstart = 12;
    } else {
        throw Error(ErrorKind::Unsupported, name, "", "unsupported .npy version " + std::to_string(major));
    }
    if (hstart + hlen > bytes.size()) throw Error(ErrorKind::Format, name, "header", "header runs past end of file");
    const std::string header = bytes.substr(hstart, hlen);
    auto field = [&](const std::string& key) -> std::string {
        const size_t k = header.find("'" + key + "'");
        if (k == std::string::npos) throw Error(ErrorKind::Format, name, key, "missing in header");
        size_t v = header.find(':', k);
        if (v == std::string::npos) throw Error(ErrorKind::Format, name, key, "malformed header");
        ++v;
        while (v < header.size() && header[v] == ' ') ++v;
        size_t end = v;
        if (header[v] == '(') end = header.find(')', v) + 1;
        else if (header[v] == '\'') end = header.find('\'', v + 1) + 1;
        else end = header.find_first_of(",}", v);
        return header.substr(v, end - v);
    };
    const std::string descr = field("descr");
    if (field("fortran_order") != "False") throw Error(ErrorKind::Unsupported, name, "fortran_order", "only C order is supported");
    const std::string shape_s = field("shape");
    Shape shape;
    {
        std::string inner = shape_s.substr(1, shape_s.size() - 2);
        std::stringstream ss(inner);
        std::string tok;
        while (std::getline(ss, tok, ',')) {
            if (tok.find_first_not_of(' ') == std::string::npos) continue;
            try {
                shape.push_back(std::stoll(tok));
            } catch (...) {
                throw Error(ErrorKind::Format, name, "shape", "bad dimension '" + tok + "'");
            }
            if (shape.back() < 0) throw Error(ErrorKind::Format, name, "shape", "negative dimension");
        }
    }
    DType dt;
    if (descr == "'<f4'") dt = DType::F32;
    else if (descr == "'<f8'") dt = DType::F64;
    else if (descr == "'<i8'") dt = DType::I64;
    else if (descr == "'<i4'") dt = DType::I32;
    else if (descr == "'|u1'") dt = DType::U8;
    else if (descr == "'|b1'") dt = DType::BOOL;
    else throw Error(ErrorKind::Unsupported, name, "descr", "unsupported dtype " + descr);
    const size_t data_start = hstart + hlen;
    const int64_t n = shape_numel(shape);
    if (bytes.size() - data_start < static_cast<size_t>(n) * dtype_size(dt))
        throw Error(ErrorKind::Format, name, "", "data shorter than the shape " + shape_str(shape) + " needs");
    Tensor t(shape);
    convert_to_f32(dt, bytes.data() + data_start, n, t.ptr());
    return t;
}

} // namespace attnscope
