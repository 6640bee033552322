#!/usr/bin/env python3
"""Delegated proof of stake on loopback networks of real gtos-node processes
(docs/state.md sections 9.4-9.8), built with the tools as net_test.py does
(it imports net_test.py; ports 39000-40999).

  rewards_jail   4 validators, 100 ms blocks, epoch 10, window 10:
                 two delegators 1:3 to one validator receive rewards 1:3
                 (within one unit per block); the delegation moves the
                 validator's power at the next boundary; a stopped
                 validator is jailed within its window and slashed, leaves
                 the set, its too-early `unjail` is refused
                 (jail_not_expired), the later one brings it back at a
                 boundary, and it signs again.
  equivocation   4 validators, epoch 60: a validator with a delegator made
                 in the first epoch (and the delegator's undelegation in
                 progress, made in the second) is restarted in the second
                 epoch with the test-only --unsafe-equivocate switch; the
                 evidence slashes the bonded delegation and the
                 undelegation by the same fraction, tombstones it, its
                 `unjail` is refused (validator_tombstoned) and so is its
                 `validator-register` (address_tombstoned).

Every scenario ends by comparing every node's block hash and state root at
every height. About 2 minutes.

  staking_test.py --bin BUILD/cmd [-v] [--keep] [scenario ...]
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

nt.PORT_RANGE = (39000, 41000)
check = nt.check
Fail = nt.Fail
log = nt.log


def addr_of(key):
    return nt.run(["gtos-keys", "addr", key]).stdout.decode().strip()


def build(net, node, kind, key, *args):
    return nt.build_tx(net, node, kind, key, *args)


def send(node, signed, timeout=60):
    """Sends signed txs (one or more records), waits for their receipts and
    returns them, failed ones included."""
    p = nt.run(["gtos-tx", "send", "--rpc", node.url, "--json", "--wait", "--timeout", str(timeout)],
               stdin=signed, check_exit=False, timeout=timeout + 30)
    receipts = [json.loads(line) for line in p.stdout.decode().splitlines() if line.strip()]
    check(receipts, f"send to {node.name} gave no receipt ({p.returncode}): {p.stderr.decode()}")
    return receipts


def ok(receipt):
    check(receipt.get("status") in ("ok", 0), f"tx failed: {receipt}")
    return receipt


def consistent(node, calls, tries=20):
    """The answers of `calls` at one head: batched between two
    tos_blockNumber calls that agree."""
    for _ in range(tries):
        out = node.batch([("tos_blockNumber", ())] + calls + [("tos_blockNumber", ())])
        if int(out[0]) == int(out[-1]):
            return int(out[0]), out[1:-1]
    raise Fail(f"{node.name}: no stable head for {len(calls)} queries")


def port_taken(node):
    with open(node.logpath, errors="replace") as f:
        return "Address already in use" in f.read()[-400:]


def start_node(node, extra=(), tries=5):
    """Starts a node and waits until it is ready. Ports 39000-40999 lie in
    Linux's ephemeral range (32768-60999): a peer's outgoing connection may
    hold a node's port for a moment, so a start that fails with "Address
    already in use" is retried."""
    for attempt in range(tries):
        node.start(extra, wait_ready=False)
        try:
            node.wait_ready()
            return node
        except Fail:
            if node.alive() or not port_taken(node) or attempt == tries - 1:
                raise
            log(f"{node.name}: port taken at start, retrying")
            time.sleep(0.5)
    return node


def start_net(net):
    """Network.start with the retry of start_node."""
    for node in net.nodes:
        node.start(wait_ready=False)
    for node in net.nodes:
        try:
            node.wait_ready()
        except Fail:
            if node.alive() or not port_taken(node):
                raise
            log(f"{node.name}: port taken at start, retrying")
            time.sleep(0.5)
            start_node(node)
    return net


def slash_of(x, p):
    return x // 1000 * p + x % 1000 * p // 1000


# ---- scenarios ------------------------------------------------------------------

