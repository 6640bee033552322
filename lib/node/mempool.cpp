#include "node/mempool.h"

#include <queue>

#include "crypto/hash.h"
#include "types/records.h"

namespace gtos::node {

namespace {
// What a tx takes from its sender's balance besides the fee when it
// succeeds: the amount of a transfer or a delegation, the stake of a
// registration.
uint64_t Spends(const TxBody& tx) {
  if (auto* t = std::get_if<TransferTx>(&tx.payload.body)) return t->amount;
  if (auto* r = std::get_if<ValidatorRegisterTx>(&tx.payload.body)) return r->stake;
  if (auto* d = std::get_if<DelegateTx>(&tx.payload.body)) return d->amount;
  return 0;
}
__extension__ using U128 = unsigned __int128;
}  // namespace

Result<Hash32> Mempool::Add(SignedTx tx) {
  const ChainParams params = chain_.params();
  if (tx.tx.chain_id != chain_.genesis().chain_id)
    return Invalid("wrong chain id '" + tx.tx.chain_id + "' (this chain is '" + chain_.genesis().chain_id + "')");
  Bytes body = tx.tx.Encode();  // once: for the size limit and the id
  GTOS_TRY(CheckTxParams(tx.tx, params, body.size()));
  Hash32 id = TxBody::IdOf(body);
  Hash32 signature_key = SignatureKey(tx, id);
  bool signature_known = false;
  {
    std::lock_guard<std::mutex> l(mu_);
    if (ids_.count(id)) return Invalid("tx " + ToHex0x(id) + " is already in the mempool");  // before the signature check
    signature_known = verified_.count(signature_key) > 0;
  }
  auto acc = chain_.GetAccount(tx.tx.from);
  if (!acc) return std::unexpected(acc.error());
  Account account = acc->value_or(Account{});
  SignerCheck check = SignerCheck::kFallback;
  if (account.signer) {
    if (account.signer->algo != tx.algo || account.signer->public_key != tx.public_key)
      return Invalid("tx is not signed by the account's signer (bound to " +
                     std::string(AlgoName(account.signer->algo)) + " key " + ToHex0x(account.signer->public_key) +
                     ")");
    check = SignerCheck::kAnyKey;
  }
  // Cheap refusals first: a committed tx gossiped late costs no signature check.
  if (tx.tx.nonce < account.nonce)
    return Invalid("nonce " + std::to_string(tx.tx.nonce) + " already used (next is " +
                   std::to_string(account.nonce) + ")");
  if (account.balance < tx.tx.fee)
    return Invalid("balance " + std::to_string(account.balance) + " cannot pay the fee " + std::to_string(tx.tx.fee));
  if (!signature_known) GTOS_TRY(VerifySignedTx(tx, check, id));  // outside the lock: parallel across RPC threads

  size_t size = EncodeRecord(tx).size();
  uint64_t height = chain_.height();
  std::lock_guard<std::mutex> l(mu_);
  // A block may have committed since the read above; Committed() then
  // dropped the sender's included txs, so count from the fresh nonce.
  if (auto fresh = chain_.GetAccount(tx.tx.from); fresh && *fresh) account.nonce = (*fresh)->nonce;
  if (tx.tx.nonce < account.nonce)
    return Invalid("nonce " + std::to_string(tx.tx.nonce) + " already used (next is " +
                   std::to_string(account.nonce) + ")");
  if (ids_.count(id)) return Invalid("tx " + ToHex0x(id) + " is already in the mempool");
  static const std::map<uint64_t, Entry> kNoQueue;
  auto qit = by_sender_.find(tx.tx.from);
  const std::map<uint64_t, Entry>& queue = qit == by_sender_.end() ? kNoQueue : qit->second;
  // No gaps: a tx must carry the sender's next nonce counting the txs
  // already waiting (or replace a waiting one). Queues hold consecutive
  // nonces, so the next one follows the last.
  uint64_t next = NextAfter(queue, account.nonce);
  if (tx.tx.nonce > next) {
    return Invalid("nonce " + std::to_string(tx.tx.nonce) + " leaves a gap: the next nonce is " +
                   std::to_string(next));
  }
  auto same = queue.find(tx.tx.nonce);
  if (same != queue.end() && tx.tx.fee <= same->second.tx.tx.fee)
    return Invalid("nonce " + std::to_string(tx.tx.nonce) +
                   " already has a waiting tx; a replacement must pay a higher fee");
  // A doomed tx stays out (docs/node.md "Mempool"): the balance must cover
  // its fee and amount after the fees and amounts of the sender's txs
  // waiting before it. (A transfer to the sender in the same block could
  // have paid for it; the sender then sends it again.)
  {
    U128 before = 0;
    if (tx.tx.nonce == next && !queue.empty()) {
      // The common case, the next nonce: every waiting tx comes before it.
      auto sum = spends_.find(tx.tx.from);
      if (sum != spends_.end()) before = sum->second;
    } else {
      for (auto e = queue.begin(); e != queue.end() && e->first < tx.tx.nonce; ++e)
        before += U128{e->second.tx.tx.fee} + Spends(e->second.tx.tx);
    }
    U128 need = before + tx.tx.fee + Spends(tx.tx);
    uint64_t balance = account.balance;
    if (auto fresh = chain_.GetAccount(tx.tx.from); fresh && *fresh) balance = (*fresh)->balance;
    if (need > balance) {
      auto str = [](U128 v) {
        std::string d;
        do {
          d.insert(d.begin(), static_cast<char>('0' + static_cast<int>(v % 10)));
          v /= 10;
        } while (v);
        return d;
      };
      return Invalid("balance " + std::to_string(balance) + " cannot pay fee " + std::to_string(tx.tx.fee) +
                     (Spends(tx.tx) ? " plus amount " + std::to_string(Spends(tx.tx)) : std::string()) +
                     (before ? " after the " + str(before) + " that the sender's waiting txs take" : std::string()));
    }
  }
  // Plan before changing anything: the replaced tx and, when the pool is
  // full, the cheapest txs of other senders (each with that sender's later
  // nonces, which could not be included without it). Nothing changes unless
  // the new tx then fits.
  size_t count = ids_.size() + 1, total = bytes_ + size;
  if (same != queue.end()) {
    count -= 1;
    total -= same->second.bytes;
  }
  std::vector<std::pair<Address, uint64_t>> evict;  // (sender, first nonce dropped)
  std::set<Address> evicted_senders;
  for (auto it = by_fee_.begin(); (count > options_.max_txs || total > options_.max_bytes) && it != by_fee_.end();
       ++it) {
    const auto& [fee, from, nonce] = *it;
    if (fee >= tx.tx.fee)
      return Fail(ErrorCode::kUsage, "mempool is full; the fee must exceed " + std::to_string(fee));
    if (from == tx.tx.from || evicted_senders.count(from)) continue;
    evicted_senders.insert(from);
    evict.emplace_back(from, nonce);
    const auto& q = by_sender_.at(from);
    for (auto e = q.lower_bound(nonce); e != q.end(); ++e) {
      count -= 1;
      total -= e->second.bytes;
    }
  }
  if (count > options_.max_txs || total > options_.max_bytes)
    return Fail(ErrorCode::kUsage, "mempool is full and no cheaper txs of other senders can make room");
  if (same != queue.end()) RemoveLocked(tx.tx.from, tx.tx.nonce);
  for (const auto& [from, first] : evict) {
    uint64_t last = by_sender_.at(from).rbegin()->first;
    for (uint64_t n = last + 1; n-- > first;) RemoveLocked(from, n);
  }
  Address from = tx.tx.from;
  uint64_t nonce = tx.tx.nonce, fee = tx.tx.fee;
  spends_[from] += U128{fee} + Spends(tx.tx);
  by_sender_[from][nonce] = Entry{std::move(tx), id, size, height};
  by_fee_.emplace(fee, from, nonce);
  ids_.insert(id);
  bytes_ += size;
  return id;
}

uint64_t Mempool::NextAfter(const std::map<uint64_t, Entry>& queue, uint64_t committed) {
  if (queue.empty()) return committed;
  return std::max(committed, queue.rbegin()->first + 1);
}

void Mempool::RemoveLocked(const Address& from, uint64_t nonce) {
  auto s = by_sender_.find(from);
  if (s == by_sender_.end()) return;
  auto e = s->second.find(nonce);
  if (e == s->second.end()) return;
  by_fee_.erase(FeeKey{e->second.tx.tx.fee, from, nonce});
  ids_.erase(e->second.id);
  bytes_ -= e->second.bytes;
  if (auto sum = spends_.find(from); sum != spends_.end())
    sum->second -= U128{e->second.tx.tx.fee} + Spends(e->second.tx.tx);
  s->second.erase(e);
  if (s->second.empty()) {
    spends_.erase(from);  // before the queue: `from` may be its key
    by_sender_.erase(s);
  }
}

std::map<Address, uint64_t> Mempool::CommittedNonces() const {
  std::vector<Address> senders;
  {
    std::lock_guard<std::mutex> l(mu_);
    senders.reserve(by_sender_.size());
    for (const auto& [from, queue] : by_sender_) senders.push_back(from);
  }
  // Database reads outside the lock: admission goes on meanwhile.
  std::map<Address, uint64_t> nonces;
  for (const Address& a : senders) {
    auto acc = chain_.GetAccount(a);
    nonces[a] = (acc && *acc) ? (*acc)->nonce : 0;
  }
  return nonces;
}

std::vector<SignedTx> Mempool::Select(size_t max_txs, size_t max_bytes) const {
  std::vector<SignedTx> out;
  std::map<Address, uint64_t> nonces = CommittedNonces();
  std::lock_guard<std::mutex> l(mu_);
  // Each sender's head must be its committed nonce; then the best fee wins.
  struct Head {
    uint64_t fee;
    Address from;
    std::map<uint64_t, Entry>::const_iterator it, end;
    bool operator<(const Head& o) const { return fee != o.fee ? fee < o.fee : o.from < from; }
  };
  std::priority_queue<Head> heads;
  for (const auto& [from, queue] : by_sender_) {
    auto n = nonces.find(from);
    if (n == nonces.end()) continue;  // a sender new since the read: next block
    auto it = queue.find(n->second);
    if (it != queue.end()) heads.push(Head{it->second.tx.tx.fee, from, it, queue.end()});
  }
  size_t bytes = 0;
  while (!heads.empty() && out.size() < max_txs) {
    Head h = heads.top();
    heads.pop();
    if (bytes + h.it->second.bytes > max_bytes) continue;
    bytes += h.it->second.bytes;
    out.push_back(h.it->second.tx);
    uint64_t nonce = h.it->first;
    auto next = std::next(h.it);
    if (next != h.end && next->first == nonce + 1) heads.push(Head{next->second.tx.tx.fee, h.from, next, h.end});
  }
  return out;
}

void Mempool::Committed(const BlockHeader& head) {
  std::map<Address, uint64_t> nonces = CommittedNonces();
  std::lock_guard<std::mutex> l(mu_);
  std::vector<std::pair<Address, uint64_t>> drop;
  for (const auto& [from, queue] : by_sender_) {
    auto n = nonces.find(from);
    if (n == nonces.end()) continue;  // added after the read: nothing of it is committed yet
    uint64_t next = n->second;
    bool aged = false;  // once one tx ages out, its later nonces go too
    for (const auto& [nonce, e] : queue) {
      aged = aged || (nonce >= next && head.height >= e.added_height + options_.max_age_blocks);
      if (nonce < next || aged) drop.emplace_back(from, nonce);
    }
  }
  for (const auto& [from, nonce] : drop) RemoveLocked(from, nonce);
}

std::vector<Mempool::SenderSummary> Mempool::Senders(size_t max_senders) const {
  std::lock_guard<std::mutex> l(mu_);
  std::vector<SenderSummary> out;
  for (const auto& [addr, queue] : by_sender_) {
    if (out.size() >= max_senders) break;
    if (queue.empty()) continue;
    SenderSummary s;
    s.address = addr;
    s.txs = queue.size();
    for (const auto& [nonce, e] : queue) s.bytes += e.bytes;
    s.lowest_nonce = queue.begin()->first;
    s.highest_nonce = queue.rbegin()->first;
    out.push_back(s);
  }
  return out;
}

std::vector<SignedTx> Mempool::Txs(size_t max_txs, const std::optional<Address>& from) const {
  std::lock_guard<std::mutex> l(mu_);
  std::vector<SignedTx> out;
  auto take = [&](const std::map<uint64_t, Entry>& queue) {
    for (const auto& [nonce, e] : queue) {
      if (out.size() >= max_txs) return;
      out.push_back(e.tx);
    }
  };
  if (from) {
    if (auto it = by_sender_.find(*from); it != by_sender_.end()) take(it->second);
  } else {
    for (const auto& [addr, queue] : by_sender_) {
      if (out.size() >= max_txs) break;
      take(queue);
    }
  }
  return out;
}

uint64_t Mempool::NextNonce(const Address& a) const {
  auto acc = chain_.GetAccount(a);
  uint64_t next = (acc && *acc) ? (*acc)->nonce : 0;
  std::lock_guard<std::mutex> l(mu_);
  auto s = by_sender_.find(a);
  if (s == by_sender_.end()) return next;
  return NextAfter(s->second, next);
}

size_t Mempool::size() const {
  std::lock_guard<std::mutex> l(mu_);
  return ids_.size();
}

size_t Mempool::bytes() const {
  std::lock_guard<std::mutex> l(mu_);
  return bytes_;
}

void Mempool::NoteVerified(const std::vector<Hash32>& ids) {
  std::lock_guard<std::mutex> l(mu_);
  for (const Hash32& id : ids)
    if (verified_.insert(id).second) verified_order_.push_back(id);
  while (verified_order_.size() > kMaxVerified) {
    verified_.erase(verified_order_.front());
    verified_order_.pop_front();
  }
}

Hash32 Mempool::SignatureKey(const SignedTx& tx, const Hash32& id) {
  Bytes b(id.v.begin(), id.v.end());
  b.push_back(static_cast<uint8_t>(tx.algo));
  b.push_back(static_cast<uint8_t>(tx.public_key.size()));
  b.insert(b.end(), tx.public_key.begin(), tx.public_key.end());
  b.insert(b.end(), tx.signature.begin(), tx.signature.end());
  return crypto::Sha256Tagged("GTOS-SIGCHECK-V1", b);
}

std::vector<bool> Mempool::SignatureChecked(const std::vector<SignedTx>& txs, const std::vector<Hash32>& ids) const {
  std::vector<Hash32> keys(txs.size());
  for (size_t i = 0; i < txs.size(); ++i) keys[i] = SignatureKey(txs[i], ids[i]);
  std::vector<bool> out(txs.size());
  std::lock_guard<std::mutex> l(mu_);
  for (size_t i = 0; i < txs.size(); ++i) {
    const SignedTx& t = txs[i];
    auto q = by_sender_.find(t.tx.from);
    if (q != by_sender_.end()) {
      auto e = q->second.find(t.tx.nonce);
      if (e != q->second.end() && e->second.id == ids[i] && e->second.tx.algo == t.algo &&
          e->second.tx.public_key == t.public_key && e->second.tx.signature == t.signature) {
        out[i] = true;
        continue;
      }
    }
    out[i] = verified_.count(keys[i]) > 0;
  }
  return out;
}

}  // namespace gtos::node
