// gtos-tx build <kind>: unsigned transaction records (man/gtos-tx.1).
#include <CLI/CLI.hpp>

#include "cli/passphrase.h"
#include "cli/record_io.h"
#include "commands.h"
#include "common.h"
#include "rpc/client.h"
#include "types/json.h"
#include "types/records.h"
#include "util/file.h"

namespace gtos::txtool {

// A flag's value that does not parse is a usage error (exit status 2).
Result<uint64_t> FlagUint(const std::string& value, std::string_view flag) {
  auto v = ParseUint64(value, flag);
  if (!v) return cli::UsageError(v.error().message);
  return v;
}

Result<Hash32> FlagAddress(const std::string& value, std::string_view flag) {
  auto v = Hash32FromHex(value, flag);
  if (!v) return cli::UsageError(v.error().message);
  return v;
}

namespace {

// Fills the payload of one tx kind from its flags.
class KindBuilder {
 public:
  virtual ~KindBuilder() = default;
  virtual std::string_view name() const = 0;
  virtual std::string_view help() const = 0;
  virtual void Setup(CLI::App& app) = 0;
  virtual Result<TxPayload> Payload() = 0;
};

template <class T>
TxPayload Wrap(T t) {
  TxPayload p;
  p.body = std::move(t);
  return p;
}

class TransferBuilder : public KindBuilder {
 public:
  std::string_view name() const override { return "transfer"; }
  std::string_view help() const override { return "Move AMOUNT to ADDR"; }
  void Setup(CLI::App& app) override {
    app.add_option("--to", to_, "Recipient address (0x + 64 hex)")->type_name("ADDR")->required();
    app.add_option("--amount", amount_, "Amount in base units")->type_name("N")->required();
  }
  Result<TxPayload> Payload() override {
    TransferTx t;
    auto to = FlagAddress(to_, "--to");
    if (!to) return std::unexpected(to.error());
    t.to = *to;
    auto amount = FlagUint(amount_, "--amount");
    if (!amount) return std::unexpected(amount.error());
    t.amount = *amount;
    return Wrap(t);
  }

 private:
  std::string to_, amount_;
};

class KvPutBuilder : public KindBuilder {
 public:
  std::string_view name() const override { return "kv-put"; }
  std::string_view help() const override { return "Store VALUE at (from, NAMESPACE, KEY) for TTL blocks"; }
  void Setup(CLI::App& app) override {
    app.add_option("--namespace", ns_, "Namespace (text)")->type_name("NS")->required();
    app.add_option("--key", key_, "Key (text)")->type_name("K")->required();
    auto* v = app.add_option("--value", value_, "Value (text)")->type_name("STR");
    auto* vf = app.add_option("--value-file", value_file_, "Read the value's bytes from FILE")->type_name("F");
    v->excludes(vf);
    app.add_option("--ttl", ttl_, "Lifetime in blocks (>= 1)")->type_name("N")->required();
  }
  Result<TxPayload> Payload() override {
    KvPutTx t;
    t.ns.assign(ns_.begin(), ns_.end());
    t.key.assign(key_.begin(), key_.end());
    if (!value_file_.empty()) {
      auto data = ReadFile(value_file_);
      if (!data) return std::unexpected(data.error());
      t.value = std::move(*data);
    } else if (value_) {
      t.value.assign(value_->begin(), value_->end());
    } else {
      return cli::UsageError("kv-put needs --value or --value-file");
    }
    auto ttl = FlagUint(ttl_, "--ttl");
    if (!ttl) return std::unexpected(ttl.error());
    t.ttl = *ttl;
    return Wrap(t);
  }

