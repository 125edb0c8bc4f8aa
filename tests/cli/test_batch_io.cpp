// The request and answer lines of `moerun batch` (cli/batch_io.h): every
// kind of malformed request is refused with a reason; answers are one JSON
// line with the documented fields in order, whatever bytes the text holds.
#include <doctest/doctest.h>

#include <string>

#include "cli/batch_io.h"
#include "core/error.h"

using namespace moerun;
using namespace moerun::cli;

namespace {
std::string why(const std::string& line) {
  try {
    parse_batch_request(line);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}
}  // namespace

TEST_CASE("batch io: well-formed requests") {
  BatchRequest r = parse_batch_request(R"({"id": "a", "prompt": "hi", "max_tokens": 5, "temperature": 0.5, "seed": 9})");
  CHECK(r.id_key == "\"a\"");
  CHECK(!r.chat);
  CHECK(r.prompt == "hi");
  CHECK(*r.max_tokens == 5);
  CHECK(*r.temperature == 0.5f);
  CHECK(*r.seed == 9u);
  r = parse_batch_request(R"({"id": 3, "messages": [{"role": "system", "content": "s"}, {"role": "user", "content": "u"}], "extra": 1})");
  CHECK(r.id_key == "3");
  CHECK(r.chat);
  REQUIRE(r.messages.size() == 2);
  CHECK(r.messages[1].content == "u");
  CHECK(!r.max_tokens);
}

TEST_CASE("batch io: malformed requests say what is wrong") {
  CHECK(why("{\"id\": 1, \"prompt\": ").find("not valid JSON") == 0);
  // A number past a double's range is the library's out_of_range, not a parse error (found by fuzzing).
  CHECK(why("{\"id\": 1, \"prompt\": \"x\", \"seed\": 1e999}").find("not valid JSON") == 0);
  CHECK(why("[1]") == "a request is a JSON object, this line is an array");
  CHECK(why(R"({"prompt": "x"})") == "no \"id\"");
  CHECK(why(R"({"id": null, "prompt": "x"})") == "\"id\" is null, not a string or a number");
  CHECK(why(R"({"id": 1})") == "give exactly one of \"prompt\" and \"messages\"");
  CHECK(why(R"({"id": 1, "prompt": "x", "messages": []})") == "give exactly one of \"prompt\" and \"messages\"");
  CHECK(why(R"({"id": 1, "prompt": 5})") == "\"prompt\" is an integer, not a string");
  CHECK(why(R"({"id": 1, "messages": []})") == "\"messages\" is empty");
  CHECK(why(R"({"id": 1, "messages": [{"role": "user"}]})") == "messages[0] needs a string \"content\"");
  CHECK(why(R"({"id": 1, "prompt": "x", "max_tokens": -1})") == "\"max_tokens\" must be an integer >= 0");
  CHECK(why(R"({"id": 1, "prompt": "x", "max_tokens": 2.5})") == "\"max_tokens\" must be an integer >= 0");
  CHECK(why(R"({"id": 1, "prompt": "x", "temperature": "hot"})") == "\"temperature\" must be a number >= 0");
  CHECK(why(R"({"id": 1, "prompt": "x", "seed": 4294967296})") == "\"seed\" must be an integer from 0 to 4294967295");
}

TEST_CASE("batch io: an answer is one line, fields in the documented order, bad UTF-8 replaced") {
  BatchAnswer a;
  a.id = 7;
  a.text = std::string("ok\n\"q\" \xff end");
  a.tokens_in = 3;
  a.tokens_out = 4;
  a.finish_reason = "stop";
  a.ms = 12;
  CHECK(answer_json(a) ==
        "{\"id\":7,\"text\":\"ok\\n\\\"q\\\" \xef\xbf\xbd end\",\"tokens_in\":3,\"tokens_out\":4,"
        "\"finish_reason\":\"stop\",\"ms\":12}");
}
