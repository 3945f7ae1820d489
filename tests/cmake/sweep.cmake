# Experiment drivers (issue 8): sweeps into trace.h5, checked back; the report; bad inputs; Slurm.
set(SWEEP_TEST ${CMAKE_CURRENT_SOURCE_DIR}/sweep/sweep_test.sh)
set(SWEEP_DIR ${CMAKE_CURRENT_BINARY_DIR}/sweep)
add_test(NAME sweep_fixtures COMMAND ${SWEEP_TEST} ${AUTODIST_BIN} fixtures ${SWEEP_DIR}/sweep_fixtures)
set_tests_properties(sweep_fixtures PROPERTIES FIXTURES_SETUP sweep_trace TIMEOUT 300 ENVIRONMENT "${MPIRUN_ENV}"
                     PROCESSORS 2)
add_test(NAME sweep_report COMMAND ${SWEEP_TEST} ${AUTODIST_BIN} report ${SWEEP_DIR}/report)
set_tests_properties(sweep_report PROPERTIES FIXTURES_REQUIRED sweep_trace TIMEOUT 300)
add_test(NAME sweep_failing_point COMMAND ${SWEEP_TEST} ${AUTODIST_BIN} failing ${SWEEP_DIR}/failing)
set_tests_properties(sweep_failing_point PROPERTIES TIMEOUT 300 ENVIRONMENT "${MPIRUN_ENV}")
add_test(NAME sweep_comm_bench COMMAND ${SWEEP_TEST} ${AUTODIST_BIN} comm ${SWEEP_DIR}/comm)
set_tests_properties(sweep_comm_bench PROPERTIES TIMEOUT 300 ENVIRONMENT "${MPIRUN_ENV}" PROCESSORS 2)
add_test(NAME experiments_report_demo COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/sweep/py.sh
         ${CMAKE_SOURCE_DIR}/experiments/test_report.py)
set_tests_properties(experiments_report_demo PROPERTIES TIMEOUT 300)

# Bad sweep inputs: clear errors naming the key and line.
set(BAD_SWEEP ${CMAKE_CURRENT_SOURCE_DIR}/sweep/bad)
function(sweep_fail name regex)
  add_test(NAME sweep_bad_${name} COMMAND ${EXPECT_FAIL} "${regex}" ${AUTODIST_BIN} sweep ${ARGN})
  set_tests_properties(sweep_bad_${name} PROPERTIES TIMEOUT 60)
endfunction()
sweep_fail(unknown_key "unknown_key.yaml:5: unknown key 'tensor_parallel'" --config ${BAD_SWEEP}/unknown_key.yaml
           --output-dir ${SWEEP_DIR}/bad)
sweep_fail(wrong_type "wrong_type.yaml:4: 'tp' must be an integer, got 'two'" --config ${BAD_SWEEP}/wrong_type.yaml
           --output-dir ${SWEEP_DIR}/bad)
# An int key beyond int (tp 4294967297 ran as tp 1 and was recorded as 4294967297).
sweep_fail(huge_tp "'tp' 4294967297 is out of range \\(at most 2147483647\\)" --config ${BAD_SWEEP}/huge_tp.yaml
           --output-dir ${SWEEP_DIR}/bad)
sweep_fail(empty_grid "the grid is empty" --config ${BAD_SWEEP}/empty_grid.yaml --output-dir ${SWEEP_DIR}/bad)
sweep_fail(empty_list "grid key 'pp' has an empty list" --config ${BAD_SWEEP}/empty_list.yaml
           --output-dir ${SWEEP_DIR}/bad)
sweep_fail(bad_yaml "bad_yaml.yaml:4: not valid YAML" --config ${BAD_SWEEP}/bad_yaml.yaml --output-dir ${SWEEP_DIR}/bad)
sweep_fail(missing_config "sweep config /nonexistent.yaml does not exist" --config /nonexistent.yaml
           --output-dir ${SWEEP_DIR}/bad)
sweep_fail(unwritable_dir "--output-dir /proc/autodist-sweep: cannot create it"
           --config ${CMAKE_SOURCE_DIR}/configs/sweeps/test_fixtures.yaml --output-dir /proc/autodist-sweep)
sweep_fail(foreign_trace "trace.h5 is not an autodist trace" --config ${CMAKE_SOURCE_DIR}/configs/sweeps/test_fixtures.yaml
           --output-dir ${BAD_SWEEP}/foreign)

# Slurm: a throw-away single-node cluster on localhost runs jobs/slurm/sweep.sbatch (exit 77 = skipped,
# with the reason, where Slurm cannot run).
add_test(NAME slurm_sweep COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/slurm/run_slurm_test.sh
         ${CMAKE_SOURCE_DIR}/jobs/slurm/sweep.sbatch ${CMAKE_SOURCE_DIR}/tests/sweep/slurm_small.yaml)
set_tests_properties(slurm_sweep PROPERTIES TIMEOUT 600 SKIP_RETURN_CODE 77 RUN_SERIAL TRUE
  ENVIRONMENT "AUTODIST=${AUTODIST_BIN};SBATCH_ARGS=--ntasks-per-node=4;CHECK_CMD=${CMAKE_CURRENT_SOURCE_DIR}/sweep/py.sh ${CMAKE_CURRENT_SOURCE_DIR}/sweep/check_trace.py $JOB_DIR/trace.h5 4 0")
