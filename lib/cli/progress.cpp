#include "cli/progress.h"

#include <unistd.h>

#include <cinttypes>
#include <cstdio>

#include "cli/tool.h"

namespace gtos::cli {

Progress::Progress(std::string what, std::string unit)
    : what_(std::move(what)), unit_(std::move(unit)), tty_(::isatty(2) == 1) {}

void Progress::Update(uint64_t done, uint64_t total) {
  if (!tty_) return;
  auto now = std::chrono::steady_clock::now();
  if (shown_ && done < total && now - last_ < std::chrono::milliseconds(100)) return;
  last_ = now;
  shown_ = true;
  unsigned pct = total ? static_cast<unsigned>(done * 100 / total) : 100;
  std::fprintf(stderr, "\r%s: %s %" PRIu64 "/%" PRIu64 " %s (%u%%)", ToolName().c_str(), what_.c_str(), done, total,
               unit_.c_str(), pct);
  std::fflush(stderr);
}

std::function<void(uint64_t, uint64_t)> Progress::Callback() {
  if (!tty_) return {};
  return [this](uint64_t done, uint64_t total) { Update(done, total); };
}

void Progress::Phase(std::string_view what) {
  if (!tty_) return;
  Done();
  std::fprintf(stderr, "%s: %.*s...\n", ToolName().c_str(), static_cast<int>(what.size()), what.data());
}

void Progress::Done() {
  if (shown_) std::fputc('\n', stderr);
  shown_ = false;
}

}  // namespace gtos::cli
