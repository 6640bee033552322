#include "types/tx.h"

#include "crypto/hash.h"

namespace gtos {

namespace {
constexpr std::string_view kTxDomain = "GTOS-TX-V1";
constexpr std::string_view kKindNames[] = {"",         "transfer",           "set_signer",
                                           "code_put", "kv_put",             "validator_register",
                                           "validator_unbond", "delegate",         "undelegate",
                                           "redelegate",       "withdraw_rewards",   "validator_edit",
                                           "unjail",           "upgrade_plan"};

}  // namespace

std::string_view TxKindName(uint64_t kind) {
  return kind < std::size(kKindNames) ? kKindNames[kind] : std::string_view();
}

TxKind TxPayload::kind() const {
  return std::visit([](const auto& alt) { return std::decay_t<decltype(alt)>::kKind; }, body);
}

void TxPayload::Reset(uint64_t kind) {
  switch (static_cast<TxKind>(kind)) {
    case TxKind::kTransfer: body = TransferTx{}; break;
    case TxKind::kSetSigner: body = SetSignerTx{}; break;
    case TxKind::kCodePut: body = CodePutTx{}; break;
    case TxKind::kKvPut: body = KvPutTx{}; break;
    case TxKind::kValidatorRegister: body = ValidatorRegisterTx{}; break;
    case TxKind::kValidatorUnbond: body = ValidatorUnbondTx{}; break;
    case TxKind::kDelegate: body = DelegateTx{}; break;
    case TxKind::kUndelegate: body = UndelegateTx{}; break;
    case TxKind::kRedelegate: body = RedelegateTx{}; break;
    case TxKind::kWithdrawRewards: body = WithdrawRewardsTx{}; break;
    case TxKind::kValidatorEdit: body = ValidatorEditTx{}; break;
    case TxKind::kUnjail: body = UnjailTx{}; break;
    case TxKind::kUpgradePlan: body = UpgradePlanTx{}; break;
  }
}

Status CheckChainId(std::string_view id) {
  if (id.empty() || id.size() > kMaxChainIdBytes)
    return Invalid("field 'chain_id': must be 1 to 64 characters");
  for (char c : id) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.';
    if (!ok) return Invalid("field 'chain_id': '" + std::string(id) + "' may only contain A-Z a-z 0-9 . _ -");
  }
  return Ok();
}

Status TxBody::Validate() const {
  GTOS_TRY(CheckChainId(chain_id));
  if (auto* s = std::get_if<SetSignerTx>(&payload.body))
    return CheckPublicKey("payload.public_key", s->algo, s->public_key);
  if (auto* r = std::get_if<ValidatorRegisterTx>(&payload.body)) {
    if (r->stake == 0) return Invalid("field 'payload.stake': must be greater than 0");
    return CheckPublicKey("payload.consensus_key", r->consensus_algo, r->consensus_key);
  }
  if (auto* u = std::get_if<ValidatorUnbondTx>(&payload.body))
    if (u->amount == 0) return Invalid("field 'payload.amount': must be greater than 0");
  if (auto* d = std::get_if<DelegateTx>(&payload.body))
    if (d->amount == 0) return Invalid("field 'payload.amount': must be greater than 0");
  if (auto* u = std::get_if<UndelegateTx>(&payload.body))
    if (u->amount == 0) return Invalid("field 'payload.amount': must be greater than 0");
  if (auto* r = std::get_if<RedelegateTx>(&payload.body)) {
    if (r->amount == 0) return Invalid("field 'payload.amount': must be greater than 0");
    if (r->src_validator == r->dst_validator)
      return Invalid("field 'payload.dst_validator': must differ from src_validator");
  }
  if (auto* u = std::get_if<UpgradePlanTx>(&payload.body)) {
    // The plan's shape and its chain are structural; the activation
    // window, the resulting params and the quorum need state (executor).
    auto st = u->plan.Validate();
    if (!st) return Invalid("field 'payload.plan': " + st.error().message);
    if (u->plan.chain_id != chain_id)
      return Invalid("field 'payload.plan.chain_id': '" + u->plan.chain_id + "' differs from the tx's chain id");
    for (size_t i = 0; i < u->signatures.size(); ++i) {
      const PlanSignature& s = u->signatures[i];
      GTOS_TRY(CheckPublicKey("payload.signatures." + std::to_string(i) + ".public_key", s.algo, s.public_key));
      if (i > 0 && !(PlanSigner(u->signatures[i - 1]) < PlanSigner(s)))
        return Invalid("field 'payload.signatures': must be sorted by signer address, each signer once");
    }
  }
  return Ok();
}

Bytes TxBody::Encode() const {
  codec::Writer w;
  codec::EncodeObject(w, *this);
  return w.Take();
}

Hash32 TxBody::Id() const { return IdOf(Encode()); }

Hash32 TxBody::IdOf(ByteView encoded_body) { return crypto::Sha256Tagged(kTxDomain, encoded_body); }

Status SignedTx::Validate() const {
  GTOS_TRY(tx.Validate());
  const crypto::SigAlgo* a = crypto::FindAlgo(algo);
  if (!a) return Invalid("field 'algo': unknown algorithm " + std::to_string(algo));
  if (public_key.size() != a->public_size)
    return Invalid("field 'public_key': expected " + std::to_string(a->public_size) + " bytes for " +
                   std::string(a->name) + ", got " + std::to_string(public_key.size()));
  if (signature.size() != a->signature_size)
    return Invalid("field 'signature': expected " + std::to_string(a->signature_size) + " bytes for " +
                   std::string(a->name) + ", got " + std::to_string(signature.size()));
  return Ok();
}

