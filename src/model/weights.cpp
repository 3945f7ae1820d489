#include "model/weights.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <memory>
#include <set>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/mapped_file.h"
#include "core/log.h"
#include "io/shard_cache.h"
#include "model/family.h"

namespace autodist {

size_t ShardTensor::nbytes() const {
  size_t n = dtype_size(dtype);
  for (auto d : shape) n *= static_cast<size_t>(d);
  return n;
}

namespace {

using Part = ShardTensor::Part;

// Rows [r0, r0 + n) of the logical matrix m (column-parallel: this rank's output rows).
Part rows_of(const MatrixSource& m, int64_t r0, int64_t n) {
  if (m.conv1d) return {m.name, m.stored_shape(), io::Slice::cols(m.row0 + r0, n), true};
  return {m.name, m.stored_shape(), io::Slice::rows(m.row0 + r0, n)};
}

// Columns [c0, c0 + n) of the logical matrix m, all of its rows (row-parallel: this rank's input columns).
Part cols_of(const MatrixSource& m, int64_t c0, int64_t n) {
  if (m.conv1d) return {m.name, m.stored_shape(), io::Slice::rows(c0, n), true};
  return {m.name, m.stored_shape(), io::Slice::cols(c0, n)};
}

Part elems_of(const VectorSource& v, int64_t e0, int64_t n) {
  return {v.name, {v.total}, io::Slice::rows(v.off + e0, n)};
}

}  // namespace

std::vector<ShardTensor> shard_plan(const ModelConfig& c, const TpShard& tp, const StageRange& range, DType dtype) {
  const Family& fam = family_of(c);
  const int64_t D = c.hidden, hd = c.head_dim;
  std::vector<ShardTensor> plan;
  auto add = [&](std::string name, std::vector<int64_t> shape, DType t, std::vector<Part> parts) {
    plan.push_back({std::move(name), std::move(shape), t, std::move(parts)});
  };
  auto whole = [&](std::string name, const VectorSource& v) {  // a vector, in f32, whole on every rank
    if (!v.empty()) add(std::move(name), {v.total}, DType::F32, {elems_of(v, 0, v.total)});
  };
  auto vocab = [&](std::string name, const MatrixSource& m) {
    std::vector<Part> parts;
    if (tp.vocab_valid > 0) parts.push_back(rows_of(m, tp.vocab_start, tp.vocab_valid));
    add(std::move(name), {tp.vocab_local, D}, dtype, std::move(parts));
  };
  const ModelSources ms = fam.model_sources(c);
  if (range.has_embed || (range.has_head && c.tie_embeddings)) vocab("embed", ms.embed);
  if (range.has_embed && !ms.positions.empty())
    add("positions", {ms.positions.rows_total, D}, dtype, {rows_of(ms.positions, 0, ms.positions.rows_total)});
  const int64_t q_rows = tp.q_heads * hd, kv_rows = tp.kv_heads * hd, q0 = tp.q_head_start * hd,
                kv0 = tp.kv_head_start * hd, I = tp.inter, i0 = tp.inter_start;
  for (int64_t l = range.first; l < range.last; ++l) {
    const LayerSources s = fam.layer_sources(c, l);
    const std::string n = fmt::format("layers.{}.", l);
    whole(n + "attn_norm", s.attn_norm);
    whole(n + "attn_norm_bias", s.attn_norm_bias);
    add(n + "qkv", {q_rows + 2 * kv_rows, D}, dtype,
        {rows_of(s.q, q0, q_rows), rows_of(s.k, kv0, kv_rows), rows_of(s.v, kv0, kv_rows)});
    if (!s.q_bias.empty())
      add(n + "qkv_bias", {q_rows + 2 * kv_rows}, DType::F32,
          {elems_of(s.q_bias, q0, q_rows), elems_of(s.k_bias, kv0, kv_rows), elems_of(s.v_bias, kv0, kv_rows)});
    if (!s.q_norm.empty()) {
      add(n + "q_norm", {hd}, DType::F32, {elems_of(s.q_norm, 0, hd)});
      add(n + "k_norm", {hd}, DType::F32, {elems_of(s.k_norm, 0, hd)});
    }
    add(n + "o", {D, q_rows}, dtype, {cols_of(s.o, q0, q_rows)});
    whole(n + "o_bias", s.o_bias);
    whole(n + "mlp_norm", s.mlp_norm);
    whole(n + "mlp_norm_bias", s.mlp_norm_bias);
    const bool gated = !s.gate.empty();
    if (gated)
      add(n + "mlp_in", {2 * I, D}, dtype, {rows_of(s.gate, i0, I), rows_of(s.up, i0, I)});
    else
      add(n + "mlp_in", {I, D}, dtype, {rows_of(s.up, i0, I)});
    if (!s.up_bias.empty()) {
      std::vector<Part> bias;
      if (gated) bias.push_back(elems_of(s.gate_bias, i0, I));
      bias.push_back(elems_of(s.up_bias, i0, I));
      add(n + "mlp_in_bias", {(gated ? 2 : 1) * I}, DType::F32, std::move(bias));
    }
    add(n + "down", {D, I}, dtype, {cols_of(s.down, i0, I)});
    whole(n + "down_bias", s.down_bias);
  }
  if (range.has_head) {
    whole("final_norm", ms.final_norm);
    whole("final_norm_bias", ms.final_norm_bias);
    if (!c.tie_embeddings) vocab("lm_head", ms.lm_head);
  }
  return plan;
}

namespace {

// The checkpoint's name for a source: as given, or without the family's optional prefix (GPT-2 saved from
// GPT2Model has "h.0.ln_1.weight" for "transformer.h.0.ln_1.weight").
std::string resolve(const io::Checkpoint& ck, const std::string& name, const char* prefix) {
  const std::string p = prefix ? prefix : "";
  if (ck.has(name) || p.empty() || name.rfind(p, 0) != 0) return name;
  std::string bare = name.substr(p.size());
  return ck.has(bare) ? bare : name;
}

// Every checkpoint tensor the plan reads, checked against the config before anything is allocated: a config larger
// than its checkpoint is an error naming the tensor and both shapes, not an allocation failure.
void check_sources(const io::Checkpoint& ck, const std::vector<ShardTensor>& plan, const char* prefix) {
  for (auto& t : plan)
    for (auto& part : t.parts) {
      const std::string src = resolve(ck, part.src, prefix);
      auto& info = ck.info(src);
      AD_CHECK(info.shape == part.src_shape, "weight '{}' in '{}': the config implies shape [{}], the checkpoint holds {}",
               src, ck.dir(), fmt::join(part.src_shape, ", "), info.shape_str());
      ck.slice_shape(src, part.slice);
    }
}

// Buffers a checkpoint may hold that no model weight is (recomputed at load time).
bool is_buffer(const std::string& n) {
  return n.ends_with(".rotary_emb.inv_freq") || n.ends_with(".attn.masked_bias") || n.ends_with(".attn.bias");
}

// One warning for the checkpoint tensors that no weight of the family reads, on any rank (the set does not depend
// on the layout: every rank's stage reads a subset of checkpoint_tensors). A checkpoint under the wrong
// architecture (Qwen3 as Llama: its q/k norms) would otherwise run silently wrong.
void warn_unread(const io::Checkpoint& ck, const ModelConfig& c, const char* prefix) {
  std::set<std::string> known;
  for (auto& t : checkpoint_tensors(c)) known.insert(resolve(ck, t.name, prefix));
  std::vector<std::string> unread;
  for (auto& n : ck.names())
    if (!known.count(n) && !is_buffer(n) && !(c.tie_embeddings && n.ends_with("lm_head.weight"))) unread.push_back(n);
  if (unread.empty()) return;
  const size_t shown = std::min<size_t>(unread.size(), 5);
  log::warn("{} tensor{} of the checkpoint in '{}' {} read by no weight of {} (is config.json's architecture right?): "
            "{}{}",
            unread.size(), unread.size() == 1 ? "" : "s", ck.dir(), unread.size() == 1 ? "is" : "are", c.architecture,
            fmt::join(unread.begin(), unread.begin() + static_cast<std::ptrdiff_t>(shown), ", "),
            unread.size() > shown ? ", ..." : "");
}

// Builds a shard tensor from checkpoint slices into `dst` (t.nbytes() bytes; shapes checked by check_sources), each
// slice read straight into its rows in t's dtype, converted as it is read; `tmp` is scratch for transposed parts.
void fill_from_checkpoint(const io::Checkpoint& ck, const ShardTensor& t, const char* prefix, void* dst,
                          std::vector<float>& tmp) {
  const int64_t cols = t.shape.size() == 2 ? t.shape[1] : 1;
  const size_t es = dtype_size(t.dtype);
  auto* out = static_cast<uint8_t*>(dst);
  int64_t row = 0;  // rows of a matrix, elements of a vector (cols == 1)
  for (auto& part : t.parts) {
    const std::string src = resolve(ck, part.src, prefix);
    auto sh = ck.slice_shape(src, part.slice);
    if (!part.transpose) {
      ck.read(src, part.slice, t.dtype, out + static_cast<size_t>(row * cols) * es);
      row += sh[0];
      continue;
    }
    // slice [a, b] of a [in, out] tensor: the logical rows are its b columns, each of a = cols values
    AD_CHECK(sh.size() == 2 && sh[0] == cols, "weight '{}': a transposed slice of shape [{}] does not fit rows of {}",
             src, fmt::join(sh, ", "), cols);
    const size_t n = static_cast<size_t>(sh[0] * sh[1]);
    tmp.resize(2 * n);
    float *a = tmp.data(), *b = a + n;
    ck.read_f32(src, part.slice, a);
    for (int64_t r = 0; r < sh[1]; ++r)
      for (int64_t k = 0; k < sh[0]; ++k) b[r * cols + k] = a[k * sh[1] + r];
    convert(b, DType::F32, out + static_cast<size_t>(row * cols) * es, t.dtype, n);
    row += sh[1];
  }
  std::memset(out + static_cast<size_t>(row * cols) * es, 0, t.nbytes() - static_cast<size_t>(row * cols) * es);
}

// Host memory a tensor is built in: the buffer itself on the cpu backend, else `stage`, copied to the device by
// to_device_from.
void* host_memory(const Backend& be, const Buffer& b, std::vector<uint8_t>& stage) {
  if (be.device() == Device::CPU) return b.t().data;
  stage.resize(b.t().nbytes());
  return stage.data();
}
void to_device_from(Backend& be, Buffer& b, const void* host) {
  if (be.device() != Device::CPU) be.to_device(b.t(), host);
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
  w.positions = take("positions");
  for (int64_t l = range.first; l < range.last; ++l) {
    std::string p = fmt::format("layers.{}.", l);
    LayerWeights lw;
    lw.attn_norm = take(p + "attn_norm");
    lw.attn_norm_bias = take(p + "attn_norm_bias");
    lw.qkv = take(p + "qkv");
    lw.qkv_bias = take(p + "qkv_bias");
    lw.q_norm = take(p + "q_norm");
    lw.k_norm = take(p + "k_norm");
    lw.o = take(p + "o");
    lw.o_bias = take(p + "o_bias");
    lw.mlp_norm = take(p + "mlp_norm");
    lw.mlp_norm_bias = take(p + "mlp_norm_bias");
    lw.mlp_in = take(p + "mlp_in");
    lw.mlp_in_bias = take(p + "mlp_in_bias");
    lw.down = take(p + "down");
    lw.down_bias = take(p + "down_bias");
    w.layers.push_back(std::move(lw));
  }
  w.final_norm = take("final_norm");
  w.final_norm_bias = take("final_norm_bias");
  w.lm_head = take("lm_head");
  return w;
}

Shape to_shape(const std::vector<int64_t>& v) {
  Shape s;
  for (auto d : v) s.d[s.ndim++] = d;
  return s;
}


std::vector<io::TensorInfo> infos_of(const std::vector<ShardTensor>& plan) {
  std::vector<io::TensorInfo> infos;
  for (auto& t : plan) infos.push_back({t.name, t.dtype, t.shape, 0, t.nbytes()});
  return infos;
}

// The plan in the order a shard cache file stores it (io::safetensors_order: every offset aligned), so that the file
// is written and hashed front to back.
std::vector<ShardTensor> in_file_order(std::vector<ShardTensor> plan) {
  std::vector<ShardTensor> out;
  for (size_t i : io::safetensors_order(infos_of(plan))) out.push_back(std::move(plan[i]));
  return out;
}

}  // namespace

StageWeights load_stage_weights(Backend& be, const WeightSource& src, const ModelConfig& c, const TpShard& tp,
                                const StageRange& range, LoadReport* report) {
  const auto plan = in_file_order(shard_plan(c, tp, range, src.dtype));
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
      cache = std::make_unique<io::ShardCache>(src.cache_dir, src.model_dir, src.layout);
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
        // The file is mapped (read at the disk's speed, no copy into fresh memory) and hashed front to back (file
        // order = plan order); the cpu backend uses the tensors where they lie, a device backend copies them up.
        try {
          auto map = MappedFile::map(f->file());
          io::Checksum sum;
          sum.update(map->data(), f->data_offset());
          for (auto& t : plan) {
            auto* info = f->find(t.name);
            const uint8_t* src = map->data() + f->data_offset() + info->offset;
            sum.update(src, info->nbytes);
            Tensor view(const_cast<uint8_t*>(src), t.dtype, to_shape(t.shape), Device::CPU);
            if (be.device() == Device::CPU) {
              bufs.emplace(t.name, Buffer::borrowed(view, map));
            } else {
              Buffer b(&be, t.dtype, to_shape(t.shape));
              be.to_device(b.t(), src);
              bufs.emplace(t.name, std::move(b));
            }
          }
          if (io::Checksum::hex(sum.digest()) == want_sum) {
            rep = {"cache", f->size()};
            if (report) *report = rep;
            return assemble(bufs, range);
          }
          why = fmt::format("{} fails its checksum (the manifest says {})", f->path(), want_sum);
        } catch (const Error& e) {
          why = e.what();
        }
        bufs.clear();
      } else {
        why = fmt::format("{} does not hold this rank's tensors", f->path());
      }
    }
    if (!why.empty()) log::warn("shard cache: {}; rebuilding it from the checkpoint", why);
  }

  io::Checkpoint ck(src.model_dir);
  const char* prefix = family_of(c).optional_prefix;
  check_sources(ck, plan, prefix);
  if (src.rank == 0) warn_unread(ck, c, prefix);
  std::unique_ptr<io::ShardCache::Writer> writer;
  if (cache) {
    const std::vector<io::TensorInfo> infos = infos_of(plan);
    try {
      writer = std::make_unique<io::ShardCache::Writer>(*cache, src.rank, infos, expect,
                                                        nlohmann::json::parse(src.layout_desc));
    } catch (const std::exception& e) {
      log::warn("shard cache not written (the run goes on without it): {}", e.what());
    }
  }
  std::vector<float> tmp;
  std::vector<uint8_t> stage;
  for (auto& t : plan) {
    Buffer b(&be, t.dtype, to_shape(t.shape));
    void* host = host_memory(be, b, stage);
    fill_from_checkpoint(ck, t, prefix, host, tmp);
    to_device_from(be, b, host);
    if (writer) {
      try {
        writer->write(host, t.nbytes());
      } catch (const std::exception& e) {
        log::warn("shard cache not written (the run goes on without it): {}", e.what());
        writer.reset();
      }
    }
    bufs.emplace(t.name, std::move(b));
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
