#ifndef GTOS_CMD_GENESIS_COMMANDS_H_
#define GTOS_CMD_GENESIS_COMMANDS_H_

#include "cli/tool.h"

namespace gtos::genesis {
const cli::ToolSpec& Spec();
}

#endif  // GTOS_CMD_GENESIS_COMMANDS_H_
