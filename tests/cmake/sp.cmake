# SP+PP: chunked prefill through a layer pipeline, then KV sync (pairwise, ring) or none.
# Every configuration against the single-rank logits (1e-4); with a sync, every rank's KV cache
# against a one-rank prefill (--check-kv). Prompts of the fixtures run 1..300 tokens, so chunks of
# 16, 100 and 128 cover prompts shorter than one chunk, exact multiples and ragged last chunks.
set(SP_DIR ${CMAKE_CURRENT_BINARY_DIR}/parallel)
foreach(m ${FIXTURES})
  set(ranks 2 3 4)
  if(m IN_LIST FIXTURES_3_LAYERS)
    set(ranks 2 3)  # 3 layers: at most 3 stages
  endif()
  foreach(n ${ranks})
    foreach(c 16 100 128)
      foreach(s pairwise ring none)
        set(extra --sp-chunk-size ${c} --kv-sync ${s})
        if(NOT s STREQUAL "none")
          list(APPEND extra --check-kv)
        endif()
        set(name sp_${m}_n${n}_c${c}_${s})
        add_test(NAME ${name} COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/scripts/verify_parallel.sh
                 ${AUTODIST_BIN} ${TEST_DATA}/models/${m} ${SP_DIR}/${m}.single.safetensors 1 ${n} ${extra})
        set_tests_properties(${name} PROPERTIES FIXTURES_REQUIRED single_${m} TIMEOUT 300
                             ENVIRONMENT "${MPIRUN_ENV};ONLY_SINGLE=1")
      endforeach()
    endforeach()
  endforeach()
endforeach()
# An uneven split through a partition policy.
add_test(NAME sp_llama-tiny_n2_layers31_ring COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/scripts/verify_parallel.sh
         ${AUTODIST_BIN} ${TEST_DATA}/models/llama-tiny ${SP_DIR}/llama-tiny.single.safetensors 1 2
         --partition layers:3,1 --sp-chunk-size 16 --kv-sync ring --check-kv)
set_tests_properties(sp_llama-tiny_n2_layers31_ring PROPERTIES FIXTURES_REQUIRED single_llama-tiny TIMEOUT 300
                     ENVIRONMENT "${MPIRUN_ENV};ONLY_SINGLE=1")

# Bad input: clear errors, no hang.
set(Q3 ${TEST_DATA}/models/qwen3-tiny)
add_test(NAME sp_bad_chunk_negative COMMAND ${EXPECT_FAIL} "--sp-chunk-size must be a positive number"
         timeout 10 mpirun -np 2 ${AUTODIST_BIN} generate --model ${Q3} --prompt-ids 1,2 --pp 2 --sp-chunk-size -4)
add_test(NAME sp_bad_sync_without_pp COMMAND ${EXPECT_FAIL} "need --pipeline-parallel-size > 1"
         timeout 10 ${AUTODIST_BIN} generate --model ${Q3} --prompt-ids 1,2 --kv-sync ring)
add_test(NAME sp_bad_sync_name COMMAND ${EXPECT_FAIL} "unknown --kv-sync 'allgather'"
         timeout 10 mpirun -np 2 ${AUTODIST_BIN} generate --model ${Q3} --prompt-ids 1,2 --pp 2 --kv-sync allgather)
add_test(NAME sp_bad_with_tp COMMAND ${EXPECT_FAIL} "SP\\+PP prefill runs with --tensor-parallel-size 1"
         timeout 10 mpirun -np 4 ${AUTODIST_BIN} generate --model ${Q3} --prompt-ids 1,2 --pp 2 --tp 2 --sp-chunk-size 8)
set_tests_properties(sp_bad_chunk_negative sp_bad_sync_without_pp sp_bad_sync_name sp_bad_with_tp PROPERTIES
                     TIMEOUT 30 ENVIRONMENT "${MPIRUN_ENV}")
# A rank failing in the middle of the chunked prefill (sync thread waiting) ends the job, no hang.
add_test(NAME sp_fail_rank_mid_prefill COMMAND ${EXPECT_FAIL} "\\[1/3\\] error: injected fault"
         timeout 10 mpirun -np 3 -x AUTODIST_FAULT=1:2 ${AUTODIST_BIN} generate --model ${Q3} --prompts-file
         ${CMAKE_CURRENT_SOURCE_DIR}/data/prompts/ids_100.txt --pp 3 --sp-chunk-size 16 --kv-sync pairwise)
set_tests_properties(sp_fail_rank_mid_prefill PROPERTIES TIMEOUT 30 ENVIRONMENT "${MPIRUN_ENV}")

# Against the HF fixtures themselves (the runs above compare with the single rank): teacher-forced logits within
# 1e-3 and free-running greedy generation on the reference's argmax path, for each sync.
foreach(m ${FIXTURES})
  foreach(s pairwise ring none)
    add_test(NAME sp_hf_${m}_n2_c16_${s} COMMAND ${EXPECT_OK} "prompts, 0 failed" timeout 120 ${MPIRUN} -np 2
             ${AUTODIST_BIN} verify --model ${TEST_DATA}/models/${m} --pp 2 --sp-chunk-size 16 --kv-sync ${s})
    set_tests_properties(sp_hf_${m}_n2_c16_${s} PROPERTIES TIMEOUT 300 ENVIRONMENT "${MPIRUN_ENV}")
  endforeach()
endforeach()
