// gtos-snapshot: create, list, inspect, verify and restore state snapshots
// (man/gtos-snapshot.1, docs/snapshots.md). Each subcommand is a thin layer
// over lib/chain/snapshot.h; what is here is the command-line contract:
// which flags, what goes to stdout, when a data directory may be touched,
// and that a failed run leaves nothing behind.
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>

#include <CLI/CLI.hpp>

#include "chain/chain.h"
#include "chain/snapshot.h"
#include "cli/record_io.h"
#include "cli/progress.h"
#include "cli/tool.h"
#include "types/json.h"
#include "types/records.h"
#include "util/file.h"

namespace gtos::snapcmd {

namespace {

namespace fs = std::filesystem;

std::string Quote(const std::string& path) { return "'" + path + "'"; }

Result<Genesis> ReadGenesis(const std::string& path) {
  auto rec = cli::ReadOneRecord(path);
  if (!rec) return std::unexpected(rec.error());
  auto* g = std::get_if<Genesis>(&*rec);
  if (!g)
    return Invalid(Quote(path) + " holds a " + std::string(TypeNameOf(*rec)) + " record, not a genesis");
  return std::move(*g);
}

// Names the file in an error that does not already name it.
Error InFile(Error e, const std::string& path) {
  if (e.message.find(path) != std::string::npos) return e;
  return Wrap(std::move(e), Quote(path));
}

Status CheckDataDir(const std::string& datadir) {
  std::error_code ec;
  if (!fs::is_directory(datadir, ec))
    return Fail(ErrorCode::kNotFound, "data directory " + Quote(datadir) + " does not exist");
  if (!fs::exists(fs::path(datadir) / "db", ec))
    return Fail(ErrorCode::kNotFound, Quote(datadir) + " is not a data directory (it has no db/)",
                "initialise one with 'gtos-node init' or 'gtos-snapshot restore'");
  return Ok();
}

// Fails early, with a plain message, when FILE's directory is missing.
Status CheckOutputDir(const std::string& path) {
  fs::path parent = fs::path(path).parent_path();
  std::error_code ec;
  if (parent.empty() || fs::is_directory(parent, ec)) return Ok();
  return Fail(ErrorCode::kNotFound,
              "unable to write " + Quote(path) + ": directory " + Quote(parent.string()) + " does not exist");
}

// Copies the file at `from` to `out` (a file: atomically, on Commit).
Status CopyInto(const std::string& from, AtomicOutput& out) {
  std::ifstream in(from, std::ios::binary);
  if (!in) return Fail(ErrorCode::kIO, "unable to open " + Quote(from) + ": " + std::strerror(errno));
  std::vector<char> buf(1 << 20);
  while (in) {
    in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    auto n = static_cast<size_t>(in.gcount());
    if (n) GTOS_TRY(out.Write(ByteView(reinterpret_cast<const uint8_t*>(buf.data()), n)));
  }
  if (in.bad()) return Fail(ErrorCode::kIO, "unable to read " + Quote(from));
  return Ok();
}

Status CopyFile(const std::string& from, const std::string& to) {
  AtomicOutput out;
  GTOS_TRY(out.Open(to, 0644));
  GTOS_TRY(CopyInto(from, out));
  return out.Commit();
}

Json InfoJson(const snapshot::Info& i) {
  return Json{{"height", i.height},
              {"hash", ToHex0x(i.hash)},
              {"block_hash", ToHex0x(i.block_hash)},
              {"state_root", ToHex0x(i.state_root)},
              {"chunks", i.chunks},
              {"entries", i.entries},
              {"bytes", i.file_bytes},
              {"path", i.path}};
}

std::string InfoLine(const snapshot::Info& i) {
  return std::to_string(i.height) + " " + ToHex0x(i.hash) + " " + std::to_string(i.chunks) + " " +
         std::to_string(i.entries) + " " + std::to_string(i.file_bytes);
}

// ---- create ------------------------------------------------------------------

class CreateCmd : public cli::Command {
 public:
  std::string_view name() const override { return "create"; }
  std::string_view help() const override {
    return "Write a snapshot of a stopped node's head (or copy a kept one) to a file";
  }
  void Setup(CLI::App& app) override {
    app.add_option("--datadir", datadir_, "Data directory of a stopped node")->type_name("D")->required();
    app.add_option("--height", height_, "Copy the snapshot of height H kept in D/snapshots instead")
        ->type_name("H");
    app.add_option("-o,--output", output_, "Snapshot file to write (\"-\": stdout, not a terminal)")
        ->type_name("FILE")
        ->required();
  }
  Status Run() override {
    if (output_ == "-" && ::isatty(1))
      return cli::UsageError("refusing to write a binary snapshot to a terminal",
                             "redirect standard output, or use -o FILE");
    GTOS_TRY(CheckDataDir(datadir_));
    std::string source;
    if (height_) {
      auto kept = KeptSnapshot(*height_);
      if (!kept) return std::unexpected(kept.error());
      source = std::move(*kept);
    }
    if (output_ == "-") return height_ ? CopyToStdout(source) : CreateToStdout();
    GTOS_TRY(CheckOutputDir(output_));
    if (height_) {
      GTOS_TRY(CopyFile(source, output_));
    } else {
      GTOS_TRY(CreateHead(output_));
    }
    auto info = snapshot::ReadInfo(output_);
    if (!info) return std::unexpected(InFile(info.error(), output_));
    std::printf("%s\n", InfoLine(*info).c_str());
    return Ok();
  }

