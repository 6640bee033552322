#include "cli/tool.h"

#include <cstdio>
#include <iostream>

#include <CLI/CLI.hpp>

#ifndef GTOS_VERSION
#define GTOS_VERSION "0.1.0"
#endif

namespace gtos::cli {

namespace {
std::string g_tool_name = "gtos";
}

const std::string& ToolName() { return g_tool_name; }

void PrintError(const Error& e) {
  std::fprintf(stderr, "%s: error: %s\n", g_tool_name.c_str(), e.message.c_str());
  if (!e.hint.empty()) std::fprintf(stderr, "%s: hint: %s\n", g_tool_name.c_str(), e.hint.c_str());
}

int ExitCodeFor(const Error& e) {
  return e.code == ErrorCode::kUsage || e.code == ErrorCode::kExists ? kExitUsage : kExitFailure;
}

int RunTool(const ToolSpec& spec, int argc, char** argv) {
  g_tool_name = spec.name;
  CLI::App app(spec.description, spec.name);
  app.set_version_flag("--version", std::string(spec.name) + " " + GTOS_VERSION);
  app.footer(spec.footer);
  app.option_defaults()->always_capture_default();
  std::vector<std::pair<CLI::App*, Command*>> subs;
  for (Command* c : spec.commands) {
    CLI::App* sub = app.add_subcommand(std::string(c->name()), std::string(c->help()));
    c->Setup(*sub);
    subs.emplace_back(sub, c);
  }
  if (spec.default_command) {
    spec.default_command->Setup(app);
    app.require_subcommand(0, 1);
  } else {
    app.require_subcommand(1);
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::string msg = e.what();
    // "gtos-tx build transfr": CLI11 says a subcommand is required; name
    // the word it did not know and where to see the list instead.
    if (msg.starts_with("A subcommand is required")) {
      CLI::App* deepest = &app;
      std::string path = spec.name;
      for (std::vector<CLI::App*> parsed = app.get_subcommands(); !parsed.empty();
           parsed = deepest->get_subcommands()) {
        deepest = parsed.front();
        path += " " + deepest->get_name();
      }
      std::vector<std::string> rest = deepest->remaining();
      if (!rest.empty() && !rest.front().starts_with("-")) {
        PrintError(Error{ErrorCode::kUsage, "unknown command '" + path + " " + rest.front() + "'",
                         "see '" + path + " --help' for the list"});
        return kExitUsage;
      }
    }
    // "The following ..." -> "the following ...", but keep the names of
    // positionals as declared: "KEY is required", "N is required".
    bool capitalised = msg.size() >= 2 && std::isupper(static_cast<unsigned char>(msg[0])) &&
                       (std::islower(static_cast<unsigned char>(msg[1])) || msg.starts_with("A "));
    if (capitalised) msg[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(msg[0])));
    PrintError(Error{ErrorCode::kUsage, msg, "see '" + spec.name + " --help'"});
    return kExitUsage;
  }
  Command* chosen = spec.default_command;
  for (auto& [sub, cmd] : subs)
    if (sub->parsed()) chosen = cmd;
  if (!chosen) {
    PrintError(Error{ErrorCode::kUsage, "no command given", "see '" + spec.name + " --help'"});
    return kExitUsage;
  }
  Status st = chosen->Run();
  if (std::fflush(stdout) != 0 && st) {
    PrintError(Error{ErrorCode::kIO, "unable to write to standard output", ""});
    return kExitFailure;
  }
  if (!st) {
    PrintError(st.error());
    return ExitCodeFor(st.error());
  }
  return kExitOk;
}

}  // namespace gtos::cli
