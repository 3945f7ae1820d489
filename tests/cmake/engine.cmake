# Single-rank engine against the HF reference fixtures, and bad input to the CLI.
foreach(m ${FIXTURES})
  add_test(NAME verify_${m} COMMAND ${EXPECT_OK} "[0-9]+ prompts, 0 failed" ${AUTODIST_BIN} verify --model ${TEST_DATA}/models/${m})
  set_tests_properties(verify_${m} PROPERTIES TIMEOUT 120)
endforeach()

add_test(NAME generate_batch_matches_single COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/scripts/batch_vs_single.sh ${AUTODIST_BIN}
         ${TEST_DATA}/models/qwen3-tiny)
set_tests_properties(generate_batch_matches_single PROPERTIES TIMEOUT 120)

set(BAD ${CMAKE_CURRENT_BINARY_DIR}/bad_inputs)
add_test(NAME bad_inputs_setup COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/scripts/make_bad_inputs.sh ${TEST_DATA}/models/llama-tiny ${BAD})
set_tests_properties(bad_inputs_setup PROPERTIES FIXTURES_SETUP bad_inputs)
function(expect_fail name regex)
  add_test(NAME ${name} COMMAND ${EXPECT_FAIL} "${regex}" ${ARGN})
  set_tests_properties(${name} PROPERTIES TIMEOUT 60 FIXTURES_REQUIRED bad_inputs)
endfunction()
set(GEN ${AUTODIST_BIN} generate --prompt-ids 1,2,3 --max-output-length 2 --model)
expect_fail(bad_missing_dir "model directory .*does not exist" ${GEN} ${BAD}/nope)
expect_fail(bad_missing_config "config.json is missing" ${GEN} ${BAD}/no_config)
expect_fail(bad_unknown_arch "architecture 'BertModel' is not supported" ${GEN} ${BAD}/unknown_arch)
expect_fail(bad_truncated "lies outside the data section|truncated" ${GEN} ${BAD}/truncated)
expect_fail(bad_header_past_eof "header length .* runs past the end" ${GEN} ${BAD}/header_past_eof)
expect_fail(bad_offsets "data \\[.*\\) lies outside the data section" ${GEN} ${BAD}/bad_offsets)
expect_fail(bad_missing_weight "weight 'model.layers.1.mlp.up_proj.weight' is missing" ${GEN} ${BAD}/missing_weight)
expect_fail(bad_misshaped_weight "weight 'model.layers.0.self_attn.q_proj.weight' in .*: the config implies shape \\[64, 64\\], the checkpoint holds \\[32, 64\\]"
            ${GEN} ${BAD}/misshaped_weight)
expect_fail(bad_no_weights "no model.safetensors" ${GEN} ${BAD}/no_weights)
expect_fail(bad_llama_mlp_bias_needs_its_tensors "weight 'model.layers.0.mlp.gate_proj.bias' is missing" ${GEN} ${BAD}/mlp_bias)
expect_fail(bad_llama_gelu "hidden_act 'gelu' is not supported for LlamaForCausalLM" ${GEN} ${BAD}/gelu_act)
expect_fail(bad_prompt_id "token id 5000 is out of range" ${AUTODIST_BIN} generate --model ${TEST_DATA}/models/llama-tiny --prompt-ids 1,5000)
expect_fail(bad_prompt_text "'x7' is not a token id" ${AUTODIST_BIN} generate --model ${TEST_DATA}/models/llama-tiny --prompt-ids 1,x7)
expect_fail(bad_prompt_too_long "longer than the model's context of 1024" ${AUTODIST_BIN} generate --model ${TEST_DATA}/models/llama-tiny
            --prompts-file ${BAD}/long_prompt.txt)
