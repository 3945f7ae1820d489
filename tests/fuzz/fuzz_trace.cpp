// fuzz_trace: the trace reader on every value a trace can hold, not on random HDF5 metadata. HDF5 itself hangs on
// some corrupt files (an endless walk of a corrupt global heap inside H5Aread was the first finding here), which no
// check of ours short of re-implementing the format would prevent; so the input does not give the file's bytes.
// It gives, through FuzzedDataProvider:
//   1. one or two runs (attributes of each type with any name and value, events, metrics, comm rows), appended with
//      append_run as autodist writes them, then read back with read_trace: what is read must be what was written;
//   2. then bytes that overwrite the raw data of every dataset in the file (all the rows' fields: numbers of any
//      bit pattern, phase/op/dtype strings without their NUL), read again: the reader must not crash or over-read;
//   3. then a cut of the file at some length, or bytes that are not HDF5 (no signature where HDF5 looks for one):
//      the reader must refuse them with autodist::Error.
#include <fuzzer/FuzzedDataProvider.h>
#include <hdf5.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>

#include "fuzz_util.h"
#include "trace/h5.h"

using namespace autodist::trace;

namespace {

std::string text(FuzzedDataProvider& in, size_t max) {
  std::string s = in.ConsumeRandomLengthString(max);
  s.erase(std::remove(s.begin(), s.end(), '\0'), s.end());  // C strings in HDF5: a NUL would end the value
  return s;
}

RunRecord make_run(FuzzedDataProvider& in) {
  RunRecord r;
  for (int n = in.ConsumeIntegralInRange(0, 6); n > 0; --n) {
    std::string name = text(in, 24);
    switch (in.ConsumeIntegralInRange(0, 2)) {
      case 0: r.set(name, in.ConsumeIntegral<int64_t>()); break;
      case 1: r.set(name, in.ConsumeFloatingPoint<double>()); break;
      default: r.set(name, text(in, 64));
    }
  }
  for (int n = in.ConsumeIntegralInRange(0, 4); n > 0; --n) {
    Event e;
    e.rank = in.ConsumeIntegral<int32_t>();
    std::string ph = text(in, sizeof(e.phase) - 1);  // Event::make's limit
    std::memcpy(e.phase, ph.data(), ph.size());
    e.layer = in.ConsumeIntegral<int32_t>(), e.chunk = in.ConsumeIntegral<int32_t>();
    e.step = in.ConsumeIntegral<int32_t>(), e.micro_batch = in.ConsumeIntegral<int32_t>();
    e.t_start_ns = in.ConsumeIntegral<int64_t>(), e.t_end_ns = in.ConsumeIntegral<int64_t>();
    e.bytes = in.ConsumeIntegral<int64_t>();
    r.events.push_back(e);
  }
  for (int n = in.ConsumeIntegralInRange(0, 3); n > 0; --n) {
    MetricRow m;
    m.rank = in.ConsumeIntegral<int32_t>();
    for (double* d : {&m.load_ms, &m.ttft_ms, &m.tpot_ms, &m.tokens_per_s, &m.prefill_ms, &m.sync_ms, &m.decode_ms,
                      &m.total_ms})
      *d = in.ConsumeFloatingPoint<double>();
    m.output_tokens = in.ConsumeIntegral<int64_t>(), m.bytes_read = in.ConsumeIntegral<int64_t>();
    r.metrics.push_back(m);
  }
  r.has_comm = in.ConsumeBool();
  for (int n = r.has_comm ? in.ConsumeIntegralInRange(0, 3) : 0; n > 0; --n) {
    CommRow c;
    c.op = text(in, 26);  // past 24: append_run refuses it
    c.bytes = in.ConsumeIntegral<int64_t>(), c.count = in.ConsumeIntegral<int64_t>();
    c.dtype = text(in, 9);
    c.time_us = in.ConsumeFloatingPoint<double>(), c.algbw = in.ConsumeFloatingPoint<double>();
    c.busbw = in.ConsumeFloatingPoint<double>(), c.wrong = in.ConsumeIntegral<int64_t>();
    r.comm.push_back(c);
  }
  return r;
}

bool same(double a, double b) { return a == b || (std::isnan(a) && std::isnan(b)); }
bool same(const AttrValue& a, const AttrValue& b) {
  if (a.index() != b.index()) return false;
  if (auto* d = std::get_if<double>(&a)) return same(*d, std::get<double>(b));
  return a == b;
}

// What read_trace returned for run `v` is what `r` wrote.
void check_same(const RunRecord& r, const RunView& v) {
  bool ok = v.attrs.size() == r.attrs.size() && v.events.size() == r.events.size() &&
            v.metrics.size() == r.metrics.size() && v.comm.size() == r.comm.size();
  for (const auto& [k, val] : r.attrs) ok = ok && v.attrs.count(k) && same(v.attrs.at(k), val);
  for (size_t i = 0; ok && i < r.events.size(); ++i) {
    const Event &a = r.events[i], &b = v.events[i];
    ok = a.rank == b.rank && std::strcmp(a.phase, b.phase) == 0 && a.layer == b.layer && a.chunk == b.chunk &&
         a.step == b.step && a.micro_batch == b.micro_batch && a.t_start_ns == b.t_start_ns &&
         a.t_end_ns == b.t_end_ns && a.bytes == b.bytes;
  }
  for (size_t i = 0; ok && i < r.metrics.size(); ++i) {
    const MetricRow &a = r.metrics[i], &b = v.metrics[i];
    ok = a.rank == b.rank && same(a.load_ms, b.load_ms) && same(a.ttft_ms, b.ttft_ms) && same(a.tpot_ms, b.tpot_ms) &&
         same(a.tokens_per_s, b.tokens_per_s) && same(a.prefill_ms, b.prefill_ms) && same(a.sync_ms, b.sync_ms) &&
         same(a.decode_ms, b.decode_ms) && same(a.total_ms, b.total_ms) && a.output_tokens == b.output_tokens &&
         a.bytes_read == b.bytes_read;
  }
  for (size_t i = 0; ok && i < r.comm.size(); ++i) {
    const CommRow &a = r.comm[i], &b = v.comm[i];
    ok = a.op == b.op && a.bytes == b.bytes && a.count == b.count && a.dtype == b.dtype && same(a.time_us, b.time_us) &&
         same(a.algbw, b.algbw) && same(a.busbw, b.busbw) && a.wrong == b.wrong;
  }
  autodist::fuzz::fuzz_assert(ok, "a value read back differs from the one written");
}

// Overwrites the stored rows of every dataset of every run with the input's bytes.
void overwrite_rows(const std::string& path, FuzzedDataProvider& in) {
  struct Span { haddr_t off; hsize_t n; };
  std::vector<Span> spans;
  hid_t f = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  autodist::fuzz::fuzz_assert(f >= 0, "the file just written opens");
  H5Ovisit2(f, H5_INDEX_NAME, H5_ITER_INC,
           [](hid_t root, const char* name, const H5O_info_t* info, void* out) -> herr_t {
             if (info->type != H5O_TYPE_DATASET) return 0;
             hid_t ds = H5Dopen2(root, name, H5P_DEFAULT);
             haddr_t off = H5Dget_offset(ds);
             hsize_t n = H5Dget_storage_size(ds);
             if (off != HADDR_UNDEF && n > 0) static_cast<std::vector<Span>*>(out)->push_back({off, n});
             H5Dclose(ds);
             return 0;
           },
           &spans, H5O_INFO_BASIC);
  H5Fclose(f);
  std::FILE* fp = std::fopen(path.c_str(), "r+b");
  autodist::fuzz::fuzz_assert(fp != nullptr, "the file just written opens for writing");
  for (const Span& s : spans) {
    std::vector<uint8_t> bytes = in.ConsumeBytes<uint8_t>(s.n);
    std::fseek(fp, static_cast<long>(s.off), SEEK_SET);
    std::fwrite(bytes.data(), 1, bytes.size(), fp);
  }
  std::fclose(fp);
}

// HDF5 looks for its signature at 0, 512, 1024, 2048, ...
bool has_hdf5_signature(const std::string& b) {
  static const std::string sig("\x89HDF\r\n\x1a\n", 8);
  for (size_t at = 0; at < b.size(); at = at ? at * 2 : 512)
    if (b.compare(at, 8, sig) == 0) return true;
  return false;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace autodist::fuzz;
  FuzzedDataProvider in(data, size);
  FuzzDir& d = FuzzDir::get();
  d.clear();
  const std::string path = d.file("trace.h5");
  if (in.ConsumeIntegralInRange(0, 7) == 0) {  // not HDF5 at all
    std::string bytes = in.ConsumeRemainingBytesAsString();
    if (has_hdf5_signature(bytes)) return 0;
    d.write("trace.h5", bytes);
    fuzz_assert(!expected([&] { read_trace(path); }), "a file that is not HDF5 is refused");
    return 0;
  }
  std::vector<RunRecord> runs;
  for (int n = in.ConsumeIntegralInRange(1, 2); n > 0; --n) {
    RunRecord r = make_run(in);
    if (!expected([&] { append_run(path, r); })) continue;  // e.g. an empty attribute name, an op past 24 bytes
    runs.push_back(std::move(r));
  }
  if (runs.empty()) return 0;
  std::vector<RunView> back = read_trace(path);  // a file it just wrote: any error is a finding
  fuzz_assert(back.size() == runs.size(), "every run appended is read back");
  for (size_t i = 0; i < runs.size(); ++i) check_same(runs[i], back[i]);

  overwrite_rows(path, in);
  for (const RunView& v : read_trace(path))
    for (const CommRow& c : v.comm)
      fuzz_assert(c.op.size() <= 24 && c.dtype.size() <= 8, "comm strings within the file's fixed widths");
  const auto full = std::filesystem::file_size(path);
  const auto cut = in.ConsumeIntegralInRange<uintmax_t>(0, full - 1);
  std::filesystem::resize_file(path, cut);
  fuzz_assert(!expected([&] { read_trace(path); }), "a cut file is refused");
  return 0;
}
