// State snapshots (docs/snapshots.md).
//
// Chunks are written and read here without the generic field visitors: a
// chunk is a flat list of [key, value] pairs, and the encoded pair is
// exactly the state element the accumulator hashes (state::StateElement),
// so a chunk is verified straight from its bytes. The strict reader
// (chain/snapshot_chunk.h) accepts only the canonical encoding, the one
// EncodeRecord(Chunk) writes (snapshot_test and fuzz_snapshot_chunk check
// that the two agree).
#include "chain/snapshot.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <thread>

#include "chain/chain.h"
#include "chain/snapshot_chunk.h"
#include "crypto/hash.h"
#include "state/executor.h"
#include "state/lthash.h"
#include "state/schema.h"
#include "types/records.h"
#include "util/file.h"

namespace gtos::snapshot {

namespace fs = std::filesystem;
namespace schema = state::schema;

namespace {

std::string ToString(ByteView b) { return std::string(reinterpret_cast<const char*>(b.data()), b.size()); }

std::string ChunkName(uint64_t index, uint64_t count) {
  return "chunk " + std::to_string(index + 1) + " of " + std::to_string(count);
}

std::unexpected<Error> ChunkError(uint64_t index, uint64_t count, const std::string& what) {
  return Invalid(ChunkName(index, count) + ": " + what);
}

std::unexpected<Error> IOError(const std::string& what, const std::string& path) {
  return Fail(ErrorCode::kIO, what + " '" + path + "': " + std::strerror(errno));
}

// Sums the state elements of entries[begin, end) on up to `threads` threads.
void SumElements(const std::vector<EntryView>& entries, unsigned threads, state::LtHash* acc) {
  auto work = [&entries](size_t b, size_t e, state::LtHash* out) {
    state::LtHash::Lanes lanes;
    for (size_t i = b; i < e; ++i) {
      state::LtHash::Expand(entries[i].element, &lanes);
      out->AddLanes(lanes);
    }
  };
  size_t n = entries.size();
  if (threads <= 1 || n < 256) return work(0, n, acc);
  std::vector<state::LtHash> parts(threads - 1);
  std::vector<std::thread> pool;
  for (unsigned t = 1; t < threads; ++t) pool.emplace_back(work, n * t / threads, n * (t + 1) / threads, &parts[t - 1]);
  work(0, n / threads, acc);
  for (std::thread& t : pool) t.join();
  for (const state::LtHash& p : parts) acc->Combine(p);
}

unsigned HashThreads() { return std::clamp(std::thread::hardware_concurrency(), 1u, 4u); }

// ---- reading a snapshot file -------------------------------------------------------------

class FileReader {
 public:
  ~FileReader() {
    if (f_) std::fclose(f_);
  }
  Status Open(const std::string& path) {
    path_ = path;
    f_ = std::fopen(path.c_str(), "rb");
    if (!f_) return IOError("unable to open", path);
    struct stat st;
    if (::fstat(::fileno(f_), &st) != 0) return IOError("unable to read", path);
    size_ = static_cast<uint64_t>(st.st_size);
    return Ok();
  }
  uint64_t size() const { return size_; }

  // Reads the manifest record at the start of the file.
  Result<Manifest> ReadManifest() {
    Bytes buf;
    size_t want = 1 << 16;
    for (;;) {
      size_t have = buf.size();
      size_t target = std::min<uint64_t>(want, size_);
      buf.resize(target);
      if (target > have && std::fread(buf.data() + have, 1, target - have, f_) != target - have)
        return IOError("unable to read", path_);
      size_t off = 0;
      auto p = codec::ParseOne(buf, &off);
      if (!p) return std::unexpected(Wrap(p.error(), "'" + path_ + "': manifest"));
      if (*p) {
        auto m = DecodeRecordFrom<Manifest>(**p);
        if (!m) return std::unexpected(Wrap(m.error(), "'" + path_ + "': manifest"));
        offset_ = off;
        if (std::fseek(f_, static_cast<long>(off), SEEK_SET) != 0) return IOError("unable to read", path_);
        return m;
      }
      if (target >= size_ || want >= codec::kMaxRecordBytes)
        return Invalid("'" + path_ + "': manifest: truncated (not a snapshot file?)");
      want *= 4;
    }
  }

  // Reads the record of chunk i (its size from the manifest) into buf.
  Status ReadChunk(const Manifest& m, uint64_t i, Bytes* buf) {
    uint64_t n = m.chunks[i].bytes;
    buf->resize(n);
    size_t got = std::fread(buf->data(), 1, n, f_);
    offset_ += got;
    if (got == n) return Ok();
    if (std::ferror(f_)) return IOError("unable to read", path_);
    return ChunkError(i, m.chunks.size(), got == 0 ? "missing (file truncated)" : "truncated");
  }

