// gtos-tx sign | verify | hash (man/gtos-tx.1).
#include "commands.h"
#include "common.h"

#include <thread>

#include <CLI/CLI.hpp>

#include "cli/passphrase.h"
#include "cli/record_io.h"
#include "types/json.h"
#include "types/records.h"

namespace gtos::txtool {

namespace {

class Sign : public cli::Command {
 public:
  std::string_view name() const override { return "sign"; }
  std::string_view help() const override { return "Sign unsigned tx records; signed records out"; }
  void Setup(CLI::App& app) override {
    app.add_option("--key", key_file_, "Private key record to sign with")->type_name("FILE")->required();
    app.add_option("--passphrase-file", passphrase_file_, "Passphrase of an encrypted key")->type_name("FILE");
    app.add_flag("--bound-signer", bound_,
                 "Allow a key whose address is not the tx's 'from' (account signer bound to it)");
    app.add_option("files", files_, "Unsigned tx record files (default: stdin)")->type_name("FILE");
    app.add_option("-o,--output", output_, "Write to FILE instead of stdout")->type_name("FILE");
  }
  Status Run() override {
    cli::Output out;
    GTOS_TRY(out.Open(output_, cli::OutputKind::kBinary));
    auto key = cli::LoadAndUnlockKey(key_file_, passphrase_file_);
    if (!key) return std::unexpected(key.error());
    Address key_address = key->record.address();
    cli::RecordReader reader(files_);
    codec::Writer w;
    for (;;) {
      auto p = reader.Next();
      if (!p) return std::unexpected(p.error());
      if (!*p) break;
      auto utx = DecodeRecordFrom<UnsignedTx>(**p);
      if (!utx) return std::unexpected(Wrap(utx.error(), reader.Where()));
      if (!bound_ && utx->tx.from != key_address)
        return Fail(ErrorCode::kInvalid,
                    reader.Where() + ": key address " + ToHex0x(key_address) + " is not the tx's from " +
                        ToHex0x(utx->tx.from),
                    "if the account's signer is bound to this key, pass --bound-signer");
      auto stx = SignTx(utx->tx, *key->algo, key->secret.view(), key->record.public_key);
      if (!stx) return std::unexpected(Wrap(stx.error(), reader.Where()));
      w.Clear();
      EncodeRecordTo(w, *stx);
      GTOS_TRY(out.Write(w.bytes()));
    }
    return out.Commit();
  }

 private:
  std::string key_file_, passphrase_file_, output_;
  std::vector<std::string> files_;
  bool bound_ = false;
};

// Verifies in batches on every core; reports the first failure in input
// order, so the result does not depend on scheduling.
class Verify : public cli::Command {
 public:
  std::string_view name() const override { return "verify"; }
  std::string_view help() const override {
    return "Check signed tx records; exit 1 naming the first that does not verify";
  }
  void Setup(CLI::App& app) override {
    app.add_option("files", files_, "Signed tx record files (default: stdin)")->type_name("FILE");
    app.add_flag("--bound-signer", bound_,
                 "Check only the signature, not that the key derives to 'from' (signer bound on chain)");
    app.add_option("-j,--jobs", jobs_, "Verification threads (default: all cores)")->type_name("N");
  }
  Status Run() override {
    unsigned threads = jobs_ ? jobs_ : std::max(1u, std::thread::hardware_concurrency());
    cli::RecordReader reader(files_);
    std::vector<Bytes> batch;
    std::vector<std::string> where;
    size_t total = 0;
    for (bool done = false; !done;) {
      batch.clear();
      where.clear();
      while (batch.size() < kBatch) {
        auto p = reader.Next();
        if (!p) {
          GTOS_TRY(Check(batch, where, threads));  // earlier records fail first
          return std::unexpected(p.error());
        }
        if (!*p) {
          done = true;
          break;
        }
        batch.emplace_back((*p)->raw.begin(), (*p)->raw.end());
        where.push_back(reader.Where());
      }
      GTOS_TRY(Check(batch, where, threads));
      total += batch.size();
    }
    if (total == 0) return Invalid("no signed_tx record in input");
    return Ok();
  }

 private:
  static constexpr size_t kBatch = 4096;

