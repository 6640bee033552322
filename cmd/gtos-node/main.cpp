// gtos-node: the node daemon (man/gtos-node.1).
#include "cli/tool.h"
#include "commands.h"

int main(int argc, char** argv) { return gtos::cli::RunTool(gtos::nodecmd::Spec(), argc, argv); }
