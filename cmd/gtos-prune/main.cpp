// gtos-prune: offline pruning of a stopped node's data directory
// (man/gtos-prune.1, docs/storage.md "Pruning").
//
// The work is Chain::PruneHistory (batched, resumable deletion of bodies,
// receipts and tx-index entries below the retention window) followed by
// Chain::CompactAll (which frees their bytes and those of expired state).
// This file only parses flags, refuses a directory a running node holds,
// measures the disk before and after, and prints the report.
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <filesystem>
#include <optional>

#include <CLI/CLI.hpp>

#include "chain/chain.h"
#include "cli/record_io.h"
#include "cli/progress.h"
#include "cli/tool.h"
#include "types/json.h"

namespace gtos::prune {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

// Bytes the files under `dir` occupy on disk (allocated blocks, not
// apparent sizes: what `du` shows and what pruning gives back).
uint64_t DiskBytes(const fs::path& dir) {
  uint64_t total = 0;
  std::error_code ec;
  for (fs::recursive_directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    struct stat st{};
    if (::lstat(it->path().c_str(), &st) == 0 && S_ISREG(st.st_mode))
      total += static_cast<uint64_t>(st.st_blocks) * 512;
  }
  return total;
}

double Seconds(Clock::time_point since) { return std::chrono::duration<double>(Clock::now() - since).count(); }

struct Report {
  std::string datadir;
  bool dry_run = false;
  uint64_t head = 0;
  uint64_t retain_blocks = 0;
  bool node_window = false;  // no --retain-blocks: Chain::RetentionStart
  chain::Chain::PruneReport prune;
  double delete_seconds = 0;
  double compact_seconds = 0;
  uint64_t db_bytes_before = 0;
  uint64_t db_bytes_after = 0;

  double RecordsPerSecond() const { return delete_seconds > 0 ? prune.records / delete_seconds : 0; }

  Json ToJson() const {
    Json j;
    j["datadir"] = datadir;
    j["dry_run"] = dry_run;
    j["head"] = head;
    j["retain_blocks"] = retain_blocks;
    j["oldest_before"] = prune.oldest_before;
    j["oldest_after"] = prune.oldest_after;
    j["heights"] = prune.heights;
    j["records"] = prune.records;
    j["approx_bytes"] = prune.bytes;
    j["delete_seconds"] = delete_seconds;
    j["records_per_second"] = static_cast<uint64_t>(RecordsPerSecond());
    j["compact_seconds"] = compact_seconds;
    j["db_bytes_before"] = db_bytes_before;
    j["db_bytes_after"] = db_bytes_after;
    return j;
  }

  std::vector<std::string> ToText() const {
    std::vector<std::string> out;
    auto line = [&out](const char* fmt, auto... args) {
      char buf[512];
      std::snprintf(buf, sizeof buf, fmt, args...);
      out.emplace_back(buf);
    };
    const auto& p = prune;
    std::string keeping = node_window ? "keeping the node's window: the last " + std::to_string(retain_blocks) +
                                            " blocks and those after the second-newest snapshot height"
                                      : "keeping the last " + std::to_string(retain_blocks) + " blocks";
    if (p.heights == 0) {
      line("nothing to prune in '%s': head %" PRIu64 ", oldest available height %" PRIu64 ", %s",
           datadir.c_str(), head, p.oldest_before, keeping.c_str());
      line("disk use of %s/db: %" PRIu64 " bytes", datadir.c_str(), db_bytes_before);
      return out;
    }
    uint64_t cut = p.oldest_before + p.heights;  // the new oldest available height
    line("%s heights %" PRIu64 "-%" PRIu64 " of '%s' (head %" PRIu64 ", %s)",
         dry_run ? "dry run: would prune" : "pruned", p.oldest_before, cut - 1, datadir.c_str(), head,
         keeping.c_str());
    if (dry_run) {
      line("would delete %" PRIu64 " records of %" PRIu64 " heights (about %" PRIu64 " bytes before compaction)",
           p.records, p.heights, p.bytes);
      line("oldest available height would be %" PRIu64 " (now %" PRIu64 ")", cut, p.oldest_before);
      line("disk use of %s/db: %" PRIu64 " bytes (nothing was changed)", datadir.c_str(), db_bytes_before);
      return out;
    }
    line("deleted %" PRIu64 " records of %" PRIu64 " heights in %.2f s (%.0f records/s)", p.records, p.heights,
         delete_seconds, RecordsPerSecond());
    line("oldest available height: %" PRIu64 " (was %" PRIu64 ")", p.oldest_after, p.oldest_before);
    line("compacted the database in %.2f s", compact_seconds);
    int64_t freed = static_cast<int64_t>(db_bytes_before) - static_cast<int64_t>(db_bytes_after);
    line("disk use of %s/db: %" PRIu64 " bytes before, %" PRIu64 " bytes after (%" PRId64 " freed)",
         datadir.c_str(), db_bytes_before, db_bytes_after, freed);
    return out;
  }
};

class Prune : public cli::Command {
 public:
  std::string_view name() const override { return ""; }
  std::string_view help() const override { return "Prune a stopped node's data directory"; }
  void Setup(CLI::App& app) override {
    app.add_option("--datadir", datadir_, "Data directory of a stopped node")->type_name("D")->required();
    app.add_option("--retain-blocks", retain_, "Keep the history of the last N blocks (default: the node's window, see the man page)")
        ->type_name("N");
    app.add_flag("--dry-run", dry_run_, "Report what would be deleted; change nothing");
    app.add_flag("--json", json_, "Print the report as one JSON object");
  }

