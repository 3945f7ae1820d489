# dist: the mpi Communicator unit tests (tests/mpi/*.cpp, one doctest binary run under mpirun at
# 2, 3 and 4 ranks) and `autodist comm-bench` end to end, good and bad input.

file(GLOB MPI_TEST_SOURCES CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/mpi/*.cpp)
add_executable(autodist_mpi_tests ${MPI_TEST_SOURCES})
target_link_libraries(autodist_mpi_tests PRIVATE autodist_core doctest::doctest)
# Built by the usual `cmake --build ... --target autodist autodist_tests`.
add_dependencies(autodist_tests autodist_mpi_tests)


# One rank without mpirun (a singleton world) must work too.
add_test(NAME mpi_communicator_singleton COMMAND $<TARGET_FILE:autodist_mpi_tests>)
set_tests_properties(mpi_communicator_singleton PROPERTIES ENVIRONMENT "${MPIRUN_ENV}" TIMEOUT 300 LABELS mpi)
foreach(np 2 3 4)
  add_test(NAME mpi_communicator_np${np} COMMAND ${MPIRUN} -np ${np} $<TARGET_FILE:autodist_mpi_tests>)
  set_tests_properties(mpi_communicator_np${np} PROPERTIES ENVIRONMENT "${MPIRUN_ENV}" TIMEOUT 600
                       PROCESSORS ${np} LABELS mpi)
endforeach()

# A limit the user gives Open MPI is kept (MpiEnv sets its own TCP eager limit otherwise).
add_test(NAME mpi_env_user_eager_limit
         COMMAND ${MPIRUN} -np 2 --mca btl_tcp_eager_limit 65536 $<TARGET_FILE:autodist_mpi_tests> -tc=MpiEnv*)
set_tests_properties(mpi_env_user_eager_limit PROPERTIES ENVIRONMENT "${MPIRUN_ENV};AUTODIST_TEST_USER_EAGER_LIMIT=65536"
                     TIMEOUT 120 PROCESSORS 2 LABELS mpi)

# comm-bench: every op, checked, on 4 ranks (short sweep); 3 ranks in bf16 with max, root 2 and
# the raw-MPI baseline (the pair ops are skipped on an odd world); one rank without mpirun.
add_test(NAME comm_bench_all_np4
         COMMAND ${MPIRUN} -np 4 ${AUTODIST_BIN} comm-bench --backend mpi --op all --check -b 8 -e 1M --time-budget 20)
add_test(NAME comm_bench_bf16_np3
         COMMAND ${MPIRUN} -np 3 ${AUTODIST_BIN} comm-bench --op all --check --dtype bf16 --redop max --root 2
                 -b 8 -e 64K -f 4 --iters 5 --warmup 1 --baseline)
add_test(NAME comm_bench_singleton
         COMMAND ${AUTODIST_BIN} comm-bench --op all_reduce,broadcast,all_gather --check -b 8 -e 64K -f 8
                 --output-dir ${CMAKE_CURRENT_BINARY_DIR}/comm_bench_singleton)
# The large-message rings and the segmented reduce (src/dist/mpi_small.cpp) on 3 ranks, f32 and bf16: blocks of
# several segments at sizes no segment divides (100K x 3^k), both placements.
foreach(dt f32 bf16)
  add_test(NAME comm_bench_large_${dt}_np3
           COMMAND ${MPIRUN} -np 3 ${AUTODIST_BIN} comm-bench --op all_gather,reduce_scatter,reduce --check --dtype ${dt}
                   --root 1 -b 100K -e 3M -f 3 --iters 2 --warmup 1)
  set_tests_properties(comm_bench_large_${dt}_np3 PROPERTIES PROCESSORS 3)
  list(APPEND CB_CHECKED comm_bench_large_${dt}_np3)
endforeach()
set_tests_properties(comm_bench_all_np4 comm_bench_bf16_np3 comm_bench_singleton ${CB_CHECKED} PROPERTIES
                     ENVIRONMENT "${MPIRUN_ENV}" TIMEOUT 600 FAIL_REGULAR_EXPRESSION "FAILED")
set_tests_properties(comm_bench_all_np4 PROPERTIES PROCESSORS 4)
set_tests_properties(comm_bench_bf16_np3 PROPERTIES PROCESSORS 3)

# The ring sendrecv (any number of ranks) and both placements of every op that has them, in the CSV
# with --check, at 2, 3 and 4 ranks (isend_irecv pairs ranks, so not at 3).
set(CB_PLACED "sendrecv:out-of-place broadcast:in-place barrier:out-of-place")
foreach(op scatter gather reduce all_reduce all_gather reduce_scatter)
  string(APPEND CB_PLACED " ${op}:out-of-place ${op}:in-place")
endforeach()
foreach(np 2 3 4)
  math(EXPR last "${np} - 1")
  set(want "${CB_PLACED}")
  if(NOT np EQUAL 3)
    string(APPEND want " isend_irecv:out-of-place")
  endif()
  add_test(NAME comm_bench_placements_np${np}
           COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/scripts/comm_bench_csv.sh ${CMAKE_CURRENT_BINARY_DIR}/comm_bench_np${np}
                   "${want}" ${MPIRUN} -np ${np} ${AUTODIST_BIN} comm-bench --op all -b 4 -e 300K -f 9 --iters 3
                   --warmup 1 --root ${last})
  set_tests_properties(comm_bench_placements_np${np} PROPERTIES ENVIRONMENT "${MPIRUN_ENV}" TIMEOUT 300
                       PROCESSORS ${np})
endforeach()

# --check must fail the run when a result is wrong (test hook: one corrupted element per size).
add_test(NAME comm_bench_inject_error
         COMMAND ${EXPECT_FAIL} "Out of bounds values : [1-9][0-9]* FAILED"
                 ${MPIRUN} -np 2 ${AUTODIST_BIN} comm-bench --op all_reduce,gather --check -b 8 -e 4K)
set_tests_properties(comm_bench_inject_error PROPERTIES
                     ENVIRONMENT "${MPIRUN_ENV};AUTODIST_COMM_BENCH_INJECT_ERROR=1" TIMEOUT 120 PROCESSORS 2)

# Buffers from a backend's allocator, written and checked through host mirrors (the path of --device cuda and
# --backend nccl, here with the cpu backend's memory): every op checked on 3 ranks, and a corrupted mirror must fail.
add_test(NAME comm_bench_device_cpu_np3
         COMMAND ${EXPECT_OK} "device: cpu backend" ${MPIRUN} -np 3 ${AUTODIST_BIN} comm-bench --device cpu --op all
                 --check --root 1 -b 8 -e 300K -f 7 --iters 3 --warmup 1)
set_tests_properties(comm_bench_device_cpu_np3 PROPERTIES ENVIRONMENT "${MPIRUN_ENV}" TIMEOUT 300 PROCESSORS 3
                     FAIL_REGULAR_EXPRESSION "FAILED")
add_test(NAME comm_bench_device_cpu_inject_error
         COMMAND ${EXPECT_FAIL} "Out of bounds values : [1-9][0-9]* FAILED"
                 ${MPIRUN} -np 2 ${AUTODIST_BIN} comm-bench --device cpu --op all_reduce,gather --check -b 8 -e 4K)
set_tests_properties(comm_bench_device_cpu_inject_error PROPERTIES
                     ENVIRONMENT "${MPIRUN_ENV};AUTODIST_COMM_BENCH_INJECT_ERROR=1" TIMEOUT 120 PROCESSORS 2)

# Bad input: a clear message and a non-zero exit on every rank, no hang.
function(comm_bench_bad name np regex)
  add_test(NAME comm_bench_bad_${name}
           COMMAND ${EXPECT_FAIL} "${regex}" ${MPIRUN} -np ${np} ${AUTODIST_BIN} comm-bench ${ARGN})
  set_tests_properties(comm_bench_bad_${name} PROPERTIES ENVIRONMENT "${MPIRUN_ENV}" TIMEOUT 120 PROCESSORS ${np})
endfunction()
comm_bench_bad(unknown_op 2 "unknown op 'allreduce'" --op all_reduce,allreduce)
comm_bench_bad(reversed_range 2 "size range reversed" -b 1M -e 8)
comm_bench_bad(factor 2 "step factor must be an integer > 1" -f 1)
comm_bench_bad(root 2 "--root 2 is outside \\[0, 2\\)" --op broadcast --root 2)
comm_bench_bad(odd_isend_irecv 3 "isend_irecv pairs rank r with rank r\\^1 and needs an even number of ranks"
               --op isend_irecv)
comm_bench_bad(iters_zero 2 "--iters 0: need at least one timed iteration" --iters 0)
comm_bench_bad(iters_junk 2 "--iters 'ten': expected auto or a count" --iters ten)
comm_bench_bad(budget 2 "--time-budget 0: expected milliseconds" --time-budget 0)
comm_bench_bad(thread_level 2 "unknown MPI thread level 'many'" --thread-level many)
comm_bench_bad(size_suffix 2 "-e '64X'" -e 64X)
comm_bench_bad(dtype 2 "unknown dtype 'f64'" --dtype f64)
comm_bench_bad(redop 2 "unknown reduce op 'prod'" --redop prod)
comm_bench_bad(backend 2 "--backend 'gloo'" --backend gloo)
# --backend nccl where no GPU is visible (or the build has none) fails before any communication; so does nccl on
# the cpu.
comm_bench_bad(nccl_without_gpu 2 "no CUDA device is visible|--backend nccl needs the CUDA build" --backend nccl)
comm_bench_bad(nccl_on_cpu 2 "--backend nccl moves device buffers: --device must be auto, cuda or cuda:N, got 'cpu'|--backend nccl needs the CUDA build"
               --backend nccl --device cpu)
comm_bench_bad(device_form 2 "--device must be auto, cpu, cuda or cuda:N" --device gpu0)

# The data channels a run chose (--comm auto / mpi at tp 2 x pp 2 on the cpu): the log line and the trace's comm and
# comm_reason attributes. Bad --device / --comm combinations fail before any work (engine.cmake style, one rank).
add_test(NAME data_channels_tp2pp2 COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/scripts/data_channels.sh ${AUTODIST_BIN}
         ${TEST_DATA}/models/qwen3-tiny ${MPIRUN})
set_tests_properties(data_channels_tp2pp2 PROPERTIES ENVIRONMENT "${MPIRUN_ENV}" TIMEOUT 300 PROCESSORS 2)
set(TINY_GEN ${AUTODIST_BIN} generate --prompt-ids 1,2,3 --max-output-length 2 --model ${TEST_DATA}/models/llama-tiny)
add_test(NAME bad_device_form COMMAND ${EXPECT_FAIL} "--device must be auto, cpu, cuda or cuda:N .*got 'cuda:x'"
         ${TINY_GEN} --device cuda:x)
add_test(NAME bad_device_ordinal COMMAND ${EXPECT_FAIL}
         "--device cuda:99: this process sees [0-9]+ GPU|no CUDA device is visible|this build has no CUDA backend"
         ${TINY_GEN} --device cuda:99)
add_test(NAME bad_comm_nccl_on_cpu COMMAND ${EXPECT_FAIL}
         "--comm nccl moves device buffers between GPUs|this build has no NCCL communicator" ${TINY_GEN} --comm nccl)
add_test(NAME bad_comm_nccl_on_cpu_tp2 COMMAND ${EXPECT_FAIL}
         "--comm nccl moves device buffers between GPUs|this build has no NCCL communicator"
         ${MPIRUN} -np 2 ${TINY_GEN} --tp 2 --comm nccl)
set_tests_properties(bad_device_form bad_device_ordinal bad_comm_nccl_on_cpu bad_comm_nccl_on_cpu_tp2 PROPERTIES
                     ENVIRONMENT "${MPIRUN_ENV}" TIMEOUT 60)

# scripts/gpu_check.sh (the one prepared run for a lent GPU) in its cpu self-test: every step it has that runs
# without a GPU, from this build tree; a broken step or script fails here rather than in scarce GPU time.
add_test(NAME gpu_check_cpu_selftest COMMAND ${CMAKE_SOURCE_DIR}/scripts/gpu_check.sh --device cpu)
set_tests_properties(gpu_check_cpu_selftest PROPERTIES TIMEOUT 300 PROCESSORS 2 ENVIRONMENT
                     "GPU_CHECK_LOCAL=1;GPU_CHECK_BUILD=${CMAKE_BINARY_DIR};OUT=${CMAKE_CURRENT_BINARY_DIR}/gpu_check_out")

# compare_imb.sh's table from earlier rounds (--report): median and best-round statistics on made-up rounds.
add_test(NAME compare_imb_report
         COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/scripts/compare_imb_report.sh ${CMAKE_SOURCE_DIR}/scripts/compare_imb.sh
                 ${CMAKE_CURRENT_BINARY_DIR}/compare_imb_report)
set_tests_properties(compare_imb_report PROPERTIES TIMEOUT 60)
