// defines: ReadFile (a regular file opened for positioned reads), read_regular_file
//
// Model, tokenizer and config files are opened through here: a FIFO, directory or device given in their place is
// refused by name instead of blocking open() or read() forever, and a read that comes up short (the file shrank
// while it was read) is an error naming the file, offset and byte counts instead of a SIGBUS through a mapping.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace autodist {

class ReadFile {
 public:
  // Opens `path` read-only without blocking; throws unless it is a regular file.
  explicit ReadFile(const std::string& path);
  ~ReadFile();
  ReadFile(ReadFile&& o) noexcept;
  ReadFile& operator=(ReadFile&& o) noexcept;
  ReadFile(const ReadFile&) = delete;
  ReadFile& operator=(const ReadFile&) = delete;

  const std::string& path() const { return path_; }
  uint64_t size() const { return size_; }  // at open
  int fd() const { return fd_; }
  // Reads exactly n bytes at `offset` into dst (any thread); throws when the file ends first or a read fails.
  void read_exact(void* dst, size_t n, uint64_t offset) const;

 private:
  std::string path_;
  int fd_ = -1;
  uint64_t size_ = 0;
};

// The whole content of a regular file.
std::string read_regular_file(const std::string& path);

}  // namespace autodist
