// Transactions: the body every kind shares, the per-kind payloads, and the
// unsigned and signed tx records. docs/formats.md gives the byte layout.
//
// tx id = SHA-256("GTOS-TX-V1" || canonical encoding of the body array).
// The id is also the 32-byte digest every signature algorithm signs, so an
// unsigned tx and its signed form share one id.
#ifndef GTOS_TYPES_TX_H_
#define GTOS_TYPES_TX_H_

#include <string>
#include <variant>

#include "codec/visit.h"
#include "crypto/sig.h"
#include "types/keys.h"
#include "types/params.h"
#include "types/record_type.h"
#include "types/upgrade.h"

namespace gtos {

// Absolute caps enforced by the decoder; genesis limits may be lower.
inline constexpr size_t kMaxChainIdBytes = 64;
inline constexpr size_t kMaxNamespaceBytes = 1024;
inline constexpr size_t kMaxKeyBytes = 4096;
inline constexpr size_t kMaxValueBytes = 4 << 20;
inline constexpr size_t kMaxCodeBytes = 4 << 20;
inline constexpr size_t kMaxPublicKeyBytes = 65;
inline constexpr size_t kMaxSignatureBytes = 72;
inline constexpr size_t kMaxMonikerBytes = 64;
inline constexpr size_t kMaxP2pAddrBytes = 255;

enum class TxKind : uint64_t {
  kTransfer = 1,
  kSetSigner = 2,
  kCodePut = 3,
  kKvPut = 4,
  kValidatorRegister = 5,
  kValidatorUnbond = 6,
  kDelegate = 7,
  kUndelegate = 8,
  kRedelegate = 9,
  kWithdrawRewards = 10,
  kValidatorEdit = 11,
  kUnjail = 12,
  kUpgradePlan = 13,
};
// "kv_put"; empty when unknown.
std::string_view TxKindName(uint64_t kind);

struct TransferTx {
  static constexpr TxKind kKind = TxKind::kTransfer;
  Address to;
  uint64_t amount = 0;
  template <class V> void Fields(V& v) {
    v.Fixed("to", to);
    v.Uint("amount", amount);
  }
};

struct SetSignerTx {
  static constexpr TxKind kKind = TxKind::kSetSigner;
  uint64_t algo = 0;
  Bytes public_key;
  template <class V> void Fields(V& v) {
    v.Enum("algo", algo, AlgoName);
    v.Bin("public_key", public_key, kMaxPublicKeyBytes);
  }
};

struct CodePutTx {
  static constexpr TxKind kKind = TxKind::kCodePut;
  Bytes code;
  uint64_t ttl = 0;
  template <class V> void Fields(V& v) {
    v.Bin("code", code, kMaxCodeBytes);
    v.Uint("ttl", ttl);
  }
};

struct KvPutTx {
  static constexpr TxKind kKind = TxKind::kKvPut;
  Bytes ns;  // "namespace" on the wire and in JSON
  Bytes key;
  Bytes value;
  uint64_t ttl = 0;
  template <class V> void Fields(V& v) {
    v.Bin("namespace", ns, kMaxNamespaceBytes);
    v.Bin("key", key, kMaxKeyBytes);
    v.Bin("value", value, kMaxValueBytes);
    v.Uint("ttl", ttl);
  }
};

struct ValidatorRegisterTx {
  static constexpr TxKind kKind = TxKind::kValidatorRegister;
  uint64_t stake = 0;
  uint64_t consensus_algo = 0;
  Bytes consensus_key;
  uint64_t commission_permille = 0;  // <= max_commission_permille
  std::string moniker;               // free text, may be empty
  std::string p2p_addr;              // "host:port", may be empty
  template <class V> void Fields(V& v) {
    v.Uint("stake", stake);
    v.Enum("consensus_algo", consensus_algo, AlgoName);
    v.Bin("consensus_key", consensus_key, kMaxPublicKeyBytes);
    v.Uint("commission_permille", commission_permille, 1000);
    v.Str("moniker", moniker, kMaxMonikerBytes);
    v.Str("p2p_addr", p2p_addr, kMaxP2pAddrBytes);
  }
};

struct ValidatorUnbondTx {
  static constexpr TxKind kKind = TxKind::kValidatorUnbond;
  uint64_t amount = 0;
  template <class V> void Fields(V& v) { v.Uint("amount", amount); }
};

// Bonds `amount` of the sender's balance to `validator` (docs/state.md
// section 9.4). To one's own validator it adds to the self-bond.
struct DelegateTx {
  static constexpr TxKind kKind = TxKind::kDelegate;
  Address validator;
  uint64_t amount = 0;
  template <class V> void Fields(V& v) {
    v.Fixed("validator", validator);
    v.Uint("amount", amount);
  }
};

// Unbonds `amount` of the sender's stake with `validator`; it returns to the
// balance unbonding_blocks later.
struct UndelegateTx {
  static constexpr TxKind kKind = TxKind::kUndelegate;
  Address validator;
  uint64_t amount = 0;
  template <class V> void Fields(V& v) {
    v.Fixed("validator", validator);
    v.Uint("amount", amount);
  }
};

// Moves `amount` of the sender's stake from one validator to another at once.
struct RedelegateTx {
  static constexpr TxKind kKind = TxKind::kRedelegate;
  Address src_validator;
  Address dst_validator;
  uint64_t amount = 0;
  template <class V> void Fields(V& v) {
    v.Fixed("src_validator", src_validator);
    v.Fixed("dst_validator", dst_validator);
    v.Uint("amount", amount);
  }
};

// Pays the sender's pending rewards with `validator` (and the validator's
// commission when the sender is that validator). The zero address means
// every validator the sender delegates to.
struct WithdrawRewardsTx {
  static constexpr TxKind kKind = TxKind::kWithdrawRewards;
  Address validator;
  template <class V> void Fields(V& v) { v.Fixed("validator", validator); }
};

// Changes the sender's validator record: commission (within the limits of
// docs/state.md section 9.5), moniker and p2p address.
struct ValidatorEditTx {
  static constexpr TxKind kKind = TxKind::kValidatorEdit;
  uint64_t commission_permille = 0;
  std::string moniker;
  std::string p2p_addr;
  template <class V> void Fields(V& v) {
    v.Uint("commission_permille", commission_permille, 1000);
    v.Str("moniker", moniker, kMaxMonikerBytes);
    v.Str("p2p_addr", p2p_addr, kMaxP2pAddrBytes);
  }
};

// Asks that the sender's validator, jailed for downtime, compete for the
// active set again (docs/state.md section 9.8). No fields: on the wire [12].
struct UnjailTx {
  static constexpr TxKind kKind = TxKind::kUnjail;
  template <class V> void Fields(V&) {}
};

// A parameter-change plan with the signatures of validators holding more
// than 2/3 of the active set's power, sorted by signer address
// (docs/upgrades.md section 5, docs/state.md section 9.9). On the wire
// [13, plan, [[algo, public_key, signature], ...]]. Any account may send
// it; it pays the fee.
struct UpgradePlanTx {
  static constexpr TxKind kKind = TxKind::kUpgradePlan;
  UpgradePlan plan;
  std::vector<PlanSignature> signatures;
  template <class V> void Fields(V& v) {
    v.Object("plan", plan);
    v.List("signatures", signatures, kMaxPlanSignatures);
  }
};

// The kind-specific part: on the wire an array [kind, fields...].
struct TxPayload {
  std::variant<TransferTx, SetSignerTx, CodePutTx, KvPutTx, ValidatorRegisterTx, ValidatorUnbondTx, DelegateTx,
               UndelegateTx, RedelegateTx, WithdrawRewardsTx, ValidatorEditTx, UnjailTx, UpgradePlanTx>
      body;

