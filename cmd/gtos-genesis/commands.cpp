// The subcommands of gtos-genesis (man/gtos-genesis.1, docs/genesis.md):
// new, add-account, gentx, collect, validate, hash.
//
// The rules live in the library (Genesis::Validate / ValidateFull,
// GenesisValidator::VerifySignature, ChainParams::Set / Validate); this file
// maps flags onto them and names the input that broke a rule, so that a
// coordinator holding twenty gentx files knows which one to send back.
#include "commands.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <map>

#include <CLI/CLI.hpp>

#include "cli/passphrase.h"
#include "cli/record_io.h"
#include "crypto/sig.h"
#include "types/chain.h"
#include "types/json.h"
#include "types/records.h"

namespace gtos::genesis {

namespace {

std::string DisplayName(const std::string& path) {
  return (path.empty() || path == "-") ? "stdin" : "'" + path + "'";
}

// A flag's value that does not parse is a usage error (exit status 2).
Result<uint64_t> FlagUint(const std::string& value, std::string_view flag) {
  auto v = ParseUint64(value, flag);
  if (!v) return cli::UsageError(v.error().message);
  return v;
}

Status FlagChainId(const std::string& chain_id) {
  if (auto st = CheckChainId(chain_id); !st) return cli::UsageError("--chain-id: " + st.error().message);
  return Ok();
}

// Reads the one genesis record `path` holds ("-": stdin). Decoding already
// checks the structure (Genesis::Validate).
Result<Genesis> ReadGenesis(const std::string& path) {
  auto rec = cli::ReadOneRecord(path);
  if (!rec) return std::unexpected(rec.error());
  auto* g = std::get_if<Genesis>(&*rec);
  if (!g)
    return Invalid(DisplayName(path) + " holds a " + std::string(TypeNameOf(*rec)) + " record, not a genesis");
  return std::move(*g);
}

// The options of every command that writes a genesis.
struct GenesisOutput {
  std::string path;
  bool json = false;

  void Setup(CLI::App& app) {
    app.add_option("-o,--output", path, "Write to FILE (atomically) instead of stdout")->type_name("FILE");
    app.add_flag("--json", json, "Print the genesis as a JSON line instead of a record");
  }
  // Opened before any input is read, so that a refused terminal or an
  // unwritable FILE fails first.
  Status Open(cli::Output& out) const {
    return out.Open(path, json ? cli::OutputKind::kText : cli::OutputKind::kBinary);
  }
  // Never emits a genesis that decoders (ours or a node's) would refuse.
  Status Write(cli::Output& out, const Genesis& g) const {
    Bytes record = EncodeRecord(g);
    auto check = DecodeRecord<Genesis>(record);
    if (!check) return std::unexpected(check.error());
    if (json) GTOS_TRY(out.WriteLine(ToJson(AnyRecord(g)).dump()));
    else GTOS_TRY(out.Write(record));
    return out.Commit();
  }
};

// ---- parameters ---------------------------------------------------------------

// Lists the parameter names in wire order (ChainParams::Fields).
struct ParamNameVisitor {
  static constexpr bool kDecoding = false;
  std::vector<std::string> names;
  void Uint(std::string_view name, uint64_t&, uint64_t = 0) { names.emplace_back(name); }
};

std::vector<std::string> ParamNames() {
  ChainParams p;
  ParamNameVisitor v;
  p.Fields(v);
  return v.names;
}

// Applies one --param NAME=VALUE.
Status ApplyParam(ChainParams& params, std::string_view arg) {
  size_t eq = arg.find('=');
  if (eq == std::string_view::npos || eq == 0)
    return cli::UsageError("--param '" + std::string(arg) + "': expected NAME=VALUE");
  std::string_view name = arg.substr(0, eq);
  std::vector<std::string> names = ParamNames();
  if (std::find(names.begin(), names.end(), name) == names.end()) {
    std::string list;
    for (const std::string& n : names) list += (list.empty() ? "" : ", ") + n;
    return cli::UsageError("--param: unknown parameter '" + std::string(name) + "'", "parameters: " + list);
  }
  if (auto st = params.Set(name, arg.substr(eq + 1)); !st) return cli::UsageError("--param " + st.error().message);
  return Ok();
}

uint64_t NowMs() {
  using namespace std::chrono;
  return static_cast<uint64_t>(duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count());
}

// ---- p2p address ----------------------------------------------------------------

// HOST:PORT as a node dials it: a DNS name or IPv4 address, or an IPv6
// address in brackets; PORT from 1 to 65535.
Status CheckP2pAddr(std::string_view addr) {
  auto bad = [addr](const std::string& why) {
    return cli::UsageError("--p2p-addr '" + std::string(addr) + "': " + why,
                           "expected HOST:PORT, e.g. 203.0.113.7:26656, node1.example.org:26656 or "
                           "[2001:db8::1]:26656");
  };
  if (addr.size() > kMaxP2pAddrBytes) return bad("longer than " + std::to_string(kMaxP2pAddrBytes) + " bytes");
  size_t colon = addr.rfind(':');
  if (colon == std::string_view::npos) return bad("no ':PORT'");
  std::string_view host = addr.substr(0, colon);
  std::string_view port = addr.substr(colon + 1);
  bool bracketed = host.starts_with('[');
  if (bracketed) {
    if (host.size() < 2 || !host.ends_with(']')) return bad("'[' without a closing ']'");
    host = host.substr(1, host.size() - 2);
  }
  if (host.empty()) return bad("empty host");
  for (char c : host) {
    auto u = static_cast<unsigned char>(c);
    bool ok = bracketed ? (std::isxdigit(u) || c == ':' || c == '.') : (std::isalnum(u) || c == '.' || c == '-');
    if (!ok) {
      if (!bracketed && c == ':') return bad("an IPv6 host goes in brackets");
      return bad("invalid character in host");
    }
  }
  bool digits = !port.empty() && port.size() <= 5 &&
                std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; });
  uint64_t n = 0;
  if (digits) n = *ParseUint64(port, "port");
  if (!digits || n < 1 || n > 65535) return bad("port '" + std::string(port) + "' is not from 1 to 65535");
  return Ok();
}

