#ifndef GTOS_CMD_KEYS_COMMANDS_H_
#define GTOS_CMD_KEYS_COMMANDS_H_

#include "cli/tool.h"

namespace gtos::keys {
const cli::ToolSpec& Spec();
}

#endif  // GTOS_CMD_KEYS_COMMANDS_H_
