#include "core/limits.h"

#include "core/error.h"

#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <limits>
#include <string>

namespace attnscope {

namespace {

constexpr uint64_t kNone = std::numeric_limits<uint64_t>::max();
constexpr uint64_t kSmallRequest = uint64_t(1) << 20;
std::atomic<uint64_t> g_limit{0};

// "MemAvailable:   20571236 kB" → bytes; kNone when absent.
uint64_t meminfo_available() {
    std::ifstream in("/proc/meminfo");
    std::string key;
    uint64_t kb = 0;
    std::string unit;
    while (in >> key >> kb) {
        std::getline(in, unit);
        if (key == "MemAvailable:") return kb * 1024;
    }
    const long pages = sysconf(_SC_AVPHYS_PAGES), page = sysconf(_SC_PAGE_SIZE);
    if (pages > 0 && page > 0) return static_cast<uint64_t>(pages) * static_cast<uint64_t>(page);
    return kNone;
}

uint64_t read_u64(const char* path) {
    std::ifstream in(path);
    std::string s;
    if (!(in >> s) || s.empty() || s == "max") return kNone;
    char* end = nullptr;
    const unsigned long long v = std::strtoull(s.c_str(), &end, 10);
    return end && *end == 0 ? v : kNone;
}

uint64_t cgroup_available() {
    const uint64_t max = read_u64("/sys/fs/cgroup/memory.max");
    if (max == kNone) return kNone;
    const uint64_t cur = read_u64("/sys/fs/cgroup/memory.current");
    return cur == kNone ? max : (cur >= max ? 0 : max - cur);
}

// "512M", "2G", "1.5G", "1048576" → bytes; 0 when unset or unreadable.
uint64_t parse_size(const char* s) {
    if (!s || !*s) return 0;
    char* end = nullptr;
    const double v = std::strtod(s, &end);
    if (!end || end == s || !(v > 0)) return 0;
    double mult = 1;
    switch (*end) {
    case 'k': case 'K': mult = 1024.0; break;
    case 'm': case 'M': mult = 1024.0 * 1024; break;
    case 'g': case 'G': mult = 1024.0 * 1024 * 1024; break;
    case 't': case 'T': mult = 1024.0 * 1024 * 1024 * 1024; break;
    default: break;
    }
    const double bytes = v * mult;
    return bytes >= 1.8e19 ? kNone : static_cast<uint64_t>(bytes);
}

} // namespace

void set_memory_limit(uint64_t bytes) { g_limit.store(bytes); }

uint64_t memory_limit_override() {
    const uint64_t set = g_limit.load();
    return set ? set : parse_size(std::getenv("ATTNSCOPE_MEMORY_LIMIT"));
}

uint64_t available_memory() {
    uint64_t avail = meminfo_available();
    const uint64_t cg = cgroup_available();
    if (cg < avail) avail = cg;
    const uint64_t limit = memory_limit_override();
    if (limit && limit < avail) avail = limit;
    return avail;
}

uint64_t sat_mul(uint64_t a, uint64_t b) {
    uint64_t r;
    return __builtin_mul_overflow(a, b, &r) ? kNone : r;
}

uint64_t sat_add(uint64_t a, uint64_t b) {
    uint64_t r;
    return __builtin_add_overflow(a, b, &r) ? kNone : r;
}

std::string human_bytes(uint64_t b) {
    if (b == kNone) return "more than 16 EiB";
    static const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
    double v = static_cast<double>(b);
    int u = 0;
    while (v >= 1024.0 && u < 6) v /= 1024.0, ++u;
    char buf[32];
    if (u == 0) std::snprintf(buf, sizeof buf, "%llu B", static_cast<unsigned long long>(b));
    else std::snprintf(buf, sizeof buf, v < 10 ? "%.1f %s" : "%.0f %s", v, units[u]);
    return buf;
}

void require_memory(uint64_t bytes, const std::string& file, const std::string& field, const std::string& what) {
    const uint64_t limit = memory_limit_override();
    // Small requests skip reading /proc (loaders ask once per tensor): only the override can refuse them.
    if (bytes <= kSmallRequest && (!limit || bytes <= limit)) return;
    const uint64_t avail = available_memory();
    if (bytes <= avail) return;
    const bool capped = limit != 0 && limit == avail;
    throw Error(ErrorKind::Unsupported, file, field,
                what + " needs " + human_bytes(bytes) + " of memory but only " + human_bytes(avail) + " is available" +
                    (capped ? " (memory limit set by ATTNSCOPE_MEMORY_LIMIT or the application)" : " on this machine") + "; refusing before allocating");
}

} // namespace attnscope
