// State sync (docs/snapshots.md "State sync"): a new node fetches the newest
// snapshot its peers offer, checks every part as it arrives, verifies and
// restores it, and then starts as usual, block-syncing from the snapshot
// height to the head.
#ifndef GTOS_NODE_STATESYNC_H_
#define GTOS_NODE_STATESYNC_H_

#include <atomic>
#include <cstdint>
#include <string>

#include "chain/snapshot.h"
#include "node/node.h"
#include "util/status.h"

namespace gtos::node {

struct StateSyncOptions {
  std::string datadir;       // initialised (D/genesis.bin), no blocks yet
  P2pOptions p2p;            // peers to ask (p2p.peers; no listener is opened)
  uint64_t discovery_ms = 60'000;  // give up when no peer offered a snapshot by then
  uint64_t part_timeout_ms = 15'000;  // re-ask another peer after this
  size_t window = 4;         // parts in flight
  // A trusted header (operator-supplied, e.g. from a node they trust): when
  // trust_height > 0 a snapshot is accepted only at a height >= it and only
  // if its verified header chain contains a header at trust_height (the
  // snapshot's own header or an epoch-boundary proof) whose hash is
  // trust_hash. This bounds what a long-range attacker holding old
  // validator keys can feed a new node.
  uint64_t trust_height = 0;
  Hash32 trust_hash;
};

// The trust check of StateSyncOptions on a manifest already verified from
// genesis (snapshot::VerifyManifest). Errors name the heights and hashes.
Status CheckTrustedHeader(const snapshot::Manifest& m, uint64_t trust_height, const Hash32& trust_hash);

// Runs state sync into opts.datadir (initialised: D/genesis.bin) when the
// newest snapshot the peers offer is above the chain's head (a new node, or
// one that fell behind its peers' retention window); the database is then
// replaced by the restored one. Returns the height restored, or 0 when
// nothing was done (not behind; a chain with blocks also gives up after
// 10 s without offers and block-syncs instead). On failure the data
// directory is left as it was (D/statesync is scratch).
Result<uint64_t> StateSync(const StateSyncOptions& opts, const std::atomic<bool>& stop);

}  // namespace gtos::node

#endif  // GTOS_NODE_STATESYNC_H_
