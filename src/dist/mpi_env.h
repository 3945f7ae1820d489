// defines: MpiEnv (MPI init/finalize, world rank and size, local rank), abort_world
#pragma once
#include <string>

namespace autodist::dist {

class MpiEnv {
 public:
  // Initialise MPI once (thread level MULTIPLE); later calls return the same object.
  // Works without mpirun (a singleton world of one rank).
  static MpiEnv& init();
  static bool initialized();
  int rank() const { return rank_; }
  int world() const { return world_; }
  int local_rank() const { return local_rank_; }
  int local_size() const { return local_size_; }
  const std::string& hostname() const { return hostname_; }
  ~MpiEnv();

 private:
  MpiEnv();
  int rank_ = 0, world_ = 1, local_rank_ = 0, local_size_ = 1;
  std::string hostname_;
};

// Called on a fatal error: with more than one rank, MPI_Abort so no peer hangs in a collective.
[[noreturn]] void abort_world(int code);

}  // namespace autodist::dist
