// libFuzzer target for the private validator's state file
// (consensus/privval.h): what a validator reads at start to know what it
// last signed, and so what it must refuse to sign.
//
// Properties:
//   1. a version 2 state that decodes is canonical (EncodePrivValState
//      gives back its bytes); a version 1 state is read as version 2 with no
//      vote, and its re-encoding decodes to the same state;
//   2. PrivValidator::Open over the file (for the key and chain the state
//      names, when it is the test key) accepts exactly the states that
//      decode, and then last_signed() is the decoded state;
//   3. after Open, signing never goes below the recorded position: a vote
//      at a lower (height, round, step) is refused, and a vote at the same
//      position is signed again only for the same digest.
#include <cstdint>
#include <string>

#include "consensus/privval.h"
#include "crypto/hash.h"
#include "fuzz_util.h"

namespace gtos::fuzz {
const char* const kTargetName = "fuzz_privval_state";
}

namespace {

using namespace gtos;
using gtos::fuzz::Fail;

struct TestKey {
  const crypto::SigAlgo* algo = crypto::FindAlgo("ed25519");
  Bytes secret;
  Bytes pub;
  TestKey() {
    Hash32 s = crypto::Sha256(AsBytes("gtos-fuzz/validator"));
    secret.assign(s.v.begin(), s.v.end());
    pub = *algo->derive_public(secret);
  }
};

const TestKey& Key() {
  static const TestKey k;
  return k;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ByteView in(data, size);
  auto s = consensus::DecodePrivValState(in);
  if (s) {
    Bytes enc = consensus::EncodePrivValState(*s);
    auto again = consensus::DecodePrivValState(enc);
    if (!again) Fail("a decoded privval state re-encodes to bytes that do not decode", in, again.error().message);
    fuzz::ExpectSame("privval state round trip changes it", in, enc, consensus::EncodePrivValState(*again));
    if (!fuzz::SameBytes(enc, in)) {
      // Only a version 1 file may differ: it is read as version 2.
      consensus::PrivValState v1 = *s;
      v1.version = 1;
      if (s->vote) Fail("a decoded privval state with a vote is not canonical", in, "re-encoded " + ToHex(enc));
      fuzz::ExpectSame("a decoded privval state is neither canonical version 2 nor version 1", in, in,
                       consensus::EncodePrivValState(v1));
    }
  }

  // Open over the file, as the key the state names when it is ours.
  const TestKey& k = Key();
  std::string chain = s ? s->chain_id : "gtos-fuzz";
  std::string path = fuzz::WriteScratch("priv_validator_state", in);
  auto pv = consensus::PrivValidator::Open(path, crypto::SecretBytes(k.secret), *k.algo, k.pub, chain);
  bool ours = s && s->algo == static_cast<uint64_t>(k.algo->id) && s->public_key == k.pub;
  if (pv.has_value() != ours)
    Fail(pv ? "PrivValidator::Open accepts a state that is not this key's or does not decode"
            : "PrivValidator::Open refuses a decodable state of its key",
         in, pv ? "" : pv.error().message);
  if (!pv) return 0;
  auto last = (*pv)->last_signed();
  if (!last || !fuzz::SameBytes(consensus::EncodePrivValState(*last), consensus::EncodePrivValState(*s)))
    Fail("last_signed() is not the state read", in);

  // 3. No signing below the recorded position (checked without writing:
  // every request here is refused before anything is persisted).
  if (s->height > 0) {
    Vote v;
    v.type = static_cast<uint64_t>(VoteType::kPrecommit);
    v.height = s->height - 1;
    v.round = s->round;
    if ((*pv)->SignVote(v)) Fail("signed a vote below the recorded height", in);
  }
  if (s->step == static_cast<uint64_t>(consensus::SignStep::kPrecommit) ||
      s->step == static_cast<uint64_t>(consensus::SignStep::kPrevote)) {
    Vote v;
    v.type = s->step == static_cast<uint64_t>(consensus::SignStep::kPrecommit) ? static_cast<uint64_t>(VoteType::kPrecommit)
                                                                               : static_cast<uint64_t>(VoteType::kPrevote);
    v.height = s->height;
    v.round = s->round;
    v.block_hash = crypto::Sha256(in);
    if (v.SigningDigest(chain) != s->digest) {
      if ((*pv)->SignVote(v)) Fail("signed a different vote at the recorded position", in);
    }
  }
  return 0;
}
