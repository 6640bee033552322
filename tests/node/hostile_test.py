#!/usr/bin/env python3
"""Hostile-peer acceptance tests of gtos-node on loopback.

Each scenario runs a fresh 4-validator network (tests/node/net_test.py's
Network, imported as a module: genesis ceremony, `gtos-node init`, RPC,
load) with 300 ms blocks and every block body kept, and puts one node under
the hidden test switch `gtos-node run --unsafe-byzantine MODE`
(docs/node.md). The issue's acceptance text is quoted per scenario.

- lie_height: "A peer that claims a huge height and never answers does not
  delay a lagging node's catch-up by more than a few seconds." An observer
  run with `lie-height` (claims height 2^62, never answers GetBlocks) joins
  the validators early. From height 60 on, three fresh observers in turn
  start with the liar as their FIRST --peer and a validator second
  (p2p_discovery = false, no listener, so nobody else reaches them); the
  time from the spawn until the observer's height reaches the validators'
  height of that moment must be <= 10 s, and its log must show no stall (no
  gap > 3 s between spawn, `node started` and the block lines up to that
  height). The liar must really have been in play: a `block request timed
  out` penalty naming the liar's peer id (debug log: peer id -> address),
  for a request sent during the catch-up. A baseline observer with only a
  validator as peer is measured first; all figures are printed.
- flood: "a peer flooding next-height proposals moves the node's memory by
  less than 64 MiB." At height ~20 the victim's (val0) VmRSS is sampled for
  2 s (the baseline is the maximum), then val3 is restarted with
  `flood-proposals` (every second 8 signed proposals of ~4 MiB for
  head + 2). The victim bans it within a height or two (50 points per
  proposal whose body does not match its header; a ban is 60 s, by node
  key), so, to keep the flood going for the whole 30 s window, val3 is
  restarted with a fresh node key after each ban. Over those 30 s the
  honest nodes' VmRSS (/proc/PID/status) is sampled every 0.1 s: the
  victim's peak - baseline < 64 MiB, while >= 64 MiB of p2p bytes arrived
  (else the bound was not tested); the chain advances by >= 30 blocks (val3
  no longer votes: its private validator has signed positions above); the
  victim logs `bad message from peer` with why `proposal: block txs do not
  match the header's tx_root` and gtos_p2p_penalty_disconnects_total rises;
  hashes agree on the honest nodes.
- tamper: "a body-stripped proposal delivered first, and the genuine block
  is still decided in that round." val1 runs `tamper-proposals` (before
  relaying or broadcasting any proposal it sends a copy with the txs
  stripped, same header and signature). A stripped copy of an empty block
  is the block itself, and a second stripped copy gets the tamperer banned
  (2 x 50 points), so the test controls the load. Phase A, 60 blocks: one
  batch of 10 kv-puts is submitted to the tamperer between the commit of
  the block before its turn and the start of its turn (the rotation is
  round robin with equal stakes, read from the first blocks): its block
  carries them, its stripped copy leaves first on the same connections,
  and each honest node logs exactly that one penalty (`bad message from
  peer`, why `... do not match the header's tx_root`) while deciding it;
  the genuine block must be decided in round 0, and so must all 60 blocks;
  hashes and state roots agree on all four. Phase B, 24 blocks of kv-put
  load on the honest nodes: the tamperer's stripped relays get it banned
  by every honest node (penalty disconnects); every height decided above
  round 0 must be one of its turns after a ban (its proposal then no longer
  reaches the others; when the ban falls on the stripped copy of its own
  proposal, the connection may close before the genuine copy is read); the
  honest proposers' heights stay in round 0; hashes agree.
- silent: a validator that signs but never sends a proposal or vote: the
  chain keeps finalizing, the heights above round 0 are decided in round 1
  (its proposer turns), it is never a decided block's proposer, hashes
  agree on all four. Printed, not checked: certificates holding its
  precommit (it decides first with its own precommit and serves that block
  by block sync) and its `re-sent the last signed vote` lines.

Loopback ports 18000-19999 (disjoint from the other suites: crash_test.py
15000-17999, testnet.sh 20000-22999, single-node examples 23000-25999,
net_test.py 26000-29999, storage_test.py 30000-32767). The tools are copied
from --bin into the work directory first (a build directory relinked during
the run would otherwise change the binaries under the test). Prints one
line per scenario and a closing "N passed, N failed"; exit status 1 on any
failure (the logs' tails and the kept work directory are printed).
About 2 minutes (125 s on 2 cores).

  hostile_test.py --bin BUILD/cmd [--keep] [-v] [scenario ...]
"""
import argparse
import datetime
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import types
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import net_test as nt  # noqa: E402
from net_test import Fail, Network, Sender, check, run, wait_for  # noqa: E402
from crash_test import copy_tools  # noqa: E402