 private:
  std::string ns_, key_, value_file_, ttl_;
  std::optional<std::string> value_;
};

class CodePutBuilder : public KindBuilder {
 public:
  std::string_view name() const override { return "code-put"; }
  std::string_view help() const override { return "Store the bytes of FILE as a code object for TTL blocks"; }
  void Setup(CLI::App& app) override {
    app.add_option("--code-file", code_file_, "File with the code bytes")->type_name("F")->required();
    app.add_option("--ttl", ttl_, "Lifetime in blocks (>= 1)")->type_name("N")->required();
  }
  Result<TxPayload> Payload() override {
    CodePutTx t;
    auto data = ReadFile(code_file_);
    if (!data) return std::unexpected(data.error());
    t.code = std::move(*data);
    auto ttl = FlagUint(ttl_, "--ttl");
    if (!ttl) return std::unexpected(ttl.error());
    t.ttl = *ttl;
    return Wrap(t);
  }

 private:
  std::string code_file_, ttl_;
};

class SetSignerBuilder : public KindBuilder {
 public:
  std::string_view name() const override { return "set-signer"; }
  std::string_view help() const override { return "Bind (or rotate) the account's signer to a key"; }
  void Setup(CLI::App& app) override {
    app.add_option("--signer-key", key_file_, "Public or private key record of the new signer")
        ->type_name("FILE")
        ->required();
  }
  Result<TxPayload> Payload() override {
    auto pub = cli::LoadPublicKey(key_file_);
    if (!pub) return std::unexpected(pub.error());
    return Wrap(SetSignerTx{pub->algo, pub->public_key});
  }

 private:
  std::string key_file_;
};

class RegisterBuilder : public KindBuilder {
 public:
  std::string_view name() const override { return "validator-register"; }
  std::string_view help() const override { return "Bond STAKE as a validator with a consensus key"; }
  void Setup(CLI::App& app) override {
    app.add_option("--stake", stake_, "Stake to bond, in base units")->type_name("N")->required();
    app.add_option("--consensus-key", key_file_, "Public or private key record of the consensus key")
        ->type_name("FILE")
        ->required();
    app.add_option("--commission-permille", commission_,
                   "Commission on the validator's rewards, in thousandths (default 0)")
        ->type_name("N");
    app.add_option("--moniker", moniker_, "Free-text name of the validator (default empty)")->type_name("STR");
    app.add_option("--p2p-addr", p2p_addr_, "host:port where the validator's node listens (default empty)")
        ->type_name("HOST:PORT");
  }
  Result<TxPayload> Payload() override {
    ValidatorRegisterTx t;
    auto stake = FlagUint(stake_, "--stake");
    if (!stake) return std::unexpected(stake.error());
    t.stake = *stake;
    auto pub = cli::LoadPublicKey(key_file_);
    if (!pub) return std::unexpected(pub.error());
    t.consensus_algo = pub->algo;
    t.consensus_key = pub->public_key;
    auto commission = FlagUint(commission_, "--commission-permille");
    if (!commission) return std::unexpected(commission.error());
    t.commission_permille = *commission;
    t.moniker = moniker_;
    t.p2p_addr = p2p_addr_;
    return Wrap(t);
  }

 private:
  std::string stake_, key_file_, commission_ = "0", moniker_, p2p_addr_;
};

// delegate and undelegate: a validator and an amount.
class DelegationBuilder : public KindBuilder {
 public:
  explicit DelegationBuilder(bool undelegate) : undelegate_(undelegate) {}
  std::string_view name() const override { return undelegate_ ? "undelegate" : "delegate"; }
  std::string_view help() const override {
    return undelegate_ ? "Unbond AMOUNT of stake from validator ADDR (returned after unbonding_blocks)"
                       : "Bond AMOUNT of the balance to validator ADDR (to one's own: self-bond)";
  }
  void Setup(CLI::App& app) override {
    app.add_option("--validator", validator_, "Validator (operator) address (0x + 64 hex)")
        ->type_name("ADDR")
        ->required();
    app.add_option("--amount", amount_, "Amount in base units")->type_name("N")->required();
  }
  Result<TxPayload> Payload() override {
    auto v = FlagAddress(validator_, "--validator");
    if (!v) return std::unexpected(v.error());
    auto amount = FlagUint(amount_, "--amount");
    if (!amount) return std::unexpected(amount.error());
    if (undelegate_) return Wrap(UndelegateTx{*v, *amount});
    return Wrap(DelegateTx{*v, *amount});
  }