expect_fail(bad_option "unrecognised option|unrecognized option" ${AUTODIST_BIN} generate --model ${TEST_DATA}/models/llama-tiny --no-such-flag)
expect_fail(bad_top_p "--top-p must be in" ${AUTODIST_BIN} generate --model ${TEST_DATA}/models/llama-tiny --prompt-ids 1 --top-p 0)
expect_fail(bad_partition "unknown partition policy" ${AUTODIST_BIN} inspect --model ${TEST_DATA}/models/llama-tiny --pp 2 --partition foo)
expect_fail(bad_pp_too_large "larger than the 4 layers" ${AUTODIST_BIN} inspect --model ${TEST_DATA}/models/llama-tiny --pp 5)
# Counts are >= 1: --tp 0 ran as tp 1 (0 meant "not given"); tp x pp and the output length must not wrap.
expect_fail(bad_tp_zero "--tensor-parallel-size \\(--tp\\) must be >= 1, got 0" ${GEN} ${TEST_DATA}/models/llama-tiny --tp 0)
expect_fail(bad_pp_zero "--pipeline-parallel-size \\(--pp\\) must be >= 1, got 0" ${GEN} ${TEST_DATA}/models/llama-tiny --pp 0)
expect_fail(bad_tp_times_pp_overflow "--tp 65536 x --pp 65536 = 4294967296 ranks is more than MPI can launch"
            ${GEN} ${TEST_DATA}/models/llama-tiny --tp 65536 --pp 65536)
expect_fail(bad_max_output_length_not_int64 "option '--max-output-length' is invalid: not a number, or out of range for the option"
            ${AUTODIST_BIN} generate --model ${TEST_DATA}/models/llama-tiny --prompt-ids 1 --max-output-length 99999999999999999999)
expect_fail(bad_seed_negative "--seed must be >= 0, got -1" ${GEN} ${TEST_DATA}/models/llama-tiny --seed -1)
expect_fail(bad_inspect_tp_zero "--tp and --pp must be >= 1, got 0 and 1" ${AUTODIST_BIN} inspect --model ${TEST_DATA}/models/llama-tiny --tp 0)
expect_fail(bad_verify_atol_nan "--atol must be a finite number >= 0, got nan" ${AUTODIST_BIN} verify
            --model ${TEST_DATA}/models/llama-tiny --atol nan)
# The largest int64 output length runs to the context (it reserved 2^63 tokens: "internal error: vector::reserve").
add_test(NAME generate_max_output_length_int64_max COMMAND ${EXPECT_OK} "-> 1021 tokens \\(context\\)" ${AUTODIST_BIN} generate
         --model ${TEST_DATA}/models/llama-tiny --prompt-ids 1,2,3 --max-output-length 9223372036854775807)
# A temperature so small that logits / T overflow a float is greedy (it returned the least likely token, 1023).
add_test(NAME generate_tiny_temperature_is_greedy COMMAND ${EXPECT_OK} "-> 8 tokens \\(length\\): 510,510,922,579,626,527,527,158"
         ${AUTODIST_BIN} generate --model ${TEST_DATA}/models/llama-tiny --prompt-ids 1,2,3 --max-output-length 8 --temperature 1e-40)
set_tests_properties(generate_max_output_length_int64_max generate_tiny_temperature_is_greedy PROPERTIES TIMEOUT 120)
# NaN logits stop the run naming the step and the rank (they became token 0); at pp 2 the head is on rank 1.
expect_fail(bad_nan_logits "rank 0: the logits of the prefill \\(step 0\\) \\(sequence 0, position 3\\) are NaN or infinite"
            ${GEN} ${BAD}/nan_logits)
expect_fail(bad_nan_logits_pp2 "rank 1: the logits of the prefill \\(step 0\\) \\(sequence 0, position 3\\) are NaN or infinite"
            ${MPIRUN} -np 2 ${GEN} ${BAD}/nan_logits --pp 2)
set_tests_properties(bad_nan_logits_pp2 PROPERTIES ENVIRONMENT "${MPIRUN_ENV}" PROCESSORS 2)
expect_fail(bad_unknown_command "unknown command 'frobnicate'" ${AUTODIST_BIN} frobnicate)

