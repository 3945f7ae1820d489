# Shard cache (issue 9): cached runs give bit-identical logits and read no checkpoint bytes; corrupt
# files are rebuilt; concurrent first runs; fingerprints; unwritable dirs; the cache command.
set(CACHE_CHECK ${CMAKE_CURRENT_SOURCE_DIR}/scripts/cache_check.sh)
foreach(m ${FIXTURES})
  foreach(cfg "1 1" "2 1" "1 2" "2 2")
    separate_arguments(tp_pp UNIX_COMMAND "${cfg}")
    list(GET tp_pp 0 tp)
    list(GET tp_pp 1 pp)
    add_test(NAME cache_identical_${m}_tp${tp}_pp${pp}
             COMMAND ${CACHE_CHECK} ${AUTODIST_BIN} ${TEST_DATA}/models/${m} identical ${tp} ${pp})
    set_tests_properties(cache_identical_${m}_tp${tp}_pp${pp} PROPERTIES TIMEOUT 300 ENVIRONMENT "${MPIRUN_ENV}")
  endforeach()
endforeach()
foreach(c corrupt fingerprint unwritable truncated_mapped)
  add_test(NAME cache_${c} COMMAND ${CACHE_CHECK} ${AUTODIST_BIN} ${TEST_DATA}/models/qwen2-tiny ${c})
  set_tests_properties(cache_${c} PROPERTIES TIMEOUT 300 ENVIRONMENT "${MPIRUN_ENV}")
endforeach()
add_test(NAME cache_concurrent_tp2_pp2
         COMMAND ${CACHE_CHECK} ${AUTODIST_BIN} ${TEST_DATA}/models/qwen3-tiny concurrent 2 2)
set_tests_properties(cache_concurrent_tp2_pp2 PROPERTIES TIMEOUT 300 ENVIRONMENT "${MPIRUN_ENV}" PROCESSORS 2)
add_test(NAME cache_bad_action COMMAND ${EXPECT_FAIL} "unknown cache action 'purge'" ${AUTODIST_BIN} cache purge
         --cache-dir /tmp)
add_test(NAME cache_missing_dir COMMAND ${EXPECT_FAIL} "cache directory /nonexistent/autodist does not exist"
         ${AUTODIST_BIN} cache list --cache-dir /nonexistent/autodist)
# bf16 weights: the cache holds the converted matrices; still bit-identical to the uncached bf16 run.
add_test(NAME cache_identical_bf16_qwen3-tiny_tp2_pp1
         COMMAND ${CACHE_CHECK} ${AUTODIST_BIN} ${TEST_DATA}/models/qwen3-tiny identical 2 1 --dtype bf16)
set_tests_properties(cache_identical_bf16_qwen3-tiny_tp2_pp1 PROPERTIES TIMEOUT 300 ENVIRONMENT "${MPIRUN_ENV}")
