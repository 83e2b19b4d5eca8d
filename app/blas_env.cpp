#include "app/blas_env.h"

#include "core/tensor/ops.h"

#include <cstdlib>
#include <cstring>
#include <unistd.h>

namespace attnscope {

void ensure_fast_blas(char** argv) {
    const char* opt = std::getenv("ATTNSCOPE_BLAS_REEXEC");
    if (opt && std::strcmp(opt, "0") == 0) return;     // the user's OPENBLAS_CORETYPE (or none) stays
    if (std::getenv("ATTNSCOPE_BLAS_REEXECUTED")) return; // we already did: never loop
    // By the CPU's features: an AVX-512 CPU gets SkylakeX even when OpenBLAS (or an inherited
    // OPENBLAS_CORETYPE=Haswell) picked its AVX2 kernels.
    const std::string core = ops::preferred_blas_coretype();
    if (core.empty()) return;
    ::setenv("OPENBLAS_CORETYPE", core.c_str(), 1);
    ::setenv("ATTNSCOPE_BLAS_REEXECUTED", "1", 1);
    ::execv("/proc/self/exe", argv); // returns only on failure: carry on with the slower kernels
}

} // namespace attnscope
