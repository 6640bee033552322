// Flags and helpers gtos-tx's commands share (build.cpp, plan.cpp).
#ifndef GTOS_CMD_TX_COMMON_H_
#define GTOS_CMD_TX_COMMON_H_

#include <string>

#include <CLI/CLI.hpp>

#include "cli/tool.h"
#include "types/tx.h"

namespace gtos::txtool {

// A flag's value that does not parse is a usage error (exit status 2).
Result<uint64_t> FlagUint(const std::string& value, std::string_view flag);
Result<Hash32> FlagAddress(const std::string& value, std::string_view flag);

// Flags every kind shares: chain id, sender, nonce, fee, output.
struct CommonOptions {
  std::string chain_id, from, from_key, nonce, fee, output, rpc;
  bool json = false;

  void Setup(CLI::App& app) {
    app.add_option("--chain-id", chain_id, "Chain id the tx is valid on")->type_name("ID")->required();
    auto* f = app.add_option("--from", from, "Sender address (0x + 64 hex)")->type_name("ADDR");
    auto* fk = app.add_option("--from-key", from_key, "Sender's public or private key record")
                   ->type_name("FILE");
    f->excludes(fk);
    app.add_option("--nonce", nonce, "Sender's next nonce (required unless --rpc is given)")->type_name("N");
    app.add_option("--fee", fee,
                   "Fee in base units (default: the minimum fee, under --rpc's chain parameters if given)")
        ->type_name("N");
    app.add_option("--rpc", rpc, "Ask the node at URL for the nonce and the chain's fee parameters")
        ->type_name("URL");
    app.add_option("-o,--output", output, "Write to FILE instead of stdout")->type_name("FILE");
    app.add_flag("--json", json, "Print a JSON line instead of a record");
  }

  // The unsigned tx body of `payload` from these flags (asks --rpc for
  // what they leave out, and checks the chain's limits when it does).
  Result<TxBody> Body(TxPayload payload) const;
};

// gtos-tx build upgrade-plan (plan.cpp): its flags, and the record it writes.
void SetupPlanBuild(CLI::App& app);
Status RunPlanBuild();
cli::Command& SignPlanCommand();
cli::Command& GatherPlanCommand();

}  // namespace gtos::txtool

#endif  // GTOS_CMD_TX_COMMON_H_
