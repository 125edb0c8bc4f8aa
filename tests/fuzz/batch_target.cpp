// Fuzz target: the lines of a `moerun batch` input file through the request
// parser (parse_batch_request), as read_batch_input feeds them. A request
// that parses must be whole: an id written back the way resume compares it,
// exactly one of prompt and messages.
#include <string>
#include <string_view>

#include "cli/batch_io.h"
#include "core/error.h"
#include "tests/fuzz/fuzz_targets.h"

namespace moerun::fuzz {

int batch_jsonl_input(const uint8_t* data, size_t size) {
  std::string_view rest(reinterpret_cast<const char*>(data), size);
  while (!rest.empty()) {
    const size_t nl = rest.find('\n');
    const std::string line(rest.substr(0, nl));
    rest.remove_prefix(nl == std::string_view::npos ? rest.size() : nl + 1);
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;  // blank lines are skipped
    try {
      const cli::BatchRequest r = cli::parse_batch_request(line);
      if (!r.id.is_string() && !r.id.is_number()) finding("a request whose id is neither a string nor a number");
      if (r.id_key != r.id.dump()) finding("an id key that is not the id as written back");
      if (r.chat == r.messages.empty()) finding("a chat request without messages, or a prompt with messages");
    } catch (const Error& e) {
      expect_one_line(e);
    }
  }
  return 0;
}

}  // namespace moerun::fuzz
