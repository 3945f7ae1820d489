// defines: temp_path (the temporary name of every write-then-rename: shard cache, trace.h5, chrome
//          traces), TempFileInfo, temp_files_in, sweep_stale_temp_files, FileLock (bounded flock),
//          output_lock_path, append_to_file (one checked O_APPEND write under the lock)
//
// A temporary is `DIR/.tmp.<host>.<pid>.<8 hex>.<name>` for `DIR/<name>`: its writer (host and pid)
// is in the name, so a later writer to DIR can tell a killed writer's leftover from a live one's.
// Names of older versions (`<name>.tmp.<pid>` and `<name>.tmp.<pid>.<8 hex>`, for trace.h5, trace.*.json,
// rank*.safetensors, rank*.json and layout.json) are recognised too.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace autodist::io {

// A fresh temporary name in path's directory for a file that will be renamed to `path`.
std::string temp_path(const std::string& path);

struct TempFileInfo {
  std::string path;  // the temporary itself
  std::string target;  // the file it was going to become (its name only)
  std::string host;  // the writer's host ("" for old-style names: this host)
  int64_t pid = 0;  // the writer's pid
  size_t size = 0;
  double age_s = 0;  // since it was last modified
  bool stale = false;  // its writer is gone: it is never renamed and can be removed
};

// A temporary is stale when its writer ran on this host and is no longer alive, or when nobody has
// modified it for this long (a writer on another host, or a reused pid): writers write continuously.
constexpr double kStaleTempAgeS = 3600;

// The temporaries directly in `dir` (not below it); none when dir does not exist.
std::vector<TempFileInfo> temp_files_in(const std::string& dir);

// Removes the stale temporaries directly in `dir` and returns how many it removed (with a log line
// naming each). trace.h5 appends call it on their directory, a shard cache on its entry when opened.
int sweep_stale_temp_files(const std::string& dir);

// An exclusive flock on `lock_path` (created if absent), held until destruction. The holder writes
// "pid <pid> on <host> since <time>" into the file; a waiter gives up after lock_timeout_s() with an
// Error naming `what`, the lock file and that holder. Processes only: threads of one process share it.
class FileLock {
 public:
  FileLock(const std::string& lock_path, const std::string& what);
  ~FileLock();
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;

 private:
  int fd_ = -1;
};

// Seconds a FileLock waits: $AUTODIST_LOCK_TIMEOUT_S, default 300.
double lock_timeout_s();

// The lock of the output files (trace.h5, results.jsonl) of a directory: `DIR/.autodist.lock`.
std::string output_lock_path(const std::string& dir);

// Appends `text` to `path` (created if absent) with one write() on an O_APPEND descriptor while
// holding output_lock_path(path's directory), then fsyncs and closes; every step is checked, so a
// full disk is an Error naming the path and the reason ("No space left on device").
void append_to_file(const std::string& path, const std::string& text);

}  // namespace autodist::io
