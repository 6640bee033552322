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

struct SnapshotService::PartJob {
  uint64_t peer = 0;
  net::GetSnapshotPart req;
  std::function<Delivery(net::SnapshotPart)> reply;
  std::function<void()> on_stall;
  std::chrono::milliseconds stall{0};
  uint64_t offset = 0;  // of the next piece within the part
  std::optional<std::chrono::steady_clock::time_point> busy_since;
};

void SnapshotService::Serve(uint64_t peer, const net::GetSnapshotPart& req,
                            std::function<Delivery(net::SnapshotPart)> reply, std::function<void()> on_stall,
                            uint64_t stall_ms) {
  {
    // A flood (from one peer, or all) is dropped: the asker re-asks later.
    std::lock_guard<std::mutex> l(mu_);
    if (server_.jobs.size() >= kMaxQueuedRequests || queued_by_peer_[peer] >= kMaxQueuedPerPeer ||
        stalled_peers_.count(peer))
      return;
    queued_by_peer_[peer]++;
  }
  auto job = std::make_shared<PartJob>();
  job->peer = peer;
  job->req = req;
  job->reply = std::move(reply);
  job->on_stall = std::move(on_stall);
  job->stall = std::chrono::milliseconds(stall_ms);
  Enqueue(server_, [this, job] { RunPart(job); });
}

void SnapshotService::RunPart(std::shared_ptr<PartJob> job) {
  // Ends the request: the peer's count drops (and its stall mark with the
  // last of its requests).
  auto finish = [this, &job] {
    std::lock_guard<std::mutex> l(mu_);
    if (--queued_by_peer_[job->peer] == 0) {
      queued_by_peer_.erase(job->peer);
      stalled_peers_.erase(job->peer);
    }
  };
  bool stalled = false;
  {
    std::lock_guard<std::mutex> l(mu_);
    stalled = stalled_peers_.count(job->peer) > 0;
  }
  if (stalled) return finish();
  const net::GetSnapshotPart& req = job->req;
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
    f.seekg(static_cast<std::streamoff>(begin + job->offset));
  }
  if (!f.is_open() || !f) {  // unknown, or deleted meanwhile: not served
    if (job->offset == 0) (void)job->reply(net::SnapshotPart{req.height, req.hash, req.part, 0, 0, {}});
    return finish();
  }
  // Piece by piece straight from the file. A file deleted under us stays
  // readable (the stream holds it open), so pieces are never cut short.
  while (job->offset < total) {
    Bytes piece(std::min<uint64_t>(net::kSnapshotPieceBytes, total - job->offset));
    f.read(reinterpret_cast<char*>(piece.data()), static_cast<std::streamsize>(piece.size()));
    if (!f) return finish();  // a read error: the asker re-asks after its timeout
    const uint64_t n = piece.size();
    switch (job->reply(net::SnapshotPart{req.height, req.hash, req.part, job->offset, total, std::move(piece)})) {
      case Delivery::kSent:
        job->offset += n;
        job->busy_since.reset();
        continue;
      case Delivery::kGone:
        return finish();
      case Delivery::kBusy: {
        auto now = std::chrono::steady_clock::now();
        if (!job->busy_since) job->busy_since = now;
        if (now - *job->busy_since >= job->stall) {
          {
            std::lock_guard<std::mutex> l(mu_);
            stalled_peers_.insert(job->peer);
          }
          if (job->on_stall) job->on_stall();
          return finish();
        }
        // Back of the queue: the others go first. Alone in the queue, a
        // short pause keeps this from spinning.
        bool alone = false;
        {
          std::lock_guard<std::mutex> l(mu_);
          alone = server_.jobs.empty();
        }
        if (alone) std::this_thread::sleep_for(std::chrono::milliseconds(10));
        Enqueue(server_, [this, job] { RunPart(job); });
        return;
      }
    }
  }
  finish();
}

}  // namespace gtos::node