  Status CheckEnd(const Manifest& m) {
    if (offset_ == size_ && std::fgetc(f_) == EOF) return Ok();
    return Invalid("trailing bytes after " + ChunkName(m.chunks.size() - 1, m.chunks.size()));
  }

 private:
  std::string path_;
  FILE* f_ = nullptr;
  uint64_t size_ = 0;
  uint64_t offset_ = 0;
};

// ---- the trust walk from genesis (docs/snapshots.md, "Verification") ----------------------

Result<Hash32> SetHash(const ActiveSet& s, const std::string& what) {
  auto vs = chain::MakeValidatorSet(s);
  if (!vs) return Invalid(what + ": " + vs.error().message);
  return vs->Hash();
}

Status CheckCertified(const consensus::ValidatorSet& set, const BlockHeader& h, const Commit& c,
                      const std::string& what) {
  if (c.height != h.height) return Invalid(what + ": the commit is for another height");
  if (c.block_hash != h.Hash()) return Invalid(what + ": the commit is for another block");
  if (h.validators_hash != set.Hash())
    return Invalid(what + ": validators_hash is not the hash of the set for height " + std::to_string(h.height));
  auto st = set.VerifyCommit(h.chain_id, c);
  if (!st) return Invalid(what + ": commit: " + st.error().message);
  return Ok();
}

struct Checked {
  Genesis genesis;
  std::string last_set_value;  // EncodeValue of the set for height + 1: the S entry
};

// Everything in the manifest that does not need the chunks.
// Boundaries at or above this height need an epoch proof even where the set
// did not change: the sets of the epochs a restored node may still judge
// evidence against (vote heights down to H + 1 - unbonding_blocks) must be
// proven, not just claimed unchanged.
uint64_t ProofWindowStart(uint64_t height, const ChainParams& p) {
  uint64_t back = p.unbonding_blocks + std::max<uint64_t>(1, p.epoch_length);
  return height + 1 > back ? height + 1 - back : 0;
}

Result<Checked> CheckManifest(const Manifest& m, const Genesis* expected) {
  Checked out;
  auto g = DecodeRecord<Genesis>(m.genesis);
  if (!g) return Invalid("field 'genesis': " + g.error().message);
  out.genesis = std::move(*g);
  if (expected && expected->Hash() != m.genesis_hash)
    return Invalid("field 'genesis_hash': the snapshot is of another genesis (" + ToHex0x(m.genesis_hash) +
                   ", expected " + ToHex0x(expected->Hash()) + ")");
  auto gs = state::BuildGenesisState(out.genesis);
  if (!gs) return Invalid("field 'genesis': " + gs.error().message);
  const uint64_t len = std::max<uint64_t>(1, out.genesis.params.epoch_length);
  const auto& hist = m.set_history;
  for (size_t i = 0; i < hist.size(); ++i)
    if (hist[i].first_height != i * len + 1)
      return Invalid("field 'set_history': entry " + std::to_string(i) + " starts at height " +
                     std::to_string(hist[i].first_height) + ", not " + std::to_string(i * len + 1));
  if (hist.back().first_height != state::EpochFirstHeight(m.height + 1, len))
    return Invalid("field 'set_history': does not reach the epoch of height " + std::to_string(m.height + 1));
  if (state::EncodeValue(hist[0]) != state::EncodeValue(gs->active_set))
    return Invalid("field 'set_history': entry 0 is not the genesis validator set");

  auto trusted = chain::MakeValidatorSet(hist[0]);
  if (!trusted) return Invalid("field 'set_history': entry 0: " + trusted.error().message);
  const size_t signer = (state::EpochFirstHeight(m.height, len) - 1) / len;
  std::optional<consensus::ValidatorSet> header_set;
  size_t proof = 0;
  const uint64_t window = ProofWindowStart(m.height, out.genesis.params);
  for (size_t i = 0; i < hist.size(); ++i) {
    std::string what = "field 'set_history': entry " + std::to_string(i);
    auto h = SetHash(hist[i], what);
    if (!h) return std::unexpected(h.error());
    if (*h != trusted->Hash() || (i > 0 && hist[i].first_height - 1 >= window)) {
      // The boundary block before this epoch names the new set and is signed by the old one.
      std::string pw = "field 'epoch_proofs': entry " + std::to_string(proof);
      if (proof >= m.epoch_proofs.size() || m.epoch_proofs[proof].header.height != hist[i].first_height - 1)
        return Invalid(what + ": no epoch proof has the header of height " +
                       std::to_string(hist[i].first_height - 1) +
                       " (needed where the set changes and for every boundary from height " +
                       std::to_string(window) + ")");
      const EpochProof& p = m.epoch_proofs[proof++];
      GTOS_TRY(CheckCertified(*trusted, p.header, p.commit, pw));
      if (p.header.next_validators_hash != *h)
        return Invalid(pw + ": next_validators_hash is not the hash of set_history entry " + std::to_string(i));
      auto next = chain::MakeValidatorSet(hist[i]);
      if (!next) return Invalid(what + ": " + next.error().message);
      trusted = std::move(*next);
    }
    if (i == signer) header_set = *trusted;
  }
  if (proof != m.epoch_proofs.size())
    return Invalid("field 'epoch_proofs': entry " + std::to_string(proof) +
                   " is neither at a validator set change nor in the evidence window");
  if (!header_set) return Invalid("field 'set_history': no set for height " + std::to_string(m.height));
  GTOS_TRY(CheckCertified(*header_set, m.header, m.commit, "field 'header'"));
  auto next_hash = SetHash(hist.back(), "field 'set_history'");
  if (!next_hash) return std::unexpected(next_hash.error());
  if (m.header.next_validators_hash != *next_hash)
    return Invalid("field 'header': next_validators_hash is not the hash of the last set_history entry");
  out.last_set_value = state::EncodeValue(hist.back());
  return out;
}

// ---- walking the chunks -----------------------------------------------------------------

// Reads, checks and sums every chunk; calls sink(chunk view) after each
// chunk has passed its checks (before the final state root check).
class ChunkWalk {
 public:
  ChunkWalk(const Manifest& m, const Checked& c, const Progress& progress)
      : m_(m), checked_(c), progress_(progress) {}