# Set after importing crash_test (which sets its own range at import).
nt.PORT_RANGE = (18000, 20000)

OPTS = None
INTERVAL_MS = 300
MiB = 1 << 20
SWITCH_LINE = "TEST SWITCH --unsafe-byzantine is on"


def say(msg):
    if OPTS and OPTS.verbose:
        print(f"     {time.strftime('%H:%M:%S')} {msg}", flush=True)


def new_network(work, **kw):
    return Network(work, params=(f"target_block_interval_ms={INTERVAL_MS}",), **kw)


# ---- logs -------------------------------------------------------------------------

_FIELD_RE = re.compile(r'(\w+)=("(?:[^"\\]|\\.)*"|\S*)')
_MSG_END_RE = re.compile(r" \w+=")


def parse_log(path, last_run_only=False):
    """The node's text log as a list of dicts {t, level, msg, run, **fields};
    `run` counts the "==== " start lines the tests write before each start."""
    out = []
    runs = 0
    with open(path, errors="replace") as f:
        for line in f:
            line = line.rstrip("\n")
            if line.startswith("==== "):
                runs += 1
                continue
            parts = line.split(" ", 2)
            if len(parts) < 3 or not parts[0].endswith("Z"):
                continue
            try:
                t = datetime.datetime.strptime(parts[0], "%Y-%m-%dT%H:%M:%S.%fZ").replace(
                    tzinfo=datetime.timezone.utc).timestamp()
            except ValueError:
                continue
            rest = parts[2]
            m = _MSG_END_RE.search(rest)
            msg = rest[:m.start()] if m else rest
            e = {"t": t, "level": parts[1], "msg": msg, "run": runs}
            for fm in _FIELD_RE.finditer(rest[len(msg):]):
                v = fm.group(2)
                if v.startswith('"'):
                    try:
                        v = json.loads(v)
                    except ValueError:
                        pass
                e.setdefault(fm.group(1), v)
            out.append(e)
    if last_run_only:
        out = [e for e in out if e["run"] == runs]
    return out


def block_lines(entries):
    return [e for e in entries if e["msg"] in ("block committed", "block synced")]


def log_has(node, text):
    try:
        with open(node.logpath, errors="replace") as f:
            return text in f.read()
    except OSError:
        return False


