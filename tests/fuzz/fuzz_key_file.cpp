// libFuzzer target for key files (types/keys.h, lib/cli/record_io.h): the
// bytes of a private or public key file as gtos-keys, gtos-tx, gtos-genesis
// and gtos-node read it (cli::ReadOneRecord of a path), and the small text
// files beside them (passphrase and hex secret files, ReadSecretFile).
//
// Properties:
//   1. ReadOneRecord of the file accepts exactly the inputs that are one
//      record DecodeAny accepts, and returns the same record;
//   2. a decoded key is canonical and derives a stable address; a public
//      key's address equals the one of the private key it came from;
//   3. a plain private key unlocks (without a passphrase) only when its
//      secret derives its public key, and then MakePrivateKey rebuilds the
//      identical record;
//   4. an encrypted key never unlocks without a passphrase (kUsage); with
//      the cheapest scrypt parameters (N = 2^10, r = p = 1; anything larger
//      is not run, it would only slow the fuzzer down) it unlocks with
//      "fuzz" or fails with kCrypto, and an unlocked secret derives the
//      recorded public key;
//   5. ReadSecretFile returns the file without one trailing newline, and
//      fails only for an empty result.
#include <cstdint>
#include <optional>
#include <string>
#include <variant>

#include "cli/record_io.h"
#include "fuzz_util.h"
#include "types/keys.h"
#include "types/records.h"
#include "util/file.h"

namespace gtos::fuzz {
const char* const kTargetName = "fuzz_key_file";
}

namespace {

using namespace gtos;
using gtos::fuzz::Fail;

void CheckPrivateKey(const PrivateKey& key, ByteView in) {
  if (PublicOf(key).address() != key.address()) Fail("PublicOf(key) has another address than the key", in);
  auto none = UnlockPrivateKey(key, std::nullopt);
  if (!key.encrypted()) {
    const crypto::SigAlgo* algo = crypto::FindAlgo(key.algo);
    auto derived = algo->derive_public(key.secret);
    bool matches = derived && *derived == key.public_key;
    if (none.has_value() != matches)
      Fail(matches ? "a plain key whose secret derives its public key does not unlock"
                   : "a plain key whose secret does not derive its public key unlocks",
           in, none ? "" : none.error().message);
    if (!none) return;
    auto rebuilt = MakePrivateKey(static_cast<crypto::AlgoId>(key.algo), none->view(), std::nullopt);
    if (!rebuilt) Fail("MakePrivateKey refuses an unlocked secret", in, rebuilt.error().message);
    fuzz::ExpectSame("MakePrivateKey does not rebuild the plain key", in, EncodeRecord(key), EncodeRecord(*rebuilt));
    return;
  }
  if (none || none.error().code != ErrorCode::kUsage) Fail("an encrypted key unlocks (or fails oddly) without a passphrase", in);
  const KeyEncryption& e = *key.encryption;
  if (e.log2_n != 10 || e.r != 1 || e.p != 1) return;
  auto unlocked = UnlockPrivateKey(key, std::string("fuzz"));
  if (!unlocked) {
    if (unlocked.error().code != ErrorCode::kCrypto && unlocked.error().code != ErrorCode::kInvalid)
      Fail("unlocking with a passphrase fails with an unexpected code", in, unlocked.error().message);
    return;
  }
  auto derived = crypto::FindAlgo(key.algo)->derive_public(unlocked->view());
  if (!derived || *derived != key.public_key) Fail("an unlocked secret does not derive the recorded public key", in);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ByteView in(data, size);
  std::string path = fuzz::WriteScratch("key", in);

  // 1. File reader against the in-memory decoder.
  auto rec = cli::ReadOneRecord(path);
  size_t off = 0;
  auto parsed = codec::ParseOne(in, &off);
  Result<AnyRecord> mem = Invalid("not one record");
  if (parsed && *parsed && off == size) mem = DecodeAnyFrom(**parsed);
  if (rec.has_value() != mem.has_value())
    Fail(rec ? "ReadOneRecord accepts a file that is not one decodable record"
             : "ReadOneRecord refuses a file holding one decodable record",
         in, rec ? mem.error().message : rec.error().message);
  if (rec) {
    Bytes enc = EncodeAny(*rec);
    fuzz::ExpectSame("ReadOneRecord's record is not the input", in, in, enc);
    if (const auto* key = std::get_if<PrivateKey>(&*rec)) CheckPrivateKey(*key, in);
    if (const auto* pub = std::get_if<PublicKey>(&*rec)) {
      if (pub->address() != crypto::DeriveAddress(static_cast<crypto::AlgoId>(pub->algo), pub->public_key))
        Fail("PublicKey::address is not DeriveAddress", in);
    }
  }

  // 5. Secret text files.
  auto text = ReadSecretFile(path, "secret file");
  std::string_view want = AsChars(in);
  if (want.ends_with("\r\n")) want.remove_suffix(2);
  else if (want.ends_with("\n")) want.remove_suffix(1);
  if (text.has_value() != !want.empty()) Fail("ReadSecretFile fails (or not) unexpectedly", in);
  if (text && text->view() != want)
    Fail("ReadSecretFile does not strip exactly one trailing newline", in, "got " + std::string(text->view()));
  return 0;
}
