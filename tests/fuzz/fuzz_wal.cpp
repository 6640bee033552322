// libFuzzer target for the consensus write-ahead log (consensus/wal.h,
// docs/formats.md "Consensus WAL"): the file a validator reads at start to
// recover what it saw and signed.
//
// Input: byte 0 even: the rest is a whole cs.wal file, opened with
// Wal::Open (recovery: torn tails dropped, damage refused); odd: the rest
// is one entry payload for DecodeWalPayload.
// Properties:
//   1. a payload that decodes is canonical: EncodeWalPayload gives back its
//      bytes;
//   2. a file that opens is truncated to its whole entries, and what it
//      recovered is exactly the last section: the file now ends with the
//      frames of that section's height marker and entries (FrameWalEntry),
//      and nothing was dropped unless it was a torn tail at the end;
//   3. recovery is idempotent: reopening the truncated file recovers the
//      same entries and drops nothing;
//   4. appending to a recovered log and reopening returns the appended
//      entry after the recovered ones.
#include <sys/stat.h>

#include <cstdint>
#include <string>

#include "consensus/wal.h"
#include "fuzz_util.h"
#include "util/file.h"

namespace gtos::fuzz {
const char* const kTargetName = "fuzz_wal";
}

namespace {

using namespace gtos;
using gtos::fuzz::Fail;
using consensus::WalEntry;

Bytes Frames(uint64_t height, const std::vector<WalEntry>& entries) {
  Bytes out = consensus::FrameWalEntry(WalEntry::Height(height));
  for (const WalEntry& e : entries) {
    Bytes f = consensus::FrameWalEntry(e);
    out.insert(out.end(), f.begin(), f.end());
  }
  return out;
}

void CheckPayload(ByteView payload, ByteView in) {
  auto e = consensus::DecodeWalPayload(payload);
  if (!e) return;
  fuzz::ExpectSame("decoded WAL entry is not canonical", in, payload, consensus::EncodeWalPayload(*e));
}

void CheckFile(ByteView file, ByteView in) {
  std::string path = fuzz::WriteScratch("cs.wal", file);
  consensus::WalOptions opts;
  opts.sync = false;
  auto w = consensus::Wal::Open(path, opts);
  if (!w) {
    if (w.error().message.find(path) == std::string::npos) Fail("a WAL error does not name the file", in, w.error().message);
    return;
  }
  const uint64_t kept = (*w)->size();
  if (kept + (*w)->dropped_tail_bytes() != file.size()) Fail("kept + dropped bytes is not the file size", in);
  auto now = ReadFile(path);
  if (!now || now->size() != kept || !fuzz::SameBytes(*now, file.subspan(0, kept)))
    Fail("the recovered file is not the input cut at its last whole entry", in);
  const uint64_t h = (*w)->recovered_height();
  const std::vector<WalEntry> entries = (*w)->recovered();
  if (h == 0) {
    if (!entries.empty() || kept != 0) Fail("entries recovered without a height marker", in);
  } else {
    Bytes tail = Frames(h, entries);
    if (tail.size() > kept || !fuzz::SameBytes(tail, ByteView(*now).subspan(kept - tail.size())))
      Fail("the file does not end with the frames of the recovered section", in);
    for (const WalEntry& e : entries)
      if (e.height != h) Fail("a recovered entry is not of the section's height", in);
  }
  w->reset();

  // 3. Idempotent.
  auto again = consensus::Wal::Open(path, opts);
  if (!again) Fail("the recovered file does not open again", in, again.error().message);
  if ((*again)->dropped_tail_bytes() != 0 || (*again)->recovered_height() != h || (*again)->recovered().size() != entries.size())
    Fail("reopening a recovered WAL changes what it recovers", in);
  if (h == 0) return;

  // 4. Append after recovery.
  WalEntry t = WalEntry::Timeout(consensus::TimeoutKind::kPrevote, h, 7);
  if (!(*again)->Append(t) || !(*again)->Sync()) Fail("append to a recovered WAL fails", in);
  again->reset();
  auto third = consensus::Wal::Open(path, opts);
  if (!third || (*third)->recovered().size() != entries.size() + 1 ||
      !fuzz::SameBytes(consensus::EncodeWalPayload((*third)->recovered().back()), consensus::EncodeWalPayload(t)))
    Fail("an entry appended after recovery is not recovered", in);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  ByteView in(data, size);
  if (data[0] % 2 == 0) CheckFile(in.subspan(1), in);
  else CheckPayload(in.subspan(1), in);
  return 0;
}
