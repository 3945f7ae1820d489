#include "core/mapped_file.h"

#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <mutex>

#include "core/error.h"

namespace autodist {
namespace {

// The live mappings, read by the SIGBUS handler (which may only use what is async-signal-safe: no locks, no
// allocation). A slot is published by storing `end` last and retired by zeroing it first.
struct Slot {
  std::atomic<uintptr_t> begin{0}, end{0};
  char path[256] = {0};
};
constexpr int kSlots = 64;
Slot g_slots[kSlots];
std::mutex g_slots_mu;
struct sigaction g_prev_bus {};

void put(const char* s) {
  for (size_t n = std::strlen(s); n > 0;) {
    ssize_t w = ::write(2, s, n);
    if (w <= 0) return;
    s += w, n -= size_t(w);
  }
}

void on_sigbus(int sig, siginfo_t* info, void* ctx) {
  const auto addr = reinterpret_cast<uintptr_t>(info ? info->si_addr : nullptr);
  for (Slot& s : g_slots) {
    const uintptr_t b = s.begin.load(), e = s.end.load();
    if (e == 0 || addr < b || addr >= e) continue;
    char off[32];
    int i = sizeof(off) - 1;
    off[i] = 0;
    uintptr_t v = addr - b;
    do off[--i] = char('0' + v % 10), v /= 10;
    while (v && i > 0);
    put("autodist: error: ");
    put(s.path);
    put(" was truncated or became unreadable while its weights were in use (SIGBUS at offset ");
    put(off + i);
    put("); ending\n");
    ::_exit(128 + SIGBUS);
  }
  // Not one of ours: what would have happened without this handler.
  if (g_prev_bus.sa_flags & SA_SIGINFO) {
    if (g_prev_bus.sa_sigaction) return g_prev_bus.sa_sigaction(sig, info, ctx);
  } else if (g_prev_bus.sa_handler != SIG_DFL && g_prev_bus.sa_handler != SIG_IGN && g_prev_bus.sa_handler) {
    return g_prev_bus.sa_handler(sig);
  }
  signal(SIGBUS, SIG_DFL);
  raise(SIGBUS);
}

void install_handler() {
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction sa {};
    sa.sa_sigaction = on_sigbus;
    sa.sa_flags = SA_SIGINFO;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGBUS, &sa, &g_prev_bus);
  });
}

}  // namespace

std::shared_ptr<const MappedFile> MappedFile::map(const ReadFile& f) {
  const uint64_t n = f.size();
  void* p = nullptr;
  if (n > 0) {
    p = ::mmap(nullptr, n, PROT_READ, MAP_PRIVATE | MAP_POPULATE, f.fd(), 0);
    AD_CHECK(p != MAP_FAILED, "cannot map {} ({} bytes) into memory: {}", f.path(), n, std::strerror(errno));
  }
  install_handler();
  int slot = -1;
  if (n > 0) {
    std::lock_guard<std::mutex> lk(g_slots_mu);
    for (int i = 0; i < kSlots && slot < 0; ++i) {
      if (g_slots[i].end.load() != 0) continue;
      slot = i;
      std::snprintf(g_slots[i].path, sizeof(g_slots[i].path), "%s", f.path().c_str());
      g_slots[i].begin.store(reinterpret_cast<uintptr_t>(p));
      g_slots[i].end.store(reinterpret_cast<uintptr_t>(p) + n);
    }
  }
  return std::shared_ptr<const MappedFile>(new MappedFile(f.path(), p, n, slot));
}

MappedFile::~MappedFile() {
  if (slot_ >= 0) {
    std::lock_guard<std::mutex> lk(g_slots_mu);
    g_slots[slot_].end.store(0);
    g_slots[slot_].begin.store(0);
  }
  if (p_ && size_ > 0) ::munmap(p_, size_);
}

}  // namespace autodist