 private:
  bool undelegate_;
  std::string validator_, amount_;
};

class RedelegateBuilder : public KindBuilder {
 public:
  std::string_view name() const override { return "redelegate"; }
  std::string_view help() const override { return "Move AMOUNT of stake from one validator to another at once"; }
  void Setup(CLI::App& app) override {
    app.add_option("--src-validator", src_, "Validator to move the stake from")->type_name("ADDR")->required();
    app.add_option("--dst-validator", dst_, "Validator to move the stake to")->type_name("ADDR")->required();
    app.add_option("--amount", amount_, "Amount in base units")->type_name("N")->required();
  }
  Result<TxPayload> Payload() override {
    auto src = FlagAddress(src_, "--src-validator");
    if (!src) return std::unexpected(src.error());
    auto dst = FlagAddress(dst_, "--dst-validator");
    if (!dst) return std::unexpected(dst.error());
    if (*src == *dst) return cli::UsageError("--src-validator and --dst-validator are the same validator");
    auto amount = FlagUint(amount_, "--amount");
    if (!amount) return std::unexpected(amount.error());
    return Wrap(RedelegateTx{*src, *dst, *amount});
  }

 private:
  std::string src_, dst_, amount_;
};

class WithdrawBuilder : public KindBuilder {
 public:
  std::string_view name() const override { return "withdraw-rewards"; }
  std::string_view help() const override {
    return "Pay the pending rewards (and an operator's commission) to the balance";
  }
  void Setup(CLI::App& app) override {
    app.add_option("--validator", validator_, "Only the rewards with this validator (default: all)")
        ->type_name("ADDR");
  }
  Result<TxPayload> Payload() override {
    if (validator_.empty()) return Wrap(WithdrawRewardsTx{Address{}});
    auto v = FlagAddress(validator_, "--validator");
    if (!v) return std::unexpected(v.error());
    if (*v == Address{}) return cli::UsageError("--validator: the zero address means all; leave the flag out");
    return Wrap(WithdrawRewardsTx{*v});
  }

 private:
  std::string validator_;
};

class EditBuilder : public KindBuilder {
 public:
  std::string_view name() const override { return "validator-edit"; }
  std::string_view help() const override { return "Set the validator's commission, moniker and p2p address"; }
  void Setup(CLI::App& app) override {
    app.add_option("--commission-permille", commission_,
                   "New commission in thousandths (the tx sets all three fields: give the current one to keep it)")
        ->type_name("N")
        ->required();
    app.add_option("--moniker", moniker_, "Free-text name of the validator (default empty)")->type_name("STR");
    app.add_option("--p2p-addr", p2p_addr_, "host:port where the validator's node listens (default empty)")
        ->type_name("HOST:PORT");
  }
  Result<TxPayload> Payload() override {
    auto commission = FlagUint(commission_, "--commission-permille");
    if (!commission) return std::unexpected(commission.error());
    return Wrap(ValidatorEditTx{*commission, moniker_, p2p_addr_});
  }

 private:
  std::string commission_, moniker_, p2p_addr_;
};

class UnjailBuilder : public KindBuilder {
 public:
  std::string_view name() const override { return "unjail"; }
  std::string_view help() const override {
    return "Ask that the sender's validator, jailed for downtime, compete for the set again";
  }
  void Setup(CLI::App&) override {}
  Result<TxPayload> Payload() override { return Wrap(UnjailTx{}); }
};

class UnbondBuilder : public KindBuilder {
 public:
  std::string_view name() const override { return "validator-unbond"; }
  std::string_view help() const override { return "Start unbonding AMOUNT of stake"; }
  void Setup(CLI::App& app) override {
    app.add_option("--amount", amount_, "Stake to unbond, in base units")->type_name("N")->required();
  }
  Result<TxPayload> Payload() override {
    auto amount = FlagUint(amount_, "--amount");
    if (!amount) return std::unexpected(amount.error());
    return Wrap(ValidatorUnbondTx{*amount});
  }

