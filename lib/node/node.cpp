#include "node/node.h"

#include <chrono>
#include <thread>

#include "node/log.h"
#include "types/records.h"
#include "util/file.h"

namespace gtos::node {

namespace {

uint64_t NowMs() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count());
}

}  // namespace

Result<std::unique_ptr<Node>> Node::Open(const NodeOptions& options) {
  std::unique_ptr<Node> n(new Node());
  n->options_ = options;
  chain::ChainOptions co;
  co.datadir = options.datadir;
  co.sync = options.sync;
  auto chain = chain::Chain::Open(co);
  if (!chain) return std::unexpected(chain.error());
  n->chain_ = std::move(*chain);

  // The validator key, unlocked once at start.
  std::string key_file = options.validator_key_file.empty() ? options.datadir + "/validator.key"
                                                            : options.validator_key_file;
  auto raw = ReadFile(key_file);
  if (!raw)
    return Fail(ErrorCode::kNotFound, "no validator key at '" + key_file + "'",
                "give one with 'gtos-node init --key FILE' or --validator-key FILE");
  auto key = DecodeRecord<PrivateKey>(*raw);
  if (!key) return std::unexpected(Wrap(key.error(), "'" + key_file + "'"));
  std::optional<std::string> passphrase;
  if (key->encrypted()) {
    if (options.passphrase_file.empty())
      return Fail(ErrorCode::kUsage, "validator key '" + key_file + "' is encrypted and no passphrase was given",
                  "pass --passphrase-file FILE or set GTOS_PASSPHRASE_FILE");
    auto p = ReadSecretFile(options.passphrase_file, "passphrase");
    if (!p) return std::unexpected(p.error());
    passphrase = std::move(*p);
  }
  auto secret = UnlockPrivateKey(*key, passphrase);
  if (!secret) return std::unexpected(Wrap(secret.error(), "validator key '" + key_file + "'"));
  n->validator_secret_.assign(secret->view().begin(), secret->view().end());
  n->validator_algo_ = crypto::FindAlgo(key->algo);
  n->validator_public_ = key->public_key;
  n->validator_address_ = key->address();

  auto validators = n->chain_->GetValidators();
  if (!validators) return std::unexpected(validators.error());
  if (validators->size() != 1)
    return Fail(ErrorCode::kInvalid,
                "this chain has " + std::to_string(validators->size()) +
                    " validators; this build produces blocks only for single-validator chains");
  if ((*validators)[0].first != n->validator_address_)
    return Fail(ErrorCode::kInvalid, "validator key " + ToHex0x(n->validator_address_) +
                                         " is not the chain's validator " + ToHex0x((*validators)[0].first));

  n->mempool_ = std::make_unique<Mempool>(*n->chain_, options.mempool);
  n->rpc_ = std::make_unique<rpc::Server>(*n, options.rpc);
  return n;
}

Node::~Node() {
  if (rpc_) rpc_->Stop();
  std::fill(validator_secret_.begin(), validator_secret_.end(), 0);
}

int Node::rpc_port() const { return rpc_->port(); }

