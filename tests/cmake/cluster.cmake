# Multi-host runs on a namespace cluster on this machine (tests/cluster): each test brings up 2 "hosts" (network
# namespaces with their own hostnames, a bridge, TCP between them), runs on them and always takes them down.
# Skipped (77, with the reason) where namespaces cannot be made: not root, no `ip`, unshare refused.
set(CLUSTER ${CMAKE_CURRENT_SOURCE_DIR}/cluster)
set(Q3_SINGLE ${CMAKE_CURRENT_BINARY_DIR}/parallel/qwen3-tiny.single.safetensors)

add_test(NAME cluster_selftest COMMAND ${CLUSTER}/selftest.sh)
set_tests_properties(cluster_selftest PROPERTIES TIMEOUT 120 SKIP_RETURN_CODE 77 ENVIRONMENT "${MPIRUN_ENV}")

# cluster_verify(NAME SLOTS TP PP [verify args]): against the single-rank logits, ranks recorded on 2 hosts with
# each tp group on one host and the stages across hosts.
function(cluster_verify name slots tp pp)
  add_test(NAME ${name} COMMAND ${CLUSTER}/with_cluster.sh 2 --slots ${slots} -- ${CLUSTER}/verify_on_cluster.sh
           ${AUTODIST_BIN} ${TEST_DATA}/models/qwen3-tiny ${Q3_SINGLE} ${tp} ${pp} ${ARGN})
  set_tests_properties(${name} PROPERTIES FIXTURES_REQUIRED single_qwen3-tiny TIMEOUT 300 SKIP_RETURN_CODE 77
                       ENVIRONMENT "${MPIRUN_ENV}" PROCESSORS 2)
endfunction()
cluster_verify(cluster_tp2_pp2 2 2 2)                     # a tp pair on each host, the stages across hosts
cluster_verify(cluster_pp2 1 1 2)                         # one stage per host
cluster_verify(cluster_sp_pp2_pairwise 1 1 2 --sp-chunk-size 16 --kv-sync pairwise --check-kv)
cluster_verify(cluster_sp_pp2_ring 1 1 2 --sp-chunk-size 16 --kv-sync ring --check-kv)
# mpirun --map-by node puts world ranks 0, 2 on h0 and 1, 3 on h1: the placement still pairs each host's ranks
# into a tp group (the trace lists hosts by logical rank: h0 h0 h1 h1).
cluster_verify(cluster_tp2_pp2_map_by_node 2 2 2)
set_tests_properties(cluster_tp2_pp2_map_by_node PROPERTIES ENVIRONMENT "${MPIRUN_ENV};MPIRUN_ARGS=--map-by node")

# Slurm on the 2 hosts: slurmctld in the root namespace, one slurmd per host; generate.sbatch with --nodes=2 runs
# tp 2 x pp 2 and its trace records both hosts, each tp pair on one. srun (pmix) with --distribution=cyclic (world
# ranks 0, 2 on h0: the placement reorders them), and mpirun inside the allocation (it starts its daemons with srun).
foreach(launch srun_cyclic mpirun)
  set(args "--nodes=2 --ntasks-per-node=2")
  set(launcher auto)
  if(launch STREQUAL "srun_cyclic")
    set(args "${args} --distribution=cyclic")
  else()
    set(launcher mpirun)
  endif()
  add_test(NAME slurm_2nodes_generate_${launch} COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/slurm/run_slurm_test.sh
           ${CMAKE_SOURCE_DIR}/jobs/slurm/generate.sbatch --model ${TEST_DATA}/models/qwen3-tiny --tp 2 --pp 2
           --prompt-ids 1,2,3 --max-output-length 4)
  set_tests_properties(slurm_2nodes_generate_${launch} PROPERTIES TIMEOUT 600 SKIP_RETURN_CODE 77 RUN_SERIAL TRUE
    ENVIRONMENT "AUTODIST=${AUTODIST_BIN};NODES=2;LAUNCHER=${launcher};SBATCH_ARGS=${args};CHECK_CMD=${CLUSTER}/check_trace_hosts.sh $JOB_DIR/trace.h5 2 2 2")
endforeach()

# One shard cache shared by both hosts: written by one placement, read by another (keyed by logical rank).
add_test(NAME cluster_tp2_pp2_shard_cache COMMAND ${CLUSTER}/with_cluster.sh 2 --slots 2 --
         ${CLUSTER}/shard_cache_on_cluster.sh ${AUTODIST_BIN} ${TEST_DATA}/models/qwen3-tiny ${Q3_SINGLE}
         ${CMAKE_CURRENT_BINARY_DIR}/cluster_shard_cache)
set_tests_properties(cluster_tp2_pp2_shard_cache PROPERTIES FIXTURES_REQUIRED single_qwen3-tiny TIMEOUT 300
                     SKIP_RETURN_CODE 77 ENVIRONMENT "${MPIRUN_ENV}" PROCESSORS 2)

# tp 4 on hosts of 2 ranks: the group must span both hosts; the run works and one warning names the group and hosts.
add_test(NAME cluster_tp4_spans_hosts_warns COMMAND ${CLUSTER}/with_cluster.sh 2 --slots 2 -- bash -c
         "${EXPECT_OK} 'warn: tensor-parallel groups span hosts.*group 0 \\(world ranks 0,1,2,3\\) on h0,h1' timeout 60 \
mpirun -np 4 --oversubscribe \$MPIRUN_ARGS $<TARGET_FILE:autodist> generate --model ${TEST_DATA}/models/qwen3-tiny \
--tp 4 --prompt-ids 1,2,3 --max-output-length 4")
set_tests_properties(cluster_tp4_spans_hosts_warns PROPERTIES TIMEOUT 120 SKIP_RETURN_CODE 77
                     ENVIRONMENT "${MPIRUN_ENV}" PROCESSORS 2)
