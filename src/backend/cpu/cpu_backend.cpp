// The reference backend: float32 everywhere, OpenBLAS for the matrix products, plain loops elsewhere.
#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "backend/backend.h"
#include "core/error.h"

namespace autodist {
namespace {

void check_f32(const Tensor& t, const char* what) {
  AD_CHECK(t.dtype == DType::F32 && t.device == Device::CPU, "cpu backend: {} must be a host f32 tensor (got {})",
           what, dtype_name(t.dtype));
}

class CpuBackend final : public Backend {
 public:
  Device device() const override { return Device::CPU; }
  std::string name() const override { return "cpu"; }
  void* alloc(size_t bytes) override {
    void* p = std::aligned_alloc(64, (bytes + 63) / 64 * 64);
    AD_CHECK(p, "cpu backend: out of memory allocating {} bytes", bytes);
    return p;
  }
  void free(void* p) override { std::free(p); }
  void to_device(Tensor dst, const void* src) override { std::memcpy(dst.data, src, dst.nbytes()); }
  void to_host(void* dst, const Tensor& src) override { std::memcpy(dst, src.data, src.nbytes()); }
  void copy(Tensor dst, const Tensor& src) override {
    AD_CHECK(dst.nbytes() == src.nbytes(), "copy: sizes differ ({} vs {} bytes)", dst.nbytes(), src.nbytes());
    std::memmove(dst.data, src.data, src.nbytes());
  }
  void fill_zero(Tensor t) override { std::memset(t.data, 0, t.nbytes()); }

  // FLOPs 2*M*N*K; bytes (M*K + N*K + M*N)*4
  void gemm(const Tensor& x, const Tensor& w, const Tensor* bias, Tensor y) override {
    check_f32(x, "gemm x");
    check_f32(w, "gemm w");
    int64_t M = x.dim(0), K = x.numel() / M, N = w.dim(0);
    AD_CHECK(w.numel() == N * K && y.numel() == M * N, "gemm: x {} w {} y {} do not fit", x.shape.str(),
             w.shape.str(), y.shape.str());
    float* yp = y.f32();
    if (bias) {
      const float* b = bias->f32();
      for (int64_t m = 0; m < M; ++m) std::memcpy(yp + m * N, b, N * 4);
    }
    if (M == 1)
      cblas_sgemv(CblasRowMajor, CblasNoTrans, N, K, 1.0f, w.f32(), K, x.f32(), 1, bias ? 1.0f : 0.0f, yp, 1);
    else
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, N, K, 1.0f, x.f32(), K, w.f32(), K,
                  bias ? 1.0f : 0.0f, yp, N);
  }

