#include "core/error.h"

namespace attnscope {

const char* to_string(ErrorKind kind) {
    switch (kind) {
    case ErrorKind::Io: return "io";
    case ErrorKind::Format: return "format";
    case ErrorKind::Unsupported: return "unsupported";
    case ErrorKind::Mismatch: return "mismatch";
    case ErrorKind::Missing: return "missing";
    case ErrorKind::Argument: return "argument";
    case ErrorKind::Cancelled: return "cancelled";
    }
    return "error";
}

static std::string compose(const std::string& file, const std::string& field, const std::string& what) {
    std::string msg;
    if (!file.empty()) msg += file + ": ";
    if (!field.empty()) msg += field + ": ";
    return msg + what;
}

Error::Error(ErrorKind kind, std::string file, std::string field, const std::string& what)
    : std::runtime_error(compose(file, field, what)), kind_(kind), file_(std::move(file)),
      field_(std::move(field)), detail_(what) {}

} // namespace attnscope