  // Reads, checks and sums every chunk; with a sink (restore), hands each
  // checked chunk to a writer thread, so that writing chunk i overlaps
  // reading and hashing chunk i + 1 (the database write is the slower
  // half). A chunk reaches the sink only after it passed its checks.
  Status Run(FileReader& in, const std::function<Status(const ChunkView&)>& sink) {
    const uint64_t n = m_.chunks.size();
    struct Slot {
      Bytes buf;
      ChunkView view;
      uint64_t index = 0;
    };
    constexpr size_t kSlots = 3;
    std::vector<std::unique_ptr<Slot>> free_slots;
    for (size_t i = 0; i < kSlots; ++i) free_slots.push_back(std::make_unique<Slot>());
    std::deque<std::unique_ptr<Slot>> queue;
    std::mutex mu;
    std::condition_variable cv;
    bool closing = false;
    Status sunk = Ok();
    std::thread writer;
    if (sink)
      writer = std::thread([&] {
        for (;;) {
          std::unique_ptr<Slot> slot;
          {
            std::unique_lock<std::mutex> l(mu);
            cv.wait(l, [&] { return closing || !queue.empty(); });
            if (queue.empty()) return;
            slot = std::move(queue.front());
            queue.pop_front();
          }
          Status st = sunk ? sink(slot->view) : Ok();
          std::lock_guard<std::mutex> l(mu);
          if (!st && sunk) sunk = std::unexpected(Wrap(st.error(), ChunkName(slot->index, n)));
          free_slots.push_back(std::move(slot));
          cv.notify_all();
        }
      });
    auto finish = [&]() -> Status {
      if (writer.joinable()) {
        {
          std::lock_guard<std::mutex> l(mu);
          closing = true;
        }
        cv.notify_all();
        writer.join();
      }
      return sunk;
    };
    uint64_t done = 0;
    for (uint64_t i = 0; i < n; ++i) {
      std::unique_ptr<Slot> slot;
      {
        std::unique_lock<std::mutex> l(mu);
        cv.wait(l, [&] { return !free_slots.empty(); });
        if (!sunk) break;
        slot = std::move(free_slots.back());
        free_slots.pop_back();
      }
      Status st = in.ReadChunk(m_, i, &slot->buf);
      if (st) st = CheckOne(i, slot->buf, &slot->view);
      if (!st) {
        (void)finish();
        return st;
      }
      SumElements(slot->view.entries, sink ? std::max(1u, HashThreads() - 1) : HashThreads(), &acc_);
      done += slot->view.entries.size();
      slot->index = i;
      {
        std::lock_guard<std::mutex> l(mu);
        if (sink) queue.push_back(std::move(slot));
        else free_slots.push_back(std::move(slot));
      }
      cv.notify_all();
      if (progress_) progress_(done, m_.total_entries);
    }
    GTOS_TRY(finish());
    GTOS_TRY(in.CheckEnd(m_));
    if (!saw_active_set_) return Invalid("the state has no active validator set entry (S)");
    if (acc_.Digest() != m_.header.state_root)
      return Invalid("state root mismatch: the chunks sum to " + ToHex0x(acc_.Digest()) + ", the header says " +
                     ToHex0x(m_.header.state_root));
    return Ok();
  }
  const state::LtHash& accumulator() const { return acc_; }

