#include "model/rope.h"

#include <algorithm>
#include <cmath>

namespace autodist {

RopeTable make_rope_table(const ModelConfig& c) {
  const RopeConfig& r = c.rope;
  int64_t dim = c.head_dim, half = dim / 2;
  RopeTable t;
  t.inv_freq.resize(half);
  for (int64_t i = 0; i < half; ++i) t.inv_freq[i] = 1.0 / std::pow(r.theta, (2.0 * i) / dim);
  switch (r.type) {
    case RopeType::Default:
    case RopeType::Dynamic: break;
    case RopeType::Linear:
      for (auto& f : t.inv_freq) f /= r.factor;
      break;
    case RopeType::Llama3: {
      double lo_wl = r.original_max_position / r.low_freq_factor;
      double hi_wl = r.original_max_position / r.high_freq_factor;
      for (auto& f : t.inv_freq) {
        double wl = 2 * M_PI / f;
        if (wl < hi_wl) continue;
        if (wl > lo_wl) {
          f /= r.factor;
        } else {
          double smooth = (r.original_max_position / wl - r.low_freq_factor) / (r.high_freq_factor - r.low_freq_factor);
          f = (1 - smooth) * f / r.factor + smooth * f;
        }
      }
      break;
    }
    case RopeType::Yarn: {
      auto get_mscale = [](double scale, double m) { return scale <= 1 ? 1.0 : 0.1 * m * std::log(scale) + 1.0; };
      t.attention_factor = r.attention_factor;
      if (t.attention_factor <= 0) {
        if (r.mscale > 0 && r.mscale_all_dim > 0)
          t.attention_factor = get_mscale(r.factor, r.mscale) / get_mscale(r.factor, r.mscale_all_dim);
        else
          t.attention_factor = get_mscale(r.factor, 1.0);
      }
      double omax = r.original_max_position > 0 ? r.original_max_position : c.max_position;
      auto corr_dim = [&](double rot) { return dim * std::log(omax / (rot * 2 * M_PI)) / (2 * std::log(r.theta)); };
      double low = corr_dim(r.beta_fast), high = corr_dim(r.beta_slow);
      if (r.truncate) low = std::floor(low), high = std::ceil(high);
      low = std::max(low, 0.0);
      high = std::min(high, static_cast<double>(dim - 1));
      if (low == high) high += 0.001;
      for (int64_t i = 0; i < half; ++i) {
        double extrap = t.inv_freq[i], interp = extrap / r.factor;
        double ramp = std::clamp((i - low) / (high - low), 0.0, 1.0);
        double ef = 1 - ramp;  // extrapolation weight
        t.inv_freq[i] = interp * (1 - ef) + extrap * ef;
      }
      break;
    }
  }
  return t;
}

std::vector<float> rope_cos_sin(const RopeTable& t, int64_t positions) {
  const int64_t half = static_cast<int64_t>(t.inv_freq.size()), hd = 2 * half;
  std::vector<float> cs(static_cast<size_t>(positions * hd));
  for (int64_t p = 0; p < positions; ++p)
    for (int64_t i = 0; i < half; ++i) {
      double a = static_cast<double>(p) * t.inv_freq[i];
      cs[p * hd + i] = static_cast<float>(std::cos(a) * t.attention_factor);
      cs[p * hd + half + i] = static_cast<float>(std::sin(a) * t.attention_factor);
    }
  return cs;
}

}  // namespace autodist
