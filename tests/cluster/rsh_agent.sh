#!/usr/bin/env bash
# The rsh agent of a namespace cluster (tests/cluster/cluster.sh): Open MPI's plm_rsh_agent calls
#   rsh_agent.sh --cluster DIR [ssh-style options] HOST CMD...
# and CMD runs inside HOST's network and UTS namespaces, through /bin/sh as ssh would run it (Open MPI
# quotes the orted command line for a remote shell). The environment is inherited, unlike ssh.
set -uo pipefail
[ "${1:-}" = --cluster ] && [ $# -ge 4 ] || { echo "usage: rsh_agent.sh --cluster DIR HOST CMD..." >&2; exit 2; }
dir=$2; shift 2
while [ $# -gt 0 ] && [ "${1#-}" != "$1" ]; do shift; done  # ssh options (-x, -T) mean nothing here
host=${1:-}; shift
host=${host%%.*}  # a domain Open MPI may append
[ -f "$dir/hosts/$host.net" ] || { echo "rsh_agent: no host '$host' in cluster $dir (hosts: $(cd "$dir/hosts" && ls *.net 2>/dev/null | sed 's/\.net$//' | paste -sd' ' -))" >&2; exit 255; }
ns=$(cat "$dir/hosts/$host.net")
exec nsenter --net="/run/netns/$ns" --uts="$dir/hosts/$host.uts" -- /bin/sh -c "$*"
