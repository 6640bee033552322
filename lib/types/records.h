// Whole records: [type, version, fields...] as one msgpack array.
//
// EncodeRecord writes the canonical bytes of any record type. DecodeRecord
// parses one record, checks its type, version, structure and canonical
// encoding, then the type's own Validate(); DecodeAny does the same for
// whichever type the tag names (what gtos-inspect uses).
#ifndef GTOS_TYPES_RECORDS_H_
#define GTOS_TYPES_RECORDS_H_

#include <string>
#include <variant>

#include "codec/codec.h"
#include "codec/visit.h"
#include "types/chain.h"
#include "types/keys.h"
#include "types/record_type.h"
#include "types/snapshot.h"
#include "types/tx.h"

namespace gtos {

using AnyRecord = std::variant<PrivateKey, PublicKey, UnsignedTx, SignedTx, Receipt, BlockHeader, Block,
                               Genesis, GenesisValidator, snapshot::Manifest, snapshot::Chunk, UpgradePlanRecord>;

template <class R>
void EncodeRecordTo(codec::Writer& w, const R& r) {
  w.Array(static_cast<uint32_t>(2 + codec::CountFields(r)));
  w.Uint(static_cast<uint64_t>(R::kType));
  w.Uint(R::kVersion);
  codec::EncodeVisitor e(w);
  const_cast<R&>(r).Fields(e);  // EncodeVisitor never writes to the fields
}

template <class R>
Bytes EncodeRecord(const R& r) {
  codec::Writer w;
  EncodeRecordTo(w, r);
  return w.Take();
}

Bytes EncodeAny(const AnyRecord& r);
RecordType TypeOf(const AnyRecord& r);
std::string_view TypeNameOf(const AnyRecord& r);

namespace internal {
// Reads and checks the type tag; `expect_type` 0 accepts any known type.
uint64_t ReadType(codec::Reader& r, uint64_t expect_type);
// Reads the version and fails unless it is `supported`.
void ReadVersion(codec::Reader& r, uint64_t tag, uint64_t supported);
}  // namespace internal

template <class R>
Result<R> DecodeRecordFrom(const codec::Parsed& p) {
  codec::Reader r(p.handle.get(), p.raw, "");
  internal::ReadType(r, static_cast<uint64_t>(R::kType));
  internal::ReadVersion(r, static_cast<uint64_t>(R::kType), R::kVersion);
  R out;
  codec::DecodeVisitor v(r);
  if (r.ok()) out.Fields(v);
  GTOS_TRY(r.Finish());
  GTOS_TRY(out.Validate());
  return out;
}

// Decodes exactly one record of type R occupying all of `bytes`.
template <class R>
Result<R> DecodeRecord(ByteView bytes) {
  size_t off = 0;
  auto p = codec::ParseOne(bytes, &off);
  if (!p) return std::unexpected(p.error());
  if (!*p) return Invalid("truncated record");
  if (off != bytes.size()) return Invalid("trailing bytes after record");
  return DecodeRecordFrom<R>(**p);
}

Result<AnyRecord> DecodeAnyFrom(const codec::Parsed& p);
Result<AnyRecord> DecodeAny(ByteView bytes);

}  // namespace gtos

#endif  // GTOS_TYPES_RECORDS_H_
