#include "core/io/mapped_file.h"

#include "core/error.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <mutex>

namespace attnscope {

namespace {

// ---- the lease table: which mappings to move into memory when their file is about to change ----
// Touched from a signal handler: fixed size, lock-free atomics only.
struct LeaseSlot {
    std::atomic<bool> busy{false}; // held by the handler while it copies, or by the owner while it unmaps
    std::atomic<int> fd{-1};
    std::atomic<uint8_t*> addr{nullptr};
    std::atomic<size_t> size{0};
};
constexpr int kSlots = 64;
LeaseSlot g_slots[kSlots];

int lease_signal() { return SIGRTMIN + 6; } // a real-time signal: carries si_fd, queued, unused by Qt/OpenMP

// The mapping's bytes into a memfd, mapped read-only and private over the very same addresses: readers see
// the same values before, during (mremap is atomic for them) and after; the file is no longer referenced.
bool privatize(uint8_t* addr, size_t size) {
    const int mfd = ::memfd_create("attnscope-weights", MFD_CLOEXEC);
    if (mfd < 0) return false;
    bool ok = ::ftruncate(mfd, static_cast<off_t>(size)) == 0;
    for (size_t done = 0; ok && done < size;) {
        const ssize_t n = ::write(mfd, addr + done, size - done);
        if (n > 0) done += static_cast<size_t>(n);
        else if (n < 0 && errno == EINTR) continue;
        else ok = false;
    }
    void* p = ok ? ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, mfd, 0) : MAP_FAILED;
    ::close(mfd);
    if (p == MAP_FAILED) return false;
    if (::mremap(p, size, size, MREMAP_MAYMOVE | MREMAP_FIXED, addr) == MAP_FAILED) {
        ::munmap(p, size);
        return false;
    }
    return true;
}

void on_lease_break(int, siginfo_t* info, void*) {
    const int saved = errno;
    for (LeaseSlot& s : g_slots) {
        if (s.fd.load() != info->si_fd) continue;
        bool expected = false;
        if (!s.busy.compare_exchange_strong(expected, true)) continue; // its owner is unmapping: closing ends the lease
        // Without a private copy the lease is kept: the writer waits for the kernel's lease-break-time.
        if (s.fd.load() == info->si_fd && privatize(s.addr.load(), s.size.load()))
            ::fcntl(info->si_fd, F_SETLEASE, F_UNLCK);
        s.busy.store(false);
    }
    errno = saved;
}

bool handler_installed() {
    static const bool ok = [] {
        struct sigaction old {};
        if (::sigaction(lease_signal(), nullptr, &old) != 0) return false;
        if ((old.sa_flags & SA_SIGINFO) ? old.sa_sigaction != nullptr : old.sa_handler != SIG_DFL)
            return false; // someone else's signal: do not take it over (loaders then copy)
        struct sigaction sa {};
        sa.sa_sigaction = on_lease_break;
        sa.sa_flags = SA_SIGINFO | SA_RESTART;
        sigemptyset(&sa.sa_mask);
        return ::sigaction(lease_signal(), &sa, nullptr) == 0;
    }();
    return ok;
}

bool sharing_enabled() {
    static const bool on = [] {
        const char* env = std::getenv("ATTNSCOPE_MAP_WEIGHTS");
        std::string v = env ? env : "";
        std::transform(v.begin(), v.end(), v.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
        if (v.empty() || v == "1" || v == "auto") return true;
        if (v == "0") return false;
        throw Error(ErrorKind::Argument, "", "ATTNSCOPE_MAP_WEIGHTS", "unknown value '" + v + "' (0: always copy the weights, 1 or auto)");
    }();
    return on;
}

// Registers the mapping and takes a read lease on fd; -1 when either is impossible.
int take_lease(int fd, const uint8_t* addr, size_t size) {
    if (!sharing_enabled() || !handler_installed()) return -1;
    for (int i = 0; i < kSlots; ++i) {
        LeaseSlot& s = g_slots[i];
        bool expected = false;
        if (!s.busy.compare_exchange_strong(expected, true)) continue;
        if (s.fd.load() != -1) {
            s.busy.store(false);
            continue;
        }
        s.addr.store(const_cast<uint8_t*>(addr));
        s.size.store(size);
        s.fd.store(fd);
        s.busy.store(false);
        // Fails (EAGAIN) while any process has the file open for writing: then it may change, and we copy.
        if (::fcntl(fd, F_SETSIG, lease_signal()) == 0 && ::fcntl(fd, F_SETLEASE, F_RDLCK) == 0) return i;
        while (true) { // undo
            expected = false;
            if (s.busy.compare_exchange_weak(expected, true)) break;
        }
        s.fd.store(-1);
        s.busy.store(false);
        return -1;
    }
    return -1;
}

void drop_lease(int slot) {
    LeaseSlot& s = g_slots[slot];
    bool expected = false;
    while (!s.busy.compare_exchange_weak(expected, true)) expected = false; // a handler copying in another thread
    s.fd.store(-1);
    s.busy.store(false);
}

uintptr_t page_size() {
    static const uintptr_t page = static_cast<uintptr_t>(::sysconf(_SC_PAGESIZE));
    return page;
}

} // namespace

MappedFile::MappedFile(const std::string& path, bool share) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw Error(ErrorKind::Io, path, "", std::string("cannot open: ") + std::strerror(errno));
    struct stat st {};
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        ::close(fd);
        throw Error(ErrorKind::Io, path, "", "not a regular file");
    }
    size_ = static_cast<size_t>(st.st_size);
    if (size_ > 0) {
        void* p = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
        if (p == MAP_FAILED) {
            ::close(fd);
            throw Error(ErrorKind::Io, path, "", std::string("cannot map: ") + std::strerror(errno));
        }
        data_ = static_cast<const uint8_t*>(p);
        mapped_ = true;
        try {
            if (share) slot_ = take_lease(fd, data_, size_);
        } catch (...) {
            ::munmap(p, size_);
            ::close(fd);
            throw;
        }
    }
    if (slot_ >= 0) fd_ = fd;
    else ::close(fd);
}

