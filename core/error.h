// AttnScope core: the one error type every loader and model throws.
// A message always names the file and the thing inside it that is wrong,
// e.g. "model.safetensors: tensor 'blocks.0.attn.qkv.weight': data_offsets past end of file".
#pragma once

#include <stdexcept>
#include <string>

namespace attnscope {

enum class ErrorKind {
    Io,          // cannot open / read / write a file
    Format,      // the bytes are not what the format says (truncated, bad header, bad offsets)
    Unsupported, // valid but not something we handle (dtype, architecture)
    Mismatch,    // shapes / config disagree with each other
    Missing,     // a required tensor / field is absent
    Argument,    // bad user argument (CLI flag, option)
    Cancelled,   // the user cancelled a long operation
};

const char* to_string(ErrorKind kind);

class Error : public std::runtime_error {
public:
    // file: the file concerned (may be empty); field: tensor name / JSON key (may be empty).
    Error(ErrorKind kind, std::string file, std::string field, const std::string& what);

    ErrorKind kind() const { return kind_; }
    const std::string& file() const { return file_; }
    const std::string& field() const { return field_; }
    const std::string& detail() const { return detail_; }

private:
    ErrorKind kind_;
    std::string file_;
    std::string field_;
    std::string detail_;
};

} // namespace attnscope
