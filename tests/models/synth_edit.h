// Tiny synth models with one thing changed, for the tests of how a loader
// treats a file that lacks a key or tensor or carries a bad value.
#pragma once

#include <doctest/doctest.h>

#include <cstdint>
#include <functional>
#include <string>

#include "models/synth.h"

namespace moerun::test {

// The preset (arch, preset; "" picks the arch's first tiny one) after `edit`,
// written as F32 to `path`; returns `path`.
inline std::string write_edited_synth(const std::string& path, const std::string& arch, const std::string& preset,
                                      const std::function<void(SynthModel&)>& edit) {
  SynthModel m = find_synth_preset(arch, preset).build(0);
  if (edit) edit(m);
  write_synth(m, QType::F32, 1, path);
  return path;
}

// Sets a u32 metadata key the preset writes; a key it does not write fails the test.
inline void set_key(SynthModel& m, const std::string& key, uint32_t v) {
  for (SynthKey& k : m.keys) {
    if (k.key == key) {
      k.value = v;
      return;
    }
  }
  FAIL("no key " << key);
}

}  // namespace moerun::test
