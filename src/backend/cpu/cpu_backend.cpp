// The reference backend: float32 math everywhere, OpenBLAS for the matrix products, plain loops elsewhere.
// Weight matrices (gemm w) and the embedding table may also be held in bf16 or f16 to halve their memory;
// they are widened to float32 on the fly (exactly) and every product and sum is float32 (cpu_half.h).
// The step plan stays where the runtime built it (host memory): begin_step only keeps a reference.
#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <vector>

#include "backend/backend.h"
#include "backend/cpu/cpu_half.h"
#include "core/clock.h"
#include "core/error.h"

namespace autodist {
namespace {

void check_f32(const Tensor& t, const char* what) {
  AD_CHECK(t.dtype == DType::F32 && t.device == Device::CPU, "cpu backend: {} must be a host f32 tensor (got {})",
           what, dtype_name(t.dtype));
}

void check_i32(const Tensor& t, const char* what) {
  AD_CHECK(t.dtype == DType::I32 && t.device == Device::CPU, "cpu backend: {} must be a host i32 tensor (got {})",
           what, dtype_name(t.dtype));
}

// Tensors that may be stored in a half type (weights, embedding table): f32, bf16 or f16 on the host.
void check_float(const Tensor& t, const char* what) {
  AD_CHECK((t.dtype == DType::F32 || t.dtype == DType::BF16 || t.dtype == DType::F16) && t.device == Device::CPU,
           "cpu backend: {} must be a host f32, bf16 or f16 tensor (got {})", what, dtype_name(t.dtype));
}

// Query rows per block of the attention scores: the scratch is kScoreRows x keys floats.
constexpr int64_t kScoreRows = 128;

class CpuBackend final : public Backend {
 public:
  CpuBackend() { marks_.reserve(1 << 16); }
  Device device() const override { return Device::CPU; }
  std::string name() const override { return "cpu"; }
  void* alloc(size_t bytes) override {
    void* p = std::aligned_alloc(64, (bytes + 63) / 64 * 64);
    AD_CHECK(p, "cpu backend: out of memory allocating {} bytes", bytes);
    return p;
  }
  void free(void* p) override { std::free(p); }
  void* alloc_host(size_t bytes) override { return alloc(bytes); }
  void free_host(void* p) override { std::free(p); }
  void to_device(Tensor dst, const void* src) override { std::memcpy(dst.data, src, dst.nbytes()); }
  void to_host(void* dst, const Tensor& src) override { std::memcpy(dst, src.data, src.nbytes()); }
  void to_host_async(void* dst, const Tensor& src) override { std::memcpy(dst, src.data, src.nbytes()); }
  void wait_host() override {}

  // Marks may come from a second thread (the KV sync), so they are kept under a lock.
  int64_t timer_mark() override {
    int64_t t = now_ns();
    std::lock_guard<std::mutex> lk(marks_mu_);
    marks_.push_back(t);
    return static_cast<int64_t>(marks_.size()) - 1;
  }
  int64_t timer_ns(int64_t mark) override {
    std::lock_guard<std::mutex> lk(marks_mu_);
    AD_CHECK(mark >= 0 && mark < static_cast<int64_t>(marks_.size()), "cpu backend: no timer mark {}", mark);
    return marks_[static_cast<size_t>(mark)];
  }
  void timer_reset() override {
    std::lock_guard<std::mutex> lk(marks_mu_);
    marks_.clear();
  }

  void copy(Tensor dst, const Tensor& src) override {
    AD_CHECK(dst.nbytes() == src.nbytes(), "copy: sizes differ ({} vs {} bytes)", dst.nbytes(), src.nbytes());
    std::memmove(dst.data, src.data, src.nbytes());
  }
  void fill_zero(Tensor t) override { std::memset(t.data, 0, t.nbytes()); }

