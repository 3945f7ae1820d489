// defines: mpi_types (the MPI side of the mpi communicators: MPI_Comm <-> opaque handle, dtype -> MPI_Datatype,
//          ReduceOp -> MPI_Op with the bf16/f16 user ops, MPI_Error_string)
//
// bf16/f16 move as opaque 16-bit words; only their user ops interpret them: widen to float32, reduce, round back
// to nearest even (commutative, so MPI may reorder freely). Internal to src/dist (includes mpi.h).
#pragma once
#include <mpi.h>

#include <cstdint>
#include <string>

#include "core/dtype.h"
#include "dist/communicator.h"

namespace autodist::dist::mpi_types {

MPI_Comm as_comm(std::intptr_t h);
std::intptr_t as_handle(MPI_Comm c);
std::string error_string(int rc);
MPI_Datatype mpi_type(DType t);   // throws on a dtype MPI cannot move
MPI_Op mpi_op(DType t, ReduceOp op);

}  // namespace autodist::dist::mpi_types
