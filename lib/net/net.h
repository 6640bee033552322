// The p2p network (docs/p2p.md): TCP connections between nodes of one chain,
// an authenticated key exchange (net/secret.h) after which every frame is
// encrypted and authenticated, per-peer rate limits and bounded send
// queues, connection caps, peer discovery and reconnection.
//
// The network knows nothing of consensus rules: it decodes frames into the
// typed messages of net/messages.h (a frame that does not decode is the
// peer's fault: it is dropped and the peer penalised) and hands them to a
// Handler. Whether a vote is signed correctly, a block valid or a tx
// admissible is the node's business; it reports bad peers back with
// Penalize().
//
// Threads: Host runs its own I/O thread (standalone asio). Handler methods
// are called on that thread and must not block (the node enqueues and
// returns). Send/Broadcast/Penalize/Peers are thread-safe.
#ifndef GTOS_NET_NET_H_
#define GTOS_NET_NET_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "net/messages.h"
#include "util/status.h"

namespace gtos::net {

// True when `addr` ("ip:port" or "[ipv6]:port") may be dialled because a
// peer told us of it: an IP literal (no names: a peer must not make us
// resolve), port 1..65535, and unless allow_private, not loopback,
// private, link-local, shared (100.64/10), multicast or unspecified.
bool DialableAddress(const std::string& addr, bool allow_private);

using PeerId = uint64_t;  // unique per connection for the life of a Host

struct NetOptions {
  // "host:port" to listen on; empty: no listener (outbound only). Port 0
  // picks a free port (see Host::port()).
  std::string listen;
  // The address other nodes should dial to reach this one (sent in Hello
  // and in peer exchange); empty: the listen address.
  std::string external;
  // Peers from configuration (--peer): dialled at start and redialled with
  // backoff whenever disconnected, forever.
  std::vector<std::string> seeds;
  // Identity: the chain both sides must share, and this node's ed25519 key
  // (32-byte secret, 32-byte public).
  std::string chain_id;
  Hash32 genesis_hash;
  Bytes node_secret;
  Bytes node_public;

  // Connection caps (docs/p2p.md "Limits"). Reserved peers (the seeds,
  // and the node keys in reserved_keys) are exempt from max_peers,
  // max_inbound and max_outbound, so a flood cannot keep them out.
  size_t max_peers = 32;          // open connections, inbound + outbound
  size_t max_inbound = 24;        // open inbound connections
  size_t max_outbound = 10;       // outbound connections to learned addresses
  size_t max_per_ip = 8;          // inbound connections from one IP address, any state
  size_t max_handshaking = 16;    // inbound connections still in their handshake
  size_t max_handshaking_per_ip = 4;
  std::vector<Bytes> reserved_keys;  // node public keys
  size_t max_frame_bytes = 0;    // 0: derived by the caller (max_block_bytes + 1 MiB)
  // Per-peer inbound limits (token buckets). Beyond them the connection is
  // read more slowly (back-pressure), not dropped.
  uint64_t rate_bytes_per_s = 64ull << 20;
  uint64_t rate_msgs_per_s = 20'000;
  // Bound of one peer's send queue; gossip (txs, peers) beyond it is
  // dropped, and a peer whose queue stays full of consensus messages is
  // disconnected as too slow.
  size_t send_queue_bytes = 128ull << 20;
  // Addresses learned from peers are dialled only when they are IP
  // literals in public ranges; loopback, private, link-local and other
  // special ranges only with allow_private_addrs (local testnets).
  bool allow_private_addrs = false;
  size_t max_bans = 4096;  // banned node keys remembered; the oldest ban goes first
  bool discovery = true;          // ask peers for peers and dial them
  uint64_t handshake_timeout_ms = 5000;
  uint64_t ping_interval_ms = 5000;
  uint64_t reconnect_min_ms = 200;   // backoff doubles up to max
  uint64_t reconnect_max_ms = 10'000;
  // Penalty points at which a peer is disconnected and its node key banned.
  int ban_score = 100;
  uint64_t ban_ms = 60'000;
  // Connection events and reasons for disconnecting ("peer 3 (127.0.0.1:
  // 4001): banned: undecodable frame ..."); called on the I/O thread, must
  // not block. Empty: silent.
  std::function<void(const std::string&)> log;
};

struct PeerInfo {
  PeerId id = 0;
  Bytes node_key;       // authenticated in the handshake
  std::string address;  // remote "ip:port" of the socket
  std::string listen;   // what the peer advertised in Hello (may be empty)
  bool outbound = false;
  uint64_t height = 0;  // from its last Hello/Status
  int score = 0;        // penalty points so far
  uint64_t connected_ms = 0;  // wall clock when the handshake completed
  uint64_t bytes_in = 0;      // on the wire since then (Host::Peers)
  uint64_t bytes_out = 0;
};

class Handler {
 public:
  virtual ~Handler() = default;
  // After a completed handshake (chain id, genesis hash and node key checked,
  // the node key proven on this connection).
  virtual void OnConnected(const PeerInfo& peer) = 0;
  virtual void OnDisconnected(PeerId peer) = 0;
  // Every application message (not Hello/Ping/Pong/GetPeers/Peers,
  // which the Host handles itself).
  virtual void OnMessage(PeerId peer, Message msg) = 0;
};

struct NetStats {
  uint64_t peers = 0;
  uint64_t frames_in = 0, frames_out = 0;
  uint64_t bytes_in = 0, bytes_out = 0;
  uint64_t dropped_frames = 0;     // malformed, oversized, unexpected
  uint64_t bad_frames = 0;         // failed authentication (altered in transit)
  uint64_t refused_connections = 0;  // over a connection cap
  uint64_t dropped_gossip = 0;     // send queue full
  uint64_t disconnects_penalty = 0;
};

class Host {
 public:
  // Binds the listener (an error if the address is taken), then starts the
  // I/O thread and dials the seeds.
  static Result<std::unique_ptr<Host>> Start(NetOptions options, Handler* handler);
  ~Host();  // Stop()

  // Closes every connection and joins the I/O thread; Handler is not
  // called after Stop returns (OnDisconnected is not called for the
  // connections Stop closes). Idempotent.
  // REQUIRES: not called on the I/O thread (not from a Handler method).
  void Stop();

  // Queue a message to one peer / every peer (except one). Unknown peers
  // are ignored.
  void Send(PeerId peer, const Message& msg);
  void Broadcast(const Message& msg, std::optional<PeerId> except = std::nullopt);
  // Adds penalty points; at options.ban_score the peer is disconnected and
  // banned. `why` is logged.
  void Penalize(PeerId peer, int points, const std::string& why);
  // Records the height a peer told us (Status), for PeerInfo.
  void SetPeerHeight(PeerId peer, uint64_t height);
  // Our committed height, sent in the Hello of later handshakes.
  void SetLocalHeight(uint64_t height);

  std::vector<PeerInfo> Peers() const;
  NetStats Stats() const;
  int port() const;  // bound listen port, 0 when not listening

  // Bytes waiting in an open peer's send queue; nullopt for a peer that is
  // not (or no longer) open.
  std::optional<size_t> QueuedBytes(PeerId peer) const;
  // Reserves a slot for a node key from now on (e.g. a validator's).
  void Reserve(const Bytes& node_key);

 private:
  struct Impl;
  explicit Host(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace gtos::net

#endif  // GTOS_NET_NET_H_
