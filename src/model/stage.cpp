#include "model/stage.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "dist/comm_wait.h"

namespace autodist {

Stage::Stage(Backend& be, const ModelConfig& c, const TpShard& tp, const StageRange& range, StageWeights w,
             dist::Communicator* tp_data)
    : be_(be), c_(c), tp_(tp), range_(range), w_(std::move(w)), tp_data_(tp_data), rope_(make_rope_table(c)) {
  AD_CHECK(tp.size == 1 || tp_data, "Stage: tensor parallel size {} needs a communicator", tp.size);
}

KVCache Stage::make_cache(int64_t slots, int64_t max_seq) const {
  return KVCache(be_, num_layers(), slots, max_seq, tp_.kv_heads, c_.head_dim);
}

void Stage::prepare(int64_t T, int64_t P, int64_t R) {
  const int64_t D = c_.hidden, hd = c_.head_dim, hq = tp_.q_heads, hk = tp_.kv_heads;
  if (T > cap_) {
    cap_ = T;
    h_ = Buffer(&be_, DType::F32, {T, D});
    qkv_ = Buffer(&be_, DType::F32, {T, (hq + 2 * hk) * hd});
    q_ = Buffer(&be_, DType::F32, {T, hq, hd});
    k_ = Buffer(&be_, DType::F32, {T, hk, hd});
    v_ = Buffer(&be_, DType::F32, {T, hk, hd});
    att_ = Buffer(&be_, DType::F32, {T, hq * hd});
    o_ = Buffer(&be_, DType::F32, {T, D});
    gu_ = Buffer(&be_, DType::F32, {T, (c_.mlp == MlpKind::Gated ? 2 : 1) * tp_.inter});
    act_ = Buffer(&be_, DType::F32, {T, tp_.inter});
  }
  if (P > ctx_cap_ && c_.pos == PosKind::Rope) {
    ctx_cap_ = P;
    cos_sin_ = Buffer(&be_, DType::F32, {P, hd});
    std::vector<float> cs = rope_cos_sin(rope_, P);
    be_.to_device(cos_sin_.t(), cs.data());
  }
  if (range_.has_head && R > out_cap_) {
    out_cap_ = R;
    const int64_t Vl = tp_.vocab_local, G = tp_.size;
    sel_ = Buffer(&be_, DType::F32, {R, D});
    hn_ = Buffer(&be_, DType::F32, {R, D});
    local_ = Buffer(&be_, DType::F32, {R, Vl});
    parts_ = Buffer(&be_, DType::F32, {G * R * Vl});
    full_ = Buffer(&be_, DType::F32, {R * c_.vocab});
    pairs_ = Buffer(&be_, DType::F32, {R, 2});
    all_pairs_ = Buffer(&be_, DType::F32, {G * R * 2});
  }
}

template <typename F>
void Stage::comm(F&& f) {
  dist::CommScope scope("tensor parallel");  // names the wait in a --comm-timeout message
  if (tl_)
    tl_->timed(Counter::TpComm, f);
  else
    f();
}

void Stage::all_reduce(Tensor t) {
  if (tp_.size > 1) comm([&] { tp_data_->all_reduce(t, dist::ReduceOp::Sum); });
}

void Stage::all_gather(const Tensor& send, Tensor recv) {
  comm([&] { tp_data_->all_gather(send, recv); });
}

void Stage::embed(Tensor x, const Tensor& slot_tokens) {
  AD_CHECK(!w_.embed.empty(), "Stage: this stage holds no embedding");
  be_.embed(w_.embed.t(), tp_.vocab_start, slot_tokens, x);
  all_reduce(x);  // each row is non-zero on exactly one tp rank
  if (!w_.positions.empty()) be_.add_positions(x, w_.positions.t(), c_.pos_offset);  // whole on every rank
}

void Stage::norm(const Tensor& x, const Buffer& w, const Buffer& b, Tensor y) {
  const float eps = static_cast<float>(c_.norm_eps);
  if (c_.norm == NormKind::RMSNorm)
    be_.rmsnorm(x, w.t(), eps, y);
  else
    be_.layernorm(x, w.t(), b.empty() ? nullptr : &b.t(), eps, y);
}

// Row-parallel output: partial sums all-reduced over tp, then the bias (whole on every rank) added once.
void Stage::reduce_out(Tensor o, const Buffer& bias) {
  all_reduce(o);
  if (!bias.empty()) be_.add_bias(o, bias.t());
}

void Stage::forward(Tensor x, KVCache& cache, int64_t l0, int64_t l1) {
  if (l1 < 0) l1 = static_cast<int64_t>(w_.layers.size());
  const int64_t T = x.dim(0), hd = c_.head_dim, hq = tp_.q_heads, hk = tp_.kv_heads;
  AD_CHECK(T <= cap_, "Stage::forward: {} rows but the stage was prepared for {} (prepare first)", T, cap_);
  Tensor h = h_.t().rows(0, T), qkv = qkv_.t().rows(0, T), q = q_.t().rows(0, T), k = k_.t().rows(0, T),
         v = v_.t().rows(0, T), att = att_.t().rows(0, T), o = o_.t().rows(0, T), gu = gu_.t().rows(0, T),
         act = act_.t().rows(0, T);
  const float scale = c_.scale_attn ? static_cast<float>(1.0 / std::sqrt(static_cast<double>(hd))) : 1.0f;
  const float eps = static_cast<float>(c_.norm_eps);
  for (int64_t l = l0; l < l1; ++l) {
    LayerWeights& L = w_.layers[l];
    // attention block: column-parallel qkv, local heads, row-parallel o_proj + all_reduce
    norm(x, L.attn_norm, L.attn_norm_bias, h);
    be_.gemm(h, L.qkv.t(), L.qkv_bias.empty() ? nullptr : &L.qkv_bias.t(), qkv);
    be_.split_qkv(qkv, q, k, v);
    if (!L.q_norm.empty()) {
      be_.rmsnorm(q.reshape({T * hq, hd}), L.q_norm.t(), eps, q.reshape({T * hq, hd}));
      be_.rmsnorm(k.reshape({T * hk, hd}), L.k_norm.t(), eps, k.reshape({T * hk, hd}));
    }
    if (c_.pos == PosKind::Rope) {
      be_.rope(q, cos_sin_.t());
      be_.rope(k, cos_sin_.t());
    }
    be_.kv_append(k, v, cache.k[l].t(), cache.v[l].t());
    be_.attention(q, cache.k[l].t(), cache.v[l].t(), scale, c_.sliding_window, att.reshape({T, hq, hd}));
    be_.gemm(att, L.o.t(), nullptr, o);
    reduce_out(o, L.o_bias);
    be_.add(x, o);
    // MLP block: column-parallel input (gate/up fused, or fc), row-parallel down + all_reduce
    norm(x, L.mlp_norm, L.mlp_norm_bias, h);
    const Tensor* in_bias = L.mlp_in_bias.empty() ? nullptr : &L.mlp_in_bias.t();
    if (c_.mlp == MlpKind::Gated) {
      be_.gemm(h, L.mlp_in.t(), in_bias, gu);
      be_.silu_mul(gu, act);
    } else {
      be_.gemm(h, L.mlp_in.t(), in_bias, act);
      be_.activation(act, c_.act, act);
    }
    be_.gemm(act, L.down.t(), nullptr, o);
    reduce_out(o, L.down_bias);
    be_.add(x, o);
  }
}

Tensor Stage::local_logits(const Tensor& x) {
  AD_CHECK(range_.has_head, "Stage: this stage holds no lm_head");
  const int64_t R = be_.plan().outputs();
  AD_CHECK(R <= out_cap_, "Stage: {} output rows but the head was prepared for {}", R, out_cap_);
  Tensor sel = sel_.t().rows(0, R), h = hn_.t().rows(0, R), out = local_.t().rows(0, R);
  be_.gather_rows(x, sel);
  norm(sel, w_.final_norm, w_.final_norm_bias, h);
  const Buffer& head = c_.tie_embeddings ? w_.embed : w_.lm_head;
  be_.gemm(h, head.t(), nullptr, out);
  return out;
}

Tensor Stage::logits(const Tensor& x) {
  const int64_t R = be_.plan().outputs(), Vl = tp_.vocab_local, V = c_.vocab, G = tp_.size;
  Tensor local = local_logits(x);
  if (G == 1) return local;  // one rank holds the whole (unpadded) vocabulary
  Tensor parts = Tensor(parts_.t().data, DType::F32, {G, R, Vl}, be_.device());
  all_gather(local.reshape({R * Vl}), parts.reshape({G * R * Vl}));
  Tensor out = Tensor(full_.t().data, DType::F32, {R, V}, be_.device());
  be_.gather_vocab(parts, out);
  return out;
}

void Stage::greedy(const Tensor& x, Tensor tokens, Tensor slot_tokens) {
  const int64_t R = be_.plan().outputs(), G = tp_.size;
  Tensor local = local_logits(x);
  Tensor mine = pairs_.t().rows(0, R);
  be_.argmax(local, tp_.vocab_valid, tp_.vocab_start, mine);
  if (G == 1) return be_.pick(mine, tokens, slot_tokens);
  // (max, index) pairs of every tp rank: 2 floats a row instead of the whole vocabulary.
  Tensor all = Tensor(all_pairs_.t().data, DType::F32, {G, R, 2}, be_.device());
  all_gather(mine.reshape({2 * R}), all.reshape({G * R * 2}));
  be_.pick(all, tokens, slot_tokens);
}

void Stage::sample(const Tensor& x, const Tensor& banned, const SamplingOptions& o, Tensor tokens,
                   Tensor slot_tokens) {
  Tensor l = logits(x);
  be_.sample(l, banned, o, tokens, slot_tokens);
}

}  // namespace autodist
