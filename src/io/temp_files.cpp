// defines: temp_path, temp_files_in, sweep_stale_temp_files, FileLock, lock_timeout_s,
//          output_lock_path, append_to_file
#include "io/temp_files.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fmt/chrono.h>
#include <fmt/format.h>
#include <random>
#include <thread>

#include "core/error.h"
#include "core/log.h"

namespace fs = std::filesystem;

namespace autodist::io {
namespace {

constexpr const char* kPrefix = ".tmp.";

// This host's name with every character but [A-Za-z0-9_-] replaced by '_' (no dots: they separate
// the fields of a temporary's name).
const std::string& host_tag() {
  static const std::string tag = [] {
    char buf[256] = {0};
    if (::gethostname(buf, sizeof buf - 1) != 0 || !buf[0]) return std::string("localhost");
    std::string s = buf;
    for (char& c : s)
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_') c = '_';
    return s;
  }();
  return tag;
}

bool all_digits(const std::string& s) {
  return !s.empty() && s.size() <= 18 && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}
bool hex8(const std::string& s) {
  return s.size() == 8 && std::all_of(s.begin(), s.end(), [](char c) { return std::isxdigit(static_cast<unsigned char>(c)); });
}

// Splits a file name into (host, pid, target) when it is a temporary, else false.
bool parse_temp_name(const std::string& name, TempFileInfo& t) {
  if (name.starts_with(kPrefix)) {  // .tmp.<host>.<pid>.<hex>.<target>
    std::vector<std::string> f;
    size_t pos = std::strlen(kPrefix);
    for (int i = 0; i < 3; ++i) {
      size_t dot = name.find('.', pos);
      if (dot == std::string::npos) return false;
      f.push_back(name.substr(pos, dot - pos));
      pos = dot + 1;
    }
    if (f[0].empty() || !all_digits(f[1]) || !hex8(f[2]) || pos >= name.size()) return false;
    t.host = f[0];
    t.pid = std::stoll(f[1]);
    t.target = name.substr(pos);
    return true;
  }
  // Older versions: <target>.tmp.<pid> or <target>.tmp.<pid>.<hex>, for the files they wrote only
  // (a user's own "notes.tmp.1" is none of ours).
  size_t at = name.rfind(kPrefix);
  if (at == std::string::npos || at == 0) return false;
  const std::string target = name.substr(0, at), rest = name.substr(at + std::strlen(kPrefix));
  const bool ours = target == "trace.h5" || target == "layout.json" ||
                    (target.starts_with("trace.") && target.ends_with(".json")) ||
                    (target.starts_with("rank") && (target.ends_with(".safetensors") || target.ends_with(".json")));
  size_t dot = rest.find('.');
  if (!ours || !all_digits(rest.substr(0, dot)) || (dot != std::string::npos && !hex8(rest.substr(dot + 1))))
    return false;
  t.host.clear();
  t.pid = std::stoll(rest.substr(0, dot));
  t.target = target;
  return true;
}

bool alive(int64_t pid) {
  if (pid <= 0) return false;
  return ::kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM;
}

std::string now_iso() {
  auto t = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  return fmt::format("{:%Y-%m-%dT%H:%M:%SZ}", fmt::gmtime(t));
}

// What the holder of a lock wrote into it.
std::string lock_holder(int fd) {
  char buf[256] = {0};
  ssize_t n = ::pread(fd, buf, sizeof buf - 1, 0);
  std::string s = n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string();
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s.empty() ? std::string("an unknown process (the lock file names none)") : s;
}

}  // namespace

std::string temp_path(const std::string& path) {
  static std::random_device rd;
  fs::path p(path);
  return (p.parent_path() / fmt::format("{}{}.{}.{:08x}.{}", kPrefix, host_tag(), ::getpid(), rd(),
                                        p.filename().string()))
      .string();
}

std::vector<TempFileInfo> temp_files_in(const std::string& dir) {
  std::vector<TempFileInfo> out;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return out;
  const auto now = std::chrono::system_clock::now();
  for (auto& e : fs::directory_iterator(dir, ec)) {
    TempFileInfo t;
    struct stat st {};
    if (!parse_temp_name(e.path().filename().string(), t) || ::lstat(e.path().c_str(), &st) != 0 ||
        !S_ISREG(st.st_mode))
      continue;
    t.path = e.path().string();
    t.size = static_cast<size_t>(st.st_size);
    auto mtime = std::chrono::system_clock::from_time_t(st.st_mtim.tv_sec);
    t.age_s = std::max(0.0, std::chrono::duration<double>(now - mtime).count());
    const bool here = t.host.empty() || t.host == host_tag();
    t.stale = (here && t.pid != ::getpid() && !alive(t.pid)) || t.age_s > kStaleTempAgeS;
    out.push_back(std::move(t));
  }
  std::sort(out.begin(), out.end(), [](auto& a, auto& b) { return a.path < b.path; });
  return out;
}

int sweep_stale_temp_files(const std::string& dir) {
  int removed = 0;
  for (auto& t : temp_files_in(dir)) {
    if (!t.stale || ::unlink(t.path.c_str()) != 0) continue;
    ++removed;
    log::info("removed {} ({:.1f} MB), left by an interrupted write of {} (pid {}{}{})", t.path, t.size / 1e6, t.target,
              t.pid, t.host.empty() ? "" : " on ", t.host);
  }
  return removed;
}

double lock_timeout_s() {
  const char* env = std::getenv("AUTODIST_LOCK_TIMEOUT_S");
  if (!env || !*env) return 300;
  char* end = nullptr;
  double v = std::strtod(env, &end);
  AD_CHECK(end && *end == '\0' && v >= 0, "AUTODIST_LOCK_TIMEOUT_S='{}' is not a number of seconds >= 0", env);
  return v;
}

FileLock::FileLock(const std::string& lock_path, const std::string& what) {
  fd_ = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0666);
  if (fd_ < 0 && errno == EACCES) fd_ = ::open(lock_path.c_str(), O_RDONLY | O_CLOEXEC);  // another user's lock
  AD_CHECK(fd_ >= 0, "{}: cannot open the lock file {}: {}", what, lock_path, std::strerror(errno));
  const double limit = lock_timeout_s();
  const auto t0 = std::chrono::steady_clock::now();
  int sleep_ms = 1;
  bool told = false;
  while (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    const int e = errno;
    if (e == EINTR) continue;
    const double waited = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (e != EWOULDBLOCK || waited >= limit) {
      std::string holder = lock_holder(fd_);
      ::close(fd_);
      if (e != EWOULDBLOCK) AD_FAIL("{}: cannot lock {}: {}", what, lock_path, std::strerror(e));
      AD_FAIL("{}: gave up after {:g} s waiting for the lock {}, held by {} (AUTODIST_LOCK_TIMEOUT_S sets the wait)",
              what, limit, lock_path, holder);
    }
    if (!told && waited > 10) {
      log::warn("{}: waiting for the lock {}, held by {}", what, lock_path, lock_holder(fd_));
      told = true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(sleep_ms));
    sleep_ms = std::min(sleep_ms * 2, 50);
  }
  // Best effort (a read-only lock file of another user stays as it is): who holds it, for waiters.
  std::string me = fmt::format("pid {} on {} since {}\n", ::getpid(), host_tag(), now_iso());
  if (::ftruncate(fd_, 0) == 0) (void)!::pwrite(fd_, me.data(), me.size(), 0);
}

