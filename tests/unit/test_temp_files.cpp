// io/temp_files: temporary names, the sweep of killed writers' leftovers, the output lock, checked appends.
#include <doctest/doctest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>

#include "core/error.h"
#include "io/temp_files.h"
#include "test_files.h"

using namespace autodist;
using autodist::test::error_of;
namespace fs = std::filesystem;

namespace {

void fill(const std::string& path, size_t n) { std::ofstream(path) << std::string(n, 'x'); }

// A pid that was alive a moment ago and is not now.
pid_t dead_pid() {
  pid_t p = ::fork();
  if (p == 0) ::_exit(0);
  ::waitpid(p, nullptr, 0);
  return p;
}

std::string host() {
  std::string t = fs::path(io::temp_path("/x/y")).filename().string();  // .tmp.<host>.<pid>.<hex>.y
  return t.substr(5, t.find('.', 5) - 5);
}

}  // namespace

TEST_CASE("temp files: the name carries the writer and only dead writers' files are stale and swept") {
  test::TempDir d("temp_files");
  const std::string t = io::temp_path(d / "trace.h5");
  CHECK(fs::path(t).parent_path() == d.dir);
  CHECK(fs::path(t).filename().string().starts_with(".tmp."));
  CHECK(fs::path(t).filename().string().ends_with(".trace.h5"));
  CHECK(io::temp_path(d / "trace.h5") != t);

  const pid_t dead = dead_pid();
  const std::string h = host();
  const std::string mine = t, gone = d / fmt::format(".tmp.{}.{}.0badf00d.rank0.safetensors", h, dead),
                    old_style = d / fmt::format("rank1.safetensors.tmp.{}.deadbeef", dead),
                    old_trace = d / fmt::format("trace.h5.tmp.{}", dead),
                    other_host = d / fmt::format(".tmp.elsewhere.{}.0badf00d.trace.h5", dead);
  fill(mine, 10);
  fill(gone, 3000);
  fill(old_style, 20);
  fill(old_trace, 30);
  fill(other_host, 40);
  fill(d / "trace.h5", 50);              // not temporaries
  fill(d / "model.safetensors.tmp", 5);  // (synth's own name: not ours)
  fill(d / ".tmp.x.notapid.0badf00d.y", 5);
  fill(d / fmt::format("notes.tmp.{}", dead), 5);  // a user's file with an old-style name

  auto all = io::temp_files_in(d.dir.string());
  REQUIRE(all.size() == 5);
  for (auto& f : all) {
    INFO(f.path);
    if (f.path == mine) {
      CHECK(!f.stale);  // this process: alive
      CHECK(f.pid == ::getpid());
      CHECK(f.target == "trace.h5");
    } else if (f.path == other_host) {
      CHECK(!f.stale);  // another host's pid says nothing here; fresh, so kept
      CHECK(f.host == "elsewhere");
    } else {
      CHECK(f.stale);
      CHECK(f.pid == dead);
    }
    if (f.path == gone) CHECK((f.size == 3000 && f.target == "rank0.safetensors"));
    if (f.path == old_style) CHECK(f.target == "rank1.safetensors");
  }
  CHECK(io::sweep_stale_temp_files(d.dir.string()) == 3);
  CHECK(fs::exists(mine));
  CHECK(fs::exists(other_host));
  CHECK(!fs::exists(gone));
  CHECK(!fs::exists(old_style));
  CHECK(!fs::exists(old_trace));
  CHECK(fs::exists(d / "trace.h5"));
  CHECK(fs::exists(d / "model.safetensors.tmp"));
  CHECK(fs::exists(d / fmt::format("notes.tmp.{}", dead)));

  // Not modified for over an hour: stale whoever wrote it.
  fs::last_write_time(other_host, fs::file_time_type::clock::now() - std::chrono::hours(2));
  CHECK(io::sweep_stale_temp_files(d.dir.string()) == 1);
  CHECK(!fs::exists(other_host));
  CHECK(io::temp_files_in((d.dir / "missing").string()).empty());
}

TEST_CASE("append_to_file: whole lines and a full disk is an error naming the file and ENOSPC") {
  test::TempDir d("temp_files");
  const std::string p = d / "results.jsonl";
  io::append_to_file(p, "{\"a\":1}\n");
  io::append_to_file(p, "{\"b\":2}\n");
  std::ifstream in(p);
  std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  CHECK(all == "{\"a\":1}\n{\"b\":2}\n");
  CHECK(fs::exists(io::output_lock_path(d.dir.string())));

  fs::create_symlink("/dev/full", d / "full.jsonl");
  std::string msg = error_of([&] { io::append_to_file(d / "full.jsonl", "{\"c\":3}\n"); });
  CHECK(msg == fmt::format("cannot write {}: No space left on device", d / "full.jsonl"));
  msg = error_of([&] { io::append_to_file(d / "no/such/dir/x.jsonl", "x\n"); });
  CHECK(msg.find("No such file or directory") != std::string::npos);
}

TEST_CASE("FileLock: another process waits for it and the timeout names the lock and its holder") {
  test::TempDir d("temp_files");
  const std::string lock = io::output_lock_path(d.dir.string());
  int ready[2];
  REQUIRE(::pipe(ready) == 0);
  pid_t child = ::fork();
  if (child == 0) {
    {
      io::FileLock l(lock, "child");
      char c = 1;
      (void)!::write(ready[1], &c, 1);
      ::sleep(5);
    }
    ::_exit(0);
  }
  char c = 0;
  REQUIRE(::read(ready[0], &c, 1) == 1);
  ::setenv("AUTODIST_LOCK_TIMEOUT_S", "0.2", 1);
  std::string msg = error_of([&] { io::FileLock l(lock, "cannot write x"); });
  ::setenv("AUTODIST_LOCK_TIMEOUT_S", "bad", 1);
  std::string bad = error_of([&] { io::lock_timeout_s(); });
  ::unsetenv("AUTODIST_LOCK_TIMEOUT_S");
  ::kill(child, SIGKILL);  // the kernel releases a killed holder's flock
  ::waitpid(child, nullptr, 0);
  CHECK(msg.find("cannot write x: gave up after 0.2 s waiting for the lock " + lock) == 0);
  CHECK(msg.find(fmt::format("held by pid {} on ", child)) != std::string::npos);
  CHECK(bad.find("AUTODIST_LOCK_TIMEOUT_S='bad'") != std::string::npos);
  io::FileLock again(lock, "after the holder died");  // at once
  ::close(ready[0]);
  ::close(ready[1]);
}