 private:
  // The path of the kept snapshot of height h; the error lists the heights kept.
  Result<std::string> KeptSnapshot(uint64_t h) const {
    std::string path = snapshot::SnapshotPath(datadir_, h);
    std::error_code ec;
    if (fs::exists(path, ec)) {
      auto info = snapshot::ReadInfo(path);
      if (!info) return std::unexpected(InFile(info.error(), path));
      if (info->height != h) return Invalid(Quote(path) + " holds height " + std::to_string(info->height));
      return path;
    }
    std::string heights;
    if (auto kept = snapshot::List(datadir_); kept)
      for (const auto& i : *kept) heights += (heights.empty() ? "" : ", ") + std::to_string(i.height);
    return Fail(
        ErrorCode::kNotFound,
        "no snapshot of height " + std::to_string(h) + " in " + Quote(snapshot::SnapshotDir(datadir_)),
        heights.empty() ? "no snapshots are kept there; omit --height to snapshot the head"
                        : "heights kept: " + heights + "; or omit --height to snapshot the head");
  }

  Status CreateHead(const std::string& path) {
    chain::ChainOptions co;
    co.datadir = datadir_;
    auto c = chain::Chain::Open(co);
    if (!c) return std::unexpected(c.error());
    auto view = (*c)->store().NewReadView();
    cli::Progress meter("writing", "entries");
    auto st = snapshot::Create(*view, path, meter.Callback());
    meter.Done();
    return st;
  }

  Status CopyToStdout(const std::string& from) {
    AtomicOutput out;
    GTOS_TRY(out.Open("-"));
    GTOS_TRY(CopyInto(from, out));
    return out.Commit();
  }

  // Create() writes a file; write it in a private temporary directory, then
  // stream it out.
  Status CreateToStdout() {
    const char* tmp = std::getenv("TMPDIR");
    std::string tmpl = std::string(tmp && *tmp ? tmp : "/tmp") + "/gtos-snapshot.XXXXXX";
    if (!::mkdtemp(tmpl.data()))
      return Fail(ErrorCode::kIO,
                  "unable to create a temporary directory " + Quote(tmpl) + ": " + std::strerror(errno));
    std::string file = tmpl + "/snapshot.gsnap";
    Status st = CreateHead(file);
    if (st) st = CopyToStdout(file);
    std::error_code ec;
    fs::remove_all(tmpl, ec);
    return st;
  }

  std::string datadir_, output_;
  std::optional<uint64_t> height_;
};

// ---- list --------------------------------------------------------------------

class ListCmd : public cli::Command {
 public:
  std::string_view name() const override { return "list"; }
  std::string_view help() const override { return "List the snapshots kept in D/snapshots, oldest first"; }
  void Setup(CLI::App& app) override {
    app.add_option("--datadir", datadir_, "Data directory")->type_name("D")->required();
    app.add_flag("--json", json_, "Print JSON lines instead of text");
  }
  Status Run() override {
    GTOS_TRY(CheckDataDir(datadir_));
    auto kept = snapshot::List(datadir_);
    if (!kept) return std::unexpected(kept.error());
    for (const auto& i : *kept) std::printf("%s\n", (json_ ? InfoJson(i).dump() : InfoLine(i)).c_str());
    return Ok();
  }