FileLock::~FileLock() {
  if (fd_ >= 0) ::close(fd_);  // releases the flock
}

std::string output_lock_path(const std::string& dir) {
  return (fs::path(dir.empty() ? "." : dir) / ".autodist.lock").string();
}

void append_to_file(const std::string& path, const std::string& text) {
  FileLock lock(output_lock_path(fs::path(path).parent_path().string()), fmt::format("cannot append to {}", path));
  int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  AD_CHECK(fd >= 0, "cannot open {} to append to it: {}", path, std::strerror(errno));
  struct stat st {};
  const bool regular = ::fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
  const char* p = text.data();
  size_t left = text.size();
  int err = 0;
  while (left > 0) {  // one write() unless the disk fills part way (then the next one says why)
    ssize_t w = ::write(fd, p, left);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      err = w < 0 ? errno : EIO;
      break;
    }
    p += w;
    left -= static_cast<size_t>(w);
  }
  // A file system that reports errors late (NFS, delayed allocation) reports them here; a device
  // that cannot sync (a pipe, /dev/null) is not an error.
  if (!err && ::fsync(fd) != 0 && errno != EINVAL && errno != EROFS && errno != ENOTSUP) err = errno;
  // Never leave a partial line: we hold the lock, so the file ended at st_size before our write.
  if (err && regular && left < text.size()) (void)!::ftruncate(fd, st.st_size);
  if (::close(fd) != 0 && !err && errno != EINTR) err = errno;
  if (err) AD_FAIL("cannot write {}: {}", path, std::strerror(err));
}

}  // namespace autodist::io
