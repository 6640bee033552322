#!/usr/bin/env python3
"""Proposal equivocation on a loopback network of real gtos-node processes
(docs/state.md section 9.3, docs/consensus.md "Proposal equivocation"),
built with the tools as net_test.py does (it imports net_test.py; ports
43000-43999).

  equivocate_proposals   4 validators, 100 ms blocks: val3 runs the
                         test-only --unsafe-byzantine equivocate-proposals
                         (every proposal it makes is followed by a second,
                         signed one for the same height and round, its
                         block 1 ms later, sent to half of its peers). The
                         honest nodes keep the first proposal, report the
                         pair as proposal evidence, and a block commits it:
                         val3 is slashed by slash_double_sign_permille
                         exactly once, jailed, tombstoned, and leaves the
                         set at the next boundary; the chain goes on and
                         every honest node agrees on every block and state
                         root.

About 1 minute.

  proposal_evidence_test.py --bin BUILD/cmd [-v] [--keep] [scenario ...]
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

nt.PORT_RANGE = (43000, 44000)
check = nt.check
Fail = nt.Fail
log = nt.log


def slash_of(x, p):
    return x // 1000 * p + x % 1000 * p // 1000


def scenario_equivocate_proposals(work):
    permille = 70
    net = nt.Network(work, params=(f"slash_double_sign_permille={permille}",))
    net.start({"val3": ["--unsafe-byzantine=equivocate-proposals"]})
    honest, bad = net.nodes[:3], net.nodes[3]
    before = honest[0].call("dpos_getValidator", bad.address)
    check(int(before["stake"]) == nt.STAKE and not before["jailed"] and not before["tombstoned"],
          f"validator before: {before}")
    burned_before = int(honest[0].call("tos_getSupply")["burned"])

    def tombstoned():
        v = honest[0].call("dpos_getValidator", bad.address)
        return v if v["tombstoned"] else None
    v = nt.wait_for(tombstoned, 90, "the equivocating proposer to be tombstoned", 0.2)
    check(v["jailed"], f"tombstoned but not jailed: {v}")
    slash = slash_of(nt.STAKE, permille)
    check(int(v["stake"]) == nt.STAKE - slash, f"stake {v['stake']}, expected {nt.STAKE} - {slash} "
                                               f"({permille} per mille, once)")
    burned = int(honest[0].call("tos_getSupply")["burned"]) - burned_before
    check(burned == slash, f"burned {burned}, expected {slash}")

    h = net.min_height(honest)
    net.wait_all(h + 5, nodes=honest)
    blocks = net.compare(nodes=honest)
    with_ev = [b for b in blocks if b.get("evidence")]
    check(len(with_ev) == 1, f"evidence in {len(with_ev)} blocks, expected exactly one: "
                             f"{[b['height'] for b in with_ev]}")
    evs = with_ev[0]["evidence"]
    check(len(evs) == 1, f"block {with_ev[0]['height']} carries {len(evs)} pieces of evidence")
    e = evs[0]
    a, b = e["a"], e["b"]
    check(a["type"] == "proposal" and b["type"] == "proposal", f"not proposal evidence: {json.dumps(e)[:400]}")
    check(a["validator"] == bad.address and b["validator"] == bad.address, f"evidence names {a['validator']}")
    check(a["height"] == b["height"] and a["round"] == b["round"], f"not one position: {json.dumps(e)[:400]}")
    check(a["block_hash"] != b["block_hash"], f"the same block twice: {json.dumps(e)[:400]}")
    check("valid_round_plus_1" in a and "valid_round_plus_1" in b, f"no valid_round_plus_1: {json.dumps(e)[:400]}")
    ev_h = int(with_ev[0]["height"])
    # The first proposal stood: the equivocated height was decided, by one
    # block that every honest node has.
    check(int(a["height"]) < ev_h, f"evidence of height {a['height']} in block {ev_h}")
    for n in honest:
        w = n.call("dpos_getValidator", bad.address)
        check(w["jailed"] and w["tombstoned"] and int(w["stake"]) == nt.STAKE - slash, f"{n.name} shows {w}")
    # The honest nodes logged the equivocation they saw.
    seen = 0
    for n in honest:
        with open(n.logpath, errors="replace") as f:
            seen += "equivocation evidence" in f.read()
    check(seen >= 1, "no honest node logged 'equivocation evidence'")
    with open(bad.logpath, errors="replace") as f:
        sent = f.read().count("TEST SWITCH: sent a conflicting proposal")
    check(sent >= 1, "val3 never sent a conflicting proposal")
    # Out of the set at the next boundary; the chain goes on without it.
    boundary = (ev_h // nt.EPOCH + 1) * nt.EPOCH
    net.wait_all(boundary + 3, nodes=honest)
    v2 = honest[0].call("dpos_getValidator", bad.address)
    check(not v2.get("active", False), f"still active after the boundary {boundary}: {v2}")
    hb = honest[0].height()
    net.wait_all(hb + 5, nodes=honest)
    net.compare(nodes=honest)
    errors = net.stop_all()
    check(not errors, "; ".join(errors))
    return (f"val3 sent {sent} conflicting proposal(s); evidence of height {a['height']} round {a['round']} in "
            f"block {ev_h}: stake {nt.STAKE} -> {v['stake']}, jailed, tombstoned, out after block {boundary}")


SCENARIOS = {"equivocate_proposals": scenario_equivocate_proposals}


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
        work = tempfile.mkdtemp(prefix=f"gtos-propev-{name}-")
        start = time.time()
        try:
            summary = SCENARIOS[name](work)
            passed += 1
            print(f"ok   {name} ({time.time() - start:.1f}s){': ' + summary if summary else ''}", flush=True)
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
            nt._kill_leftovers(work)  # whatever happened, no node outlives its scenario
    print(f"{passed} passed, {failed} failed ({time.time() - t_all:.0f}s)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
