// The subcommands of gtos-node: init, run, replay, migrate, and --dev.
#include "commands.h"

#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <filesystem>

#include <CLI/CLI.hpp>

#include "chain/chain.h"
#include "chain/migrate.h"
#include "cli/passphrase.h"
#include "cli/progress.h"
#include "cli/record_io.h"
#include "config.h"
#include "node/log.h"
#include "node/node.h"
#include "types/records.h"
#include "node/statesync.h"
#include "util/file.h"

namespace gtos::nodecmd {

namespace {

std::atomic<bool> g_stop{false};

void OnSignal(int) { g_stop.store(true); }

void InstallSignalHandlers() {
  struct sigaction sa{};
  sa.sa_handler = OnSignal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  signal(SIGPIPE, SIG_IGN);
}

// Flags shared by run and --dev; unset ones leave config/env values alone.
struct RunFlags {
  std::string config;
  Settings flags;
  std::vector<std::string> peers;
  bool equivocate = false;
  std::string byzantine;
  std::string sign_journal;
  bool state_sync = false;
  uint64_t trust_height = 0;
  std::string trust_hash;

  void Setup(CLI::App& app, bool dev) {
    if (!dev) {
      app.add_option("--config", config, "Read settings from this gtos.toml")->type_name("FILE");
      app.add_option("--p2p-addr", flags.p2p_addr, "P2P listen address")->type_name("HOST:PORT");
      app.add_option("--peer", peers, "Peer to connect to (repeatable)")->type_name("HOST:PORT");
      app.add_option("--p2p-external", flags.p2p_external, "P2P address advertised to peers (default: --p2p-addr)")
          ->type_name("HOST:PORT");
      app.add_flag("--state-sync", state_sync,
                   "Restore the newest snapshot the peers offer when the chain has no blocks or falls behind their window");
      app.add_option("--trust-height", trust_height,
                     "With --state-sync: accept only a snapshot whose verified headers include this height")
          ->type_name("H");
      app.add_option("--trust-hash", trust_hash, "With --state-sync: the trusted header hash at --trust-height")
          ->type_name("HASH");
      // Hidden like --unsafe-byzantine: a production --help lists no test
      // switch (docs/node.md "Test switches").
      app.add_flag("--unsafe-equivocate", equivocate, "")->group("");
      app.add_option("--halt-height", flags.halt_height,
                     "Stop cleanly (exit 0) once height H is committed, for a coordinated upgrade")
          ->type_name("H");
      app.add_option("--double-sign-check-height", flags.double_sign_check_height,
                     "Sign nothing for N heights after this validator's key is seen in a commit it did not sign "
                     "(another instance running; default 0: off)")
          ->type_name("N");
      app.add_option("--sign-journal", sign_journal,
                     "Append a JSON line for every proposal and vote this validator signs, before it is sent")
          ->type_name("FILE");
      // Hidden (no help line): test-only misbehaviour for the e2e runner and
      // the hostile-peer tests (docs/node.md "Test switches").
      app.add_option("--unsafe-byzantine", byzantine, "")
          ->check(CLI::IsMember({"equivocate", "tamper-proposals", "lie-height", "silent", "flood-proposals", "forge-blocks",
                                 "equivocate-proposals"}))
          ->group("");
      app.add_option("--validator-key", flags.validator_key, "Validator key (default: D/validator.key)")
          ->type_name("FILE");
      app.add_option("--passphrase-file", flags.passphrase_file, "Passphrase of an encrypted validator key")
          ->type_name("FILE");
    }
    app.add_option("--datadir", flags.datadir, dev ? "Data directory (default: a new temporary one)"
                                                   : "Data directory")
        ->type_name("D");
    app.add_option("--rpc-addr", flags.rpc_addr,
                   "JSON-RPC and subscription (/ws, /subscribe/...) listen address (default 127.0.0.1:8545); "
                   "limits such as rpc_max_subscribers are gtos.toml keys")
        ->type_name("HOST:PORT");
    app.add_option("--log-format", flags.log_format, "Log lines as text or json (default text)")
        ->check(CLI::IsMember({"text", "json"}))
        ->type_name("FORMAT");
    app.add_option("--log-level", flags.log_level, "debug, info, warn or error (default info)")
        ->check(CLI::IsMember({"debug", "info", "warn", "error"}))
        ->type_name("LEVEL");
  }