 private:
  std::string amount_;
};

// The sender's next nonce as the node counts it (txs in its mempool
// included); 0 for an account the node does not know yet.
Result<uint64_t> NodeNonce(rpc::Client& node, const Address& from) {
  auto acc = node.CallRaw("tos_getAccount", Json::array({ToHex0x(from)}));
  if (!acc) return std::unexpected(acc.error());
  if (!*acc) {
    if (acc->error().code == rpc::kNotFound) return 0;
    return std::unexpected(Wrap(rpc::ToError(acc->error()), "tos_getAccount"));
  }
  const Json& j = **acc;
  auto it = j.is_object() ? j.find("next_nonce") : j.end();
  if (it == j.end() || !it->is_number_unsigned())
    return Fail(ErrorCode::kInvalid,
                "node at " + node.url() + " answered tos_getAccount without a next_nonce");
  return it->get<uint64_t>();
}

// The chain's parameters from tos_chainProfile; the node must run the chain
// the tx is for.
Result<ChainParams> NodeParams(rpc::Client& node, const std::string& chain_id) {
  auto profile = node.Call("tos_chainProfile", nullptr);
  if (!profile) return std::unexpected(profile.error());
  const Json& j = *profile;
  if (!j.is_object() || !j.contains("chain_id") || !j.contains("params") || !j["params"].is_object())
    return Fail(ErrorCode::kInvalid,
                "node at " + node.url() + " answered tos_chainProfile without chain_id/params");
  std::string node_chain =
      j["chain_id"].is_string() ? j["chain_id"].get<std::string>() : j["chain_id"].dump();
  if (node_chain != chain_id)
    return Fail(ErrorCode::kInvalid,
                "node at " + node.url() + " runs chain '" + node_chain + "', not '" + chain_id + "'",
                "check --chain-id and --rpc");
  ChainParams p;
  for (const auto& [name, value] : j["params"].items()) {
    if (!value.is_number_unsigned())
      return Fail(ErrorCode::kInvalid,
                  "node at " + node.url() + ": parameter '" + name + "' is not a number");
    // A parameter this build does not know cannot change the fee formula
    // it implements; skip it.
    (void)p.Set(name, std::to_string(value.get<uint64_t>()));
  }
  return p;
}

class Build : public cli::Command {
 public:
  std::string_view name() const override { return "build"; }
  std::string_view help() const override { return "Build an unsigned transaction of one kind"; }
  void Setup(CLI::App& app) override {
    app.require_subcommand(1);
    for (KindBuilder* k : kinds_) {
      CLI::App* sub = app.add_subcommand(std::string(k->name()), std::string(k->help()));
      common_.Setup(*sub);
      k->Setup(*sub);
      subs_.emplace_back(sub, k);
    }
    // Not a tx: the plan record validators sign (gtos-tx sign-plan), made
    // into a kind-13 tx by gtos-tx gather-plan.
    plan_sub_ = app.add_subcommand("upgrade-plan", "Write an unsigned upgrade_plan record (not a tx; docs/upgrades.md)");
    SetupPlanBuild(*plan_sub_);
  }
  Status Run() override {
    if (plan_sub_ && plan_sub_->parsed()) return RunPlanBuild();
    KindBuilder* kind = nullptr;
    for (auto& [sub, k] : subs_)
      if (sub->parsed()) kind = k;
    if (!kind) return cli::UsageError("no transaction kind given", "see 'gtos-tx build --help'");
    auto payload = kind->Payload();
    if (!payload) return std::unexpected(payload.error());
    auto body = common_.Body(std::move(*payload));
    if (!body) return std::unexpected(body.error());
    UnsignedTx utx{std::move(*body)};
    Bytes record = EncodeRecord(utx);
    // Never emit a record that decoders (ours or a node's) would refuse.
    auto check = DecodeRecord<UnsignedTx>(record);
    if (!check) return std::unexpected(check.error());
    cli::Output out;
    GTOS_TRY(out.Open(common_.output, common_.json ? cli::OutputKind::kText : cli::OutputKind::kBinary));
    if (common_.json) GTOS_TRY(out.WriteLine(ToJson(utx).dump()));
    else GTOS_TRY(out.Write(record));
    return out.Commit();
  }

