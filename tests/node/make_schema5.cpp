// make_schema5: test-only. Turns a stopped node's schema-6 data directory
// into the schema-5 directory a schema-5 build would have written for the
// same chain: the N table (block-hash index) removed and format 5. Nothing
// else differs between the two schemas (lib/state/schema.h), so this is an
// honest fixture for the 5 -> 6 migration (tests/node/migrate_test.py).
//
//   make_schema5 DATADIR
//
// Prints the number of index entries removed.
#include <cstdio>
#include <string>

#include "state/schema.h"
#include "state/store.h"

int main(int argc, char** argv) {
  using namespace gtos;
  namespace schema = state::schema;
  if (argc != 2) {
    std::fprintf(stderr, "usage: make_schema5 DATADIR\n");
    return 2;
  }
  state::StoreOptions so;
  so.path = std::string(argv[1]) + "/db";
  auto store = state::Store::Open(so);
  if (!store) {
    std::fprintf(stderr, "make_schema5: error: %s\n", store.error().message.c_str());
    return 1;
  }
  auto format = (*store)->Get(schema::MetaKey(schema::kMetaFormat));
  if (!format || !*format || (*format)->size() != 8 || schema::ReadBE64(**format) != 6) {
    std::fprintf(stderr, "make_schema5: error: '%s' is not a schema-6 data directory\n", argv[1]);
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
    std::fprintf(stderr, "make_schema5: error: %s\n", st.error().message.c_str());
    return 1;
  }
  std::string five;
  schema::AppendBE64(&five, 5);
  b.Put(schema::MetaKey(schema::kMetaFormat), five);
  if (auto w = (*store)->Write(b); !w) {
    std::fprintf(stderr, "make_schema5: error: %s\n", w.error().message.c_str());
    return 1;
  }
  std::printf("make_schema5: removed %llu block-index entries; format is 5\n", (unsigned long long)removed);
  return 0;
}
