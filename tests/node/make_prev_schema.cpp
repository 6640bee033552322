// make_prev_schema: test-only. Turns a stopped node's data directory of
// this build's schema (6 when written) into the directory the previous
// build (5) would have written for the same chain: the N table (block-hash
// index) removed and the previous format. Nothing else differs between the
// two schemas (lib/state/schema.h), so this is an honest fixture for the
// block-hash-index migration (tests/node/migrate_test.py).
//
//   make_prev_schema DATADIR
//
// Prints the number of index entries removed and both versions.
#include <cstdio>
#include <string>

#include "state/schema.h"
#include "state/store.h"

int main(int argc, char** argv) {
  using namespace gtos;
  namespace schema = state::schema;
  if (argc != 2) {
    std::fprintf(stderr, "usage: make_prev_schema DATADIR\n");
    return 2;
  }
  state::StoreOptions so;
  so.path = std::string(argv[1]) + "/db";
  auto store = state::Store::Open(so);
  if (!store) {
    std::fprintf(stderr, "make_prev_schema: error: %s\n", store.error().message.c_str());
    return 1;
  }
  auto format = (*store)->Get(schema::MetaKey(schema::kMetaFormat));
  const uint64_t cur = schema::kSchemaVersion, prev = cur - 1;
  if (!format || !*format || (*format)->size() != 8 || schema::ReadBE64(**format) != cur) {
    std::fprintf(stderr, "make_prev_schema: error: '%s' is not a schema-%llu data directory\n", argv[1],
                 (unsigned long long)cur);
    return 1;
  }
  state::WriteBatch b;
  uint64_t removed = 0;
  auto st = (*store)->Scan(std::string(1, schema::kBlockIndex), [&](std::string_view k, std::string_view) {
    b.Delete(k);
    ++removed;
    return true;
  });
  if (!st) {
    std::fprintf(stderr, "make_prev_schema: error: %s\n", st.error().message.c_str());
    return 1;
  }
  std::string f;
  schema::AppendBE64(&f, prev);
  b.Put(schema::MetaKey(schema::kMetaFormat), f);
  if (auto w = (*store)->Write(b); !w) {
    std::fprintf(stderr, "make_prev_schema: error: %s\n", w.error().message.c_str());
    return 1;
  }
  std::printf("make_prev_schema: removed %llu block-index entries; format %llu -> %llu\n",
              (unsigned long long)removed, (unsigned long long)cur, (unsigned long long)prev);
  return 0;
}
