#include "dist/mpi_env.h"

#include <mpi.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <thread>

#include "core/error.h"
#include "core/log.h"
#include "dist/comm_wait.h"

namespace autodist::dist {

static std::unique_ptr<MpiEnv> g_env;

bool MpiEnv::initialized() { return g_env != nullptr; }

ThreadLevel parse_thread_level(const std::string& s) {
  for (auto t : {ThreadLevel::Single, ThreadLevel::Funneled, ThreadLevel::Serialized, ThreadLevel::Multiple})
    if (s == thread_level_name(t)) return t;
  AD_FAIL("unknown MPI thread level '{}' (expected single, funneled, serialized or multiple)", s);
}

const char* thread_level_name(ThreadLevel t) {
  switch (t) {
    case ThreadLevel::Single: return "single";
    case ThreadLevel::Funneled: return "funneled";
    case ThreadLevel::Serialized: return "serialized";
    case ThreadLevel::Multiple: return "multiple";
  }
  return "?";
}

MpiEnv& MpiEnv::init(ThreadLevel level) {
  if (!g_env) g_env.reset(new MpiEnv(level));
  return *g_env;
}

namespace {
// MPI_Init_thread with the handshake after it, and MPI_Finalize, block until every rank of the job arrives, and
// cannot be polled: a thread ends this rank if they take longer than --comm-timeout (there is no MPI_Abort before
// MPI_Init or in MPI_Finalize; the launcher ends the rest of the job when a rank exits non-zero).
class BlockingCallWatchdog {
 public:
  explicit BlockingCallWatchdog(const char* what) : what_(what), limit_(comm_timeout()), thread_([this] { watch(); }) {}
  ~BlockingCallWatchdog() {
    {
      std::lock_guard<std::mutex> lk(mu_);
      done_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }

 private:
  void watch() {
    std::unique_lock<std::mutex> lk(mu_);
    if (cv_.wait_for(lk, std::chrono::duration<double>(limit_), [&] { return done_; })) return;
    log::write(log::Level::Error, fmt::format("{} did not complete within {:g} s (--comm-timeout): a rank of the job "
                                              "is missing, stopped or stuck; ending this rank",
                                              what_, limit_));
    std::_Exit(1);
  }
  const char* what_;
  double limit_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
  std::thread thread_;
};
}  // namespace

MpiEnv::MpiEnv(ThreadLevel level) {
  BlockingCallWatchdog watchdog("MPI_Init and the handshake of every rank");
  static constexpr int kMpiLevels[] = {MPI_THREAD_SINGLE, MPI_THREAD_FUNNELED, MPI_THREAD_SERIALIZED,
                                       MPI_THREAD_MULTIPLE};
  // Messages over TCP (between hosts) up to 1 MiB go eagerly, not only up to Open MPI's 64 KiB: past the eager limit a
  // message waits for the receiver's match and reply and then moves inside the sender's MPI calls, which ranks that
  // compute between their collectives leave idle. On 2 namespace hosts at 100 Mb/s a 256-token prefill took 3.6 s at
  // tp 2 (17 all_reduces of 1 MiB: 3.2 s) against 2.0 s eager, SP+PP ring 1.4-1.5 s against 0.93-0.95; comm-bench,
  // whose ranks start each call together, timed both alike. A value the user gives (mpirun --mca, the environment) is
  // kept; Open MPI's parameter files are overridden.
  setenv("OMPI_MCA_btl_tcp_eager_limit", kTcpEagerLimit, 0);
  int provided = 0;
  int rc = MPI_Init_thread(nullptr, nullptr, kMpiLevels[static_cast<int>(level)], &provided);
  AD_CHECK(rc == MPI_SUCCESS, "MPI_Init_thread failed (code {})", rc);
  // Errors come back as codes we check, instead of MPI aborting inside the library.
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
  MPI_Comm_size(MPI_COMM_WORLD, &world_);
  MPI_Comm local;
  MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, rank_, MPI_INFO_NULL, &local);
  MPI_Comm_rank(local, &local_rank_);
  MPI_Comm_size(local, &local_size_);
  MPI_Comm_free(&local);
  char host[256] = {0};
  gethostname(host, sizeof(host) - 1);
  hostname_ = host;
  log::set_rank(rank_, world_);
  // Open MPI asked to yield (lib.sh sets it on oversubscribed nodes): our waits yield at once too (comm_wait.h).
  const char* yield_env = std::getenv("OMPI_MCA_mpi_yield_when_idle");
  if (yield_env && std::string(yield_env) != "0") set_wait_yield_at_once(true);
  for (int i = 0; i < 4; ++i)
    if (provided >= kMpiLevels[i]) provided_ = static_cast<ThreadLevel>(i);
  if (provided_ < level)
    log::warn("MPI provides thread level {}, less than the {} asked for", thread_level_name(provided_),
              thread_level_name(level));
}

MpiEnv::~MpiEnv() {
  int fin = 0;
  MPI_Finalized(&fin);
  if (fin) return;
  BlockingCallWatchdog watchdog("MPI_Finalize (it waits for every rank)");
  MPI_Finalize();
}

void abort_world(int code) {
  int init = 0, fin = 0;
  MPI_Initialized(&init);
  MPI_Finalized(&fin);
  if (init && !fin) {
    int size = 1;
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    if (size > 1) MPI_Abort(MPI_COMM_WORLD, code);
  }
  std::_Exit(code);
}

}  // namespace autodist::dist
