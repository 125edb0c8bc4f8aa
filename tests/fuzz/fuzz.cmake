# libFuzzer targets (MOERUN_FUZZ=ON, clang only). Included from the top-level
# CMakeLists so that the source properties below reach moerun_lib's sources.
#
# Coverage feedback (-fsanitize=fuzzer-no-link) is given only to the code that
# reads untrusted input: the GGUF reader, the tokenizers, the chat templates,
# the model loaders and the batch request reader. The kernels stay uninstrumented, so the sanitizer
# test suite built in the same tree runs at ASan speed.
if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
  message(FATAL_ERROR "MOERUN_FUZZ needs clang (configure with CXX=clang++-14 CC=clang-14)")
endif()

set(MOERUN_FUZZ_COVERED ${MOERUN_LIB_SOURCES})
list(FILTER MOERUN_FUZZ_COVERED INCLUDE REGEX "/(core/gguf|core/text|core/chat|models)/")
list(APPEND MOERUN_FUZZ_COVERED ${CMAKE_CURRENT_SOURCE_DIR}/cli/batch_io.cpp)
set_source_files_properties(${MOERUN_FUZZ_COVERED} PROPERTIES COMPILE_OPTIONS -fsanitize=fuzzer-no-link)

# One binary per target: the shared entry functions (tests/fuzz/*_target.cpp,
# also replayed by the unit tests) under libFuzzer's main.
set(MOERUN_FUZZ_TARGETS
  "fuzz_gguf|gguf_input|gguf_target.cpp"
  "fuzz_tokenize_spm|tokenize_spm_input|tokenizer_target.cpp"
  "fuzz_tokenize_bpe|tokenize_bpe_input|tokenizer_target.cpp"
  "fuzz_chat_template|chat_template_input|chat_template_target.cpp"
  "fuzz_batch_jsonl|batch_jsonl_input|batch_target.cpp")
foreach(entry IN LISTS MOERUN_FUZZ_TARGETS)
  string(REPLACE "|" ";" parts "${entry}")
  list(GET parts 0 name)
  list(GET parts 1 entry_fn)
  list(GET parts 2 src)
  add_executable(${name} tests/fuzz/fuzzer_main.cpp tests/fuzz/${src} tests/fuzz/fuzz_common.cpp)
  target_compile_options(${name} PRIVATE -fsanitize=fuzzer-no-link)
  target_compile_definitions(${name} PRIVATE MOERUN_FUZZ_ENTRY=moerun::fuzz::${entry_fn}
    MOERUN_SOURCE_DIR="${CMAKE_CURRENT_SOURCE_DIR}")
  target_link_libraries(${name} PRIVATE moerun_cli)
  target_link_options(${name} PRIVATE -fsanitize=fuzzer)
endforeach()

# Writes the seed corpora from the shared test data (tests/fuzz/run_fuzz.sh).
add_executable(moerun_fuzz_seeds tests/fuzz/make_seeds.cpp tests/fuzz/fuzz_common.cpp)
target_compile_definitions(moerun_fuzz_seeds PRIVATE MOERUN_SOURCE_DIR="${CMAKE_CURRENT_SOURCE_DIR}")
target_link_libraries(moerun_fuzz_seeds PRIVATE moerun_lib)
