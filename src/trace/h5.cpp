// defines: append_run, check_trace, read_trace (trace.h5 per docs/trace-format.md, on the HDF5 C API)
#include "trace/h5.h"

#include <fcntl.h>
#include <hdf5.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstring>
#include <filesystem>
#include <initializer_list>

#include "core/error.h"
#include "io/temp_files.h"

namespace autodist::trace {

void RunRecord::set(const std::string& name, AttrValue value) {
  for (auto& [n, v] : attrs)
    if (n == name) {
      v = std::move(value);
      return;
    }
  attrs.emplace_back(name, std::move(value));
}

namespace {

namespace fs = std::filesystem;

constexpr const char* kFormat = "autodist-trace";
constexpr int64_t kFormatVersion = 1;

// The most specific message on HDF5's error stack (the library's own printing is turned off).
std::string h5_error() {
  std::string msg;
  H5Ewalk2(
      H5E_DEFAULT, H5E_WALK_UPWARD,
      [](unsigned n, const H5E_error2_t* e, void* out) -> herr_t {
        if (n == 0 && e->desc) *static_cast<std::string*>(out) = e->desc;
        return 0;
      },
      &msg);
  H5Eclear2(H5E_DEFAULT);
  return msg.empty() ? "unknown HDF5 error" : msg;
}

// Closes an HDF5 id on scope exit, so an exception never leaks a handle (or an open file).
class H {
 public:
  H() = default;
  H(hid_t id, herr_t (*close)(hid_t)) : id_(id), close_(close) {}
  H(H&& o) noexcept : id_(std::exchange(o.id_, -1)), close_(o.close_) {}
  H& operator=(H&&) = delete;
  ~H() {
    if (id_ >= 0) close_(id_);
  }
  operator hid_t() const { return id_; }
  hid_t release() { return std::exchange(id_, -1); }

