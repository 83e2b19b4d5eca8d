// Resource limits: a checkpoint or image that would need more memory than this machine can give is
// refused with a clear message BEFORE anything is allocated.
#pragma once

#include <cstdint>
#include <string>

namespace attnscope {

// Bytes this process may still allocate: the smallest of MemAvailable (/proc/meminfo; physical
// memory when that cannot be read), the cgroup limit (memory.max − memory.current, cgroup v2), and
// the override below. Read afresh on every call.
uint64_t available_memory();

// Override for tests, fuzzers and users who want a lower ceiling: set_memory_limit(bytes) (0 clears
// it) or the environment variable ATTNSCOPE_MEMORY_LIMIT ("512M", "2G", "1048576"); the setter wins.
void set_memory_limit(uint64_t bytes);
uint64_t memory_limit_override(); // 0 when none

// Throws Error(Unsupported, file, field, "<what> needs 3.1 GiB of memory but only 1.2 GiB is
// available …") when `bytes` exceeds available_memory(). Requests up to 1 MiB are only checked
// against the override (they are made per tensor and must stay cheap).
void require_memory(uint64_t bytes, const std::string& file, const std::string& field, const std::string& what);

// Saturating arithmetic for sizes read from untrusted headers (UINT64_MAX on overflow).
uint64_t sat_mul(uint64_t a, uint64_t b);
uint64_t sat_add(uint64_t a, uint64_t b);

std::string human_bytes(uint64_t bytes); // "1.5 GiB", "812 MiB", "64 KiB", "17 B"

} // namespace attnscope
