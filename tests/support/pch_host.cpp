// Compiles nothing of its own: the target that owns the precompiled Qt headers the test executables
// reuse (tests/CMakeLists.txt, ATTNSCOPE_PCH).