  // FLOPs 2*M*N*K; bytes (M*K + M*N)*4 + N*K*sizeof(w). w f32: sgemv/sgemm; w bf16/f16: gemm_half_*.
  void gemm(const Tensor& x, const Tensor& w, const Tensor* bias, Tensor y) override {
    check_f32(x, "gemm x");
    check_float(w, "gemm w");
    check_f32(y, "gemm y");
    if (bias) check_f32(*bias, "gemm bias");
    const auto [M, N, K] = gemm_dims(x, w, bias, y);
    if (M == 0 || N == 0) return;
    float* yp = y.f32();
    const float* bp = bias ? bias->f32() : nullptr;
    if (K == 0) {  // empty sum: y = bias or 0 (BLAS would leave y untouched)
      for (int64_t m = 0; m < M; ++m)
        for (int64_t n = 0; n < N; ++n) yp[m * N + n] = bp ? bp[n] : 0.0f;
      return;
    }
    if (w.dtype != DType::F32) {
      cpu::DotArgs a{x.f32(), w.ptr<const uint16_t>(), bp, yp, M, N, K, w.dtype};
      if (M <= cpu::kMaxDotRows)
        cpu::gemm_half_dot(a);
      else
        cpu::gemm_half_blocked(a);
      return;
    }
    if (bp)
      for (int64_t m = 0; m < M; ++m) std::memcpy(yp + m * N, bp, N * 4);
    if (M == 1)
      cblas_sgemv(CblasRowMajor, CblasNoTrans, N, K, 1.0f, w.f32(), K, x.f32(), 1, bp ? 1.0f : 0.0f, yp, 1);
    else
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, N, K, 1.0f, x.f32(), K, w.f32(), K,
                  bp ? 1.0f : 0.0f, yp, N);
  }

  void rmsnorm(const Tensor& x, const Tensor& w, float eps, Tensor y) override {
    check_f32(x, "rmsnorm x");
    check_f32(w, "rmsnorm w");
    check_f32(y, "rmsnorm y");
    int64_t C = w.numel(), M = x.numel() / C;
    const float *xp = x.f32(), *wp = w.f32();
    float* yp = y.f32();
    for (int64_t m = 0; m < M; ++m) {
      const float* r = xp + m * C;
      double ss = 0;
      for (int64_t c = 0; c < C; ++c) ss += static_cast<double>(r[c]) * r[c];
      float inv = static_cast<float>(1.0 / std::sqrt(ss / C + eps));
      for (int64_t c = 0; c < C; ++c) yp[m * C + c] = r[c] * inv * wp[c];
    }
  }

  // Mean and variance in double, as rmsnorm's sum of squares.
  void layernorm(const Tensor& x, const Tensor& w, const Tensor* b, float eps, Tensor y) override {
    check_f32(x, "layernorm x");
    check_f32(w, "layernorm w");
    check_f32(y, "layernorm y");
    if (b) check_f32(*b, "layernorm b");
    const int64_t C = w.numel(), M = C ? x.numel() / C : 0;
    AD_CHECK(C > 0 && x.numel() == M * C && y.numel() == x.numel() && (!b || b->numel() == C),
             "layernorm: x {} and y {} must be rows of the {} values of w (and b)", x.shape.str(), y.shape.str(), C);
    const float *xp = x.f32(), *wp = w.f32(), *bp = b ? b->f32() : nullptr;
    float* yp = y.f32();
    for (int64_t m = 0; m < M; ++m) {
      const float* r = xp + m * C;
      double mean = 0, var = 0;
      for (int64_t c = 0; c < C; ++c) mean += r[c];
      mean /= static_cast<double>(C);
      for (int64_t c = 0; c < C; ++c) var += (r[c] - mean) * (r[c] - mean);
      const float mu = static_cast<float>(mean), inv = static_cast<float>(1.0 / std::sqrt(var / C + eps));
      for (int64_t c = 0; c < C; ++c) yp[m * C + c] = (r[c] - mu) * inv * wp[c] + (bp ? bp[c] : 0.0f);
    }
  }

  void activation(const Tensor& x, Activation act, Tensor y) override {
    check_f32(x, "activation x");
    check_f32(y, "activation y");
    AD_CHECK(x.numel() == y.numel(), "activation: x {} and y {} differ in size", x.shape.str(), y.shape.str());
    const float* xp = x.f32();
    float* yp = y.f32();
    const int64_t n = x.numel();
    switch (act) {
      case Activation::Silu:
        for (int64_t i = 0; i < n; ++i) yp[i] = xp[i] / (1.0f + std::exp(-xp[i]));
        break;
      case Activation::GeluTanh:
        for (int64_t i = 0; i < n; ++i) {
          const float v = xp[i];
          yp[i] = 0.5f * v * (1.0f + std::tanh(0.7978845608028654f * (v + 0.044715f * v * v * v)));
        }
        break;
      case Activation::Gelu:
        for (int64_t i = 0; i < n; ++i) yp[i] = 0.5f * xp[i] * (1.0f + std::erf(xp[i] * 0.7071067811865476f));
        break;
      case Activation::Relu:
        for (int64_t i = 0; i < n; ++i) yp[i] = xp[i] > 0.0f ? xp[i] : 0.0f;
        break;
    }
  }

