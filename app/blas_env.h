// Makes sure OpenBLAS runs its fast kernels: when it did not recognise this CPU (it falls back to
// the SSE3 "Prescott" kernels, ~2× slower here), re-execute this program once with
// OPENBLAS_CORETYPE set. Call first thing in main(). Set ATTNSCOPE_BLAS_REEXEC=0 to disable.
#pragma once

namespace attnscope {
void ensure_fast_blas(char** argv);
}
