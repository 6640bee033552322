#include "node/tx_gossip.h"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <iterator>
#include <map>

namespace gtos::node {

TxGossip::TxGossip(Mempool& mempool, Hooks hooks) : mempool_(mempool), hooks_(std::move(hooks)) {}

TxGossip::~TxGossip() { Stop(); }

void TxGossip::Start() {
  std::lock_guard<std::mutex> l(mu_);
  if (running_ || stop_) return;
  running_ = true;
  thread_ = std::thread([this] { Loop(); });
}

void TxGossip::Stop() {
  {
    std::lock_guard<std::mutex> l(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void TxGossip::FromPeer(net::PeerId peer, std::vector<SignedTx> txs) {
  std::lock_guard<std::mutex> l(mu_);
  if (!running_ || stop_) return;
  if (in_txs_ + txs.size() > kMaxWaiting) return;  // overloaded: gossip is best effort
  in_txs_ += txs.size();
  in_.emplace_back(peer, std::move(txs));
  cv_.notify_one();
}

void TxGossip::Local(SignedTx tx) {
  std::lock_guard<std::mutex> l(mu_);
  if (!running_ || stop_) return;
  out_.emplace_back(std::nullopt, std::move(tx));
}

void TxGossip::Loop() {
  // Admission (a signature check per tx) runs 10 nice levels below the
  // rest of the node (Linux applies nice per thread): when a tx flood
  // saturates the CPU, consensus and p2p I/O go first and gossip waits,
  // then drops beyond kMaxWaiting, instead of delaying proposals past
  // their timeouts. Best effort: an error leaves the priority as it is.
  errno = 0;
  const auto tid = static_cast<id_t>(gettid());
  if (int nice = getpriority(PRIO_PROCESS, tid); errno == 0) setpriority(PRIO_PROCESS, tid, std::min(nice + 10, 19));
  std::unique_lock<std::mutex> l(mu_);
  while (!stop_) {
    // Local txs are batched for up to 20 ms; peers' txs wake the loop.
    cv_.wait_for(l, std::chrono::milliseconds(20), [this] { return stop_ || !in_.empty(); });
    if (stop_) break;
    // Admit what peers sent; what is new goes on to our other peers.
    while (!in_.empty()) {
      auto [peer, txs] = std::move(in_.front());
      in_.pop_front();
      in_txs_ -= txs.size();
      l.unlock();
      std::vector<SignedTx> fresh;
      for (SignedTx& tx : txs) {
        SignedTx copy = tx;
        auto added = mempool_.Add(std::move(tx));
        if (added) {
          fresh.push_back(std::move(copy));
        } else if (added.error().code == ErrorCode::kCrypto) {
          // A forged signature is the sender's doing (a relay checks
          // before it relays): penalise it and check no more of its batch.
          hooks_.penalize(peer, 25, "gossiped tx: " + added.error().message);
          break;
        }
      }
      l.lock();
      for (SignedTx& tx : fresh) out_.emplace_back(peer, std::move(tx));
    }
    if (!out_.empty()) {
      // Batches per source: a peer is not sent back what it sent us.
      std::map<std::optional<net::PeerId>, std::vector<SignedTx>> by_source;
      for (auto& [src, tx] : out_) by_source[src].push_back(std::move(tx));
      out_.clear();
      l.unlock();
      for (auto& [src, txs] : by_source) {
        for (size_t i = 0; i < txs.size(); i += kBatch) {
          net::Txs batch;
          size_t end = std::min(txs.size(), i + kBatch);
          batch.txs.assign(std::make_move_iterator(txs.begin() + static_cast<ptrdiff_t>(i)),
                           std::make_move_iterator(txs.begin() + static_cast<ptrdiff_t>(end)));
          hooks_.broadcast(batch, src);
        }
      }
      l.lock();
    }
  }
}

}  // namespace gtos::node