  void add_bias(Tensor y, const Tensor& bias) override {
    check_f32(y, "add_bias y");
    check_f32(bias, "add_bias bias");
    const int64_t N = bias.numel(), M = N ? y.numel() / N : 0;
    AD_CHECK(N > 0 && y.numel() == M * N, "add_bias: y {} is not rows of the {} values of the bias", y.shape.str(), N);
    for (int64_t m = 0; m < M; ++m)
      for (int64_t n = 0; n < N; ++n) y.f32()[m * N + n] += bias.f32()[n];
  }

  void add_positions(Tensor x, const Tensor& table, int64_t offset) override {
    check_f32(x, "add_positions x");
    check_float(table, "add_positions table");
    const StepPlan& p = plan();
    const int64_t T = p.rows(), D = table.ndim() == 2 ? table.dim(1) : 0;
    AD_CHECK(x.numel() == T * D, "add_positions: x {} is not {} rows of the {} values of the table {}", x.shape.str(),
             T, D, table.shape.str());
    std::vector<float>& row = pos_row_;
    row.resize(static_cast<size_t>(D));
    const size_t esz = dtype_size(table.dtype);
    for (int64_t t = 0; t < T; ++t) {
      const int64_t r = p.pos[t] + offset;
      AD_CHECK(r >= 0 && r < table.dim(0), "add_positions: position {} (+{}) beyond the {} rows of the table", p.pos[t],
               offset, table.dim(0));
      const char* src = static_cast<const char*>(table.data) + static_cast<size_t>(r * D) * esz;
      if (table.dtype == DType::F32)
        std::memcpy(row.data(), src, D * 4);
      else
        cpu::widen_exact(table.dtype, src, row.data(), static_cast<size_t>(D));
      float* o = x.f32() + t * D;
      for (int64_t d = 0; d < D; ++d) o[d] += row[d];
    }
  }

  void rope(Tensor x, const Tensor& cs) override {
    check_f32(x, "rope x");
    check_f32(cs, "rope cos_sin");
    const StepPlan& p = plan();
    AD_CHECK(x.ndim() == 3 && x.dim(0) == p.rows() && cs.ndim() == 2 && cs.dim(1) == x.dim(2),
             "rope: x {} must be [T={}, H, hd] and cos_sin {} [positions, hd]", x.shape.str(), p.rows(),
             cs.shape.str());
    int64_t T = x.dim(0), H = x.dim(1), hd = x.dim(2), half = hd / 2;
    float* xp = x.f32();
    for (int64_t t = 0; t < T; ++t) {
      AD_CHECK(p.pos[t] < cs.dim(0), "rope: position {} beyond the {} of the table", p.pos[t], cs.dim(0));
      const float* c = cs.f32() + p.pos[t] * hd;
      const float* s = c + half;
      for (int64_t h = 0; h < H; ++h) {
        float* r = xp + (t * H + h) * hd;
        for (int64_t i = 0; i < half; ++i) {
          float a = r[i], b = r[i + half];
          r[i] = a * c[i] - b * s[i];
          r[i + half] = b * c[i] + a * s[i];
        }
      }
    }
  }

  void silu_mul(const Tensor& gu, Tensor out) override {
    check_f32(gu, "silu_mul gu");
    check_f32(out, "silu_mul out");
    int64_t M = gu.dim(0), I = out.numel() / M;
    const float* g = gu.f32();
    float* o = out.f32();
    for (int64_t m = 0; m < M; ++m)
      for (int64_t i = 0; i < I; ++i) {
        float a = g[m * 2 * I + i], b = g[m * 2 * I + I + i];
        o[m * I + i] = a / (1.0f + std::exp(-a)) * b;
      }
  }

