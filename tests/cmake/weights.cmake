# Model files and weight loading (issue 18): what is not a regular file is refused at once (a FIFO would block
# open() forever); a config larger than its checkpoint names the tensor and both shapes; checkpoint tensors that no
# weight reads are reported once.
add_test(NAME weights_nonregular_files
         COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/scripts/nonregular_check.sh ${AUTODIST_BIN} ${TEST_DATA}/models/qwen2-tiny
                 ${TEST_DATA}/tokenizers/tiny)
set_tests_properties(weights_nonregular_files PROPERTIES TIMEOUT 120)
foreach(mode bigconfig unread)
  add_test(NAME weights_${mode} COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/scripts/weights_check.sh ${AUTODIST_BIN} ${TEST_DATA}
                                        ${mode} "${MPIEXEC_EXECUTABLE} --oversubscribe")
  set_tests_properties(weights_${mode} PROPERTIES TIMEOUT 300 ENVIRONMENT "${MPIRUN_ENV}" PROCESSORS 2)
endforeach()
