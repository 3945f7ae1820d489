#include "core/file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "core/error.h"

namespace autodist {
namespace {

const char* kind_of(mode_t m) {
  if (S_ISDIR(m)) return "a directory";
  if (S_ISFIFO(m)) return "a FIFO";
  if (S_ISCHR(m)) return "a character device";
  if (S_ISBLK(m)) return "a block device";
  if (S_ISSOCK(m)) return "a socket";
  return "not a regular file";
}

}  // namespace

ReadFile::ReadFile(const std::string& path) : path_(path) {
  // O_NONBLOCK: opening a FIFO without a writer would otherwise wait forever; cleared once it is known regular.
  fd_ = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  AD_CHECK(fd_ >= 0, "cannot open {}: {}", path, std::strerror(errno));
  struct stat st {};
  if (::fstat(fd_, &st) != 0) {
    const int err = errno;
    ::close(fd_);
    AD_FAIL("cannot stat {}: {}", path, std::strerror(err));
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd_);
    AD_FAIL("{} is {}: expected a regular file", path, kind_of(st.st_mode));
  }
  const int flags = ::fcntl(fd_, F_GETFL);
  if (flags < 0 || ::fcntl(fd_, F_SETFL, flags & ~O_NONBLOCK) != 0) {
    const int err = errno;
    ::close(fd_);
    AD_FAIL("cannot set {} to blocking reads: {}", path, std::strerror(err));
  }
  size_ = static_cast<uint64_t>(st.st_size);
}

ReadFile::~ReadFile() {
  if (fd_ >= 0) ::close(fd_);
}

ReadFile::ReadFile(ReadFile&& o) noexcept { *this = std::move(o); }

ReadFile& ReadFile::operator=(ReadFile&& o) noexcept {
  if (this != &o) {
    if (fd_ >= 0) ::close(fd_);
    path_ = std::move(o.path_);
    fd_ = std::exchange(o.fd_, -1);
    size_ = o.size_;
  }
  return *this;
}

void ReadFile::read_exact(void* dst, size_t n, uint64_t offset) const {
  auto* p = static_cast<char*>(dst);
  size_t got = 0;
  while (got < n) {
    ssize_t r = ::pread(fd_, p + got, n - got, static_cast<off_t>(offset + got));
    if (r < 0 && errno == EINTR) continue;
    AD_CHECK(r >= 0, "{}: cannot read {} bytes at offset {}: {}", path_, n, offset, std::strerror(errno));
    AD_CHECK(r > 0, "{}: expected {} bytes at offset {}, read {}: file truncated while loading?", path_, n, offset,
             got);
    got += static_cast<size_t>(r);
  }
}

std::string read_regular_file(const std::string& path) {
  ReadFile f(path);
  std::string s(f.size(), '\0');
  f.read_exact(s.data(), s.size(), 0);
  return s;
}

}  // namespace autodist