  void split_qkv(const Tensor& qkv, Tensor q, Tensor k, Tensor v) override {
    check_f32(qkv, "split_qkv qkv");
    check_f32(q, "split_qkv q");
    check_f32(k, "split_qkv k");
    check_f32(v, "split_qkv v");
    int64_t T = qkv.dim(0), nq = q.numel() / T, nk = k.numel() / T, W = nq + 2 * nk;
    const float* s = qkv.f32();
    for (int64_t t = 0; t < T; ++t) {
      std::memcpy(q.f32() + t * nq, s + t * W, nq * 4);
      std::memcpy(k.f32() + t * nk, s + t * W + nq, nk * 4);
      std::memcpy(v.f32() + t * nk, s + t * W + nq + nk, nk * 4);
    }
  }

  void add(Tensor y, const Tensor& x) override {
    check_f32(y, "add y");
    check_f32(x, "add x");
    float* yp = y.f32();
    const float* xp = x.f32();
    for (int64_t i = 0, n = y.numel(); i < n; ++i) yp[i] += xp[i];
  }

  void embed(const Tensor& table, int64_t vocab_start, const Tensor& slot_tokens, Tensor out) override {
    check_float(table, "embed table");
    check_i32(slot_tokens, "embed slot_tokens");
    check_f32(out, "embed out");
    const StepPlan& p = plan();
    AD_CHECK(table.ndim() == 2 && out.ndim() >= 1 && out.dim(0) == p.rows(),
             "embed: table {} must be [V, D] and out {} [T={}, D]", table.shape.str(), out.shape.str(), p.rows());
    int64_t V = table.dim(0), D = table.dim(1), T = out.dim(0);
    AD_CHECK(out.numel() == T * D, "embed: out {} does not fit table {} (rows of {} values)", out.shape.str(),
             table.shape.str(), D);
    const size_t esz = dtype_size(table.dtype);
    float* op = out.f32();
    for (int64_t t = 0; t < T; ++t) {
      int32_t id = p.ids[t];
      if (id == kTokenFromDevice) {
        AD_CHECK(p.slot[t] < slot_tokens.numel(), "embed: slot {} outside slot_tokens {}", p.slot[t],
                 slot_tokens.shape.str());
        id = slot_tokens.ptr<int32_t>()[p.slot[t]];
      }
      int64_t r = id - vocab_start;
      float* o = op + t * D;
      if (r < 0 || r >= V) {
        std::memset(o, 0, D * 4);
        continue;
      }
      const char* src = static_cast<const char*>(table.data) + static_cast<size_t>(r * D) * esz;
      if (table.dtype == DType::F32)
        std::memcpy(o, src, D * 4);
      else
        cpu::widen_exact(table.dtype, src, o, static_cast<size_t>(D));
    }
  }

  void kv_append(const Tensor& k, const Tensor& v, Tensor kc, Tensor vc) override {
    check_f32(k, "kv_append k");
    check_f32(v, "kv_append v");
    check_f32(kc, "kv_append kcache");
    check_f32(vc, "kv_append vcache");
    AD_CHECK(kc.ndim() == 4 && vc.shape == kc.shape, "kv_append: caches {} and {} must both be [slots, S, Hk, hd]",
             kc.shape.str(), vc.shape.str());
    int64_t S = kc.dim(1), row = kc.dim(2) * kc.dim(3);
    for (const AttnSegment& s : plan().segs) {
      AD_CHECK(s.start_pos + s.len <= S && s.slot < kc.dim(0),
               "kv cache overflow: slot {} positions up to {} but the cache {} holds {} slots of {}", s.slot,
               s.start_pos + s.len, kc.shape.str(), kc.dim(0), S);
      size_t off = (static_cast<size_t>(s.slot) * S + s.start_pos) * row;
      std::memcpy(kc.f32() + off, k.f32() + s.row * row, s.len * row * 4);
      std::memcpy(vc.f32() + off, v.f32() + s.row * row, s.len * row * 4);
    }
  }

