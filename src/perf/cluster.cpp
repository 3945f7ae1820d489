#include "perf/cluster.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <set>

#include "core/error.h"
#include "core/file.h"

namespace autodist::perf {

int Cluster::world() const {
  int n = 0;
  for (const HostSpec& h : hosts) n += h.ranks;
  return n;
}

int Cluster::host_of(int rank) const {
  int first = 0;
  for (size_t h = 0; h < hosts.size(); ++h) {
    if (rank < first + hosts[h].ranks) return static_cast<int>(h);
    first += hosts[h].ranks;
  }
  AD_FAIL("rank {} is outside the cluster's {} ranks", rank, world());
}

int Cluster::machine_of(int host) const {
  const HostSpec& h = hosts[static_cast<size_t>(host)];
  if (h.machine.empty()) return host;
  for (size_t i = 0; i < hosts.size(); ++i)
    if (hosts[i].machine == h.machine) return static_cast<int>(i);
  return host;
}

int Cluster::machine_ranks(int host) const {
  const int m = machine_of(host);
  int n = 0;
  for (size_t i = 0; i < hosts.size(); ++i) n += machine_of(static_cast<int>(i)) == m ? hosts[i].ranks : 0;
  return n;
}

double Cluster::memory_per_rank(int rank) const {
  const int host = host_of(rank);
  const HostSpec& h = hosts[static_cast<size_t>(host)];
  if (h.devices > 0) return h.device_memory_bytes;
  return h.memory_bytes / std::max(machine_ranks(host), 1);
}

const Link& Cluster::intra_link(int host) const {
  const HostSpec& h = hosts[static_cast<size_t>(host)];
  return has_oversubscribed && h.devices == 0 && machine_ranks(host) > h.cores ? intra_oversubscribed : intra;
}

namespace {

constexpr double kGB = 1024.0 * 1024 * 1024;

std::string at(const std::string& file, const YAML::Node& n) { return fmt::format("{}:{}", file, n.Mark().line + 1); }

double num(const std::string& file, const YAML::Node& m, const char* key, double lo, bool required, double dflt) {
  const YAML::Node v = m[key];
  if (!v) {
    AD_CHECK(!required, "{}: missing key '{}'", at(file, m), key);
    return dflt;
  }
  double x = 0;
  AD_CHECK(v.IsScalar() && YAML::convert<double>::decode(v, x), "{}: '{}' must be a number, got '{}'", at(file, v),
           key, v.IsScalar() ? v.Scalar() : "a list or map");
  AD_CHECK(x >= lo, "{}: '{}' must be >= {}, got {}", at(file, v), key, lo, x);
  return x;
}

void only_keys(const std::string& file, const YAML::Node& m, const std::set<std::string>& keys, const char* what) {
  AD_CHECK(m.IsMap(), "{}: {} must be a map", at(file, m), what);
  for (auto it = m.begin(); it != m.end(); ++it) {
    const std::string k = it->first.as<std::string>();
    if (keys.count(k)) continue;
    std::string known;
    for (auto& s : keys) known += (known.empty() ? "" : ", ") + s;
    AD_FAIL("{}: unknown key '{}' in {} (expected one of: {})", at(file, it->first), k, what, known);
  }
}

Link link_of(const std::string& file, const YAML::Node& m, const char* what) {
  only_keys(file, m, {"gbps", "latency_us", "burst_kb"}, what);
  const double gbps = num(file, m, "gbps", 1e-9, true, 0);
  const double lat = num(file, m, "latency_us", 0, false, 0);
  AD_CHECK(gbps > 0, "{}: {}.gbps must be > 0", at(file, m), what);
  Link l{lat * 1e-6, gbps * 1e9 / 8, {}};
  l.burst_B = num(file, m, "burst_kb", 0, false, 0) * 1024;
  return l;
}

}  // namespace

Cluster load_cluster(const std::string& path) {
  YAML::Node root;
  try {
    root = YAML::Load(read_regular_file(path));
  } catch (const YAML::Exception& e) {
    AD_FAIL("{}:{}: not valid YAML: {}", path, e.mark.line + 1, e.msg);
  }
  AD_CHECK(root.IsMap(), "{}: a cluster description is a map with 'hosts' and 'links'", path);
  only_keys(path, root, {"hosts", "links"}, "the cluster");
  Cluster c;
  c.source = path;
  const YAML::Node hosts = root["hosts"];
  AD_CHECK(hosts && hosts.IsSequence() && hosts.size() > 0, "{}: 'hosts' must be a non-empty list", path);
  for (const YAML::Node& h : hosts) {
    only_keys(path, h, {"name", "count", "ranks", "cores", "memory_gb", "devices", "device_memory_gb", "machine"},
              "a host");
    HostSpec s;
    s.name = h["name"] ? h["name"].as<std::string>() : fmt::format("h{}", c.hosts.size());
    s.ranks = static_cast<int>(num(path, h, "ranks", 1, true, 1));
    s.cores = static_cast<int>(num(path, h, "cores", 1, true, 1));
    s.memory_bytes = num(path, h, "memory_gb", 0, true, 0) * kGB;
    s.devices = static_cast<int>(num(path, h, "devices", 0, false, 0));
    s.device_memory_bytes = num(path, h, "device_memory_gb", 0, s.devices > 0, 0) * kGB;
    AD_CHECK(s.devices == 0 || s.devices >= s.ranks, "{}: host {} has {} ranks but {} devices: one device per rank",
             at(path, h), s.name, s.ranks, s.devices);
    if (h["machine"]) {
      AD_CHECK(h["machine"].IsScalar() && !h["machine"].Scalar().empty(), "{}: 'machine' must be a name",
               at(path, h["machine"]));
      s.machine = h["machine"].Scalar();
      for (const HostSpec& o : c.hosts)
        AD_CHECK(o.machine != s.machine || (o.cores == s.cores && o.memory_bytes == s.memory_bytes),
                 "{}: host {} is on machine {} with host {}, but gives other cores or memory_gb ({} cores, {} GB "
                 "against {}, {}): hosts of one machine give the machine's",
                 at(path, h), s.name, s.machine, o.name, s.cores, s.memory_bytes / kGB, o.cores, o.memory_bytes / kGB);
    }
    const int count = static_cast<int>(num(path, h, "count", 1, false, 1));
    for (int i = 0; i < count; ++i) {
      HostSpec t = s;
      if (count > 1) t.name = fmt::format("{}{}", s.name, i);
      c.hosts.push_back(t);
    }
  }
  const YAML::Node links = root["links"];
  AD_CHECK(links, "{}: missing 'links' (intra_host and inter_host, each with gbps and latency_us)", path);
  only_keys(path, links, {"intra_host", "inter_host"}, "links");
  AD_CHECK(links["intra_host"], "{}: links: missing 'intra_host'", at(path, links));
  c.intra = link_of(path, links["intra_host"], "intra_host");
  if (links["inter_host"]) {
    c.inter = link_of(path, links["inter_host"], "inter_host");
  } else {
    AD_CHECK(c.hosts.size() == 1, "{}: links: {} hosts need 'inter_host'", at(path, links), c.hosts.size());
    c.inter = c.intra;
  }
  return c;
}

Cluster uniform_cluster(int hosts, int ranks_per_host, double link_gbps, double link_latency_us, int cores_per_host,
                        double memory_gb_per_host, const Link& intra, int hosts_per_machine) {
  AD_CHECK(hosts >= 1, "--hosts must be >= 1, got {}", hosts);
  AD_CHECK(ranks_per_host >= 1, "--ranks-per-host must be >= 1, got {}", ranks_per_host);
  AD_CHECK(link_gbps > 0, "--link-gbps must be > 0, got {}", link_gbps);
  AD_CHECK(link_latency_us >= 0, "--link-latency-us must be >= 0, got {}", link_latency_us);
  AD_CHECK(cores_per_host >= 1, "--cores-per-host must be >= 1, got {}", cores_per_host);
  AD_CHECK(memory_gb_per_host > 0, "--memory-gb must be > 0, got {}", memory_gb_per_host);
  AD_CHECK(hosts_per_machine >= 1 && hosts % hosts_per_machine == 0,
           "--hosts-per-machine must be >= 1 and divide --hosts {}, got {}", hosts, hosts_per_machine);
  Cluster c;
  c.source = fmt::format("--hosts {} --ranks-per-host {} --link-gbps {}", hosts, ranks_per_host, link_gbps);
  if (hosts_per_machine > 1) c.source += fmt::format(" --hosts-per-machine {}", hosts_per_machine);
  for (int h = 0; h < hosts; ++h) {
    const std::string machine = hosts_per_machine > 1 ? fmt::format("m{}", h / hosts_per_machine) : "";
    c.hosts.push_back({fmt::format("h{}", h), ranks_per_host, cores_per_host, memory_gb_per_host * kGB, 0, 0, machine});
  }
  c.intra = intra;
  c.inter = {link_latency_us * 1e-6, link_gbps * 1e9 / 8, {}};
  return c;
}

}  // namespace autodist::perf
