#include "model/stage.h"

#include <cmath>

#include "core/clock.h"
#include "core/error.h"
#include "model/rope.h"

namespace autodist {

Stage::Stage(Backend& be, const ModelConfig& c, const TpShard& tp, const StageRange& range, StageWeights w,
             dist::Communicator* tp_comm)
    : be_(be), c_(c), tp_(tp), range_(range), w_(std::move(w)), tp_comm_(tp_comm), rope_(make_rope_table(c)) {
  AD_CHECK(tp.size == 1 || tp_comm, "Stage: tensor parallel size {} needs a communicator", tp.size);
}

KVCache Stage::make_cache(int64_t slots, int64_t max_seq) const {
  return KVCache(be_, num_layers(), slots, max_seq, tp_.kv_heads, c_.head_dim);
}

void Stage::reserve(int64_t T) {
  if (T <= cap_) return;
  const int64_t D = c_.hidden, hd = c_.head_dim, hq = tp_.q_heads, hk = tp_.kv_heads;
  cap_ = T;
  h_ = Buffer(&be_, DType::F32, {T, D});
  qkv_ = Buffer(&be_, DType::F32, {T, (hq + 2 * hk) * hd});
  q_ = Buffer(&be_, DType::F32, {T, hq, hd});
  k_ = Buffer(&be_, DType::F32, {T, hk, hd});
  v_ = Buffer(&be_, DType::F32, {T, hk, hd});
  att_ = Buffer(&be_, DType::F32, {T, hq * hd});
  o_ = Buffer(&be_, DType::F32, {T, D});
  gu_ = Buffer(&be_, DType::F32, {T, 2 * tp_.inter});
  act_ = Buffer(&be_, DType::F32, {T, tp_.inter});
}

void Stage::all_reduce(Tensor t) {
  if (tp_.size == 1) return;
  int64_t t0 = now_ns();
  tp_comm_->all_reduce(t, dist::ReduceOp::Sum);
  comm_ns_ += now_ns() - t0;
}

void Stage::embed(const std::vector<int32_t>& ids, Tensor x) {
  AD_CHECK(!w_.embed.empty(), "Stage: this stage holds no embedding");
  for (int32_t id : ids)
    AD_CHECK(id >= 0 && id < c_.vocab, "token id {} is out of range: the vocabulary has {} tokens", id, c_.vocab);
  be_.embed(w_.embed.t(), ids.data(), tp_.vocab_start, x);
  all_reduce(x);  // each row is non-zero on exactly one tp rank
}

void Stage::forward(Tensor x, const std::vector<AttnSegment>& segs, KVCache& cache, int64_t l0, int64_t l1) {
  if (l1 < 0) l1 = static_cast<int64_t>(w_.layers.size());
  const int64_t T = x.dim(0), hd = c_.head_dim, hq = tp_.q_heads, hk = tp_.kv_heads;
  reserve(T);
  std::vector<int32_t> pos(static_cast<size_t>(T));
  for (auto& s : segs)
    for (int32_t i = 0; i < s.len; ++i) pos[s.row + i] = s.start_pos + i;
  Tensor h = h_.t().rows(0, T), qkv = qkv_.t().rows(0, T), q = q_.t().rows(0, T), k = k_.t().rows(0, T),
         v = v_.t().rows(0, T), att = att_.t().rows(0, T), o = o_.t().rows(0, T), gu = gu_.t().rows(0, T),
         act = act_.t().rows(0, T);
  const float scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(hd)));
  for (int64_t l = l0; l < l1; ++l) {
    LayerWeights& L = w_.layers[l];
    // attention block: column-parallel qkv, local heads, row-parallel o_proj + all_reduce
    be_.rmsnorm(x, L.attn_norm.t(), static_cast<float>(c_.norm_eps), h);
    be_.gemm(h, L.qkv.t(), L.qkv_bias.empty() ? nullptr : &L.qkv_bias.t(), qkv);
    be_.split_qkv(qkv, q, k, v);
    if (!L.q_norm.empty()) {
      be_.rmsnorm(q.reshape({T * hq, hd}), L.q_norm.t(), static_cast<float>(c_.norm_eps), q.reshape({T * hq, hd}));
      be_.rmsnorm(k.reshape({T * hk, hd}), L.k_norm.t(), static_cast<float>(c_.norm_eps), k.reshape({T * hk, hd}));
    }
    be_.rope(q, pos.data(), rope_);
    be_.rope(k, pos.data(), rope_);
    be_.kv_append(k, v, cache.k[l].t(), cache.v[l].t(), segs);
    be_.attention(q, cache.k[l].t(), cache.v[l].t(), segs, scale, c_.sliding_window, att.reshape({T, hq, hd}));
    be_.gemm(att, L.o.t(), L.o_bias.empty() ? nullptr : &L.o_bias.t(), o);
    all_reduce(o);
    be_.add(x, o);
    // MLP block: column-parallel gate/up, row-parallel down + all_reduce
    be_.rmsnorm(x, L.mlp_norm.t(), static_cast<float>(c_.norm_eps), h);
    be_.gemm(h, L.gate_up.t(), nullptr, gu);
    be_.silu_mul(gu, act);
    be_.gemm(act, L.down.t(), nullptr, o);
    all_reduce(o);
    be_.add(x, o);
  }
}

