# Tensor and pipeline parallelism under mpirun: every configuration against HF and against the
# single-rank logits of the same model (within 1e-4).
set(PAR_DIR ${CMAKE_CURRENT_BINARY_DIR}/parallel)
file(MAKE_DIRECTORY ${PAR_DIR})
set(PAR_CONFIGS "2 1" "4 1" "1 2" "1 3" "2 2" "1 4")
foreach(m ${FIXTURES})
  add_test(NAME single_dump_${m} COMMAND ${AUTODIST_BIN} verify --model ${TEST_DATA}/models/${m}
           --dump-logits ${PAR_DIR}/${m}.single.safetensors)
  set_tests_properties(single_dump_${m} PROPERTIES FIXTURES_SETUP single_${m} TIMEOUT 120)
  foreach(cfg ${PAR_CONFIGS})
    separate_arguments(tp_pp UNIX_COMMAND "${cfg}")
    list(GET tp_pp 0 tp)
    list(GET tp_pp 1 pp)
    # 3-layer models cannot take 4 stages (each stage needs a layer)
    if(m IN_LIST FIXTURES_3_LAYERS AND pp EQUAL 4)
      continue()
    endif()
    add_test(NAME parallel_${m}_tp${tp}_pp${pp} COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/scripts/verify_parallel.sh
             ${AUTODIST_BIN} ${TEST_DATA}/models/${m} ${PAR_DIR}/${m}.single.safetensors ${tp} ${pp})
    set_tests_properties(parallel_${m}_tp${tp}_pp${pp} PROPERTIES FIXTURES_REQUIRED single_${m} TIMEOUT 300
                         ENVIRONMENT "${MPIRUN_ENV}" PROCESSORS 2)
  endforeach()
endforeach()
# Uneven pipeline splits through the partition policies.
add_test(NAME parallel_qwen3-tiny_pp2_layers13 COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/scripts/verify_parallel.sh
         ${AUTODIST_BIN} ${TEST_DATA}/models/qwen3-tiny ${PAR_DIR}/qwen3-tiny.single.safetensors 1 2 --partition layers:1,3)
add_test(NAME parallel_llama-tiny_tp2pp2_equal_params COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/scripts/verify_parallel.sh
         ${AUTODIST_BIN} ${TEST_DATA}/models/llama-tiny ${PAR_DIR}/llama-tiny.single.safetensors 2 2 --partition equal-params)
set_tests_properties(parallel_qwen3-tiny_pp2_layers13 PROPERTIES FIXTURES_REQUIRED single_qwen3-tiny TIMEOUT 300 ENVIRONMENT "${MPIRUN_ENV}")
set_tests_properties(parallel_llama-tiny_tp2pp2_equal_params PROPERTIES FIXTURES_REQUIRED single_llama-tiny TIMEOUT 300 ENVIRONMENT "${MPIRUN_ENV}")

# Micro-batched pipelines: a batch of 4 prompts of different lengths equals the single-prompt runs.
add_test(NAME microbatch_pp2_mb2 COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/scripts/batch_vs_single.sh ${AUTODIST_BIN}
         ${TEST_DATA}/models/qwen3-tiny)
set_tests_properties(microbatch_pp2_mb2 PROPERTIES TIMEOUT 300
  ENVIRONMENT "${MPIRUN_ENV};LAUNCH=mpirun -np 2;PAR=--pp 2 --micro-batches 2")
add_test(NAME microbatch_tp2pp2_mb2_sampled COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/scripts/batch_vs_single.sh ${AUTODIST_BIN}
         ${TEST_DATA}/models/qwen2-tiny --temperature 0.8 --top-k 50 --top-p 0.9 --seed 7)
set_tests_properties(microbatch_tp2pp2_mb2_sampled PROPERTIES TIMEOUT 300
  ENVIRONMENT "${MPIRUN_ENV};LAUNCH=mpirun -np 4;PAR=--tp 2 --pp 2 --micro-batches 2")

# Failure behaviour: every rank exits non-zero within 10 s, the message names the rank; no hang.
set(Q3 ${TEST_DATA}/models/qwen3-tiny)
function(expect_mpi_fail name regex)
  add_test(NAME ${name} COMMAND ${EXPECT_FAIL} "${regex}" timeout 10 ${ARGN})
  set_tests_properties(${name} PROPERTIES TIMEOUT 30 ENVIRONMENT "${MPIRUN_ENV}" FIXTURES_REQUIRED bad_inputs)
endfunction()
expect_mpi_fail(fail_world_size "world size 2 != tensor-parallel size 2 x pipeline-parallel size 2"
                ${MPIRUN} -np 2 ${AUTODIST_BIN} generate --model ${Q3} --prompt-ids 1,2 --tp 2 --pp 2)
