#include "app/blas_env.h"

#include "core/tensor/ops.h"

#include <cstdlib>
#include <cstring>
#include <unistd.h>

namespace attnscope {

void ensure_fast_blas(char** argv) {
    if (std::getenv("OPENBLAS_CORETYPE")) return; // already chosen (by us or by the user)
    const char* opt = std::getenv("ATTNSCOPE_BLAS_REEXEC");
    if (opt && std::strcmp(opt, "0") == 0) return;
    const std::string core = ops::preferred_blas_coretype();
    if (core.empty()) return;
    ::setenv("OPENBLAS_CORETYPE", core.c_str(), 1);
    ::execv("/proc/self/exe", argv); // returns only on failure: carry on with the slow kernels
}

} // namespace attnscope