# Text in, text out on a synthetic model with the real Qwen3 vocabulary and tokenizer.
add_test(NAME generate_text_chat COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/scripts/generate_text.sh ${AUTODIST_BIN}
         ${CMAKE_SOURCE_DIR}/data/tokenizers/qwen3 ${CMAKE_CURRENT_BINARY_DIR}/tiny_text)
set_tests_properties(generate_text_chat PROPERTIES TIMEOUT 120)

# Every command's --help prints its usage and exits 0, even without the required options.
foreach(cmd generate verify bench inspect synth tokenize comm-bench sweep cache)
  add_test(NAME help_${cmd} COMMAND ${EXPECT_OK} "autodist ${cmd}[: ]" ${AUTODIST_BIN} ${cmd} --help)
  set_tests_properties(help_${cmd} PROPERTIES TIMEOUT 30)
endforeach()

# Half-precision weights on the cpu backend (math in f32): every fixture within rtol 3e-2 per row.
foreach(m ${FIXTURES})
  add_test(NAME verify_bf16_${m} COMMAND ${EXPECT_OK} "prompts, 0 failed \\(rtol" ${AUTODIST_BIN} verify
           --model ${TEST_DATA}/models/${m} --dtype bf16)
  set_tests_properties(verify_bf16_${m} PROPERTIES TIMEOUT 120)
endforeach()
add_test(NAME verify_f16_llama-tiny COMMAND ${EXPECT_OK} "prompts, 0 failed \\(rtol" ${AUTODIST_BIN} verify
         --model ${TEST_DATA}/models/llama-tiny --dtype f16)
set_tests_properties(verify_f16_llama-tiny PROPERTIES TIMEOUT 120)
add_test(NAME verify_bf16_qwen3-tiny_tp2_pp2 COMMAND ${EXPECT_OK} "prompts, 0 failed \\(rtol" ${MPIRUN} -np 4
         ${AUTODIST_BIN} verify --model ${TEST_DATA}/models/qwen3-tiny --dtype bf16 --tp 2 --pp 2)
set_tests_properties(verify_bf16_qwen3-tiny_tp2_pp2 PROPERTIES TIMEOUT 120 ENVIRONMENT "${MPIRUN_ENV}")

# bench at pp 2 splits rank 0's time into compute and comm+wait with neither negative: the wait for the first tokens
# (the last stage's prefill) is the prefill's (it was counted in the decode: compute -5.3 ms of a 0.5 ms step).
set(BENCH_SPLIT "\\| [0-9.]+ \\| [0-9.]+ / [0-9.]+ \\| [0-9.]+ \\| [0-9.]+ \\| [0-9.]+ / [0-9.]+ \\| [0-9.]+ \\|")
add_test(NAME bench_pp2_split_not_negative COMMAND ${EXPECT_OK} "${BENCH_SPLIT}" ${MPIRUN} -np 2 ${AUTODIST_BIN} bench
         --model ${TEST_DATA}/models/llama-tiny --pp 2 --prompt-len 256 --output-len 2 --log-level warn)
add_test(NAME bench_pp2_mb2_split_not_negative COMMAND ${EXPECT_OK} "${BENCH_SPLIT}" ${MPIRUN} -np 2 ${AUTODIST_BIN}
         bench --model ${TEST_DATA}/models/llama-tiny --pp 2 --micro-batches 2 --batch-size 4 --prompt-len 128
         --output-len 3 --log-level warn)
set_tests_properties(bench_pp2_split_not_negative bench_pp2_mb2_split_not_negative PROPERTIES TIMEOUT 120
                     ENVIRONMENT "${MPIRUN_ENV}" PROCESSORS 2)

