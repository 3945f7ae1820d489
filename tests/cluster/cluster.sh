#!/usr/bin/env bash
# A cluster of N "hosts" on this machine (root): each host hX is a network namespace with a veth link to a
# private bridge, its own hostname (a persistent UTS namespace) and optionally a rate-limited link (tc tbf in
# both directions). Open MPI reaches the hosts through an rsh agent that enters the namespaces.
#
#   cluster.sh up N [--rate RATE] [--slots S] [--name NAME] [--owner PID]
#   cluster.sh down [--name NAME]        stop every process in the hosts, remove namespaces, links, state
#   cluster.sh hostfile [--name NAME]    print the hostfile's path ("hX slots=S" lines)
#   cluster.sh mpirun-args [--name NAME] print the mpirun options (hostfile, rsh agent, TCP interfaces)
#   cluster.sh env [--name NAME]         print the env file's path (source it: AD_CLUSTER_* variables)
#   cluster.sh exec HOST CMD...          run CMD inside HOST (of cluster $AD_CLUSTER_NAME; through /bin/sh, as ssh)
#   cluster.sh shape RATE|off [--name NAME]  (re)shape every host's link (RATE as tc takes it: 1gbit, 100mbit)
#   cluster.sh list                      the clusters up on this machine
#
# NAME (default $AD_CLUSTER_NAME, else "adc"; 1-10 of [a-z0-9]) keeps concurrent clusters apart: namespaces
# NAME-h0.., bridge NAME-br, root ends of the veths NAME-h0.., state in /run/autodist-cluster/NAME. The subnet
# is the first free 10.77.X.0/24 (X from 1): host hI is 10.77.X.(I+1), the bridge (root namespace, where
# mpirun runs) 10.77.X.254. Inside every host the link is eth0 and the hostname is hI.
# `up` first removes what a killed earlier run left: a cluster of the same name, clusters whose --owner
# process is gone, and bridges marked as ours whose state folder is missing. --owner PID: the cluster
# belongs to that process (a test), and the next `up` of any cluster removes it once PID has exited.
# --slots S (default 2): slots per host in the hostfile.
#
# Exit: 0 done, 1 failed, 2 usage, 77 namespaces cannot be made here ("skipped: <why>" on stderr).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
ROOT=/run/autodist-cluster
say() { echo "cluster: $*" >&2; }
die() { echo "cluster: error: $*" >&2; exit 1; }
skip() { echo "skipped: $*" >&2; exit 77; }
usage() { sed -n '2,/^set -uo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2; }

cmd=${1:-}; [ -n "$cmd" ] || usage; shift
NAME=${AD_CLUSTER_NAME:-adc} N="" RATE="" SLOTS=2 OWNER=""
if [ "$cmd" != exec ]; then
  while [ $# -gt 0 ]; do
    case $1 in
      --name) NAME=$2; shift 2 ;;
      --rate) RATE=$2; shift 2 ;;
      --slots) SLOTS=$2; shift 2 ;;
      --owner) OWNER=$2; shift 2 ;;
      -h | --help) usage ;;
      *) if [ -z "$N" ]; then N=$1; shift; else echo "cluster: unexpected argument '$1'" >&2; usage; fi ;;
    esac
  done
fi
[[ $NAME =~ ^[a-z0-9]{1,10}$ ]] || die "--name must be 1-10 of [a-z0-9] (it prefixes link names), got '$NAME'"
DIR=$ROOT/$NAME

# ------------------------------------------------------------------ teardown (idempotent)
ns_pids() { ip netns pids "$1" 2>/dev/null; }
teardown() {  # teardown NAME: everything of cluster NAME, whether its state folder exists or not
  local name=$1 dir=$ROOT/$1 ns p left
  local nss; nss=$(ip netns list 2>/dev/null | awk '{print $1}' | grep -E "^${name}-h[0-9]+$")
  for ns in $nss; do ns_pids "$ns" | xargs -r kill -TERM 2>/dev/null; done
  for _ in $(seq 1 25); do
    left=""; for ns in $nss; do left+=$(ns_pids "$ns"); done
    [ -z "$left" ] && break; sleep 0.2
  done
  for ns in $nss; do ns_pids "$ns" | xargs -r kill -KILL 2>/dev/null; done
  for ns in $nss; do ip netns del "$ns" 2>/dev/null; done
  ip link del "$name-br" 2>/dev/null
  for p in $(ip -o link show 2>/dev/null | awk -F': ' '{print $2}' | cut -d@ -f1 | grep -E "^${name}-h[0-9]+$"); do
    ip link del "$p" 2>/dev/null
  done
  if [ -d "$dir" ]; then
    for p in "$dir"/hosts/*.uts; do [ -e "$p" ] && { umount "$p" 2>/dev/null; umount -l "$p" 2>/dev/null; }; done
    rm -rf "$dir"
  fi
}

# Clusters a killed run left behind: an owner that is gone, or a marked bridge without its state folder.
sweep_stale() {
  local d name owner br
  for d in "$ROOT"/*/; do
    [ -d "$d" ] || continue
    name=$(basename "$d"); owner=$(cat "$d/owner" 2>/dev/null)
    if [ -n "$owner" ] && ! kill -0 "$owner" 2>/dev/null; then say "removing stale cluster $name (owner $owner gone)"; teardown "$name"; fi
  done
  for br in $(ip -o link show type bridge 2>/dev/null | grep 'alias autodist-cluster' | awk -F': ' '{print $2}'); do
    name=${br%-br}
    [ -d "$ROOT/$name" ] || { say "removing leftover bridge $br (no state folder)"; teardown "$name"; }
  done
}