 private:
  TransferBuilder transfer_;
  KvPutBuilder kv_put_;
  CodePutBuilder code_put_;
  SetSignerBuilder set_signer_;
  RegisterBuilder register_;
  UnbondBuilder unbond_;
  DelegationBuilder delegate_{false};
  DelegationBuilder undelegate_{true};
  RedelegateBuilder redelegate_;
  WithdrawBuilder withdraw_;
  UnjailBuilder unjail_;
  EditBuilder edit_;
  std::vector<KindBuilder*> kinds_{&transfer_, &kv_put_,    &code_put_,   &set_signer_, &register_, &unbond_,
                                   &delegate_, &undelegate_, &redelegate_, &withdraw_,   &edit_, &unjail_};
  CommonOptions common_;
  std::vector<std::pair<CLI::App*, KindBuilder*>> subs_;
  CLI::App* plan_sub_ = nullptr;
};

}  // namespace

Result<TxBody> CommonOptions::Body(TxPayload payload) const {
  TxBody tx;
  tx.chain_id = chain_id;
  if (auto st = CheckChainId(chain_id); !st) return cli::UsageError("--chain-id: " + st.error().message);
  if (!from.empty()) {
    auto a = FlagAddress(from, "--from");
    if (!a) return std::unexpected(a.error());
    tx.from = *a;
  } else if (!from_key.empty()) {
    auto pub = cli::LoadPublicKey(from_key);
    if (!pub) return std::unexpected(pub.error());
    tx.from = pub->address();
  } else {
    return cli::UsageError("one of --from ADDR or --from-key FILE is required");
  }
  if (nonce.empty() && rpc.empty())
    return cli::UsageError("--nonce is required", "pass --nonce N, or --rpc URL to ask the node for it");
  // The node is asked only for what the flags leave out, and always
  // checked to run the tx's chain when it is asked.
  std::optional<rpc::Client> node;
  ChainParams params;  // the defaults, offline
  if (!rpc.empty() && (nonce.empty() || fee.empty())) {
    node.emplace(rpc);
    auto p = NodeParams(*node, chain_id);
    if (!p) return std::unexpected(p.error());
    params = *p;
  }
  if (!nonce.empty()) {
    auto n = FlagUint(nonce, "--nonce");
    if (!n) return std::unexpected(n.error());
    tx.nonce = *n;
  } else {
    auto n = NodeNonce(*node, tx.from);
    if (!n) return std::unexpected(n.error());
    tx.nonce = *n;
  }
  tx.payload = std::move(payload);
  if (fee.empty()) {
    auto min = MinFee(tx, params);
    if (!min) return std::unexpected(min.error());
    tx.fee = *min;
  } else {
    auto v = FlagUint(fee, "--fee");
    if (!v) return std::unexpected(v.error());
    tx.fee = *v;
  }
  GTOS_TRY(tx.Validate());
  if (auto* k = std::get_if<KvPutTx>(&tx.payload.body); k && k->ttl == 0)
    return cli::UsageError("--ttl: must be at least 1");
  if (auto* c = std::get_if<CodePutTx>(&tx.payload.body); c && c->ttl == 0)
    return cli::UsageError("--ttl: must be at least 1");
  // When the node was asked, the chain's own limits apply now, not only
  // at send: sizes, max_ttl, max_tx_bytes and the minimum fee. (With
  // --nonce and --fee the build stays offline and unchecked.)
  if (node) {
    if (Status st = CheckTxParams(tx, params); !st)
      return Fail(ErrorCode::kInvalid, "the chain at " + node->url() + " would refuse this tx: " + st.error().message);
  }
  return tx;
}

cli::Command& BuildCommand() {
  static Build build;
  return build;
}

}  // namespace gtos::txtool
