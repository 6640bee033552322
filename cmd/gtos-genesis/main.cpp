// gtos-genesis: the genesis ceremony (man/gtos-genesis.1, docs/genesis.md).
#include "cli/tool.h"
#include "commands.h"

int main(int argc, char** argv) {
  return gtos::cli::RunTool(gtos::genesis::Spec(), argc, argv);
}