MappedFile::MappedFile(const uint8_t* data, size_t size) : data_(size ? data : nullptr), size_(data ? size : 0) {}

void MappedFile::release(const uint8_t* p, size_t n) const {
    if (!mapped_ || !data_ || n == 0 || p < data_ || p >= data_ + size_) return;
    const uintptr_t page = page_size();
    const uintptr_t lo = reinterpret_cast<uintptr_t>(p) & ~(page - 1);
    const uintptr_t end = std::min(reinterpret_cast<uintptr_t>(p) + n, reinterpret_cast<uintptr_t>(data_ + size_));
    const uintptr_t hi = (end + page - 1) & ~(page - 1);
    // Pages shared with a neighbouring tensor are dropped too: harmless, they fault back in when read (the
    // mapping is never written: the file's or, after a lease break, the memfd's pages come back).
    ::madvise(reinterpret_cast<void*>(lo), hi - lo, MADV_DONTNEED);
}

void MappedFile::prefault(const uint8_t* p, size_t n) const {
#ifdef MADV_POPULATE_READ
    if (!mapped_ || !data_ || n == 0 || p < data_ || p >= data_ + size_) return;
    const uintptr_t page = page_size();
    const uintptr_t lo = reinterpret_cast<uintptr_t>(p) & ~(page - 1);
    const uintptr_t end = std::min(reinterpret_cast<uintptr_t>(p) + n, reinterpret_cast<uintptr_t>(data_ + size_));
    ::madvise(reinterpret_cast<void*>(lo), end - lo, MADV_POPULATE_READ); // best effort (Linux ≥ 5.14)
#endif
}

MappedFile::~MappedFile() {
    if (slot_ >= 0) {
        drop_lease(slot_); // after this no handler touches the mapping
        ::fcntl(fd_, F_SETLEASE, F_UNLCK);
        ::close(fd_);
    }
    if (data_ && mapped_) ::munmap(const_cast<uint8_t*>(data_), size_);
}

} // namespace attnscope
