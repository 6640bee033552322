// Live subscriptions (docs/rpc.md "Subscriptions"): new block headers, the
// receipt of one tx, the KV writes and expiries of one owner's namespace,
// over WebSocket JSON-RPC (GET /ws, tos_subscribe / tos_unsubscribe) and as
// server-sent events (GET /subscribe/...).
//
// The connection gate (lib/rpc/conn_gate.h) hands such a connection to the
// hub as soon as its request head is read, so a subscriber never holds a
// request worker. The hub serves every subscriber on one thread of its own
// with non-blocking sockets, at most max_subscribers at once.
//
// Publishing never waits for a subscriber: Publish() queues the block's
// events for the hub thread (a mutex held for a push), which copies each
// event into the output buffer of every connection subscribed to it. A
// connection whose unsent bytes would pass queue_bytes is dropped (closed
// at once, counted in /metrics): a slow client loses its stream, the node
// never slows down for it.
//
// Thread safety: Adopt and Publish may be called from any thread; Start and
// Stop from one thread.
#ifndef GTOS_RPC_SUBS_H_
#define GTOS_RPC_SUBS_H_

#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "chain/chain.h"
#include "rpc/http_head.h"
#include "types/json.h"

namespace gtos::rpc {

// What the node hands over per committed block: copies of what it already
// has, no JSON built on the commit path.
struct CommittedBlock {
  BlockHeader header;
  std::vector<Hash32> tx_ids;
  std::vector<Receipt> receipts;
  // state::ExecResult::kv_changes: K key, value after or nullopt (expired).
  std::vector<std::pair<std::string, std::optional<std::string>>> kv_changes;
};

// What one committed block tells subscribers, as JSON; built once per
// block on the hub thread (only when someone subscribes) and shared by
// every connection.
struct BlockEvents {
  uint64_t height = 0;
  Json head;  // HeaderJson(header) plus "txs": the ids in block order
  std::vector<std::pair<Hash32, Json>> receipts;  // tx id, tos_getReceipt's JSON
  struct Kv {
    Address owner;
    Bytes ns;
    Json json;  // {owner, namespace, key, event, height, value, created_block, expire_block}
  };
  std::vector<Kv> kv;  // in key order
};

// The events of a block: its header, tx ids, receipts, and the K-table
// changes of its execution (state::ExecResult::kv_changes: key, value after
// or nullopt when it expired). An undecodable K entry is skipped.
BlockEvents MakeBlockEvents(const BlockHeader& header, const std::vector<Hash32>& tx_ids,
                            const std::vector<Receipt>& receipts,
                            const std::vector<std::pair<std::string, std::optional<std::string>>>& kv_changes);

struct SubsOptions {
  size_t max_subscribers = 64;      // connections at once (WebSocket and SSE together)
  size_t queue_bytes = 1 << 20;     // unsent bytes per connection before it is dropped
  size_t max_subscriptions = 32;    // per WebSocket connection
  size_t max_message_bytes = 64 << 10;  // a WebSocket request message
  int keepalive_ms = 15'000;        // an SSE comment line when nothing else was sent
  size_t max_pending_blocks = 4096;  // published, not yet fanned out by the hub thread
};

// Counters since Start, for /metrics.
struct SubsStats {
  std::atomic<uint64_t> open{0};           // subscriber connections now
  std::atomic<uint64_t> subscriptions{0};  // active subscriptions now
  std::atomic<uint64_t> dropped_slow{0};   // closed: queue_bytes passed
  std::atomic<uint64_t> refused_limit{0};  // refused: max_subscribers reached
  std::atomic<uint64_t> events{0};         // notifications queued
};

class SubscriptionHub {
 public:
  // `chain` answers whether a tx a client subscribes to is committed already.
  SubscriptionHub(const chain::Chain& chain, SubsOptions options);
  ~SubscriptionHub();
  Status Start();
  // Closes every subscriber connection. Idempotent.
  void Stop();
  // Takes ownership of a connection whose request head (GET /ws or GET
  // /subscribe/...) was read: `received` holds every byte read so far.
  void Adopt(int fd, std::string received, RequestHead head);
  // Queues one committed block. Never blocks on a subscriber; the JSON of
  // its events is built on the hub thread.
  void Publish(std::shared_ptr<const CommittedBlock> block);
  const SubsStats& stats() const;

 private:
  struct Rep;
  std::unique_ptr<Rep> rep_;
};

}  // namespace gtos::rpc

#endif  // GTOS_RPC_SUBS_H_
