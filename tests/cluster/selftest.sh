#!/usr/bin/env bash
# The namespace cluster itself (tests/cluster/cluster.sh): hostnames, addresses, shaped links, mpirun across the
# hosts, removal of a killed run's leftovers, and a teardown that leaves nothing (namespaces, links, state).
# Exit 77 with the reason where namespaces cannot be made.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
c=$here/cluster.sh
a=st$$ b=sx$$ d=sy$$
fail() { echo "FAILED: $*"; exit 1; }
leftovers() {  # leftovers NAME: what of cluster NAME still exists
  { ip netns list | awk '{print $1}' | grep -E "^$1-h"; ip -o link show | awk -F': ' '{print $2}' | grep -E "^$1-";
    [ -e "/run/autodist-cluster/$1" ] && echo "/run/autodist-cluster/$1"; } 2>/dev/null
}
trap '$c down --name $a; $c down --name $b; $c down --name $d' EXIT
$c up 2 --rate 100mbit --slots 1 --name $a --owner $$ >/dev/null; rc=$?
[ $rc = 0 ] || exit $rc
export AD_CLUSTER_NAME=$a
# shellcheck source=/dev/null
source "$($c env)"
for i in 0 1; do
  got=$($c exec h$i hostname) || fail "exec h$i"
  [ "$got" = h$i ] || fail "host h$i calls itself '$got'"
  addr=$($c exec h$i ip -4 -o addr show dev eth0 | awk '{print $4}')
  [ "$addr" = "$(cut -d' ' -f$((i + 1)) <<<"$AD_CLUSTER_ADDRS")/24" ] || fail "h$i has address '$addr'"
  tc qdisc show dev "$a-h$i" | grep -q "tbf.*rate 100Mbit" || fail "root end of h$i not shaped: $(tc qdisc show dev "$a-h$i")"
  $c exec h$i tc qdisc show dev eth0 | grep -q "tbf.*rate 100Mbit" || fail "host end of h$i not shaped"
  # the bucket's depth, which the perf model is given (--link-burst-kb): 3028 B at 100 Mb/s (tc shows 3025b)
  tc qdisc show dev "$a-h$i" | grep -Eq "burst 30[0-9]{2}b" ||
    fail "h$i's bucket is not 3028 B: $(tc qdisc show dev "$a-h$i")"
done
[ "$AD_CLUSTER_BURST_BYTES" = 3028 ] || fail "AD_CLUSTER_BURST_BYTES is '${AD_CLUSTER_BURST_BYTES:-}', expected 3028"
[ "$(hostname)" != h0 ] || fail "the root namespace's hostname changed"
got=$(timeout 60 mpirun -np 2 $AD_CLUSTER_MPIRUN_ARGS hostname | sort | paste -sd' ' -) || fail "mpirun across the hosts"
[ "$got" = "h0 h1" ] || fail "mpirun -np 2 ran on '$got', expected h0 h1"
echo "2 hosts up: hostnames h0 h1, addresses $AD_CLUSTER_ADDRS, links 100mbit both ways, mpirun on: $got"
$c shape off >/dev/null 2>&1 && ! tc qdisc show dev "$a-h0" | grep -q tbf || fail "shape off left a tbf"
grep -q "^export AD_CLUSTER_BURST_BYTES=0$" "$($c env)" ||
  fail "shape off left the env's bucket depth: $(cat "$($c env)")"

# A killed run: its owner is gone, so the next `up` (of any cluster) removes it.
sleep 0 & dead=$!; wait $dead
$c up 1 --name $b --owner $dead >/dev/null 2>&1 || fail "up $b"
ip netns pids "$b-h0" >/dev/null 2>&1 || fail "no namespace $b-h0"
AD_CLUSTER_NAME=$b $c exec h0 sleep 300 &   # a process left running inside the dead run's host
sleep 0.3
$c up 1 --name $d >/dev/null 2>&1 || fail "up $d"
[ -z "$(leftovers $b)" ] || fail "the dead run's cluster is still there: $(leftovers $b)"
wait 2>/dev/null
$c down --name $d && $c down --name $a || fail "down"
$c down --name $a || fail "a second down is not a no-op"
for n in $a $b $d; do [ -z "$(leftovers $n)" ] || fail "left after down: $(leftovers $n)"; done
echo "stale cluster of a dead owner removed with its processes; down twice; nothing left"