// ---- commands -------------------------------------------------------------------

class NewCommand : public cli::Command {
 public:
  std::string_view name() const override { return "new"; }
  std::string_view help() const override {
    return "Create a genesis: default parameters, no accounts, no validators";
  }
  void Setup(CLI::App& app) override {
    app.add_option("--chain-id", chain_id_, "Chain id of the new chain")->type_name("ID")->required();
    app.add_option("--param", params_, "Set a chain parameter (repeatable); see man gtos-genesis")
        ->type_name("NAME=VALUE");
    app.add_option("--genesis-time-ms", time_ms_,
                   "Genesis time in ms since the Unix epoch (default: now); fix it for reproducible output")
        ->type_name("N");
    out_.Setup(app);
  }
  Status Run() override {
    cli::Output out;
    GTOS_TRY(out_.Open(out));
    Genesis g;
    GTOS_TRY(FlagChainId(chain_id_));
    g.chain_id = chain_id_;
    if (time_ms_.empty()) {
      g.genesis_time_ms = NowMs();
    } else {
      auto t = FlagUint(time_ms_, "--genesis-time-ms");
      if (!t) return std::unexpected(t.error());
      g.genesis_time_ms = *t;
    }
    for (const std::string& p : params_) GTOS_TRY(ApplyParam(g.params, p));
    if (auto st = g.params.Validate(); !st) return cli::UsageError("--param: " + st.error().message);
    GTOS_TRY(g.Validate());
    return out_.Write(out, g);
  }

 private:
  std::string chain_id_, time_ms_;
  std::vector<std::string> params_;
  GenesisOutput out_;
};

