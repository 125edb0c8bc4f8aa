# Per-ISA compile flags for simd/<isa>/ (isa_list.def). Included by the main
# CMakeLists.txt and by the kernel-only build (tests/simd/CMakeLists.txt).
# moerun_simd_sources(VAR): drops the ISA folders of the other arch from the
# source list VAR and gives each kept ISA folder its flags. Nothing outside
# simd/<isa>/ gets them, so one binary runs on every CPU of the arch.
function(moerun_simd_sources var)
  set(srcs ${${var}})
  if(CMAKE_SYSTEM_PROCESSOR MATCHES "^(x86_64|AMD64|amd64)$")
    list(FILTER srcs EXCLUDE REGEX "/simd/neon[^/]*/")
    set(isa_flags
      "avx2|-mavx2 -mfma -mf16c"
      "avx2_vnni|-mavx2 -mfma -mf16c -mavxvnni"
      "avx512|-mavx2 -mfma -mf16c -mavx512f -mavx512bw -mavx512vl -mavx512dq -mavx512vnni")
  elseif(CMAKE_SYSTEM_PROCESSOR MATCHES "^(aarch64|arm64)$")
    list(FILTER srcs EXCLUDE REGEX "/simd/(avx[^/]*)/")
    set(isa_flags
      "neon|-march=armv8-a"
      "neon_dotprod|-march=armv8.2-a+dotprod")
  else()
    list(FILTER srcs EXCLUDE REGEX "/simd/(avx|neon)[^/]*/")
    set(isa_flags "")
  endif()
  foreach(entry IN LISTS isa_flags)
    string(REPLACE "|" ";" parts "${entry}")
    list(GET parts 0 isa)
    list(GET parts 1 flags)
    separate_arguments(flags UNIX_COMMAND "${flags}")
    foreach(src IN LISTS srcs)
      if(src MATCHES "/simd/${isa}/")
        set_source_files_properties(${src} PROPERTIES COMPILE_OPTIONS "${flags}")
      endif()
    endforeach()
  endforeach()
  set(${var} ${srcs} PARENT_SCOPE)
endfunction()