 private:
  std::string datadir_;
  bool json_ = false;
};

// ---- info --------------------------------------------------------------------

class InfoCmd : public cli::Command {
 public:
  std::string_view name() const override { return "info"; }
  std::string_view help() const override {
    return "Print a snapshot file's manifest summary (chunks not checked)";
  }
  void Setup(CLI::App& app) override {
    app.add_option("FILE", file_, "Snapshot file")->required();
    app.add_flag("--json", json_, "Print a JSON line instead of text");
  }
  Status Run() override {
    auto m = snapshot::ReadManifest(file_);
    if (!m) return std::unexpected(InFile(m.error(), file_));
    std::error_code ec;
    uint64_t bytes = fs::file_size(file_, ec);
    if (ec) return Fail(ErrorCode::kIO, "unable to read " + Quote(file_) + ": " + ec.message());
    Json j{{"chain_id", m->chain_id},
           {"genesis_hash", ToHex0x(m->genesis_hash)},
           {"height", m->height},
           {"block_hash", ToHex0x(m->header.Hash())},
           {"state_root", ToHex0x(m->header.state_root)},
           {"hash", ToHex0x(m->Hash())},
           {"validators", SignerCount(*m)},
           {"epoch_proofs", m->epoch_proofs.size()},
           {"chunks", m->chunks.size()},
           {"entries", m->total_entries},
           {"bytes", bytes}};
    if (json_) {
      std::printf("%s\n", j.dump().c_str());
      return Ok();
    }
    for (const auto& [key, value] : j.items())
      std::printf("%-13s %s\n", key.c_str(),
                  value.is_string() ? value.get<std::string>().c_str() : value.dump().c_str());
    return Ok();
  }

 private:
  // Members of the set that signs the snapshot's header.
  static size_t SignerCount(const snapshot::Manifest& m) {
    size_t n = 0;
    for (const ActiveSet& s : m.set_history)
      if (s.first_height <= m.height) n = s.validators.size();
    return n;
  }

  std::string file_;
  bool json_ = false;
};

// ---- verify ------------------------------------------------------------------

class VerifyCmd : public cli::Command {
 public:
  std::string_view name() const override { return "verify"; }
  std::string_view help() const override {
    return "Check a snapshot file completely: chunks, state root, commit from genesis";
  }
  void Setup(CLI::App& app) override {
    app.add_option("FILE", file_, "Snapshot file")->required();
    app.add_option("--genesis", genesis_, "Require this genesis (default: the one in the file)")
        ->type_name("G");
  }
  Status Run() override {
    std::optional<Genesis> g;
    if (!genesis_.empty()) {
      auto r = ReadGenesis(genesis_);
      if (!r) return std::unexpected(r.error());
      g = std::move(*r);
    }
    cli::Progress meter("verifying", "entries");
    auto m = snapshot::Verify(file_, g ? &*g : nullptr, meter.Callback());
    meter.Done();
    if (!m) return std::unexpected(InFile(m.error(), file_));
    std::printf("ok height %llu state_root %s chunks %zu entries %llu\n",
                static_cast<unsigned long long>(m->height), ToHex0x(m->header.state_root).c_str(),
                m->chunks.size(), static_cast<unsigned long long>(m->total_entries));
    return Ok();
  }

 private:
  std::string file_, genesis_;
};

// ---- restore -----------------------------------------------------------------

std::atomic<int> g_signal{0};
void OnSignal(int sig) { g_signal.store(sig); }

class RestoreCmd : public cli::Command {
 public:
  std::string_view name() const override { return "restore"; }
  std::string_view help() const override { return "Build a new data directory from a snapshot file"; }
  void Setup(CLI::App& app) override {
    app.add_option("--datadir", datadir_, "Data directory to create (absent, empty, or left by an interrupted restore)")
        ->type_name("D")
        ->required();
    app.add_option("--genesis", genesis_, "The chain's genesis record")->type_name("G")->required();
    app.add_option("FILE", file_, "Snapshot file")->required();
  }
  Status Run() override {
    auto g = ReadGenesis(genesis_);
    if (!g) return std::unexpected(g.error());
    // A signal must not leave half a data directory: from before D is
    // created, note it, let the library finish or fail, then clean up.
    struct sigaction sa {};
    sa.sa_handler = OnSignal;
    sigemptyset(&sa.sa_mask);
    for (int sig : {SIGINT, SIGTERM, SIGHUP}) sigaction(sig, &sa, nullptr);
    std::error_code ec;
    bool existed = fs::exists(datadir_, ec);
    if (existed) {
      if (!fs::is_directory(datadir_, ec))
        return Fail(ErrorCode::kInvalid, Quote(datadir_) + " exists and is not a directory");
      GTOS_TRY(CheckRestorable());
    } else {
      GTOS_TRY(MakeDirs(datadir_, 0700));
    }
    auto m = RestoreAndRead(*g);
    if (!m) {
      RemoveRestored(existed);
      return std::unexpected(m.error());
    }
    std::printf("restored height %llu block_hash %s state_root %s entries %llu into %s\n",
                static_cast<unsigned long long>(m->height), ToHex0x(m->header.Hash()).c_str(),
                ToHex0x(m->header.state_root).c_str(), static_cast<unsigned long long>(m->total_entries),
                datadir_.c_str());
    return Ok();
  }

