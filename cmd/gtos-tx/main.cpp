// gtos-tx: build, sign, verify, hash and send transactions.
#include "cli/tool.h"
#include "commands.h"

int main(int argc, char** argv) {
  return gtos::cli::RunTool(gtos::txtool::Spec(), argc, argv);
}
