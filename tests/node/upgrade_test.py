#!/usr/bin/env python3
"""Upgrade plans on a real two-validator network (docs/upgrades.md section 5).

Reuses tests/node/net_test.py (the genesis ceremony, Node, Network) as a
module, with its own port range (42000-42999). Scenarios, on one network:

  params   both validators sign a plan (gtos-tx build upgrade-plan,
           sign-plan each, gather-plan, sign, send) changing max_block_txs
           and target_block_interval_ms at a height; the chain keeps
           finalizing past it, tos_getParams reports the new values on both
           nodes, the state roots agree at every height, and blocks after
           the activation are at least the new interval apart.
  halt     a plan requiring version 99.0.0: both nodes stop cleanly (exit
           0, "upgrade required") before executing its activation height,
           and stop again at once when restarted.

  upgrade_test.py --bin BUILD/cmd [-v] [--keep] [scenario ...]
"""
import argparse
import json
import os
import shutil
import sys
import tempfile
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import net_test as nt  # noqa: E402
from net_test import Fail, Network, check, run, wait_for  # noqa: E402

nt.PORT_RANGE = (42000, 43000)

OPTS = None
NEW_TXS = 777
NEW_INTERVAL_MS = 250


def log(msg):
    nt.log(msg)


def send_plan(net, plan_args, name):
    """The ceremony: build, each validator signs, gather, sign, send; the receipt."""
    v0, v1 = net.nodes
    d = os.path.join(net.work, name)
    os.makedirs(d)
    plan = os.path.join(d, "plan")
    run(["gtos-tx", "build", "upgrade-plan", "--chain-id", net.chain, "--name", name] + plan_args + ["-o", plan])
    signed = []
    for node in net.nodes:  # offline, each with its own account key
        out = os.path.join(d, f"plan.{node.name}")
        run(["gtos-tx", "sign-plan", "--key", node.key, plan, "-o", out])
        signed.append(out)
    utx = os.path.join(d, "tx.unsigned")
    run(["gtos-tx", "gather-plan", "--chain-id", net.chain, "--from-key", net.user, "--rpc", v0.url, "-o", utx]
        + signed)
    stx = os.path.join(d, "tx.signed")
    run(["gtos-tx", "sign", "--key", net.user, utx, "-o", stx])
    tx_id = run(["gtos-tx", "hash", stx]).stdout.decode().strip()
    run(["gtos-tx", "send", "--rpc", v1.url, stx])

    def receipt():
        r = v0.rpc("tos_getReceipt", tx_id)
        return r.get("result")
    rec = wait_for(receipt, 30, f"the receipt of plan tx {tx_id}")
    log(f"plan {name}: receipt {json.dumps(rec)}")
    check(rec["status"] in ("ok", 0), f"plan tx failed: {rec}")
    return rec


def scenario_params(net):
    v0, v1 = net.nodes
    net.wait_all(3)
    before = v0.call("tos_getParams")
    check(before["params"]["max_block_txs"] != NEW_TXS, "max_block_txs already the new value")
    activation = v0.height() + 40
    # gather-plan --rpc refuses one signature of two equal powers (exactly 1/2).
    d = os.path.join(net.work, "short")
    os.makedirs(d)
    run(["gtos-tx", "build", "upgrade-plan", "--chain-id", net.chain, "--name", "short", "--activation-height",
         str(activation), "--param", "fee_base=1500", "-o", os.path.join(d, "plan")])
    run(["gtos-tx", "sign-plan", "--key", v0.key, os.path.join(d, "plan"), "-o", os.path.join(d, "plan.v0")])
    p = run(["gtos-tx", "gather-plan", "--chain-id", net.chain, "--from-key", net.user, "--rpc", v0.url,
             os.path.join(d, "plan.v0")], check_exit=False)
    check(p.returncode == 1 and b"more than 2/3 is needed" in p.stderr,
          f"gather-plan with half the power: exit {p.returncode}, {p.stderr.decode(errors='replace')}")
    rec = send_plan(net, ["--activation-height", str(activation), "--param", f"max_block_txs={NEW_TXS}",
                          "--param", f"target_block_interval_ms={NEW_INTERVAL_MS}"], "params-1")
    check(rec["height"] < activation - 1, f"plan included at {rec['height']}, too late for {activation}")
    for node in net.nodes:
        plan = node.call("tos_getUpgradePlan")
        check(plan is not None and plan["activation_height"] == activation, f"{node.name}: pending plan {plan}")
        check(plan["changes"] == [{"name": "max_block_txs", "value": NEW_TXS},
                                  {"name": "target_block_interval_ms", "value": NEW_INTERVAL_MS}],
              f"{node.name}: changes {plan['changes']}")
        check(plan["signed_power"] == plan["total_power"], f"{node.name}: signed power {plan}")
        check(node.call("tos_getParams")["params"]["max_block_txs"] == before["params"]["max_block_txs"],
              f"{node.name}: params changed before the activation")
    end = activation + 15
    net.wait_all(end, timeout=120)
    for node in net.nodes:
        p = node.call("tos_getParams")
        check(p["params"]["max_block_txs"] == NEW_TXS, f"{node.name}: max_block_txs {p['params']['max_block_txs']}")
        check(p["params"]["target_block_interval_ms"] == NEW_INTERVAL_MS,
              f"{node.name}: target_block_interval_ms {p['params']['target_block_interval_ms']}")
        check(node.call("tos_getUpgradePlan") is None, f"{node.name}: plan still pending after activation")
        check(node.call("tos_getParams", "latest")["params"] == p["params"], f"{node.name}: 'latest' differs")
    b0, b1 = v0.blocks(1, end), v1.blocks(1, end)
    for x, y in zip(b0, b1):
        check(x["hash"] == y["hash"] and x["state_root"] == y["state_root"],
              f"height {x['height']}: the nodes disagree")
    times = {b["height"]: b["time_ms"] for b in b0}
    after = [times[h] - times[h - 1] for h in range(activation + 2, end + 1)]
    before_iv = [times[h] - times[h - 1] for h in range(max(2, activation - 15), activation)]
    avg_after = sum(after) / len(after)
    avg_before = sum(before_iv) / len(before_iv)
    check(min(after) >= NEW_INTERVAL_MS - 10,
          f"a block after the activation came {min(after)} ms after its parent (target {NEW_INTERVAL_MS})")
    return (f"activated at {activation}, finalized to {end} on both nodes, equal roots; "
            f"mean interval {avg_before:.0f} ms before, {avg_after:.0f} ms after")


