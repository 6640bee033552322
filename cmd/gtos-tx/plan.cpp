// The upgrade-plan ceremony (docs/upgrades.md section 5, man/gtos-tx.1):
//   gtos-tx build upgrade-plan  -> an upgrade_plan record without signatures
//   gtos-tx sign-plan           -> the same record with one more signature
//   gtos-tx gather-plan         -> records of one plan merged into a kind-13 tx
// Each validator signs offline with its account key; nothing here needs a
// node, except gather-plan's --rpc for the nonce and fee like `build`.
#include <algorithm>
#include <map>

#include "cli/passphrase.h"
#include "cli/record_io.h"
#include "common.h"
#include "rpc/client.h"
#include "types/json.h"
#include "types/records.h"

namespace gtos::txtool {

namespace {

struct PlanBuildFlags {
  std::string chain_id, name, activation_height, required_version, output;
  std::vector<std::string> params;
  bool json = false;
} g_plan;

Status WriteRecord(const UpgradePlanRecord& rec, const std::string& output, bool json) {
  Bytes record = EncodeRecord(rec);
  // Never emit a record that decoders would refuse.
  auto check = DecodeRecord<UpgradePlanRecord>(record);
  if (!check) return std::unexpected(check.error());
  cli::Output out;
  GTOS_TRY(out.Open(output, json ? cli::OutputKind::kText : cli::OutputKind::kBinary));
  if (json) GTOS_TRY(out.WriteLine(ToJson(AnyRecord(rec)).dump()));
  else GTOS_TRY(out.Write(record));
  return out.Commit();
}

// Reads every upgrade_plan record of `files` (stdin when empty).
Result<std::vector<UpgradePlanRecord>> ReadPlans(const std::vector<std::string>& files) {
  cli::RecordReader reader(files);
  std::vector<UpgradePlanRecord> out;
  for (;;) {
    auto p = reader.Next();
    if (!p) return std::unexpected(p.error());
    if (!*p) break;
    auto rec = DecodeRecordFrom<UpgradePlanRecord>(**p);
    if (!rec) return std::unexpected(Wrap(rec.error(), reader.Where()));
    out.push_back(std::move(*rec));
  }
  if (out.empty()) return Invalid("no upgrade_plan record in input");
  return out;
}

Status CheckSignature(const UpgradePlan& plan, const PlanSignature& s) {
  const crypto::SigAlgo* a = crypto::FindAlgo(s.algo);
  if (!a || s.public_key.size() != a->public_size || !a->check_public(s.public_key))
    return Invalid("a signature carries a malformed public key");
  if (!a->verify(s.public_key, plan.SigningDigest(), s.signature))
    return Fail(ErrorCode::kCrypto, "the signature by " + ToHex0x(PlanSigner(s)) + " does not verify");
  return Ok();
}

// With --rpc: the signers' share of the active set's power as the node
// sees it now (dpos_getValidators), refused unless more than 2/3 — the
// chain would refuse it too (plan_quorum), with the fee charged. The set
// may still change at an epoch boundary before the tx is included.
Status CheckQuorumAtNode(const std::string& url, const std::vector<PlanSignature>& sigs) {
  rpc::Client node(url);
  auto vs = node.Call("dpos_getValidators", nullptr);
  if (!vs) return std::unexpected(vs.error());
  if (vs->is_object() && vs->contains("validators")) vs = Json((*vs)["validators"]);
  if (!vs->is_array()) return Fail(ErrorCode::kInvalid, "node at " + url + " answered dpos_getValidators without a list");
  __extension__ using U128 = unsigned __int128;
  U128 total = 0, signed_power = 0;
  for (const Json& v : *vs) {
    if (!v.is_object() || !v.value("active", false) || !v.contains("power") || !v["power"].is_number_unsigned())
      continue;
    uint64_t power = v["power"].get<uint64_t>();
    total += power;
    std::string addr = v.value("address", "");
    for (const PlanSignature& s : sigs)
      if (ToHex0x(PlanSigner(s)) == addr) signed_power += power;
  }
  if (3 * signed_power > 2 * total) return Ok();
  return Fail(ErrorCode::kInvalid,
              "the signers hold power " + std::to_string(static_cast<uint64_t>(signed_power)) + " of the active set's " +
                  std::to_string(static_cast<uint64_t>(total)) + " at " + url + ": more than 2/3 is needed",
              "gather more validators' sign-plan records");
}

class SignPlan : public cli::Command {
 public:
  std::string_view name() const override { return "sign-plan"; }
  std::string_view help() const override {
    return "Add this key's signature to an upgrade_plan record; the record out";
  }
  void Setup(CLI::App& app) override {
    app.add_option("--key", key_file_, "Validator's account (private) key record")->type_name("FILE")->required();
    app.add_option("--passphrase-file", passphrase_file_, "Passphrase of an encrypted key")->type_name("FILE");
    app.add_option("file", file_, "upgrade_plan record (default: stdin)")->type_name("FILE");
    app.add_option("-o,--output", output_, "Write to FILE instead of stdout")->type_name("FILE");
    app.add_flag("--json", json_, "Print a JSON line instead of a record");
  }
  Status Run() override {
    auto plans = ReadPlans(file_.empty() ? std::vector<std::string>{} : std::vector<std::string>{file_});
    if (!plans) return std::unexpected(plans.error());
    if (plans->size() != 1) return Invalid("expected one upgrade_plan record, got " + std::to_string(plans->size()));
    UpgradePlanRecord rec = std::move(plans->front());
    GTOS_TRY(rec.plan.Validate());
    auto key = cli::LoadAndUnlockKey(key_file_, passphrase_file_);
    if (!key) return std::unexpected(key.error());
    auto sig = gtos::SignPlan(rec.plan, *key->algo, key->secret.view(), key->record.public_key);
    if (!sig) return std::unexpected(sig.error());
    AddPlanSignature(&rec.signatures, std::move(*sig));
    return WriteRecord(rec, output_, json_);
  }

