// Structured logs of the node: one line per event, as text
// ("2026-11-21T05:00:00.123Z info block committed height=5 txs=3") or as
// JSON lines ({"ts":...,"level":"info","msg":"block committed","height":5}).
// Backed by spdlog; thread-safe.
#ifndef GTOS_NODE_LOG_H_
#define GTOS_NODE_LOG_H_

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <variant>

#include "util/status.h"

namespace gtos::node {

enum class LogLevel { kDebug, kInfo, kWarn, kError };
enum class LogFormat { kText, kJson };

Status LogInit(LogFormat format, LogLevel level);
Result<LogLevel> ParseLogLevel(std::string_view s);
Result<LogFormat> ParseLogFormat(std::string_view s);

using LogValue = std::variant<std::string, uint64_t, int64_t>;
struct LogField {
  std::string_view key;
  LogValue value;
};

void Log(LogLevel level, std::string_view msg, std::initializer_list<LogField> fields = {});

}  // namespace gtos::node

#endif  // GTOS_NODE_LOG_H_