def scenario_rewards_jail(work):
    epoch, window, jail_blocks, permille = 10, 10, 40, 100
    net = nt.Network(work, extra_keys=2, params=(
        f"epoch_length={epoch}", f"signed_blocks_window={window}", "min_signed_permille=500",
        f"downtime_jail_blocks={jail_blocks}", f"slash_downtime_permille={permille}", "block_reward=100000",
        "max_commission_permille=200"))
    start_net(net)
    val0, val3 = net.nodes[0], net.nodes[3]
    d1, d2 = net.extra
    a1, a2 = addr_of(d1), addr_of(d2)
    net.wait_all(2)

    # -- Two delegators 1:3, in one block.
    amount = 200_000
    tx1 = build(net, val0, "delegate", d1, "--validator", val0.address, "--amount", str(amount))
    tx2 = build(net, val0, "delegate", d2, "--validator", val0.address, "--amount", str(3 * amount))
    r1, r2 = (ok(r) for r in send(val0, tx1 + tx2))
    check(r1["height"] == r2["height"], f"the two delegations landed in blocks {r1['height']} and {r2['height']}")
    h_del = int(r1["height"])
    log(f"delegations in block {h_del}")
    net.wait_all(h_del + 12)
    head, (g1, g2) = consistent(val0, [("dpos_getDelegation", (a1, val0.address)),
                                       ("dpos_getDelegation", (a2, val0.address))])
    p1, p2 = int(g1["pending_rewards"]), int(g2["pending_rewards"])
    blocks = head - h_del + 1
    check(int(g1["amount"]) == amount and int(g2["amount"]) == 3 * amount, f"delegations {g1} {g2}")
    check(p1 > 0, f"delegator 1 earned nothing in {blocks} blocks: {g1}")
    check(abs(p2 - 3 * p1) <= blocks, f"rewards {p1} : {p2} are not 1:3 within a unit per block ({blocks} blocks)")

    # -- The delegation moves the power at the next boundary, not before.
    boundary = -(-h_del // epoch) * epoch
    net.wait_all(boundary + 2)
    hdrs = {int(b["height"]): b for b in val0.blocks(boundary - 1, boundary + 1)}
    check(hdrs[boundary]["next_validators_hash"] != hdrs[boundary]["validators_hash"],
          f"the set did not change at the boundary {boundary}")
    check(hdrs[boundary - 1]["next_validators_hash"] == hdrs[boundary - 1]["validators_hash"],
          f"the set changed before the boundary {boundary}")
    v0 = val0.call("dpos_getValidator", val0.address)
    check(int(v0["power"]) == nt.STAKE + 4 * amount, f"power of val0 after the boundary: {v0['power']}")

    # -- Late precommits (docs/consensus.md): a certificate carries the
    # precommits that reached the next proposer, not only the first 2/3, so
    # with all four online most certificates hold four signatures. Before,
    # every one held exactly three, and whichever validator was a little
    # slower than the others was jailed for downtime while online.
    top = val0.height()
    full = sum(len(val0.call("tos_getHeaderByNumber", h)["commit"]["signatures"]) == 4 for h in range(2, top))
    check(2 * full > top - 2, f"only {full} of the certificates of heights 2..{top - 1} carry all four validators' "
                              f"precommits (late precommits are not collected)")
    log(f"{full} of {top - 2} certificates carry all four precommits")

    # -- Downtime: val3 stops; jailed within its window.
    stop_h = val0.height()
    val3.stop()
    log(f"val3 stopped at about {stop_h}")

    def jailed():
        v = val0.call("dpos_getValidator", val3.address)
        return v if v["jailed"] else None
    v3 = nt.wait_for(jailed, 60, "val3 to be jailed for downtime", 0.1)
    jail_h = int(v3["jailed_until"]) - jail_blocks
    check(jail_h <= stop_h + window + 2, f"jailed in block {jail_h}, stopped at {stop_h}: beyond its window")
    check(not v3["tombstoned"], f"a downtime jail tombstoned it: {v3}")
    check(int(v3["stake"]) == nt.STAKE - slash_of(nt.STAKE, permille), f"stake after the downtime slash: {v3}")
    # Too early: refused with a clear status.
    early = send(net.nodes[1], build(net, net.nodes[1], "unjail", val3.key))[-1]
    early_refused = int(early["height"]) < int(v3["jailed_until"])
    if early_refused:
        check(early["status"] == "jail_not_expired", f"early unjail: {early}")
    else:  # a slow machine: it came after jailed_until and must have worked
        ok(early)
    # Out of the set at the next boundary.
    out_b = -(-jail_h // epoch) * epoch
    net.wait_all(out_b + 1)
    check(not val0.call("dpos_getValidator", val3.address)["active"], f"val3 still active after {out_b}")
    # Back: restart, wait for jailed_until, unjail, next boundary.
    start_node(val3)
    net.wait_all(int(v3["jailed_until"]))
    r = ok(send(net.nodes[1], build(net, net.nodes[1], "unjail", val3.key))[-1]) if early_refused else early
    back_b = -(-int(r["height"]) // epoch) * epoch
    net.wait_all(back_b + 4)
    v3b = val0.call("dpos_getValidator", val3.address)
    check(v3b["active"] and not v3b["jailed"], f"val3 not back in the set after the boundary {back_b}: {v3b}")
    later = val0.blocks(back_b + 2, back_b + 4)
    signed = sum(1 for b in later if val3.address[2:] in json.dumps(b["commit"]))
    check(signed > 0, f"val3 signed none of the commits {back_b + 2}..{back_b + 4}")
    net.compare()
    errors = net.stop_all()
    check(not errors, "; ".join(errors))
    return (f"rewards {p1}:{p2} over {blocks} blocks; power moved at {boundary}; val3 stopped ~{stop_h}, jailed at "
            f"{jail_h}, out after {out_b}, early unjail {early['status']} at {early['height']}, unjailed at "
            f"{r['height']} (jailed_until {v3['jailed_until']}), back after {back_b}")


def scenario_equivocation(work):
    # The delegation is made in the first epoch, so it counts in the power
    # the set of the second epoch signs with (the slash is based on that
    # power, docs/state.md 9.3); the undelegation and the infraction are in
    # the second epoch.
    epoch, permille = 60, 100
    net = nt.Network(work, extra_keys=1, params=(f"epoch_length={epoch}", f"slash_double_sign_permille={permille}",
                                                 "unbonding_blocks=100000"))
    start_net(net)
    bad = net.nodes[3]
    d1 = net.extra[0]
    a1 = addr_of(d1)
    net.wait_all(2)
    bonded, leaving = 600_000, 300_000
    dl = ok(send(net.nodes[0], build(net, net.nodes[0], "delegate", d1, "--validator", bad.address,
                                     "--amount", str(bonded + leaving)))[-1])
    check(int(dl["height"]) <= epoch, f"the delegation landed after the first boundary ({dl['height']})")
    net.wait_all(epoch + 1)
    u = ok(send(net.nodes[0], build(net, net.nodes[0], "undelegate", d1, "--validator", bad.address,
                                    "--amount", str(leaving)))[-1])
    check(epoch < int(u["height"]) < 2 * epoch - 25, f"the undelegation landed late in the epoch ({u['height']})")
    stake_before = int(net.nodes[0].call("dpos_getValidator", bad.address)["stake"])
    burned_before = int(net.nodes[0].call("tos_getSupply")["burned"])
    bad.stop()
    start_node(bad, ["--unsafe-equivocate"])

    def tombstoned():
        v = net.nodes[0].call("dpos_getValidator", bad.address)
        return v if v["tombstoned"] else None
    v = nt.wait_for(tombstoned, 60, "the equivocating validator to be tombstoned", 0.1)
    check(v["jailed"], f"tombstoned but not jailed: {v}")
    # Node 0 saw the evidence block; the comparison stops at the lowest
    # head, so wait until the other two have it too.
    net.wait_all(net.nodes[0].height(), nodes=net.nodes[:3])
    blocks = net.compare(nodes=net.nodes[:3])
    with_ev = [b for b in blocks if b.get("evidence")]
    check(with_ev, "no block carries the evidence")
    ev_h = int(with_ev[0]["height"])
    check(ev_h <= 2 * epoch, f"the evidence came in block {ev_h}, after the undelegation's epoch ended")
    check(int(v["stake"]) == stake_before - slash_of(stake_before, permille), f"stake {stake_before} -> {v['stake']}")
    d = net.nodes[0].call("dpos_getDelegation", a1, bad.address)
    want = bonded - slash_of(bonded, permille)
    check(abs(int(d["amount"]) - want) <= 1, f"the delegation is worth {d['amount']}, expected {want}")
    ub = [e for e in net.nodes[0].call("dpos_getUnbondings", a1) if e["validator"] == bad.address]
    check(len(ub) == 1 and int(ub[0]["amount"]) == leaving - slash_of(leaving, permille),
          f"the undelegation in progress: {ub}")
    burned = int(net.nodes[0].call("tos_getSupply")["burned"]) - burned_before
    check(burned == slash_of(stake_before, permille) + slash_of(leaving, permille), f"burned {burned}")
    bad.stop()
    r = send(net.nodes[1], build(net, net.nodes[1], "unjail", bad.key))[-1]
    check(r["status"] == "validator_tombstoned", f"unjail of a tombstoned validator: {r}")
    # The tombstone is forever: the address cannot register again.
    r = send(net.nodes[1], build(net, net.nodes[1], "validator-register", bad.key, "--stake", str(nt.STAKE),
                                 "--consensus-key", bad.key))[-1]
    check(r["status"] == "address_tombstoned", f"register of a tombstoned address: {r}")
    h = net.min_height(net.nodes[:3])
    net.wait_all(h + 3, nodes=net.nodes[:3])
    net.compare(nodes=net.nodes[:3])
    errors = net.stop_all()
    check(not errors, "; ".join(errors))
    return (f"evidence in block {ev_h}: stake {stake_before} -> {v['stake']}, delegation {bonded} -> {d['amount']}, "
            f"undelegation {leaving} -> {ub[0]['amount']}, unjail and register refused")


SCENARIOS = {"rewards_jail": scenario_rewards_jail, "equivocation": scenario_equivocation}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--keep", action="store_true", help="keep the work directories")
    ap.add_argument("-v", "--verbose", action="store_true")
    ap.add_argument("scenarios", nargs="*", help=f"any of: {', '.join(SCENARIOS)} (default: all)")
    opts = ap.parse_args()
    bindir = os.path.abspath(opts.bin)
    dirs = [bindir] + [os.path.join(bindir, d) for d in sorted(os.listdir(bindir))
                       if os.path.isdir(os.path.join(bindir, d))]
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join(dirs + [env.get("PATH", "")])
    for var in ("GTOS_PASSPHRASE_FILE", "GTOS_DATADIR", "GTOS_VALIDATOR_KEY", "GTOS_PEERS", "GTOS_P2P_ADDR",
                "GTOS_RPC_ADDR", "GTOS_P2P_EXTERNAL", "GTOS_MAX_PEERS", "GTOS_P2P_DISCOVERY"):
        env.pop(var, None)
    nt.ENV = env
    nt.OPTS = opts
    names = opts.scenarios or list(SCENARIOS)
    unknown = [n for n in names if n not in SCENARIOS]
    if unknown:
        ap.error(f"unknown scenario(s) {', '.join(unknown)}; choose from {', '.join(SCENARIOS)}")
    passed = failed = 0
    t_all = time.time()
    for name in names:
        work = tempfile.mkdtemp(prefix=f"gtos-staking-{name}-")
        start = time.time()
        try:
            summary = SCENARIOS[name](work)
            passed += 1
            print(f"ok   {name} ({time.time() - start:.1f}s): {summary}", flush=True)
            if not opts.keep:
                shutil.rmtree(work, ignore_errors=True)
        except Exception as e:
            failed += 1
            print(f"FAIL {name} ({time.time() - start:.1f}s): {e}", flush=True)
            if not isinstance(e, Fail):
                traceback.print_exc()
            for log_name in sorted(os.listdir(work)):
                if log_name.endswith(".log"):
                    with open(os.path.join(work, log_name), errors="replace") as f:
                        tail = f.read()[-2500:]
                    print(f"---- {log_name} (tail)\n{tail}")
            print(f"     work directory kept: {work}")
        finally:
            nt._kill_leftovers(work)
    print(f"{passed} passed, {failed} failed ({time.time() - t_all:.0f}s)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