class AddAccountCommand : public cli::Command {
 public:
  std::string_view name() const override { return "add-account"; }
  std::string_view help() const override { return "Add an account with a balance; genesis in, genesis out"; }
  void Setup(CLI::App& app) override {
    app.add_option("address", address_, "Account address (0x + 64 hex)")->type_name("ADDR")->required();
    app.add_option("amount", amount_, "Balance in base units")->type_name("AMOUNT")->required();
    app.add_option("file", file_, "Genesis record file (default: stdin)")->type_name("FILE");
    app.add_flag("--add-to-existing", add_, "Add AMOUNT to the balance of an account already present");
    out_.Setup(app);
  }
  Status Run() override {
    cli::Output out;
    GTOS_TRY(out_.Open(out));
    auto addr = Hash32FromHex(address_, "ADDR");
    if (!addr) return cli::UsageError(addr.error().message);
    auto amount = FlagUint(amount_, "AMOUNT");
    if (!amount) return std::unexpected(amount.error());
    if (*amount == 0) return cli::UsageError("AMOUNT: must be greater than 0");
    auto g = ReadGenesis(file_);
    if (!g) return std::unexpected(g.error());
    std::vector<GenesisAccount>& accounts = g->accounts;
    auto it = std::lower_bound(accounts.begin(), accounts.end(), *addr,
                               [](const GenesisAccount& a, const Address& x) { return a.address < x; });
    if (it != accounts.end() && it->address == *addr) {
      if (!add_)
        return Fail(ErrorCode::kInvalid,
                    "account " + ToHex0x(*addr) + " is already in the genesis (balance " +
                        std::to_string(it->balance) + ")",
                    "pass --add-to-existing to add AMOUNT to its balance");
      uint64_t sum = 0;
      if (__builtin_add_overflow(it->balance, *amount, &sum))
        return Invalid("account " + ToHex0x(*addr) + ": balance " + std::to_string(it->balance) + " + " +
                       std::to_string(*amount) + " overflows 64 bits");
      it->balance = sum;
    } else {
      if (accounts.size() >= kMaxGenesisEntries)
        return Invalid("the genesis already holds the maximum of " + std::to_string(kMaxGenesisEntries) +
                       " accounts");
      accounts.insert(it, GenesisAccount{*addr, *amount});
    }
    uint64_t supply = 0;
    for (const GenesisAccount& a : accounts)
      if (__builtin_add_overflow(supply, a.balance, &supply))
        return Invalid("total supply would overflow 64 bits");
    return out_.Write(out, *g);
  }

 private:
  std::string address_, amount_, file_ = "-";
  bool add_ = false;
  GenesisOutput out_;
};

class GentxCommand : public cli::Command {
 public:
  std::string_view name() const override { return "gentx"; }
  std::string_view help() const override { return "Make this validator's signed genesis_validator record"; }
  void Setup(CLI::App& app) override {
    app.add_option("--chain-id", chain_id_, "Chain id of the genesis to join")->type_name("ID")->required();
    app.add_option("--key", key_file_, "Validator's private key record (operator and consensus key)")
        ->type_name("FILE")
        ->required();
    app.add_option("--stake", stake_, "Stake to bond at genesis, in base units")->type_name("N")->required();
    app.add_option("--p2p-addr", p2p_addr_, "Address other validators dial (default: none)")
        ->type_name("HOST:PORT");
    app.add_option("--commission-permille", commission_,
                   "Commission on delegators' rewards from genesis on, per mille, at most the genesis's "
                   "max_commission_permille (default: none, which is 0)")
        ->type_name("N");
    app.add_option("--passphrase-file", passphrase_file_, "Passphrase of an encrypted key")->type_name("FILE");
    app.add_option("-o,--output", output_, "Write to FILE (atomically) instead of stdout")->type_name("FILE");
  }
  Status Run() override {
    cli::Output out;
    GTOS_TRY(out.Open(output_, cli::OutputKind::kBinary));
    GTOS_TRY(FlagChainId(chain_id_));
    auto stake = FlagUint(stake_, "--stake");
    if (!stake) return std::unexpected(stake.error());
    if (*stake == 0) return cli::UsageError("--stake: must be greater than 0");
    if (!p2p_addr_.empty()) GTOS_TRY(CheckP2pAddr(p2p_addr_));
    std::optional<uint64_t> commission;
    if (!commission_.empty()) {
      auto c = FlagUint(commission_, "--commission-permille");
      if (!c) return std::unexpected(c.error());
      if (*c > 1000) return cli::UsageError("--commission-permille: " + commission_ + " is above 1000");
      commission = *c;
    }
    auto key = cli::LoadAndUnlockKey(key_file_, passphrase_file_);
    if (!key) return std::unexpected(key.error());
    GenesisValidator v;
    v.chain_id = chain_id_;
    v.algo = key->record.algo;
    v.public_key = key->record.public_key;
    v.stake = *stake;
    v.p2p_addr = p2p_addr_;
    v.commission_permille = commission;
    auto sig = key->algo->sign(key->secret.view(), v.SigningDigest());
    if (!sig) return std::unexpected(Wrap(sig.error(), "'" + key_file_ + "'"));
    v.signature = std::move(*sig);
    // Never emit a gentx that collect would refuse for its signature.
    GTOS_TRY(v.VerifySignature());
    Bytes record = EncodeRecord(v);
    auto check = DecodeRecord<GenesisValidator>(record);
    if (!check) return std::unexpected(check.error());
    GTOS_TRY(out.Write(record));
    return out.Commit();
  }