Tensor Stage::local_logits(const Tensor& x) {
  AD_CHECK(range_.has_head, "Stage: this stage holds no lm_head");
  const int64_t R = x.dim(0), D = c_.hidden;
  reserve(R);
  if (logits_.empty() || logits_.t().dim(0) < R) logits_ = Buffer(&be_, DType::F32, {R, tp_.vocab_local});
  Tensor h = h_.t().rows(0, R), out = logits_.t().rows(0, R);
  be_.rmsnorm(x, w_.final_norm.t(), static_cast<float>(c_.norm_eps), h.reshape({R, D}));
  const Buffer& head = c_.tie_embeddings ? w_.embed : w_.lm_head;
  be_.gemm(h, head.t(), nullptr, out);
  return out;
}

std::vector<float> Stage::logits(const Tensor& x) {
  const int64_t R = x.dim(0), Vl = tp_.vocab_local, V = c_.vocab;
  Tensor local = local_logits(x);
  std::vector<float> host(static_cast<size_t>(R * V));
  if (tp_.size == 1) {
    be_.to_host(host.data(), local);
    return host;
  }
  // all_gather [tp, R, V_l] then interleave into [R, V], dropping the padded columns.
  std::vector<float> mine(static_cast<size_t>(R * Vl)), all(static_cast<size_t>(R * Vl * tp_.size));
  be_.to_host(mine.data(), local);
  int64_t t0 = now_ns();
  tp_comm_->all_gather(Tensor(mine.data(), DType::F32, {R * Vl}), Tensor(all.data(), DType::F32, {R * Vl * tp_.size}));
  comm_ns_ += now_ns() - t0;
  for (int r = 0; r < tp_.size; ++r)
    for (int64_t i = 0; i < R; ++i)
      for (int64_t j = 0; j < Vl && r * Vl + j < V; ++j) host[i * V + r * Vl + j] = all[(r * R + i) * Vl + j];
  return host;
}

std::vector<int32_t> Stage::greedy(const Tensor& x) {
  const int64_t R = x.dim(0);
  Tensor local = local_logits(x);
  std::vector<float> mx(static_cast<size_t>(R));
  std::vector<int32_t> idx(static_cast<size_t>(R));
  be_.argmax(local, tp_.vocab_valid, mx.data(), idx.data());
  if (tp_.size == 1) return idx;
  // Exchange (max, global index) per row: 2 floats a row instead of the whole vocabulary.
  std::vector<float> mine(static_cast<size_t>(2 * R)), all(static_cast<size_t>(2 * R * tp_.size));
  for (int64_t i = 0; i < R; ++i) {
    mine[2 * i] = tp_.vocab_valid > 0 ? mx[i] : -INFINITY;
    mine[2 * i + 1] = static_cast<float>(idx[i] + tp_.vocab_start);  // exact below 2^24
  }
  int64_t t0 = now_ns();
  tp_comm_->all_gather(Tensor(mine.data(), DType::F32, {2 * R}), Tensor(all.data(), DType::F32, {2 * R * tp_.size}));
  comm_ns_ += now_ns() - t0;
  for (int64_t i = 0; i < R; ++i) {
    float best = -INFINITY;
    int32_t bi = 0;
    for (int r = 0; r < tp_.size; ++r) {
      float m = all[(r * R + i) * 2];
      if (m > best) best = m, bi = static_cast<int32_t>(all[(r * R + i) * 2 + 1]);
    }
    idx[i] = bi;
  }
  return idx;
}

}  // namespace autodist
