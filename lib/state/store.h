// The node's key-value store: LevelDB behind a small interface, so that the
// layers above never include LevelDB headers.
//
// Thread safety: Get, Scan and Write may be called concurrently (LevelDB's
// guarantees); a WriteBatch is not thread-safe.
#ifndef GTOS_STATE_STORE_H_
#define GTOS_STATE_STORE_H_

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "util/status.h"

namespace gtos::state {

struct StoreOptions {
  std::string path;
  bool create_if_missing = false;
  bool error_if_exists = false;
  size_t block_cache_bytes = 64 << 20;
  size_t write_buffer_bytes = 64 << 20;
  // fsync every committed batch (a block); off only for tests and benches.
  bool sync = true;
  bool compress = true;  // snappy block compression
};

class WriteBatch {
 public:
  WriteBatch();
  ~WriteBatch();
  WriteBatch(WriteBatch&&) noexcept;
  WriteBatch& operator=(WriteBatch&&) noexcept;
  void Put(std::string_view key, std::string_view value);
  void Delete(std::string_view key);
  size_t ApproximateSize() const;

 private:
  friend class Store;
  struct Rep;
  std::unique_ptr<Rep> rep_;
};

// A consistent read-only view of the store at one point in time (a LevelDB
// snapshot): later writes are invisible to it. Must not outlive its Store.
class ReadView {
 public:
  ~ReadView();
  Result<std::optional<std::string>> Get(std::string_view key) const;
  // Like Store::Scan, over the view.
  Status Scan(std::string_view prefix,
              const std::function<bool(std::string_view key, std::string_view value)>& fn) const;

 private:
  friend class Store;
  struct Rep;
  explicit ReadView(std::unique_ptr<Rep> rep);
  std::unique_ptr<Rep> rep_;
};

class Store {
 public:
  // Opens the database at options.path. A database held by another process
  // fails with a kIO error that says so.
  static Result<std::unique_ptr<Store>> Open(const StoreOptions& options);
  ~Store();

  Result<std::optional<std::string>> Get(std::string_view key) const;
  // Calls fn(key, value) for each key starting with `prefix`, in key order,
  // until fn returns false.
  Status Scan(std::string_view prefix,
              const std::function<bool(std::string_view key, std::string_view value)>& fn) const;
  // A view of the store as it is now (cheap; pins old files until destroyed).
  std::unique_ptr<ReadView> NewReadView() const;
  // Calls fn(key, value) for each key in [begin, end), in key order, until
  // fn returns false.
  Status ScanRange(std::string_view begin, std::string_view end,
                   const std::function<bool(std::string_view key, std::string_view value)>& fn) const;
  // Applies the batch atomically (and durably when options.sync).
  Status Write(WriteBatch& batch);
  // Like Write but never fsyncs (bulk loads that end with a synced Write).
  Status WriteUnsynced(WriteBatch& batch);
  // Compacts the key range [begin, end) ("" = open end).
  void CompactRange(std::string_view begin, std::string_view end);
  // Approximate bytes on disk of the key range [begin, end).
  uint64_t ApproximateSize(std::string_view begin, std::string_view end) const;

 private:
  struct Rep;
  explicit Store(std::unique_ptr<Rep> rep);
  std::unique_ptr<Rep> rep_;
};

}  // namespace gtos::state

#endif  // GTOS_STATE_STORE_H_
