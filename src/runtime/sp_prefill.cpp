// SP+PP: a long prompt cut into chunks that flow through the layer stages (stage s works on chunk
// c while stage s-1 works on chunk c+1), then a KV-cache sync so every rank holds every layer's
// KV and decodes redundantly with no communication.
//
// Sync strategies over the N pipeline ranks (B = one stage's KV bytes for the prompt):
//   pairwise  every rank sends its block to every other rank at once: N(N-1) messages, each rank
//             sends (N-1) B and receives the rest; receives are posted before the prefill starts.
//   ring      N-1 rounds; in round r rank s passes block (s - r) mod N to s+1: each link carries
//             one block per round, (N-1) B per rank in total, fewer simultaneous transfers.
// The sync runs on its own thread and starts sending this rank's block as soon as its layers have
// processed the last chunk, overlapping the prefill of later stages.
#include <algorithm>
#include <cmath>
#include <thread>

#include "core/clock.h"
#include "core/error.h"
#include "core/log.h"
#include "dist/mpi_env.h"
#include "runtime/engine.h"
#include "runtime/sequences.h"

namespace autodist {
namespace {

// The KV of one layer for positions [0, L) of a slot: a contiguous block of the cache.
Tensor kv_block(const Buffer& cache_layer, int32_t slot, int64_t L) {
  const Tensor& c = cache_layer.t();
  int64_t row = c.dim(2) * c.dim(3);
  Tensor t = c;
  t.data = c.ptr<float>() + static_cast<int64_t>(slot) * c.dim(1) * row;
  t.shape = Shape{L * row};
  return t;
}

}  // namespace

void Engine::kv_sync(int32_t slot, int64_t L, const std::vector<StageRange>& parts) {
  dist::Communicator& comm = *sync_comm_;
  const int N = comm.size(), me = comm.rank();
  auto layer_tag = [](int64_t layer, int kv) { return static_cast<int>(16 + layer * 2 + kv); };
  auto block_bytes = [&](int q) {
    return (parts[q].last - parts[q].first) * 2 * kv_block(cache_.k[0], slot, L).nbytes();
  };
  struct Pending {
    std::unique_ptr<dist::CommRequest> req;
    int peer;
    bool send;
  };
  auto wait_own = [&] {
    std::unique_lock<std::mutex> lk(sync_mu_);
    sync_cv_.wait(lk, [&] { return own_kv_ready_; });
  };
  // Posts sends (or receives) of every layer of stage q's block to/from peer.
  auto post_block = [&](int q, int peer, bool send, std::vector<Pending>& out) {
    for (int64_t l = parts[q].first; l < parts[q].last; ++l)
      for (int kv = 0; kv < 2; ++kv) {
        Tensor b = kv_block(kv ? cache_.v[l - layer_offset_] : cache_.k[l - layer_offset_], slot, L);
        out.push_back({send ? comm.isend(b, peer, layer_tag(l, kv)) : comm.irecv(b, peer, layer_tag(l, kv)), peer, send});
      }
  };
  int64_t t_sync0 = now_ns();
  if (opt_.kv_sync == "pairwise") {
    std::vector<Pending> recvs, sends;
    for (int q = 0; q < N; ++q)
      if (q != me) post_block(q, q, false, recvs);
    wait_own();
    int64_t t0 = now_ns();
    for (int q = 0; q < N; ++q)
      if (q != me) post_block(me, q, true, sends);
    for (auto& p : sends) p.req->wait();
    trace_.add("sync_send", t0, now_ns(), block_bytes(me) * (N - 1));
    for (int q = 0, i = 0; q < N; ++q) {
      if (q == me) continue;
      int64_t n = 2 * (parts[q].last - parts[q].first);
      for (int64_t j = 0; j < n; ++j) recvs[i++].req->wait();
      trace_.add("sync_recv", t_sync0, now_ns(), block_bytes(q), -1, static_cast<int>(parts[q].first));
    }
  } else {  // ring
    const int next = (me + 1) % N, prev = (me + N - 1) % N;
    wait_own();
    for (int r = 0; r < N - 1; ++r) {
      int send_q = (me - r + N) % N, recv_q = (me - r - 1 + 2 * N) % N;
      int64_t t0 = now_ns();
      std::vector<Pending> sends, recvs;
      post_block(recv_q, prev, false, recvs);
      post_block(send_q, next, true, sends);
      for (auto& p : recvs) p.req->wait();
      for (auto& p : sends) p.req->wait();
      trace_.add("sync_round", t0, now_ns(), block_bytes(send_q), -1,
                 static_cast<int>(parts[recv_q].first), r);
    }
  }
  trace_.add("sync", t_sync0, now_ns());
}

Engine::StepResult Engine::prefill_chunked(const std::vector<int32_t>& prompt, int32_t slot, bool all_rows,
                                           StepOutput kind) {
  const auto& t = groups_.topo;
  const int s = t.pp_rank(), N = t.pp;
  const int64_t L = static_cast<int64_t>(prompt.size()), C = opt_.sp_chunk, D = cfg_.hidden;
  const int64_t nc = (L + C - 1) / C;
  const int64_t l0 = prefill_range_.first - layer_offset_, l1 = prefill_range_.last - layer_offset_;
  AD_CHECK(slot < cache_.slots && L <= cache_.max_seq, "prefill_chunked: slot {} / {} positions outside the cache",
           slot, L);
  std::thread sync;
  if (sp_full_model()) {
    own_kv_ready_ = false;
    sync = std::thread([&] {
      try {
        kv_sync(slot, L, parts_);
      } catch (const std::exception& e) {
        log::error("kv sync failed: {}", e.what());
        dist::abort_world(1);  // MPI_Abort is allowed from any thread here
      }
    });
  }
  // Two activation buffers: chunk c+1 is computed while chunk c is still being sent.
  Buffer xs[2] = {Buffer(&be_, DType::F32, {C, D}), Buffer(&be_, DType::F32, {C, D})};
  std::unique_ptr<dist::CommRequest> pending[2];
  StepResult r;
  std::vector<int32_t> out_rows_all;
  int64_t t_prefill0 = now_ns();
  try {
  for (int64_t c = 0; c < nc; ++c) {
    const int64_t p0 = c * C, n = std::min(C, L - p0);
    if (pending[c % 2]) pending[c % 2]->wait(), pending[c % 2].reset();
    Tensor x = xs[c % 2].t().rows(0, n);
    std::vector<int32_t> ids(prompt.begin() + p0, prompt.begin() + p0 + n);
    if (s == 0) {
      stage_->embed(ids, x);
    } else {
      int64_t t0 = now_ns();
      groups_.pp->recv(x, s - 1, 1);
      trace_.add("chunk_wait", t0, now_ns(), static_cast<int64_t>(x.nbytes()), static_cast<int>(c));
    }
    int64_t t0 = now_ns();
    maybe_fault();
    stage_->forward(x, {{slot, static_cast<int32_t>(p0), static_cast<int32_t>(n), 0}}, cache_, l0, l1);
    trace_.add("chunk", t0, now_ns(), 0, static_cast<int>(c), static_cast<int>(prefill_range_.first));
    if (s < N - 1) {
      pending[c % 2] = groups_.pp->isend(x, s + 1, 1);
      continue;
    }
    std::vector<int32_t> rows;
    if (all_rows)
      for (int64_t i = 0; i < n; ++i) rows.push_back(static_cast<int32_t>(i));
    else if (c == nc - 1)
      rows.push_back(static_cast<int32_t>(n - 1));
    if (rows.empty() || kind == StepOutput::None) continue;
    Tensor sel = select_rows(x, rows);
    if (kind == StepOutput::Greedy) {
      auto tk = stage_->greedy(sel);
      r.tokens.insert(r.tokens.end(), tk.begin(), tk.end());
    } else {
      auto lg = stage_->logits(sel);
      r.logits.insert(r.logits.end(), lg.begin(), lg.end());
    }
  }
  } catch (const std::exception& e) {
    if (!sync.joinable()) throw;
    // The sync thread would wait forever for this rank's KV: fail the whole job now.
    log::error("{}", e.what());
    dist::abort_world(1);
  }
  if (sync.joinable()) {
    {
      std::lock_guard<std::mutex> lk(sync_mu_);
      own_kv_ready_ = true;
    }
    sync_cv_.notify_all();
  }
  for (auto& p : pending)
    if (p) p->wait();
  trace_.add("prefill", t_prefill0, now_ns(), 0, static_cast<int>(nc));
  // Results from the last stage to every rank.
  if (kind != StepOutput::None) {
    int64_t R = all_rows ? L : 1;
    if (kind == StepOutput::Greedy) {
      r.tokens.resize(static_cast<size_t>(R));
      groups_.pp->broadcast(Tensor(r.tokens.data(), DType::I32, {R}), N - 1);
    } else {
      r.logits.resize(static_cast<size_t>(R * cfg_.vocab));
      groups_.pp->broadcast(Tensor(r.logits.data(), DType::F32, {R * cfg_.vocab}), N - 1);
    }
  }
  if (sync.joinable()) sync.join();
  return r;
}

double Engine::kv_diff_vs_local_prefill(const std::vector<int32_t>& prompt, int32_t slot) {
  AD_CHECK(sp_full_model(), "the KV check needs an SP+PP run with --kv-sync pairwise or ring");
  const int64_t L = static_cast<int64_t>(prompt.size());
  KVCache ref = stage_->make_cache(1, L);
  Buffer x(&be_, DType::F32, {L, cfg_.hidden});
  stage_->embed(prompt, x.t());
  stage_->forward(x.t(), {{0, 0, static_cast<int32_t>(L), 0}}, ref);
  double mx = 0;
  std::vector<float> a, b;
  for (size_t l = 0; l < ref.k.size(); ++l)
    for (int kv = 0; kv < 2; ++kv) {
      Tensor mine = kv_block(kv ? cache_.v[l] : cache_.k[l], slot, L), want = kv_block(kv ? ref.v[l] : ref.k[l], 0, L);
      a.resize(static_cast<size_t>(mine.numel()));
      b.resize(a.size());
      be_.to_host(a.data(), mine);
      be_.to_host(b.data(), want);
      for (size_t i = 0; i < a.size(); ++i) mx = std::max(mx, static_cast<double>(std::fabs(a[i] - b[i])));
    }
  return mx;
}

GenerateResult Engine::generate_sp(const std::vector<std::vector<int32_t>>& prompts, const GenerateOptions& o) {
  Sequences sq(prompts, o, cfg_);
  const int64_t B = static_cast<int64_t>(prompts.size());
  GenerateResult res = begin_generate(prompts, o);
  auto choose = [&](int64_t b, StepOutput kind, StepResult& r, size_t i) {
    return kind == StepOutput::Greedy ? r.tokens[i] : sq.sample(b, r.logits.data() + i * cfg_.vocab);
  };
  // Prefill: prompt by prompt, each chunked through the pipeline (and synced).
  Stopwatch sw;
  const int64_t t_gen0 = sw.t0;
  for (int64_t b = 0; b < B; ++b) {
    StepOutput kind = sq.needs_logits(b) ? StepOutput::Logits : StepOutput::Greedy;
    auto r = prefill_chunked(prompts[b], static_cast<int32_t>(b), false, kind);
    sq.accept(b, choose(b, kind, r, 0));
  }
  res.prefill_ms = sw.ms();
  res.prefill_comm_ms = (stage_->comm_ns() + pp_comm_ns_) * 1e-6;
  // Decode: with a sync every rank runs the whole model alone; without, the stages pipeline.
  sw.reset();
  int64_t t_dec0 = now_ns();
  while (true) {
    std::vector<int32_t> ids, rows;
    std::vector<AttnSegment> segs;
    std::vector<int64_t> seqs;
    for (int64_t b = 0; b < B; ++b) {
      if (sq.done[b]) continue;
      int32_t row = static_cast<int32_t>(ids.size());
      segs.push_back({static_cast<int32_t>(b), sq.len[b] - 1, 1, row});
      ids.push_back(sq.seqs[b].output.back());
      rows.push_back(row);
      seqs.push_back(b);
    }
    if (ids.empty()) break;
    StepOutput kind = StepOutput::Greedy;
    for (int64_t b : seqs)
      if (sq.needs_logits(b)) kind = StepOutput::Logits;
    auto r = step(ids, segs, rows, kind);
    for (size_t i = 0; i < seqs.size(); ++i) sq.accept(seqs[i], choose(seqs[i], kind, r, i));
    ++res.decode_steps;
  }
  res.decode_ms = sw.ms();
  trace_.add("decode", t_dec0, now_ns(), 0, -1, -1, static_cast<int>(res.decode_steps));
  trace_.add("total", t_gen0, now_ns());
  res.comm_ms = (stage_->comm_ns() + pp_comm_ns_) * 1e-6;
  res.seqs = std::move(sq.seqs);
  return res;
}

}  // namespace autodist