  Result<Resolved> Load() {
    if (!peers.empty()) flags.peers = peers;
    if (state_sync) flags.state_sync = true;
    Settings s;
    if (!config.empty()) {
      auto t = LoadToml(config);
      if (!t) return std::unexpected(t.error());
      s.Merge(*t);
    }
    auto env = LoadEnv();
    if (!env) return std::unexpected(env.error());
    s.Merge(*env);
    s.Merge(flags);
    auto r = Resolve(s);
    if (r && (trust_height > 0 || !trust_hash.empty())) {
      if (!r->state_sync)
        return Fail(ErrorCode::kUsage, "--trust-height and --trust-hash go with --state-sync");
      if (trust_height == 0 || trust_hash.empty())
        return Fail(ErrorCode::kUsage, "--trust-height and --trust-hash go together",
                    "take both from a node you trust: the hash of header H (tos_getHeaderByNumber, or gtos-inspect rpc block H)");
      auto h = Hash32FromHex(trust_hash, "--trust-hash");
      if (!h) return Fail(ErrorCode::kUsage, h.error().message);
      r->trust_height = trust_height;
      r->trust_hash = *h;
    }
    if (r) {
      r->node.equivocate_for_tests = equivocate || byzantine == "equivocate";
      if (byzantine != "equivocate") r->node.byzantine_for_tests = byzantine;
      r->node.sign_journal = sign_journal;
    }
    return r;
  }
};

Status RunNode(const Resolved& resolved) {
  GTOS_TRY(node::LogInit(resolved.log_format, resolved.log_level));
  Resolved r = resolved;
  InstallSignalHandlers();
  // With --state-sync the node state-syncs before it starts, and again each
  // time it falls behind its peers' retention window while running
  // (docs/node.md "Falling behind the window"): the node stops, state sync
  // replaces the chain with a newer verified snapshot (or leaves it when
  // block sync can still go on) and the node starts again, same ports.
  r.node.state_sync_when_behind = r.state_sync;
  for (bool again = false;; again = true) {
    if (r.state_sync) {
      node::StateSyncOptions so;
      so.datadir = r.node.datadir;
      so.p2p = r.node.p2p;
      so.trust_height = r.trust_height;
      so.trust_hash = r.trust_hash;
      auto h = node::StateSync(so, g_stop);
      if (g_stop.load()) return Ok();  // a signal is a clean stop, not a failure
      if (!h) {
        if (!again) return std::unexpected(h.error());
        // Behind but no usable snapshot yet (say, the next is not written):
        // the node runs on and tries again when it finds itself behind.
        node::Log(node::LogLevel::kWarn, "state sync failed; the node goes on from its head",
                  {{"error", h.error().message}});
      } else if (*h > 0) {
        r.node.statesync_restored_height = *h;
      }
    }
    auto n = node::Node::Open(r.node);
    if (!n) return std::unexpected(n.error());
    Status st = (*n)->Run(g_stop);
    if (!st || g_stop.load() || !(*n)->fell_behind()) return st;
    n->reset();  // closes the database, the ports and the WAL before state sync
  }
}

class InitCmd : public cli::Command {
 public:
  std::string_view name() const override { return "init"; }
  std::string_view help() const override { return "Create a data directory from a genesis"; }
  void Setup(CLI::App& app) override {
    app.add_option("--datadir", datadir_, "Data directory to create")->type_name("D")->required();
    app.add_option("--genesis", genesis_, "Genesis record file")->type_name("FILE")->required();
    app.add_option("--key", key_, "Validator key to install as D/validator.key")->type_name("FILE");
    app.add_option("--passphrase-file", passphrase_file_, "Check that this passphrase unlocks the key")
        ->type_name("FILE");
  }
  Status Run() override {
    auto rec = cli::ReadOneRecord(genesis_);
    if (!rec) return std::unexpected(rec.error());
    auto* g = std::get_if<Genesis>(&*rec);
    if (!g) return Invalid("'" + genesis_ + "' holds a " + std::string(TypeNameOf(*rec)) + " record, not a genesis");
    GTOS_TRY(g->ValidateFull());
    Bytes key_bytes;
    if (!key_.empty()) {
      auto k = ReadFile(key_);
      if (!k) return std::unexpected(k.error());
      auto key = DecodeRecord<PrivateKey>(*k);
      if (!key) return std::unexpected(Wrap(key.error(), "'" + key_ + "'"));
      if (!passphrase_file_.empty()) {
        auto unlocked = cli::LoadAndUnlockKey(key_, passphrase_file_);
        if (!unlocked) return std::unexpected(unlocked.error());
      }
      key_bytes = std::move(*k);
      // Never replace a validator key; refuse before anything is created.
      std::error_code ec;
      if (std::filesystem::exists(std::filesystem::symlink_status(datadir_ + "/validator.key", ec)))
        return Fail(ErrorCode::kExists, "refusing to overwrite existing file '" + datadir_ + "/validator.key'",
                    "move it away first if it is to be replaced");
    }
    GTOS_TRY(chain::Chain::Init(datadir_, *g));
    GTOS_TRY(node::EnsureNodeKey(datadir_));
    if (!key_bytes.empty()) {
      auto st = WriteFileAtomic(datadir_ + "/validator.key", key_bytes, 0600, Replace::kRefuse);
      SecureWipe(key_bytes);
      GTOS_TRY(st);
    }
    std::fprintf(stderr, "gtos-node: initialised '%s' for chain '%s' (genesis %s)\n", datadir_.c_str(),
                 g->chain_id.c_str(), ToHex0x(g->Hash()).c_str());
    return Ok();
  }