  TxKind kind() const;
  // Replaces body with a default payload of `kind`. REQUIRES: a known kind.
  void Reset(uint64_t kind);

  template <class V> void Fields(V& v) {
    uint64_t k = static_cast<uint64_t>(kind());
    v.Enum("kind", k, TxKindName);
    if constexpr (V::kDecoding) {
      if (TxKindName(k).empty()) return;  // the visitor has recorded the error
      Reset(k);
    }
    std::visit([&v](auto& alt) { alt.Fields(v); }, body);
  }
};

struct TxBody {
  std::string chain_id;
  Address from;
  uint64_t nonce = 0;
  uint64_t fee = 0;
  TxPayload payload;

  template <class V> void Fields(V& v) {
    v.Str("chain_id", chain_id, kMaxChainIdBytes);
    v.Fixed("from", from);
    v.Uint("nonce", nonce);
    v.Uint("fee", fee);
    v.Object("payload", payload);
  }
  Status Validate() const;  // structural checks only (no chain state)
  // The canonical encoding of the body array, which the id hashes.
  Bytes Encode() const;
  Hash32 Id() const;
  // The id of a body from its canonical encoding (Encode()).
  static Hash32 IdOf(ByteView encoded_body);
};

struct UnsignedTx {
  static constexpr RecordType kType = RecordType::kUnsignedTx;
  static constexpr uint64_t kVersion = 1;
  TxBody tx;
  template <class V> void Fields(V& v) { v.Object("tx", tx); }
  Status Validate() const { return tx.Validate(); }
};

struct SignedTx {
  static constexpr RecordType kType = RecordType::kSignedTx;
  static constexpr uint64_t kVersion = 1;
  TxBody tx;
  uint64_t algo = 0;
  Bytes public_key;
  Bytes signature;

  template <class V> void Fields(V& v) {
    v.Object("tx", tx);
    v.Enum("algo", algo, AlgoName);
    v.Bin("public_key", public_key, kMaxPublicKeyBytes);
    v.Bin("signature", signature, kMaxSignatureBytes);
  }
  Status Validate() const;  // sizes and structure; not the signature
};

// Parameter-independent limits of the chain-id: 1-64 bytes of [A-Za-z0-9._-].
Status CheckChainId(std::string_view chain_id);

// Checks a tx against chain parameters without chain state: sizes, ttl
// range, fee >= minimum fee. `body_bytes` is tx.Encode().size() when the
// caller knows it (0: computed here).
Status CheckTxParams(const TxBody& tx, const ChainParams& params, size_t body_bytes = 0);

// Minimum fee of a tx body under `params` (docs/fees.md); fails on overflow.
Result<uint64_t> MinFee(const TxBody& tx, const ChainParams& params);

enum class SignerCheck {
  kFallback,  // the public key must derive to `from` (no binding known)
  kAnyKey,    // only the signature is checked (signer bound on chain)
};
// Verifies the signature and, for kFallback, that the key derives to from.
Status VerifySignedTx(const SignedTx& stx, SignerCheck check, const Hash32& id);

// Signs `tx` with `secret` of `algo`.
Result<SignedTx> SignTx(const TxBody& tx, const crypto::SigAlgo& algo, ByteView secret,
                        const Bytes& public_key);

}  // namespace gtos

#endif  // GTOS_TYPES_TX_H_
