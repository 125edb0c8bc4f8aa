// Batch: the unit of work of one forward pass. B tokens, each with its
// position and the sequence it belongs to, so one pass can carry a prefill
// chunk, one decode step of many sequences, or speculative drafts (DESIGN §1).
#pragma once

#include <cstdint>
#include <vector>

namespace moerun {

struct Batch {
  std::vector<int32_t> tokens;
  std::vector<int32_t> pos;     // position of each token within its sequence
  std::vector<int32_t> seq;     // sequence id (KV cache slot)
  std::vector<uint8_t> logits;  // 1 = output a logits row for this token

  void add(int32_t token, int32_t position, int32_t seq_id, bool want_logits) {
    tokens.push_back(token);
    pos.push_back(position);
    seq.push_back(seq_id);
    logits.push_back(want_logits ? 1 : 0);
  }
  void clear() {
    tokens.clear();
    pos.clear();
    seq.clear();
    logits.clear();
  }
  int64_t size() const { return static_cast<int64_t>(tokens.size()); }
  int64_t n_outputs() const {
    int64_t n = 0;
    for (uint8_t l : logits) n += l;
    return n;
  }
};

}  // namespace moerun
