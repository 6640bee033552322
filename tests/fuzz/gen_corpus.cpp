// Writes the generated seeds of the fuzz corpora (docs/fuzzing.md "Seed
// corpora") with the real encoders, over the chain of fuzz_chain.h:
//
//   build-fuzz/tests/fuzz/fuzz_gen_corpus tests/fuzz
//
// Every file it writes is named gen-*.bin (or .json, .toml, .txt) in
// tests/fuzz/corpus-<target>/; hand-written seeds beside them are left
// alone. Deterministic apart from the random salts and nonces of encrypted
// keys, so re-running it changes only those files.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "chain/snapshot.h"
#include "chain/stored.h"
#include "consensus/privval.h"
#include "consensus/wal.h"
#include "fuzz_chain.h"
#include "net/messages.h"
#include "state/schema.h"
#include "types/json.h"
#include "types/records.h"
#include "util/file.h"

namespace {

using namespace gtos;
using namespace gtos::fuzz;
namespace fs = std::filesystem;
namespace schema = state::schema;

std::string g_dir;  // tests/fuzz

void Put(const std::string& target, const std::string& name, ByteView data) {
  std::string dir = g_dir + "/corpus-" + target;
  fs::create_directories(dir);
  std::string path = dir + "/gen-" + name;
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(data.data()), static_cast<std::streamsize>(data.size()));
  if (!out) {
    std::perror(path.c_str());
    std::exit(1);
  }
}
void Put(const std::string& target, const std::string& name, std::string_view text) { Put(target, name, AsBytes(text)); }

