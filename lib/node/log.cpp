#include "node/log.h"

#include <nlohmann/json.hpp>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

namespace gtos::node {

namespace {
LogFormat g_format = LogFormat::kText;
LogLevel g_level = LogLevel::kInfo;
std::shared_ptr<spdlog::logger> g_logger;

const char* LevelName(LogLevel l) {
  switch (l) {
    case LogLevel::kDebug: return "debug";
    case LogLevel::kInfo: return "info";
    case LogLevel::kWarn: return "warn";
    case LogLevel::kError: return "error";
  }
  return "info";
}

std::shared_ptr<spdlog::logger> Logger() {
  if (!g_logger) {
    g_logger = spdlog::stderr_logger_mt("gtos");
    g_logger->set_pattern("%v");
  }
  return g_logger;
}
}  // namespace

Status LogInit(LogFormat format, LogLevel level) {
  g_format = format;
  g_level = level;
  Logger();
  return Ok();
}

Result<LogLevel> ParseLogLevel(std::string_view s) {
  if (s == "debug") return LogLevel::kDebug;
  if (s == "info") return LogLevel::kInfo;
  if (s == "warn") return LogLevel::kWarn;
  if (s == "error") return LogLevel::kError;
  return Invalid("log level '" + std::string(s) + "' is not one of debug, info, warn, error");
}

Result<LogFormat> ParseLogFormat(std::string_view s) {
  if (s == "text") return LogFormat::kText;
  if (s == "json") return LogFormat::kJson;
  return Invalid("log format '" + std::string(s) + "' is not one of text, json");
}

void Log(LogLevel level, std::string_view msg, std::initializer_list<LogField> fields) {
  if (level < g_level) return;
  auto now = std::chrono::system_clock::now();
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
  std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char ts[64];
  std::snprintf(ts, sizeof ts, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms % 1000));
  std::string line;
  if (g_format == LogFormat::kJson) {
    nlohmann::ordered_json j;
    j["ts"] = ts;
    j["level"] = LevelName(level);
    j["msg"] = msg;
    for (const LogField& f : fields)
      std::visit([&](const auto& v) { j[std::string(f.key)] = v; }, f.value);
    line = j.dump();
  } else {
    line = std::string(ts) + " " + LevelName(level) + " " + std::string(msg);
    for (const LogField& f : fields) {
      line += " " + std::string(f.key) + "=";
      std::visit(
          [&](const auto& v) {
            if constexpr (std::is_same_v<std::decay_t<decltype(v)>, std::string>) {
              bool quote = v.find_first_of(" \"=") != std::string::npos || v.empty();
              line += quote ? nlohmann::json(v).dump() : v;
            } else {
              line += std::to_string(v);
            }
          },
          f.value);
    }
  }
  Logger()->info(line);
  if (level >= LogLevel::kWarn) Logger()->flush();
}

}  // namespace gtos::node
