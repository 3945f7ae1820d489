#include "dist/mpi_types.h"

#include <cstring>
#include <mutex>

#include "core/error.h"

namespace autodist::dist::mpi_types {
namespace {

// Widen to float32, reduce, round back (nearest even). Commutative, so MPI may reorder freely.
template <float (*ToF)(uint16_t), uint16_t (*FromF)(float), ReduceOp Op>
void half_reduce(void* in, void* inout, int* len, MPI_Datatype*) {
  const auto* a = static_cast<const uint16_t*>(in);
  auto* b = static_cast<uint16_t*>(inout);
  for (int i = 0; i < *len; ++i) {
    float x = ToF(a[i]), y = ToF(b[i]), r;
    if constexpr (Op == ReduceOp::Sum) r = x + y;
    else if constexpr (Op == ReduceOp::Max) r = x > y ? x : y;
    else r = x < y ? x : y;
    b[i] = FromF(r);
  }
}

MPI_Op g_half_ops[2][3];  // [bf16, f16][sum, max, min]
std::once_flag g_half_once;

void create_half_ops() {
  MPI_User_function* fns[2][3] = {
      {half_reduce<bf16_to_f32, f32_to_bf16, ReduceOp::Sum>, half_reduce<bf16_to_f32, f32_to_bf16, ReduceOp::Max>,
       half_reduce<bf16_to_f32, f32_to_bf16, ReduceOp::Min>},
      {half_reduce<f16_to_f32, f32_to_f16, ReduceOp::Sum>, half_reduce<f16_to_f32, f32_to_f16, ReduceOp::Max>,
       half_reduce<f16_to_f32, f32_to_f16, ReduceOp::Min>}};
  for (int t = 0; t < 2; ++t)
    for (int o = 0; o < 3; ++o) {
      int rc = MPI_Op_create(fns[t][o], /*commute=*/1, &g_half_ops[t][o]);
      AD_CHECK(rc == MPI_SUCCESS, "MPI_Op_create for the bf16/f16 reductions failed: {}", error_string(rc));
    }
}

}  // namespace

static_assert(sizeof(MPI_Comm) <= sizeof(std::intptr_t), "MPI_Comm must fit the opaque handle");

MPI_Comm as_comm(std::intptr_t h) {
  MPI_Comm c;
  std::memcpy(&c, &h, sizeof c);
  return c;
}
std::intptr_t as_handle(MPI_Comm c) {
  std::intptr_t h = 0;
  std::memcpy(&h, &c, sizeof c);
  return h;
}

std::string error_string(int rc) {
  char buf[MPI_MAX_ERROR_STRING];
  int len = 0;
  if (MPI_Error_string(rc, buf, &len) != MPI_SUCCESS) return fmt::format("MPI error code {}", rc);
  return std::string(buf, len);
}

// bf16/f16 move as opaque 16-bit words; only the user ops below interpret them.
MPI_Datatype mpi_type(DType t) {
  switch (t) {
    case DType::F32: return MPI_FLOAT;
    case DType::I32: return MPI_INT32_T;
    case DType::I64: return MPI_INT64_T;
    case DType::BF16:
    case DType::F16: return MPI_UINT16_T;
  }
  AD_FAIL("mpi communicator: unsupported dtype {}", dtype_name(t));
}

MPI_Op mpi_op(DType t, ReduceOp op) {
  if (t == DType::BF16 || t == DType::F16) {
    std::call_once(g_half_once, create_half_ops);
    return g_half_ops[t == DType::BF16 ? 0 : 1][static_cast<int>(op)];
  }
  switch (op) {
    case ReduceOp::Sum: return MPI_SUM;
    case ReduceOp::Max: return MPI_MAX;
    case ReduceOp::Min: return MPI_MIN;
  }
  return MPI_SUM;
}

}  // namespace autodist::dist::mpi_types
