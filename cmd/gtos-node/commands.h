#ifndef GTOS_CMD_NODE_COMMANDS_H_
#define GTOS_CMD_NODE_COMMANDS_H_

#include "cli/tool.h"

namespace gtos::nodecmd {
const cli::ToolSpec& Spec();
}

#endif  // GTOS_CMD_NODE_COMMANDS_H_