locked() { mkdir -p "$ROOT"; exec 9>"$ROOT/.lock"; flock -w 60 9 || die "cannot lock $ROOT/.lock"; }

need_up() { [ -f "$DIR/env" ] || die "cluster '$NAME' is not up (cluster.sh up N --name $NAME)"; }

# ------------------------------------------------------------------ link shaping
burst_of() {  # burst_of RATE|off: the tbf bucket's depth in bytes for RATE (0 unshaped)
  [ "$1" = off ] || [ -z "$1" ] && { echo 0; return; }
  awk -v r="$1" 'BEGIN {
      n = r + 0; u = tolower(substr(r, length(n "") + 1));
      m = (u ~ /^g/) ? 1e9 : (u ~ /^m/) ? 1e6 : (u ~ /^k/) ? 1e3 : 1;
      b = n * m / 8 * 200e-6; if (b < 3028) b = 3028; printf "%d", b }'
}
shape_link() {  # shape_link NS RATE|off: tbf on both ends of host NS's veth
  local ns=$1 rate=$2 burst gso=65536
  tc qdisc del dev "$ns" root 2>/dev/null || true
  ip netns exec "$ns" tc qdisc del dev eth0 root 2>/dev/null || true
  [ "$rate" = off ] || [ -z "$rate" ] || gso=1500
  # Shaped, the veth sends packets of one MTU (no 64 KiB GSO packets), so the bucket can be small: 200 us of the
  # rate, at least two packets. A bucket of 10 ms let sparse messages pass at the veth's own speed (a 1 Gb/s link
  # carried 1 MB bursts unshaped), which no real link of that rate does.
  ip link set dev "$ns" gso_max_size "$gso" 2>/dev/null || true
  ip netns exec "$ns" ip link set dev eth0 gso_max_size "$gso" 2>/dev/null || true
  [ "$gso" = 65536 ] && return 0
  burst=$(burst_of "$rate")
  tc qdisc add dev "$ns" root tbf rate "$rate" burst "$burst" latency 50ms ||
    die "tc qdisc add dev $ns root tbf rate $rate failed"
  ip netns exec "$ns" tc qdisc add dev eth0 root tbf rate "$rate" burst "$burst" latency 50ms ||
    die "tc qdisc add (host $ns) failed"
}

