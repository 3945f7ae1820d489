// defines: LinFit, GemmCurve, Profile (per-operator costs of a model's layers on one rank, by shape), fit_line,
//          profile_to_json / profile_from_json / read_profile / write_profile
//
// A profile is what `autodist profile` measured: the seconds of every kernel a step of the model issues, on one
// rank of the real backend. GEMMs are kept as curves over M for each (N, K) the layouts use (the tensor-parallel
// shards N/tp, K/tp included); attention and the elementwise kernels as straight lines over their work. Everything a
// prediction asks for is interpolated from these (perf/predict.h), so any batch, chunk size or prompt length works.
#pragma once
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

namespace autodist::perf {

// t = a + b x (seconds), x a kernel's work (elements, flops, calls).
struct LinFit {
  double a = 0, b = 0;
  double at(double x) const { return a + b * x; }
};
// Least squares through (x, t); a is clamped to >= 0 (a kernel never runs in negative time).
LinFit fit_line(const std::vector<std::pair<double, double>>& xt);

// Seconds of y[M,N] = x[M,K] w[N,K]^T at the measured M (ascending).
struct GemmCurve {
  int64_t N = 0, K = 0;
  std::vector<std::pair<int64_t, double>> pts;
  // Piecewise linear in M between the points; below the first, the first point (the floor: the weight read);
  // above the last, linear in M from the last point (compute bound).
  double at(int64_t M) const;
};

// A figure measured at decode size and at prefill size, for a step of `rows` rows: decode's up to 16 rows,
// prefill's from 128, log-interpolated between (16 -> 0, 128 -> 1).
double by_rows(double decode, double prefill, int64_t rows);

struct Profile {
  std::string model, dtype = "f32", backend = "cpu";
  int threads = 1;  // BLAS threads the measurement ran with
  int max_tp = 1;
  std::vector<GemmCurve> gemms;
  // Attention per block of up to 128 query rows and head (the cpu kernel's unit): t = a calls + b work, with
  // calls = blocks x heads and work = rows x keys x head_dim x heads (keys visible to the block's last row).
  LinFit attn_decode, attn_prefill;  // blocks of one row / of several rows
  // Elementwise and small kernels: t = a + b elements per call. Keys: rmsnorm layernorm rope silu_mul add split_qkv
  // kv_append embed gather_rows argmax activation add_bias.
  std::map<std::string, LinFit> ops;
  // Slowdown of k ranks computing at once on k cores (memory bandwidth and shared cache), index k-1: the layer's GEMMs
  // at decode size (M = 1, weights read from memory) and at prefill size (M = 128).
  std::vector<double> contention_decode{1.0}, contention_prefill{1.0};
  // A whole layer run kernel after kernel (each weight from memory, the caches shared between the kernels) against
  // the sum of its kernels timed alone: what composing them costs, at decode size (1 row) and prefill size.
  double compose_decode = 1, compose_prefill = 1;
  double compose(int64_t rows) const;  // <= 16 rows: decode's, >= 128: prefill's, between: log-interpolated
  // The slowdown for `busy` ranks computing at once (fractional: interpolated; beyond the measured: the last).
  double contention(double busy, bool decode) const;
  // Tensor-parallel ranks wait for the slowest of them at each block's all_reduce: the time from a step's start to
  // its end over a rank's own compute, for tp ranks (index tp-1) at decode size (M = 1) and prefill size (M = 128).
  std::vector<double> sync_decode{1.0}, sync_prefill{1.0};
  double sync(int tp, int64_t rows) const;  // rows as compose(); tp beyond the measured: the last; 1 at tp 1

  // A GEMM of any shape: the curve of this (N, K), or the measured curve nearest in N K scaled by the ratio of N K.
  double gemm(int64_t M, int64_t N, int64_t K) const;
  double op(const std::string& name, double elements) const;  // throws naming a kernel the profile lacks
  // One attention call over a segment of `len` query rows at positions [start, start+len), `heads` q heads.
  double attention(int64_t start, int64_t len, int64_t heads, int64_t head_dim) const;
};

nlohmann::json profile_to_json(const Profile& p);
// `what` names the file in messages.
Profile profile_from_json(const nlohmann::json& j, const std::string& what);
Profile read_profile(const std::string& path);
void write_profile(const Profile& p, const std::string& path);

}  // namespace autodist::perf
