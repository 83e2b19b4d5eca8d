#include "app/blas_env.h"

#include "core/tensor/ops.h"

#include <cstdlib>
#include <cstring>
#include <malloc.h>
#include <unistd.h>

namespace attnscope {

void ensure_fast_blas(char** argv) {
    // Freed blocks stay in the process for the next pass instead of going back to the kernel: a run's
    // 21 MB of ViT-B maps (144 × 155 KB … 12 × 1.9 MB blocks) and its activations are then written into
    // memory that is already mapped, rather than faulted in again page by page on every pass — the
    // main cost of recording on this kind of machine (docs/performance.md). Blocks up to 32 MB come
    // from the heap (glibc's maximum), which is trimmed only past 512 MB free.
    ::mallopt(M_MMAP_THRESHOLD, 32 * 1024 * 1024);
    ::mallopt(M_TRIM_THRESHOLD, 512 * 1024 * 1024);
    const char* opt = std::getenv("ATTNSCOPE_BLAS_REEXEC");
    if (opt && std::strcmp(opt, "0") == 0) return;     // the environment stays as the user set it
    if (std::getenv("ATTNSCOPE_BLAS_REEXECUTED")) return; // we already did: never loop
    bool changed = false;
    // By the CPU's features: an AVX-512 CPU gets SkylakeX even when OpenBLAS (or an inherited
    // OPENBLAS_CORETYPE=Haswell) picked its AVX2 kernels.
    const std::string core = ops::preferred_blas_coretype();
    if (!core.empty()) {
        ::setenv("OPENBLAS_CORETYPE", core.c_str(), 1);
        changed = true;
    }
    // oneDNN runs on OpenMP (libgomp), whose idle threads spin by default: on a 2-core machine shared
    // with anything else a spinning thread takes the core its partner needs, and DETR-R50 took 5× the
    // CPU time (docs/performance.md). Passive waiting, as for PyTorch (peers.md), unless the user chose.
    if (ops::backend_available(ops::Backend::OneDNN) && !std::getenv("OMP_WAIT_POLICY") &&
        !std::getenv("GOMP_SPINCOUNT")) {
        ::setenv("OMP_WAIT_POLICY", "PASSIVE", 1);
        changed = true;
    }
    if (!changed) return;
    // Riding on the same re-exec: glibc's malloc asks for transparent huge pages for its large blocks
    // (weights, activations, attention maps). Faulting in 2 MB pages instead of 4 KB ones halves the
    // CPU time of loading ViT-B's 346 MB on a machine whose THP mode is "madvise" (docs/performance.md).
    if (!std::getenv("GLIBC_TUNABLES")) ::setenv("GLIBC_TUNABLES", "glibc.malloc.hugetlb=1", 1);
    ::setenv("ATTNSCOPE_BLAS_REEXECUTED", "1", 1);
    ::execv("/proc/self/exe", argv); // returns only on failure: carry on as we are
}

} // namespace attnscope
