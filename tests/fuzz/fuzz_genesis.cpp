// libFuzzer target for genesis files (types/chain.h, docs/genesis.md): the
// binary record `gtos-node init --genesis` and gtos-genesis read, or the
// same genesis as JSON (`gtos-genesis --json` output, `gtos-inspect
// --encode` input) when the input starts with '{'.
//
// Properties:
//   1. a decoded binary genesis is canonical; a JSON one encodes to a record
//      the binary decoder accepts and reads back identically; both survive
//      the JSON round trip; Hash() is the tagged hash of the record;
//   2. a genesis ValidateFull accepts (what a node checks before starting
//      from it) builds its state (BuildGenesisState) with a non-empty
//      active set that becomes a consensus validator set: a genesis the
//      tools accept never leaves a node unable to start or to sign;
//   3. BuildGenesisState is deterministic (same state root twice).
#include <cstdint>
#include <string>
#include <variant>

#include "chain/chain.h"
#include "crypto/hash.h"
#include "fuzz_util.h"
#include "state/executor.h"
#include "types/json.h"
#include "types/records.h"

namespace gtos::fuzz {
const char* const kTargetName = "fuzz_genesis";
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace gtos;
  using gtos::fuzz::Fail;
  ByteView in(data, size);
  Genesis g;
  Bytes record;
  if (size > 0 && data[0] == '{') {
    auto rec = FromJsonText(AsChars(in));
    if (!rec) return 0;
    auto* p = std::get_if<Genesis>(&*rec);
    if (!p) return 0;
    g = std::move(*p);
    record = EncodeRecord(g);
    auto again = DecodeRecord<Genesis>(record);
    if (!again) Fail("a JSON genesis encodes to a record DecodeRecord refuses", in, again.error().message);
    fuzz::ExpectSame("a JSON genesis's record decodes differently", in, record, EncodeRecord(*again));
  } else {
    auto dec = DecodeRecord<Genesis>(in);
    if (!dec) return 0;
    g = std::move(*dec);
    record = EncodeRecord(g);
    fuzz::ExpectSame("decoded genesis is not canonical", in, in, record);
  }
  // 1. JSON and hash.
  auto back = FromJson(ToJson(AnyRecord(g)));
  if (!back) Fail("ToJson(genesis) is refused by FromJson", in, back.error().message);
  fuzz::ExpectSame("genesis JSON round trip changes the record", in, record, EncodeAny(*back));
  if (g.Hash() != crypto::Sha256Tagged("GTOS-GENESIS-V1", record)) Fail("Genesis::Hash is not the tagged hash of its record", in);

  // 2. What a node does with a genesis it accepts.
  if (!g.ValidateFull()) return 0;
  auto gs = state::BuildGenesisState(g);
  if (!gs) Fail("BuildGenesisState refuses a genesis ValidateFull accepts", in, gs.error().message);
  if (gs->active_set.validators.empty()) Fail("a genesis ValidateFull accepts has an empty active set", in);
  if (gs->active_set.first_height != 1) Fail("the genesis active set does not start at height 1", in);
  auto vs = chain::MakeValidatorSet(gs->active_set);
  if (!vs) Fail("the genesis active set is not a valid validator set", in, vs.error().message);
  if (gs->accumulator.Digest() != gs->state_root) Fail("genesis state_root is not the accumulator's digest", in);

  // 3. Determinism.
  auto gs2 = state::BuildGenesisState(g);
  if (!gs2 || gs2->state_root != gs->state_root) Fail("BuildGenesisState is not deterministic", in);
  return 0;
}
