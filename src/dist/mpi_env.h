// defines: MpiEnv (MPI init/finalize, world rank and size, local rank), abort_world
#pragma once
#include <string>

namespace autodist::dist {

// MPI thread support levels (MPI_THREAD_SINGLE ... MPI_THREAD_MULTIPLE).
enum class ThreadLevel { Single, Funneled, Serialized, Multiple };
ThreadLevel parse_thread_level(const std::string& s);  // single|funneled|serialized|multiple
const char* thread_level_name(ThreadLevel t);

// Open MPI's TCP eager limit that MpiEnv sets unless the environment gives one (mpi_env.cpp says why).
inline constexpr const char* kTcpEagerLimit = "1048576";

class MpiEnv {
 public:
  // Initialise MPI once, asking for `level` (the engine needs MULTIPLE: the KV sync has its own
  // thread; comm-bench asks for SINGLE by default, as IMB does, since Open MPI's MULTIPLE locks
  // every call); later calls return the same object whatever they ask for.
  // Works without mpirun (a singleton world of one rank).
  static MpiEnv& init(ThreadLevel level = ThreadLevel::Multiple);
  static bool initialized();
  int rank() const { return rank_; }
  int world() const { return world_; }
  int local_rank() const { return local_rank_; }
  int local_size() const { return local_size_; }
  const std::string& hostname() const { return hostname_; }
  ThreadLevel thread_level() const { return provided_; }  // what MPI provides
  ~MpiEnv();

 private:
  explicit MpiEnv(ThreadLevel level);
  ThreadLevel provided_ = ThreadLevel::Single;
  int rank_ = 0, world_ = 1, local_rank_ = 0, local_size_ = 1;
  std::string hostname_;
};

// Called on a fatal error: with more than one rank, MPI_Abort so no peer hangs in a collective.
[[noreturn]] void abort_world(int code);

}  // namespace autodist::dist
