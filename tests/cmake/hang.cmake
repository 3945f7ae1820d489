# Hangs (issue 18): a stopped or missing rank ends the job on every rank within --comm-timeout, naming the waiting
# rank and the operation, while its peers back off to sleeping (tests/scripts/stall_test.sh measures their CPU);
# a sweep point that stalls is recorded as failed with the reason. Each run is wrapped in `timeout`, and each test
# has a ctest TIMEOUT, so a regression fails instead of hanging CI.
set(STALL_TEST ${CMAKE_CURRENT_SOURCE_DIR}/scripts/stall_test.sh)
set(HANG_Q3 ${TEST_DATA}/models/qwen3-tiny)

# comm-bench's own path (the wrapper, not --baseline): rank 1 gets SIGSTOP in the middle of the timed loop.
add_test(NAME hang_comm_bench_sigstop
         COMMAND ${STALL_TEST} --stop-rank 1 --after "# +size" 15 "rank 0: waited [0-9.]+ s in (all_reduce|barrier) over world ranks 0, 1"
                 timeout 90 ${MPIRUN} -np 2 ${AUTODIST_BIN} comm-bench --op all_reduce -b 8 -e 8 --iters 100000000
                 --warmup 0 --comm-timeout 4)
# The pipeline: the last stage stops itself in its 4th forward pass; the first stage waits for its tokens.
add_test(NAME hang_generate_pp_stop
         COMMAND ${STALL_TEST} 15 "rank 0: waited [0-9.]+ s in recv from rank 1 \\(pipeline (tokens|activations)\\)"
                 timeout 90 ${MPIRUN} -np 2 -x AUTODIST_FAULT=1:3:stop ${AUTODIST_BIN} generate --model ${HANG_Q3}
                 --prompt-ids 1,2,3 --pp 2 --max-output-length 16 --comm-timeout 4)
# Tensor parallel: rank 1 stops; rank 0 waits in the layer's all_reduce (the data channel's ring).
add_test(NAME hang_generate_tp_stop
         COMMAND ${STALL_TEST} 15 "rank 0: waited [0-9.]+ s in .*\\(tensor parallel\\)"
                 timeout 90 ${MPIRUN} -np 2 -x AUTODIST_FAULT=1:3:stop ${AUTODIST_BIN} generate --model ${HANG_Q3}
                 --prompt-ids 1,2,3 --tp 2 --max-output-length 16 --comm-timeout 4)
# SP+PP: the KV-cache sync thread's waits are bounded too (whichever wait of rank 0 times out first is named).
add_test(NAME hang_sp_kv_sync_stop
         COMMAND ${STALL_TEST} 15 "rank 0: waited [0-9.]+ s in .*rank 1"
                 timeout 90 ${MPIRUN} -np 2 -x AUTODIST_FAULT=1:1:stop ${AUTODIST_BIN} generate --model ${HANG_Q3}
                 --prompt-ids 1,2,3,4,5,6,7,8,9,10,11,12 --pp 2 --sp-chunk-size 4 --max-output-length 4
                 --comm-timeout 4)
set_tests_properties(hang_comm_bench_sigstop hang_generate_pp_stop hang_generate_tp_stop hang_sp_kv_sync_stop
                     PROPERTIES ENVIRONMENT "${MPIRUN_ENV}" TIMEOUT 150 PROCESSORS 2 LABELS mpi)

# A rank that never reaches MPI_Init: the others' MPI_Init would wait for it forever; they end after --comm-timeout.
add_test(NAME hang_mpi_init_missing_rank
         COMMAND ${EXPECT_FAIL} "MPI_Init and the handshake of every rank did not complete within 3 s"
                 timeout 60 ${MPIRUN} -np 2 sh -c "[ \"$OMPI_COMM_WORLD_RANK\" = 1 ] && exec sleep 300; exec ${AUTODIST_BIN} comm-bench --op barrier -b 8 -e 8 --comm-timeout 3")
# A rank that exits with an error before MPI_Init while the other waits there: the launcher ends the job.
add_test(NAME hang_rank_exits_early
         COMMAND ${EXPECT_FAIL} "non-zero exit code|non-zero status"
                 timeout 60 ${MPIRUN} -np 2 sh -c "[ \"$OMPI_COMM_WORLD_RANK\" = 1 ] && exit 3; exec ${AUTODIST_BIN} comm-bench --op barrier -b 8 -e 8")
set_tests_properties(hang_mpi_init_missing_rank hang_rank_exits_early PROPERTIES ENVIRONMENT "${MPIRUN_ENV}"
                     TIMEOUT 90 PROCESSORS 2 LABELS mpi)

# Bad value: a clear error, no run.
add_test(NAME hang_comm_timeout_bad
         COMMAND ${EXPECT_FAIL} "--comm-timeout must be a positive number of seconds, got 0"
                 ${AUTODIST_BIN} generate --model ${HANG_Q3} --prompt-ids 1 --comm-timeout 0)
set_tests_properties(hang_comm_timeout_bad PROPERTIES TIMEOUT 60)

# Sweeps whose point stalls (rank 1 stops): recorded as failed, with the comm-timeout message or the timeout_s
# reason, and the sweep ends non-zero (tests/hang/sweep_stall.sh).
foreach(case comm_timeout timeout_s)
  add_test(NAME hang_sweep_${case} COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/hang/sweep_stall.sh ${AUTODIST_BIN} ${case}
                   ${CMAKE_CURRENT_BINARY_DIR}/hang_sweep_${case})
  set_tests_properties(hang_sweep_${case} PROPERTIES ENVIRONMENT "${MPIRUN_ENV}" TIMEOUT 150 PROCESSORS 2
                       LABELS mpi)
endforeach()