expect_mpi_fail(fail_tp_heads "tensor-parallel size 3 does not divide the 4 key/value heads"
                ${MPIRUN} -np 3 ${AUTODIST_BIN} generate --model ${Q3} --prompt-ids 1,2 --tp 3)
expect_mpi_fail(fail_pp_layers "pipeline-parallel size 5 is larger than the 4 layers"
                ${MPIRUN} -np 5 ${AUTODIST_BIN} generate --model ${Q3} --prompt-ids 1,2 --pp 5)
expect_mpi_fail(fail_checkpoint_one_rank "\\[1/2\\] error: no model.safetensors"
                ${MPIRUN} -np 1 ${AUTODIST_BIN} generate --model ${TEST_DATA}/models/llama-tiny --prompt-ids 1,2 --tp 2
                : -np 1 ${AUTODIST_BIN} generate --model ${CMAKE_CURRENT_BINARY_DIR}/bad_inputs/no_weights --prompt-ids 1,2 --tp 2)
expect_mpi_fail(fail_rank_throws_mid_run "\\[1/2\\] error: injected fault .* on rank 1"
                ${MPIRUN} -np 2 -x AUTODIST_FAULT=1:3 ${AUTODIST_BIN} generate --model ${Q3} --prompt-ids 1,2,3 --pp 2 --max-output-length 8)
expect_mpi_fail(fail_rank_throws_tp "\\[2/4\\] error: injected fault"
                ${MPIRUN} -np 4 -x AUTODIST_FAULT=2:5 ${AUTODIST_BIN} generate --model ${Q3} --prompt-ids 1,2,3 --tp 2 --pp 2 --max-output-length 8)

# GPT-2 and OPT through the same schedules: micro-batched pipelines and the partition policies.
add_test(NAME microbatch_gpt2-tiny_pp2_mb2 COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/scripts/batch_vs_single.sh ${AUTODIST_BIN}
         ${TEST_DATA}/models/gpt2-tiny)
set_tests_properties(microbatch_gpt2-tiny_pp2_mb2 PROPERTIES TIMEOUT 300
  ENVIRONMENT "${MPIRUN_ENV};LAUNCH=mpirun -np 2;PAR=--pp 2 --micro-batches 2")
add_test(NAME microbatch_opt-tiny_tp2pp2_mb2_sampled COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/scripts/batch_vs_single.sh
         ${AUTODIST_BIN} ${TEST_DATA}/models/opt-tiny --temperature 0.8 --top-k 50 --top-p 0.9 --seed 7)
set_tests_properties(microbatch_opt-tiny_tp2pp2_mb2_sampled PROPERTIES TIMEOUT 300
  ENVIRONMENT "${MPIRUN_ENV};LAUNCH=mpirun -np 4;PAR=--tp 2 --pp 2 --micro-batches 2")
add_test(NAME parallel_gpt2-tiny_pp2_equal_params COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/scripts/verify_parallel.sh
         ${AUTODIST_BIN} ${TEST_DATA}/models/gpt2-tiny ${PAR_DIR}/gpt2-tiny.single.safetensors 1 2 --partition equal-params)
add_test(NAME parallel_opt-tiny_tp2pp2_layers21 COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/scripts/verify_parallel.sh
         ${AUTODIST_BIN} ${TEST_DATA}/models/opt-tiny ${PAR_DIR}/opt-tiny.single.safetensors 2 2 --partition layers:2,1)
set_tests_properties(parallel_gpt2-tiny_pp2_equal_params PROPERTIES FIXTURES_REQUIRED single_gpt2-tiny TIMEOUT 300
                     ENVIRONMENT "${MPIRUN_ENV}")
set_tests_properties(parallel_opt-tiny_tp2pp2_layers21 PROPERTIES FIXTURES_REQUIRED single_opt-tiny TIMEOUT 300
                     ENVIRONMENT "${MPIRUN_ENV}")

# Time to first token on a stage before the last ends when the first tokens arrive from the last stage.
foreach(mb 1 2)
  add_test(NAME pp_ttft_first_stage_mb${mb}
           COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/scripts/pp_ttft.sh ${CMAKE_CURRENT_BINARY_DIR}/pp_ttft_mb${mb} ${mb}
                   ${MPIRUN} -np 2 ${AUTODIST_BIN} generate --model ${Q3} --prompt-ids 1,2,3,4,5 --batch-size 2
                   --pp 2 --max-output-length 4)
  set_tests_properties(pp_ttft_first_stage_mb${mb} PROPERTIES ENVIRONMENT "${MPIRUN_ENV}" TIMEOUT 120 PROCESSORS 2)
endforeach()
