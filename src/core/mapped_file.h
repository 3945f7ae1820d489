// defines: MappedFile (a whole regular file mapped read-only, its pages those of the page cache)
//
// The shard cache's tensors are used where they lie in the file instead of copied into fresh memory: on this VM a
// process that reads 1.2 GB into new anonymous memory spends ~80% of the time in the kernel zeroing and faulting
// pages in (0.8 GB/s, against 6-25 GB/s for the page cache itself), so a copy can never load at the disk's speed.
// The mapping is PROT_READ (written tensors would fault, not silently copy) and populated at once (MAP_POPULATE reads
// the file with the kernel's readahead). A file truncated while mapped raises SIGBUS on the next access to a page
// past its new end: the handler names the file and the offset and ends the process (exit status 135), where the
// default action is a bare "Bus error".
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "core/file.h"

namespace autodist {

class MappedFile {
 public:
  // Maps all of f (opened and checked as a regular file); throws naming the file when mmap fails.
  static std::shared_ptr<const MappedFile> map(const ReadFile& f);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const uint8_t* data() const { return static_cast<const uint8_t*>(p_); }
  uint64_t size() const { return size_; }
  const std::string& path() const { return path_; }

 private:
  MappedFile(std::string path, void* p, uint64_t size, int slot) : path_(std::move(path)), p_(p), size_(size), slot_(slot) {}
  std::string path_;
  void* p_;
  uint64_t size_;
  int slot_;  // in the SIGBUS handler's table, -1 when it was full
};

}  // namespace autodist
