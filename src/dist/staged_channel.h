// defines: Stager (how device tensors reach host memory and back), make_staged_channel (a data channel that moves
//          device tensors through a host communicator), backend_stager
//
// The mpi data channel on GPUs that cannot use NCCL (two ranks on one GPU, no libnccl): every device tensor a call
// names is copied into pinned host memory (sends, and a collective's input), the wrapped host communicator moves it,
// and what arrived is copied back (receives, a collective's output). Host tensors pass through untouched. The host
// buffers come from a pool that only grows, so a warm step allocates nothing. Collectives run in place on one host
// buffer where the call allows it. Non-blocking receives copy to the device in wait() or in the test() that finds
// them complete. The copies wait (to_host / to_device), so a stream-ordered caller sees the data when the call or
// wait() returns, as with MPI. Not thread-safe: one thread per communicator (the KV sync splits its own).
#pragma once
#include <cstddef>
#include <memory>

#include "dist/communicator.h"

namespace autodist {
class Backend;
}

namespace autodist::dist {

class Stager {
 public:
  virtual ~Stager() = default;
  virtual void* alloc_host(size_t bytes) = 0;  // pinned on a GPU
  virtual void free_host(void* p) = 0;
  virtual void to_host(void* host, const Tensor& dev) = 0;   // waits until the copy is done
  virtual void to_device(Tensor dev, const void* host) = 0;  // waits until the copy is done
};

// Wraps `host` (a communicator of host tensors: the mpi data channel); split() wraps the sub-communicator the same way.
std::unique_ptr<Communicator> make_staged_channel(std::unique_ptr<Communicator> host, std::shared_ptr<Stager> stager);

// The backend's pinned memory and copies; the backend must outlive every channel that uses it.
std::shared_ptr<Stager> backend_stager(Backend& be);

}  // namespace autodist::dist
