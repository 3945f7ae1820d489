# Performance model (issue 17): profile the tiny fixture, then predict and plan from it; bad inputs.
set(PERF_DIR ${CMAKE_CURRENT_BINARY_DIR}/perf)
set(PERF_DATA ${CMAKE_CURRENT_SOURCE_DIR}/perf)
set(PERF_MODEL ${TEST_DATA}/models/qwen3-tiny)
set(PERF_PROFILE ${PERF_DIR}/qwen3-tiny.profile.json)
file(MAKE_DIRECTORY ${PERF_DIR})
add_test(NAME perf_profile_tiny COMMAND ${EXPECT_OK} "GEMM shapes" ${AUTODIST_BIN} profile --model ${PERF_MODEL}
         --out ${PERF_PROFILE} --batch 1,4 --lengths 16,64 --max-tp 4 --reps 1)
set_tests_properties(perf_profile_tiny PROPERTIES FIXTURES_SETUP perf_profile TIMEOUT 300
                     ENVIRONMENT "OPENBLAS_NUM_THREADS=1")

# The profile's factors: tensor-parallel sync, one per thread count up to min(cores, --max-tp), and contention, one
# per core, each 1 at one thread and every other finite and >= 1 (no upper bound: qwen3-tiny's blocks take
# microseconds, and under ctest -j2 one preemption at a barrier can double them); composition finite and positive.
add_test(NAME perf_profile_factors COMMAND python3 -c "
import json, math, os, sys
p = json.load(open(sys.argv[1]))
for key, n in (('sync', min(os.cpu_count(), 4)), ('contention', os.cpu_count())):
    for k in ('decode', 'prefill'):
        v = p[key][k]
        assert len(v) == n, (key, k, v)
        assert v[0] == 1 and all(1 <= f < float('inf') for f in v), (key, k, v)
for k in ('decode', 'prefill'):
    assert 0.5 <= p['compose'][k] <= 3, p['compose']
print('sync', p['sync'], 'contention', p['contention'], 'compose', p['compose'])" ${PERF_PROFILE})
set_tests_properties(perf_profile_factors PROPERTIES FIXTURES_REQUIRED perf_profile TIMEOUT 30)

function(perf_ok name regex)
  add_test(NAME perf_${name} COMMAND ${EXPECT_OK} "${regex}" ${AUTODIST_BIN} ${ARGN})
  set_tests_properties(perf_${name} PROPERTIES FIXTURES_REQUIRED perf_profile TIMEOUT 120)
endfunction()
function(perf_fail name regex)
  add_test(NAME perf_bad_${name} COMMAND ${EXPECT_FAIL} "${regex}" ${AUTODIST_BIN} ${ARGN})
  set_tests_properties(perf_bad_${name} PROPERTIES FIXTURES_REQUIRED perf_profile TIMEOUT 120)
endfunction()
set(PERF_ARGS --model ${PERF_MODEL} --profile ${PERF_PROFILE})
# One JSON object with the four figures (nlohmann sorts the keys).
set(PERF_JSON "^\\{.*\"bytes_per_rank\":[0-9.e+]+.*\"tokens_per_s\":[0-9.e+]+.*\"tpot_ms\":[0-9.e+]+.*\"ttft_ms\":[0-9.e+]+.*\\}$")
perf_ok(predict_json "${PERF_JSON}" predict ${PERF_ARGS} --tp 2 --pp 2 --batch 4 --prompt-len 64 --json)
perf_ok(predict_sp_json "\"kv_sync\":\"ring\".*\"sp_chunk_size\":16" predict ${PERF_ARGS} --pp 2 --sp-chunk-size 16
        --kv-sync ring --prompt-len 64 --json --hosts 2 --ranks-per-host 1 --link-gbps 1)
perf_ok(predict_table "\\| tp2 pp2 \\| [0-9.]+ \\|" predict ${PERF_ARGS} --tp 2 --pp 2 --cluster ${PERF_DATA}/two_hosts.yaml)
perf_ok(plan_table "ranked by tpot" plan ${PERF_ARGS} --cluster ${PERF_DATA}/two_hosts.yaml --rank-by tpot
        --prompt-len 64 --chunks 16,32)
perf_ok(plan_json "^\\{\"layouts\":\\[\\{.*\"ttft_ms\"" plan ${PERF_ARGS} --hosts 1 --ranks-per-host 4 --link-gbps 10
        --json --top 3)

perf_fail(world "--tp 2 x --pp 1 = 2 ranks, but the cluster .* has 4 ranks" predict ${PERF_ARGS} --tp 2
          --hosts 2 --ranks-per-host 2 --link-gbps 1)
perf_fail(heads "--tp 3 does not divide the 8 attention heads" predict ${PERF_ARGS} --tp 3)
perf_fail(stages "--pp 5: more pipeline stages than the 4 layers" predict ${PERF_ARGS} --pp 5)
perf_fail(sp_tp "SP\\+PP prefill runs with --tensor-parallel-size 1" predict ${PERF_ARGS} --tp 2 --pp 2
          --sp-chunk-size 16)
perf_fail(shorthand "needs all of --hosts, --ranks-per-host and --link-gbps" predict ${PERF_ARGS} --hosts 2)
perf_fail(hosts_per_machine "--hosts-per-machine must be >= 1 and divide --hosts 3, got 2" predict ${PERF_ARGS}
          --pp 3 --hosts 3 --ranks-per-host 1 --link-gbps 1 --hosts-per-machine 2)
perf_fail(hosts_per_machine_alone "--hosts-per-machine is part of the --hosts shorthand" predict ${PERF_ARGS}
          --hosts-per-machine 2)
# Two namespace hosts of one 1-core machine: with SP+PP's redundant decode both ranks compute at once on the core.
perf_ok(predict_one_machine "\"ttft_ms\"" predict ${PERF_ARGS} --pp 2 --sp-chunk-size 16 --kv-sync ring
        --prompt-len 64 --json --hosts 2 --ranks-per-host 1 --link-gbps 1 --cores-per-host 1 --hosts-per-machine 2)
perf_fail(link_burst_alone "--link-burst-kb is part of the --hosts shorthand" predict ${PERF_ARGS}
          --cluster ${PERF_DATA}/two_hosts.yaml --link-burst-kb 3)
perf_fail(link_burst_negative "--link-burst-kb must be >= 0, got -1" predict ${PERF_ARGS} --tp 2 --hosts 2
          --ranks-per-host 1 --link-gbps 1 --link-burst-kb -1)
perf_fail(passes "--passes must be >= 1, got 0" profile --model ${PERF_MODEL} --out ${CMAKE_BINARY_DIR}/never.json
          --passes 0)
perf_fail(cluster_yaml "bad_cluster.yaml:4: 'gbps' must be a number, got 'fast'" predict ${PERF_ARGS}
          --cluster ${PERF_DATA}/bad_cluster.yaml)
perf_fail(comm_csv "bad_comm.csv: no 'ranks' column" predict ${PERF_ARGS} --comm-csv ${PERF_DATA}/bad_comm.csv)
perf_fail(profile_file "two_hosts.yaml: not valid JSON \\(a profile from autodist profile" predict --model ${PERF_MODEL}
          --profile ${PERF_DATA}/two_hosts.yaml)
perf_fail(profile_format "config.json: not an autodist profile" predict --model ${PERF_MODEL}
          --profile ${PERF_MODEL}/config.json)
perf_fail(rank_by "unknown --rank-by 'speed'" plan ${PERF_ARGS} --hosts 1 --ranks-per-host 2 --link-gbps 1
          --rank-by speed)
perf_fail(plan_cluster "plan needs the cluster" plan ${PERF_ARGS})
perf_fail(profile_lengths "--lengths: sizes must be >= 1" profile --model ${PERF_MODEL} --out ${PERF_DIR}/x.json
          --lengths 0)
# Profiles on paper: a roofline profile of a config-only synthetic model, then a plan from it.
add_test(NAME perf_synth_config_only COMMAND ${EXPECT_OK} "config only" ${AUTODIST_BIN} synth --preset llama-3.1-70b
         --config-only --out ${PERF_DIR}/llama-3.1-70b)
set_tests_properties(perf_synth_config_only PROPERTIES FIXTURES_SETUP perf_paper TIMEOUT 60)
add_test(NAME perf_roofline_profile COMMAND ${EXPECT_OK} "on h100-sxm: 989 TFLOP/s x 0.7, 3350 GB/s x 0.85"
         ${AUTODIST_BIN} profile --model ${PERF_DIR}/llama-3.1-70b --roofline h100-sxm --dtype bf16 --max-tp 8
         --batch 1,8 --lengths 128,2048 --out ${PERF_DIR}/llama-3.1-70b.h100.json)
set_tests_properties(perf_roofline_profile PROPERTIES FIXTURES_REQUIRED perf_paper FIXTURES_SETUP perf_paper_profile
                     TIMEOUT 60)
# 70B in bf16 (141 GB) fits 8 x 80 GB only when split: tp 1 x pp 1 must be among the rejected layouts.
add_test(NAME perf_roofline_plan COMMAND ${EXPECT_OK} "\"rejected_for_memory\":[1-9].*\"world\":8" ${AUTODIST_BIN} plan
         --model ${PERF_DIR}/llama-3.1-70b --profile ${PERF_DIR}/llama-3.1-70b.h100.json --dtype bf16
         --cluster ${CMAKE_SOURCE_DIR}/configs/clusters/h100x8.yaml --prompt-len 2048 --batch 8 --json)
set_tests_properties(perf_roofline_plan PROPERTIES FIXTURES_REQUIRED "perf_paper;perf_paper_profile" TIMEOUT 60)
perf_fail(roofline_device "unknown device 'tpu9' for a roofline profile \\(known: h100-sxm, h200" profile
          --model ${PERF_MODEL} --roofline tpu9 --out ${PERF_DIR}/x.json)
perf_fail(roofline_custom "--roofline custom needs --peak-tflops" profile --model ${PERF_MODEL} --roofline custom
          --mem-gbps 100 --out ${PERF_DIR}/x.json)
# The report: a sample validation (errors 10, 5, 2 / 10, 25, 3 %: medians 5 and 10, worst 10 and 25) and the plan
# check (by TTFT the plan's first, tp2, measured 120 ms against pp2's 100: 1.200), beside the plans on paper.
add_test(NAME perf_report COMMAND ${EXPECT_OK}
         "TTFT: median .error. <b>5.0%</b>, worst <b>10.0%</b>. Time per output token: median .error. <b>10.0%</b>, worst <b>25.0%</b>.*<td>1.200</td>.*llama-3.1-70b on configs/clusters/h100x8x2.yaml \\(16 ranks\\)"
         sh -c "${CMAKE_SOURCE_DIR}/scripts/perf_report.sh --bin ${AUTODIST_BIN} --validation ${PERF_DATA}/validation_sample --out ${PERF_DIR}/report >/dev/null && tr -d '\\n' < ${PERF_DIR}/report/index.html")
set_tests_properties(perf_report PROPERTIES TIMEOUT 120)