static std::optional<uint64_t> TtlOf(const TxPayload& p) {
  if (auto* c = std::get_if<CodePutTx>(&p.body)) return c->ttl;
  if (auto* k = std::get_if<KvPutTx>(&p.body)) return k->ttl;
  return std::nullopt;
}

static uint64_t StoredBytes(const TxPayload& p) {
  if (auto* c = std::get_if<CodePutTx>(&p.body)) return c->code.size();
  if (auto* k = std::get_if<KvPutTx>(&p.body)) return k->ns.size() + k->key.size() + k->value.size();
  return 0;
}

Result<uint64_t> MinFee(const TxBody& tx, const ChainParams& params) {
  codec::Writer w;
  codec::EncodeObject(w, tx.payload);
  uint64_t fee = 0, size_part = 0, storage_part = 0;
  bool overflow = __builtin_mul_overflow(params.fee_per_byte, w.bytes().size(), &size_part);
  if (auto ttl = TtlOf(tx.payload)) {
    overflow |= __builtin_mul_overflow(params.fee_per_byte_block, StoredBytes(tx.payload), &storage_part);
    overflow |= __builtin_mul_overflow(storage_part, *ttl, &storage_part);
  }
  overflow |= __builtin_add_overflow(params.fee_base, size_part, &fee);
  overflow |= __builtin_add_overflow(fee, storage_part, &fee);
  if (overflow) return Invalid("minimum fee overflows 64 bits (ttl or size too large)");
  return fee;
}

static Status CheckSize(std::string_view field, size_t size, uint64_t max, std::string_view param) {
  if (size > max)
    return Invalid("field '" + std::string(field) + "': " + std::to_string(size) + " bytes exceeds " +
                   std::string(param) + " " + std::to_string(max));
  return Ok();
}

Status CheckTxParams(const TxBody& tx, const ChainParams& params, size_t body_bytes) {
  GTOS_TRY(tx.Validate());
  if (auto ttl = TtlOf(tx.payload)) {
    if (*ttl == 0) return Invalid("field 'payload.ttl': must be at least 1");
    if (*ttl > params.max_ttl)
      return Invalid("field 'payload.ttl': " + std::to_string(*ttl) + " exceeds max_ttl " +
                     std::to_string(params.max_ttl));
  }
  if (auto* k = std::get_if<KvPutTx>(&tx.payload.body)) {
    GTOS_TRY(CheckSize("payload.namespace", k->ns.size(), params.max_namespace_bytes, "max_namespace_bytes"));
    GTOS_TRY(CheckSize("payload.key", k->key.size(), params.max_key_bytes, "max_key_bytes"));
    GTOS_TRY(CheckSize("payload.value", k->value.size(), params.max_value_bytes, "max_value_bytes"));
  }
  if (auto* c = std::get_if<CodePutTx>(&tx.payload.body)) {
    if (c->code.empty()) return Invalid("field 'payload.code': must not be empty");
    GTOS_TRY(CheckSize("payload.code", c->code.size(), params.max_code_bytes, "max_code_bytes"));
  }
  uint64_t commission = UINT64_MAX;
  if (auto* r = std::get_if<ValidatorRegisterTx>(&tx.payload.body)) commission = r->commission_permille;
  if (auto* e = std::get_if<ValidatorEditTx>(&tx.payload.body)) commission = e->commission_permille;
  if (commission != UINT64_MAX && commission > params.max_commission_permille)
    return Invalid("field 'payload.commission_permille': " + std::to_string(commission) +
                   " exceeds max_commission_permille " + std::to_string(params.max_commission_permille));
  GTOS_TRY(CheckSize("tx", body_bytes ? body_bytes : tx.Encode().size(), params.max_tx_bytes, "max_tx_bytes"));
  auto min_fee = MinFee(tx, params);
  if (!min_fee) return std::unexpected(min_fee.error());
  if (tx.fee < *min_fee)
    return Invalid("field 'fee': " + std::to_string(tx.fee) + " is below the minimum fee " +
                   std::to_string(*min_fee));
  return Ok();
}

Status VerifySignedTx(const SignedTx& stx, SignerCheck check, const Hash32& id) {
  GTOS_TRY(stx.Validate());
  const crypto::SigAlgo* a = crypto::FindAlgo(stx.algo);
  if (check == SignerCheck::kFallback &&
      crypto::DeriveAddress(a->id, stx.public_key) != stx.tx.from)
    return Fail(ErrorCode::kCrypto,
                "public key does not derive to 'from' " + ToHex0x(stx.tx.from) + " (derives to " +
                    ToHex0x(crypto::DeriveAddress(a->id, stx.public_key)) + ")");
  if (!a->verify(stx.public_key, id, stx.signature))
    return Fail(ErrorCode::kCrypto, "signature does not verify");
  return Ok();
}

Result<SignedTx> SignTx(const TxBody& tx, const crypto::SigAlgo& algo, ByteView secret,
                        const Bytes& public_key) {
  auto sig = crypto::SignDigest(algo, secret, public_key, tx.Id());
  if (!sig) return std::unexpected(sig.error());
  SignedTx stx;
  stx.tx = tx;
  stx.algo = static_cast<uint64_t>(algo.id);
  stx.public_key = public_key;
  stx.signature = std::move(*sig);
  return stx;
}

}  // namespace gtos
