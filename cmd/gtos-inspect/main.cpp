// gtos-inspect: records to JSON lines and back (man/gtos-inspect.1).
#include <fstream>
#include <iostream>

#include <CLI/CLI.hpp>

#include "cli/record_io.h"
#include "cli/tool.h"
#include "query.h"
#include "types/json.h"
#include "types/records.h"

namespace gtos::inspect {
namespace {

class Inspect : public cli::Command {
 public:
  std::string_view name() const override { return ""; }
  std::string_view help() const override { return "Decode records to JSON lines (or encode with --encode)"; }
  void Setup(CLI::App& app) override {
    app.add_option("files", files_, "Input files (default: stdin)")->type_name("FILE");
    app.add_flag("--encode", encode_, "Read JSON lines and write records");
    app.add_flag("--unsafe-show-secrets", show_secrets_, "Print unencrypted private keys' secrets");
    app.add_option("-o,--output", output_, "Write to FILE instead of stdout")->type_name("FILE");
  }
  Status Run() override { return encode_ ? Encode() : Decode(); }

 private:
  Status Decode() {
    cli::Output out;
    GTOS_TRY(out.Open(output_, cli::OutputKind::kText));
    JsonOptions opts{show_secrets_};
    cli::RecordReader reader(files_);
    for (;;) {
      auto p = reader.Next();
      if (!p) return std::unexpected(p.error());
      if (!*p) break;
      auto rec = DecodeAnyFrom(**p);
      if (!rec) return std::unexpected(Wrap(rec.error(), reader.Where()));
      GTOS_TRY(out.WriteLine(ToJson(*rec, opts).dump()));
    }
    return out.Commit();
  }

  Status EncodeStream(std::istream& in, const std::string& label, cli::Output& out) {
    std::string line;
    for (size_t n = 1; std::getline(in, line); ++n) {
      if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
      auto rec = FromJsonText(line);
      if (!rec) return std::unexpected(Wrap(rec.error(), "line " + std::to_string(n) + " of " + label));
      GTOS_TRY(out.Write(EncodeAny(*rec)));
    }
    if (in.bad()) return Fail(ErrorCode::kIO, "unable to read " + label);
    return Ok();
  }

  Status Encode() {
    cli::Output out;
    GTOS_TRY(out.Open(output_, cli::OutputKind::kBinary));
    std::vector<std::string> files = files_.empty() ? std::vector<std::string>{"-"} : files_;
    for (const std::string& f : files) {
      if (f == "-") {
        GTOS_TRY(EncodeStream(std::cin, "stdin", out));
        continue;
      }
      std::ifstream in(f);
      if (!in) return Fail(ErrorCode::kIO, "unable to open '" + f + "': " + std::strerror(errno));
      GTOS_TRY(EncodeStream(in, "'" + f + "'", out));
    }
    return out.Commit();
  }

  std::vector<std::string> files_;
  bool encode_ = false;
  bool show_secrets_ = false;
  std::string output_;
};

}  // namespace
}  // namespace gtos::inspect

int main(int argc, char** argv) {
  static gtos::inspect::Inspect inspect;
  static const gtos::cli::ToolSpec spec{
      "gtos-inspect",
      "Decode any GTOS record stream to JSON lines, or encode JSON lines back to records;\n"
      "query a stopped node's data directory (db) or a running node (rpc).",
      "Examples:\n"
      "  gtos-inspect tx.signed\n"
      "  gtos-inspect tx.signed | gtos-inspect --encode > same.signed\n"
      "  gtos-inspect db --datadir node1 block 12\n"
      "  gtos-inspect rpc --rpc http://127.0.0.1:8545 kv 0x... app greeting\n"
      "Exit status: 0 success, 1 failure, 2 usage error.",
      {&gtos::inspect::DbCommand(), &gtos::inspect::RpcCommand()},
      &inspect};
  return gtos::cli::RunTool(spec, argc, argv);
}
