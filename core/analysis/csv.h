// CSV field quoting (RFC 4180): fields with a comma, quote or newline are quoted.
#pragma once

#include <string>

namespace attnscope::analysis {

inline std::string csv_field(const std::string& s) {
    if (s.find_first_of(",\"\n\r") == std::string::npos) return s;
    std::string q = "\"";
    for (char c : s) q += c == '"' ? std::string("\"\"") : std::string(1, c);
    return q + "\"";
}

} // namespace attnscope::analysis
