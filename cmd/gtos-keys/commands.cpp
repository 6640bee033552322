// The subcommands of gtos-keys (man/gtos-keys.1).
#include "commands.h"

#include <filesystem>

#include <CLI/CLI.hpp>

#include "cli/passphrase.h"
#include "cli/record_io.h"
#include "crypto/sig.h"
#include "types/json.h"
#include "types/keys.h"
#include "types/records.h"

namespace gtos::keys {

namespace {

std::vector<std::string> AlgoNames() {
  std::vector<std::string> names;
  for (const crypto::SigAlgo* a : crypto::AllAlgos()) names.emplace_back(a->name);
  return names;
}

// Options shared by commands that write a new private key.
struct NewKeyOptions {
  std::string passphrase_file;
  bool unencrypted = false;
  std::string output;
  bool force = false;
  unsigned kdf_log2_n = crypto::kNewKeyLog2N;

  void Setup(CLI::App& app) {
    auto* pf = app.add_option("--passphrase-file", passphrase_file,
                              "Encrypt with the passphrase in FILE (one trailing newline is ignored)")
                   ->type_name("FILE");
    app.add_flag("--unencrypted", unencrypted, "Write the key without encryption (unsafe)")
        ->excludes(pf);
    app.add_option("-o,--output", output, "Write the key record to FILE (mode 0600) instead of stdout")
        ->type_name("FILE");
    app.add_flag("--force", force, "Replace FILE if it exists (by default an existing FILE is refused)");
    app.add_option("--kdf-log2n", kdf_log2_n, "scrypt cost: N = 2^VALUE")
        ->check(CLI::Range(unsigned{crypto::kNewKeyLog2N}, unsigned{crypto::kMaxLog2N}))
        ->default_val(unsigned{crypto::kNewKeyLog2N});
  }

  Status Write(crypto::AlgoId algo, ByteView secret) {
    const Replace replace = force ? Replace::kAllow : Replace::kRefuse;
    // Refuse before asking for a passphrase; Commit() checks again.
    std::error_code ec;
    if (!force && !output.empty() && output != "-" && std::filesystem::exists(std::filesystem::symlink_status(output, ec)))
      return std::unexpected(Refused(ExistsError(output)));
    std::optional<SecretString> passphrase;
    if (!unencrypted) {
      auto p = cli::GetPassphrase(passphrase_file, cli::PassphrasePurpose::kNew);
      if (!p) return std::unexpected(p.error());
      passphrase = std::move(*p);
    }
    crypto::ScryptParams params;
    params.log2_n = static_cast<uint8_t>(kdf_log2_n);
    auto key = MakePrivateKey(algo, secret, passphrase ? std::optional<std::string_view>(passphrase->view()) : std::nullopt,
                              params);
    if (!key) return std::unexpected(key.error());
    Bytes record = EncodeRecord(*key);
    SecureWipe(key->secret);
    Status st = WriteRecord(record, replace);
    SecureWipe(record);
    return st;
  }

 private:
  Status WriteRecord(const Bytes& record, Replace replace) {
    cli::Output out;
    auto st = out.Open(output, cli::OutputKind::kBinary, 0600, replace);
    if (st) st = out.Write(record);
    if (st) st = out.Commit();
    if (!st && st.error().code == ErrorCode::kExists) return std::unexpected(Refused(st.error()));
    return st;
  }
  static Error Refused(Error e) {
    e.hint = "pass --force to replace it (the key in it is lost unless you have a copy)";
    return e;
  }
};

class NewCommand : public cli::Command {
 public:
  std::string_view name() const override { return "new"; }
  std::string_view help() const override { return "Create a new key (encrypted at rest)"; }
  void Setup(CLI::App& app) override {
    app.add_option("--algo", algo_, "Signature algorithm")
        ->check(CLI::IsMember(AlgoNames()))
        ->default_val("ed25519");
    opts_.Setup(app);
  }
  Status Run() override {
    const crypto::SigAlgo* a = crypto::FindAlgo(algo_);
    crypto::SecretBytes secret(a->generate());
    return opts_.Write(a->id, secret.view());
  }

