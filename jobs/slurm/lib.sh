# shellcheck shell=bash
# Shared by jobs/slurm/*.sbatch (sourced, not run). sbatch runs a *copy* of the job script from
# the spool directory, so the scripts find the repository from SLURM_SUBMIT_DIR (or $REPO) and
# source this file from there.
#
# Environment understood by every job script:
#   AUTODIST   autodist binary                   (default: $REPO/build/autodist)
#   OUT_ROOT   root of the job folders            (default: $REPO/runs/slurm; a relative path is
#              taken from the submit directory). Each job writes to JOB_DIR=$OUT_ROOT/$SLURM_JOB_ID/
#   LAUNCHER   auto | srun | mpirun | none        (default: auto: `srun --mpi=pmix` when this
#              Slurm has the pmix plugin, else mpirun; none runs the command once, unlaunched)
#   SRUN_ARGS, MPIRUN_ARGS   extra words for the launcher (word-split)
#   OPENBLAS_NUM_THREADS     default 1: one BLAS thread per rank
#
# Slurm's own stdout/stderr file is sbatch's default, slurm-%j.out in the submit directory
# (change it with sbatch --output); everything the job prints is also copied to $JOB_DIR/job.log.

ad_die() { echo "error: $*" >&2; exit 2; }

# ad_setup NAME: makes JOB_DIR, starts the log copy, exports the run environment, prints the job.
ad_setup() {
  local name=$1
  [ -n "${SLURM_JOB_ID:-}" ] || ad_die "$name: not inside a Slurm job (submit with: sbatch ...)"
  AUTODIST=${AUTODIST:-$REPO/build/autodist}
  [ -x "$AUTODIST" ] || ad_die "autodist binary '$AUTODIST' is missing or not executable (set AUTODIST=)"
  OUT_ROOT=${OUT_ROOT:-$REPO/runs/slurm}
  case $OUT_ROOT in /*) ;; *) OUT_ROOT=${SLURM_SUBMIT_DIR:-$PWD}/$OUT_ROOT ;; esac
  JOB_DIR=$OUT_ROOT/$SLURM_JOB_ID
  mkdir -p "$JOB_DIR" || ad_die "cannot create $JOB_DIR"
  export JOB_DIR AUTODIST OUT_ROOT

  # Copy all further output to JOB_DIR/job.log; at exit, close our ends and let tee finish, so
  # the last lines are not lost when the batch step ends.
  exec > >(tee -a "$JOB_DIR/job.log") 2>&1
  _ad_tee_pid=$!
  trap 'exec >&- 2>&-; wait $_ad_tee_pid 2>/dev/null' EXIT

  export OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1}
  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
  export PRTE_ALLOW_RUN_AS_ROOT=1 PRTE_ALLOW_RUN_AS_ROOT_CONFIRM=1  # Open MPI 5

  local hosts
  hosts=$(scontrol show hostnames "${SLURM_JOB_NODELIST:-}" 2>/dev/null | paste -sd, -)
  echo "== autodist $name: job ${SLURM_JOB_ID} (${SLURM_JOB_NAME:-}) on ${hosts:-${SLURM_JOB_NODELIST:-?}}"
  echo "== batch host $(hostname -s), ${SLURM_JOB_NUM_NODES:-?} node(s), ${SLURM_NTASKS:-?} task(s)" \
       "(${SLURM_TASKS_PER_NODE:-?} per node), started $(date -Is)"
  echo "== binary $AUTODIST"
  echo "== job dir $JOB_DIR"
  # More ranks than cores (a test node declaring extra CPUs): busy-polling ranks would steal each
  # other's time slices (~50 ms per message); make Open MPI yield while it waits.
  local per_node=${SLURM_TASKS_PER_NODE:-1}
  per_node=${per_node%%[(,]*}
  if [ -z "${OMPI_MCA_mpi_yield_when_idle:-}" ] && [ "${per_node:-1}" -gt "$(nproc)" ] 2>/dev/null; then
    export OMPI_MCA_mpi_yield_when_idle=1
    echo "== $per_node tasks on $(nproc) cores: OMPI_MCA_mpi_yield_when_idle=1"
  fi
}

# ad_launcher: sets LAUNCH (array) from LAUNCHER; logs the choice.
ad_launcher() {
  local choice=${LAUNCHER:-auto} why srun_mpi=(--mpi=pmix)
  if [ "$choice" = auto ]; then
    if srun --mpi=list 2>&1 | grep -qw pmix; then
      choice=srun; why="srun --mpi=list has pmix"
    elif command -v mpirun >/dev/null; then
      choice=mpirun; why="srun has no pmix plugin; mpirun picks up the Slurm allocation"
    else
      choice=srun; srun_mpi=(); why="no pmix in srun and no mpirun: srun with Slurm's MpiDefault"
    fi
  else
    why="LAUNCHER=$choice"
  fi
  # shellcheck disable=SC2206  # SRUN_ARGS and MPIRUN_ARGS are word lists
  case $choice in
    srun) LAUNCH=(srun "${srun_mpi[@]}" --kill-on-bad-exit=1 ${SRUN_ARGS:-}) ;;
    mpirun) LAUNCH=(mpirun -np "${SLURM_NTASKS:?}" -x OPENBLAS_NUM_THREADS ${MPIRUN_ARGS:-}) ;;
    none) LAUNCH=() ;;
    *) ad_die "LAUNCHER must be auto, srun, mpirun or none, got '$choice'" ;;
  esac
  echo "== launcher: $choice ($why)"
}

# ad_run CMD...: launches CMD on every task of the allocation, prints the command line, returns its exit code.
ad_run() {
  ad_launcher
  local cmd=("${LAUNCH[@]}" "$@") rc t0=$SECONDS
  echo "== command: $(printf '%q ' "${cmd[@]}")"
  printf '%q ' "${cmd[@]}" >"$JOB_DIR/command.txt"; echo >>"$JOB_DIR/command.txt"
  if [ "${LAUNCH[0]:-}" = srun ]; then
    # srun (seen with 22.05) can exit 0 when the step failed to launch ("task 0 launch failed:
    # Unspecified error"): keep a copy of its stderr and treat that message as a failure.
    { "${cmd[@]}" 2>&1 1>&3 3>&- | tee "$JOB_DIR/launcher.err" >&2; rc=${PIPESTATUS[0]}; } 3>&1
    if [ "$rc" = 0 ] && grep -q 'launch failed' "$JOB_DIR/launcher.err"; then
      echo "== srun exited 0 but tasks failed to launch (see above): failing the job"
      rc=1
    fi
  else
    "${cmd[@]}"
    rc=$?
  fi
  echo "== exit $rc after $((SECONDS - t0)) s, $(date -Is)"
  echo "$rc" >"$JOB_DIR/exit_code"
  return "$rc"
}

# ad_has_opt OPT ARGS...: true when OPT (or OPT=...) is among ARGS.
ad_has_opt() {
  local o=$1 a; shift
  for a in "$@"; do case $a in "$o" | "$o"=*) return 0 ;; esac; done
  return 1
}
