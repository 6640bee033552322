// libFuzzer target for the values stored in the state database and carried
// in snapshot chunks (lib/state/schema.h lists the tables): what a node
// decodes from D/db, and from a restored or state-synced snapshot.
//
// The first input byte picks the table, the rest is the value:
//   A Account            C/K StoredObject (code, KV)   V ValidatorInfo
//   S/W ActiveSet        U unbonding amount (uint)     Q Commit
//   B block body         R receipt list                T tx location
//   H header record      M lthash accumulator (2048 bytes)
// For each value that decodes, the target checks that it is canonical:
// the encoder (state::EncodeValue, EncodeRecord, EncodeUint, Serialize)
// gives back exactly the input bytes, so that a value has one encoding and
// the state root (which hashes the bytes) one meaning. It also runs what the
// node runs on such a value: an ActiveSet becomes a consensus ValidatorSet
// (chain::MakeValidatorSet), a Commit's votes are rebuilt (VoteOf), a
// stored object's expiry is read the restore's way (ExpireBlockOf).
#include <cstdint>
#include <optional>
#include <string>

#include "chain/chain.h"
#include "chain/snapshot_chunk.h"
#include "chain/stored.h"
#include "fuzz_util.h"
#include "state/executor.h"
#include "state/lthash.h"
#include "types/records.h"

namespace gtos::fuzz {
const char* const kTargetName = "fuzz_state_value";
}

namespace {

using namespace gtos;
using gtos::fuzz::Fail;

// Decodes `value` as T and checks that it re-encodes to the same bytes.
template <class T>
std::optional<T> Canonical(std::string_view value, ByteView in) {
  auto t = state::DecodeValue<T>(value, "value");
  if (!t) {
    if (t.error().code != ErrorCode::kInternal) Fail("DecodeValue failed with a code other than kInternal", in);
    return std::nullopt;
  }
  fuzz::ExpectSame("decoded state value is not canonical", in, AsBytes(value), AsBytes(state::EncodeValue(*t)));
  return std::optional<T>(std::move(*t));
}

void CheckActiveSet(const ActiveSet& s, ByteView in) {
  auto vs = chain::MakeValidatorSet(s);
  if (!vs) return;  // the node reports a corrupt set
  if (vs->validators().size() != s.validators.size()) Fail("ValidatorSet has another size than its ActiveSet", in);
  (void)vs->Hash();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  ByteView in(data, size);
  ByteView body = in.subspan(1);
  std::string_view value = AsChars(body);
  switch (data[0]) {
    case 'A':
      Canonical<Account>(value, in);
      break;
    case 'C':
    case 'K': {
      auto o = Canonical<StoredObject>(value, in);
      uint64_t expire = 0;
      bool strict = snapshot::ExpireBlockOf(body, &expire);
      if (strict != o.has_value() || (o && o->expire_block != expire))
        Fail("ExpireBlockOf and DecodeValue<StoredObject> disagree", in);
      break;
    }
    case 'V':
      Canonical<ValidatorInfo>(value, in);
      break;
    case 'S':
    case 'W':
      if (auto s = Canonical<ActiveSet>(value, in)) CheckActiveSet(*s, in);
      break;
    case 'U': {
      auto v = state::DecodeUint(value);
      if (v) fuzz::ExpectSame("decoded unbonding amount is not canonical", in, body, AsBytes(state::EncodeUint(*v)));
      break;
    }
    case 'Q':
      if (auto c = Canonical<Commit>(value, in)) {
        for (size_t i = 0; i < c->signatures.size(); ++i) {
          Vote v = c->VoteOf(i);
          if (v.height != c->height || v.round != c->round || v.block_hash != c->block_hash ||
              v.validator != c->signatures[i].validator)
            Fail("Commit::VoteOf does not stand for its signature", in);
        }
        (void)c->Hash();
      }
      break;
    case 'B':
      if (auto b = Canonical<chain::stored::Body>(value, in)) {
        for (const SignedTx& t : b->txs) (void)t.tx.Id();
        for (const Evidence& e : b->evidence) (void)e.Hash();
      }
      break;
    case 'R':
      Canonical<chain::stored::ReceiptList>(value, in);
      break;
    case 'T':
      Canonical<chain::stored::TxLoc>(value, in);
      break;
    case 'H':
      if (auto h = DecodeRecord<BlockHeader>(body)) fuzz::ExpectSame("decoded header is not canonical", in, body, EncodeRecord(*h));
      break;
    case 'M':
      if (auto acc = state::LtHash::Parse(body)) {
        fuzz::ExpectSame("parsed accumulator does not serialize to its bytes", in, body, acc->Serialize());
        (void)acc->Digest();
      }
      break;
    default:
      break;
  }
  return 0;
}
