// moerun tokenize: text -> ids on one line (or ids -> text with --decode).
// Only the vocabulary is read; no weights are touched.
#include <cstdio>
#include <memory>

#include "cli/commands.h"
#include "cli/common.h"
#include "core/error.h"
#include "core/text/tokenizer.h"

namespace moerun::cli {

namespace {

struct TokenizeOptions {
  ModelOptions model;
  std::string prompt;
  std::string file;
  std::string decode;
  bool bos = false;
  bool special = false;
};

void run_tokenize(const TokenizeOptions& o, bool have_prompt, bool have_file, bool have_decode) {
  auto gguf = GgufFile::open(model_path(o.model), load_mode(o.model));
  auto tok = Tokenizer::from_gguf(*gguf);
  if (have_decode) {
    const std::vector<int32_t> ids = parse_ids(o.decode);
    for (int32_t id : ids) {
      if (id >= tok->n_vocab()) {
        fail("token id " + std::to_string(id) + " is out of range (n_vocab " + std::to_string(tok->n_vocab()) + ")");
      }
    }
    // detokenize drops the one space the SentencePiece prefix added, so
    // --decode of what tokenize printed gives back the text.
    const std::string text = tok->detokenize(ids);
    std::fwrite(text.data(), 1, text.size(), stdout);
    std::fputc('\n', stdout);
    return;
  }
  if (!have_prompt && !have_file) fail("tokenize: give -p TEXT, -f FILE or --decode IDS");
  const std::string text = have_file ? read_file(o.file) : o.prompt;
  const std::vector<int32_t> ids = tok->encode(text, o.bos, o.special);
  std::string line;
  for (size_t i = 0; i < ids.size(); ++i) {
    if (i) line += ' ';
    line += std::to_string(ids[i]);
  }
  line += '\n';
  std::fwrite(line.data(), 1, line.size(), stdout);
}

}  // namespace

void add_tokenize_command(CLI::App& app) {
  auto o = std::make_shared<TokenizeOptions>();
  CLI::App* cmd = app.add_subcommand("tokenize", "Print the token ids of a text, space-separated on one line");
  add_model_options(cmd, o->model, false);
  auto* p = cmd->add_option("-p,--prompt", o->prompt, "text to tokenize");
  auto* f = cmd->add_option("-f,--file", o->file, "file whose bytes are tokenized");
  auto* d = cmd->add_option("--decode", o->decode, "token ids to turn back into text");
  p->excludes(f);
  p->excludes(d);
  f->excludes(d);
  cmd->add_flag("--bos", o->bos, "add the BOS/EOS tokens the vocabulary asks for (default: none)");
  cmd->add_flag("--special", o->special, "parse special-token text such as <s> (default: plain text)");
  cmd->callback([o, p, f, d] { run_tokenize(*o, p->count() > 0, f->count() > 0, d->count() > 0); });
}

}  // namespace moerun::cli
