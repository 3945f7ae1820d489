# `make run` (scripts/demo.sh) end to end, so the demo cannot rot: synth, generate on 1 rank, tp 2, pp 2 and SP+PP
# (pairwise, ring) into one trace, the same tokens everywhere, the report. Outputs stay in the build tree. Exit 77
# (skipped, with the reason) only when python3 with h5py is missing for the report.
list(JOIN MPIRUN " " DEMO_MPIRUN)
add_test(NAME demo_make_run COMMAND ${CMAKE_SOURCE_DIR}/scripts/demo.sh ${AUTODIST_BIN} ${CMAKE_CURRENT_BINARY_DIR}/demo
         ${CMAKE_CURRENT_BINARY_DIR}/demo_report)
set_tests_properties(demo_make_run PROPERTIES TIMEOUT 300 SKIP_RETURN_CODE 77 PROCESSORS 2
                     ENVIRONMENT "${MPIRUN_ENV};MPIRUN=${DEMO_MPIRUN}")
