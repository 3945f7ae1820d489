// defines: Link (alpha-beta cost of one link), fit_alpha_beta, CommRow, read_comm_csv, link_from_comm_rows, and
//          the costs of the algorithms autodist runs: ring_all_reduce_s, ring_all_gather_s, p2p_s
//
// A message of n bytes over a link costs alpha + n / bw (Hockney). When `share` flows cross the same link at once,
// each gets bw / share. The collectives are the mpi data channel's (dist/mpi_data_channel.h): all_reduce is a ring
// reduce-scatter then a ring all-gather, 2 (p-1) messages of n/p bytes each; all_gather a ring of p-1 messages of
// the per-rank block.
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace autodist::perf {

struct Link {
  double alpha_s = 0;     // latency per message
  double bw_Bps = 1e30;   // bytes per second
  // Measured (bytes, seconds), ascending, when the link came from comm-bench rows: between the first and the last
  // size a message of n x share bytes costs the piecewise-linear interpolation of the measurements (a shaped TCP link
  // carried 92 Mb/s at 4 KiB and 58 at 4 MiB, which no single alpha and bw fit); outside, the fit's slope from the
  // nearest end.
  std::vector<std::pair<double, double>> measured;
  // Depth of a token bucket shaping the link (tc tbf's burst; 0: none): the bucket fills at bw while the link is
  // idle, and bytes it holds leave without waiting for the rate. So messages after idle gaps pay only alpha for
  // their first burst bytes, where comm-bench's back-to-back messages, which keep it empty, pay the rate for all.
  double burst_B = 0;
  double time(double bytes, double share = 1) const;
};

// Least squares of t = alpha + bytes / bw over (bytes, seconds); throws when the rows cannot give a bandwidth
// (fewer than two sizes, or times that do not grow with the size).
Link fit_alpha_beta(const std::vector<std::pair<double, double>>& bytes_seconds, const std::string& what);

// One line of a comm-bench CSV (docs/comm-bench.md): the columns the model reads.
struct CommRow {
  std::string op, placement;
  int ranks = 0;
  double bytes = 0, time_s = 0;
};
// Every row of DIR/comm_bench.csv; throws naming the file, line and column that is wrong.
std::vector<CommRow> read_comm_csv(const std::string& path);
// The link: from the sendrecv rows (one message each way per rank: t = alpha + n / bw; their points kept in
// Link::measured), else the isend_irecv rows,
// else the all_reduce rows through the ring formula; out-of-place rows, time_us (the slowest rank).
Link link_from_comm_rows(const std::vector<CommRow>& rows, const std::string& what);
// The per-hop link of the ring all_reduce rows of more than `cores` ranks (oversubscribed); false when there are
// none of two sizes or more.
bool oversubscribed_link(const std::vector<CommRow>& rows, int cores, const std::string& what, Link& out);

double p2p_s(const Link& l, double bytes, double share = 1);
// all_reduce of `bytes` (the whole tensor) over p ranks, the link idle for `idle_s` before (its bucket refilling).
double ring_all_reduce_s(const Link& l, int p, double bytes, double share = 1, double idle_s = 0);
// all_gather of p blocks of `block_bytes`.
double ring_all_gather_s(const Link& l, int p, double block_bytes, double share = 1);

}  // namespace autodist::perf
