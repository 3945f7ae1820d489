#ifdef AUTODIST_HAVE_NCCL
#include "dist/nccl_lazy.h"

#include <string>

#include "core/dynlib.h"
#include "core/error.h"

#ifndef AUTODIST_NCCL_DIR
#define AUTODIST_NCCL_DIR ""
#endif

namespace autodist::dist {
namespace {

Nccl load() {
  // The directory the build found NCCL in first (not every binary has it on its run path), then the loader's path.
  const std::string dir = AUTODIST_NCCL_DIR;
  const DynLib lib = DynLib::open_first({dir.empty() ? std::string() : dir + "/libnccl.so.2", "libnccl.so.2", "libnccl.so"},
                                        "nccl", "libnccl.so.2 (NCCL 2.14 or newer)",
                                        "add its directory to LD_LIBRARY_PATH, or use --comm mpi");
  Nccl c;
  lib.bind(c.get_version, "ncclGetVersion");
  lib.bind(c.get_unique_id, "ncclGetUniqueId");
  lib.bind(c.init_rank_config, "ncclCommInitRankConfig");
  lib.bind(c.get_async_error, "ncclCommGetAsyncError");
  lib.bind(c.abort, "ncclCommAbort");
  lib.bind(c.destroy, "ncclCommDestroy");
  lib.bind(c.error_string, "ncclGetErrorString");
  lib.bind(c.last_error, "ncclGetLastError");
  lib.bind(c.all_reduce, "ncclAllReduce");
  lib.bind(c.all_gather, "ncclAllGather");
  lib.bind(c.reduce_scatter, "ncclReduceScatter");
  lib.bind(c.broadcast, "ncclBroadcast");
  lib.bind(c.reduce, "ncclReduce");
  lib.bind(c.send, "ncclSend");
  lib.bind(c.recv, "ncclRecv");
  lib.bind(c.group_start, "ncclGroupStart");
  lib.bind(c.group_end, "ncclGroupEnd");
  AD_CHECK(c.get_version(&c.version) == ncclSuccess, "nccl: ncclGetVersion failed");
  return c;
}

}  // namespace

const Nccl& nccl() {
  static const Nccl api = load();  // a throwing load is retried by the next call
  return api;
}

}  // namespace autodist::dist
#endif
