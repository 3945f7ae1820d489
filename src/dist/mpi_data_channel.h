// defines: make_mpi_data_channel (the mpi data channel: a group's communicator for activations and collectives on
//          device tensors, as a step issues them)
//
// Everything but all_reduce is the wrapped MPI communicator's. all_reduce of f32 is a ring reduce-scatter over
// point-to-point messages into a scratch buffer that only grows, then a ring all-gather of the reduced chunks: no
// allocation per call (Open MPI's MPI_Allreduce allocates a temporary buffer every call, once per all_reduce of every
// layer of every step), and every rank gets the same bits (each chunk is summed once, in ring order, then copied).
// Other dtypes, and messages of at most kSmallMessageBytes, go to the mpi communicator (whose small messages, and
// all_gather at every size, take point-to-point paths that allocate nothing once warm either). Device buffers:
// refused like the wrapped communicator until it stages them.
#pragma once
#include <memory>

#include "dist/communicator.h"

namespace autodist::dist {

// Takes over `mpi` (a communicator of the mpi backend).
std::unique_ptr<Communicator> make_mpi_data_channel(std::unique_ptr<Communicator> mpi);

}  // namespace autodist::dist
