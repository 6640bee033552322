#include "node/statesync.h"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <map>
#include <mutex>
#include <set>

#include "chain/chain.h"
#include "chain/snapshot.h"
#include "net/net.h"
#include "node/log.h"
#include "types/records.h"
#include "util/file.h"

namespace gtos::node {

namespace fs = std::filesystem;

namespace {

using Clock = std::chrono::steady_clock;

// Collects the host's callbacks for the syncing thread.
class Inbox : public net::Handler {
 public:
  struct Event {
    enum Kind { kConnected, kDisconnected, kMessage } kind;
    net::PeerId peer = 0;
    std::optional<net::Message> msg;
  };
  void OnConnected(const net::PeerInfo& p) override { Push({Event::kConnected, p.id, std::nullopt}); }
  void OnDisconnected(net::PeerId p) override { Push({Event::kDisconnected, p, std::nullopt}); }
  void OnMessage(net::PeerId p, net::Message m) override { Push({Event::kMessage, p, std::move(m)}); }

  std::deque<Event> Wait(std::chrono::milliseconds max) {
    std::unique_lock<std::mutex> l(mu_);
    cv_.wait_for(l, max, [this] { return !events_.empty(); });
    std::deque<Event> out;
    out.swap(events_);
    return out;
  }

 private:
  void Push(Event e) {
    {
      std::lock_guard<std::mutex> l(mu_);
      events_.push_back(std::move(e));
    }
    cv_.notify_one();
  }
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Event> events_;
};

struct Request {
  net::PeerId peer = 0;
  Clock::time_point sent;
};

// The head of the chain in D (0 without a database).
Result<uint64_t> HeadOf(const std::string& datadir) {
  if (!fs::exists(datadir + "/db")) return uint64_t{0};
  chain::ChainOptions co;
  co.datadir = datadir;
  auto c = chain::Chain::Open(co);
  if (!c) return std::unexpected(c.error());
  return (*c)->height();
}

// Downloads snapshot (height, hash) from `from` into `file`: the manifest
// first — its hash must be the offered one and its certificates must check
// out from genesis (snapshot::VerifyManifest) before any chunk is asked
// for —, then a window of chunks round-robin across the sources, each
// checked on arrival. A source that sends bad data is penalised and
// dropped; a part not complete within part_timeout_ms is asked elsewhere.
Status Fetch(net::Host& host, Inbox& inbox, const StateSyncOptions& opts, const Genesis& genesis, uint64_t height,
             const Hash32& hash, std::set<net::PeerId> from, std::set<net::PeerId>& peers, const std::string& file,
             std::optional<snapshot::Manifest>* manifest, const std::atomic<bool>& stop) {
  AtomicOutput out;
  GTOS_TRY(out.Open(file));
  std::map<uint64_t, Bytes> ready;    // arrived and checked, not yet written
  std::map<uint64_t, Request> inflight;
  std::map<uint64_t, Bytes> partial;  // pieces of parts in flight
  uint64_t parts = 1;                 // the manifest; then 1 + its chunks
  uint64_t next_write = 0, next_ask = 0, bytes = 0;
  size_t rr = 0;
  auto last_log = Clock::now();
  auto choose = [&]() -> std::optional<net::PeerId> {
    if (from.empty()) return std::nullopt;
    auto it = from.begin();
    std::advance(it, rr++ % from.size());
    return *it;
  };
  auto drop = [&](net::PeerId peer, uint64_t part, const std::string& why, bool penalise) {
    Log(LogLevel::kWarn, "state sync: dropping a source", {{"peer", peer}, {"part", part}, {"why", why}});
    if (penalise) host.Penalize(peer, 100, "snapshot part " + std::to_string(part) + ": " + why);
    from.erase(peer);
    partial.erase(part);
    auto it = inflight.find(part);
    if (it != inflight.end()) it->second.sent = Clock::time_point{};  // ask elsewhere at once
  };
  while (next_write < parts) {
    if (stop.load()) return Fail(ErrorCode::kIO, "state sync interrupted");
    if (from.empty()) return Fail(ErrorCode::kIO, "every source of snapshot " + std::to_string(height) + " is gone or sent bad data");
    auto now = Clock::now();
    for (auto& [part, req] : inflight)
      if (now - req.sent > std::chrono::milliseconds(opts.part_timeout_ms)) {
        auto p = choose();
        if (!p) break;
        req = Request{*p, now};
        partial.erase(part);
        host.Send(*p, net::GetSnapshotPart{height, hash, part});
      }
    size_t window = *manifest ? opts.window : 1;
    while (next_ask < parts && inflight.size() + ready.size() < window) {
      auto p = choose();
      if (!p) break;
      inflight[next_ask] = Request{*p, now};
      host.Send(*p, net::GetSnapshotPart{height, hash, next_ask});
      ++next_ask;
    }
    for (auto& ev : inbox.Wait(std::chrono::milliseconds(100))) {
      if (ev.kind == Inbox::Event::kConnected) {
        peers.insert(ev.peer);
        continue;
      }
      if (ev.kind == Inbox::Event::kDisconnected) {
        peers.erase(ev.peer);
        from.erase(ev.peer);
        for (auto& [part, req] : inflight)
          if (req.peer == ev.peer) req.sent = Clock::time_point{};
        continue;
      }
      auto* sp = std::get_if<net::SnapshotPart>(&*ev.msg);
      if (!sp || sp->height != height || sp->hash != hash) continue;
      auto it = inflight.find(sp->part);
      if (it == inflight.end() || it->second.peer != ev.peer) continue;
      if (sp->total == 0) {
        drop(ev.peer, sp->part, "not served", false);
        continue;
      }
      // Pieces arrive in order on one connection, each full-size but the last.
      Bytes& buf = partial[sp->part];
      uint64_t want = sp->part == 0 ? sp->total : (*manifest)->chunks[sp->part - 1].bytes;
      if (sp->total != want || sp->offset != buf.size() || sp->offset >= sp->total ||
          sp->data.size() != std::min<uint64_t>(net::kSnapshotPieceBytes, sp->total - sp->offset)) {
        drop(ev.peer, sp->part, "piece out of order or of the wrong size", true);
        continue;
      }
      buf.insert(buf.end(), sp->data.begin(), sp->data.end());
      it->second.sent = Clock::now();  // a full piece is progress
      if (buf.size() < sp->total) continue;
      Bytes data = std::move(buf);
      partial.erase(sp->part);
      inflight.erase(it);
      Status check = Ok();
      if (sp->part == 0) {
        auto m = DecodeRecord<snapshot::Manifest>(data);
        if (!m) check = std::unexpected(m.error());
        else if (m->Hash() != hash) check = Invalid("the manifest's hash is not the one offered");
        else if (m->height != height) check = Invalid("the manifest is of another height");
        else if (auto v = snapshot::VerifyManifest(*m, &genesis); !v) check = v;
        else if (opts.trust_height > 0) check = CheckTrustedHeader(*m, opts.trust_height, opts.trust_hash);
        if (check) {
          parts = m->chunks.size() + 1;
          *manifest = std::move(*m);
        }
      } else {
        check = snapshot::CheckChunkBytes(**manifest, sp->part - 1, data);
      }
      if (!check) {
        // A manifest that hashes to the offer but does not verify is the
        // offer's fault (every source serves the same bytes): give up on it.
        if (sp->part == 0) return Fail(ErrorCode::kInvalid, "manifest: " + check.error().message);
        drop(ev.peer, sp->part, check.error().message, true);
        inflight[sp->part] = Request{ev.peer, Clock::time_point{}};
        continue;
      }
      ready[sp->part] = std::move(data);
    }
    for (auto it = ready.find(next_write); it != ready.end(); it = ready.find(next_write)) {
      GTOS_TRY(out.Write(it->second));
      bytes += it->second.size();
      ready.erase(it);
      ++next_write;
    }
    if (Clock::now() - last_log > std::chrono::seconds(2)) {
      Log(LogLevel::kInfo, "state sync: downloading", {{"parts", next_write}, {"of", parts}, {"bytes", bytes}});
      last_log = Clock::now();
    }
  }
  return out.Commit();
}

}  // namespace

Status CheckTrustedHeader(const snapshot::Manifest& m, uint64_t trust_height, const Hash32& trust_hash) {
  if (m.height < trust_height)
    return Invalid("snapshot height " + std::to_string(m.height) + " is below the trusted height " +
                   std::to_string(trust_height));
  const BlockHeader* found = m.header.height == trust_height ? &m.header : nullptr;
  for (const snapshot::EpochProof& p : m.epoch_proofs)
    if (p.header.height == trust_height) found = &p.header;
  if (!found)
    return Invalid("the snapshot at height " + std::to_string(m.height) + " proves no header at the trusted height " +
                   std::to_string(trust_height) +
                   " (trust the snapshot's own height, or the last block of an epoch the snapshot proves)");
  if (found->Hash() != trust_hash)
    return Invalid("the snapshot's header at the trusted height " + std::to_string(trust_height) + " is " +
                   ToHex0x(found->Hash()) + ", not the trusted " + ToHex0x(trust_hash));
  return Ok();
}

Result<uint64_t> StateSync(const StateSyncOptions& opts, const std::atomic<bool>& stop) {
  const std::string& D = opts.datadir;
  if (!fs::exists(D + "/genesis.bin"))
    return Fail(ErrorCode::kNotFound, "'" + D + "' is not an initialised data directory",
                "run 'gtos-node init --datadir " + D + " --genesis FILE' first");
  auto head = HeadOf(D);
  if (!head) return std::unexpected(head.error());
  auto graw = ReadFile(D + "/genesis.bin");
  if (!graw) return std::unexpected(graw.error());
  auto genesis = DecodeRecord<Genesis>(*graw);
  if (!genesis) return std::unexpected(Wrap(genesis.error(), "'" + D + "/genesis.bin'"));
  if (opts.p2p.peers.empty())
    return Fail(ErrorCode::kUsage, "state sync needs peers", "give one or more --peer HOST:PORT");

  GTOS_TRY(EnsureNodeKey(D));
  Bytes node_public;
  auto secret = ReadNodeKeySecret(D + "/node.key", &node_public);
  if (!secret) return std::unexpected(secret.error());
  node::P2pOptions p2p = opts.p2p;
  p2p.listen.clear();  // outbound only while syncing
  p2p.external.clear();
  net::NetOptions no = MakeNetOptions(p2p, *genesis, genesis->Hash(), std::move(*secret), std::move(node_public));
  Inbox inbox;
  auto host = net::Host::Start(std::move(no), &inbox);
  if (!host) return std::unexpected(Wrap(host.error(), "p2p"));
  struct StopHost {
    net::Host* h;
    ~StopHost() { h->Stop(); }
  } stop_host{host->get()};

  std::string scratch = D + "/statesync";
  std::error_code ec;
  fs::remove_all(scratch, ec);  // left by an interrupted state sync
  GTOS_TRY(MakeDirs(scratch, 0700));
  struct Cleanup {
    std::string dir;
    ~Cleanup() {
      std::error_code e;
      fs::remove_all(dir, e);
    }
  } cleanup{scratch};
  Log(LogLevel::kInfo, "state sync: asking peers for snapshots", {{"peers", static_cast<uint64_t>(opts.p2p.peers.size())}});

  // ---- 1. offers ----
  std::map<net::PeerId, std::vector<net::SnapshotOffer>> offers;
  std::set<net::PeerId> peers;
  auto t0 = Clock::now();
  std::optional<Clock::time_point> first_offer;
  Clock::time_point last_ask = t0;
  while (!stop.load()) {
    auto now = Clock::now();
    if (first_offer && (now - *first_offer > std::chrono::seconds(2) || offers.size() == peers.size())) break;
    // A chain with blocks only looks for a while: it can block-sync as well.
    if (*head > 0 && now - t0 > std::chrono::milliseconds(std::min<uint64_t>(opts.discovery_ms, 10'000))) {
      Log(LogLevel::kInfo, "state sync skipped: no snapshot offered; block sync goes on from the head",
          {{"head", *head}});
      return uint64_t{0};
    }
    if (now - t0 > std::chrono::milliseconds(opts.discovery_ms))
      return Fail(ErrorCode::kNotFound,
                  "state sync: no peer offered a snapshot within " + std::to_string(opts.discovery_ms / 1000) + " s",
                  "the peers take a snapshot every snapshot_interval (" +
                      std::to_string(genesis->params.snapshot_interval) +
                      ") blocks; wait for one, or check the --peer addresses");
    if (now - last_ask > std::chrono::seconds(3)) {  // ask again: snapshots appear over time
      (*host)->Broadcast(net::GetSnapshots{});
      last_ask = now;
    }
    for (auto& ev : inbox.Wait(std::chrono::milliseconds(100))) {
      if (ev.kind == Inbox::Event::kConnected) {
        peers.insert(ev.peer);
        (*host)->Send(ev.peer, net::GetSnapshots{});
      } else if (ev.kind == Inbox::Event::kDisconnected) {
        peers.erase(ev.peer);
        offers.erase(ev.peer);
      } else if (auto* s = std::get_if<net::Snapshots>(&*ev.msg)) {
        if (s->offers.empty()) continue;
        offers[ev.peer] = s->offers;
        if (!first_offer) first_offer = Clock::now();
      }
    }
  }
  if (stop.load()) return Fail(ErrorCode::kIO, "state sync interrupted");
  // Candidates: newest height first; at one height, the hash most peers
  // offer first. A candidate that fails (bad manifest, bad data, sources
  // gone) gives way to the next, so one lying peer cannot block the sync.
  std::map<std::pair<uint64_t, Hash32>, std::set<net::PeerId>> sources;
  for (const auto& [peer, list] : offers)
    for (const net::SnapshotOffer& o : list)
      if (o.height > 0 && o.height >= opts.trust_height) sources[{o.height, o.hash}].insert(peer);
  if (sources.empty())
    return Fail(ErrorCode::kNotFound, opts.trust_height > 0 ? "state sync: no peer offers a snapshot at or above the "
                                                              "trusted height " + std::to_string(opts.trust_height)
                                                            : std::string("state sync: the peers' offers are empty"));
  std::vector<std::pair<std::pair<uint64_t, Hash32>, std::set<net::PeerId>>> candidates(sources.begin(), sources.end());
  std::stable_sort(candidates.begin(), candidates.end(), [](const auto& a, const auto& b) {
    if (a.first.first != b.first.first) return a.first.first > b.first.first;
    return a.second.size() > b.second.size();
  });
  // A chain with blocks is replaced only when it is too far behind to
  // block-sync: peers keep the blocks after their second-newest snapshot.
  const uint64_t interval = std::max<uint64_t>(1, genesis->params.snapshot_interval);
  const uint64_t best = candidates.front().first.first;
  if (*head > 0 && !(best > interval && *head < best - interval)) {
    Log(LogLevel::kInfo, "state sync skipped: the chain can block-sync from its head",
        {{"head", *head}, {"newest_snapshot", best}});
    return uint64_t{0};
  }

  std::string file = scratch + "/snapshot.gsnap";
  std::optional<snapshot::Manifest> manifest;
  uint64_t height = 0;
  Hash32 hash;
  std::string last_error;
  for (const auto& [key, peers_of] : candidates) {
    if (stop.load()) return Fail(ErrorCode::kIO, "state sync interrupted");
    if (key.first <= *head) break;
    height = key.first;
    hash = key.second;
    std::set<net::PeerId> from = peers_of;
    for (auto it = from.begin(); it != from.end();)  // only sources still connected
      it = peers.count(*it) ? std::next(it) : from.erase(it);
    if (from.empty()) continue;
    Log(LogLevel::kInfo, "state sync: fetching snapshot",
        {{"height", height}, {"hash", ToHex0x(hash)}, {"sources", static_cast<uint64_t>(from.size())}});
    manifest.reset();
    Status got = Fetch(**host, inbox, opts, *genesis, height, hash, from, peers, file, &manifest, stop);
    if (got) break;
    last_error = got.error().message;
    manifest.reset();
    Log(LogLevel::kWarn, "state sync: snapshot failed, trying the next",
        {{"height", height}, {"hash", ToHex0x(hash)}, {"error", last_error}});
  }
  if (!manifest) {
    if (stop.load()) return Fail(ErrorCode::kIO, "state sync interrupted");
    return Fail(ErrorCode::kIO,
                "state sync: no offered snapshot could be fetched" + (last_error.empty() ? "" : ": " + last_error),
                "start again to ask the peers anew, or add --peer addresses");
  }
  stop_host.h->Stop();
  Log(LogLevel::kInfo, "state sync: snapshot downloaded; verifying and restoring", {{"height", height}});

  // ---- 3. verify and restore beside the database, then swap ----
  std::string restore_dir = scratch + "/restore";
  GTOS_TRY(snapshot::Restore(file, restore_dir, *genesis));
  // Swap: the old database goes aside (not into the scratch directory,
  // which is removed), the restored one into place; on failure the old one
  // comes back.
  std::string db = D + "/db", old = D + "/db.before-statesync";
  fs::remove_all(old, ec);
  bool had_db = fs::exists(db);
  if (had_db) {
    auto aside = RenameDurable(db, old);
    if (!aside) return Fail(ErrorCode::kIO, "unable to move '" + db + "' aside: " + aside.error().message);
  }
  auto moved = RenameDurable(restore_dir + "/db", db);
  if (!moved) {
    if (had_db) (void)RenameDurable(old, db);
    return Fail(ErrorCode::kIO, "unable to move the restored database into place: " + moved.error().message);
  }
  if (had_db) fs::remove_all(old, ec);
  // Keep the snapshot: this node serves it to the next joiner.
  auto kept = MakeDirs(snapshot::SnapshotDir(D), 0700);
  if (kept) kept = RenameDurable(file, snapshot::SnapshotPath(D, height));
  if (!kept) Log(LogLevel::kWarn, "state sync: the snapshot was not kept", {{"error", kept.error().message}});
  Log(LogLevel::kInfo, "state sync: restored", {{"height", height}, {"hash", ToHex0x(hash)}});
  return height;
}

}  // namespace gtos::node