# ------------------------------------------------------------------ up
up() {
  [[ $N =~ ^[0-9]+$ ]] && [ "$N" -ge 1 ] && [ "$N" -le 250 ] || die "up: N must be 1..250 hosts, got '${N}'"
  [[ $SLOTS =~ ^[0-9]+$ ]] && [ "$SLOTS" -ge 1 ] || die "--slots must be a positive number, got '$SLOTS'"
  [ "$(id -u)" = 0 ] || skip "network namespaces need root; uid is $(id -u)"
  local t; for t in ip unshare nsenter flock; do command -v $t >/dev/null || skip "no '$t' command on PATH"; done
  [ -z "$RATE" ] || command -v tc >/dev/null || skip "--rate needs tc (iproute2), not on PATH"
  locked
  teardown "$NAME"
  sweep_stale
  # The probe: can this machine make a namespace at all (containers without CAP_SYS_ADMIN cannot)?
  local err
  err=$(ip netns add "$NAME-h0" 2>&1) || { teardown "$NAME"; skip "ip netns add refused: $err"; }
  err=$(unshare --uts true 2>&1) || { teardown "$NAME"; skip "unshare --uts refused: $err"; }
  local x used
  for x in $(seq 1 254); do
    used=$(ip -4 -o addr show 2>/dev/null | grep -c " 10\.77\.$x\.")
    [ "$used" = 0 ] || continue
    [ -z "$(ip -4 route show match "10.77.$x.0/24" 2>/dev/null | grep -v '^default')" ] || continue
    [ -z "$(ip -4 route show root "10.77.$x.0/24" 2>/dev/null)" ] || continue
    grep -qx "10.77.$x" "$ROOT"/*/subnet 2>/dev/null && continue
    break
  done
  local net=10.77.$x
  mkdir -p "$DIR/hosts" && echo "$net" >"$DIR/subnet" && echo "$N" >"$DIR/size"
  [ -z "$OWNER" ] || echo "$OWNER" >"$DIR/owner"
  trap 'say "up failed; removing what was made"; teardown "$NAME"' ERR
  set -e
  ip link add "$NAME-br" type bridge
  ip link set "$NAME-br" alias autodist-cluster
  ip addr add "$net.254/24" dev "$NAME-br"
  ip link set "$NAME-br" up
  local i ns hosts="" addrs=""
  : >"$DIR/hostfile"
  for i in $(seq 0 $((N - 1))); do
    ns=$NAME-h$i
    [ "$i" = 0 ] || ip netns add "$ns"
    ip link add "$ns" type veth peer name eth0 netns "$ns"
    ip link set "$ns" master "$NAME-br" up
    ip -n "$ns" link set lo up
    ip -n "$ns" addr add "$net.$((i + 1))/24" dev eth0
    ip -n "$ns" link set eth0 up
    touch "$DIR/hosts/h$i.uts"
    unshare --uts="$DIR/hosts/h$i.uts" hostname "h$i"
    echo "$ns" >"$DIR/hosts/h$i.net"
    echo "h$i slots=$SLOTS" >>"$DIR/hostfile"
    hosts+="${hosts:+ }h$i"; addrs+="${addrs:+ }$net.$((i + 1))"
    [ -z "$RATE" ] || shape_link "$ns" "$RATE"
  done
  set +e
  trap - ERR
  printf '#!/bin/sh\n# rsh agent of cluster %s: AGENT HOST CMD...\nexec %q --cluster %q "$@"\n' \
    "$NAME" "$here/rsh_agent.sh" "$DIR" >"$DIR/agent"
  chmod 755 "$DIR/agent"
  local args="--hostfile $DIR/hostfile --mca plm rsh --mca plm_rsh_agent $DIR/agent --mca plm_rsh_no_tree_spawn 1"
  args+=" --mca btl tcp,vader,self --mca btl_tcp_if_include $net.0/24 --mca oob_tcp_if_include $net.0/24"
  # The hosts share this machine's cores, and each host's daemon binds its ranks from core 0 up: with a rank per
  # host, every rank would run on core 0 (measured: all of a 2-host run's compute on one core, twice as slow).
  args+=" --bind-to none"
  echo "$args" >"$DIR/mpirun_args"
  cat >"$DIR/env" <<EOF
# cluster $NAME (tests/cluster/cluster.sh): source me
export AD_CLUSTER_NAME=$NAME
export AD_CLUSTER_DIR=$DIR
export AD_CLUSTER_HOSTS="$hosts"
export AD_CLUSTER_ADDRS="$addrs"
export AD_CLUSTER_SUBNET=$net.0/24
export AD_CLUSTER_ROOT_ADDR=$net.254
export AD_CLUSTER_RATE=${RATE:-off}
export AD_CLUSTER_BURST_BYTES=$(burst_of "${RATE:-off}")
export AD_CLUSTER_HOSTFILE=$DIR/hostfile
export AD_CLUSTER_MPIRUN_ARGS="$args"
EOF
  say "up: $N hosts ($hosts) on $net.0/24, link rate ${RATE:-unshaped}, $SLOTS slots each; env file $DIR/env"
  echo "$DIR/env"
}

case $cmd in
  up) up ;;
  down) locked; teardown "$NAME"; sweep_stale ;;
  hostfile) need_up; echo "$DIR/hostfile" ;;
  mpirun-args) need_up; cat "$DIR/mpirun_args" ;;
  env) need_up; echo "$DIR/env" ;;
  exec) need_up; exec "$here/rsh_agent.sh" --cluster "$DIR" "$@" ;;
  shape)
    need_up; [ -n "$N" ] || die "shape: give a rate (e.g. 1gbit) or off"
    for i in $(seq 0 $(($(cat "$DIR/size") - 1))); do shape_link "$NAME-h$i" "$N"; done
    sed -i -e "s/^export AD_CLUSTER_RATE=.*/export AD_CLUSTER_RATE=$N/" \
      -e "s/^export AD_CLUSTER_BURST_BYTES=.*/export AD_CLUSTER_BURST_BYTES=$(burst_of "$N")/" "$DIR/env"
    say "links of $NAME shaped to $N" ;;
  list) for d in "$ROOT"/*/; do [ -f "$d/env" ] && echo "$(basename "$d") $(cat "$d/size") hosts $(cat "$d/subnet").0/24 owner $(cat "$d/owner" 2>/dev/null || echo -)"; done ;;
  *) echo "cluster: unknown command '$cmd'" >&2; usage ;;
esac