Status Node::ProduceBlock() {
  const ChainParams& p = chain_->params();
  auto t0 = std::chrono::steady_clock::now();
  std::vector<SignedTx> txs = mempool_->Select(p.max_block_txs, p.max_block_bytes);
  auto t1 = std::chrono::steady_clock::now();
  // Signatures were verified at mempool admission; signer bindings,
  // nonces and balances are checked again by execution.
  auto applied = chain_->Propose(std::move(txs), validator_address_, NowMs(), /*verify_signatures=*/false);
  if (!applied) return std::unexpected(applied.error());
  auto t2 = std::chrono::steady_clock::now();
  BlockHeader& hd = applied->block.header;
  Commit commit;
  commit.height = hd.height;
  commit.round = 0;
  commit.block_hash = hd.Hash();
  Vote vote;
  vote.type = static_cast<uint64_t>(VoteType::kPrecommit);
  vote.height = hd.height;
  vote.block_hash = commit.block_hash;
  auto sig = crypto::SignDigest(*validator_algo_, validator_secret_, validator_public_, vote.SigningDigest(hd.chain_id));
  if (!sig) return std::unexpected(sig.error());
  commit.signatures.push_back(CommitSig{validator_address_, std::move(*sig)});
  size_t ntx = applied->block.txs.size();
  size_t left_out = applied->exec.left_out.size();
  for (const auto& [id, err] : applied->exec.left_out)
    Log(LogLevel::kDebug, "tx left out", {{"id", ToHex0x(id)}, {"reason", err.message}});
  applied->block.commit = commit;
  BlockHeader committed = hd;
  GTOS_TRY(chain_->Commit(std::move(*applied), commit));
  auto t3 = std::chrono::steady_clock::now();
  mempool_->Committed(committed);
  auto t4 = std::chrono::steady_clock::now();
  auto ms = [](auto a, auto b) {
    return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(b - a).count());
  };
  blocks_committed_++;
  txs_committed_ += ntx;
  last_block_txs_ = ntx;
  last_commit_ms_ = NowMs();
  Log(LogLevel::kInfo, "block committed",
      {{"height", committed.height},
       {"txs", static_cast<uint64_t>(ntx)},
       {"left_out", static_cast<uint64_t>(left_out)},
       {"mempool", static_cast<uint64_t>(mempool_->size())},
       {"select_ms", ms(t0, t1)},
       {"execute_ms", ms(t1, t2)},
       {"commit_ms", ms(t2, t3)},
       {"mempool_ms", ms(t3, t4)},
       {"state_root", ToHex0x(committed.state_root)}});
  return Ok();
}

Status Node::Run(const std::atomic<bool>& stop) {
  GTOS_TRY(rpc_->Start());
  BlockHeader head = chain_->head();
  Log(LogLevel::kInfo, "node started",
      {{"chain_id", chain_->genesis().chain_id},
       {"height", head.height},
       {"rpc", "http://" + options_.rpc.host + ":" + std::to_string(rpc_->port())},
       {"validator", ToHex0x(validator_address_)}});
  ready_ = true;
  auto interval = std::chrono::milliseconds(chain_->params().target_block_interval_ms);
  auto next = std::chrono::steady_clock::now() + interval;
  Status result = Ok();
  while (!stop.load()) {
    auto now = std::chrono::steady_clock::now();
    if (now < next) {
      std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(next - now,
                                                                               std::chrono::milliseconds(20)));
      continue;
    }
    next += interval;
    if (next < now) next = now + interval;  // fell behind: do not burst
    auto st = ProduceBlock();
    if (!st) {
      Log(LogLevel::kError, "block production failed", {{"error", st.error().message}});
      result = st;
      break;
    }
  }
  ready_ = false;
  rpc_->Stop();
  Log(LogLevel::kInfo, "node stopped", {{"height", chain_->height()}});
  return result;
}

std::string Node::Metrics() const {
  std::string m;
  auto line = [&m](const char* name, const char* help, uint64_t v) {
    std::string_view n(name);
    const char* type = n.ends_with("_total") ? "counter" : "gauge";
    m += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n" + name + " " +
         std::to_string(v) + "\n";
  };
  line("gtos_blocks_committed_total", "Blocks this process committed.", blocks_committed_);
  line("gtos_txs_committed_total", "Transactions this process committed.", txs_committed_);
  line("gtos_last_block_txs", "Transactions in the last committed block.", last_block_txs_);
  line("gtos_last_commit_time_ms", "Wall-clock time of the last commit (ms since epoch).", last_commit_ms_);
  line("gtos_mempool_bytes", "Bytes of transactions in the mempool.", mempool_->bytes());
  return m;
}

}  // namespace gtos::node
