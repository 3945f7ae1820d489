#!/usr/bin/env bash
# Runs CMD with a namespace cluster up (tests/cluster/cluster.sh) and always takes the cluster down after it.
#   with_cluster.sh N [cluster.sh up options: --rate R --slots S] -- CMD...
# CMD sees the cluster's env file (AD_CLUSTER_*) and MPIRUN_ARGS = the cluster's mpirun options (before any
# MPIRUN_ARGS already set), which tests/scripts/verify_parallel.sh and jobs/slurm/lib.sh pass to mpirun.
# The cluster is named c<pid> and owned by this script, so a killed run's leftovers go with the next `up`.
# Exit: CMD's status; 77 with "skipped: <why>" when namespaces cannot be made here.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
up_args=()
while [ $# -gt 0 ] && [ "$1" != -- ]; do up_args+=("$1"); shift; done
[ "${1:-}" = -- ] && [ $# -ge 2 ] || { echo "usage: with_cluster.sh N [--rate R] [--slots S] -- CMD..." >&2; exit 2; }
shift
name=c$$
down() { "$here/cluster.sh" down --name "$name" 2>/dev/null; }
trap 'rc=$?; down; exit $rc' EXIT
trap 'exit 130' INT TERM
env_file=$("$here/cluster.sh" up "${up_args[@]}" --name "$name" --owner $$)
rc=$?
[ $rc = 0 ] || exit $rc   # 77 (skipped, the reason is on stderr) or a failure
# shellcheck source=/dev/null
source "$env_file"
export MPIRUN_ARGS="$AD_CLUSTER_MPIRUN_ARGS${MPIRUN_ARGS:+ $MPIRUN_ARGS}"
"$@"
