// The node's snapshot service (docs/snapshots.md "In the node"): automatic
// snapshots every snapshot_interval finalized blocks, the newest few kept in
// D/snapshots, and serving them to state-syncing peers.
//
// The snapshot of height H is the state right after H committed, read from
// a LevelDB snapshot taken on the consensus thread at that moment, so block
// production goes on while a worker thread writes the file. The file is
// written once block H + 1 has committed: that block carries H's commit
// certificate as its last_commit, the same bytes on every node, so that
// every node writes a byte-identical file.
//
// After writing a snapshot the worker also compacts the history ranges
// that retention emptied (bodies and receipts below the window), so their
// bytes leave the disk without waiting for LevelDB to get there.
//
// Threads: OnCommitted on the consensus thread; Offers and Serve from any
// thread; a writer thread writes snapshots, a server thread reads parts.
#ifndef GTOS_NODE_SNAPSHOTS_H_
#define GTOS_NODE_SNAPSHOTS_H_

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "chain/chain.h"
#include "chain/snapshot.h"
#include "net/messages.h"

namespace gtos::node {

class SnapshotService {
 public:
  // keep: snapshots kept in D/snapshots (>= 1).
  SnapshotService(chain::Chain& chain, std::string datadir, size_t keep);
  ~SnapshotService();  // Stop()
  void Stop();

  // After every commit of block `height` (consensus thread).
  void OnCommitted(uint64_t height);

  // The snapshots on offer, ascending by height.
  std::vector<net::SnapshotOffer> Offers() const;
  // What `reply` did with a piece.
  enum class Delivery {
    kSent,  // handed over; go on
    kBusy,  // the asker's send queue is full: try this piece again later
    kGone,  // the asker left: drop the request
  };
  // Reads the requested part on the serving thread and hands it to `reply`
  // piece by piece (one piece with total 0 if not served). A piece the
  // asker has no room for (kBusy) is tried again after the other waiting
  // requests had their turn, so one peer that does not read never holds
  // the thread; a request busy for stall_ms is dropped, `on_stall` is
  // called once, and the peer's other waiting requests are dropped too. At
  // most a few requests per peer wait at a time; more are dropped.
  void Serve(uint64_t peer, const net::GetSnapshotPart& req, std::function<Delivery(net::SnapshotPart)> reply,
             std::function<void()> on_stall, uint64_t stall_ms);

  uint64_t written() const { return written_.load(); }
  uint64_t last_height() const { return last_height_.load(); }
  uint64_t failures() const { return failures_.load(); }

 private:
  struct Served {
    std::string path;
    net::SnapshotOffer offer;
    std::vector<uint64_t> offsets;  // part i: [offsets[i], offsets[i+1])
  };
  struct Queue {
    std::deque<std::function<void()>> jobs;
    std::thread thread;
  };
  void Enqueue(Queue& q, std::function<void()> job);
  void Loop(Queue& q);
  void Write(std::shared_ptr<state::ReadView> view, uint64_t height, Commit commit);
  void Refresh();  // rescans D/snapshots into served_ (worker thread)
  struct PartJob;
  void RunPart(std::shared_ptr<PartJob> job);  // serving thread

  chain::Chain& chain_;
  std::string datadir_;
  size_t keep_;
  uint64_t interval_;

  // Consensus thread: the view of the last interval height, until its
  // successor commits.
  std::shared_ptr<state::ReadView> pending_view_;
  uint64_t pending_height_ = 0;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;                       // GUARDED_BY(mu_)
  std::map<uint64_t, Served> served_;       // GUARDED_BY(mu_), by height
  std::map<uint64_t, size_t> queued_by_peer_;  // GUARDED_BY(mu_)
  std::set<uint64_t> stalled_peers_;           // GUARDED_BY(mu_): until their requests are gone
  struct NextWrite {
    std::shared_ptr<state::ReadView> view;
    uint64_t height = 0;
    Commit commit;
  };
  std::optional<NextWrite> next_write_;     // GUARDED_BY(mu_): the snapshot waiting to be written
  // Writing snapshots and serving them run on separate threads, so that
  // peers are served while this node writes (all nodes write at once).
  Queue writer_;                            // jobs GUARDED_BY(mu_)
  Queue server_;                            // jobs GUARDED_BY(mu_)

  std::atomic<uint64_t> written_{0};
  std::atomic<uint64_t> last_height_{0};
  std::atomic<uint64_t> failures_{0};
};

}  // namespace gtos::node

#endif  // GTOS_NODE_SNAPSHOTS_H_
