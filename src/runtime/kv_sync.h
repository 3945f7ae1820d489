// defines: KvSync (the SP+PP KV-cache sync on its own thread: every stage's block of KV to every rank)
//
// Strategies over the N pipeline ranks (B = one stage's KV bytes for the prompt):
//   pairwise  every rank sends its block to every other rank at once: N(N-1) messages, each rank sends (N-1) B and
//             receives the rest; the receives are posted before the prefill starts.
//   ring      N-1 rounds; in round r rank s passes block (s - r) mod N to s+1: each link carries one block per
//             round, (N-1) B per rank in total, fewer simultaneous transfers.
// The thread starts sending as soon as ready() says this rank's layers hold the whole prompt, overlapping the
// prefill of later stages. Errors on the thread reach the caller from finish(); abort() stops the thread without
// waiting for peers (their transfers are abandoned), so a failed rank never hangs here.
#pragma once
#include <atomic>
#include <condition_variable>
#include <exception>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "backend/timeline.h"
#include "dist/communicator.h"
#include "model/kv_cache.h"
#include "model/weights.h"
#include "runtime/layout.h"

namespace autodist {

class KvSync {
 public:
  // comm: the pp group on a communicator of its own (the thread must not share one with the main thread); cache
  // holds every layer; parts: every stage's layers.
  KvSync(KvSyncKind kind, std::unique_ptr<dist::Communicator> comm, KVCache& cache, std::vector<StageRange> parts,
         Timeline& tl);
  ~KvSync();
  KvSync(const KvSync&) = delete;
  KvSync& operator=(const KvSync&) = delete;

  // Starts the thread for positions [0, L) of slot: pairwise posts its receives now, then both wait for ready().
  void start(int32_t slot, int64_t L);
  // This rank's layers hold the prompt's KV: the thread may send.
  void ready();
  // Waits for the sync to complete; rethrows the thread's error.
  void finish();
  // Stops the thread without waiting for its peers (outstanding transfers abandoned) and joins it. Never throws.
  void abort() noexcept;

 private:
  struct Aborted {};
  void run(int32_t slot, int64_t L);
  Tensor block(int64_t layer, int kv, int32_t slot, int64_t L) const;
  void post(int q, int peer, bool send, int32_t slot, int64_t L);  // every layer of stage q's block
  void wait_range(size_t first, size_t end);  // requests [first, end) complete; throws Aborted on abort()
  int64_t block_bytes(int q, int64_t L) const;

  KvSyncKind kind_;
  std::unique_ptr<dist::Communicator> comm_;
  KVCache& cache_;
  std::vector<StageRange> parts_;
  Timeline& tl_;
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool own_ready_ = false;
  std::atomic<bool> abort_{false};
  std::exception_ptr error_;
  std::vector<std::unique_ptr<dist::CommRequest>> reqs_;  // the thread's, in posting order
  struct Posted {
    int peer;
    bool send;
    int64_t layer;
    int kv;
  };
  std::vector<Posted> posted_;  // what each of reqs_ is, for a --comm-timeout message
};

}  // namespace autodist
