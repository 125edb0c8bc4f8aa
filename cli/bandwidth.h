// Memory read bandwidth, measured the way decode uses memory: every thread
// streams its own part of a buffer far larger than the caches, reading only
// (weights are never written). It is the ceiling `bench` compares decode
// with: tokens/s x weight bytes per token / this.
#pragma once

namespace moerun::cli {

// Best of several passes over a 512 MiB anonymous buffer, in GB/s (1e9
// bytes), on the forward pass's threads. Takes about half a second.
double measure_read_bandwidth();

}  // namespace moerun::cli
