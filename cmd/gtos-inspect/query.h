// gtos-inspect db | rpc: the same queries against a stopped node's data
// directory or a running node (man/gtos-inspect.1).
#ifndef GTOS_CMD_INSPECT_QUERY_H_
#define GTOS_CMD_INSPECT_QUERY_H_

#include "cli/tool.h"

namespace gtos::inspect {
cli::Command& DbCommand();
cli::Command& RpcCommand();
}  // namespace gtos::inspect

#endif  // GTOS_CMD_INSPECT_QUERY_H_
