// Regenerates tests/vectors/tx_vectors.json (checked by vectors_test).
//
//   build/tests/gen_tx_vectors [path]   (default: the source tree's file)
//
// Vectors whose encoding the current definitions reproduce are kept as they
// are (their secp256r1 signatures are random and stay pinned); every other
// kind is (re)built from the key, chain id and nonce base of the file's
// transfer vector of the same algorithm, with the payloads below, the
// minimum fee under the default parameters and a fresh signature. Review
// the diff before committing it.
#include <cstdio>
#include <fstream>
#include <map>
#include <string>

#include "crypto/sig.h"
#include "types/json.h"
#include "types/records.h"

using namespace gtos;

namespace {

Address Filled(uint8_t b) {
  Address a;
  a.v.fill(b);
  return a;
}

// A plan changing two parameters of `chain_id` at height 5000, signed by
// the vector's own key (the signer need not be a validator to encode).
std::optional<TxPayload> PlanPayload(const std::string& chain_id, const crypto::SigAlgo& a, const Bytes& secret,
                                     const Bytes& pub) {
  UpgradePlanTx u;
  u.plan.chain_id = chain_id;
  u.plan.name = "fees-2";
  u.plan.activation_height = 5000;
  u.plan.changes = {{"fee_base", 2000}, {"target_block_interval_ms", 500}};
  u.plan.required_version = "0.9.0";
  auto sig = SignPlan(u.plan, a, secret, pub);
  if (!sig) return std::nullopt;
  u.signatures.push_back(*sig);
  return TxPayload{u};
}

// The payload of each kind this generator builds (kinds 5 and 7-13). A
// registration keeps the stake and consensus key of the file's vector.
std::optional<TxPayload> PayloadOf(uint64_t kind, const Json& old_payload, size_t group) {
  switch (static_cast<TxKind>(kind)) {
    case TxKind::kValidatorRegister: {
      ValidatorRegisterTx r;
      r.stake = old_payload["stake"].get<uint64_t>();
      const crypto::SigAlgo* ca = crypto::FindAlgo(old_payload["consensus_algo"].get<std::string>());
      auto key = FromHex(old_payload["consensus_key"].get<std::string>().substr(2), "consensus key");
      if (!ca || !key) return std::nullopt;
      r.consensus_algo = static_cast<uint64_t>(ca->id);
      r.consensus_key = *key;
      r.commission_permille = 50;
      r.moniker = "vector validator";
      r.p2p_addr = "203.0.113.7:26656";
      return TxPayload{r};
    }
    case TxKind::kDelegate: return TxPayload{DelegateTx{Filled(0x22), 5'000'000}};
    case TxKind::kUndelegate: return TxPayload{UndelegateTx{Filled(0x22), 1'000'000}};
    case TxKind::kRedelegate: return TxPayload{RedelegateTx{Filled(0x22), Filled(0x33), 2'000'000}};
    case TxKind::kWithdrawRewards:
      // The zero address (all validators) in the first group, one validator in the others.
      return TxPayload{WithdrawRewardsTx{group == 0 ? Address{} : Filled(0x22)}};
    case TxKind::kValidatorEdit: return TxPayload{ValidatorEditTx{60, "edited", "198.51.100.1:26656"}};
    case TxKind::kUnjail: return TxPayload{UnjailTx{}};
    default: return std::nullopt;
  }
}

int Fail(const std::string& msg) {
  std::fprintf(stderr, "fatal: %s\n", msg.c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  std::string path = argc > 1 ? argv[1] : std::string(GTOS_SOURCE_DIR) + "/tests/vectors/tx_vectors.json";
  std::ifstream in(path);
  if (!in) return Fail("unable to open '" + path + "'");
  Json file = Json::parse(in, nullptr, false);
  if (file.is_discarded()) return Fail("'" + path + "' is not JSON");
  const ChainParams defaults;
  // Existing vectors by name; the transfer vector of each algorithm is the template.
  std::map<std::string, Json> old;
  std::vector<std::string> algos;
  for (const Json& v : file["vectors"]) {
    old[v["name"].get<std::string>()] = v;
    if (v["kind"] == "transfer") algos.push_back(v["algo"].get<std::string>());
  }
  Json out = Json::array();
  for (size_t group = 0; group < algos.size(); ++group) {
    const Json& tmpl = old.at(algos[group] + "/transfer");
    const crypto::SigAlgo* a = crypto::FindAlgo(algos[group]);
    auto secret = FromHex(tmpl["secret_key"].get<std::string>(), "secret");
    auto pub = FromHex(tmpl["public_key"].get<std::string>(), "public key");
    auto base = DecodeRecord<UnsignedTx>(*FromHex(tmpl["unsigned_tx"].get<std::string>(), "tx"));
    if (!a || !secret || !pub || !base) return Fail("bad template " + algos[group]);
    for (uint64_t kind = 1; !TxKindName(kind).empty(); ++kind) {
      std::string name = algos[group] + "/" + std::string(TxKindName(kind));
      UnsignedTx utx = *base;
      utx.tx.nonce = base->tx.nonce + kind - 1;
      if (old.contains(name)) {
        auto kept = DecodeRecord<UnsignedTx>(*FromHex(old[name]["unsigned_tx"].get<std::string>(), "tx"));
        if (kept) {  // still decodes under today's definitions: keep it
          out.push_back(old[name]);
          continue;
        }
      }
      Json old_payload = old.contains(name) ? old[name]["unsigned_tx_json"]["tx"]["payload"] : Json::object();
      auto payload = kind == static_cast<uint64_t>(TxKind::kUpgradePlan)
                         ? PlanPayload(utx.tx.chain_id, *a, *secret, *pub)
                         : PayloadOf(kind, old_payload, group);
      if (!payload) return Fail(name + ": no payload definition");
      utx.tx.payload = *payload;
      auto fee = MinFee(utx.tx, defaults);
      if (!fee) return Fail(name + ": " + fee.error().message);
      utx.tx.fee = *fee;
      auto stx = SignTx(utx.tx, *a, *secret, *pub);
      if (!stx) return Fail(name + ": " + stx.error().message);
      Json v;
      v["name"] = name;
      v["algo"] = algos[group];
      v["kind"] = std::string(TxKindName(kind));
      v["secret_key"] = tmpl["secret_key"];
      v["public_key"] = tmpl["public_key"];
      v["address"] = tmpl["address"];
      v["min_fee"] = *fee;
      v["unsigned_tx"] = ToHex(EncodeRecord(utx));
      v["id"] = ToHex0x(utx.tx.Id());
      v["signature"] = ToHex(stx->signature);
      v["deterministic"] = a->id != crypto::AlgoId::kSecp256r1;
      v["signed_tx"] = ToHex(EncodeRecord(*stx));
      v["unsigned_tx_json"] = ToJson(AnyRecord(utx));
      v["signed_tx_json"] = ToJson(AnyRecord(*stx));
      out.push_back(v);
    }
  }
  file["vectors"] = out;
  std::ofstream o(path, std::ios::trunc);
  o << file.dump(2) << "\n";
  if (!o) return Fail("unable to write '" + path + "'");
  std::printf("wrote %zu vectors to %s\n", out.size(), path.c_str());
  return 0;
}