# inspect shows the split generate uses, sized in the run's dtype: a memory budget that bf16 weights fit and f32
# weights do not (llama-tiny: 0.69 MB per stage in f32).
set(PMATCH ${CMAKE_CURRENT_SOURCE_DIR}/scripts/partition_match.sh ${AUTODIST_BIN} ${TEST_DATA}/models/llama-tiny)
add_test(NAME partition_inspect_matches_generate_bf16 COMMAND ${PMATCH} 2 --partition memory:0.0004,0.0008 --dtype bf16)
add_test(NAME partition_inspect_matches_generate_f32 COMMAND ${EXPECT_OK} "generate .exit 1.: .*stage 0 needs 0.454 MB of weights in f32"
         ${PMATCH} 2 --partition memory:0.0004,0.0008 --dtype f32)
add_test(NAME partition_inspect_matches_generate_equal_params COMMAND ${PMATCH} 3 --partition equal-params)
set_tests_properties(partition_inspect_matches_generate_bf16 partition_inspect_matches_generate_f32
                     partition_inspect_matches_generate_equal_params PROPERTIES TIMEOUT 120 ENVIRONMENT "${MPIRUN_ENV}")

# GPT-2 and OPT with shapes no fixture has (6 heads: tp 3), and a Llama with every bias: the same tokens at tp / pp
# as on one rank, greedy and sampled.
set(TPMATCH ${CMAKE_CURRENT_SOURCE_DIR}/scripts/tp_tokens_match.sh ${AUTODIST_BIN})
set(CFGS ${CMAKE_CURRENT_SOURCE_DIR}/data/configs)
add_test(NAME family_gpt2_6heads_tp3 COMMAND ${TPMATCH} ${CFGS}/gpt2-6heads.config.json 3)
add_test(NAME family_opt_6heads_tp3 COMMAND ${TPMATCH} ${CFGS}/opt-6heads.config.json 3)
add_test(NAME family_gpt2_6heads_tp2_pp2 COMMAND ${TPMATCH} ${CFGS}/gpt2-6heads.config.json 2 2)
add_test(NAME family_llama_biases_tp2_pp2 COMMAND ${TPMATCH} ${CFGS}/llama-biases.config.json 2 2)
set_tests_properties(family_gpt2_6heads_tp3 family_opt_6heads_tp3 family_gpt2_6heads_tp2_pp2
                     family_llama_biases_tp2_pp2 PROPERTIES TIMEOUT 300 ENVIRONMENT "${MPIRUN_ENV}" PROCESSORS 2)
# The GPT-2 124M preset end to end (250 MB in bf16): synth, inspect, generate.
add_test(NAME synth_preset_gpt2 COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/scripts/synth_preset.sh ${AUTODIST_BIN} gpt2
         "parameters 124.440 M")
set_tests_properties(synth_preset_gpt2 PROPERTIES TIMEOUT 120)
add_test(NAME gpt2_bare_model_names COMMAND ${EXPECT_OK} "3 prompts, 0 failed" ${CMAKE_CURRENT_SOURCE_DIR}/scripts/bare_names.sh
         ${AUTODIST_BIN} ${TEST_DATA}/models/gpt2-tiny transformer.)
add_test(NAME opt_bare_model_names COMMAND ${EXPECT_OK} "3 prompts, 0 failed" ${CMAKE_CURRENT_SOURCE_DIR}/scripts/bare_names.sh
         ${AUTODIST_BIN} ${TEST_DATA}/models/opt-tiny model.)
set_tests_properties(gpt2_bare_model_names opt_bare_model_names PROPERTIES TIMEOUT 120)

# A CUDA build on a machine without CUDA libraries (the toolkit hidden in a private mount namespace): cpu runs
# work, --device cuda fails with a message; the binary links no CUDA library.
add_test(NAME hidden_cuda_libs COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/scripts/hidden_cuda_libs.sh ${AUTODIST_BIN}
         ${TEST_DATA}/models/llama-tiny)
set_tests_properties(hidden_cuda_libs PROPERTIES TIMEOUT 120 ENVIRONMENT "${MPIRUN_ENV}")