  // Per segment, head and block of query rows: scores = Q K^T (sgemm over strided cache rows), masked softmax,
  // P V. FLOPs 4 * len * keys * hd per head.
  void attention(const Tensor& q, const Tensor& kc, const Tensor& vc, float scale, int64_t window,
                 Tensor out) override {
    check_f32(q, "attention q");
    check_f32(kc, "attention kcache");
    check_f32(vc, "attention vcache");
    check_f32(out, "attention out");
    int64_t H = q.dim(1), hd = q.dim(2), S = kc.dim(1), Hk = kc.dim(2), group = H / Hk;
    for (const AttnSegment& seg : plan().segs) {
      for (int32_t b0 = 0; b0 < seg.len; b0 += static_cast<int32_t>(kScoreRows)) {
        AttnSegment s{seg.slot, seg.start_pos + b0, std::min<int32_t>(kScoreRows, seg.len - b0), seg.row + b0};
        int64_t keys = s.start_pos + s.len;
        int64_t lo = window > 0 ? std::max<int64_t>(0, s.start_pos - window + 1) : 0;  // first key any row needs
        int64_t nk = keys - lo;
        if (sc_.size() < static_cast<size_t>(s.len * nk)) sc_.resize(static_cast<size_t>(s.len * nk));
        for (int64_t h = 0; h < H; ++h) {
          int64_t kh = h / group;
          const float* qp = q.f32() + (s.row * H + h) * hd;
          const float* kp = kc.f32() + ((static_cast<int64_t>(s.slot) * S + lo) * Hk + kh) * hd;
          const float* vp = vc.f32() + ((static_cast<int64_t>(s.slot) * S + lo) * Hk + kh) * hd;
          float* op = out.f32() + (s.row * H + h) * hd;
          cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, s.len, nk, hd, scale, qp, H * hd, kp, Hk * hd, 0.0f,
                      sc_.data(), nk);
          softmax_rows(s, lo, nk, window);
          cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, s.len, hd, nk, 1.0f, sc_.data(), nk, vp, Hk * hd,
                      0.0f, op, H * hd);
        }
      }
    }
  }

  void gather_rows(const Tensor& x, Tensor out) override {
    check_f32(x, "gather_rows x");
    check_f32(out, "gather_rows out");
    const StepPlan& p = plan();
    const int64_t R = p.outputs(), D = x.dim(0) ? x.numel() / x.dim(0) : 0;
    AD_CHECK(out.numel() == R * D && x.dim(0) >= p.rows(), "gather_rows: x {} and out {} do not fit {} rows of {}",
             x.shape.str(), out.shape.str(), R, D);
    for (int64_t r = 0; r < R; ++r) std::memcpy(out.f32() + r * D, x.f32() + p.out_rows[r] * D, D * 4);
  }

  void argmax(const Tensor& x, int64_t valid, int64_t vocab_start, Tensor pairs) override {
    check_f32(x, "argmax x");
    check_f32(pairs, "argmax pairs");
    int64_t M = x.dim(0), V = M ? x.numel() / M : 0;
    AD_CHECK(pairs.numel() == 2 * M && valid <= V && vocab_start + V <= (int64_t{1} << 24),
             "argmax: pairs {} for x {} (valid {}, vocab start {}: indices must stay below 2^24)", pairs.shape.str(),
             x.shape.str(), valid, vocab_start);
    for (int64_t m = 0; m < M; ++m) {
      const float* r = x.f32() + m * V;
      int64_t best = 0;
      bool finite = valid <= 0 || std::isfinite(r[0]);
      for (int64_t j = 1; j < valid; ++j) {
        finite &= std::isfinite(r[j]);
        if (r[j] > r[best]) best = j;
      }
      // A row with a NaN or inf logit has no answer: its max is NaN, which pick() turns into kBadLogits.
      pairs.f32()[2 * m] = valid <= 0 ? -INFINITY : finite ? r[best] : NAN;
      pairs.f32()[2 * m + 1] = static_cast<float>(vocab_start + (finite ? best : 0));
    }
  }

  void pick(const Tensor& pairs, Tensor tokens, Tensor slot_tokens) override {
    check_f32(pairs, "pick pairs");
    check_i32(tokens, "pick tokens");
    check_i32(slot_tokens, "pick slot_tokens");
    const StepPlan& p = plan();
    const int64_t R = p.outputs(), G = R ? pairs.numel() / (2 * R) : 0;
    AD_CHECK(tokens.numel() == R && pairs.numel() == G * 2 * R, "pick: pairs {} and tokens {} for {} output rows",
             pairs.shape.str(), tokens.shape.str(), R);
    for (int64_t r = 0; r < R; ++r) {
      float best = -INFINITY;
      int32_t bi = static_cast<int32_t>(pairs.f32()[2 * r + 1]);
      for (int64_t g = 0; g < G; ++g) {
        float m = pairs.f32()[(g * R + r) * 2];
        if (std::isnan(m)) {
          bi = kBadLogits;
          break;
        }
        if (m > best) best = m, bi = static_cast<int32_t>(pairs.f32()[(g * R + r) * 2 + 1]);
      }
      set_token(tokens, slot_tokens, r, bi);
    }
  }

  void gather_vocab(const Tensor& parts, Tensor out) override {
    check_f32(parts, "gather_vocab parts");
    check_f32(out, "gather_vocab out");
    const int64_t G = parts.dim(0), R = parts.ndim() == 3 ? parts.dim(1) : 0, Vl = R ? parts.dim(2) : 0;
    const int64_t V = R ? out.numel() / R : 0;
    AD_CHECK(parts.ndim() == 3 && out.numel() == R * V && V <= G * Vl,
             "gather_vocab: parts {} must be [G, R, Vl] and out {} [R, V <= G Vl]", parts.shape.str(),
             out.shape.str());
    for (int64_t g = 0; g < G; ++g)
      for (int64_t r = 0; r < R; ++r) {
        int64_t n = std::clamp<int64_t>(V - g * Vl, 0, Vl);
        std::memcpy(out.f32() + r * V + g * Vl, parts.f32() + (g * R + r) * Vl, n * 4);
      }
  }

  void sample(Tensor logits, const Tensor& banned, const SamplingOptions& o, Tensor tokens,
              Tensor slot_tokens) override {
    check_f32(logits, "sample logits");
    check_i32(banned, "sample banned");
    check_i32(tokens, "sample tokens");
    check_i32(slot_tokens, "sample slot_tokens");
    const StepPlan& p = plan();
    const int64_t R = p.outputs(), V = R ? logits.numel() / R : 0;
    AD_CHECK(tokens.numel() == R && logits.numel() == R * V, "sample: logits {} and tokens {} for {} output rows",
             logits.shape.str(), tokens.shape.str(), R);
    for (int64_t r = 0; r < R; ++r) {
      double u = sample_uniform(o.seed, p.pos[p.out_rows[r]] + 1);
      int32_t tok = sampler_.sample(logits.f32() + r * V, V, o, u, banned.ptr<int32_t>(),
                                    p.out_ban[r] ? banned.numel() : 0);
      set_token(tokens, slot_tokens, r, tok);
    }
  }

 protected:
  void on_prepare(const StepLimits& lim) override {
    sampler_.reserve(lim.vocab);
    sc_.reserve(static_cast<size_t>(std::min(kScoreRows, lim.max_tokens) * lim.max_context));
    pos_row_.reserve(8192);
  }

 private:
  void set_token(Tensor tokens, Tensor slot_tokens, int64_t r, int32_t tok) {
    const StepPlan& p = plan();
    int32_t s = p.slot[p.out_rows[r]];
    AD_CHECK(s < slot_tokens.numel(), "slot {} outside slot_tokens {}", s, slot_tokens.shape.str());
    tokens.ptr<int32_t>()[r] = tok;
    slot_tokens.ptr<int32_t>()[s] = tok;
  }

  // Rows of sc_ [s.len, nk] (keys from lo): causal (and windowed) softmax in place.
  void softmax_rows(const AttnSegment& s, int64_t lo, int64_t nk, int64_t window) {
    for (int64_t i = 0; i < s.len; ++i) {
      int64_t p = s.start_pos + i;
      int64_t first = (window > 0 ? std::max<int64_t>(0, p - window + 1) : 0) - lo, last = p - lo;  // inclusive
      float* r = sc_.data() + i * nk;
      float mx = -INFINITY;
      for (int64_t j = first; j <= last; ++j) mx = std::max(mx, r[j]);
      double sum = 0;
      for (int64_t j = 0; j < nk; ++j) {
        if (j < first || j > last) {
          r[j] = 0.0f;
        } else {
          r[j] = std::exp(r[j] - mx);
          sum += r[j];
        }
      }
      float inv = static_cast<float>(1.0 / sum);
      for (int64_t j = first; j <= last; ++j) r[j] *= inv;
    }
  }

  std::vector<float> sc_;  // attention scores of one block of query rows
  std::vector<float> pos_row_;  // one widened row of a position table
  RowSampler sampler_;
  std::mutex marks_mu_;
  std::vector<int64_t> marks_;
};

}  // namespace

std::unique_ptr<Backend> make_cpu_backend() { return std::make_unique<CpuBackend>(); }

}  // namespace autodist
