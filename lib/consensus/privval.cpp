#include "consensus/privval.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <tuple>

#include "codec/codec.h"
#include "codec/visit.h"
#include "util/file.h"

namespace gtos::consensus {

std::string_view SignStepName(uint64_t step) {
  switch (step) {
    case static_cast<uint64_t>(SignStep::kProposal): return "proposal";
    case static_cast<uint64_t>(SignStep::kPrevote): return "prevote";
    case static_cast<uint64_t>(SignStep::kPrecommit): return "precommit";
    default: return "";
  }
}

Bytes EncodePrivValState(const PrivValState& s) {
  codec::Writer w;
  codec::EncodeObject(w, s);
  return w.Take();
}

Result<PrivValState> DecodePrivValState(ByteView bytes) {
  size_t off = 0;
  auto p = codec::ParseOne(bytes, &off);
  if (!p) return std::unexpected(p.error());
  if (!*p) return Invalid("truncated state");
  if (off != bytes.size()) return Invalid("trailing bytes after state");
  const codec::Parsed& parsed = **p;
  if (parsed.handle.get().type != msgpack::type::ARRAY) return Invalid("state is not an array");
  codec::Reader r(parsed.handle.get(), parsed.raw, "privval_state");
  PrivValState s;
  codec::DecodeVisitor v(r);
  s.Fields(v);
  GTOS_TRY(r.Finish());
  if (s.format != PrivValState::kFormat) return Invalid("field 'format': not a privval state file");
  if (s.version != 1 && s.version != PrivValState::kVersion)
    return Invalid("field 'version': unsupported version " + std::to_string(s.version));
  s.version = PrivValState::kVersion;  // written back as the current version
  return s;
}

namespace {

std::string Position(uint64_t height, uint64_t round, uint64_t step) {
  return std::string(SignStepName(step)) + " at height " + std::to_string(height) + " round " +
         std::to_string(round);
}

}  // namespace

Result<std::unique_ptr<PrivValidator>> PrivValidator::Open(std::string state_path, crypto::SecretBytes secret,
                                                           const crypto::SigAlgo& algo, Bytes public_key,
                                                           std::string chain_id, PrivValidatorOptions options) {
  if (state_path.empty()) return Fail(ErrorCode::kUsage, "privval: empty state file path");
  auto derived = algo.derive_public(secret.view());
  if (!derived) return std::unexpected(Wrap(derived.error(), "privval: consensus key"));
  if (*derived != public_key)
    return Fail(ErrorCode::kCrypto, "privval: the consensus secret does not match public key " + ToHex0x(public_key));

  std::unique_ptr<PrivValidator> pv(new PrivValidator());
  pv->path_ = std::move(state_path);
  pv->secret_ = std::move(secret);
  pv->algo_ = &algo;
  pv->public_key_ = std::move(public_key);
  pv->chain_id_ = std::move(chain_id);
  pv->options_ = options;

  struct stat st;
  if (::stat(pv->path_.c_str(), &st) != 0) {
    if (errno == ENOENT) return pv;  // fresh validator: nothing signed yet
    return Fail(ErrorCode::kIO, "privval state file '" + pv->path_ + "': " + std::strerror(errno));
  }
  const std::string hint =
      "the state file records what this validator last signed; do not delete or replace it, or the "
      "validator may double-sign and be slashed";
  auto bytes = ReadFile(pv->path_);
  if (!bytes) return Fail(bytes.error().code, "privval: " + bytes.error().message, hint);
  auto s = DecodePrivValState(*bytes);
  if (!s) return Fail(ErrorCode::kInvalid, "privval state file '" + pv->path_ + "' is corrupt: " + s.error().message, hint);
  if (s->chain_id != pv->chain_id_)
    return Fail(ErrorCode::kInvalid, "privval state file '" + pv->path_ + "' is for chain '" + s->chain_id +
                                         "', not '" + pv->chain_id_ + "'", hint);
  if (s->algo != static_cast<uint64_t>(algo.id) || s->public_key != pv->public_key_)
    return Fail(ErrorCode::kInvalid, "privval state file '" + pv->path_ + "' belongs to key " +
                                         ToHex0x(s->public_key) + ", not " + ToHex0x(pv->public_key_), hint);
  pv->last_ = std::move(*s);
  return pv;
}

std::optional<PrivValState> PrivValidator::last_signed() const {
  std::lock_guard lock(mu_);
  return last_;
}

Result<Bytes> PrivValidator::SignVote(const Vote& v) {
  uint64_t step;
  if (v.type == static_cast<uint64_t>(VoteType::kPrevote)) step = static_cast<uint64_t>(SignStep::kPrevote);
  else if (v.type == static_cast<uint64_t>(VoteType::kPrecommit)) step = static_cast<uint64_t>(SignStep::kPrecommit);
  else return Invalid("privval: unknown vote type " + std::to_string(v.type));
  return Sign(v.height, v.round, step, v.SigningDigest(chain_id_), &v);
}

Result<Bytes> PrivValidator::SignProposal(uint64_t height, uint64_t round, const Hash32& digest) {
  return Sign(height, round, static_cast<uint64_t>(SignStep::kProposal), digest);
}

Status PrivValidator::Persist(const PrivValState& s) const {
  // WriteFileAtomic: temporary file, fsync, rename, fsync of the directory,
  // so that the rename is durable before the signature is released.
  return WriteFileAtomic(path_, EncodePrivValState(s), 0600);
}

Result<Bytes> PrivValidator::Sign(uint64_t height, uint64_t round, uint64_t step, const Hash32& digest,
                                  const Vote* vote) {
  std::lock_guard lock(mu_);
  bool higher = true;
  if (last_) {
    auto want = std::tie(height, round, step);
    auto have = std::tie(last_->height, last_->round, last_->step);
    if (want < have) {
      if (!options_.allow_double_sign_for_tests)
        return Invalid("privval: refusing to sign " + Position(height, round, step) +
                       ": lower than the last signed " + Position(last_->height, last_->round, last_->step));
      higher = false;
    } else if (want == have) {
      if (digest == last_->digest) return last_->signature;  // idempotent re-sign
      if (!options_.allow_double_sign_for_tests)
        return Invalid("privval: would double-sign " + Position(height, round, step) + ": already signed " +
                       ToHex0x(last_->digest) + ", asked to sign " + ToHex0x(digest));
      higher = false;
    }
  }

  // Sign into memory; nothing is released before the state is durable.
  auto sig = crypto::SignDigest(*algo_, secret_.view(), public_key_, digest);
  if (!sig) return std::unexpected(Wrap(sig.error(), "privval: signing"));
  if (!higher) return sig;  // test-only double sign: never persisted

  PrivValState next;
  next.chain_id = chain_id_;
  next.algo = static_cast<uint64_t>(algo_->id);
  next.public_key = public_key_;
  next.height = height;
  next.round = round;
  next.step = step;
  next.digest = digest;
  next.signature = *sig;
  if (vote) {
    next.vote = *vote;
    next.vote->signature = *sig;
  }
  if (auto st = Persist(next); !st) {
    // Not durable: the signature must not get out.
    std::fill(sig->begin(), sig->end(), 0);
    std::fill(next.signature.begin(), next.signature.end(), 0);
    return std::unexpected(Wrap(st.error(), "privval: not signing " + Position(height, round, step) +
                                                ": unable to persist the signing state"));
  }
  last_ = std::move(next);
  return sig;
}

}  // namespace gtos::consensus
