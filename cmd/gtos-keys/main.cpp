// gtos-keys: create, show, import and export keys.
#include "cli/tool.h"
#include "commands.h"

int main(int argc, char** argv) {
  return gtos::cli::RunTool(gtos::keys::Spec(), argc, argv);
}