def vm_rss(pid):
    """Resident set size of a process in bytes (VmRSS of /proc/PID/status)."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise Fail(f"no VmRSS for pid {pid}")


# ---- nodes started by hand (no listener, own settings file) ---------------------

def spawn_outbound_only(node, peers, extra=(), settings=None):
    """Starts `gtos-node run` for `node` without --p2p-addr (it only dials
    `peers`), with a gtos.toml of `settings` (key -> TOML literal). Returns
    the wall-clock time just before the process was spawned."""
    args = ["gtos-node", "run", "--datadir", node.datadir, "--rpc-addr", f"127.0.0.1:{node.rpc_port}"]
    if settings:
        cfg = os.path.join(node.dir, "gtos.toml")
        with open(cfg, "w") as f:
            for k, v in settings.items():
                f.write(f"{k} = {v}\n")
        args += ["--config", cfg]
    for p in peers:
        args += ["--peer", p]
    args += list(extra)
    logf = open(node.logpath, "ab")
    logf.write(f"==== {time.strftime('%H:%M:%S')} {' '.join(args)}\n".encode())
    logf.flush()
    t0 = time.time()
    node.proc = subprocess.Popen(args, stdout=logf, stderr=logf, env=nt.ENV)
    logf.close()
    nt._all_nodes.append(node)  # killed at the end of the scenario whatever happens
    return t0


def peer_addresses(entries):
    """peer id -> address, from the p2p debug lines ("peer N (ADDR): ...")."""
    ids = {}
    for e in entries:
        if e["msg"] == "p2p":
            m = re.match(r"peer (\d+) \(([^)]*)\)", str(e.get("event", "")))
            if m:
                ids.setdefault(m.group(1), m.group(2))
    return ids


# ---- scenarios ----------------------------------------------------------------------

def catch_up(net, obs, peers, limit_s=30.0):
    """Starts a fresh observer with `peers` only (discovery off, no listener,
    debug log) and measures the time from its spawn until its height reaches
    the validators' height of that moment. Returns (seconds, target, the
    wall-clock time of the spawn)."""
    target = max(n.height() for n in net.nodes)
    t0 = spawn_outbound_only(obs, peers, ["--log-level", "debug"], {"p2p_discovery": "false"})
    deadline = t0 + limit_s
    while True:
        check(obs.alive(), f"{obs.name} exited with {obs.proc.returncode}")
        if obs.try_height() >= target:
            break
        if time.time() > deadline:
            raise Fail(f"{obs.name} did not reach height {target} within {limit_s:.0f}s of its start "
                       f"(at {obs.try_height()}); peers {peers}")
        time.sleep(0.02)
    elapsed = time.time() - t0
    return elapsed, target, t0


def progress_gaps(obs, t0, target):
    """The longest time without progress in the observer's log from its
    spawn to the block line of `target`: (gap seconds, between what)."""
    entries = parse_log(obs.logpath, last_run_only=True)
    marks = [(t0, "spawn")]
    marks += [(e["t"], "node started") for e in entries if e["msg"] == "node started"]
    for e in block_lines(entries):
        h = int(e["height"])
        marks.append((e["t"], f"block {h}"))
        if h >= target:
            break
    marks.sort()
    worst = (0.0, "")
    for (ta, a), (tb, b) in zip(marks, marks[1:]):
        if tb - ta > worst[0]:
            worst = (tb - ta, f"{a} -> {b}")
    return worst, entries


def scenario_lie_height(work):
    net = new_network(work).start()
    liar = net.add_node("liar")
    liar.start(["--unsafe-byzantine", "lie-height"])  # peers: the four validators
    wait_for(lambda: log_has(liar, SWITCH_LINE), 10, "the liar's test-switch warning")
    net.wait_all(60, timeout=120)
    v = net.nodes[0]
    check(liar.alive(), f"the liar exited ({liar.proc.returncode})")
    liar_port = str(liar.p2p_port)

    def measure(name, peers, with_liar):
        obs = net.add_node(name)
        secs, target, t0 = catch_up(net, obs, peers)
        say(f"{name} reached {target} in {secs:.2f}s")
        liar_to = []
        if with_liar:
            # The liar must really have been in play: the observer asked it
            # and the request timed out (a penalty naming the liar's peer id).
            def liar_timeouts():
                entries = parse_log(obs.logpath, last_run_only=True)
                ids = {i for i, a in peer_addresses(entries).items() if a.endswith(":" + liar_port)}
                n = [e for e in entries if e["msg"] == "bad message from peer" and str(e.get("peer")) in ids
                     and "timed out" in str(e.get("why", ""))]
                return (n, ids) if n else None
            liar_to, liar_ids = wait_for(liar_timeouts, 15, f"{name}: a block request to the liar to time out", 0.2)
            # ... and it was asked during the catch-up (a request times out
            # after 2 s), not only once the observer had caught up.
            asked = liar_to[0]["t"] - 2.0 - t0
            check(asked <= secs + 0.5, f"{name}: the first request to the liar went out {asked:.2f}s after the "
                                       f"start, after the catch-up ({secs:.2f}s): the liar was not in play")
        else:
            liar_ids = set()
        gap, entries = progress_gaps(obs, t0, target)
        others = [e for e in entries if e["msg"] == "bad message from peer" and str(e.get("peer")) not in liar_ids]
        synced = obs.metric("gtos_blocks_synced_total") or 0
        check(synced > 0, f"{name} synced no block (gtos_blocks_synced_total is 0)")
        check(not others, f"{name} penalised an honest peer: {others[:3]}")
        obs.wait_height(target + 2, 30)  # and keeps following
        net.compare(nodes=[v, obs], hi=target + 2)
        check(obs.stop() == 0, f"{name}: SIGTERM exit status not 0")
        return secs, target, gap, len(liar_to)

    base = measure("baseline", [v.p2p], False)
    runs = [measure(f"observer{i}", [liar.p2p, net.nodes[i].p2p], True) for i in range(3)]
    print(f"     catch-up to the validators' height (~{base[1]} blocks): baseline {base[0]:.2f}s (longest gap "
          f"{base[2][0]:.2f}s); liar first: "
          + ", ".join(f"{r[0]:.2f}s (longest gap {r[2][0]:.2f}s {r[2][1]}, {r[3]} liar timeout(s))" for r in runs),
          flush=True)
    worst = max(runs, key=lambda r: r[0])
    for i, (secs, target, gap, _) in enumerate(runs):
        check(secs <= 10.0, f"observer{i}: catch-up to {target} with the liar as first peer took {secs:.2f}s "
                            f"(> 10 s; baseline {base[0]:.2f}s)")
        check(gap[0] <= 3.0, f"observer{i}: catch-up stalled: {gap[0]:.2f}s without progress ({gap[1]})")
    lh = liar.try_height()
    check(liar.stop() == 0, "liar: SIGTERM exit status not 0")
    errors = net.stop_all()
    check(not errors, "; ".join(errors))
    return (f"catch-up with the liar as first peer {', '.join(f'{r[0]:.2f}s' for r in runs)} (worst "
            f"{worst[0]:.2f}s to {worst[1]}), baseline {base[0]:.2f}s to {base[1]}; longest gap "
            f"{max(r[2][0] for r in runs):.2f}s; the liar followed to {lh}")


class RssSampler:
    """Samples VmRSS of some nodes every 0.1 s on a thread; keeps the peaks."""

    def __init__(self, nodes):
        self.nodes = nodes
        self.peak = {n.name: 0 for n in nodes}
        self.samples = 0
        self.errors = []
        self.stop_ev = threading.Event()
        self.thread = threading.Thread(target=self.loop, daemon=True)

    def loop(self):
        while not self.stop_ev.is_set():
            for n in self.nodes:
                try:
                    self.peak[n.name] = max(self.peak[n.name], vm_rss(n.proc.pid))
                except Exception as e:  # noqa: BLE001 - a node that died is reported by the scenario
                    self.errors.append(f"{n.name}: {e!r}")
            self.samples += 1
            self.stop_ev.wait(0.1)

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.stop_ev.set()
        self.thread.join(timeout=10)


def scenario_flood(work):
    net = new_network(work).start()
    victim, flooder = net.nodes[0], net.nodes[3]
    honest = net.nodes[:3]
    net.wait_all(20, timeout=60)
    samples = []
    end = time.time() + 2.0
    while time.time() < end:
        samples.append(vm_rss(victim.proc.pid))
        time.sleep(0.1)
    base = max(samples)
    # From here val3 is the flooder: every second 8 signed ~4 MiB proposals
    # for head + 2. The victim bans it within a height or two (50 points per
    # proposal whose body does not match its header), for 60 s by node key;
    # so that the flood goes on for the whole window, the flooder is
    # restarted with a fresh node key (a new p2p identity) after each ban.
    check(flooder.stop() == 0, "SIGTERM exit status not 0")
    m0 = victim.metrics()
    h0 = victim.height()
    sampler = RssSampler(honest).start()
    t_start = time.time()
    cycles = 0
    try:
        while time.time() - t_start < 30.0:
            if cycles:
                os.remove(os.path.join(flooder.datadir, "node.key"))
            flooder.start(["--unsafe-byzantine", "flood-proposals"])
            cycles += 1
            if cycles == 1:
                check(log_has(flooder, SWITCH_LINE), "the flooder did not log the test-switch warning")
            pd = victim.metric("gtos_p2p_penalty_disconnects_total") or 0
            wait_for(lambda: (victim.metric("gtos_p2p_penalty_disconnects_total") or 0) > pd
                     or time.time() - t_start >= 30.0, 10, "the victim to ban the flooder", 0.1)
            check(flooder.stop() == 0, "flooder: SIGTERM exit status not 0")
            for n in honest:
                check(n.alive(), f"{n.name} exited ({n.proc.returncode})")
    finally:
        sampler.stop()
    h1 = victim.height()
    m1 = victim.metrics()
    end_rss = vm_rss(victim.proc.pid)
    peak = max(sampler.peak[victim.name], base)
    growth = peak - base
    bytes_in = m1.get("gtos_p2p_bytes_in_total", 0) - m0.get("gtos_p2p_bytes_in_total", 0)
    pen = m1.get("gtos_p2p_penalty_disconnects_total", 0) - m0.get("gtos_p2p_penalty_disconnects_total", 0)
    entries = parse_log(victim.logpath)
    flood_bad = [e for e in entries if e["msg"] == "bad message from peer" and e["t"] >= t_start - 1
                 and str(e.get("why", "")).startswith("proposal")]
    whys = sorted({str(e.get("why")) for e in flood_bad})
    fl = parse_log(flooder.logpath)
    refused = sum(1 for e in fl if e["msg"] == "refused to sign")
    print(f"     victim VmRSS {base / MiB:.1f} MiB before, peak {peak / MiB:.1f} MiB over 30 s "
          f"(growth {growth / MiB:.1f} MiB, {sampler.samples} samples), {end_rss / MiB:.1f} MiB at the end; "
          f"p2p bytes in {bytes_in / MiB:.1f} MiB; flooder identities {cycles}; height {h0} -> {h1}; "
          f"penalty disconnects +{pen:.0f}; {len(flood_bad)} proposal penalties {whys}; flooder 'refused to "
          f"sign' {refused}; peaks of the honest nodes "
          + ", ".join(f"{k} {v / MiB:.0f} MiB" for k, v in sampler.peak.items()), flush=True)
    check(not sampler.errors, f"RSS sampling failed: {sampler.errors[:3]}")
    check(growth < 64 * MiB, f"the victim's memory grew by {growth / MiB:.1f} MiB (>= 64 MiB) under the flood "
                             f"({bytes_in / MiB:.0f} MiB received)")
    check(bytes_in >= 64 * MiB, f"the victim received only {bytes_in / MiB:.1f} MiB in 30 s: the flood was too "
                                f"small to test the 64 MiB bound")
    check(h1 - h0 >= 30, f"the chain advanced only {h1 - h0} blocks in 30 s under the flood ({h0} -> {h1})")
    check(flood_bad, "the victim logged no 'bad message from peer' for a proposal: the flooder was not penalised")
    check(pen > 0, "gtos_p2p_penalty_disconnects_total did not rise on the victim: the flooder was not disconnected")
    hi = min(n.height() for n in honest)
    net.compare(nodes=honest, hi=hi)
    errors = net.stop_all()
    check(not errors, "; ".join(errors))
    return (f"RSS growth {growth / MiB:.1f} MiB (< 64) while {bytes_in / MiB:.0f} MiB arrived from {cycles} "
            f"flooder identities, {h1 - h0} blocks in 30 s, {len(flood_bad)} proposal penalties, {pen:.0f} penalty "
            f"disconnect(s)")


def signed_kv_batch(net, template, nonce, count, tag):
    """`count` signed kv-put records of the funded user key from `nonce` on."""
    lines = []
    for k in range(count):
        t = json.loads(json.dumps(template))
        t.pop("id", None)
        t["tx"]["nonce"] = nonce + k
        t["tx"]["payload"]["key"] = "0x" + f"{tag}{k}".encode().hex()
        t["tx"]["payload"]["ttl"] = 1000
        lines.append(json.dumps(t))
    unsigned = run(["gtos-inspect", "--encode"], stdin=("\n".join(lines) + "\n").encode()).stdout
    return run(["gtos-tx", "sign", "--key", net.user], stdin=unsigned).stdout


def post_txs(node, signed):
    req = urllib.request.Request(node.url + "/tx", data=signed, headers={"Content-Type": "application/msgpack"})
    with urllib.request.urlopen(req, timeout=10) as r:
        reply = json.loads(r.read())
    return sum(1 for e in reply if "id" in e), [e["error"] for e in reply if "error" in e]


def rotation(blocks, n):
    """height mod n -> the round-0 proposer (equal powers: round robin).
    Fails when a residue class has two round-0 proposers."""
    rot = {}
    for b in blocks:
        if int(b["commit"]["round"]) == 0:
            r = int(b["height"]) % n
            if rot.setdefault(r, b["proposer"]) != b["proposer"]:
                raise Fail(f"the proposer rotation is not round robin with period {n}: height {b['height']} "
                           f"by {b['proposer']}, an earlier height of the class by {rot[r]}")
    return rot


def stripped_penalties(node):
    """[(height being decided when logged, time)] of the node's penalties for
    body-stripped proposals ('bad message from peer', why '... do not match
    the header's tx_root'): attributed to the next block line."""
    out, pend = [], []
    for e in parse_log(node.logpath):
        if e["msg"] == "bad message from peer" and "match the header" in str(e.get("why", "")):
            pend.append(e["t"])
        elif e["msg"] in ("block committed", "block synced"):
            out += [(int(e["height"]), t) for t in pend]
            pend = []
    return out


def scenario_tamper(work):
    net = new_network(work).start({"val1": ["--unsafe-byzantine", "tamper-proposals"]})
    tamperer = net.nodes[1]
    honest = [n for n in net.nodes if n is not tamperer]
    nval = len(net.nodes)
    check(log_has(tamperer, SWITCH_LINE), "the tamperer did not log the test-switch warning")
    # Phase A: 60 blocks, all empty but one, which the tamperer proposes: a
    # stripped copy of an empty block is the block itself (no penalty), so
    # the one stripped copy (50 points, below the ban at 100) goes out first,
    # on the same connections, right before the genuine proposal.
    net.wait_all(2 * nval, nodes=net.nodes)
    rot = rotation(honest[0].blocks(1, 2 * nval), nval)
    mine = [r for r, a in rot.items() if a == tamperer.address]
    check(len(mine) == 1, f"the tamperer has no single slot in the rotation {rot}")
    shim = Sender(net)  # only for its kv-put template and the sender's address
    nonce = int(honest[0].call("tos_getAccount", shim.addr)["next_nonce"])
    batch = signed_kv_batch(net, shim.template, nonce, 10, "t")
    # Submit to the tamperer once block turn-1 is committed there: the
    # proposal of turn-1 is already built (empty), the tamperer builds turn's
    # from its mempool when turn starts (turn-1's start + 300 ms).
    for _ in range(3):
        turn = tamperer.height() + 2
        while turn % nval != mine[0]:
            turn += 1
        wait_for(lambda: tamperer.try_height() >= turn - 1, 30, f"the tamperer to commit {turn - 1}", 0.005)
        if tamperer.try_height() == turn - 1:
            break
        say(f"polling missed the moment between {turn - 1} and {turn}; next turn")
    else:
        raise Fail("polling missed the tamperer's turn three times")
    accepted, errs = post_txs(tamperer, batch)
    check(accepted == 10, f"the tamperer admitted {accepted} of 10 txs: {errs[:3]}")
    net.wait_all(60, nodes=net.nodes, timeout=120)
    end_a = 60
    blocks_a = net.compare(nodes=net.nodes, hi=end_a)  # the tamperer too: it was never banned
    bt = blocks_a[turn - 1]
    check(bt["proposer"] == tamperer.address and len(bt["txs"]) == 10,
          f"block {turn} (the tamperer's turn) has proposer {bt['proposer']} and {len(bt['txs'])} txs, expected "
          f"the tamperer's block with the 10 txs (the batch missed its proposal)")
    check(int(bt["commit"]["round"]) == 0, f"block {turn}: the genuine block after the stripped copy was decided "
                                           f"in round {bt['commit']['round']}, not 0")
    loaded = [int(b["height"]) for b in blocks_a if b["txs"]]
    check(loaded == [turn], f"phase A: blocks with txs {loaded}, expected only {turn}")
    nonzero_a = [int(b["height"]) for b in blocks_a if int(b["commit"]["round"]) > 0]
    pen_a = {n.name: [h for h, t in stripped_penalties(n) if h <= end_a] for n in honest}
    for n in honest:
        check(pen_a[n.name] == [turn], f"{n.name}: stripped-copy penalties at heights {pen_a[n.name]} in phase A, "
                                       f"expected one, while deciding {turn}")
    check(not nonzero_a, f"phase A: heights decided above round 0: {nonzero_a}")
    # Phase B: kv-put load on the honest nodes: every block carries txs, the
    # tamperer's stripped relays cost it 50 points each, and the second one
    # bans it (60 s) on every honest node: from then on its proposer turns
    # are decided in round 1 by the next proposer.
    loader = types.SimpleNamespace(chain=net.chain, user=net.user,
                                   running=lambda: [n for n in honest if n.alive()])
    h_b = max(n.height() for n in honest)
    sender = Sender(loader, per_batch=10, pause=0.15).start()
    try:
        net.wait_all(h_b + 24, nodes=honest, timeout=120)
    finally:
        sender.stop()
    hi = min(n.height() for n in honest)
    blocks = net.compare(nodes=honest, hi=hi)
    rot_all = rotation(blocks, nval)
    check(rot_all.get(mine[0]) == tamperer.address, f"rotation changed: {rot_all}")
    pens = {n.name: stripped_penalties(n) for n in honest}
    banned_at = {}
    for n in honest:
        check(len(pens[n.name]) >= 2, f"{n.name}: {len(pens[n.name])} stripped-copy penalties after phase B, "
                                      f"expected the ban (2 x 50 points)")
        banned_at[n.name] = pens[n.name][1][0]
        pd = n.metric("gtos_p2p_penalty_disconnects_total") or 0
        check(pd >= 1, f"{n.name}: gtos_p2p_penalty_disconnects_total {pd}: the tamperer was not banned")
    window_b = [b for b in blocks if int(b["height"]) > end_a]
    nonzero_b = [int(b["height"]) for b in window_b if int(b["commit"]["round"]) > 0]
    unexplained = [h for h in nonzero_b if h % nval != mine[0] or h < min(banned_at.values())]
    check(not unexplained, f"heights {unexplained} were decided above round 0 outside the banned tamperer's turns "
                           f"(its slot {mine[0]} mod {nval}, banned while deciding {banned_at})")
    honest_turns = [int(b["height"]) for b in window_b if int(b["height"]) % nval != mine[0]]
    with_txs = sum(1 for b in window_b if b["txs"])
    th = tamperer.try_height()
    tamperer_h = min(th, hi)
    if tamperer_h > end_a:
        net.compare(nodes=[honest[0], tamperer], lo=end_a, hi=tamperer_h)
    all_blocks = blocks_a + window_b
    round0 = sum(1 for b in all_blocks if int(b["commit"]["round"]) == 0)
    errors = net.stop_all()
    check(not errors, "; ".join(errors))
    return (f"phase A: 60/60 blocks in round 0; the tamperer's block {turn} (10 txs) decided in round 0 after its "
            f"stripped copy, penalised once on each honest node. Phase B ({len(window_b)} blocks, {with_txs} with "
            f"txs): tamperer banned while deciding {sorted(set(banned_at.values()))}; heights above round 0 "
            f"{nonzero_b} (all its turns after the ban), the {len(honest_turns)} honest proposers' heights in round 0; "
            f"{round0}/{len(all_blocks)} blocks in round 0 overall; tamperer stuck at {th}")


def scenario_silent(work):
    net = new_network(work).start({"val3": ["--unsafe-byzantine", "silent"]})
    silent = net.nodes[3]
    check(log_has(silent, SWITCH_LINE), "the silent validator did not log the test-switch warning")
    net.wait_all(40, timeout=120)
    blocks = net.compare()  # all four, the silent one too (it follows)
    rounds = [int(b["commit"]["round"]) for b in blocks]
    nonzero = sum(1 for r in rounds if r > 0)
    proposed = [int(b["height"]) for b in blocks if b["proposer"] == silent.address]
    # Its precommits may still appear in certificates: it decides from the
    # others' messages plus its own precommit, often first, and serves that
    # block (with its own certificate) to a validator one height behind, which
    # then proposes it as last_commit. Counted, not an error.
    signed = [int(b["height"]) for b in blocks if silent.address[2:] in json.dumps(b["commit"])]
    resent = sum(1 for e in parse_log(silent.logpath) if e["msg"] == "re-sent the last signed vote")
    check(not proposed, f"the silent validator is the proposer of blocks {proposed[:10]}")
    check(nonzero > 0, "no block needed a round change although the silent validator has proposer turns")
    check(max(rounds) <= 1, f"a block needed round {max(rounds)} (the next proposer is honest: round 1 suffices)")
    errors = net.stop_all()
    check(not errors, "; ".join(errors))
    return (f"{len(blocks)} blocks, {nonzero} decided in round 1 (the silent validator's turns), none proposed "
            f"by it; identical on all four; its precommit in {len(signed)} certificate(s) (served by block sync), "
            f"'re-sent the last signed vote' {resent}x in its log")


def scenario_forge(work):
    """A peer that answers block requests with forged blocks (each block
    1 ms later, under a certificate of its own signature only): a syncing
    observer refuses the certificate, penalises the forger to a ban, and
    catches up from the honest peer with the same hashes. (A build without
    the certificate check, the skip-commit-check mutant, takes the forgery:
    docs/e2e.md "Mutants".)"""
    net = new_network(work).start({"val3": ["--unsafe-byzantine", "forge-blocks"]})
    forger = net.nodes[3]
    check(log_has(forger, SWITCH_LINE), "the forger did not log the test-switch warning")
    net.wait_all(40, timeout=120)
    obs = net.add_node("obs")
    # Phase 1: the forger is the observer's only peer, so it is asked.
    spawn_outbound_only(obs, [forger.p2p], ["--log-level", "debug"], {"p2p_discovery": "false"})

    def refused():
        entries = parse_log(obs.logpath, last_run_only=True)
        return [e for e in entries if e["msg"] == "bad message from peer" and "synced block" in str(e.get("why", ""))]
    why = str(wait_for(refused, 30, "the observer to refuse a forged block")[0].get("why", ""))
    check("commit" in why or "power" in why or "signed" in why,
          f"the forged block was refused for another reason: {why!r}")
    check(obs.height() == 0, f"the observer took a forged block: height {obs.height()}")
    check(obs.stop() == 0, "the observer's exit status after phase 1")
    # Phase 2: the forger and an honest validator: it catches up all the same.
    secs, target, t0 = catch_up(net, obs, [forger.p2p, net.nodes[0].p2p])
    net.wait_all(target + 5)
    blocks = net.compare(nodes=[net.nodes[0], net.nodes[1], obs], lo=1, hi=target)
    errors = net.stop_all()
    obs.stop()
    check(not errors, "; ".join(errors))
    return (f"observer refused the forger's block ({why[:90]}), caught up to {target} in {secs:.2f}s "
            f"from the honest peer, {len(blocks)} blocks identical")


SCENARIOS = {name[len("scenario_"):]: fn for name, fn in list(globals().items()) if name.startswith("scenario_")}


def main():
    global OPTS
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bin", required=True, help="directory of the gtos-* binaries (BUILD/cmd)")
    ap.add_argument("--keep", action="store_true", help="keep the work directories")
    ap.add_argument("-v", "--verbose", action="store_true")
    ap.add_argument("scenarios", nargs="*", help=f"any of: {', '.join(SCENARIOS)} (default: all)")
    OPTS = ap.parse_args()
    names = OPTS.scenarios or list(SCENARIOS)
    unknown = [n for n in names if n not in SCENARIOS]
    if unknown:
        ap.error(f"unknown scenario(s) {', '.join(unknown)}; choose from {', '.join(SCENARIOS)}")
    top = tempfile.mkdtemp(prefix="gtos-hostile-")
    try:
        bindir = copy_tools(os.path.abspath(OPTS.bin), os.path.join(top, "bin"))
    except Fail as e:
        print(f"FAIL setup: {e}")
        return 1
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([bindir, env.get("PATH", "")])
    for var in list(env):
        if var.startswith("GTOS_"):
            env.pop(var)
    nt.ENV = env
    nt.OPTS = OPTS
    passed = failed = 0
    t_all = time.time()
    for name in names:
        work = os.path.join(top, name)
        os.makedirs(work)
        start = time.time()
        try:
            summary = SCENARIOS[name](work)
            passed += 1
            print(f"ok   {name} ({time.time() - start:.1f}s){': ' + summary if summary else ''}", flush=True)
        except Exception as e:
            failed += 1
            print(f"FAIL {name} ({time.time() - start:.1f}s): {e}", flush=True)
            if not isinstance(e, Fail):
                traceback.print_exc()
            for log_name in sorted(os.listdir(work)):
                if log_name.endswith(".log"):
                    with open(os.path.join(work, log_name), errors="replace") as f:
                        lines = [l for l in f.read().splitlines() if " debug p2p " not in l]
                    print(f"---- {log_name} (tail)\n" + "\n".join(lines[-25:]))
            print(f"     work directory kept: {work}")
        finally:
            nt._kill_leftovers(work)  # whatever happened, no node outlives its scenario
    print(f"{passed} passed, {failed} failed ({time.time() - t_all:.0f}s)")
    if not failed and not OPTS.keep:
        shutil.rmtree(top, ignore_errors=True)
    elif OPTS.keep:
        print(f"work directory kept: {top}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
