// Progress of long work on stderr (product spec §2): shown only when stderr
// is a terminal, so scripts and logs see nothing; at most ten updates a
// second, so that fast work is not slowed down by the terminal.
//
//   cli::Progress p("deleted", "heights");
//   chain.PruneHistory(n, false, p.Callback());   // "gtos-prune: deleted 12/40 heights (30%)"
//   p.Phase("compacting the database");          // "gtos-prune: compacting the database..."
#ifndef GTOS_CLI_PROGRESS_H_
#define GTOS_CLI_PROGRESS_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

namespace gtos::cli {

class Progress {
 public:
  // what: the verb shown before the counts; unit: what is counted.
  Progress(std::string what, std::string unit);
  ~Progress() { Done(); }
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  bool enabled() const { return tty_; }
  void Update(uint64_t done, uint64_t total);
  // Update as a callback; empty when stderr is not a terminal (callers then
  // skip the calls altogether).
  std::function<void(uint64_t, uint64_t)> Callback();
  // Ends the progress line and announces the next phase of the work.
  void Phase(std::string_view what);
  // Ends the progress line (before any other message).
  void Done();

 private:
  std::string what_, unit_;
  bool tty_ = false;
  bool shown_ = false;
  std::chrono::steady_clock::time_point last_{};
};

}  // namespace gtos::cli

#endif  // GTOS_CLI_PROGRESS_H_