def scenario_halt(net):
    v0, _ = net.nodes
    activation = v0.height() + 30
    send_plan(net, ["--activation-height", str(activation), "--required-version", "99.0.0"], "binary-99")
    for node in net.nodes:
        check(node.call("tos_getUpgradePlan")["version_known"] is False, f"{node.name}: version_known")

    def stopped():
        return all(not n.alive() for n in net.nodes)
    wait_for(stopped, 90, f"both nodes to halt before {activation}")
    for node in net.nodes:
        check(node.proc.returncode == 0, f"{node.name} exited {node.proc.returncode}")
        with open(node.logpath, "rb") as f:
            text = f.read().decode(errors="replace")
        check("upgrade required" in text, f"{node.name}: no 'upgrade required' in its log")
    heads = []
    for node in net.nodes:  # the head is activation - 1, and a restart stops at once
        out = run(["gtos-inspect", "db", "--datadir", node.datadir, "head"]).stdout.decode()
        heads.append(out)
        check(f'"height":{activation - 1}' in out.replace(" ", ""), f"{node.name}: head {out.strip()}")
        node.start(wait_ready=False)
        node.proc.wait(timeout=30)
        check(node.proc.returncode == 0, f"{node.name} restarted and exited {node.proc.returncode}")
    return f"both nodes halted at {activation - 1} with exit 0 and stopped again on restart"


SCENARIOS = {"params": scenario_params, "halt": scenario_halt}


def main():
    global OPTS
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    ap.add_argument("-v", "--verbose", action="store_true")
    ap.add_argument("scenarios", nargs="*", help=f"any of: {', '.join(SCENARIOS)} (default: all, in this order)")
    OPTS = ap.parse_args()
    nt.OPTS = OPTS
    bindir = os.path.abspath(OPTS.bin)
    dirs = [bindir] + [os.path.join(bindir, d) for d in sorted(os.listdir(bindir))
                       if os.path.isdir(os.path.join(bindir, d))]
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join(dirs + [env.get("PATH", "")])
    for var in ("GTOS_PASSPHRASE_FILE", "GTOS_DATADIR", "GTOS_VALIDATOR_KEY", "GTOS_PEERS", "GTOS_P2P_ADDR",
                "GTOS_RPC_ADDR", "GTOS_P2P_EXTERNAL", "GTOS_MAX_PEERS", "GTOS_P2P_DISCOVERY", "GTOS_STATE_SYNC",
                "GTOS_HALT_HEIGHT"):
        env.pop(var, None)
    nt.ENV = env
    names = OPTS.scenarios or list(SCENARIOS)
    unknown = [n for n in names if n not in SCENARIOS]
    if unknown:
        ap.error(f"unknown scenario(s) {', '.join(unknown)}; choose from {', '.join(SCENARIOS)}")
    work = tempfile.mkdtemp(prefix="gtos-upgrade-")
    passed = failed = 0
    net = None
    try:
        net = Network(work, n=2)
        net.start()
        for name in names:
            start = time.time()
            try:
                summary = SCENARIOS[name](net)
                passed += 1
                print(f"ok   {name} ({time.time() - start:.1f}s): {summary}", flush=True)
            except Exception as e:
                failed += 1
                print(f"FAIL {name} ({time.time() - start:.1f}s): {e}", flush=True)
                if not isinstance(e, Fail):
                    traceback.print_exc()
                break  # the scenarios share one network
    finally:
        if net:
            errors = net.stop_all()
            if errors:
                failed += 1
                print(f"FAIL shutdown: {'; '.join(errors)}")
        if OPTS.keep or failed:
            print(f"work directory kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