 private:
  std::string datadir_, genesis_, key_, passphrase_file_;
};

class RunCmd : public cli::Command {
 public:
  std::string_view name() const override { return "run"; }
  std::string_view help() const override { return "Run a node on an initialised data directory"; }
  void Setup(CLI::App& app) override { flags_.Setup(app, false); }
  Status Run() override {
    auto r = flags_.Load();
    if (!r) return std::unexpected(r.error());
    return RunNode(*r);
  }

 private:
  RunFlags flags_;
};

class ReplayCmd : public cli::Command {
 public:
  std::string_view name() const override { return "replay"; }
  std::string_view help() const override { return "Re-execute stored blocks and compare state roots"; }
  void Setup(CLI::App& app) override {
    app.add_option("--datadir", datadir_, "Data directory (the node must be stopped)")->type_name("D")->required();
  }
  Status Run() override {
    chain::ChainOptions co;
    co.datadir = datadir_;
    auto c = chain::Chain::Open(co);
    if (!c) return std::unexpected(c.error());
    uint64_t top = (*c)->height();
    auto start = std::chrono::steady_clock::now();
    cli::Progress progress("replayed", "blocks");
    GTOS_TRY((*c)->Replay([&](uint64_t h) { progress.Update(h, top); }));
    progress.Done();
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::printf("replayed %llu blocks in %.2f s: every state root matches\n", (unsigned long long)top, secs);
    return Ok();
  }

 private:
  std::string datadir_;
};

// gtos-node migrate: brings a data directory to this build's schema version
// (lib/chain/migrate.h, docs/upgrades.md "Schema migrations").
class MigrateCmd : public cli::Command {
 public:
  std::string_view name() const override { return "migrate"; }
  std::string_view help() const override { return "Upgrade a data directory to this build's schema version"; }
  void Setup(CLI::App& app) override {
    app.add_option("--datadir", datadir_, "Data directory (the node must be stopped)")->type_name("D")->required();
    app.add_flag("--dry-run", dry_run_, "Say which steps would run and change nothing");
  }
  Status Run() override {
    chain::MigrateOptions mo;
    mo.datadir = datadir_;
    mo.dry_run = dry_run_;
    mo.log = [](std::string_view line) {
      std::printf("%.*s\n", static_cast<int>(line.size()), line.data());
      std::fflush(stdout);
    };
    auto rep = chain::Migrate(mo);
    if (!rep) return std::unexpected(rep.error());
    if (rep->steps.empty()) {
      std::printf("'%s' is at schema version %llu: nothing to do\n", datadir_.c_str(), (unsigned long long)rep->to);
      return Ok();
    }
    if (dry_run_) {
      std::printf("dry run: '%s' stays at schema version %llu (nothing was changed)\n", datadir_.c_str(),
                  (unsigned long long)rep->from);
      return Ok();
    }
    // The migrated directory opens as the node opens it: this checks the
    // state accumulator against the head's state root.
    chain::ChainOptions co;
    co.datadir = datadir_;
    auto c = chain::Chain::Open(co);
    if (!c) return std::unexpected(Wrap(c.error(), "the migrated data directory does not open"));
    BlockHeader head = (*c)->head();
    std::printf("migrated '%s' from schema version %llu to %llu; head %llu, state root %s\n", datadir_.c_str(),
                (unsigned long long)rep->from, (unsigned long long)rep->to, (unsigned long long)head.height,
                ToHex0x(head.state_root).c_str());
    return Ok();
  }