  Status VerifyOne(const Bytes& raw) const {
    auto stx = DecodeRecord<SignedTx>(raw);
    if (!stx) return std::unexpected(stx.error());
    Hash32 id = stx->tx.Id();
    auto st = VerifySignedTx(*stx, bound_ ? SignerCheck::kAnyKey : SignerCheck::kFallback, id);
    if (!st) return std::unexpected(Wrap(st.error(), "tx " + ToHex0x(id)));
    return Ok();
  }

  Status Check(const std::vector<Bytes>& batch, const std::vector<std::string>& where,
               unsigned threads) const {
    std::vector<Status> results(batch.size());
    auto work = [&](size_t begin, size_t end) {
      for (size_t i = begin; i < end; ++i) results[i] = VerifyOne(batch[i]);
    };
    size_t n = batch.size();
    size_t per = (n + threads - 1) / std::max(1u, threads);
    std::vector<std::jthread> pool;
    for (size_t begin = per; begin < n; begin += per) pool.emplace_back(work, begin, std::min(n, begin + per));
    work(0, std::min(n, per));
    pool.clear();  // joins
    for (size_t i = 0; i < n; ++i) {
      if (!results[i]) {
        Error e = results[i].error();
        e.message = where[i] + ": " + e.message;
        if (!bound_ && e.message.find("does not derive") != std::string::npos)
          e.hint = "if the account's signer is bound to this key, pass --bound-signer";
        return std::unexpected(e);
      }
    }
    return Ok();
  }

  std::vector<std::string> files_;
  bool bound_ = false;
  unsigned jobs_ = 0;
};

class HashCmd : public cli::Command {
 public:
  std::string_view name() const override { return "hash"; }
  std::string_view help() const override { return "Print the id of each unsigned or signed tx, one per line"; }
  void Setup(CLI::App& app) override {
    app.add_option("files", files_, "Tx record files (default: stdin)")->type_name("FILE");
  }
  Status Run() override {
    cli::Output out;
    GTOS_TRY(out.Open("", cli::OutputKind::kText));
    cli::RecordReader reader(files_);
    for (;;) {
      auto p = reader.Next();
      if (!p) return std::unexpected(p.error());
      if (!*p) break;
      auto rec = DecodeAnyFrom(**p);
      if (!rec) return std::unexpected(Wrap(rec.error(), reader.Where()));
      const TxBody* body = nullptr;
      if (auto* u = std::get_if<UnsignedTx>(&*rec)) body = &u->tx;
      else if (auto* s = std::get_if<SignedTx>(&*rec)) body = &s->tx;
      else
        return Invalid(reader.Where() + ": expected an unsigned_tx or signed_tx record, got " +
                       std::string(TypeNameOf(*rec)));
      GTOS_TRY(out.WriteLine(ToHex0x(body->Id())));
    }
    if (reader.count() == 0) return Invalid("no tx record in input");
    return out.Commit();
  }

 private:
  std::vector<std::string> files_;
};

}  // namespace

const cli::ToolSpec& Spec() {
  static Sign sign;
  static Verify verify;
  static HashCmd hash;
  static const cli::ToolSpec spec{
      "gtos-tx",
      "Build, sign, verify, hash and send GTOS transactions; records in, records out.",
      "Examples:\n"
      "  gtos-tx build transfer --chain-id gtos-dev --from-key alice.pub --nonce 0 \\\n"
      "      --to 0x$(printf '%064d' 0) --amount 5 -o tx.unsigned\n"
      "  gtos-tx sign --key alice.key --passphrase-file pass.txt tx.unsigned > tx.signed\n"
      "  gtos-tx verify tx.signed && gtos-tx hash tx.signed\n"
      "  gtos-tx send --rpc http://127.0.0.1:8545 --wait --json tx.signed\n"
      "  gtos-tx build upgrade-plan --chain-id gtos-dev --name fees-2 --activation-height 5000 \\\n"
      "      --param fee_base=2000 -o plan.rec\n"
      "  gtos-tx sign-plan --key v1.key plan.rec -o plan.v1   # each validator, offline\n"
      "  gtos-tx gather-plan --chain-id gtos-dev --from-key alice.pub --rpc URL plan.v1 plan.v2 > plan.unsigned\n"
      "Exit status: 0 success, 1 failure, 2 usage error.",
      {&BuildCommand(), &sign, &verify, &hash, &SendCommand(), &SignPlanCommand(), &GatherPlanCommand()},
      nullptr};
  return spec;
}

}  // namespace gtos::txtool