  void rmsnorm(const Tensor& x, const Tensor& w, float eps, Tensor y) override {
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

  void rope(Tensor x, const int32_t* pos, const RopeTable& rt) override {
    int64_t T = x.dim(0), H = x.dim(1), hd = x.dim(2), half = hd / 2;
    float* xp = x.f32();
    std::vector<float> cs(half), sn(half);
    for (int64_t t = 0; t < T; ++t) {
      for (int64_t i = 0; i < half; ++i) {
        double a = pos[t] * rt.inv_freq[i];
        cs[i] = static_cast<float>(std::cos(a) * rt.attention_factor);
        sn[i] = static_cast<float>(std::sin(a) * rt.attention_factor);
      }
      for (int64_t h = 0; h < H; ++h) {
        float* r = xp + (t * H + h) * hd;
        for (int64_t i = 0; i < half; ++i) {
          float a = r[i], b = r[i + half];
          r[i] = a * cs[i] - b * sn[i];
          r[i + half] = b * cs[i] + a * sn[i];
        }
      }
    }
  }

  void silu_mul(const Tensor& gu, Tensor out) override {
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
    int64_t T = qkv.dim(0), nq = q.numel() / T, nk = k.numel() / T, W = nq + 2 * nk;
    const float* s = qkv.f32();
    for (int64_t t = 0; t < T; ++t) {
      std::memcpy(q.f32() + t * nq, s + t * W, nq * 4);
      std::memcpy(k.f32() + t * nk, s + t * W + nq, nk * 4);
      std::memcpy(v.f32() + t * nk, s + t * W + nq + nk, nk * 4);
    }
  }

  void add(Tensor y, const Tensor& x) override {
    float* yp = y.f32();
    const float* xp = x.f32();
    for (int64_t i = 0, n = y.numel(); i < n; ++i) yp[i] += xp[i];
  }

  void embed(const Tensor& table, const int32_t* ids, int64_t vocab_start, Tensor out) override {
    int64_t V = table.dim(0), D = table.dim(1), T = out.dim(0);
    for (int64_t t = 0; t < T; ++t) {
      int64_t r = ids[t] - vocab_start;
      float* o = out.f32() + t * D;
      if (r >= 0 && r < V)
        std::memcpy(o, table.f32() + r * D, D * 4);
      else
        std::memset(o, 0, D * 4);
    }
  }

  void kv_append(const Tensor& k, const Tensor& v, Tensor kc, Tensor vc,
                 const std::vector<AttnSegment>& segs) override {
    int64_t S = kc.dim(1), row = kc.dim(2) * kc.dim(3);
    for (auto& s : segs) {
      AD_CHECK(s.start_pos + s.len <= S, "kv cache overflow: positions up to {} but the cache holds {}",
               s.start_pos + s.len, S);
      size_t off = (static_cast<size_t>(s.slot) * S + s.start_pos) * row;
      std::memcpy(kc.f32() + off, k.f32() + s.row * row, s.len * row * 4);
      std::memcpy(vc.f32() + off, v.f32() + s.row * row, s.len * row * 4);
    }
  }

  // Per segment and head: scores = Q K^T (sgemm over strided cache rows), masked softmax, P V.
  // FLOPs 4 * len * keys * hd per head.
  void attention(const Tensor& q, const Tensor& kc, const Tensor& vc, const std::vector<AttnSegment>& segs,
                 float scale, int64_t window, Tensor out) override {
    int64_t H = q.dim(1), hd = q.dim(2), S = kc.dim(1), Hk = kc.dim(2), group = H / Hk;
    std::vector<float> sc;
    for (auto& s : segs) {
      int64_t keys = s.start_pos + s.len;
      int64_t lo = window > 0 ? std::max<int64_t>(0, s.start_pos - window + 1) : 0;  // first key any row needs
      int64_t nk = keys - lo;
      sc.resize(static_cast<size_t>(s.len * nk));
      for (int64_t h = 0; h < H; ++h) {
        int64_t kh = h / group;
        const float* qp = q.f32() + (s.row * H + h) * hd;
        const float* kp = kc.f32() + ((static_cast<int64_t>(s.slot) * S + lo) * Hk + kh) * hd;
        const float* vp = vc.f32() + ((static_cast<int64_t>(s.slot) * S + lo) * Hk + kh) * hd;
        float* op = out.f32() + (s.row * H + h) * hd;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, s.len, nk, hd, scale, qp, H * hd, kp, Hk * hd, 0.0f,
                    sc.data(), nk);
        for (int64_t i = 0; i < s.len; ++i) {
          int64_t p = s.start_pos + i;
          int64_t first = (window > 0 ? std::max<int64_t>(0, p - window + 1) : 0) - lo, last = p - lo;  // inclusive
          float* r = sc.data() + i * nk;
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
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, s.len, hd, nk, 1.0f, sc.data(), nk, vp, Hk * hd, 0.0f,
                    op, H * hd);
      }
    }
  }

  void argmax(const Tensor& x, int64_t valid, float* max_out, int32_t* idx_out) override {
    int64_t M = x.dim(0), V = x.numel() / M;
    for (int64_t m = 0; m < M; ++m) {
      const float* r = x.f32() + m * V;
      int64_t best = 0;
      for (int64_t j = 1; j < valid; ++j)
        if (r[j] > r[best]) best = j;
      max_out[m] = valid > 0 ? r[best] : -INFINITY;
      idx_out[m] = static_cast<int32_t>(best);
    }
  }
};

}  // namespace

std::unique_ptr<Backend> make_cpu_backend() { return std::make_unique<CpuBackend>(); }

}  // namespace autodist
