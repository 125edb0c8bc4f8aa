// A model that does not fit the memory moerun may take is refused up front
// with one line naming the sizes (exit 1), never an allocation failure
// halfway or an OOM kill. Here under `ulimit -v`: 150 MiB of address space
// cannot hold even the small model plus what running it needs. (Not under
// AddressSanitizer: its shadow memory needs terabytes of address space.)
#include <doctest/doctest.h>

#include <string>

#include "tests/cli/cli_runner.h"
#include "tests/sanitizer.h"

TEST_CASE("memory limit: a model beyond ulimit -v is refused up front, in every load mode") {
#ifdef MOERUN_ASAN
  MESSAGE("skipped under AddressSanitizer");
#else
  const std::string model = std::string(MOERUN_SOURCE_DIR) + "/../shared/testdata/models/stories260K.gguf";
  const std::string dir = moerun::test::cli_temp_dir();
  for (const char* mode : {"", " --no-mmap", " --mlock"}) {
    CAPTURE(mode);
    const std::string cmd = "ulimit -v 153600; exec " + std::string(MOERUN_BINARY_DIR) + "/moerun run -m " + model +
                            " -p Once -n 2" + mode + " >" + dir + "/out 2>" + dir + "/err";
    const int rc = std::system(("bash -c '" + cmd + "'").c_str());
    const std::string err = moerun::test::slurp(dir + "/err");
    CHECK_MESSAGE(WIFEXITED(rc), err);
    CHECK_MESSAGE(WEXITSTATUS(rc) == 1, err);
    CHECK_MESSAGE(moerun::test::count_lines(err) == 1, err);
    CHECK_MESSAGE(err.find("1.1 MiB") != std::string::npos, err);  // the file's size
    CHECK_MESSAGE(err.find("ulimit -v") != std::string::npos, err);
    CHECK_MESSAGE(err.find("150.0 MiB") != std::string::npos, err);  // the limit
  }
#endif
}