 private:
  Status CheckOne(uint64_t i, const Bytes& buf, ChunkView* view) {
    const uint64_t n = m_.chunks.size();
    const ChunkInfo& info = m_.chunks[i];
    if (crypto::Sha256(buf) != info.hash) return ChunkError(i, n, "hash mismatch");
    auto st = ParseChunk(buf, view);
    if (!st) return ChunkError(i, n, st.error().message);
    if (view->height != m_.height) return ChunkError(i, n, "height " + std::to_string(view->height) + ", not " + std::to_string(m_.height));
    if (view->index != i) return ChunkError(i, n, "index field is " + std::to_string(view->index));
    if (view->entries.size() != info.entries)
      return ChunkError(i, n, std::to_string(view->entries.size()) + " entries, the manifest says " +
                                  std::to_string(info.entries));
    uint64_t bytes = 0;
    for (size_t j = 0; j < view->entries.size(); ++j) {
      const EntryView& e = view->entries[j];
      std::string_view key(reinterpret_cast<const char*>(e.key.data()), e.key.size());
      if (key.empty() || !IsStateTable(e.key[0]))
        return ChunkError(i, n, "entry " + std::to_string(j) + " is not in a state table");
      if (any_key_ && key <= last_key_)
        return ChunkError(i, n, "entry " + std::to_string(j) + " is not in ascending key order");
      if (bytes >= m_.chunk_budget) return ChunkError(i, n, "continues past the chunk budget");
      bytes += e.key.size() + e.value.size();
      last_key_.assign(key);
      any_key_ = true;
      if (key.size() == 1 && key[0] == schema::kActiveSet) {
        if (ToString(e.value) != checked_.last_set_value)
          return ChunkError(i, n, "the active set entry (S) differs from the last set_history entry");
        saw_active_set_ = true;
      }
    }
    if (i + 1 < n && bytes < m_.chunk_budget) return ChunkError(i, n, "ends before the chunk budget");
    return Ok();
  }

  const Manifest& m_;
  const Checked& checked_;
  const Progress& progress_;
  state::LtHash acc_;
  std::string last_key_;
  bool any_key_ = false;
  bool saw_active_set_ = false;
};

// ---- writing ----------------------------------------------------------------------------

// Builds chunk records from entries in key order.
class ChunkWriter {
 public:
  ChunkWriter(uint64_t height, uint64_t budget, FILE* out) : height_(height), budget_(budget), out_(out) {}

  Status Add(std::string_view key, std::string_view value) {
    body_.Array(2);
    body_.Bin(AsBytes(key));
    body_.Bin(AsBytes(value));
    ++count_;
    bytes_ += key.size() + value.size();
    if (bytes_ >= budget_) return Close();
    return Ok();
  }
  // Closes the last chunk; a state with no entries gets one empty chunk.
  Status Finish() {
    if (count_ > 0 || infos_.empty()) return Close();
    return Ok();
  }
  std::vector<ChunkInfo>& infos() { return infos_; }
  uint64_t total() const { return total_; }

 private:
  Status Close() {
    codec::Writer rec;
    rec.Array(5);
    rec.Uint(static_cast<uint64_t>(Chunk::kType));
    rec.Uint(Chunk::kVersion);
    rec.Uint(height_);
    rec.Uint(infos_.size());
    rec.Array(static_cast<uint32_t>(count_));
    rec.Raw(body_.bytes());
    const Bytes& b = rec.bytes();
    if (b.size() > codec::kMaxRecordBytes) return Invalid("a chunk exceeds the record size limit");
    infos_.push_back(ChunkInfo{crypto::Sha256(b), count_, b.size()});
    if (std::fwrite(b.data(), 1, b.size(), out_) != b.size()) return Fail(ErrorCode::kIO, "unable to write chunks");
    total_ += count_;
    body_.Clear();
    count_ = 0;
    bytes_ = 0;
    return Ok();
  }