Bytes Cat(std::initializer_list<ByteView> parts) {
  Bytes out;
  for (ByteView p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}
Bytes With(uint8_t first, ByteView rest) { return Cat({ByteView(&first, 1), rest}); }
Bytes B(std::string_view s) { return Bytes(s.begin(), s.end()); }

PrivateKey PlainKey(const TestKey& k) {
  return Must(MakePrivateKey(k.algo->id, k.secret, std::nullopt), "plain key");
}

consensus::Proposal MakeProposal(const Block& b) {
  consensus::Proposal p;
  p.height = b.header.height;
  p.round = 0;
  p.valid_round = -1;
  p.block = b;
  p.proposer = K().validator.addr;
  p.signature = Must(K().validator.algo->sign(K().validator.secret, p.SigningDigest(kChainId)), "sign proposal");
  return p;
}

Vote MakeVote(uint64_t type, uint64_t height, uint64_t round, const Hash32& block) {
  Vote v;
  v.type = type;
  v.height = height;
  v.round = round;
  v.block_hash = block;
  v.validator = K().validator.addr;
  v.signature = Must(K().validator.algo->sign(K().validator.secret, v.SigningDigest(kChainId)), "sign vote");
  return v;
}

void Snapshots(const chain::Chain& c, const std::string& scratch) {
  std::string path = scratch + "/snap.gsnap";
  Must(snapshot::Create(*c.store().NewReadView(), path, {}, 512), "create snapshot");
  Bytes file = Must(ReadFile(path), "read snapshot");
  Put("snapshot_manifest", "file-budget512.bin", file);
  auto m = Must(snapshot::ReadManifest(path), "read manifest");
  Bytes mrec = EncodeRecord(m);
  Put("snapshot_manifest", "manifest-only.bin", mrec);
  size_t off = mrec.size();
  for (size_t i = 0; i < m.chunks.size(); ++i) {
    Put("snapshot_chunk", "chunk-" + std::to_string(i) + ".bin", ByteView(file).subspan(off, m.chunks[i].bytes));
    off += m.chunks[i].bytes;
  }
  snapshot::Chunk empty;
  empty.height = m.height;
  Put("snapshot_chunk", "chunk-empty.bin", EncodeRecord(empty));
  Put("json_record", "manifest.json", ToJson(AnyRecord(m)).dump());
}

void StateValues(const chain::Chain& c) {
  for (char table : {'A', 'C', 'K', 'V', 'U', 'S', 'W', 'Q', 'B', 'R', 'T', 'H'}) {
    int n = 0;
    Must(c.store().Scan(std::string(1, table), [&](std::string_view, std::string_view v) {
      Put("state_value", std::string(1, table) + "-" + std::to_string(n) + ".bin", With(static_cast<uint8_t>(table), AsBytes(v)));
      return ++n < 2;
    }), "scan");
  }
  auto acc = Must(c.store().Get(schema::MetaKey(schema::kMetaAccumulator)), "accumulator");
  if (acc) Put("state_value", "M-lthash.bin", With('M', AsBytes(*acc)));
}

void Records(const chain::Chain& c) {
  const Keys& k = K();
  // Keys.
  for (const TestKey* key : {&k.validator, &k.alice, &k.bob}) {
    std::string algo(key->algo->name);
    PrivateKey plain = PlainKey(*key);
    Put("key_file", "plain-" + algo + ".bin", EncodeRecord(plain));
    Put("key_file", "public-" + algo + ".bin", EncodeRecord(PublicOf(plain)));
    Put("json_record", "key-" + algo + ".json", ToJson(AnyRecord(plain), JsonOptions{true}).dump());
    Put("json_record", "public-" + algo + ".json", ToJson(AnyRecord(PublicOf(plain))).dump());
  }
  // The parameters of a new key (N = 2^17, r = 8): a seed as gtos-keys
  // writes it. fuzz_key_file decodes it but does not unlock it (that
  // would take 128 MiB, over its malloc limit).
  PrivateKey enc = Must(MakePrivateKey(k.alice.algo->id, k.alice.secret, std::string("fuzz"), crypto::ScryptParams{}),
                        "encrypted key");
  Put("key_file", "encrypted-secp256k1.bin", EncodeRecord(enc));
  Put("json_record", "key-encrypted.json", ToJson(AnyRecord(enc)).dump());
  Put("key_file", "passphrase.txt", std::string_view("correct horse battery staple\n"));
  Put("key_file", "secret-hex.txt", std::string_view(ToHex0x(k.bob.secret) + "\r\n"));

  // Genesis.
  Genesis g = TestGenesis();
  Put("genesis", "genesis.bin", EncodeRecord(g));
  Put("genesis", "genesis.json", ToJson(AnyRecord(g)).dump());
  Put("json_record", "genesis.json", ToJson(AnyRecord(g)).dump());
  Put("json_record", "gentx.json", ToJson(AnyRecord(g.validators[0])).dump());

  // Transactions, blocks, receipts.
  auto b2 = Must(c.GetBlock(2), "block 2");
  for (size_t i = 0; i < b2->txs.size(); ++i) {
    Put("json_record", "signed-tx-" + std::to_string(i) + ".json", ToJson(AnyRecord(b2->txs[i])).dump());
    Put("json_record", "unsigned-tx-" + std::to_string(i) + ".json", ToJson(AnyRecord(UnsignedTx{b2->txs[i].tx})).dump());
  }
  Put("json_record", "block.json", ToJson(AnyRecord(*b2)).dump());
  Put("json_record", "header.json", ToJson(AnyRecord(b2->header)).dump());
  auto receipts = Must(c.GetReceipts(2), "receipts");
  Put("json_record", "receipt.json", ToJson(AnyRecord((*receipts)[0])).dump());

  // Streams of records for the stream reader: [read size, files, bytes...].
  Bytes stream = Cat({EncodeRecord(PlainKey(k.validator)), EncodeRecord(b2->txs[0]), EncodeRecord(b2->txs[1]),
                      EncodeRecord((*receipts)[0])});
  Put("record_stream", "stream-1file.bin", Cat({Bytes{7, 0}, stream}));
  Put("record_stream", "stream-3files.bin", Cat({Bytes{3, 2}, stream}));
  Bytes truncated(stream.begin(), stream.end() - 5);
  Put("record_stream", "stream-truncated.bin", Cat({Bytes{1, 1}, truncated}));
  Put("record_stream", "one-genesis.bin", Cat({Bytes{63, 0}, EncodeRecord(g)}));
}

void P2p(const chain::Chain& c) {
  auto b1 = Must(c.GetBlock(1), "block 1");
  auto b2 = Must(c.GetBlock(2), "block 2");
  Hash32 h = b2->header.Hash();
  net::ProposalMsg pm{MakeProposal(*b1)};
  Put("p2p_message", "proposal.bin", net::EncodeMessage(pm));
  Evidence e{MakeVote(2, 5, 0, h), MakeVote(2, 5, 0, b1->header.Hash())};
  Put("p2p_message", "evidence.bin", net::EncodeMessage(net::EvidenceMsg{e}));
  Put("p2p_message", "blocks.bin", net::EncodeMessage(net::Blocks{{*b1}}));
  Put("p2p_message", "txs.bin", net::EncodeMessage(net::Txs{b2->txs}));
  Put("p2p_message", "hello.bin", net::EncodeMessage(net::Hello{net::kProtocolVersion, std::string(kChainId), c.genesis_hash(),
                                                                K().validator.pub, Bytes(64, 0x5a), "127.0.0.1:26656", 3}));
  Put("p2p_message", "snapshots.bin", net::EncodeMessage(net::Snapshots{{net::SnapshotOffer{3, h, 4}}}));
  Put("p2p_message", "get-snapshot-part.bin", net::EncodeMessage(net::GetSnapshotPart{3, h, 1}));
  Put("p2p_message", "snapshot-part.bin", net::EncodeMessage(net::SnapshotPart{3, h, 1, 0, 5, B("abcde")}));
  Put("p2p_message", "peers.bin", net::EncodeMessage(net::Peers{{"127.0.0.1:26656", "[::1]:26657", "node.example:1"}}));
}

void Consensus(const chain::Chain& c) {
  auto b1 = Must(c.GetBlock(1), "block 1");
  Hash32 h = b1->header.Hash();
  using consensus::WalEntry;
  std::vector<WalEntry> entries = {WalEntry::ProposalIn(MakeProposal(*b1), 1'700'000'001'000),
                                   WalEntry::VoteIn(MakeVote(1, 1, 0, h)), WalEntry::OwnVote(MakeVote(2, 1, 0, h)),
                                   WalEntry::Timeout(consensus::TimeoutKind::kPropose, 1, 1)};
  Bytes file = consensus::FrameWalEntry(WalEntry::Height(1));
  for (size_t i = 0; i < entries.size(); ++i) {
    Bytes f = consensus::FrameWalEntry(entries[i]);
    file.insert(file.end(), f.begin(), f.end());
    Put("wal", "payload-" + std::to_string(i) + ".bin", With(1, consensus::EncodeWalPayload(entries[i])));
  }
  Put("wal", "file.bin", With(0, file));
  Bytes torn(file.begin(), file.end() - 3);
  Put("wal", "file-torn.bin", With(0, torn));
  Bytes two = Cat({file, consensus::FrameWalEntry(WalEntry::Height(2)),
                   consensus::FrameWalEntry(WalEntry::OwnProposal(MakeProposal(*b1)))});
  Put("wal", "file-two-heights.bin", With(0, two));

  // Privval states.
  consensus::PrivValState s;
  s.chain_id = std::string(kChainId);
  s.algo = static_cast<uint64_t>(K().validator.algo->id);
  s.public_key = K().validator.pub;
  Vote v = MakeVote(2, 4, 1, h);
  s.height = 4;
  s.round = 1;
  s.step = static_cast<uint64_t>(consensus::SignStep::kPrecommit);
  s.digest = v.SigningDigest(kChainId);
  s.signature = v.signature;
  s.vote = v;
  Put("privval_state", "vote.bin", consensus::EncodePrivValState(s));
  s.step = static_cast<uint64_t>(consensus::SignStep::kProposal);
  s.vote.reset();
  Put("privval_state", "proposal.bin", consensus::EncodePrivValState(s));
  s.version = 1;
  s.step = static_cast<uint64_t>(consensus::SignStep::kPrevote);
  Put("privval_state", "v1.bin", consensus::EncodePrivValState(s));
}

void Rpc(const chain::Chain& c) {
  auto b2 = Must(c.GetBlock(2), "block 2");
  std::string id = ToHex0x(b2->txs[0].tx.Id());
  std::string alice = ToHex0x(K().alice.addr), bob = ToHex0x(K().bob.addr);
  std::string code_hash;
  Must(c.store().Scan(std::string(1, schema::kCode), [&](std::string_view k, std::string_view) {
    code_hash = ToHex0x(AsBytes(k.substr(1)));
    return false;
  }), "scan code");
  std::vector<std::pair<std::string, std::string>> calls = {
      {"chain-profile", R"({"jsonrpc":"2.0","id":1,"method":"tos_chainProfile"})"},
      {"block-number", R"({"jsonrpc":"2.0","id":"a","method":"tos_blockNumber","params":[]})"},
      {"block", R"({"jsonrpc":"2.0","id":2,"method":"tos_getBlockByNumber","params":[2,true]})"},
      {"block-named", R"({"jsonrpc":"2.0","id":2,"method":"tos_getBlockByNumber","params":{"height":1,"full_txs":null}})"},
      {"header", R"({"jsonrpc":"2.0","id":3,"method":"tos_getHeaderByNumber","params":[3]})"},
      {"tx", R"({"jsonrpc":"2.0","id":4,"method":"tos_getTransaction","params":[")" + id + R"("]})"},
      {"receipt", R"({"jsonrpc":"2.0","id":5,"method":"tos_getReceipt","params":{"id":")" + id + R"("}})"},
      {"account", R"({"jsonrpc":"2.0","id":6,"method":"tos_getAccount","params":[")" + alice + R"("]})"},
      {"signer", R"({"jsonrpc":"2.0","id":7,"method":"tos_getSigner","params":[")" + bob + R"("]})"},
      {"kv", R"({"jsonrpc":"2.0","id":8,"method":"tos_getKV","params":[")" + alice + R"(","0x617070","0x6b65792d32"]})"},
      {"kv-meta", R"({"jsonrpc":"2.0","id":9,"method":"tos_getKVMeta","params":[")" + bob + R"(","0x617070","0x6b33"]})"},
      {"code", R"({"jsonrpc":"2.0","id":10,"method":"tos_getCode","params":[")" + code_hash + R"("]})"},
      {"code-meta", R"({"jsonrpc":"2.0","id":11,"method":"tos_getCodeMeta","params":[")" + code_hash + R"("]})"},
      {"retention", R"({"jsonrpc":"2.0","id":12,"method":"tos_getRetentionPolicy"})"},
      {"watermark", R"({"jsonrpc":"2.0","id":13,"method":"tos_getPruneWatermark"})"},
      {"validators", R"({"jsonrpc":"2.0","id":14,"method":"dpos_getValidators"})"},
      {"epoch", R"({"jsonrpc":"2.0","id":15,"method":"dpos_getEpochInfo"})"},
      {"send-raw", R"({"jsonrpc":"2.0","id":16,"method":"tos_sendRawTransaction","params":[")" +
                       ToHex0x(EncodeRecord(b2->txs[1])) + R"("]})"},
      {"notification", R"({"jsonrpc":"2.0","method":"tos_blockNumber"})"},
      {"batch", R"([{"jsonrpc":"2.0","id":1,"method":"tos_blockNumber"},{"jsonrpc":"2.0","method":"tos_blockNumber"},)"
                R"({"jsonrpc":"2.0","id":null,"method":"nope"},5,{"jsonrpc":"1.0","id":[1]}])"},
      {"unknown-param", R"({"jsonrpc":"2.0","id":1,"method":"tos_getAccount","params":{"addr":"0x00"}})"},
  };
  for (const auto& [name, body] : calls) Put("jsonrpc", name + ".bin", With(0, AsBytes(body)));
  Put("jsonrpc", "tx-records.bin", With(1, Cat({EncodeRecord(b2->txs[0]), EncodeRecord(b2->txs[1]), EncodeRecord(b2->txs[2])})));

  // Param decoders: [selector, JSON].
  std::vector<std::pair<uint8_t, std::string>> params = {
      {0 + 4 * 40, "\"0x617070\""}, {0 + 4 * 2, "\"0xABCDEF\""}, {1, "\"" + id + "\""}, {1, "\"" + alice + "\""},
      {2, "12345"}, {2, "-1"}, {2, "1.5"}, {2, "18446744073709551615"}, {3, "true"}, {3, "null"}, {0, "0x"},
  };
  for (size_t i = 0; i < params.size(); ++i)
    Put("rpc_params", "param-" + std::to_string(i) + ".bin", With(params[i].first, AsBytes(params[i].second)));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: fuzz_gen_corpus TESTS_FUZZ_DIR\n");
    return 2;
  }
  g_dir = argv[1];
  char tmpl[] = "/tmp/gtos-gen-corpus-XXXXXX";
  if (!::mkdtemp(tmpl)) return 1;
  std::string scratch = tmpl;
  {
    auto c = BuildChain(scratch + "/chain", 3);
    Snapshots(*c, scratch);
    StateValues(*c);
    Records(*c);
    P2p(*c);
    Consensus(*c);
    Rpc(*c);
  }
  std::error_code ec;
  fs::remove_all(scratch, ec);
  std::printf("fuzz_gen_corpus: wrote the gen-* seeds under %s/corpus-*/\n", g_dir.c_str());
  return 0;
}
