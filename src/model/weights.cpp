#include "model/weights.h"

#include <fmt/format.h>

#include <map>
#include <memory>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/log.h"
#include "io/shard_cache.h"

namespace autodist {

size_t ShardTensor::nbytes() const {
  size_t n = dtype_size(dtype);
  for (auto d : shape) n *= static_cast<size_t>(d);
  return n;
}

std::vector<ShardTensor> shard_plan(const ModelConfig& c, const TpShard& tp, const StageRange& range, DType dtype) {
  const int64_t D = c.hidden, hd = c.head_dim, V = c.vocab;
  using Part = ShardTensor::Part;
  std::vector<ShardTensor> plan;
  auto add = [&](std::string name, std::vector<int64_t> shape, DType t, std::vector<Part> parts) {
    plan.push_back({std::move(name), std::move(shape), t, std::move(parts)});
  };
  auto vec = [&](std::string name, const std::string& src, int64_t n) {
    add(std::move(name), {n}, DType::F32, {{src, {n}, io::Slice::all()}});
  };
  auto vocab = [&](std::string name, const std::string& src) {
    std::vector<Part> parts;
    if (tp.vocab_valid > 0) parts.push_back({src, {V, D}, io::Slice::rows(tp.vocab_start, tp.vocab_valid)});
    add(std::move(name), {tp.vocab_local, D}, dtype, std::move(parts));
  };
  if (range.has_embed || (range.has_head && c.tie_embeddings)) vocab("embed", "model.embed_tokens.weight");
  const int64_t q_rows = tp.q_heads * hd, kv_rows = tp.kv_heads * hd;
  auto qs = io::Slice::rows(tp.q_head_start * hd, q_rows);
  auto ks = io::Slice::rows(tp.kv_head_start * hd, kv_rows);
  auto is = io::Slice::rows(tp.inter_start, tp.inter);
  for (int64_t l = range.first; l < range.last; ++l) {
    const std::string p = fmt::format("model.layers.{}.", l), n = fmt::format("layers.{}.", l);
    vec(n + "attn_norm", p + "input_layernorm.weight", D);
    add(n + "qkv", {q_rows + 2 * kv_rows, D}, dtype,
        {{p + "self_attn.q_proj.weight", {c.q_dim(), D}, qs},
         {p + "self_attn.k_proj.weight", {c.kv_dim(), D}, ks},
         {p + "self_attn.v_proj.weight", {c.kv_dim(), D}, ks}});
    if (c.qkv_bias)
      add(n + "qkv_bias", {q_rows + 2 * kv_rows}, DType::F32,
          {{p + "self_attn.q_proj.bias", {c.q_dim()}, qs},
           {p + "self_attn.k_proj.bias", {c.kv_dim()}, ks},
           {p + "self_attn.v_proj.bias", {c.kv_dim()}, ks}});
    if (c.qk_norm) {
      vec(n + "q_norm", p + "self_attn.q_norm.weight", hd);
      vec(n + "k_norm", p + "self_attn.k_norm.weight", hd);
    }
    add(n + "o", {D, q_rows}, dtype,
        {{p + "self_attn.o_proj.weight", {D, c.q_dim()}, io::Slice::cols(tp.q_head_start * hd, q_rows)}});
    if (c.o_bias && tp.rank == 0) vec(n + "o_bias", p + "self_attn.o_proj.bias", D);
    vec(n + "mlp_norm", p + "post_attention_layernorm.weight", D);
    add(n + "gate_up", {2 * tp.inter, D}, dtype,
        {{p + "mlp.gate_proj.weight", {c.intermediate, D}, is}, {p + "mlp.up_proj.weight", {c.intermediate, D}, is}});
    add(n + "down", {D, tp.inter}, dtype,
        {{p + "mlp.down_proj.weight", {D, c.intermediate}, io::Slice::cols(tp.inter_start, tp.inter)}});
  }
  if (range.has_head) {
    vec("final_norm", "model.norm.weight", D);
    if (!c.tie_embeddings) vocab("lm_head", "lm_head.weight");
  }
  return plan;
}

namespace {

// Builds a shard tensor from checkpoint slices into `dst` (t.nbytes() bytes), checking every source's
// shape against the config; `f32` is scratch.
void fill_from_checkpoint(const io::Checkpoint& ck, const ShardTensor& t, void* dst, std::vector<float>& f32) {
  const int64_t cols = t.shape.size() == 2 ? t.shape[1] : 1;
  int64_t numel = 1;
  for (auto d : t.shape) numel *= d;
  f32.assign(static_cast<size_t>(numel), 0.0f);
  int64_t row = 0;
  for (auto& part : t.parts) {
    auto& info = ck.info(part.src);
    AD_CHECK(info.shape == part.src_shape, "weight '{}' in '{}' has shape {}, but the config implies [{}]", part.src,
             ck.dir(), info.shape_str(), fmt::join(part.src_shape, ", "));
    auto sh = ck.slice_shape(part.src, part.slice);
    ck.read_f32(part.src, part.slice, f32.data() + row * cols);
    row += sh[0];  // rows of a matrix, elements of a vector (cols == 1)
  }
  convert_from_f32(f32.data(), t.dtype, dst, static_cast<size_t>(numel));
}

StageWeights assemble(std::map<std::string, Buffer>& bufs, const StageRange& range) {
  auto take = [&](const std::string& n) {
    auto it = bufs.find(n);
    if (it == bufs.end()) return Buffer();
    return std::move(it->second);
  };
  StageWeights w;
  for (auto& [n, b] : bufs) w.bytes += b.t().nbytes();
  w.embed = take("embed");
  for (int64_t l = range.first; l < range.last; ++l) {
    std::string p = fmt::format("layers.{}.", l);
    LayerWeights lw;
    lw.attn_norm = take(p + "attn_norm");
    lw.qkv = take(p + "qkv");
    lw.qkv_bias = take(p + "qkv_bias");
    lw.q_norm = take(p + "q_norm");
    lw.k_norm = take(p + "k_norm");
    lw.o = take(p + "o");
    lw.o_bias = take(p + "o_bias");
    lw.mlp_norm = take(p + "mlp_norm");
    lw.gate_up = take(p + "gate_up");
    lw.down = take(p + "down");
    w.layers.push_back(std::move(lw));
  }
  w.final_norm = take("final_norm");
  w.lm_head = take("lm_head");
  return w;
}

Shape to_shape(const std::vector<int64_t>& v) {
  Shape s;
  for (auto d : v) s.d[s.ndim++] = d;
  return s;
}

}  // namespace

StageWeights load_stage_weights(Backend& be, const WeightSource& src, const ModelConfig& c, const TpShard& tp,
                                const StageRange& range, LoadReport* report) {
  const auto plan = shard_plan(c, tp, range, src.dtype);
  std::map<std::string, Buffer> bufs;
  LoadReport rep;

  // What a cached file must have been written for, beyond its layout directory.
  nlohmann::json expect = {{"format", "autodist-shard-cache"}, {"rank", src.rank},
                           {"layers", {range.first, range.last}},
                           {"embed", range.has_embed},
                           {"head", range.has_head},
                           {"tp_rank", tp.rank},
                           {"dtype", dtype_name(src.dtype)}};
  std::unique_ptr<io::ShardCache> cache;
  if (!src.cache_dir.empty()) {
    try {
      cache = std::make_unique<io::ShardCache>(src.cache_dir, io::model_fingerprint(src.model_dir), src.layout);
    } catch (const std::exception& e) {
      log::warn("shard cache disabled: {}", e.what());
    }
  }
  if (cache) {
    std::string why;
    std::string want_sum;
    if (auto f = cache->open(src.rank, expect, why, false, &want_sum)) {
      bool ok = f->tensors().size() == plan.size();
      for (auto& t : plan) {
        auto* info = f->find(t.name);
        if (!info || info->dtype != t.dtype || info->shape != t.shape) {
          ok = false;
          break;
        }
      }
      if (ok) {
        // One pass: hash each tensor's bytes (file order = plan order) as they are copied, then drop
        // them from this mapping so a file larger than free memory does not evict what comes next.
        io::Checksum sum;
        sum.update(f->bytes(), static_cast<size_t>(f->data(*f->find(plan[0].name)) - f->bytes()));
        for (auto& t : plan) {
          auto* info = f->find(t.name);
          Buffer b(&be, t.dtype, to_shape(t.shape));
          sum.update(f->data(*info), info->nbytes);
          be.to_device(b.t(), f->data(*info));
          f->release(*info);
          bufs.emplace(t.name, std::move(b));
        }
        if (io::Checksum::hex(sum.digest()) == want_sum) {
          rep = {"cache", f->size()};
          if (report) *report = rep;
          return assemble(bufs, range);
        }
        bufs.clear();
        why = fmt::format("{} fails its checksum (the manifest says {})", f->path(), want_sum);
      } else {
        why = fmt::format("{} does not hold this rank's tensors", f->path());
      }
    }
    if (!why.empty()) log::warn("shard cache: {}; rebuilding it from the checkpoint", why);
  }

  io::Checkpoint ck(src.model_dir);
  std::unique_ptr<io::ShardCache::Writer> writer;
  if (cache) {
    std::vector<io::TensorInfo> infos;
    for (auto& t : plan) infos.push_back({t.name, t.dtype, t.shape, 0, t.nbytes()});
    expect["model"] = src.model_dir;
    try {
      writer = std::make_unique<io::ShardCache::Writer>(*cache, src.rank, infos, expect,
                                                        nlohmann::json::parse(src.layout_desc));
    } catch (const std::exception& e) {
      log::warn("shard cache not written (the run goes on without it): {}", e.what());
    }
  }
  std::vector<float> f32;
  std::vector<uint8_t> host;
  for (auto& t : plan) {
    host.resize(t.nbytes());
    fill_from_checkpoint(ck, t, host.data(), f32);
    Buffer b(&be, t.dtype, to_shape(t.shape));
    be.to_device(b.t(), host.data());
    bufs.emplace(t.name, std::move(b));
    if (writer) {
      try {
        writer->write(host.data(), host.size());
      } catch (const std::exception& e) {
        log::warn("shard cache not written (the run goes on without it): {}", e.what());
        writer.reset();
      }
    }
  }
  if (writer) {
    try {
      writer->commit();
      log::info("shard cache written: {}", cache->data_path(src.rank));
    } catch (const std::exception& e) {
      log::warn("shard cache not written (the run goes on without it): {}", e.what());
    }
  }
  rep = {"checkpoint", ck.bytes_read()};
  if (report) *report = rep;
  return assemble(bufs, range);
}

}  // namespace autodist
