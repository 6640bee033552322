// Data-directory schema migrations (docs/upgrades.md "Schema migrations").
//
// A data directory records its database schema version in M "format"
// (lib/state/schema.h). A build reads exactly one version; `gtos-node
// migrate` brings an older directory up to it by numbered steps, each a
// function from version N to N + 1, run in order.
//
// Crash safety: a step writes only storage that version N ignores, in
// batches, and the format key is written last, in its own synced write,
// after everything the step wrote is durable. A step must be restartable
// from any partial state: the first thing a step does is remove whatever a
// killed earlier attempt may have left. So a crash mid-step leaves version
// N (readable by the old build, ignored leftovers) and the next `migrate`
// redoes the step from the start; a crash between steps leaves version
// N + 1 and the next `migrate` goes on from there.
//
// Steps never touch the state tables (schema::IsStateKey): the state root
// and the accumulator are the same before and after.
//
// Thread safety: Migrate opens the database itself, so LevelDB's lock
// refuses it while a node (or another tool) holds the directory.
#ifndef GTOS_CHAIN_MIGRATE_H_
#define GTOS_CHAIN_MIGRATE_H_

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "state/store.h"
#include "util/status.h"

namespace gtos::chain {

// What one step did (or, dry run, would do).
struct StepReport {
  uint64_t from = 0;  // the step takes version `from` to from + 1
  std::string name;
  std::string summary;  // one line: what the step did or would do
  uint64_t entries = 0;  // database entries written (or that would be)
};

struct MigrateReport {
  uint64_t from = 0;  // the version found
  uint64_t to = 0;    // the version left (from when dry_run or nothing to do)
  std::vector<StepReport> steps;
};

// One migration step. run(store, dry_run, log) does the step's work (not
// the format key) and reports it; it must never touch a state key.
struct MigrationStep {
  uint64_t from = 0;
  std::string_view name;
  std::string_view description;  // for --help and docs: what it changes
  Result<StepReport> (*run)(state::Store& store, bool dry_run, const std::function<void(std::string_view)>& log) =
      nullptr;
};

// The steps, ordered by `from`: from kOldestMigratable to kSchemaVersion - 1.
const std::vector<MigrationStep>& MigrationSteps();

struct MigrateOptions {
  std::string datadir;
  bool dry_run = false;  // report the steps; change nothing
  // Called with one line per event (step start, progress, step end).
  std::function<void(std::string_view)> log;
};

// Migrates the data directory to schema::kSchemaVersion. Fails with kInvalid
// and a hint for a version no step reaches (older than kOldestMigratable,
// newer than this build, or missing), kIO when the directory is in use.
Result<MigrateReport> Migrate(const MigrateOptions& options);
// The same on an open store (tests, and Migrate itself).
Result<MigrateReport> MigrateStore(state::Store& store, const std::string& datadir, bool dry_run,
                                   const std::function<void(std::string_view)>& log);
// The version recorded in the store's format key; 0 when absent.
Result<uint64_t> ReadSchemaVersion(const state::Store& store);

}  // namespace gtos::chain

#endif  // GTOS_CHAIN_MIGRATE_H_
