#include "node/snapshots.h"

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "node/log.h"
#include "state/schema.h"
#include "types/records.h"
#include "util/file.h"

namespace gtos::node {

namespace schema = state::schema;

namespace {
constexpr size_t kMaxQueuedRequests = 256;
constexpr size_t kMaxQueuedPerPeer = 8;
}  // namespace

SnapshotService::SnapshotService(chain::Chain& chain, std::string datadir, size_t keep)
    : chain_(chain), datadir_(std::move(datadir)), keep_(std::max<size_t>(1, keep)),
      interval_(std::max<uint64_t>(1, chain.params().snapshot_interval)) {
  writer_.thread = std::thread([this] { Loop(writer_); });
  server_.thread = std::thread([this] { Loop(server_); });
  Enqueue(writer_, [this] { Refresh(); });
}

SnapshotService::~SnapshotService() { Stop(); }

void SnapshotService::Stop() {
  {
    std::lock_guard<std::mutex> l(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  for (Queue* q : {&writer_, &server_})
    if (q->thread.joinable()) q->thread.join();
}

void SnapshotService::Enqueue(Queue& q, std::function<void()> job) {
  {
    std::lock_guard<std::mutex> l(mu_);
    if (stop_) return;
    q.jobs.push_back(std::move(job));
  }
  cv_.notify_all();
}

void SnapshotService::Loop(Queue& q) {
  for (;;) {
    std::function<void()> job;
    {
      std::unique_lock<std::mutex> l(mu_);
      cv_.wait(l, [this, &q] { return stop_ || !q.jobs.empty(); });
      if (stop_) return;  // a snapshot being written finishes first (Create is not interruptible)
      job = std::move(q.jobs.front());
      q.jobs.pop_front();
    }
    job();
  }
}

void SnapshotService::OnCommitted(uint64_t height) {
  if (pending_view_ && height == pending_height_ + 1) {
    // Block H + 1 has made H's certificate canonical (its last_commit).
    auto commit = chain_.GetCommit(pending_height_);
    if (commit && *commit) {
      // Only the newest waiting snapshot is written (block sync can pass
      // many interval heights faster than snapshots are written).
      bool schedule = false;
      {
        std::lock_guard<std::mutex> l(mu_);
        schedule = !next_write_;
        next_write_ = NextWrite{pending_view_, pending_height_, **commit};
      }
      if (schedule)
        Enqueue(writer_, [this] {
          std::optional<NextWrite> w;
          {
            std::lock_guard<std::mutex> l(mu_);
            w.swap(next_write_);
          }
          if (w) Write(std::move(w->view), w->height, std::move(w->commit));
        });
    } else {
      failures_++;
      Log(LogLevel::kWarn, "snapshot skipped: no commit certificate", {{"height", pending_height_}});
    }
    pending_view_.reset();
  }
  if (height % interval_ == 0) {
    pending_view_ = chain_.store().NewReadView();
    pending_height_ = height;
  }
}

void SnapshotService::Write(std::shared_ptr<state::ReadView> view, uint64_t height, Commit commit) {
  std::string path = snapshot::SnapshotPath(datadir_, height);
  auto t0 = std::chrono::steady_clock::now();
  auto st = MakeDirs(snapshot::SnapshotDir(datadir_), 0700);
  if (st) st = snapshot::CreateWithCommit(*view, path, commit);
  view.reset();  // release the LevelDB snapshot before the slower steps
  if (!st) {
    failures_++;
    Log(LogLevel::kError, "snapshot failed", {{"height", height}, {"error", st.error().message}});
    return;
  }
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count();
  written_++;
  last_height_ = height;
  auto pruned = snapshot::Prune(datadir_, keep_);
  if (!pruned) Log(LogLevel::kWarn, "old snapshots not deleted", {{"error", pruned.error().message}});
  Refresh();
  std::error_code ec;
  uint64_t bytes = std::filesystem::file_size(path, ec);
  Log(LogLevel::kInfo, "snapshot written",
      {{"height", height}, {"path", path}, {"bytes", ec ? 0 : bytes}, {"ms", static_cast<uint64_t>(ms)}});
  // Physical deletion of what retention logically deleted: compact the
  // emptied ranges of bodies and receipts (the tx index and expired state
  // are left to LevelDB's own compactions, see docs/storage.md).
  uint64_t oldest = chain_.oldest_body();
  if (oldest > 1) {
    chain_.store().CompactRange(schema::HeightKey(schema::kBody, 0), schema::HeightKey(schema::kBody, oldest));
    chain_.store().CompactRange(schema::HeightKey(schema::kReceipts, 0),
                                schema::HeightKey(schema::kReceipts, oldest));
  }
}

void SnapshotService::Refresh() {
  auto list = snapshot::List(datadir_);
  if (!list) {
    Log(LogLevel::kWarn, "unable to list snapshots", {{"error", list.error().message}});
    return;
  }
  std::map<uint64_t, Served> served;
  for (const snapshot::Info& info : *list) {
    auto m = snapshot::ReadManifest(info.path);
    if (!m) continue;
    Served s;
    s.path = info.path;
    s.offer = net::SnapshotOffer{info.height, info.hash, m->chunks.size() + 1};
    uint64_t off = EncodeRecord(*m).size();
    s.offsets.push_back(0);
    s.offsets.push_back(off);
    for (const snapshot::ChunkInfo& c : m->chunks) s.offsets.push_back(off += c.bytes);
    served.emplace(info.height, std::move(s));
  }
  std::lock_guard<std::mutex> l(mu_);
  served_ = std::move(served);
}

std::vector<net::SnapshotOffer> SnapshotService::Offers() const {
  std::lock_guard<std::mutex> l(mu_);
  std::vector<net::SnapshotOffer> out;
  for (const auto& [h, s] : served_) out.push_back(s.offer);
  if (out.size() > net::kMaxSnapshotOffers) out.erase(out.begin(), out.end() - net::kMaxSnapshotOffers);
  return out;
}

void SnapshotService::Serve(uint64_t peer, const net::GetSnapshotPart& req,
                            std::function<bool(net::SnapshotPart)> reply) {
  {
    // A flood (from one peer, or all) is dropped: the asker re-asks later.
    std::lock_guard<std::mutex> l(mu_);
    if (server_.jobs.size() >= kMaxQueuedRequests || queued_by_peer_[peer] >= kMaxQueuedPerPeer) return;
    queued_by_peer_[peer]++;
  }
  Enqueue(server_, [this, peer, req, reply = std::move(reply)] {
    struct Done {
      SnapshotService* s;
      uint64_t peer;
      ~Done() {
        std::lock_guard<std::mutex> l(s->mu_);
        if (--s->queued_by_peer_[peer] == 0) s->queued_by_peer_.erase(peer);
      }
    } done{this, peer};
    std::string path;
    uint64_t begin = 0, end = 0;
    {
      std::lock_guard<std::mutex> l(mu_);
      auto it = served_.find(req.height);
      if (it != served_.end() && it->second.offer.hash == req.hash && req.part < it->second.offsets.size() - 1) {
        path = it->second.path;
        begin = it->second.offsets[req.part];
        end = it->second.offsets[req.part + 1];
      }
    }
    const uint64_t total = end - begin;
    std::ifstream f;
    if (!path.empty() && total > 0 && total <= net::kMaxSnapshotPartBytes) {
      f.open(path, std::ios::binary);
      f.seekg(static_cast<std::streamoff>(begin));
    }
    if (!f.is_open() || !f) {  // unknown, or deleted meanwhile: not served
      reply(net::SnapshotPart{req.height, req.hash, req.part, 0, 0, {}});
      return;
    }
    // Piece by piece straight from the file. A file deleted under us stays
    // readable (the stream holds it open), so pieces are never cut short.
    for (uint64_t off = 0; off < total; off += net::kSnapshotPieceBytes) {
      Bytes piece(std::min<uint64_t>(net::kSnapshotPieceBytes, total - off));
      f.read(reinterpret_cast<char*>(piece.data()), static_cast<std::streamsize>(piece.size()));
      if (!f) return;  // a read error: the asker re-asks after its timeout
      if (!reply(net::SnapshotPart{req.height, req.hash, req.part, off, total, std::move(piece)})) return;
    }
  });
}

}  // namespace gtos::node
