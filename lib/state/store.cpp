#include "state/store.h"

#include <leveldb/cache.h>
#include <leveldb/db.h>
#include <leveldb/filter_policy.h>
#include <leveldb/write_batch.h>

#include "util/file.h"

namespace gtos::state {

struct WriteBatch::Rep {
  leveldb::WriteBatch batch;
};

WriteBatch::WriteBatch() : rep_(std::make_unique<Rep>()) {}
WriteBatch::~WriteBatch() = default;
WriteBatch::WriteBatch(WriteBatch&&) noexcept = default;
WriteBatch& WriteBatch::operator=(WriteBatch&&) noexcept = default;
void WriteBatch::Put(std::string_view key, std::string_view value) {
  rep_->batch.Put(leveldb::Slice(key.data(), key.size()), leveldb::Slice(value.data(), value.size()));
}
void WriteBatch::Delete(std::string_view key) { rep_->batch.Delete(leveldb::Slice(key.data(), key.size())); }
size_t WriteBatch::ApproximateSize() const { return rep_->batch.ApproximateSize(); }

struct Store::Rep {
  std::unique_ptr<leveldb::Cache> cache;
  std::unique_ptr<const leveldb::FilterPolicy> filter;
  std::unique_ptr<leveldb::DB> db;
  bool sync = true;
};

Store::Store(std::unique_ptr<Rep> rep) : rep_(std::move(rep)) {}
Store::~Store() {
  if (rep_) rep_->db.reset();  // before the cache and filter it uses
}

static Error FromLevelDb(const leveldb::Status& s, const std::string& what) {
  std::string msg = s.ToString();
  if (msg.find("lock") != std::string::npos)
    return Error{ErrorCode::kIO, what + ": the database is in use by another process (" + msg + ")",
                 "stop the running gtos-node that uses this data directory"};
  return Error{s.IsNotFound() ? ErrorCode::kNotFound : ErrorCode::kIO, what + ": " + msg, ""};
}

Result<std::unique_ptr<Store>> Store::Open(const StoreOptions& options) {
  auto rep = std::make_unique<Rep>();
  rep->cache.reset(leveldb::NewLRUCache(options.block_cache_bytes));
  rep->filter.reset(leveldb::NewBloomFilterPolicy(10));
  rep->sync = options.sync;
  leveldb::Options o;
  o.create_if_missing = options.create_if_missing;
  o.error_if_exists = options.error_if_exists;
  o.block_cache = rep->cache.get();
  o.filter_policy = rep->filter.get();
  o.write_buffer_size = options.write_buffer_bytes;
  o.max_file_size = 32 << 20;
  if (!options.compress) o.compression = leveldb::kNoCompression;
  // A new database directory is private (0700), whatever the umask;
  // LevelDB would make it 0755.
  if (options.create_if_missing) GTOS_TRY(MakeDirs(options.path, 0700));
  leveldb::DB* db = nullptr;
  leveldb::Status s = leveldb::DB::Open(o, options.path, &db);
  if (!s.ok()) return std::unexpected(FromLevelDb(s, "unable to open database '" + options.path + "'"));
  rep->db.reset(db);
  return std::unique_ptr<Store>(new Store(std::move(rep)));
}

Result<std::optional<std::string>> Store::Get(std::string_view key) const {
  std::string value;
  leveldb::Status s = rep_->db->Get(leveldb::ReadOptions(), leveldb::Slice(key.data(), key.size()), &value);
  if (s.IsNotFound()) return std::optional<std::string>();
  if (!s.ok()) return std::unexpected(FromLevelDb(s, "database read failed"));
  return std::optional<std::string>(std::move(value));
}


struct ReadView::Rep {
  leveldb::DB* db = nullptr;
  const leveldb::Snapshot* snapshot = nullptr;
};

ReadView::ReadView(std::unique_ptr<Rep> rep) : rep_(std::move(rep)) {}
ReadView::~ReadView() {
  if (rep_ && rep_->snapshot) rep_->db->ReleaseSnapshot(rep_->snapshot);
}

std::unique_ptr<ReadView> Store::NewReadView() const {
  auto rep = std::make_unique<ReadView::Rep>();
  rep->db = rep_->db.get();
  rep->snapshot = rep_->db->GetSnapshot();
  return std::unique_ptr<ReadView>(new ReadView(std::move(rep)));
}

Result<std::optional<std::string>> ReadView::Get(std::string_view key) const {
  leveldb::ReadOptions ro;
  ro.snapshot = rep_->snapshot;
  std::string value;
  leveldb::Status s = rep_->db->Get(ro, leveldb::Slice(key.data(), key.size()), &value);
  if (s.IsNotFound()) return std::optional<std::string>();
  if (!s.ok()) return std::unexpected(FromLevelDb(s, "database read failed"));
  return std::optional<std::string>(std::move(value));
}




// Calls fn(key, value) from `start` in key order while in_range(key), until
// fn returns false; reads `snapshot` (nullptr: the current state).
static Status Iterate(leveldb::DB* db, const leveldb::Snapshot* snapshot, std::string_view start,
                      const std::function<bool(const leveldb::Slice&)>& in_range,
                      const std::function<bool(std::string_view, std::string_view)>& fn) {
  leveldb::ReadOptions ro;
  ro.snapshot = snapshot;
  ro.fill_cache = false;
  std::unique_ptr<leveldb::Iterator> it(db->NewIterator(ro));
  for (it->Seek(leveldb::Slice(start.data(), start.size())); it->Valid() && in_range(it->key()); it->Next()) {
    if (!fn(std::string_view(it->key().data(), it->key().size()),
            std::string_view(it->value().data(), it->value().size())))
      break;
  }
  if (!it->status().ok()) return std::unexpected(FromLevelDb(it->status(), "database scan failed"));
  return Ok();
}

static std::function<bool(const leveldb::Slice&)> WithPrefix(std::string_view prefix) {
  return [p = leveldb::Slice(prefix.data(), prefix.size())](const leveldb::Slice& k) { return k.starts_with(p); };
}

Status Store::Scan(std::string_view prefix,
                   const std::function<bool(std::string_view, std::string_view)>& fn) const {
  return Iterate(rep_->db.get(), nullptr, prefix, WithPrefix(prefix), fn);
}

Status Store::ScanRange(std::string_view begin, std::string_view end,
                        const std::function<bool(std::string_view, std::string_view)>& fn) const {
  leveldb::Slice e(end.data(), end.size());
  return Iterate(rep_->db.get(), nullptr, begin, [e](const leveldb::Slice& k) { return k.compare(e) < 0; }, fn);
}

Status ReadView::Scan(std::string_view prefix,
                      const std::function<bool(std::string_view, std::string_view)>& fn) const {
  return Iterate(rep_->db, rep_->snapshot, prefix, WithPrefix(prefix), fn);
}

Status Store::Write(WriteBatch& batch) {
  leveldb::WriteOptions wo;
  wo.sync = rep_->sync;
  leveldb::Status s = rep_->db->Write(wo, &batch.rep_->batch);
  if (!s.ok()) return std::unexpected(FromLevelDb(s, "database write failed"));
  return Ok();
}

Status Store::WriteUnsynced(WriteBatch& batch) {
  leveldb::Status s = rep_->db->Write(leveldb::WriteOptions(), &batch.rep_->batch);
  if (!s.ok()) return std::unexpected(FromLevelDb(s, "database write failed"));
  return Ok();
}

void Store::CompactRange(std::string_view begin, std::string_view end) {
  leveldb::Slice b(begin.data(), begin.size()), e(end.data(), end.size());
  rep_->db->CompactRange(begin.empty() ? nullptr : &b, end.empty() ? nullptr : &e);
}

uint64_t Store::ApproximateSize(std::string_view begin, std::string_view end) const {
  leveldb::Range r(leveldb::Slice(begin.data(), begin.size()), leveldb::Slice(end.data(), end.size()));
  uint64_t size = 0;
  rep_->db->GetApproximateSizes(&r, 1, &size);
  return size;
}

}  // namespace gtos::state