 private:
  std::string key_file_, passphrase_file_, file_, output_;
  bool json_ = false;
};

class GatherPlan : public cli::Command {
 public:
  std::string_view name() const override { return "gather-plan"; }
  std::string_view help() const override {
    return "Merge the signed upgrade_plan records of one plan into an unsigned upgrade_plan tx (kind 13)";
  }
  void Setup(CLI::App& app) override {
    common_.Setup(app);
    app.add_option("files", files_, "upgrade_plan records, one per signer or already merged (default: stdin)")
        ->type_name("FILE");
  }
  Status Run() override {
    auto plans = ReadPlans(files_);
    if (!plans) return std::unexpected(plans.error());
    UpgradePlanTx u;
    u.plan = plans->front().plan;
    const Hash32 digest = u.plan.SigningDigest();
    for (const UpgradePlanRecord& rec : *plans) {
      if (rec.plan.SigningDigest() != digest)
        return Fail(ErrorCode::kInvalid,
                    "the records are not all of one plan (digest " + ToHex0x(rec.plan.SigningDigest()) +
                        ", first " + ToHex0x(digest) + ")",
                    "build the plan once (gtos-tx build upgrade-plan) and have each validator sign a copy of it");
      for (const PlanSignature& s : rec.signatures) {
        GTOS_TRY(CheckSignature(u.plan, s));
        AddPlanSignature(&u.signatures, s);
      }
    }
    if (u.signatures.empty())
      return Fail(ErrorCode::kInvalid, "the plan carries no signature", "each validator runs gtos-tx sign-plan");
    if (u.plan.chain_id != common_.chain_id)
      return cli::UsageError("--chain-id '" + common_.chain_id + "' differs from the plan's chain '" +
                             u.plan.chain_id + "'");
    if (!common_.rpc.empty()) GTOS_TRY(CheckQuorumAtNode(common_.rpc, u.signatures));
    TxPayload payload;
    payload.body = std::move(u);
    auto body = common_.Body(std::move(payload));
    if (!body) return std::unexpected(body.error());
    UnsignedTx utx{std::move(*body)};
    Bytes record = EncodeRecord(utx);
    auto check = DecodeRecord<UnsignedTx>(record);
    if (!check) return std::unexpected(check.error());
    cli::Output out;
    GTOS_TRY(out.Open(common_.output, common_.json ? cli::OutputKind::kText : cli::OutputKind::kBinary));
    if (common_.json) GTOS_TRY(out.WriteLine(ToJson(utx).dump()));
    else GTOS_TRY(out.Write(record));
    return out.Commit();
  }

 private:
  CommonOptions common_;
  std::vector<std::string> files_;
};

}  // namespace

void SetupPlanBuild(CLI::App& app) {
  app.add_option("--chain-id", g_plan.chain_id, "Chain the plan is for")->type_name("ID")->required();
  app.add_option("--name", g_plan.name, "Plan name: 1-32 bytes of [a-z0-9.-]")->type_name("NAME")->required();
  app.add_option("--activation-height", g_plan.activation_height,
                 "Height whose block first runs under the new parameters")
      ->type_name("H")
      ->required();
  app.add_option("--param", g_plan.params, "A parameter change (repeatable; at most 16)")->type_name("NAME=VALUE");
  app.add_option("--required-version", g_plan.required_version,
                 "Nodes of an older build halt before the activation height (default: none)")
      ->type_name("VERSION");
  app.add_option("-o,--output", g_plan.output, "Write to FILE instead of stdout")->type_name("FILE");
  app.add_flag("--json", g_plan.json, "Print a JSON line instead of a record");
}

Status RunPlanBuild() {
  UpgradePlanRecord rec;
  if (auto st = CheckChainId(g_plan.chain_id); !st) return cli::UsageError("--chain-id: " + st.error().message);
  rec.plan.chain_id = g_plan.chain_id;
  rec.plan.name = g_plan.name;
  auto h = FlagUint(g_plan.activation_height, "--activation-height");
  if (!h) return std::unexpected(h.error());
  rec.plan.activation_height = *h;
  rec.plan.required_version = g_plan.required_version;
  std::map<std::string, uint64_t> changes;  // sorted by name, as the plan requires
  ChainParams probe;
  for (const std::string& kv : g_plan.params) {
    size_t eq = kv.find('=');
    if (eq == std::string::npos) return cli::UsageError("--param '" + kv + "': expected NAME=VALUE");
    std::string name = kv.substr(0, eq);
    if (auto st = probe.Set(name, kv.substr(eq + 1)); !st) return cli::UsageError("--param: " + st.error().message);
    auto v = FlagUint(kv.substr(eq + 1), "--param " + name);
    if (!v) return std::unexpected(v.error());
    if (!changes.emplace(name, *v).second) return cli::UsageError("--param '" + name + "' given twice");
  }
  for (const auto& [name, value] : changes) rec.plan.changes.push_back(ParamChange{name, value});
  if (auto st = rec.plan.Validate(); !st) return cli::UsageError(st.error().message);
  return WriteRecord(rec, g_plan.output, g_plan.json);
}

cli::Command& SignPlanCommand() {
  static SignPlan c;
  return c;
}

cli::Command& GatherPlanCommand() {
  static GatherPlan c;
  return c;
}

}  // namespace gtos::txtool
