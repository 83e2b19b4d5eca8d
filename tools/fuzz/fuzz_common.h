// Shared by the libFuzzer targets: every target feeds the bytes to a real core entry point and
// accepts exactly one outcome besides success, attnscope::Error. Any other exception escapes and
// libFuzzer reports it as a crash, as it does ASan/UBSan reports, timeouts and out-of-memory.
#pragma once

#include "core/error.h"
#include "core/limits.h"

#include <cstddef>
#include <cstdint>
#include <string>

// Memory the code under test may ask for (require_memory); the fuzzers run with -rss_limit_mb=2048,
// so anything that allocates past this without asking is found as an out-of-memory report.
inline constexpr uint64_t kFuzzMemoryLimit = uint64_t(64) << 20;

#define ATTNSCOPE_FUZZ_INIT()                                                                         \
    extern "C" int LLVMFuzzerInitialize(int*, char***) {                                              \
        attnscope::set_memory_limit(kFuzzMemoryLimit);                                                \
        return 0;                                                                                     \
    }

// Runs body; a clean attnscope::Error is an accepted outcome (its message must name something).
template <typename F> void expect_clean(F&& body) {
    try {
        body();
    } catch (const attnscope::Error& e) {
        if (std::string(e.what()).empty()) __builtin_trap();
    }
}
