// What a node publishes on /metrics (docs/node.md "Health and metrics").
//
// NodeMetrics holds the node's own counters and gauges. The consensus
// thread writes them; RPC threads read them while rendering /metrics. Every
// field is an atomic read and written on its own (a scrape may see one
// commit's counters half updated, as Prometheus allows), so no lock is
// needed. PromText renders the Prometheus text exposition format.
#ifndef GTOS_NODE_METRICS_H_
#define GTOS_NODE_METRICS_H_

#include <array>
#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>

namespace gtos::node {

struct NodeMetrics {
  std::atomic<uint64_t> blocks_committed{0};
  std::atomic<uint64_t> blocks_synced{0};
  std::atomic<uint64_t> txs_committed{0};
  std::atomic<uint64_t> last_block_txs{0};
  std::atomic<uint64_t> last_commit_ms{0};  // wall clock of the last commit
  std::atomic<uint64_t> cur_round{0};
  std::atomic<uint64_t> last_decide_round{0};
  std::atomic<uint64_t> own_power{0};
  std::atomic<uint64_t> total_power{0};
  std::atomic<uint64_t> validators_active{0};
  std::atomic<uint64_t> evidence_pending{0};
  std::atomic<uint64_t> bad_messages{0};
  std::atomic<uint64_t> sign_failures{0};

  // Histogram of the time between this process's consecutive commits
  // (gtos_block_interval_seconds), bucket bounds in ms.
  static constexpr std::array<uint64_t, 9> kIntervalBucketsMs = {100, 250, 500, 1000, 2000, 5000, 10'000, 30'000, 60'000};
  std::array<std::atomic<uint64_t>, 9> interval_buckets{};  // cumulative: ms <= bound
  std::atomic<uint64_t> interval_count{0};
  std::atomic<uint64_t> interval_sum_ms{0};
  void ObserveIntervalMs(uint64_t ms);
  // The histogram in the text format, as gtos_block_interval_seconds.
  void RenderInterval(std::string& out) const;
};

// Builds a Prometheus text exposition: # HELP, # TYPE and the sample.
class PromText {
 public:
  // A counter when the name ends in _total, else a gauge.
  void Value(std::string_view name, std::string_view help, uint64_t v);
  // A gauge in seconds (base units) from milliseconds: "12.345".
  void SecondsGauge(std::string_view name, std::string_view help, uint64_t ms);
  std::string& text() { return out_; }

 private:
  std::string out_;
};

// "12.345" for 12345 ms.
std::string MsAsSeconds(uint64_t ms);

}  // namespace gtos::node

#endif  // GTOS_NODE_METRICS_H_
