// Makes sure OpenBLAS runs the kernels this CPU's features call for (ops::preferred_blas_coretype:
// AVX-512 → SkylakeX, AVX2 → Haswell): when it picked others (0.3.21 runs Haswell kernels on AMD
// Zen 4/5 and SSE3 "Prescott" on CPUs it does not know; an inherited OPENBLAS_CORETYPE may name a
// weaker family), re-execute this program once with OPENBLAS_CORETYPE set — OpenBLAS reads it only
// when it is loaded. Call first thing in main(). ATTNSCOPE_BLAS_REEXEC=0 disables it (then
// OPENBLAS_CORETYPE is whatever the environment says).
#pragma once

namespace attnscope {
void ensure_fast_blas(char** argv);
}
