// defines: CallLog, RecordingBackend (a Backend that logs every call with its buffers and shapes, then runs it on
//          the cpu backend), RecordingComm (the same for a data-channel communicator)
//
// A call is logged as its name, the address, dtype and shape of every tensor and its scalars: two calls are "the
// same" when a CUDA graph replaying the first would issue the second. begin_step opens a new step, logged by the
// plan's shape only (rows, segments, outputs, micro-batch); the plan's contents (the positions) are kept apart, to
// check that the steps compared really differ in what a replay would feed them.
#pragma once
#include <fmt/format.h>

#include <memory>
#include <string>
#include <vector>

#include "backend/backend.h"
#include "dist/communicator.h"

namespace autodist::test {

struct StepRecord {
  std::string shape;                // "T=.. segs=.. R=.. mb=.."
  int micro_batch = 0;
  std::vector<int32_t> positions;  // the plan's contents
  std::vector<std::string> calls;  // everything from this begin_step to the next
};

struct CallLog {
  std::vector<StepRecord> steps;
  void add(std::string call) {
    if (!steps.empty()) steps.back().calls.push_back(std::move(call));
  }
};

inline std::string arg(const Tensor& t) {
  return fmt::format("{}:{}:{}", t.data, dtype_name(t.dtype), t.shape.str());
}
inline std::string arg(const Tensor* t) { return t ? arg(*t) : "null"; }

class RecordingBackend final : public Backend {
 public:
  RecordingBackend(std::unique_ptr<Backend> inner, CallLog& log) : in_(std::move(inner)), log_(log) {}
  Device device() const override { return in_->device(); }
  std::string name() const override { return in_->name(); }
  void* alloc(size_t n) override { return in_->alloc(n); }
  void free(void* p) override { in_->free(p); }
  void* alloc_host(size_t n) override { return in_->alloc_host(n); }
  void free_host(void* p) override { in_->free_host(p); }
  void to_device(Tensor d, const void* s) override {
    log_.add("to_device " + arg(d));
    in_->to_device(d, s);
  }
  void to_host(void* d, const Tensor& s) override {
    log_.add("to_host " + arg(s));
    in_->to_host(d, s);
  }
  void to_host_async(void* d, const Tensor& s) override {
    log_.add(fmt::format("to_host_async {} {}", d, arg(s)));
    in_->to_host_async(d, s);
  }
  void wait_host() override { in_->wait_host(); }  // a host wait, not device work
  void synchronize() override { in_->synchronize(); }
  int64_t timer_mark() override {
    log_.add("timer_mark");
    return in_->timer_mark();
  }
  int64_t timer_ns(int64_t m) override { return in_->timer_ns(m); }
  void timer_reset() override { in_->timer_reset(); }

  void copy(Tensor d, const Tensor& s) override { rec("copy", d, s), in_->copy(d, s); }
  void fill_zero(Tensor t) override { rec("fill_zero", t), in_->fill_zero(t); }
  void gemm(const Tensor& x, const Tensor& w, const Tensor* b, Tensor y) override {
    log_.add(fmt::format("gemm {} {} {} {}", arg(x), arg(w), arg(b), arg(y)));
    in_->gemm(x, w, b, y);
  }
  void rmsnorm(const Tensor& x, const Tensor& w, float eps, Tensor y) override {
    log_.add(fmt::format("rmsnorm {} {} {} {}", arg(x), arg(w), eps, arg(y)));
    in_->rmsnorm(x, w, eps, y);
  }
  void layernorm(const Tensor& x, const Tensor& w, const Tensor* b, float eps, Tensor y) override {
    log_.add(fmt::format("layernorm {} {} {} {} {}", arg(x), arg(w), arg(b), eps, arg(y)));
    in_->layernorm(x, w, b, eps, y);
  }
  void activation(const Tensor& x, Activation a, Tensor y) override {
    log_.add(fmt::format("activation {} {} {}", arg(x), static_cast<int>(a), arg(y)));
    in_->activation(x, a, y);
  }
  void add_bias(Tensor y, const Tensor& b) override { rec("add_bias", y, b), in_->add_bias(y, b); }
  void add_positions(Tensor x, const Tensor& t, int64_t off) override {
    log_.add(fmt::format("add_positions {} {} {}", arg(x), arg(t), off));
    in_->add_positions(x, t, off);
  }
  void rope(Tensor x, const Tensor& cs) override { rec("rope", x, cs), in_->rope(x, cs); }
  void silu_mul(const Tensor& gu, Tensor o) override { rec("silu_mul", gu, o), in_->silu_mul(gu, o); }
  void split_qkv(const Tensor& a, Tensor q, Tensor k, Tensor v) override {
    rec("split_qkv", a, q, k, v), in_->split_qkv(a, q, k, v);
  }
  void add(Tensor y, const Tensor& x) override { rec("add", y, x), in_->add(y, x); }
  void embed(const Tensor& t, int64_t vs, const Tensor& st, Tensor o) override {
    log_.add(fmt::format("embed {} {} {} {}", arg(t), vs, arg(st), arg(o)));
    in_->embed(t, vs, st, o);
  }
  void kv_append(const Tensor& k, const Tensor& v, Tensor kc, Tensor vc) override {
    rec("kv_append", k, v, kc, vc), in_->kv_append(k, v, kc, vc);
  }
  void attention(const Tensor& q, const Tensor& kc, const Tensor& vc, float sc, int64_t w, Tensor o) override {
    log_.add(fmt::format("attention {} {} {} {} {} {}", arg(q), arg(kc), arg(vc), sc, w, arg(o)));
    in_->attention(q, kc, vc, sc, w, o);
  }
  void gather_rows(const Tensor& x, Tensor o) override { rec("gather_rows", x, o), in_->gather_rows(x, o); }
  void argmax(const Tensor& x, int64_t valid, int64_t vs, Tensor p) override {
    log_.add(fmt::format("argmax {} {} {} {}", arg(x), valid, vs, arg(p)));
    in_->argmax(x, valid, vs, p);
  }
  void pick(const Tensor& p, Tensor t, Tensor st) override { rec("pick", p, t, st), in_->pick(p, t, st); }
  void gather_vocab(const Tensor& p, Tensor o) override { rec("gather_vocab", p, o), in_->gather_vocab(p, o); }
  void sample(Tensor l, const Tensor& b, const SamplingOptions& o, Tensor t, Tensor st) override {
    log_.add(fmt::format("sample {} {} {} {} {} {} {} {}", arg(l), arg(b), o.temperature, o.top_k, o.top_p, o.seed,
                         arg(t), arg(st)));
    in_->sample(l, b, o, t, st);
  }

