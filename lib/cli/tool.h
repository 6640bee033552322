// Shared plumbing of every gtos-* tool: subcommands, exit statuses, errors.
//
// A tool's main() is one call to RunTool() with its subcommands. Each
// subcommand is a Command: a name, a one-line help, Setup() that declares
// its options on a CLI11 app, and Run(). RunTool parses argv, runs the chosen
// command and turns its Status into output and an exit status:
//   0  success
//   1  failure (bad record, failed check, I/O or node error)
//   2  usage error (bad flags, missing arguments, refused terminal output,
//      an existing output file that needs --force: ErrorCode::kExists)
// Errors are printed to stderr as "gtos-<tool>: error: <what failed>",
// followed by "gtos-<tool>: hint: <advice>" when the error carries one.
#ifndef GTOS_CLI_TOOL_H_
#define GTOS_CLI_TOOL_H_

#include <string>
#include <string_view>
#include <vector>

#include "util/status.h"

namespace CLI {
class App;
}

namespace gtos::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitUsage = 2;

class Command {
 public:
  virtual ~Command() = default;
  virtual std::string_view name() const = 0;
  virtual std::string_view help() const = 0;
  virtual void Setup(CLI::App& app) = 0;
  virtual Status Run() = 0;
};

struct ToolSpec {
  std::string name;         // "gtos-keys"
  std::string description;  // first line of --help
  std::string footer;       // examples, printed after the options
  std::vector<Command*> commands;
  // When set, runs when no subcommand is named (gtos-inspect FILE...).
  Command* default_command = nullptr;
};

int RunTool(const ToolSpec& spec, int argc, char** argv);

// The running tool's name, for messages ("gtos-tx").
const std::string& ToolName();
// Prints "gtos-<tool>: error: ..." (and hint) to stderr.
void PrintError(const Error& e);
// Exit status for an error.
int ExitCodeFor(const Error& e);

// A usage error (exit status 2).
inline std::unexpected<Error> UsageError(std::string message, std::string hint = {}) {
  return Fail(ErrorCode::kUsage, std::move(message), std::move(hint));
}

}  // namespace gtos::cli

#endif  // GTOS_CLI_TOOL_H_
