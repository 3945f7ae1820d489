#include "model/weights.h"

#include <fmt/format.h>

#include "core/error.h"

namespace autodist {
namespace {

// Reads tensor slices (converted to f32 on the host) and uploads them into backend buffers,
// checking each against the shape the config implies.
class Loader {
 public:
  Loader(Backend& be, const io::Checkpoint& ck) : be_(be), ck_(ck) {}

  void expect_shape(const std::string& name, std::vector<int64_t> want) {
    auto& info = ck_.info(name);
    AD_CHECK(info.shape == want, "weight '{}' in '{}' has shape {}, but the config implies [{}]", name, ck_.dir(),
             info.shape_str(), fmt::join(want, ", "));
  }

  // Concatenates row slices of several tensors into one [rows, cols] buffer.
  Buffer rows(const std::vector<std::tuple<std::string, io::Slice>>& parts, int64_t cols, size_t& bytes) {
    int64_t total = 0;
    for (auto& [n, s] : parts) total += ck_.slice_shape(n, s)[0];
    std::vector<float> host(static_cast<size_t>(total * cols));
    int64_t r = 0;
    for (auto& [n, s] : parts) {
      auto sh = ck_.slice_shape(n, s);
      ck_.read_f32(n, s, host.data() + r * cols);
      r += sh[0];
    }
    return upload(host, cols == 1 ? Shape{total} : Shape{total, cols}, bytes);
  }

  Buffer whole(const std::string& name, size_t& bytes, io::Slice s = io::Slice::all()) {
    auto sh = ck_.slice_shape(name, s);
    int64_t n = 1;
    for (auto d : sh) n *= d;
    std::vector<float> host(static_cast<size_t>(n));
    ck_.read_f32(name, s, host.data());
    Shape shape;
    for (auto d : sh) shape.d[shape.ndim++] = d;
    return upload(host, shape, bytes);
  }

  // Vocab-parallel rows [start, start+valid) of a [V, D] table, zero-padded to `local` rows.
  Buffer vocab_rows(const std::string& name, const TpShard& tp, int64_t D, size_t& bytes) {
    std::vector<float> host(static_cast<size_t>(tp.vocab_local * D), 0.0f);
    if (tp.vocab_valid > 0) ck_.read_f32(name, io::Slice::rows(tp.vocab_start, tp.vocab_valid), host.data());
    return upload(host, Shape{tp.vocab_local, D}, bytes);
  }

  Buffer upload(const std::vector<float>& host, Shape shape, size_t& bytes) {
    Buffer b(&be_, DType::F32, shape);
    be_.to_device(b.t(), host.data());
    bytes += b.t().nbytes();
    return b;
  }

 private:
  Backend& be_;
  const io::Checkpoint& ck_;
};

}  // namespace

StageWeights load_stage_weights(Backend& be, const io::Checkpoint& ck, const ModelConfig& c, const TpShard& tp,
                                const StageRange& range) {
  Loader L(be, ck);
  StageWeights w;
  const int64_t D = c.hidden, hd = c.head_dim, V = c.vocab;
  const bool need_embed = range.has_embed || (range.has_head && c.tie_embeddings);
  if (need_embed) {
    L.expect_shape("model.embed_tokens.weight", {V, D});
    w.embed = L.vocab_rows("model.embed_tokens.weight", tp, D, w.bytes);
  }
  for (int64_t l = range.first; l < range.last; ++l) {
    std::string p = fmt::format("model.layers.{}.", l);
    LayerWeights lw;
    L.expect_shape(p + "input_layernorm.weight", {D});
    lw.attn_norm = L.whole(p + "input_layernorm.weight", w.bytes);
    L.expect_shape(p + "self_attn.q_proj.weight", {c.q_dim(), D});
    L.expect_shape(p + "self_attn.k_proj.weight", {c.kv_dim(), D});
    L.expect_shape(p + "self_attn.v_proj.weight", {c.kv_dim(), D});
    L.expect_shape(p + "self_attn.o_proj.weight", {D, c.q_dim()});
    auto qs = io::Slice::rows(tp.q_head_start * hd, tp.q_heads * hd);
    auto ks = io::Slice::rows(tp.kv_head_start * hd, tp.kv_heads * hd);
    lw.qkv = L.rows({{p + "self_attn.q_proj.weight", qs}, {p + "self_attn.k_proj.weight", ks},
                     {p + "self_attn.v_proj.weight", ks}},
                    D, w.bytes);
    if (c.qkv_bias) {
      L.expect_shape(p + "self_attn.q_proj.bias", {c.q_dim()});
      lw.qkv_bias = L.rows({{p + "self_attn.q_proj.bias", qs}, {p + "self_attn.k_proj.bias", ks},
                            {p + "self_attn.v_proj.bias", ks}},
                           1, w.bytes);
    }
    if (c.qk_norm) {
      L.expect_shape(p + "self_attn.q_norm.weight", {hd});
      L.expect_shape(p + "self_attn.k_norm.weight", {hd});
      lw.q_norm = L.whole(p + "self_attn.q_norm.weight", w.bytes);
      lw.k_norm = L.whole(p + "self_attn.k_norm.weight", w.bytes);
    }
    lw.o = L.whole(p + "self_attn.o_proj.weight", w.bytes, io::Slice::cols(tp.q_head_start * hd, tp.q_heads * hd));
    if (c.o_bias && tp.rank == 0) lw.o_bias = L.whole(p + "self_attn.o_proj.bias", w.bytes);
    L.expect_shape(p + "post_attention_layernorm.weight", {D});
    lw.mlp_norm = L.whole(p + "post_attention_layernorm.weight", w.bytes);
    L.expect_shape(p + "mlp.gate_proj.weight", {c.intermediate, D});
    L.expect_shape(p + "mlp.up_proj.weight", {c.intermediate, D});
    L.expect_shape(p + "mlp.down_proj.weight", {D, c.intermediate});
    auto is = io::Slice::rows(tp.inter_start, tp.inter);
    lw.gate_up = L.rows({{p + "mlp.gate_proj.weight", is}, {p + "mlp.up_proj.weight", is}}, D, w.bytes);
    lw.down = L.whole(p + "mlp.down_proj.weight", w.bytes, io::Slice::cols(tp.inter_start, tp.inter));
    w.layers.push_back(std::move(lw));
  }
  if (range.has_head) {
    L.expect_shape("model.norm.weight", {D});
    w.final_norm = L.whole("model.norm.weight", w.bytes);
    if (!c.tie_embeddings) {
      L.expect_shape("lm_head.weight", {V, D});
      w.lm_head = L.vocab_rows("lm_head.weight", tp, D, w.bytes);
    }
  }
  return w;
}

}  // namespace autodist
