// defines: NcclJoin (the steps of joining one NCCL communicator, behind an interface so that the protocol is tested
//          on a host without a GPU), join_nccl (the protocol)
//
// join_nccl, over the group's control channel (MPI, host memory):
//  1. Rank 0 makes the unique id and broadcasts it with whether that worked.
//  2. Every rank prepares (selects its device) and the ranks exchange a ready flag: no rank enters the init unless
//     every rank will (a rank failing between the id broadcast and ncclCommInitRank left the others in it for good).
//  3. Every rank starts a non-blocking init and polls it, bounded by timeout_s, while watching for its peers'
//     outcomes: each rank sends its outcome to every peer as soon as it knows it, so one rank's failure aborts the
//     others' pending inits at once instead of at the timeout.
//  4. Every rank learns every outcome: the join succeeds on all ranks or throws on all, naming the ranks whose init
//     failed and why, each rank having aborted its own communicator.
#pragma once
#include <cstddef>
#include <string>

namespace autodist::dist {

class Communicator;

class NcclJoin {
 public:
  static constexpr size_t kIdBytes = 128;  // NCCL_UNIQUE_ID_BYTES
  enum class State { Pending, Ready, Failed };
  virtual ~NcclJoin() = default;
  // Rank 0 only: the unique id (ncclGetUniqueId). Throws autodist::Error on failure.
  virtual void unique_id(char* id) = 0;
  // This rank's preparation before the init (its device). Throws on failure.
  virtual void prepare() = 0;
  // Starts the non-blocking init (ncclCommInitRankConfig with blocking = 0). Throws on failure.
  virtual void start(const char* id, int nranks, int rank) = 0;
  // Where the started init stands (ncclCommGetAsyncError); on Failed, `why` says what failed.
  virtual State poll(std::string& why) = 0;
  // Aborts the communicator, started or not (ncclCommAbort). Must not throw.
  virtual void abort() noexcept = 0;
};

// Collective over `ctrl` (every rank of the group calls it with its own `join`). Returns once every rank's init is
// ready; otherwise throws autodist::Error on every rank. timeout_s bounds the init (step 3).
void join_nccl(Communicator& ctrl, NcclJoin& join, double timeout_s);

}  // namespace autodist::dist
