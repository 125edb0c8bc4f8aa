#include "models/binder.h"

#include <cmath>
#include <cstring>

#include "core/error.h"

namespace moerun {

namespace {
std::string shape_str(const int64_t* ne, int n) {
  std::string s = "[";
  for (int i = 0; i < n; ++i) s += (i ? ", " : "") + std::to_string(ne[i]);
  return s + "]";
}
}  // namespace

TensorView Binder::view(const GgufTensor& t, std::initializer_list<int64_t> shape) const {
  int64_t want[4] = {1, 1, 1, 1};
  int n = 0;
  for (int64_t d : shape) want[n++] = d;
  for (int i = 0; i < 4; ++i) {
    if (t.ne[i] != want[i]) {
      fail(f_.path() + ": tensor '" + t.name + "' has shape " + shape_str(t.ne, t.n_dims) + ", expected " +
           shape_str(want, n));
    }
  }
  TensorView v;
  v.name = t.name;
  v.type = static_cast<QType>(t.type);
  v.n_dims = t.n_dims;
  for (int i = 0; i < 4; ++i) v.ne[i] = t.ne[i];
  v.data = t.data;
  v.row_bytes = row_bytes(v.type, t.ne[0]);
  n_params_ += t.n_elements();
  n_bytes_ += t.nbytes;
  return v;
}

TensorView Binder::get(const std::string& name, std::initializer_list<int64_t> shape) const {
  const GgufTensor* t = f_.find_tensor(name);
  if (t == nullptr) fail(f_.path() + ": required tensor '" + name + "' is missing");
  return view(*t, shape);
}

TensorView Binder::get_optional(const std::string& name, std::initializer_list<int64_t> shape) const {
  const GgufTensor* t = f_.find_tensor(name);
  return t == nullptr ? TensorView{} : view(*t, shape);
}

const float* Binder::get_f32(const std::string& name, std::initializer_list<int64_t> shape) const {
  const TensorView v = get(name, shape);
  if (v.type != QType::F32) {
    fail(f_.path() + ": tensor '" + name + "' must be f32, found " + format_traits(v.type).name);
  }
  // Norm weights and biases enter every token's arithmetic: one NaN or Inf
  // would turn all logits to NaN (or, in a router bias, pin an expert)
  // without any error, so they are checked once here. They are small; the
  // big matrices are not scanned (that would page in the whole file).
  const float* p = reinterpret_cast<const float*>(v.data);
  const int64_t n = v.ne[0] * v.ne[1] * v.ne[2] * v.ne[3];
  for (int64_t i = 0; i < n; ++i) {
    float x;
    std::memcpy(&x, p + i, sizeof x);  // tensor data need not be 4-byte aligned
    if (!std::isfinite(x)) {
      fail(f_.path() + ": tensor '" + name + "' holds a non-finite value (" + std::to_string(x) + ") at element " +
           std::to_string(i));
    }
  }
  return p;
}

const float* Binder::get_f32_optional(const std::string& name, std::initializer_list<int64_t> shape) const {
  return f_.find_tensor(name) == nullptr ? nullptr : get_f32(name, shape);
}

}  // namespace moerun