 private:
  hid_t id_ = -1;
  herr_t (*close_)(hid_t) = nullptr;
};

// Every HDF5 call goes through these: a negative return becomes an Error naming the file.
struct Ctx {
  std::string path;
  H make(hid_t id, herr_t (*close)(hid_t), const char* what) const {
    if (id < 0) AD_FAIL("{}: HDF5 failed to {}: {}", path, what, h5_error());
    return H(id, close);
  }
  void check(herr_t r, const char* what) const {
    if (r < 0) AD_FAIL("{}: HDF5 failed to {}: {}", path, what, h5_error());
  }
};

H fixed_string(const Ctx& c, size_t n, H5T_str_t pad) {
  H t = c.make(H5Tcopy(H5T_C_S1), H5Tclose, "copy a string type");
  c.check(H5Tset_size(t, n), "size a string type");
  c.check(H5Tset_strpad(t, pad), "pad a string type");
  return t;
}

H vlen_utf8(const Ctx& c) {
  H t = c.make(H5Tcopy(H5T_C_S1), H5Tclose, "copy a string type");
  c.check(H5Tset_size(t, H5T_VARIABLE), "make a variable-length string type");
  c.check(H5Tset_cset(t, H5T_CSET_UTF8), "make a UTF-8 string type");
  return t;
}

// A compound row: `mem` is the C struct's layout, `file` the same fields packed in spec order with
// little-endian types. HDF5 converts between them by field name.
struct Field {
  const char* name;
  size_t mem_offset;
  hid_t mem_type, file_type;
};
struct Compound {
  H mem, file;
};
Compound compound(const Ctx& c, size_t mem_size, std::initializer_list<Field> fields) {
  size_t file_size = 0;
  for (const auto& f : fields) file_size += H5Tget_size(f.file_type);
  Compound t{c.make(H5Tcreate(H5T_COMPOUND, mem_size), H5Tclose, "create a compound type"),
             c.make(H5Tcreate(H5T_COMPOUND, file_size), H5Tclose, "create a compound type")};
  size_t off = 0;
  for (const auto& f : fields) {
    c.check(H5Tinsert(t.mem, f.name, f.mem_offset, f.mem_type), "build a compound type");
    c.check(H5Tinsert(t.file, f.name, off, f.file_type), "build a compound type");
    off += H5Tget_size(f.file_type);
  }
  return t;
}

#define AD_INT32(S, m) Field{#m, offsetof(S, m), H5T_NATIVE_INT32, H5T_STD_I32LE}
#define AD_INT64(S, m) Field{#m, offsetof(S, m), H5T_NATIVE_INT64, H5T_STD_I64LE}
#define AD_F64(S, m) Field{#m, offsetof(S, m), H5T_NATIVE_DOUBLE, H5T_IEEE_F64LE}

// In memory strings are NUL-terminated (Event::phase holds at most 15 chars); in the file they are
// NUL-padded to the spec's width.
Compound event_type(const Ctx& c) {
  H phase_mem = fixed_string(c, sizeof(Event::phase), H5T_STR_NULLTERM);
  H phase_file = fixed_string(c, 16, H5T_STR_NULLPAD);
  return compound(c, sizeof(Event),
                  {AD_INT32(Event, rank), Field{"phase", offsetof(Event, phase), phase_mem, phase_file},
                   AD_INT32(Event, layer), AD_INT32(Event, chunk), AD_INT32(Event, step),
                   AD_INT32(Event, micro_batch), AD_INT64(Event, t_start_ns), AD_INT64(Event, t_end_ns),
                   AD_INT64(Event, bytes)});
}

Compound metric_type(const Ctx& c) {
  using M = MetricRow;
  return compound(c, sizeof(M),
                  {AD_INT32(M, rank), AD_F64(M, load_ms), AD_F64(M, ttft_ms), AD_F64(M, tpot_ms),
                   AD_F64(M, tokens_per_s), AD_F64(M, prefill_ms), AD_F64(M, sync_ms), AD_F64(M, decode_ms),
                   AD_F64(M, total_ms), AD_INT64(M, output_tokens), AD_INT64(M, bytes_read)});
}

// CommRow holds std::strings; HDF5 needs a plain struct (one spare byte for the NUL).
struct CommRec {
  char op[25] = {0};
  int64_t bytes = 0, count = 0;
  char dtype[9] = {0};
  double time_us = 0, algbw = 0, busbw = 0;
  int64_t wrong = -1;
};

Compound comm_type(const Ctx& c) {
  H op_mem = fixed_string(c, sizeof(CommRec::op), H5T_STR_NULLTERM);
  H op_file = fixed_string(c, 24, H5T_STR_NULLPAD);
  H dt_mem = fixed_string(c, sizeof(CommRec::dtype), H5T_STR_NULLTERM);
  H dt_file = fixed_string(c, 8, H5T_STR_NULLPAD);
  return compound(c, sizeof(CommRec),
                  {Field{"op", offsetof(CommRec, op), op_mem, op_file}, AD_INT64(CommRec, bytes),
                   AD_INT64(CommRec, count), Field{"dtype", offsetof(CommRec, dtype), dt_mem, dt_file},
                   AD_F64(CommRec, time_us), AD_F64(CommRec, algbw), AD_F64(CommRec, busbw),
                   AD_INT64(CommRec, wrong)});
}

#undef AD_INT32
#undef AD_INT64
#undef AD_F64

// ---- attributes

void write_attr(const Ctx& c, hid_t obj, const std::string& name, const AttrValue& v) {
  H space = c.make(H5Screate(H5S_SCALAR), H5Sclose, "create a scalar dataspace");
  auto create = [&](hid_t type) {
    return c.make(H5Acreate2(obj, name.c_str(), type, space, H5P_DEFAULT, H5P_DEFAULT), H5Aclose,
                  "create an attribute (duplicate name?)");
  };
  if (auto* i = std::get_if<int64_t>(&v)) {
    H a = create(H5T_STD_I64LE);
    c.check(H5Awrite(a, H5T_NATIVE_INT64, i), "write an int64 attribute");
  } else if (auto* d = std::get_if<double>(&v)) {
    H a = create(H5T_IEEE_F64LE);
    c.check(H5Awrite(a, H5T_NATIVE_DOUBLE, d), "write a float64 attribute");
  } else {
    H type = vlen_utf8(c);
    H a = create(type);
    const char* s = std::get<std::string>(v).c_str();
    c.check(H5Awrite(a, type, &s), "write a string attribute");
  }
}

AttrValue read_attr(const Ctx& c, hid_t obj, const std::string& name) {
  H a = c.make(H5Aopen(obj, name.c_str(), H5P_DEFAULT), H5Aclose, "open an attribute");
  H type = c.make(H5Aget_type(a), H5Tclose, "get an attribute's type");
  switch (H5Tget_class(type)) {
    case H5T_INTEGER: {
      int64_t v = 0;
      c.check(H5Aread(a, H5T_NATIVE_INT64, &v), "read an integer attribute");
      return v;
    }
    case H5T_FLOAT: {
      double v = 0;
      c.check(H5Aread(a, H5T_NATIVE_DOUBLE, &v), "read a float attribute");
      return v;
    }
    case H5T_STRING: {
      // Read with the stored type itself: no charset conversion, fixed or variable length.
      if (H5Tis_variable_str(type) > 0) {
        char* s = nullptr;
        c.check(H5Aread(a, type, &s), "read a string attribute");
        std::string out = s ? s : "";
        H5free_memory(s);
        return out;
      }
      std::string buf(H5Tget_size(type), '\0');
      c.check(H5Aread(a, type, buf.data()), "read a string attribute");
      return buf.substr(0, buf.find('\0'));
    }
    default:
      AD_FAIL("{}: attribute '{}' is neither a number nor a string", c.path, name);
  }
}

std::vector<std::string> attr_names(const Ctx& c, hid_t obj) {
  std::vector<std::string> names;
  hsize_t idx = 0;
  c.check(H5Aiterate2(
              obj, H5_INDEX_NAME, H5_ITER_INC, &idx,
              [](hid_t, const char* name, const H5A_info_t*, void* out) -> herr_t {
                static_cast<std::vector<std::string>*>(out)->push_back(name);
                return 0;
              },
              &names),
          "list attributes");
  return names;
}

// Refuses anything but an autodist trace, before any run is read or written.
void require_trace(const Ctx& c, hid_t file) {
  bool ok = H5Aexists(file, "format") > 0;
  if (ok) {
    AttrValue f = read_attr(c, file, "format");
    ok = std::holds_alternative<std::string>(f) && std::get<std::string>(f) == kFormat;
  }
  if (!ok) AD_FAIL("{} is not an autodist trace (no 'format' attribute = autodist-trace)", c.path);
  if (H5Aexists(file, "format_version") > 0) {
    AttrValue v = read_attr(c, file, "format_version");
    if (!std::holds_alternative<int64_t>(v) || std::get<int64_t>(v) > kFormatVersion)
      AD_FAIL("{}: unsupported trace format_version (this build reads version {}); use a newer autodist",
              c.path, kFormatVersion);
  }
}

// Refuses a file that is not HDF5 at all with the same message family as a foreign HDF5 file.
void require_hdf5(const Ctx& c, const std::string& file) {
  htri_t is = H5Fis_hdf5(file.c_str());
  if (is < 0) AD_FAIL("cannot read {}: {} ({})", c.path, std::strerror(errno), h5_error());
  if (is == 0) AD_FAIL("{} is not an autodist trace (not an HDF5 file)", c.path);
}

// ---- datasets

template <typename Row>
void write_table(const Ctx& c, hid_t group, const char* name, const Compound& t, const std::vector<Row>& rows) {
  hsize_t n = rows.size();  // 0 rows is a valid, empty 1-D dataset
  H space = c.make(H5Screate_simple(1, &n, nullptr), H5Sclose, "create a dataspace");
  H ds = c.make(H5Dcreate2(group, name, t.file, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), H5Dclose,
                "create a dataset");
  if (n > 0) c.check(H5Dwrite(ds, t.mem, H5S_ALL, H5S_ALL, H5P_DEFAULT, rows.data()), "write a dataset");
}

template <typename Row>
std::vector<Row> read_table(const Ctx& c, hid_t group, const char* name, const Compound& t) {
  H ds = c.make(H5Dopen2(group, name, H5P_DEFAULT), H5Dclose, "open a dataset");
  H space = c.make(H5Dget_space(ds), H5Sclose, "get a dataspace");
  hssize_t n = H5Sget_simple_extent_npoints(space);
  c.check(n < 0 ? -1 : 0, "size a dataset");
  std::vector<Row> rows(static_cast<size_t>(n));
  if (n > 0) c.check(H5Dread(ds, t.mem, H5S_ALL, H5S_ALL, H5P_DEFAULT, rows.data()), "read a dataset");
  return rows;
}

std::string write_run(const Ctx& c, hid_t file, const RunRecord& run) {
  H runs = H5Lexists(file, "runs", H5P_DEFAULT) > 0
               ? c.make(H5Gopen2(file, "runs", H5P_DEFAULT), H5Gclose, "open /runs")
               : c.make(H5Gcreate2(file, "runs", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), H5Gclose, "create /runs");
  H5G_info_t info;
  c.check(H5Gget_info(runs, &info), "count the runs");
  std::string name = fmt::format("{:04d}", info.nlinks);

  // Track attribute creation order so h5py/h5dump list them as written.
  H gcpl = c.make(H5Pcreate(H5P_GROUP_CREATE), H5Pclose, "create a property list");
  c.check(H5Pset_attr_creation_order(gcpl, H5P_CRT_ORDER_TRACKED | H5P_CRT_ORDER_INDEXED),
          "track attribute order");
  H g = c.make(H5Gcreate2(runs, name.c_str(), H5P_DEFAULT, gcpl, H5P_DEFAULT), H5Gclose,
               "create the run group (does it exist already?)");
  for (const auto& [k, v] : run.attrs) write_attr(c, g, k, v);

  write_table(c, g, "events", event_type(c), run.events);
  write_table(c, g, "metrics", metric_type(c), run.metrics);
  if (run.has_comm) {
    std::vector<CommRec> recs;
    for (const auto& r : run.comm) {
      AD_CHECK(r.op.size() <= 24 && r.dtype.size() <= 8,
               "trace comm row: op '{}' (max 24 bytes) or dtype '{}' (max 8 bytes) too long", r.op, r.dtype);
      CommRec x;
      std::memcpy(x.op, r.op.data(), r.op.size());
      std::memcpy(x.dtype, r.dtype.data(), r.dtype.size());
      x.bytes = r.bytes, x.count = r.count, x.time_us = r.time_us, x.algbw = r.algbw, x.busbw = r.busbw,
      x.wrong = r.wrong;
      recs.push_back(x);
    }
    write_table(c, g, "comm", comm_type(c), recs);
  }
  return name;
}

// File access: H5Fclose fails if any object were left open (so "closed" means flushed to disk).
H file_access(const Ctx& c) {
  H fapl = c.make(H5Pcreate(H5P_FILE_ACCESS), H5Pclose, "create a property list");
  c.check(H5Pset_fclose_degree(fapl, H5F_CLOSE_SEMI), "set the close degree");
  return fapl;
}

// Removes the temp file unless the rename went through.
struct TempFile {
  std::string path;
  bool keep = false;
  ~TempFile() {
    if (!keep) ::unlink(path.c_str());
  }
};

}  // namespace

std::string append_run(const std::string& path, const RunRecord& run) {
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  const Ctx c{path};
  // One writer at a time from copy to rename: two runs appending at once would each rename their own
  // copy over the file, and the first one's run would be lost.
  const std::string dir = fs::path(path).parent_path().string();
  io::FileLock lock(io::output_lock_path(dir), fmt::format("cannot write trace {}", path));
  io::sweep_stale_temp_files(dir.empty() ? "." : dir);
  std::error_code ec;
  const bool exists = fs::exists(path, ec);
  if (exists) require_hdf5(c, path);

  // Create the temp file ourselves first: an unwritable directory gets errno, not an HDF5 stack.
  TempFile tmp{io::temp_path(path)};
  int fd = ::open(tmp.path.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0644);
  if (fd < 0) {
    tmp.keep = true;  // not ours to remove
    AD_FAIL("cannot write trace {}: cannot create {}: {}", path, tmp.path, std::strerror(errno));
  }
  ::close(fd);
  if (exists) {
    fs::copy_file(path, tmp.path, fs::copy_options::overwrite_existing, ec);
    if (ec) AD_FAIL("cannot copy trace {} to {}: {}", path, tmp.path, ec.message());
  }

  std::string name;
  {
    H fapl = file_access(c);
    H file = exists ? c.make(H5Fopen(tmp.path.c_str(), H5F_ACC_RDWR, fapl), H5Fclose, "open the trace copy")
                    : c.make(H5Fcreate(tmp.path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl), H5Fclose,
                             "create the trace");
    if (exists) {
      require_trace(c, file);
    } else {
      write_attr(c, file, "format", std::string(kFormat));
      write_attr(c, file, "format_version", kFormatVersion);
    }
    name = write_run(c, file, run);
    c.check(H5Fclose(file.release()), "close the trace");
  }

  fd = ::open(tmp.path.c_str(), O_RDWR);
  if (fd < 0 || ::fsync(fd) != 0) {
    int e = errno;
    if (fd >= 0) ::close(fd);
    AD_FAIL("cannot fsync {}: {}", tmp.path, std::strerror(e));
  }
  ::close(fd);
  if (std::rename(tmp.path.c_str(), path.c_str()) != 0)
    AD_FAIL("cannot rename {} to {}: {}", tmp.path, path, std::strerror(errno));
  tmp.keep = true;
  return name;
}

namespace {

// The trace at c.path opened read-only, refused unless it is an autodist trace.
H open_trace(const Ctx& c) {
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  std::error_code ec;
  if (!fs::exists(c.path, ec)) AD_FAIL("cannot read trace {}: no such file", c.path);
  require_hdf5(c, c.path);
  H fapl = file_access(c);
  H file = c.make(H5Fopen(c.path.c_str(), H5F_ACC_RDONLY, fapl), H5Fclose, "open the trace");
  require_trace(c, file);
  return file;
}

// /runs (-1 when the trace has none yet) and how many runs it holds.
std::pair<H, hsize_t> open_runs(const Ctx& c, hid_t file) {
  if (H5Lexists(file, "runs", H5P_DEFAULT) <= 0) return {H(), 0};
  H runs = c.make(H5Gopen2(file, "runs", H5P_DEFAULT), H5Gclose, "open /runs");
  H5G_info_t info;
  c.check(H5Gget_info(runs, &info), "count the runs");
  return {std::move(runs), info.nlinks};
}

}  // namespace

void check_trace(const std::string& path) {
  const Ctx c{path};
  H file = open_trace(c);
  open_runs(c, file);
}

std::vector<RunView> read_trace(const std::string& path) {
  const Ctx c{path};
  H file = open_trace(c);
  std::vector<RunView> out;
  auto [runs, n_runs] = open_runs(c, file);
  if (runs < 0) return out;
  Compound ev = event_type(c), me = metric_type(c), co = comm_type(c);
  for (hsize_t i = 0; i < n_runs; ++i) {
    // Names are zero-padded, so name order is write order.
    char buf[256] = {0};
    c.check(H5Lget_name_by_idx(runs, ".", H5_INDEX_NAME, H5_ITER_INC, i, buf, sizeof buf, H5P_DEFAULT) < 0 ? -1 : 0,
            "list the runs");
    RunView v;
    v.group = buf;
    H g = c.make(H5Gopen2(runs, buf, H5P_DEFAULT), H5Gclose, "open a run group");
    for (const auto& a : attr_names(c, g)) v.attrs[a] = read_attr(c, g, a);
    v.events = read_table<Event>(c, g, "events", ev);
    v.metrics = read_table<MetricRow>(c, g, "metrics", me);
    if (H5Lexists(g, "comm", H5P_DEFAULT) > 0)
      for (const auto& r : read_table<CommRec>(c, g, "comm", co))
        v.comm.push_back({r.op, r.bytes, r.count, r.dtype, r.time_us, r.algbw, r.busbw, r.wrong});
    out.push_back(std::move(v));
  }
  return out;
}

}  // namespace autodist::trace