  uint64_t height_;
  uint64_t budget_;
  FILE* out_;
  codec::Writer body_;
  uint64_t count_ = 0;
  uint64_t bytes_ = 0;
  uint64_t total_ = 0;
  std::vector<ChunkInfo> infos_;
};

template <class R>
Result<R> GetRecord(const state::ReadView& view, const std::string& key, const std::string& what) {
  auto v = view.Get(key);
  if (!v) return std::unexpected(v.error());
  if (!*v) return Fail(ErrorCode::kNotFound, what + " is not in the database");
  auto r = DecodeRecord<R>(AsBytes(**v));
  if (!r) return Fail(ErrorCode::kInternal, "corrupt " + what + " in database: " + r.error().message);
  return r;
}

template <class T>
Result<T> GetValue(const state::ReadView& view, const std::string& key, const std::string& what) {
  auto v = view.Get(key);
  if (!v) return std::unexpected(v.error());
  if (!*v) return Fail(ErrorCode::kNotFound, what + " is not in the database");
  return state::DecodeValue<T>(**v, what);
}

// The manifest fields read from the view (everything but the chunks).
Result<Manifest> ManifestFromView(const state::ReadView& view, const Commit* given_commit) {
  Manifest m;
  auto head = view.Get(schema::MetaKey(schema::kMetaHead));
  if (!head) return std::unexpected(head.error());
  if (!*head || (*head)->size() != 8) return Fail(ErrorCode::kInternal, "database has no head");
  m.height = schema::ReadBE64(**head);
  if (m.height == 0) return Fail(ErrorCode::kNotFound, "height 0 has no commit certificate; commit a block first");
  auto g = view.Get(schema::MetaKey(schema::kMetaGenesis));
  if (!g) return std::unexpected(g.error());
  if (!*g) return Fail(ErrorCode::kInternal, "database has no genesis record");
  auto genesis = DecodeRecord<Genesis>(AsBytes(**g));
  if (!genesis) return Fail(ErrorCode::kInternal, "corrupt genesis in database: " + genesis.error().message);
  m.genesis.assign((*g)->begin(), (*g)->end());
  m.chain_id = genesis->chain_id;
  m.genesis_hash = genesis->Hash();
  auto header = GetRecord<BlockHeader>(view, schema::HeightKey(schema::kHeader, m.height), "header " + std::to_string(m.height));
  if (!header) return std::unexpected(header.error());
  m.header = std::move(*header);
  if (given_commit) {
    m.commit = *given_commit;
  } else {
    auto commit = GetValue<Commit>(view, schema::HeightKey(schema::kCommit, m.height), "commit of height " + std::to_string(m.height));
    if (!commit) return std::unexpected(commit.error());
    m.commit = std::move(*commit);
  }

  Status inner = Ok();
  GTOS_TRY(view.Scan(std::string(1, schema::kSetHistory), [&](std::string_view, std::string_view v) {
    auto set = state::DecodeValue<ActiveSet>(v, "validator set history");
    if (!set) {
      inner = std::unexpected(set.error());
      return false;
    }
    if (set->first_height > m.height + 1) return false;
    m.set_history.push_back(std::move(*set));
    return true;
  }));
  GTOS_TRY(inner);
  if (m.set_history.empty()) return Fail(ErrorCode::kInternal, "database has no validator set history");
  Hash32 prev;
  const uint64_t window = ProofWindowStart(m.height, genesis->params);
  for (size_t i = 0; i < m.set_history.size(); ++i) {
    auto h = SetHash(m.set_history[i], "validator set history");
    if (!h) return std::unexpected(h.error());
    uint64_t b = m.set_history[i].first_height - 1;
    if (i > 0 && (*h != prev || b >= window)) {
      EpochProof p;
      auto ph = GetRecord<BlockHeader>(view, schema::HeightKey(schema::kHeader, b), "header " + std::to_string(b));
      if (!ph) return std::unexpected(ph.error());
      Commit pc;
      if (b == m.height) {
        pc = m.commit;  // the snapshot's own (canonical) certificate, not this node's
      } else {
        auto c = GetValue<Commit>(view, schema::HeightKey(schema::kCommit, b), "commit of height " + std::to_string(b));
        if (!c) return std::unexpected(c.error());
        pc = std::move(*c);
      }
      m.epoch_proofs.push_back(EpochProof{std::move(*ph), std::move(pc)});
    }
    prev = *h;
  }
  return m;
}

// Removes a file when destroyed unless released.
struct FileGuard {
  std::string path;
  ~FileGuard() {
    if (!path.empty()) ::unlink(path.c_str());
  }
};

}  // namespace

// ---- public API ---------------------------------------------------------------------------

Status Create(const state::ReadView& view, const std::string& path, const Progress& progress) {
  return Create(view, path, progress, kChunkBudgetBytes);
}

namespace {
Status CreateImpl(const state::ReadView& view, const std::string& path, const Commit* commit,
                  const Progress& progress, uint64_t chunk_budget);
}  // namespace

Status Create(const state::ReadView& view, const std::string& path, const Progress& progress,
              uint64_t chunk_budget) {
  return CreateImpl(view, path, nullptr, progress, chunk_budget);
}

Status CreateWithCommit(const state::ReadView& view, const std::string& path, const Commit& commit,
                        const Progress& progress) {
  return CreateImpl(view, path, &commit, progress, kChunkBudgetBytes);
}

namespace {
Status CreateImpl(const state::ReadView& view, const std::string& path, const Commit* commit,
                  const Progress& progress, uint64_t chunk_budget) {
  if (chunk_budget == 0) return Fail(ErrorCode::kUsage, "chunk budget must be positive");
  auto m = ManifestFromView(view, commit);
  if (!m) return std::unexpected(m.error());
  m->chunk_budget = chunk_budget;

  // The chunks go to a scratch file first: the manifest, which lists their
  // hashes, comes before them in the snapshot.
  std::string scratch = path + ".chunks.tmp." + std::to_string(::getpid());
  FILE* f = std::fopen(scratch.c_str(), "w+b");
  if (!f) return IOError("unable to create", scratch);
  FileGuard guard{scratch};
  std::unique_ptr<FILE, int (*)(FILE*)> closer(f, &std::fclose);

  ChunkWriter chunks(m->height, m->chunk_budget, f);
  Status inner = Ok();
  uint64_t done = 0;
  for (char table : schema::kStateTables) {
    GTOS_TRY(view.Scan(std::string(1, table), [&](std::string_view k, std::string_view v) {
      inner = chunks.Add(k, v);
      if (progress && ++done % 65536 == 0) progress(done, 0);
      return bool(inner);
    }));
    GTOS_TRY(inner);
  }
  GTOS_TRY(chunks.Finish());
  m->chunks = std::move(chunks.infos());
  m->total_entries = chunks.total();
  GTOS_TRY(m->Validate());

  AtomicOutput out;
  GTOS_TRY(out.Open(path, 0644));
  GTOS_TRY(out.Write(EncodeRecord(*m)));
  if (std::fflush(f) != 0 || std::fseek(f, 0, SEEK_SET) != 0) return IOError("unable to read", scratch);
  std::vector<uint8_t> buf(1 << 20);
  for (;;) {
    size_t got = std::fread(buf.data(), 1, buf.size(), f);
    if (got > 0) GTOS_TRY(out.Write(ByteView(buf.data(), got)));
    if (got < buf.size()) {
      if (std::ferror(f)) return IOError("unable to read", scratch);
      break;
    }
  }
  GTOS_TRY(out.Commit());
  if (progress) progress(m->total_entries, m->total_entries);
  return Ok();
}
}  // namespace

Result<Manifest> ReadManifest(const std::string& path) {
  FileReader in;
  GTOS_TRY(in.Open(path));
  return in.ReadManifest();
}

Result<Info> ReadInfo(const std::string& path) {
  FileReader in;
  GTOS_TRY(in.Open(path));
  auto m = in.ReadManifest();
  if (!m) return std::unexpected(m.error());
  Info i;
  i.path = path;
  i.height = m->height;
  i.hash = m->Hash();
  i.block_hash = m->header.Hash();
  i.state_root = m->header.state_root;
  i.chunks = m->chunks.size();
  i.entries = m->total_entries;
  i.file_bytes = in.size();
  return i;
}

Result<Manifest> Verify(const std::string& path, const Genesis* expected_genesis, const Progress& progress) {
  FileReader in;
  GTOS_TRY(in.Open(path));
  auto m = in.ReadManifest();
  if (!m) return std::unexpected(m.error());
  auto checked = CheckManifest(*m, expected_genesis);
  if (!checked) return std::unexpected(checked.error());
  ChunkWalk walk(*m, *checked, progress);
  GTOS_TRY(walk.Run(in, {}));
  return m;
}

Status VerifyManifest(const Manifest& m, const Genesis* expected_genesis) {
  GTOS_TRY(m.Validate());
  auto checked = CheckManifest(m, expected_genesis);
  if (!checked) return std::unexpected(checked.error());
  return Ok();
}

Status CheckChunkBytes(const Manifest& m, uint64_t index, ByteView record_bytes) {
  const uint64_t n = m.chunks.size();
  if (index >= n) return Invalid("chunk index " + std::to_string(index) + " is out of range (" + std::to_string(n) + " chunks)");
  if (record_bytes.size() != m.chunks[index].bytes)
    return ChunkError(index, n, std::to_string(record_bytes.size()) + " bytes, the manifest says " +
                                    std::to_string(m.chunks[index].bytes));
  if (crypto::Sha256(record_bytes) != m.chunks[index].hash) return ChunkError(index, n, "hash mismatch");
  ChunkView v;
  auto st = ParseChunk(record_bytes, &v);
  if (!st) return ChunkError(index, n, st.error().message);
  if (v.height != m.height || v.index != index) return ChunkError(index, n, "height or index differs from the manifest");
  return Ok();
}

// ---- restore ------------------------------------------------------------------------------

namespace {

// Everything Restore creates, removed on failure.
struct RestoreCleanup {
  std::string tmp_db, db, genesis, datadir;
  bool created_datadir = false;
  bool done = false;
  ~RestoreCleanup() {
    if (done) return;
    std::error_code ec;
    if (!tmp_db.empty()) fs::remove_all(tmp_db, ec);
    if (!db.empty()) fs::remove_all(db, ec);
    if (!genesis.empty()) fs::remove(genesis, ec);
    if (created_datadir) fs::remove(datadir, ec);  // only if still empty
  }
};

// The puts of one chunk: the entries and their expiry index entries.
Status WriteChunk(state::Store& store, const ChunkView& v) {
  state::WriteBatch b;
  std::vector<std::string> expiry;
  for (size_t j = 0; j < v.entries.size(); ++j) {
    const EntryView& e = v.entries[j];
    std::string_view key(reinterpret_cast<const char*>(e.key.data()), e.key.size());
    b.Put(key, std::string_view(reinterpret_cast<const char*>(e.value.data()), e.value.size()));
    if (key[0] == schema::kCode || key[0] == schema::kKv) {
      uint64_t expire = 0;
      if (!ExpireBlockOf(e.value, &expire)) return Invalid("entry " + std::to_string(j) + ": corrupt stored object");
      expiry.push_back(schema::ExpiryKey(expire, key));
    }
  }
  // In key order, LevelDB's memtable takes them much faster.
  std::sort(expiry.begin(), expiry.end());
  for (const std::string& k : expiry) b.Put(k, "");
  return store.WriteUnsynced(b);
}

Status WriteHistory(state::Store& store, const Manifest& m, const Checked& c, const state::LtHash& acc) {
  state::WriteBatch b;
  auto put_block = [&b](const BlockHeader& h, const Commit& cm) {
    b.Put(schema::HeightKey(schema::kHeader, h.height), ToString(EncodeRecord(h)));
    b.Put(schema::HeightKey(schema::kCommit, h.height), state::EncodeValue(cm));
  };
  for (const EpochProof& p : m.epoch_proofs) put_block(p.header, p.commit);
  put_block(m.header, m.commit);
  // Header 0 is derived from the genesis exactly as Chain::Init writes it.
  auto gs = state::BuildGenesisState(c.genesis);
  if (!gs) return std::unexpected(gs.error());
  BlockHeader h0;
  h0.chain_id = c.genesis.chain_id;
  h0.time_ms = c.genesis.genesis_time_ms;
  h0.state_root = gs->state_root;
  h0.parent_hash = m.genesis_hash;
  b.Put(schema::HeightKey(schema::kHeader, 0), ToString(EncodeRecord(h0)));
  for (const ActiveSet& s : m.set_history) b.Put(schema::SetHistoryKey(s.first_height), state::EncodeValue(s));
  auto be64 = [](uint64_t v) {
    std::string s;
    schema::AppendBE64(&s, v);
    return s;
  };
  b.Put(schema::MetaKey(schema::kMetaGenesis), ToString(m.genesis));
  b.Put(schema::MetaKey(schema::kMetaAccumulator), ToString(acc.Serialize()));
  b.Put(schema::MetaKey(schema::kMetaHead), be64(m.height));
  b.Put(schema::MetaKey(schema::kMetaFormat), be64(schema::kSchemaVersion));
  b.Put(schema::MetaKey(schema::kMetaOldestBody), be64(m.height + 1));
  return store.Write(b);  // synced: everything before it is durable too
}

}  // namespace

Status Restore(const std::string& path, const std::string& datadir, const Genesis& genesis,
               const Progress& progress) {
  const std::string db = datadir + "/db", gen = datadir + "/genesis.bin", tmp = datadir + "/" + std::string(kRestoreTmpName);
  std::error_code ec;
  if (fs::exists(db, ec))
    return Fail(ErrorCode::kInvalid, "'" + datadir + "' already holds a chain",
                "restore into a new data directory, or remove this one first");
  // A genesis.bin with the very bytes this restore writes is what an
  // interrupted restore leaves (it is written before the database is moved
  // into place); any other is another chain's.
  const Bytes genesis_bytes = EncodeRecord(genesis);
  const bool have_gen = fs::exists(gen, ec);
  if (have_gen) {
    auto old = ReadFile(gen);
    if (!old) return std::unexpected(old.error());
    if (*old != genesis_bytes)
      return Fail(ErrorCode::kInvalid, "'" + datadir + "' already holds a chain (its genesis.bin is another genesis)",
                  "restore into a new data directory, or remove this one first");
  }
  FileReader in;
  GTOS_TRY(in.Open(path));
  auto m = in.ReadManifest();
  if (!m) return std::unexpected(m.error());
  auto checked = CheckManifest(*m, &genesis);
  if (!checked) return std::unexpected(checked.error());

  RestoreCleanup cleanup;
  cleanup.datadir = datadir;
  if (!fs::exists(datadir, ec)) {
    GTOS_TRY(MakeDirs(datadir, 0700));
    cleanup.created_datadir = true;
  }
  fs::remove_all(tmp, ec);  // left by an interrupted restore
  if (ec) return Fail(ErrorCode::kIO, "unable to remove '" + tmp + "' (left by an interrupted restore): " + ec.message());
  cleanup.tmp_db = tmp;
  {
    state::StoreOptions so;
    so.path = tmp;
    so.create_if_missing = true;
    so.error_if_exists = true;
    so.sync = false;
    so.write_buffer_bytes = 32 << 20;
    auto store = state::Store::Open(so);
    if (!store) return std::unexpected(store.error());
    ChunkWalk walk(*m, *checked, progress);
    GTOS_TRY(walk.Run(in, [&store](const ChunkView& v) { return WriteChunk(**store, v); }));
    GTOS_TRY(WriteHistory(**store, *m, *checked, walk.accumulator()));
  }  // closed
  // genesis.bin first, the database last: D holds a chain (D/db) only once
  // everything is in place, and a crash before that leaves only what the
  // next Restore accepts (the temporary database, this genesis.bin).
  if (!have_gen) {
    cleanup.genesis = gen;
    GTOS_TRY(WriteFileAtomic(gen, genesis_bytes, 0644));
  }
  cleanup.db = db;
  GTOS_TRY(RenameDurable(tmp, db));
  cleanup.done = true;
  return Ok();
}

// ---- D/snapshots --------------------------------------------------------------------------

std::string SnapshotDir(const std::string& datadir) { return datadir + "/snapshots"; }

std::string SnapshotPath(const std::string& datadir, uint64_t height) {
  char name[64];
  std::snprintf(name, sizeof name, "snapshot-%012llu.gsnap", static_cast<unsigned long long>(height));
  return SnapshotDir(datadir) + "/" + name;
}

namespace {

// The height named by "snapshot-<12+ digits>.gsnap", or nullopt.
std::optional<uint64_t> HeightOfName(std::string_view name) {
  constexpr std::string_view kPrefix = "snapshot-", kSuffix = ".gsnap";
  if (!name.starts_with(kPrefix) || !name.ends_with(kSuffix)) return std::nullopt;
  std::string_view digits = name.substr(kPrefix.size(), name.size() - kPrefix.size() - kSuffix.size());
  if (digits.size() < 12 || digits.size() > 20) return std::nullopt;
  uint64_t h = 0;
  for (char c : digits) {
    if (c < '0' || c > '9' || __builtin_mul_overflow(h, 10, &h) || __builtin_add_overflow(h, uint64_t(c - '0'), &h))
      return std::nullopt;
  }
  return h;
}

}  // namespace

Result<std::vector<Info>> List(const std::string& datadir) {
  std::vector<Info> out;
  std::string dir = SnapshotDir(datadir);
  std::error_code ec;
  if (!fs::exists(dir, ec)) return out;
  std::vector<std::pair<uint64_t, std::string>> names;
  for (auto it = fs::directory_iterator(dir, ec); !ec && it != fs::directory_iterator(); it.increment(ec)) {
    std::string name = it->path().filename().string();
    if (auto h = HeightOfName(name); h && it->is_regular_file(ec)) names.emplace_back(*h, it->path().string());
  }
  if (ec) return Fail(ErrorCode::kIO, "unable to list '" + dir + "': " + ec.message());
  std::sort(names.begin(), names.end());
  for (const auto& [h, p] : names) {
    auto info = ReadInfo(p);
    if (info && info->height == h) out.push_back(std::move(*info));
  }
  return out;
}

Status Prune(const std::string& datadir, size_t keep) {
  auto list = List(datadir);
  if (!list) return std::unexpected(list.error());
  if (list->size() <= keep) return Ok();
  for (size_t i = 0; i + keep < list->size(); ++i)
    if (::unlink((*list)[i].path.c_str()) != 0) return IOError("unable to remove", (*list)[i].path);
  return Ok();
}

}  // namespace gtos::snapshot
