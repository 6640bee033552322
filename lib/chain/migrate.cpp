#include "chain/migrate.h"

#include <algorithm>
#include <filesystem>

#include "chain/chain.h"
#include "state/schema.h"
#include "types/records.h"

namespace gtos::chain {

namespace schema = state::schema;

namespace {

// Entries per unsynced batch of a step (bounded memory whatever the chain's
// length); the step's last write and the format key are synced.
constexpr uint64_t kBatchEntries = 4096;

void Say(const std::function<void(std::string_view)>& log, const std::string& line) {
  if (log) log(line);
}

Result<uint64_t> ReadU64Meta(const state::Store& store, std::string_view name, uint64_t absent) {
  auto v = store.Get(schema::MetaKey(name));
  if (!v) return std::unexpected(v.error());
  if (!*v) return absent;
  if ((*v)->size() != 8) return Fail(ErrorCode::kInternal, "corrupt metadata '" + std::string(name) + "' in database");
  return schema::ReadBE64(**v);
}

// 5 -> 6: the block-hash index (N block_hash -> u64 height) of every block
// whose body is stored, [oldest_body, head], built from the stored headers.
// Any N entry already present is first deleted (what a killed attempt, or
// the index of a directory that a schema-5 build then pruned, leaves), so
// the step is restartable from any partial state.
Result<StepReport> BuildBlockIndex(state::Store& store, bool dry_run,
                                   const std::function<void(std::string_view)>& log) {
  StepReport rep;
  auto head = ReadU64Meta(store, schema::kMetaHead, UINT64_MAX);
  if (!head) return std::unexpected(head.error());
  if (*head == UINT64_MAX) return Fail(ErrorCode::kInternal, "database has no head");
  // The oldest body as Chain::Open finds it: recorded, else the first B key.
  auto oldest = ReadU64Meta(store, schema::kMetaOldestBody, 0);
  if (!oldest) return std::unexpected(oldest.error());
  if (*oldest == 0) {
    *oldest = *head + 1;
    GTOS_TRY(store.Scan(std::string(1, schema::kBody), [&](std::string_view k, std::string_view) {
      *oldest = schema::ReadBE64(k.substr(1));
      return false;
    }));
  }
  uint64_t first = std::max<uint64_t>(1, *oldest);

  // A dry run counts and keeps nothing: its memory is bounded too.
  state::WriteBatch b;
  uint64_t pending = 0, stale = 0, indexed = 0;
  Status inner = Ok();
  auto flush = [&]() -> Status {
    if (dry_run || pending == 0) return Ok();
    pending = 0;
    Status st = store.WriteUnsynced(b);
    b = state::WriteBatch();
    return st;
  };
  GTOS_TRY(store.Scan(std::string(1, schema::kBlockIndex), [&](std::string_view k, std::string_view) {
    if (!dry_run) b.Delete(k);
    ++stale;
    if (++pending >= kBatchEntries) inner = flush();
    return inner.has_value();
  }));
  GTOS_TRY(inner);
  if (stale) Say(log, "  removing " + std::to_string(stale) + " block-index entries left by an earlier attempt");
  if (first <= *head) {
    GTOS_TRY(store.ScanRange(
        schema::HeightKey(schema::kHeader, first), schema::HeightKey(schema::kHeader, *head + 1),
        [&](std::string_view k, std::string_view v) {
          auto hd = DecodeRecord<BlockHeader>(AsBytes(v));
          if (!hd) {
            inner = Fail(ErrorCode::kInternal, "corrupt block header " +
                                                   std::to_string(schema::ReadBE64(k.substr(1))) +
                                                   " in database: " + hd.error().message);
            return false;
          }
          if (!dry_run) {
            std::string at;
            schema::AppendBE64(&at, hd->height);
            b.Put(schema::BlockIndexKey(hd->Hash()), at);
          }
          ++indexed;
          if (++pending >= kBatchEntries) {
            inner = flush();
            if (inner && !dry_run && indexed % (16 * kBatchEntries) == 0)
              Say(log, "  indexed " + std::to_string(indexed) + " blocks");
          }
          return inner.has_value();
        }));
    GTOS_TRY(inner);
  }
  GTOS_TRY(flush());
  uint64_t expect = first <= *head ? *head - first + 1 : 0;
  if (indexed != expect)
    return Fail(ErrorCode::kInternal, "database has " + std::to_string(indexed) + " headers in [" +
                                          std::to_string(first) + ", " + std::to_string(*head) + "], expected " +
                                          std::to_string(expect));
  rep.entries = indexed + stale;
  std::string range = indexed ? " (heights " + std::to_string(first) + ".." + std::to_string(*head) + ")" : "";
  rep.summary = (dry_run ? "would index " : "indexed ") + std::to_string(indexed) + " block hashes" + range;
  if (stale) rep.summary += (dry_run ? ", would remove " : ", removed ") + std::to_string(stale) + " stale entries";
  return rep;
}

std::string Be64(uint64_t v) {
  std::string s;
  schema::AppendBE64(&s, v);
  return s;
}

// Why a version has no migration, and what the operator does instead.
std::unexpected<Error> NoPath(uint64_t version, const std::string& datadir) {
  std::string what = "'" + datadir + "' has database schema version " + std::to_string(version);
  if (version == 0)
    return Fail(ErrorCode::kInvalid, what + " (no format key): not a gtos-node data directory, or a corrupt one",
                "check --datadir; a directory made by 'gtos-node init' always records its version");
  if (version > schema::kSchemaVersion)
    return Fail(ErrorCode::kInvalid,
                what + ", newer than this build's " + std::to_string(schema::kSchemaVersion),
                "run the newer gtos-node that wrote it: schemas are never downgraded");
  return Fail(ErrorCode::kInvalid,
              what + ", and no migration starts below version " + std::to_string(kOldestMigratable) +
                  ": " + std::string(kNoMigrationReason) + ", so a version " +
                  std::to_string(version) + " chain's blocks do not execute to the state roots of a version " +
                  std::to_string(kOldestMigratable) + " chain",
              "the network moved on with a new genesis: initialise a new data directory from it "
              "('gtos-node init') and sync it, or restore a snapshot (docs/upgrades.md \"Schema 4\")");
}

}  // namespace

const std::vector<MigrationStep>& MigrationSteps() {
  static const std::vector<MigrationStep> steps = {
      {5, "block-hash-index",
       "builds the N table (block hash -> height) from the stored headers of the blocks whose bodies are kept",
       BuildBlockIndex},
  };
  return steps;
}

Result<uint64_t> ReadSchemaVersion(const state::Store& store) {
  return ReadU64Meta(store, schema::kMetaFormat, 0);
}

Result<MigrateReport> MigrateStore(state::Store& store, const std::string& datadir, bool dry_run,
                                   const std::function<void(std::string_view)>& log) {
  auto version = ReadSchemaVersion(store);
  if (!version) return std::unexpected(version.error());
  MigrateReport rep;
  rep.from = rep.to = *version;
  if (*version == schema::kSchemaVersion) return rep;
  if (*version < kOldestMigratable || *version > schema::kSchemaVersion) return NoPath(*version, datadir);
  for (uint64_t v = *version; v < schema::kSchemaVersion; ++v) {
    const auto& steps = MigrationSteps();
    auto it = std::find_if(steps.begin(), steps.end(), [v](const MigrationStep& s) { return s.from == v; });
    if (it == steps.end()) return Fail(ErrorCode::kInternal, "no migration step from version " + std::to_string(v));
    Say(log, (dry_run ? "would run step " : "step ") + std::to_string(v) + " -> " + std::to_string(v + 1) + " (" +
                 std::string(it->name) + "): " + std::string(it->description));
    auto step = it->run(store, dry_run, log);
    if (!step) return std::unexpected(Wrap(step.error(), "migration step " + std::to_string(v) + " -> " +
                                                            std::to_string(v + 1)));
    step->from = v;
    step->name = std::string(it->name);
    if (!dry_run) {
      // Last, and synced: it also makes the step's unsynced batches durable.
      state::WriteBatch b;
      b.Put(schema::MetaKey(schema::kMetaFormat), Be64(v + 1));
      GTOS_TRY(store.Write(b));
      rep.to = v + 1;
    }
    Say(log, "  " + step->summary + (dry_run ? "" : "; schema version is now " + std::to_string(v + 1)));
    rep.steps.push_back(std::move(*step));
  }
  return rep;
}

Result<MigrateReport> Migrate(const MigrateOptions& options) {
  std::error_code ec;
  if (!std::filesystem::exists(options.datadir + "/db", ec))
    return Fail(ErrorCode::kNotFound, "'" + options.datadir + "' is not an initialised data directory",
                "check --datadir: it must be a data directory made by 'gtos-node init'");
  state::StoreOptions so;
  so.path = options.datadir + "/db";
  so.create_if_missing = false;
  so.sync = true;
  auto store = state::Store::Open(so);
  if (!store) {
    Error e = store.error();
    if (e.hint.empty())
      e.hint = "stop the node (or tool) using '" + options.datadir + "' first";
    return std::unexpected(e);
  }
  return MigrateStore(**store, options.datadir, options.dry_run, options.log);
}

}  // namespace gtos::chain
