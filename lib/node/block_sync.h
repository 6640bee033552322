// Block sync (docs/consensus.md "Catch-up"): which peers to ask for the
// blocks above our head, and serving the blocks peers ask us for.
//
// BlockSync decides whom to ask. A peer's claimed height (from its Status
// messages) counts only as far as the peer serves blocks: a request that
// times out, or an answer with nothing usable, cuts the claim back to what
// the peer has served and costs it standing; a peer with three strikes in
// a row is not asked for a while. Requests go to up to `parallel` peers at
// once for the same range (the first good answer wins; later copies are
// skipped as already applied), chosen in rotation among the peers in good
// standing, so one peer that claims a huge height and never answers delays
// catch-up by at most one request timeout.
//
// BlockServer answers GetBlocks on its own thread, so reading and encoding
// up to 64 blocks never stalls consensus; each peer may have at most
// `per_peer_waiting` requests waiting and `per_peer_per_second` served per
// second, and requests beyond that are dropped (the peer asks again).
//
// Thread safety: BlockSync is used by the consensus thread only. BlockServer's
// Serve() may be called from any thread; Stop() joins its worker.
#ifndef GTOS_NODE_BLOCK_SYNC_H_
#define GTOS_NODE_BLOCK_SYNC_H_

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "chain/chain.h"
#include "net/messages.h"

namespace gtos::node {

struct BlockSyncOptions {
  uint64_t batch = 64;                                    // blocks per request
  std::chrono::milliseconds request_timeout{2000};        // per request
  size_t parallel = 2;                                    // peers asked at once
  int strikes_to_rest = 3;                                // strikes before a rest
  std::chrono::milliseconds rest{30'000};                 // not asked meanwhile
};

class BlockSync {
 public:
  using Clock = std::chrono::steady_clock;
  using PeerId = uint64_t;
  struct Request {
    PeerId peer = 0;
    uint64_t from = 0;
    uint64_t max = 0;
  };

  explicit BlockSync(BlockSyncOptions o = {}) : o_(o) {}

  void OnStatus(PeerId peer, uint64_t height);
  void OnGone(PeerId peer);
  // A Blocks answer. `newest` is the highest height the answer carried
  // that was valid (0: nothing usable); `head` our head after applying it.
  // Returns false when the peer had no request of ours outstanding or
  // recently timed out (an unrequested answer).
  bool OnAnswer(PeerId peer, uint64_t newest, uint64_t head, Clock::time_point now);
  // Requests to send now, given our head. Peers whose request timed out are
  // appended to `timed_out` (the caller may penalise them).
  // Whether an answer from `peer` now would be one we asked for.
  bool Expecting(PeerId peer, Clock::time_point now) const;
  std::vector<Request> Poll(uint64_t head, Clock::time_point now, std::vector<PeerId>* timed_out);

  // The highest height claimed by a peer in good standing (0: none).
  uint64_t BestClaimed() const;
  // Peers whose status (height) arrived and who are still connected.
  size_t known_peers() const { return peers_.size(); }
  // Height a peer claims (0: unknown).
  uint64_t Claimed(PeerId peer) const;
  bool Requesting() const;

 private:
  struct Peer {
    uint64_t claimed = 0;
    uint64_t served = 0;
    int strikes = 0;
    std::optional<Clock::time_point> sent;  // outstanding request
    Clock::time_point last_request{};
    Clock::time_point rest_until{};
  };
  void Strike(Peer& p, uint64_t head, Clock::time_point now);

  BlockSyncOptions o_;
  std::map<PeerId, Peer> peers_;
  PeerId cursor_ = 0;  // rotation: the next request starts after this peer
};

struct BlockServerOptions {
  size_t per_peer_waiting = 2;
  size_t per_peer_per_second = 8;
  size_t total_waiting = 256;
  uint64_t max_blocks = 64;
  uint64_t max_bytes = 8 << 20;  // per answer (at least one block is sent)
};

class BlockServer {
 public:
  using PeerId = uint64_t;
  using Reply = std::function<void(PeerId, net::Blocks)>;
  BlockServer(const chain::Chain& chain, BlockServerOptions o, Reply reply);
  ~BlockServer();
  BlockServer(const BlockServer&) = delete;
  BlockServer& operator=(const BlockServer&) = delete;

  // Queues a request; false when the peer is over its budget (dropped).
  bool Serve(PeerId peer, const net::GetBlocks& req);
  void Stop();
  uint64_t served() const;
  uint64_t dropped() const;

 private:
  void Loop();
  net::Blocks Read(const net::GetBlocks& req) const;

  const chain::Chain& chain_;
  BlockServerOptions o_;
  Reply reply_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::pair<PeerId, net::GetBlocks>> queue_;                     // GUARDED_BY(mu_)
  std::map<PeerId, size_t> waiting_;                                        // GUARDED_BY(mu_)
  std::map<PeerId, std::deque<std::chrono::steady_clock::time_point>> recent_;  // GUARDED_BY(mu_)
  uint64_t served_ = 0, dropped_ = 0;                                       // GUARDED_BY(mu_)
  bool stop_ = false;                                                       // GUARDED_BY(mu_)
  std::thread worker_;
};

}  // namespace gtos::node

#endif  // GTOS_NODE_BLOCK_SYNC_H_
