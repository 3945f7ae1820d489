# End-to-end tokenizer tests: `autodist tokenize` against HF tokenizers' outputs, and bad input.
# The Qwen3 / Llama 3 tokenizer files come from `make deps` (scripts/fetch_tokenizers.sh); when they
# are missing these tests fail and say so instead of passing quietly.
set(TOK_DIR ${PROJECT_SOURCE_DIR}/data/tokenizers)
set(TOK_DATA ${TEST_DATA}/tokenizers)

# tokenizer_test(NAME TOKENIZER CMD...): runs CMD after checking that TOKENIZER/tokenizer.json exists.
function(tokenizer_test name tok)
  add_test(NAME ${name}
           COMMAND sh -c "test -f \"$1/tokenizer.json\" || { echo \"$1/tokenizer.json is missing: run make deps\"; exit 1; }; shift; exec \"$@\""
                   sh ${tok} ${ARGN})
endfunction()

foreach(name qwen3 llama3)
  tokenizer_test(tokenize_check_${name} ${TOK_DIR}/${name} ${EXPECT_OK} "643/643 lines match"
                 ${AUTODIST_BIN} tokenize --tokenizer ${TOK_DIR}/${name} --check ${TOK_DATA}/${name}.jsonl)
  tokenizer_test(tokenize_chat_${name} ${TOK_DIR}/${name} ${EXPECT_OK} "3/3 conversations match"
                 ${AUTODIST_BIN} tokenize --tokenizer ${TOK_DIR}/${name} --chat-check ${TOK_DATA}/${name}_chat.json)
endforeach()

# A reference file that disagrees must fail the check, naming the line.
tokenizer_test(tokenize_check_mismatch_fails ${TOK_DIR}/qwen3
               ${EXPECT_FAIL} "MISMATCH line 2"
               ${AUTODIST_BIN} tokenize --tokenizer ${TOK_DIR}/qwen3 --check ${TOK_DATA}/bad/mismatch_qwen3.jsonl)

# Bad input: a clear message and a non-zero exit, never a crash. These need no downloaded files.
add_test(NAME tokenize_missing_file
         COMMAND ${EXPECT_FAIL} "tokenizer file .*no_such_dir.* not found"
                 ${AUTODIST_BIN} tokenize --tokenizer ${TOK_DATA}/no_such_dir --text hi)
add_test(NAME tokenize_malformed_json
         COMMAND ${EXPECT_FAIL} "malformed.json: malformed JSON"
                 ${AUTODIST_BIN} tokenize --tokenizer ${TOK_DATA}/bad/malformed.json --text hi)
add_test(NAME tokenize_unigram_refused
         COMMAND ${EXPECT_FAIL} "unsupported tokenizer model type 'Unigram'"
                 ${AUTODIST_BIN} tokenize --tokenizer ${TOK_DATA}/bad/unigram.json --text hi)
add_test(NAME tokenize_wordpiece_refused
         COMMAND ${EXPECT_FAIL} "unsupported tokenizer model type 'WordPiece'"
                 ${AUTODIST_BIN} tokenize --tokenizer ${TOK_DATA}/bad/wordpiece.json --text hi)
add_test(NAME tokenize_invalid_utf8
         COMMAND ${EXPECT_FAIL} "not valid UTF-8: byte 16"
                 ${AUTODIST_BIN} tokenize --tokenizer ${TOK_DATA}/tiny --text-file ${TOK_DATA}/bad/invalid_utf8.txt)
add_test(NAME tokenize_unknown_chat_template
         COMMAND ${EXPECT_FAIL} "tokenizer_config.json: unknown chat template"
                 ${AUTODIST_BIN} tokenize --tokenizer ${TOK_DATA}/tiny --chat-check ${TOK_DATA}/qwen3_chat.json)
add_test(NAME tokenize_no_mode
         COMMAND ${EXPECT_FAIL} "nothing to do" ${AUTODIST_BIN} tokenize --tokenizer ${TOK_DATA}/tiny)

# The tiny tokenizer end to end: ids, decode back, special tokens parsed or not.
add_test(NAME tokenize_tiny_text
         COMMAND ${EXPECT_OK} --exact "259,265,266\\nhello world<|end|>\\n"
                 ${AUTODIST_BIN} tokenize --tokenizer ${TOK_DATA}/tiny --text "hello world<|end|>" --decode)

# The benchmark runs (its numbers are read by people, not asserted).
add_test(NAME tokenize_bench_smoke
         COMMAND ${EXPECT_OK} "encode warm cache: +[0-9.]+ MB/s"
                 ${AUTODIST_BIN} tokenize --tokenizer ${TOK_DATA}/tiny --bench ${TOK_DATA}/llama3.jsonl --seconds 0.01)

# Ids read from tokenizer.json are checked in the type they are used in (int32) and against the number of tokens
# the file defines: 2^32-1 was range-checked as int64, truncated to -1 and crashed; 2^32+5 became id 5.
add_test(NAME tokenize_added_id_2p32m1_refused
         COMMAND ${EXPECT_FAIL} "added_tokens\\[4\\] \\('<big>'\\)\\.id: 4294967295 is too large \\(at most"
                 ${AUTODIST_BIN} tokenize --tokenizer ${TOK_DATA}/bad/added_id_2p32m1.json --text "hi <big>")
add_test(NAME tokenize_added_id_2p32p5_refused
         COMMAND ${EXPECT_FAIL} "added_tokens\\[4\\] \\('<alias>'\\)\\.id: 4294967301 is too large"
                 ${AUTODIST_BIN} tokenize --tokenizer ${TOK_DATA}/bad/added_id_2p32p5.json --text "hi <alias>")

# tokenizer_config.json fields of the wrong type are refused naming the field (a number as chat_template was read as
# no template at all, an eos_token of 5 as no eos), made at configure time beside a copy of the tiny tokenizer.
set(TOK_BADCFG ${CMAKE_CURRENT_BINARY_DIR}/tokenizer_bad_config)
foreach(case "template_number|{\"chat_template\": 5}|chat_template: expected a string or a list"
             "template_entry|{\"chat_template\": [{\"name\": \"default\", \"template\": 7}]}|chat_template\\[0\\]: expected an object with a string 'template'"
             "eos_number|{\"eos_token\": 5}|eos_token: expected a token \\(a string, or an object with a string 'content'\\), got 5")
  string(REPLACE "|" ";" parts "${case}")
  list(GET parts 0 name)
  list(GET parts 1 text)
  list(GET parts 2 want)
  file(MAKE_DIRECTORY ${TOK_BADCFG}/${name})
  configure_file(${TOK_DATA}/tiny/tokenizer.json ${TOK_BADCFG}/${name}/tokenizer.json COPYONLY)
  file(WRITE ${TOK_BADCFG}/${name}/tokenizer_config.json "${text}")
  add_test(NAME tokenize_config_${name}_refused
           COMMAND ${EXPECT_FAIL} "tokenizer_config.json: ${want}"
                   ${AUTODIST_BIN} tokenize --tokenizer ${TOK_BADCFG}/${name} --text hi)
endforeach()
