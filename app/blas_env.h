// Sets what the kernel libraries read only when they are loaded, then re-executes this program once
// with it (call first thing in main()):
//  - OPENBLAS_CORETYPE from the CPU's features (ops::preferred_blas_coretype: AVX-512 → SkylakeX,
//    AVX2 → Haswell) when OpenBLAS picked other kernels (0.3.21 runs Haswell kernels on AMD Zen 4/5
//    and SSE3 "Prescott" on CPUs it does not know; an inherited OPENBLAS_CORETYPE may name a weaker one);
//  - OMP_WAIT_POLICY=PASSIVE for oneDNN's OpenMP threads, unless OMP_WAIT_POLICY or GOMP_SPINCOUNT is set;
//  - and, when re-executing anyway, GLIBC_TUNABLES=glibc.malloc.hugetlb=1 (unless set): huge pages for
//    large allocations, so loading and first passes fault in 2 MB pages instead of 4 KB ones.
// ATTNSCOPE_BLAS_REEXEC=0 disables it (the environment is then used as it is).
#pragma once

namespace attnscope {
void ensure_fast_blas(char** argv);
}
