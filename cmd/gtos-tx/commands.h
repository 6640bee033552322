#ifndef GTOS_CMD_TX_COMMANDS_H_
#define GTOS_CMD_TX_COMMANDS_H_

#include "cli/tool.h"

namespace gtos::txtool {
cli::Command& BuildCommand();
cli::Command& SendCommand();
const cli::ToolSpec& Spec();
}  // namespace gtos::txtool

#endif  // GTOS_CMD_TX_COMMANDS_H_