 private:
  std::string chain_id_, key_file_, stake_, p2p_addr_, commission_, passphrase_file_, output_;
};

class CollectCommand : public cli::Command {
 public:
  std::string_view name() const override { return "collect"; }
  std::string_view help() const override {
    return "Check gentx records and add them as validators; genesis in, genesis out";
  }
  void Setup(CLI::App& app) override {
    app.add_option("gentx_files", files_, "genesis_validator record files (gentx)")
        ->type_name("GENTX_FILE")
        ->required();
    app.add_option("--genesis", genesis_, "Genesis record file (default: stdin)")->type_name("FILE");
    out_.Setup(app);
  }
  Status Run() override {
    cli::Output out;
    GTOS_TRY(out_.Open(out));
    if (genesis_ == "-" && std::find(files_.begin(), files_.end(), "-") != files_.end())
      return cli::UsageError("stdin cannot hold both the genesis and a gentx",
                             "pass the genesis with --genesis FILE");
    auto g = ReadGenesis(genesis_);
    if (!g) return std::unexpected(g.error());
    // Where each validator's gentx came from, for duplicate errors.
    std::map<Address, std::string> seen;
    std::vector<std::pair<Address, GenesisValidator>> all;
    for (GenesisValidator& v : g->validators) {
      Address a = v.address();
      seen.emplace(a, "the input genesis");
      all.emplace_back(a, std::move(v));
    }
    for (const std::string& file : files_) {
      cli::RecordReader reader({file});
      for (size_t n = 0;; ++n) {
        auto p = reader.Next();
        if (!p) return std::unexpected(p.error());
        if (!*p) {
          if (n == 0) return Invalid(DisplayName(file) + " holds no record");
          break;
        }
        auto v = DecodeRecordFrom<GenesisValidator>(**p);
        if (!v) return std::unexpected(Wrap(v.error(), reader.Where()));
        Address a = v->address();
        GTOS_TRY(Check(*g, *v, a, reader.Where(), seen));
        seen.emplace(a, reader.Where());
        all.emplace_back(a, std::move(*v));
      }
    }
    if (all.size() > kMaxGenesisEntries)
      return Invalid("more than " + std::to_string(kMaxGenesisEntries) + " validators");
    std::sort(all.begin(), all.end(), [](const auto& x, const auto& y) { return x.first < y.first; });
    g->validators.clear();
    for (auto& [a, v] : all) g->validators.push_back(std::move(v));
    GTOS_TRY(g->ValidateFull());
    return out_.Write(out, *g);
  }

 private:
  // The checks of Genesis::ValidateFull for one gentx, with errors that name
  // its file (`where`).
  static Status Check(const Genesis& g, const GenesisValidator& v, const Address& addr,
                      const std::string& where, const std::map<Address, std::string>& seen) {
    std::string who = "validator " + ToHex0x(addr);
    if (auto st = v.VerifySignature(); !st) return std::unexpected(Wrap(st.error(), where));
    if (v.chain_id != g.chain_id)
      return Fail(ErrorCode::kInvalid,
                  where + ": " + who + " signed for chain '" + v.chain_id + "', not '" + g.chain_id + "'",
                  "the validator must make a new gentx with --chain-id " + g.chain_id);
    if (auto it = seen.find(addr); it != seen.end())
      return Invalid(where + ": " + who + " already has a gentx (" + it->second + ")");
    if (v.stake < g.params.min_validator_stake)
      return Fail(ErrorCode::kInvalid,
                  where + ": " + who + ": stake " + std::to_string(v.stake) + " is below min_validator_stake " +
                      std::to_string(g.params.min_validator_stake),
                  "the validator must make a new gentx with --stake " +
                      std::to_string(g.params.min_validator_stake) + " or more");
    if (v.commission_permille.value_or(0) > g.params.max_commission_permille)
      return Fail(ErrorCode::kInvalid,
                  where + ": " + who + ": commission " + std::to_string(*v.commission_permille) +
                      " per mille is above max_commission_permille " +
                      std::to_string(g.params.max_commission_permille),
                  "the validator must make a new gentx with --commission-permille " +
                      std::to_string(g.params.max_commission_permille) + " or less");
    auto acct = std::lower_bound(g.accounts.begin(), g.accounts.end(), addr,
                                 [](const GenesisAccount& a, const Address& x) { return a.address < x; });
    uint64_t balance = (acct != g.accounts.end() && acct->address == addr) ? acct->balance : 0;
    if (balance < v.stake)
      return Fail(ErrorCode::kInvalid,
                  where + ": " + who + ": stake " + std::to_string(v.stake) + " exceeds its genesis balance " +
                      std::to_string(balance),
                  "add the account first: gtos-genesis add-account " + ToHex0x(addr) + " AMOUNT");
    return Ok();
  }

