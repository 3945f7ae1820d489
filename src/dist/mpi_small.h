// defines: small:: (the mpi communicator's collectives on point-to-point messages: all at small sizes; reduce,
//          all_gather and reduce_scatter at every size)
//
// A non-blocking MPI collective (MPI_Iallreduce, MPI_Ibarrier, ...) runs Open MPI's libnbc schedule, built on every
// call and advanced only inside MPI_Test: at 8 bytes it took 1.6-2.5x the blocking call (all_reduce 2.1 us against
// 0.9, barrier 1.1 against 0.5 on the 2-core VM). The blocking calls cannot be bounded by --comm-timeout or back off
// to sleeping, so small messages go here instead: the algorithms of MPI's own small-message paths (dissemination
// barrier, recursive doubling, binomial trees, one round of direct sends) on MPI_Isend/MPI_Irecv completed through
// MpiCommunicator::wait_all, so every wait keeps the timeout and the backoff. Reductions use MPI_Reduce_local with the
// communicator's MPI_Op (bf16/f16 included), and every rank of an all_reduce gets the same bits (each pair combines
// the same two values; the ops are commutative). Above kSmallMessageBytes libnbc is slow too for four of them, which
// run here at every size: reduce (a binomial tree in segments), all_gather and reduce_scatter (rings of n-1 steps,
// reduce_scatter's in segments) and all_reduce (the two rings one after the other), as MPI's large-message paths do.
// The messages use tag kTag, which no other message may use. Only mpi_communicator.cpp includes this header (it needs
// mpi.h). Buffers alias as communicator.h describes; the caller has checked counts and dtypes, and a count fits an int
// (the caller chunks reduce's larger ones). The other collectives get at most kMaxBytes.
#pragma once
#include <mpi.h>

#include <vector>

#include "dist/mpi_communicator.h"

namespace autodist::dist::small {

constexpr int64_t kMaxBytes = kSmallMessageBytes;
constexpr int kTag = 0x7a21;
// reduce and reduce_scatter_ring send in segments of this size (at most kMaxSegments of them, so larger ones for
// messages above 16 MiB): a rank adds up a segment just after it arrived, while its peers send the next. 2 ranks,
// reduce 16 MiB: 7.8 ms instead of 11.5 unsegmented; 256 KiB segments were slower at 1 MiB, 512 KiB-2 MiB alike.
constexpr size_t kSegmentBytes = size_t(512) << 10;
constexpr int kMaxSegments = 32;

struct Ctx {
  const MpiCommunicator& c;
  MPI_Comm comm;
  int rank, size;
  std::vector<char>& scratch;  // grows only: no allocation once warm
};

void barrier(const Ctx& x);
// In place when send == recv.
void all_reduce(const Ctx& x, const void* send, void* recv, int count, MPI_Datatype t, MPI_Op op);
void broadcast(const Ctx& x, void* buf, int count, MPI_Datatype t, int root);
// recv only on the root; in place when send == recv there.
void reduce(const Ctx& x, const void* send, void* recv, int count, MPI_Datatype t, MPI_Op op, int root);
// count: elements per rank. recv (gather) / send (scatter) only on the root, [size, count].
void gather(const Ctx& x, const void* send, void* recv, int count, MPI_Datatype t, int root);
void scatter(const Ctx& x, const void* send, void* recv, int count, MPI_Datatype t, int root);
// In place when send is this rank's block of recv.
void all_gather(const Ctx& x, const void* send, void* recv, int count, MPI_Datatype t);
// send [size, count] -> recv [count]: block r reduced over ranks, on rank r. In place when recv is send's block rank.
void reduce_scatter(const Ctx& x, const void* send, void* recv, int count, MPI_Datatype t, MPI_Op op);
// The same two at any size (used above kSmallMessageBytes), as rings.
void all_gather_ring(const Ctx& x, const void* send, void* recv, int count, MPI_Datatype t);
void reduce_scatter_ring(const Ctx& x, const void* send, void* recv, int count, MPI_Datatype t, MPI_Op op);
// all_reduce as reduce_scatter_ring + all_gather_ring (above kSmallMessageBytes). In place when send == recv.
void all_reduce_ring(const Ctx& x, const void* send, void* recv, int count, MPI_Datatype t, MPI_Op op);

}  // namespace autodist::dist::small