 private:
  std::string datadir_;
  bool dry_run_ = false;
};

// gtos-node --dev: a one-command single-validator chain.
class Dev : public cli::Command {
 public:
  std::string_view name() const override { return ""; }
  std::string_view help() const override { return "Start a development chain"; }
  void Setup(CLI::App& app) override {
    app.add_flag("--dev", dev_, "Create (or reuse) a single-validator dev chain and run it");
    app.add_option("--param", params_, "Genesis parameter for a new dev chain (repeatable)")
        ->type_name("NAME=VALUE");
    flags_.Setup(app, true);
  }
  Status Run() override {
    if (!dev_) return cli::UsageError("no command given", "see 'gtos-node --help'");
    std::string dir;
    if (!flags_.flags.datadir)
      if (const char* env = std::getenv("GTOS_DATADIR"); env && *env) flags_.flags.datadir = env;
    if (flags_.flags.datadir) {
      dir = *flags_.flags.datadir;
    } else {
      char tmpl[] = "/tmp/gtos-dev.XXXXXX";
      if (!::mkdtemp(tmpl)) return Fail(ErrorCode::kIO, "unable to create a temporary data directory");
      dir = tmpl;
      flags_.flags.datadir = dir;
    }
    std::string key_path = dir + "/dev.key";
    if (!std::filesystem::exists(dir + "/db")) {
      GTOS_TRY(CreateDevChain(dir, key_path));
    } else if (!params_.empty()) {
      std::fprintf(stderr, "gtos-node: reusing the dev chain in '%s'; --param applies only to a new one\n",
                   dir.c_str());
    }
    flags_.flags.state_sync = false;  // a dev chain has no peers to sync from (GTOS_STATE_SYNC is ignored)
    auto r = flags_.Load();
    if (!r) return std::unexpected(r.error());
    r->node.validator_key_file = key_path;
    auto key = cli::LoadPublicKey(key_path);
    if (!key) return std::unexpected(key.error());
    std::fprintf(stderr,
                 "gtos-node: dev chain in %s\ngtos-node: rpc http://%s:%d\ngtos-node: funded key %s (address %s)\n",
                 dir.c_str(), r->node.rpc.host.c_str(), r->node.rpc.port, key_path.c_str(),
                 ToHex0x(key->address()).c_str());
    return RunNode(*r);
  }

 private:
  Status CreateDevChain(const std::string& dir, const std::string& key_path) {
    Genesis g;
    g.chain_id = "gtos-dev";
    g.genesis_time_ms = static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                                  std::chrono::system_clock::now().time_since_epoch())
                                                  .count());
    for (const std::string& p : params_) {
      size_t eq = p.find('=');
      if (eq == std::string::npos) return cli::UsageError("--param: '" + p + "' is not NAME=VALUE");
      auto st = g.params.Set(p.substr(0, eq), p.substr(eq + 1));
      if (!st) return cli::UsageError("--param: " + st.error().message);
    }
    if (auto st = g.params.Validate(); !st) return cli::UsageError("--param: " + st.error().message);
    const crypto::SigAlgo* algo = crypto::FindAlgo(crypto::AlgoId::kEd25519);
    crypto::SecretBytes secret(algo->generate());
    auto key = MakePrivateKey(algo->id, secret.view(), std::nullopt);
    if (!key) return std::unexpected(key.error());
    GenesisValidator v;
    v.chain_id = g.chain_id;
    v.algo = key->algo;
    v.public_key = key->public_key;
    // The dev validator bonds min_validator_stake (docs/node.md), at least
    // 1: a validator's stake is never 0, and min_validator_stake=0 is allowed.
    v.stake = std::max<uint64_t>(g.params.min_validator_stake, 1);
    auto sig = algo->sign(secret.view(), v.SigningDigest());
    if (!sig) return std::unexpected(sig.error());
    v.signature = std::move(*sig);
    g.accounts.push_back(GenesisAccount{key->address(), 1'000'000'000'000'000'000ull});
    g.validators.push_back(v);
    // Every check before the first byte on disk: a refused chain leaves no
    // empty data directory behind.
    if (auto st = g.ValidateFull(); !st) return cli::UsageError("--param: " + st.error().message);
    GTOS_TRY(MakeDirs(dir, 0700));
    GTOS_TRY(chain::Chain::Init(dir, g));
    Bytes record = EncodeRecord(*key);
    SecureWipe(key->secret);
    auto st = WriteFileAtomic(key_path, record, 0600);
    SecureWipe(record);
    return st;
  }

  bool dev_ = false;
  std::vector<std::string> params_;
  RunFlags flags_;
};

}  // namespace

const cli::ToolSpec& Spec() {
  static InitCmd init;
  static RunCmd run;
  static ReplayCmd replay;
  static MigrateCmd migrate;
  static Dev dev;
  static const cli::ToolSpec spec{
      "gtos-node",
      "The GTOS node: storage, execution, mempool, JSON-RPC; init, run, replay, migrate, or a one-command --dev chain.",
      "Examples:\n"
      "  gtos-node --dev --datadir /tmp/dev      # dev chain, key in /tmp/dev/dev.key\n"
      "  gtos-node init --datadir D --genesis genesis.bin --key validator.key\n"
      "  gtos-node run --datadir D --config /etc/gtos/gtos.toml\n"
      "  gtos-node replay --datadir D\n"
      "  gtos-node migrate --datadir D --dry-run\n"
      "Settings: gtos.toml < GTOS_* environment < flags. SIGINT/SIGTERM shut down cleanly.\n"
      "Exit status: 0 success, 1 failure, 2 usage error.",
      {&init, &run, &replay, &migrate},
      &dev};
  return spec;
}

}  // namespace gtos::nodecmd