 private:
  std::string algo_ = "ed25519";
  NewKeyOptions opts_;
};

// Streams key records (private or public) and emits each one's public part.
class PubCommand : public cli::Command {
 public:
  explicit PubCommand(bool address_only) : address_only_(address_only) {}
  std::string_view name() const override { return address_only_ ? "addr" : "pub"; }
  std::string_view help() const override {
    return address_only_ ? "Print the address of each key: 0x + 64 hex digits"
                         : "Print the public key record of each key";
  }
  void Setup(CLI::App& app) override {
    app.add_option("files", files_, "Key record files (default: stdin)")->type_name("FILE");
    if (!address_only_) {
      app.add_option("-o,--output", output_, "Write to FILE instead of stdout")->type_name("FILE");
      app.add_flag("--json", json_, "Print JSON lines instead of records");
    }
  }
  Status Run() override {
    cli::Output out;
    bool text = address_only_ || json_;
    GTOS_TRY(out.Open(output_, text ? cli::OutputKind::kText : cli::OutputKind::kBinary));
    cli::RecordReader reader(files_);
    for (;;) {
      auto p = reader.Next();
      if (!p) return std::unexpected(p.error());
      if (!*p) break;
      auto rec = DecodeAnyFrom(**p);
      if (!rec) return std::unexpected(Wrap(rec.error(), reader.Where()));
      PublicKey pub;
      if (auto* priv = std::get_if<PrivateKey>(&*rec)) pub = PublicOf(*priv);
      else if (auto* pk = std::get_if<PublicKey>(&*rec)) pub = *pk;
      else
        return Invalid(reader.Where() + ": expected a private_key or public_key record, got " +
                       std::string(TypeNameOf(*rec)));
      if (address_only_) GTOS_TRY(out.WriteLine(ToHex0x(pub.address())));
      else if (json_) GTOS_TRY(out.WriteLine(ToJson(pub).dump()));
      else GTOS_TRY(out.Write(EncodeRecord(pub)));
    }
    if (reader.count() == 0) return Invalid("no key record in input");
    return out.Commit();
  }

 private:
  bool address_only_;
  std::vector<std::string> files_;
  std::string output_;
  bool json_ = false;
};

class ImportCommand : public cli::Command {
 public:
  std::string_view name() const override { return "import"; }
  std::string_view help() const override { return "Make a key record from a secret key in hex"; }
  void Setup(CLI::App& app) override {
    app.add_option("--algo", algo_, "Signature algorithm")->check(CLI::IsMember(AlgoNames()))->required();
    app.add_option("--hex-file", hex_file_, "File holding the secret key as hex")
        ->type_name("FILE")
        ->required();
    opts_.Setup(app);
  }
  Status Run() override {
    const crypto::SigAlgo* a = crypto::FindAlgo(algo_);
    auto hex = ReadSecretFile(hex_file_, "hex");
    if (!hex) return std::unexpected(hex.error());
    std::string_view trimmed = hex->view();
    while (!trimmed.empty() && std::isspace(static_cast<unsigned char>(trimmed.back()))) trimmed.remove_suffix(1);
    auto bytes = FromHex(trimmed, "'" + hex_file_ + "'");
    if (!bytes) return std::unexpected(bytes.error());
    crypto::SecretBytes secret(std::move(*bytes));
    return opts_.Write(a->id, secret.view());
  }

 private:
  std::string algo_;
  std::string hex_file_;
  NewKeyOptions opts_;
};

class ExportCommand : public cli::Command {
 public:
  std::string_view name() const override { return "export"; }
  std::string_view help() const override { return "Print a private key's secret as hex (needs --unsafe-hex)"; }
  void Setup(CLI::App& app) override {
    app.add_flag("--unsafe-hex", unsafe_, "Confirm printing the unencrypted secret");
    app.add_option("file", file_, "Private key record file (default: stdin)")->type_name("FILE");
    app.add_option("--passphrase-file", passphrase_file_, "Passphrase of an encrypted key")
        ->type_name("FILE");
  }
  Status Run() override {
    if (!unsafe_)
      return cli::UsageError("refusing to print a private key without --unsafe-hex",
                             "the hex secret is unencrypted; pass --unsafe-hex if you mean it");
    auto key = cli::LoadAndUnlockKey(file_, passphrase_file_);
    if (!key) return std::unexpected(key.error());
    cli::Output out;
    GTOS_TRY(out.Open("", cli::OutputKind::kText));
    SecretString hex(ToHex(key->secret.view()));
    GTOS_TRY(out.WriteLine(hex.view()));
    return out.Commit();
  }

 private:
  bool unsafe_ = false;
  std::string file_ = "-";
  std::string passphrase_file_;
};

}  // namespace

const cli::ToolSpec& Spec() {
  static NewCommand new_cmd;
  static PubCommand pub_cmd(false), addr_cmd(true);
  static ImportCommand import_cmd;
  static ExportCommand export_cmd;
  static const cli::ToolSpec spec{
      "gtos-keys",
      "Create GTOS keys (encrypted at rest) and show their public keys and addresses.",
      "Examples:\n"
      "  gtos-keys new --passphrase-file pass.txt -o alice.key\n"
      "  gtos-keys addr alice.key\n"
      "  gtos-keys pub alice.key --json\n"
      "Passphrases come from --passphrase-file, $GTOS_PASSPHRASE_FILE, or a terminal prompt.\n"
      "new and import refuse an existing -o FILE unless --force is given.\n"
      "Exit status: 0 success, 1 failure, 2 usage error (also: -o FILE exists, no --force).",
      {&new_cmd, &pub_cmd, &addr_cmd, &import_cmd, &export_cmd},
      nullptr};
  return spec;
}

}  // namespace gtos::keys
