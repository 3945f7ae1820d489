# A decode step is graph-capturable (tests/capture): consecutive decode steps of the same shape issue the same backend
# and data-channel calls on the same buffers; at tp 1 and 2, pp 1 and 2, with and without micro-batches.
add_executable(autodist_capture_test ${CMAKE_CURRENT_SOURCE_DIR}/capture/test_capture.cpp)
target_link_libraries(autodist_capture_test PRIVATE autodist_core)
add_dependencies(autodist_tests autodist_capture_test)
function(capture_test name np)
  add_test(NAME capture_${name} COMMAND ${MPIRUN} -np ${np} $<TARGET_FILE:autodist_capture_test>
           ${TEST_DATA}/models/qwen3-tiny ${ARGN})
  set_tests_properties(capture_${name} PROPERTIES TIMEOUT 120 ENVIRONMENT "${MPIRUN_ENV}" PROCESSORS 2)
endfunction()
#            name              np  tp pp mb batch tokens [temperature]
capture_test(tp1_pp1           1   1  1  1  1     12)
capture_test(tp1_pp1_batch3    1   1  1  1  3     12)
capture_test(tp2_pp1           2   2  1  1  2     12)
capture_test(tp2_pp1_sampled   2   2  1  1  2     12 0.8)
capture_test(tp1_pp2           2   1  2  1  1     12)
capture_test(tp1_pp2_mb2       2   1  2  2  4     12)
capture_test(tp2_pp2           4   2  2  1  2     12)
capture_test(tp2_pp2_mb2       4   2  2  2  4     12)