  Status Run() override {
    if (retain_ && *retain_ == 0)
      return cli::UsageError("--retain-blocks must be at least 1", "the head's block is always kept");
    std::error_code ec;
    if (!fs::is_directory(datadir_, ec))
      return Fail(ErrorCode::kNotFound, "data directory '" + datadir_ + "' does not exist");
    chain::ChainOptions co;
    co.datadir = datadir_;
    // Deletions of a long history stay in one memtable instead of forcing
    // flushes (and level-0 write stalls) while they are written.
    co.write_buffer_bytes = 256 << 20;
    auto opened = chain::Chain::Open(co);
    if (!opened) return std::unexpected(Refusal(opened.error()));
    chain::Chain& c = **opened;

    Report rep;
    rep.datadir = datadir_;
    rep.dry_run = dry_run_;
    rep.head = c.height();
    rep.retain_blocks = retain_ ? *retain_ : c.params().retain_blocks;
    rep.node_window = !retain_;
    if (rep.retain_blocks == 0) rep.retain_blocks = 1;  // as the node does
    const fs::path db = fs::path(datadir_) / "db";
    rep.db_bytes_before = DiskBytes(db);

    cli::Progress progress("deleted", "heights");
    auto start = Clock::now();
    // Without --retain-blocks: the node's own window (which also keeps the
    // blocks after the second-newest snapshot height, for state sync).
    auto pruned = c.PruneHistory(retain_ ? rep.retain_blocks : 0, dry_run_,
                                 progress.Callback());
    rep.delete_seconds = Seconds(start);
    progress.Done();
    if (!pruned) return std::unexpected(pruned.error());
    rep.prune = *pruned;
    if (!dry_run_ && rep.prune.heights > 0) {
      progress.Phase("compacting the database");
      start = Clock::now();
      c.CompactAll();
      rep.compact_seconds = Seconds(start);
    }
    opened->reset();  // close the database before measuring it
    rep.db_bytes_after = dry_run_ ? rep.db_bytes_before : DiskBytes(db);
    return Print(rep);
  }

 private:
  // A held LevelDB lock means a running node: say so, naming the directory.
  Error Refusal(Error e) const {
    if (e.message.find("in use by another process") == std::string::npos) return e;
    return Error{ErrorCode::kIO, "'" + datadir_ + "' is in use by a running gtos-node; stop it first",
                 "nothing was changed; run gtos-prune again once the node has stopped"};
  }

  Status Print(const Report& rep) const {
    cli::Output out;
    GTOS_TRY(out.Open("", cli::OutputKind::kText));
    if (json_) {
      GTOS_TRY(out.WriteLine(rep.ToJson().dump()));
    } else {
      for (const std::string& l : rep.ToText()) GTOS_TRY(out.WriteLine(l));
    }
    return out.Commit();
  }

  std::string datadir_;
  std::optional<uint64_t> retain_;
  bool dry_run_ = false;
  bool json_ = false;
};

}  // namespace
}  // namespace gtos::prune

int main(int argc, char** argv) {
  static gtos::prune::Prune prune;
  static const gtos::cli::ToolSpec spec{
      "gtos-prune",
      "Delete old block bodies, receipts and tx-index entries from a stopped node's data directory,\n"
      "keeping the last N blocks, then compact the database to free the disk space.",
      "Examples:\n"
      "  gtos-prune --datadir /var/lib/gtos --dry-run\n"
      "  gtos-prune --datadir /var/lib/gtos --retain-blocks 1000\n"
      "  gtos-prune --datadir /var/lib/gtos --json\n"
      "Headers, commit certificates, validator-set history and state are kept.\n"
      "Exit status: 0 success, 1 failure, 2 usage error.",
      {},
      &prune};
  return gtos::cli::RunTool(spec, argc, argv);
}