 protected:
  void on_prepare(const StepLimits& lim) override { in_->prepare(lim); }
  void on_begin_step(const StepPlan& p) override {
    StepRecord s;
    s.shape = fmt::format("T={} segs={} R={} mb={}", p.rows(), p.segs.size(), p.outputs(), p.micro_batch);
    s.micro_batch = p.micro_batch;
    s.positions = p.pos;
    log_.steps.push_back(std::move(s));
    in_->begin_step(p);
  }

 private:
  template <typename... T>
  void rec(const char* name, const T&... t) {
    std::string s = name;
    ((s += " " + arg(t)), ...);
    log_.add(std::move(s));
  }
  std::unique_ptr<Backend> in_;
  CallLog& log_;
};

class RecordingComm final : public dist::Communicator {
 public:
  RecordingComm(std::unique_ptr<dist::Communicator> inner, CallLog& log, std::string name)
      : in_(std::move(inner)), log_(log), name_(std::move(name)) {}
  int rank() const override { return in_->rank(); }
  int size() const override { return in_->size(); }
  std::string backend_name() const override { return in_->backend_name(); }
  std::unique_ptr<dist::Communicator> split(int c, int k) override { return in_->split(c, k); }
  using dist::Communicator::all_reduce;
  void all_reduce(const Tensor& s, Tensor r, dist::ReduceOp op) override {
    rec("all_reduce", s.data == r.data ? arg(r) : arg(s) + " " + arg(r)), in_->all_reduce(s, r, op);
  }
  void all_gather(const Tensor& s, Tensor r) override { rec("all_gather", arg(s) + " " + arg(r)), in_->all_gather(s, r); }
  void reduce_scatter(const Tensor& s, Tensor r, dist::ReduceOp op) override {
    rec("reduce_scatter", arg(s) + " " + arg(r)), in_->reduce_scatter(s, r, op);
  }
  void broadcast(Tensor b, int root) override { rec("broadcast", arg(b)), in_->broadcast(b, root); }
  void reduce(const Tensor& s, Tensor r, dist::ReduceOp op, int root) override {
    rec("reduce", arg(s)), in_->reduce(s, r, op, root);
  }
  void gather(const Tensor& s, Tensor r, int root) override { rec("gather", arg(s)), in_->gather(s, r, root); }
  void scatter(const Tensor& s, Tensor r, int root) override { rec("scatter", arg(r)), in_->scatter(s, r, root); }
  void send(const Tensor& b, int peer, int tag) override {
    rec("send", fmt::format("{} {} {}", arg(b), peer, tag)), in_->send(b, peer, tag);
  }
  void recv(Tensor b, int peer, int tag) override {
    rec("recv", fmt::format("{} {} {}", arg(b), peer, tag)), in_->recv(b, peer, tag);
  }
  void sendrecv(const Tensor& s, int dst, Tensor r, int src, int tag) override {
    rec("sendrecv", fmt::format("{} {} {} {} {}", arg(s), dst, arg(r), src, tag)), in_->sendrecv(s, dst, r, src, tag);
  }
  std::unique_ptr<dist::CommRequest> isend(const Tensor& b, int peer, int tag) override {
    rec("isend", fmt::format("{} {} {}", arg(b), peer, tag));
    return in_->isend(b, peer, tag);
  }
  std::unique_ptr<dist::CommRequest> irecv(Tensor b, int peer, int tag) override {
    rec("irecv", fmt::format("{} {} {}", arg(b), peer, tag));
    return in_->irecv(b, peer, tag);
  }
  void barrier() override { in_->barrier(); }
  bool all_gather_idle(const Tensor& s, Tensor r, double t) override { return in_->all_gather_idle(s, r, t); }

 private:
  void rec(const char* op, const std::string& args) { log_.add(name_ + "." + op + " " + args); }
  std::unique_ptr<dist::Communicator> in_;
  CallLog& log_;
  std::string name_;
};

}  // namespace autodist::test
