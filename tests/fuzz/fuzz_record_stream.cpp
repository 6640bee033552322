// libFuzzer target for the tools' streaming record reader
// (cli::RecordReader, lib/cli/record_io.h): concatenated records read one
// by one from several files, refilling a buffer as it goes, which is how
// gtos-inspect, gtos-tx and gtos-genesis read their inputs.
//
// Input: byte 0 picks the read size (1..64 bytes, so that records straddle
// reads and the refill and compaction paths run), byte 1 the number of
// files (1..3); the rest is split evenly between the files. The reader must
// return exactly what a model returns: codec::ParseOne over each whole file
// in turn, a file that ends inside a record being a "truncated record"
// error. Records must come back with their exact bytes, the count must
// match, errors must name the record ("record N of 'path'"), and the reader
// must stop at the first error. ReadOneRecord of the first file must accept
// exactly a file holding one decodable record.
#include <cstdint>
#include <string>
#include <vector>

#include "cli/record_io.h"
#include "fuzz_util.h"

namespace gtos::fuzz {
const char* const kTargetName = "fuzz_record_stream";
}

namespace {

using namespace gtos;
using gtos::fuzz::Fail;

constexpr size_t kMaxRecords = 256;

struct Expected {
  std::vector<Bytes> records;
  bool error = false;
  size_t error_file = 0;     // the file holding the record that failed
  size_t error_in_file = 0;  // its 1-based number within that file
};

Expected Model(const std::vector<ByteView>& files) {
  Expected out;
  for (size_t f = 0; f < files.size(); ++f) {
    size_t off = 0, n = 0;
    while (off < files[f].size()) {
      ++n;
      auto p = codec::ParseOne(files[f], &off);
      if (!p || !*p) {  // malformed, or the file ends inside the record
        out.error = true;
        out.error_file = f;
        out.error_in_file = n;
        return out;
      }
      out.records.emplace_back((**p).raw.begin(), (**p).raw.end());
      if (out.records.size() > kMaxRecords) return out;
    }
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  ByteView in(data, size);
  const size_t read_chunk = 1 + data[0] % 64;
  const size_t nfiles = 1 + data[1] % 3;
  ByteView rest = in.subspan(2);
  std::vector<ByteView> files;
  std::vector<std::string> paths;
  for (size_t f = 0; f < nfiles; ++f) {
    size_t begin = rest.size() * f / nfiles, end = rest.size() * (f + 1) / nfiles;
    files.push_back(rest.subspan(begin, end - begin));
    paths.push_back(fuzz::WriteScratch("stream" + std::to_string(f), files.back()));
  }
  Expected want = Model(files);

  cli::RecordReader reader(paths, read_chunk);
  size_t got = 0;
  for (;;) {
    auto r = reader.Next();
    if (!r) {
      if (!want.error || got != want.records.size())
        Fail("RecordReader fails where the model does not", in, r.error().message);
      std::string where = "record " + std::to_string(want.error_in_file) + " of '" + paths[want.error_file] + "'";
      if (r.error().message.find(where) == std::string::npos)
        Fail("RecordReader's error does not name the record", in, "want '" + where + "' in: " + r.error().message);
      if (reader.count() != got + 1) Fail("RecordReader's count after an error is not records + 1", in);
      break;
    }
    if (!*r) {
      if (want.error || got != want.records.size()) Fail("RecordReader ends where the model does not", in);
      if (reader.count() != got) Fail("RecordReader's count is not the number of records", in);
      break;
    }
    if (got >= want.records.size()) Fail("RecordReader returns more records than the model", in);
    fuzz::ExpectSame("RecordReader returns other bytes than the model", in, want.records[got], (**r).raw);
    if (++got > kMaxRecords) break;
  }

  // ReadOneRecord of the first file.
  auto one = cli::ReadOneRecord(paths[0]);
  size_t off = 0;
  auto p = codec::ParseOne(files[0], &off);
  bool single = p && *p && off == files[0].size() && DecodeAnyFrom(**p).has_value();
  if (one.has_value() != single)
    Fail(single ? "ReadOneRecord refuses a file holding one record" : "ReadOneRecord accepts a file that is not one record",
         in, one ? "" : one.error().message);
  return 0;
}
