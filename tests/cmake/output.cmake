# Lost or partial output (issue 18): concurrent runs into one --output-dir, a full disk under results.jsonl, a corrupt
# trace.h5 found before the run, a held output lock, temporaries of killed writers (trace and shard cache), and the
# shard cache's identity of a model (same name, sizes and mtimes, other weights).
set(OUTPUT_CHECK ${CMAKE_CURRENT_SOURCE_DIR}/scripts/output_check.sh)
foreach(c concurrent disk_full corrupt lock_timeout trace_temp)
  add_test(NAME trace_output_${c} COMMAND ${OUTPUT_CHECK} ${AUTODIST_BIN} ${c})
  set_tests_properties(trace_output_${c} PROPERTIES TIMEOUT 300 ENVIRONMENT "OPENBLAS_NUM_THREADS=1")
endforeach()
set_tests_properties(trace_output_concurrent PROPERTIES PROCESSORS 2)
foreach(c cache_temp same_name)
  add_test(NAME cache_output_${c} COMMAND ${OUTPUT_CHECK} ${AUTODIST_BIN} ${c})
  set_tests_properties(cache_output_${c} PROPERTIES TIMEOUT 300 ENVIRONMENT "OPENBLAS_NUM_THREADS=1")
endforeach()
