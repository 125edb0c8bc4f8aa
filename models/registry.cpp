// Expands archs.def into the lookup from general.architecture to factory.
#include <string_view>

#include "core/compute/model.h"
#include "core/error.h"

namespace moerun {

#define MOERUN_ARCH(gguf_name, factory) std::unique_ptr<Model> factory(const GgufFile& f);
#include "models/archs.def"
#undef MOERUN_ARCH

namespace {
struct ArchRow {
  std::string_view name;
  std::unique_ptr<Model> (*make)(const GgufFile&);
};
constexpr ArchRow kArchs[] = {
#define MOERUN_ARCH(gguf_name, factory) {gguf_name, &factory},
#include "models/archs.def"
#undef MOERUN_ARCH
};
}  // namespace

std::string supported_architectures() {
  std::string s;
  for (const ArchRow& r : kArchs) {
    if (!s.empty()) s += ", ";
    s += r.name;
  }
  return s;
}

std::unique_ptr<Model> load_model(const GgufFile& f) {
  const std::string arch = f.architecture();
  for (const ArchRow& r : kArchs) {
    if (r.name == arch) return r.make(f);
  }
  fail(f.path() + ": unknown architecture '" + arch + "' (supported: " + supported_architectures() + ")");
}

}  // namespace moerun