 private:
  // Restores, then reads back the manifest for the summary line.
  Result<snapshot::Manifest> RestoreAndRead(const Genesis& g) {
    cli::Progress meter("restoring", "entries");
    Status st = snapshot::Restore(file_, datadir_, g, meter.Callback());
    meter.Done();
    if (!st) return std::unexpected(InFile(st.error(), file_));
    if (int sig = g_signal.load(); sig != 0)
      return Fail(ErrorCode::kIO, "interrupted by signal " + std::to_string(sig) + "; nothing restored");
    auto m = snapshot::ReadManifest(file_);
    if (!m) return std::unexpected(InFile(m.error(), file_));
    return m;
  }

  // D may be restored into when it is empty or holds only what an
  // interrupted restore leaves behind (snapshot::Restore accepts and
  // replaces it): its temporary database, temporary files of genesis.bin
  // and a genesis.bin with the very genesis being restored, but no db/.
  // Notes what was there, so that a failed run removes only what it made.
  Status CheckRestorable() {
    std::error_code ec;
    before_.clear();
    for (auto it = fs::directory_iterator(datadir_, ec); !ec && it != fs::directory_iterator(); it.increment(ec)) {
      std::string name = it->path().filename().string();
      before_.push_back(name);
      if (name == snapshot::kRestoreTmpName || name == "genesis.bin" || IsTempOf(name, "genesis.bin")) continue;
      return Fail(ErrorCode::kInvalid, "data directory " + Quote(datadir_) + " is not empty (it has " + Quote(name) + ")",
                  "restore into a new directory, or empty this one first");
    }
    if (ec) return Fail(ErrorCode::kIO, "unable to list " + Quote(datadir_) + ": " + ec.message());
    for (const std::string& name : before_)
      if (IsTempOf(name, "genesis.bin")) fs::remove(fs::path(datadir_) / name, ec);
    return Ok();
  }

  // "<file>.tmp.<pid>": an atomic write of <file> that never finished.
  static bool IsTempOf(const std::string& name, const std::string& file) {
    std::string prefix = file + ".tmp.";
    if (!name.starts_with(prefix) || name.size() == prefix.size()) return false;
    return name.find_first_not_of("0123456789", prefix.size()) == std::string::npos;
  }

  // Leaves D as it was: removed if this run created it, else without what
  // this run added (and without an interrupted restore's leftovers).
  void RemoveRestored(bool existed) {
    std::error_code ec;
    if (!existed) {
      fs::remove_all(datadir_, ec);
      return;
    }
    for (const auto& entry : fs::directory_iterator(datadir_, ec)) {
      std::string name = entry.path().filename().string();
      bool was_there = std::find(before_.begin(), before_.end(), name) != before_.end();
      if (!was_there || name == snapshot::kRestoreTmpName || IsTempOf(name, "genesis.bin"))
        fs::remove_all(entry.path(), ec);
    }
  }

  std::vector<std::string> before_;
  std::string datadir_, genesis_, file_;
};

}  // namespace
}  // namespace gtos::snapcmd

int main(int argc, char** argv) {
  using namespace gtos::snapcmd;
  static CreateCmd create;
  static ListCmd list;
  static InfoCmd info;
  static VerifyCmd verify;
  static RestoreCmd restore;
  static const gtos::cli::ToolSpec spec{
      "gtos-snapshot",
      "Create, list, inspect, verify and restore GTOS state snapshots (docs/snapshots.md).",
      "Examples:\n"
      "  gtos-snapshot create --datadir node1 -o head.gsnap      # the node must be stopped\n"
      "  gtos-snapshot list --datadir node1\n"
      "  gtos-snapshot verify head.gsnap --genesis genesis.bin\n"
      "  gtos-snapshot restore --datadir node2 --genesis genesis.bin head.gsnap\n"
      "Exit status: 0 success, 1 failure, 2 usage error.",
      {&create, &list, &info, &verify, &restore}};
  return gtos::cli::RunTool(spec, argc, argv);
}
