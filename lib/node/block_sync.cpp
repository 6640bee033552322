#include "node/block_sync.h"

#include <algorithm>

#include "types/records.h"

namespace gtos::node {

// ---- BlockSync ------------------------------------------------------------------

void BlockSync::OnStatus(PeerId peer, uint64_t height) { peers_[peer].claimed = height; }

void BlockSync::OnGone(PeerId peer) { peers_.erase(peer); }

// A claim not backed by blocks counts only as far as the peer served.
void BlockSync::Strike(Peer& p, uint64_t head, Clock::time_point now) {
  p.claimed = std::max(p.served, head);
  p.sent.reset();
  if (++p.strikes >= o_.strikes_to_rest) p.rest_until = now + o_.rest;
}

bool BlockSync::Expecting(PeerId peer, Clock::time_point now) const {
  auto it = peers_.find(peer);
  if (it == peers_.end()) return false;
  // A late answer to a request that timed out is still an answer.
  return it->second.sent.has_value() || now - it->second.last_request < 4 * o_.request_timeout;
}

bool BlockSync::OnAnswer(PeerId peer, uint64_t newest, uint64_t head, Clock::time_point now) {
  if (!Expecting(peer, now)) return false;
  Peer& p = peers_[peer];
  if (newest == 0) {
    Strike(p, head, now);
  } else {
    p.served = std::max(p.served, newest);
    p.strikes = 0;
    p.sent.reset();
  }
  return true;
}

std::vector<BlockSync::Request> BlockSync::Poll(uint64_t head, Clock::time_point now,
                                                 std::vector<PeerId>* timed_out) {
  size_t outstanding = 0;
  for (auto& [id, p] : peers_) {
    if (!p.sent) continue;
    if (now - *p.sent >= o_.request_timeout) {
      Strike(p, head, now);
      if (timed_out) timed_out->push_back(id);
    } else {
      ++outstanding;
    }
  }
  std::vector<Request> out;
  if (outstanding >= o_.parallel) return out;
  // Candidates in rotation order, starting after the last peer asked.
  std::vector<PeerId> order;
  for (auto it = peers_.upper_bound(cursor_); it != peers_.end(); ++it) order.push_back(it->first);
  for (auto it = peers_.begin(); it != peers_.end() && it->first <= cursor_; ++it) order.push_back(it->first);
  for (PeerId id : order) {
    if (outstanding >= o_.parallel) break;
    Peer& p = peers_[id];
    if (p.sent || p.claimed <= head || now < p.rest_until) continue;
    p.sent = now;
    p.last_request = now;
    cursor_ = id;
    ++outstanding;
    out.push_back(Request{id, head + 1, o_.batch});
  }
  return out;
}

uint64_t BlockSync::BestClaimed() const {
  uint64_t best = 0;
  for (const auto& [id, p] : peers_)
    if (p.strikes < o_.strikes_to_rest) best = std::max(best, p.claimed);
  return best;
}

uint64_t BlockSync::Claimed(PeerId peer) const {
  auto it = peers_.find(peer);
  return it == peers_.end() ? 0 : it->second.claimed;
}

bool BlockSync::Requesting() const {
  for (const auto& [id, p] : peers_)
    if (p.sent) return true;
  return false;
}

// ---- BlockServer -------------------------------------------------------------------

BlockServer::BlockServer(const chain::Chain& chain, BlockServerOptions o, Reply reply)
    : chain_(chain), o_(o), reply_(std::move(reply)) {
  worker_ = std::thread([this] { Loop(); });
}

BlockServer::~BlockServer() { Stop(); }

void BlockServer::Stop() {
  {
    std::lock_guard<std::mutex> l(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (worker_.joinable()) worker_.join();
}

bool BlockServer::Serve(PeerId peer, const net::GetBlocks& req) {
  std::lock_guard<std::mutex> l(mu_);
  auto now = std::chrono::steady_clock::now();
  auto& recent = recent_[peer];
  while (!recent.empty() && now - recent.front() >= std::chrono::seconds(1)) recent.pop_front();
  if (stop_ || waiting_[peer] >= o_.per_peer_waiting || recent.size() >= o_.per_peer_per_second ||
      queue_.size() >= o_.total_waiting) {
    ++dropped_;
    return false;
  }
  recent.push_back(now);
  ++waiting_[peer];
  queue_.emplace_back(peer, req);
  cv_.notify_one();
  return true;
}

uint64_t BlockServer::served() const {
  std::lock_guard<std::mutex> l(mu_);
  return served_;
}
uint64_t BlockServer::dropped() const {
  std::lock_guard<std::mutex> l(mu_);
  return dropped_;
}

net::Blocks BlockServer::Read(const net::GetBlocks& req) const {
  net::Blocks out;
  uint64_t head = chain_.height();
  uint64_t bytes = 0;
  uint64_t want = std::min(req.max, o_.max_blocks);
  for (uint64_t h = std::max<uint64_t>(req.from, 1); h <= head && out.blocks.size() < want; ++h) {
    auto b = chain_.GetBlock(h);
    if (!b || !*b || !(*b)->commit) break;  // pruned: the peer needs state sync
    bytes += EncodeRecord(**b).size();
    if (!out.blocks.empty() && bytes > o_.max_bytes) break;
    out.blocks.push_back(std::move(**b));
  }
  return out;
}

void BlockServer::Loop() {
  std::unique_lock<std::mutex> l(mu_);
  while (true) {
    cv_.wait(l, [this] { return stop_ || !queue_.empty(); });
    if (stop_) return;
    auto [peer, req] = queue_.front();
    queue_.pop_front();
    l.unlock();
    net::Blocks out = Read(req);
    reply_(peer, std::move(out));
    l.lock();
    if (--waiting_[peer] == 0) waiting_.erase(peer);
    ++served_;
  }
}

}  // namespace gtos::node