  std::vector<std::string> files_;
  std::string genesis_ = "-";
  GenesisOutput out_;
};

class ValidateCommand : public cli::Command {
 public:
  std::string_view name() const override { return "validate"; }
  std::string_view help() const override {
    return "Check a genesis as a node would before starting from it; silent on success";
  }
  void Setup(CLI::App& app) override {
    app.add_option("file", file_, "Genesis record file (default: stdin)")->type_name("FILE");
    app.add_flag("--structure-only", structure_only_,
                 "Check only the structure (chain id, parameters, order), not validators and balances");
  }
  Status Run() override {
    auto g = ReadGenesis(file_);
    if (!g) return std::unexpected(g.error());
    Status st = structure_only_ ? g->Validate() : g->ValidateFull();
    if (st) return Ok();
    Error e = Wrap(st.error(), DisplayName(file_));
    if (e.hint.empty() && !structure_only_ && g->validators.empty())
      e.hint = "collect the validators' gentx files first (gtos-genesis collect), or pass --structure-only";
    return std::unexpected(e);
  }

 private:
  std::string file_ = "-";
  bool structure_only_ = false;
};

class HashCommand : public cli::Command {
 public:
  std::string_view name() const override { return "hash"; }
  std::string_view help() const override {
    return "Print the genesis hash (0x + 64 hex) that every participant compares";
  }
  void Setup(CLI::App& app) override {
    app.add_option("file", file_, "Genesis record file (default: stdin)")->type_name("FILE");
  }
  Status Run() override {
    cli::Output out;
    GTOS_TRY(out.Open("", cli::OutputKind::kText));
    auto g = ReadGenesis(file_);
    if (!g) return std::unexpected(g.error());
    GTOS_TRY(out.WriteLine(ToHex0x(g->Hash())));
    return out.Commit();
  }

 private:
  std::string file_ = "-";
};

}  // namespace

const cli::ToolSpec& Spec() {
  static NewCommand new_cmd;
  static AddAccountCommand add_account;
  static GentxCommand gentx;
  static CollectCommand collect;
  static ValidateCommand validate;
  static HashCommand hash;
  static const cli::ToolSpec spec{
      "gtos-genesis",
      "Run a GTOS genesis ceremony: create a genesis, add accounts, make and collect signed validator "
      "records, validate, print the genesis hash.",
      "Examples:\n"
      "  gtos-genesis gentx --chain-id gtos-1 --key val.key --stake 1000000 --p2p-addr 203.0.113.7:26656 \\\n"
      "      -o val.gentx\n"
      "  gtos-genesis new --chain-id gtos-1 --param epoch_length=50 -o genesis.bin\n"
      "  gtos-genesis add-account 0x<64 hex> 5000000 genesis.bin -o genesis.bin\n"
      "  gtos-genesis collect val.gentx < genesis.bin > genesis.final\n"
      "  gtos-genesis validate genesis.final && gtos-genesis hash genesis.final\n"
      "Exit status: 0 success, 1 failure, 2 usage error.",
      {&new_cmd, &add_account, &gentx, &collect, &validate, &hash},
      nullptr};
  return spec;
}

}  // namespace gtos::genesis
