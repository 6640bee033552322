#include "node/metrics.h"

#include <cstdio>

namespace gtos::node {

std::string MsAsSeconds(uint64_t ms) {
  char v[48];
  std::snprintf(v, sizeof v, "%llu.%03llu", static_cast<unsigned long long>(ms / 1000),
                static_cast<unsigned long long>(ms % 1000));
  return v;
}

void NodeMetrics::ObserveIntervalMs(uint64_t ms) {
  for (size_t i = 0; i < kIntervalBucketsMs.size(); ++i)
    if (ms <= kIntervalBucketsMs[i]) interval_buckets[i]++;
  interval_count++;
  interval_sum_ms += ms;
}

void NodeMetrics::RenderInterval(std::string& m) const {
  m += "# HELP gtos_block_interval_seconds Time between this process's consecutive commits.\n"
       "# TYPE gtos_block_interval_seconds histogram\n";
  for (size_t i = 0; i < kIntervalBucketsMs.size(); ++i)
    m += "gtos_block_interval_seconds_bucket{le=\"" + MsAsSeconds(kIntervalBucketsMs[i]) + "\"} " +
         std::to_string(interval_buckets[i].load()) + "\n";
  uint64_t count = interval_count;
  m += "gtos_block_interval_seconds_bucket{le=\"+Inf\"} " + std::to_string(count) + "\n";
  m += "gtos_block_interval_seconds_sum " + MsAsSeconds(interval_sum_ms) + "\n";
  m += "gtos_block_interval_seconds_count " + std::to_string(count) + "\n";
}

void PromText::Value(std::string_view name, std::string_view help, uint64_t v) {
  const char* type = name.ends_with("_total") ? "counter" : "gauge";
  out_.append("# HELP ").append(name).append(" ").append(help).append("\n# TYPE ").append(name).append(" ");
  out_.append(type).append("\n").append(name).append(" ").append(std::to_string(v)).append("\n");
}

void PromText::SecondsGauge(std::string_view name, std::string_view help, uint64_t ms) {
  out_.append("# HELP ").append(name).append(" ").append(help).append("\n# TYPE ").append(name).append(" gauge\n");
  out_.append(name).append(" ").append(MsAsSeconds(ms)).append("\n");
}

}  // namespace gtos::node
