#!/usr/bin/env python3
"""Manifest-driven end-to-end testnet runner with a nemesis and invariant checks.

  python3 tests/e2e/runner.py --bin DIR MANIFEST.toml [--seed N] [--report FILE]
                              [--workdir DIR] [--keep] [-v]

Performs the genesis ceremony with the tools, starts every node of the
manifest as a real gtos-node process on loopback (p2p through a relay the
runner owns, so faults need no root), drives signed load, applies
perturbations (kill, pause, disconnect, restart, partitions, crashes of the
whole validator set) on a schedule
drawn from the seed, runs until every running node reached the manifest's
height, checks the invariants from every node's RPC, stops the nodes and
prints a report (JSON with --report).

Exit status: 0 every check held; 1 a check failed (each failure names the
check, the node and the height) or the run could not be set up; 2 a bad
manifest or usage (the message names the key), or a manifest that needs
something this binary or machine lacks (a byzantine mode, libfaketime).

The manifest format, every key with its default, the checks and the report
are documented in docs/e2e.md.
"""
import argparse
import atexit
import datetime
import json
import os
import random
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import manifest as mf  # noqa: E402
from cluster import SetupError, Tools, ceremony, faketime_lib, free_port  # noqa: E402
from load import Load  # noqa: E402
from relay import Relay  # noqa: E402

# Byzantine modes -> the gtos-node run flags that switch them on. The runner
# refuses (exit 2) a manifest naming a mode whose flag `gtos-node run --help`
# does not list. --unsafe-byzantine=MODE is the planned flag for the modes
# the node does not have yet.
BYZANTINE_FLAGS = {
    "equivocate": ["--unsafe-equivocate"],
    "tamper-proposals": ["--unsafe-byzantine=tamper-proposals"],
    "lie-height": ["--unsafe-byzantine=lie-height"],
    "silent": ["--unsafe-byzantine=silent"],
    "flood-proposals": ["--unsafe-byzantine=flood-proposals"],
    "forge-blocks": ["--unsafe-byzantine=forge-blocks"],
    "equivocate-proposals": ["--unsafe-byzantine=equivocate-proposals"],
}
KILL_PAUSE_S = 1.0        # kill: SIGKILL, this pause, start again
PAUSE_S = 10.0            # pause: SIGSTOP for this long, then SIGCONT
DISCONNECT_S = 10.0       # disconnect: cut off from every peer this long
STOP_TIMEOUT_S = 30.0     # SIGTERM to exit
READY_TIMEOUT_S = 60.0    # start to /readyz (a state-sync joiner restores first)
CONVERGE_S = 60.0         # after the run: every node reaches the same head
HEADER_FIELDS = ("hash", "state_root", "validators_hash", "next_validators_hash")
MAX_PRUNE_PER_BLOCK = 16  # kMaxPrunePerBlock (lib/chain/chain.cpp, docs/storage.md 7.1)
RESTORED_RE = re.compile(r"state sync: restored height=(\d+)")
COMMIT_RE = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+)Z info block (?:committed|synced) height=(\d+)")
LOG_LEVEL_RE = re.compile(r"^\S+Z (debug|info|warn|error) ([^=]*?)(?: \w+=|$)")
CHECKS = ("runner", "nodes_alive", "reach_height", "recovery", "isolation", "clean_shutdown", "header_agreement",
          "tx_inclusion", "retention", "equivocation", "joiners", "clock_skew", "load", "locks")
CRASH_WAIT_S = 10.0       # crash: how long to wait for a precommit of an uncommitted height before killing anyway


def fmt_s(x):
    return "-" if x is None else f"{x:.1f}s"


def pct(values, p):
    if not values:
        return None
    v = sorted(values)
    k = min(len(v) - 1, max(0, int(round(p / 100 * (len(v) - 1)))))
    return v[k]


def retention_start(head, retain, interval):
    """docs/storage.md 7.1: RetentionStart(h) = min(h - retain_blocks + 1, S_prev + 1)."""
    s = (head - 1) // interval * interval if head >= 1 else 0
    s_prev = s - interval if s >= interval else 0
    return max(1, min(head - retain + 1, s_prev + 1))


def expected_oldest(head, retain, interval, start=1):
    """oldest_available of a node that committed every block after start - 1:
    each commit moves it up to retention_start(h), at most 16 heights a block."""
    o = start
    for h in range(start, head + 1):
        r = retention_start(h, retain, interval)
        if r > o:
            o = min(r, o + MAX_PRUNE_PER_BLOCK)
    return o


class Run:
    def __init__(self, m, opts, seed, tools):
        self.m = m
        self.opts = opts
        self.seed = seed
        self.tools = tools
        self.rng = random.Random(seed)
        self.t0 = time.time()
        self.failures = []
        self.fail_lock = threading.Lock()
        self.notes = {c: [] for c in CHECKS}
        self.applies = {c: False for c in CHECKS}
        self.applies["nodes_alive"] = True
        self.applies["runner"] = True
        self.nodes = {}
        self.relay = Relay(m.link_latency_ms / 1000.0)
        self.sign_journal = False      # gtos-node takes --sign-journal (set by main)
        self.stop_ev = threading.Event()
        self.nemesis_stop = threading.Event()
        self.perturbations = []
        self.first_seen = {}           # height -> wall time the monitor first saw it
        self.blocks = {}               # height -> tracker record
        self.max_height = 0
        self.load = None
        self.action_lock = threading.Lock()  # one perturbation at a time
        self.fatal = None
        self.schedule = []
        self.partitions_done = 0
        self.crashes_done = 0
        self.tx_done = {}              # node name -> ids looked up there
        self.tx_ok = self.tx_bad = self.tx_skipped = 0

    # -- reporting
    def log(self, msg):
        if self.opts.verbose:
            print(f"  {time.time() - self.t0:7.1f}s {msg}", flush=True)

    def fail(self, check, msg, node=None, height=None):
        names = [x for x in (node or "").split(",") if x]
        if (names and check not in ("equivocation", "runner")
                and all(x in self.nodes and self.nodes[x].spec.byzantine for x in names)):
            # The honest network's guarantees are checked, not a byzantine node's
            # own health: what would fail it is reported as a note.
            self.note(check, f"(byzantine {node}, not counted) {msg}" +
                      (f" [height {height}]" if height is not None else ""))
            return
        with self.fail_lock:
            self.failures.append({"check": check, "node": node, "height": height, "message": msg})
        print(f"  FAIL {check}: {msg}" + (f" (node {node}" if node else "") +
              (f", height {height})" if node and height is not None else (")" if node else "")), flush=True)

    def note(self, check, msg):
        self.notes[check].append(msg)

    def running(self):
        return [n for n in self.nodes.values() if n.alive()]

    def honest_running(self):
        return [n for n in self.nodes.values() if n.alive() and not n.spec.byzantine]

    def usable(self):
        return [n for n in self.nodes.values() if n.usable()]

    def pick_node(self):
        u = self.usable()
        return self.rng.choice(u) if u else None

    def heights(self, nodes=None):
        return {n.name: n.try_height(1.0) for n in (nodes or self.running())}

    # -- setup
    def setup(self, work):
        log = (lambda s: print(f"e2e: {s}", flush=True))
        chain, genesis, nodes, senders, ghash = ceremony(self.m, work, self.tools, self.rng, log)
        self.chain, self.genesis, self.nodes, self.senders, self.genesis_hash = chain, genesis, nodes, senders, ghash
        lib = faketime_lib()
        for n in nodes.values():
            self.relay.add(n.name, n.relay_port, n.p2p_port)
        for n in nodes.values():
            n.peers = [self.relay.add_pair(n.name, o.name, free_port(self.rng)) for o in nodes.values() if o is not n]
            if n.spec.state_sync:
                n.extra_args.append("--state-sync")
            if n.spec.byzantine:
                n.extra_args += BYZANTINE_FLAGS[n.spec.byzantine]
            n.journal = None
            if n.validator and self.sign_journal:
                # Every signature, appended before it leaves the node; kept
                # across restarts (check "locks").
                n.journal = os.path.join(n.dir, "sign-journal.jsonl")
                n.extra_args += ["--sign-journal", n.journal]
            n.set_clock_skew(lib, n.spec.clock_skew_ms)
        self.by_address = {n.address: n.name for n in nodes.values() if n.address}

    def start_node(self, n, why):
        n.start()
        self.log(f"{n.name}: started ({why}), pid {n.proc.pid}")
        if not n.wait_ready(READY_TIMEOUT_S):
            state = f"exited with {n.proc.returncode}" if not n.alive() else "not ready"
            self.fail("nodes_alive", f"{n.name} {state} {READY_TIMEOUT_S:.0f}s after its start ({why}); "
                      f"log {n.logpath}", n.name, self.max_height)
            return False
        return True

    # -- background threads
    def guarded(self, fn):
        """Runs a background loop; an exception in it is a runner failure that ends the run."""
        def run():
            try:
                fn()
            except Exception as e:
                self.fatal = f"{fn.__name__} thread: {e!r}"
                self.fail("runner", f"the runner's {fn.__name__} thread failed: {e!r}")
                traceback.print_exc()
        return run

    def monitor(self):
        while not self.stop_ev.is_set():
            for n in list(self.nodes.values()):
                if n.started and n.proc and n.proc.poll() is not None and not n.expect_exit:
                    n.expect_exit = True
                    n.exits.append(n.proc.returncode)
                    self.fail("nodes_alive", f"{n.name} exited on its own with status {n.proc.returncode} "
                              f"(log {n.logpath})", n.name, n.height)
                if n.alive() and not n.paused:
                    h = n.try_height(0.5)
                    if h >= 0:
                        n.height = h
            hs = [n.height for n in self.nodes.values() if n.alive() and not n.spec.byzantine]
            if hs:
                top = max(hs)
                now = time.time()
                for h in range(self.max_height + 1, top + 1):
                    self.first_seen[h] = now
                self.max_height = max(self.max_height, top)
                for n in self.nodes.values():
                    if n.alive() and not n.synced and n.height >= self.max_height - 2:
                        n.synced = True
                        self.log(f"{n.name}: in sync at {n.height}")
            self.stop_ev.wait(0.2)

    def tracker(self):
        """Records every block (time, proposer, tx count, evidence) while its body is still retained."""
        next_h = 1
        while not self.stop_ev.is_set():
            node = self.pick_node()
            if node is None or node.height < next_h:
                self.stop_ev.wait(0.3)
                continue
            hi = min(node.height, next_h + 199)
            try:
                reps = node.batch([("tos_getBlockByNumber", (h,)) for h in range(next_h, hi + 1)], timeout=10)
            except Exception:
                self.stop_ev.wait(0.3)
                continue
            for h, rep in zip(range(next_h, hi + 1), reps):
                if "result" in rep:
                    b = rep["result"]
                    self.blocks[h] = {"time_ms": int(b["time_ms"]), "proposer": b["proposer"],
                                      "txs": len(b.get("txs") or []), "evidence": b.get("evidence") or [],
                                      "hash": b["hash"]}
                else:
                    try:
                        hd = node.rpc("tos_getHeaderByNumber", h)
                        self.blocks[h] = {"time_ms": int(hd["time_ms"]), "proposer": hd["proposer"], "txs": None,
                                          "evidence": None, "hash": hd["hash"]}
                    except Exception:
                        break
                next_h = h + 1
            self.stop_ev.wait(0.3)

    # -- nemesis
    def draw_schedule(self):
        """The perturbation schedule, drawn from the seed alone: (seconds after the start, node, kind)."""
        rng = random.Random(f"{self.seed}/nemesis")
        every = self.m.perturb_every_s
        candidates = [s for s in self.m.nodes.values() if s.perturb]
        out = []
        if every > 0 and candidates:
            t = every
            while t < self.m.timeout_s:
                s = rng.choice(candidates)
                out.append((t, s.name, rng.choice(s.perturb)))
                t += every
        return out

    def nemesis(self):
        t_start = time.time()
        i = 0
        parts = list(enumerate(self.m.partition_heights))
        crashes = list(enumerate(self.m.crash_heights))
        busy_until = t_start
        while not self.nemesis_stop.is_set():
            if crashes and self.max_height >= crashes[0][1]:
                idx, _ = crashes.pop(0)
                self.do_crash(idx)
                self.crashes_done += 1
                busy_until = time.time()
                continue
            if parts and self.max_height >= parts[0][1]:
                idx, _ = parts.pop(0)
                self.do_partition(idx)
                self.partitions_done += 1
                busy_until = time.time()
                continue
            if i < len(self.schedule) and time.time() - t_start >= self.schedule[i][0]:
                t, name, kind = self.schedule[i]
                i += 1
                if t_start + t < busy_until:
                    # Its time came while another perturbation ran: dropped, so that
                    # the chain gets time to progress between perturbations.
                    rec = self._record(kind, [name])
                    rec["ok"] = None
                    rec["detail"] = "skipped: the previous perturbation was still running at its time"
                    continue
                self.do_perturb(self.nodes[name], kind)
                busy_until = time.time()
                continue
            self.nemesis_stop.wait(0.1)

    def _record(self, kind, names):
        rec = {"kind": kind, "nodes": names, "height": self.max_height, "t": round(time.time() - self.t0, 1),
               "duration_s": None, "recovery_s": None, "ok": True, "detail": ""}
        self.perturbations.append(rec)
        return rec

    def do_perturb(self, n, kind):
        if not n.alive():
            rec = self._record(kind, [n.name])
            rec["detail"] = "skipped: not running" if n.started else "skipped: not started yet"
            rec["ok"] = None
            self.log(f"nemesis: {kind} {n.name}: {rec['detail']}")
            return
        was_synced = n.synced
        rec = self._record(kind, [n.name])
        self.log(f"nemesis: {kind} {n.name} at height {rec['height']}")
        t = time.time()
        n.note(f"nemesis: {kind}")
        if kind == "kill":
            n.kill9()
            time.sleep(KILL_PAUSE_S)
            if not self.start_node(n, "after kill"):
                rec["ok"] = False
        elif kind == "restart":
            self.applies["clean_shutdown"] = True
            rc, secs = n.terminate(STOP_TIMEOUT_S)
            if rc != 0:
                what = f"did not stop within {STOP_TIMEOUT_S:.0f}s of SIGTERM" if rc is None else \
                    f"exited with status {rc} on SIGTERM"
                self.fail("clean_shutdown", f"{n.name} {what} (restart perturbation)", n.name, n.height)
            rec["detail"] = f"stopped in {secs:.1f}s"
            if not self.start_node(n, "after restart"):
                rec["ok"] = False
        elif kind == "pause":
            n.paused = True
            n.signal(signal.SIGSTOP)
            time.sleep(PAUSE_S)
            n.signal(signal.SIGCONT)
            n.paused = False
        elif kind == "disconnect":
            self.applies["isolation"] = True
            n.isolated = True
            cut = self.relay.isolate(n.name)
            peers = None
            deadline = time.time() + DISCONNECT_S
            time.sleep(1.0)
            while time.time() < deadline:
                try:
                    peers = n.metrics().get("gtos_p2p_peers")
                except Exception:
                    peers = None
                if peers == 0:
                    break
                time.sleep(0.5)
            if peers != 0:
                self.fail("isolation", f"{n.name} still reports gtos_p2p_peers={peers} while the relay cuts it off "
                          f"(a direct connection bypasses the relay?)", n.name, n.height)
            time.sleep(max(0.0, deadline - time.time()))
            self.relay.heal(n.name)
            n.isolated = False
            rec["detail"] = f"{cut} connections cut"
        rec["duration_s"] = round(time.time() - t, 1)
        self.recover(rec, [x for x in self.honest_running() if x.synced or x is n and was_synced])

    def do_partition(self, idx):
        names = sorted(n.name for n in self.running())
        rng = random.Random(f"{self.seed}/partition/{idx}")
        rng.shuffle(names)
        half = len(names) // 2
        a, b = sorted(names[:half]), sorted(names[half:])
        rec = self._record("partition", [a, b])
        self.log(f"nemesis: partition {a} | {b} at height {rec['height']}")
        for n in self.running():
            n.note(f"nemesis: partition {a} | {b}")
        t = time.time()
        cut = self.relay.partition(a, b)
        time.sleep(self.m.partition_duration_s)
        self.relay.heal_partition()
        rec["duration_s"] = round(time.time() - t, 1)
        rec["detail"] = f"{cut} connections cut"
        self.recover(rec, [x for x in self.honest_running() if x.synced])

    def precommit_moment(self, timeout):
        """Waits until every honest running validator's sign journal shows a
        precommit for a block at one height no node was seen to commit: the
        moment a validator that forgets its lock on restart is most exposed
        (all are locked, nobody decided yet; with link latency this lasts).
        Returns a description of the moment, or None after `timeout`."""
        if not self.sign_journal:
            return None
        want = {n.name for n in self.honest_running() if n.journal}
        precommitted = {}              # height -> {validator name}
        offsets = {}
        for n in self.nodes.values():
            if n.journal:
                try:
                    offsets[n.name] = os.path.getsize(n.journal)
                except OSError:
                    offsets[n.name] = 0
        partial = {name: b"" for name in offsets}
        deadline = time.time() + timeout
        while time.time() < deadline and not self.nemesis_stop.is_set():
            for name in offsets:
                n = self.nodes[name]
                try:
                    with open(n.journal, "rb") as f:
                        f.seek(offsets[name])
                        data = f.read()
                except OSError:
                    continue
                if not data:
                    continue
                offsets[name] += len(data)
                buf = partial[name] + data
                lines = buf.split(b"\n")
                partial[name] = lines.pop()
                for line in lines:
                    try:
                        e = json.loads(line)
                    except ValueError:
                        continue
                    h = int(e.get("height", 0))
                    if e.get("type") == "precommit" and e.get("block") and h > self.max_height:
                        got = precommitted.setdefault(h, set())
                        got.add(name)
                        if want and want <= got:
                            return (f"right after {', '.join(sorted(got))} signed precommits at height {h} "
                                    f"(the last: {name}, round {e['round']})")
            time.sleep(0.002)
        return None

    def do_crash(self, idx):
        """SIGKILL every running validator at once (the moment chosen by
        precommit_moment), start them all again after crash.down_s."""
        moment = self.precommit_moment(CRASH_WAIT_S)
        vals = [n for n in self.nodes.values() if n.validator and n.alive()]
        synced = [n for n in self.honest_running() if n.synced]
        for n in vals:
            n.kill9()
        rec = self._record("crash", [n.name for n in vals])
        self.log(f"nemesis: crash {[n.name for n in vals]} at height {rec['height']} "
                 f"({moment or 'no precommit seen'})")
        for n in vals:
            n.note(f"nemesis: crash of every validator ({moment or 'no precommit seen'})")
        t = time.time()
        time.sleep(self.m.crash_down_s)
        for n in vals:
            n.start()
        for n in vals:
            if not n.wait_ready(READY_TIMEOUT_S):
                state = f"exited with {n.proc.returncode}" if not n.alive() else "not ready"
                self.fail("nodes_alive", f"{n.name} {state} {READY_TIMEOUT_S:.0f}s after its start (after crash); "
                          f"log {n.logpath}", n.name, self.max_height)
                rec["ok"] = False
        rec["duration_s"] = round(time.time() - t, 1)
        rec["detail"] = moment or f"no precommit of an uncommitted height seen within {CRASH_WAIT_S:.0f}s"
        self.recover(rec, [x for x in synced if x.alive() and not x.spec.byzantine])

    def recover(self, rec, nodes):
        """After a perturbation: every node of `nodes` commits a block above the
        highest height any node had when the perturbation ended, within recovery_s."""
        self.applies["recovery"] = True
        t_end = time.time()
        if not nodes:
            rec["ok"] = False
            self.fail("recovery", f"after {rec['kind']} of {rec['nodes']} no node in sync is running")
            return
        hs = self.heights(nodes)
        h_end = max([h for h in hs.values()] + [self.max_height])
        limit = max(60.0, 6 * self.m.recovery_s)
        behind = {}
        passed = {}                    # node -> seconds after t_end it was first seen above h_end
        while time.time() - t_end < limit and not self.stop_ev.is_set():
            behind = {}
            for n in nodes:
                if n.name in passed:
                    continue
                h = n.try_height(1.0)
                if h > h_end:
                    passed[n.name] = time.time() - t_end
                else:
                    behind[n.name] = h
            if not behind:
                break
            time.sleep(0.05)
        rec["recovered_above"] = h_end
        if behind:
            rec["ok"] = False
            rec["recovery_s"] = None
            self.fail("recovery", f"after {rec['kind']} of {rec['nodes']} no block above {h_end} on "
                      f"{sorted(behind)} within {limit:.0f}s (heights {behind})", ",".join(sorted(behind)), h_end)
            return
        slowest = max(passed, key=passed.get)
        took = passed[slowest]
        rec["recovery_s"] = round(took, 2)
        rec["slowest"] = slowest
        if took > self.m.recovery_s:
            rec["ok"] = False
            self.fail("recovery", f"after {rec['kind']} of {rec['nodes']} (ended at height {h_end}) {slowest} "
                      f"committed a block above {h_end} only after {took:.2f}s > recovery_s {self.m.recovery_s:g}",
                      slowest, h_end)
        elif rec["ok"] is not False:
            rec["ok"] = True

    # -- the run
    def execute(self):
        m = self.m
        deadline = self.t0 + m.timeout_s
        self.schedule = self.draw_schedule()
        first = [n for n in self.nodes.values() if n.spec.start_at == 0]
        for n in first:
            n.start()
        for n in first:
            if not n.wait_ready(READY_TIMEOUT_S):
                raise SetupError(f"{n.name} did not become ready (status {n.proc.poll()}); log {n.logpath}")
        print(f"e2e: {len(first)} nodes started; running to height {m.blocks}, seed {self.seed}", flush=True)
        threads = [threading.Thread(target=self.guarded(self.monitor), daemon=True, name="monitor"),
                   threading.Thread(target=self.guarded(self.tracker), daemon=True, name="tracker")]
        for t in threads:
            t.start()
        if m.load_tps > 0:
            self.applies["load"] = True
            self.load = Load(self.tools, self.chain, self.senders, m.load_tps, random.Random(f"{self.seed}/load"),
                             self.pick_node, self.work, self.log).start()
            threads.append(threading.Thread(target=self.guarded(self.tx_verifier), daemon=True, name="tx-verifier"))
            threads[-1].start()
        nem = threading.Thread(target=self.guarded(self.nemesis), daemon=True, name="nemesis")
        nem.start()
        late = sorted((n for n in self.nodes.values() if n.spec.start_at > 0), key=lambda n: n.spec.start_at)
        last_log = 0
        self.applies["reach_height"] = True
        while True:
            now = time.time()
            while late and self.max_height >= late[0].spec.start_at:
                n = late.pop(0)
                threading.Thread(target=self.start_node, args=(n, f"joins at height {self.max_height}"),
                                 daemon=True).start()
            running = self.honest_running()
            low = min((n.height for n in running), default=-1)
            if (not late and self.partitions_done == len(m.partition_heights)
                    and self.crashes_done == len(m.crash_heights) and running
                    and all(n.started for n in self.nodes.values()) and low >= m.blocks):
                break
            if self.fatal:
                break
            if now > deadline:
                lowest = min(running, key=lambda n: n.height) if running else None
                self.fail("reach_height", f"not every running node reached height {m.blocks} within timeout_s "
                          f"{m.timeout_s:g} (lowest: {lowest.name if lowest else '-'} at "
                          f"{lowest.height if lowest else '-'}; partitions done {self.partitions_done}/"
                          f"{len(m.partition_heights)}; late joiners not started "
                          f"{[n.name for n in late]})", lowest.name if lowest else None,
                          lowest.height if lowest else None)
                break
            if now - last_log > 10:
                print(f"e2e: {now - self.t0:5.0f}s heights " +
                      " ".join(f"{n.name}={n.height if n.alive() else 'down'}" for n in self.nodes.values()) +
                      f"; perturbations {len(self.perturbations)}" +
                      (f"; receipts {len(self.load.receipts)}" if self.load else ""), flush=True)
                last_log = now
            time.sleep(0.2)
        # Stop faults (the one in progress finishes and recovers), then the load.
        self.nemesis_stop.set()
        nem.join(timeout=max(120.0, 10 * m.recovery_s))
        if self.load:
            self.load.stop_sending()
            self.load.drain(10)
        self.converge()
        self.stop_ev.set()
        for t in threads:
            t.join(timeout=10)

    def converge(self):
        """Every running node reaches the same head (the highest any honest node has now)."""
        running = self.running()
        target = max((n.try_height() for n in self.honest_running()), default=0)
        deadline = time.time() + CONVERGE_S
        hs = {}
        while time.time() < deadline:
            hs = self.heights(running)
            if all(h >= target for h in hs.values()):
                self.head = target
                return
            time.sleep(0.2)
        for name, h in hs.items():
            if h < target:
                late = self.nodes[name].spec.start_at > 0
                self.fail("joiners" if late else "reach_height",
                          f"{name} at height {h} did not reach the head {target} within {CONVERGE_S:.0f}s after the "
                          f"run", name, h)
        self.head = target

    # -- checks
    def check_all(self):
        for fn in (self.check_headers, self.check_txs, self.check_retention, self.check_equivocation,
                   self.check_joiners, self.check_clock_skew, self.check_load, self.check_locks):
            try:
                fn()
            except Exception as e:
                name = fn.__name__[len("check_"):]
                self.fail(name if name in CHECKS else "runner", f"check {fn.__name__} crashed: {e!r}")
                traceback.print_exc()

    def fetch_headers(self, n):
        head = n.try_height(2.0)
        got, missing = {}, []
        if head < 1:
            return head, got, missing
        reps = n.batch([("tos_getHeaderByNumber", (h,)) for h in range(1, head + 1)], timeout=60)
        for h, rep in zip(range(1, head + 1), reps):
            if "result" in rep:
                got[h] = rep["result"]
            else:
                missing.append(h)
        return head, got, missing

    def restored_height(self, n):
        """The snapshot height a state-sync node restored last: its log's last
        `state sync: restored height=N` (the gtos_statesync_restored_height
        metric is per process and 0 again after a restart). A node that fell
        behind its peers' window state-syncs again while running
        (docs/node.md "Falling behind the window") and then no longer holds
        the heights below the newer snapshot."""
        last = 0
        try:
            with open(n.logpath, errors="replace") as f:
                for line in f:
                    mt = RESTORED_RE.search(line)
                    if mt:
                        last = int(mt.group(1))
        except OSError:
            pass
        return last

    def commit_times(self, n):
        """{height: ms since the epoch} of the node's `block committed` /
        `block synced` log lines (the first line of each height)."""
        out = {}
        try:
            with open(n.logpath, errors="replace") as f:
                for line in f:
                    mt = COMMIT_RE.match(line)
                    if mt and int(mt.group(2)) not in out:
                        t = datetime.datetime.strptime(mt.group(1), "%Y-%m-%dT%H:%M:%S.%f")
                        out[int(mt.group(2))] = t.replace(tzinfo=datetime.timezone.utc).timestamp() * 1000
        except OSError:
            pass
        return out

    def check_headers(self):
        self.applies["header_agreement"] = True
        self.headers = {}
        nodes = sorted(self.running(), key=lambda n: bool(n.spec.byzantine))  # an honest node is the reference
        for n in nodes:
            head, got, missing = self.fetch_headers(n)
            self.headers[n.name] = got
            restored = self.restored_height(n) if n.spec.state_sync else 0
            bad = [h for h in missing if h > restored]
            if bad:
                self.fail("header_agreement", f"{n.name} does not serve headers {bad[:5]}{'...' if len(bad) > 5 else ''}"
                          f" ({len(bad)} heights, head {head})", n.name, bad[0])
        top = max((max(g) for g in self.headers.values() if g), default=0)
        compared = 0
        mismatches = 0
        for h in range(1, top + 1):
            have = [(name, g[h]) for name, g in self.headers.items() if h in g]
            if len(have) < 2:
                continue
            compared += 1
            ref_name, ref = have[0]
            for name, hd in have[1:]:
                for f in HEADER_FIELDS:
                    if hd.get(f) != ref.get(f):
                        mismatches += 1
                        if mismatches <= 10:
                            self.fail("header_agreement", f"height {h}: {f} {ref.get(f)} on {ref_name}, "
                                      f"{hd.get(f)} on {name}", name, h)
        self.note("header_agreement", f"{compared} heights held by 2+ nodes compared on {len(nodes)} nodes "
                  f"({', '.join(HEADER_FIELDS)}); {mismatches} mismatches")

    def watermark(self, n):
        prev = None
        for _ in range(50):
            w = n.rpc("tos_getPruneWatermark")
            w = (int(w["oldest_available"]), int(w["head"]))
            if w == prev:
                return w
            prev = w
        return prev

    def verify_txs(self, n, items):
        """Looks up [(id, (height, index, status))] on node n: each must be at
        the receipt's height and index, unless n no longer holds (pruned) or
        never held (below its restored snapshot) that height. Returns the ids
        settled (verified, legitimately absent or failed); raises on RPC trouble."""
        if not items:
            return []
        restored = self.restored_height(n) if n.spec.state_sync else 0
        head = n.try_height(2.0)
        items = [(i, r) for i, r in items if r[0] <= head]   # the rest: not committed here yet
        if not items:
            return []
        reps = n.batch([("tos_getTransaction", (i,)) for i, _ in items], timeout=120)
        oldest = int(n.rpc("tos_getPruneWatermark")["oldest_available"])  # read after: pruning only moves it up
        done = []
        for (i, (h, idx, _)), rep in zip(items, reps):
            if "result" in rep:
                r = rep["result"]
                if int(r["height"]) != h or int(r["index"]) != idx:
                    self.tx_bad += 1
                    if self.tx_bad <= 10:
                        self.fail("tx_inclusion", f"tx {i}: its receipt said height {h} index {idx}, {n.name} has "
                                  f"it at height {r['height']} index {r['index']}", n.name, h)
                else:
                    self.tx_ok += 1
            elif h < oldest or h <= restored:
                self.tx_skipped += 1   # pruned by the retention window, or below this node's snapshot
            else:
                self.tx_bad += 1
                if self.tx_bad <= 10:
                    self.fail("tx_inclusion", f"tx {i} (receipt at height {h}, index {idx}) is missing on "
                              f"{n.name}, which holds bodies from {oldest}: {rep.get('error')}", n.name, h)
            done.append(i)
        return done

    def tx_verifier(self):
        """During the run: every tx whose receipt was seen is looked up on every
        node once that node has committed its height (while it still holds it)."""
        while not self.stop_ev.is_set():
            with self.load.lock:
                items = list(self.load.receipts.items())
            for n in list(self.nodes.values()):
                if not n.alive() or n.paused:
                    continue
                done = self.tx_done.setdefault(n.name, set())
                todo = [(i, r) for i, r in items if i not in done and r[0] <= n.height][:5000]
                try:
                    done.update(self.verify_txs(n, todo))
                except Exception:
                    pass  # restarting or stopping: next round
            self.stop_ev.wait(1.0)

    def check_txs(self):
        if not self.load:
            return
        self.applies["tx_inclusion"] = True
        with self.load.lock:
            items = list(self.load.receipts.items())
        for n in self.running():
            done = self.tx_done.setdefault(n.name, set())
            done.update(self.verify_txs(n, [(i, r) for i, r in items if i not in done]))
        if self.tx_bad > 10:
            self.fail("tx_inclusion", f"... {self.tx_bad} (node, tx) pairs wrong or missing in all")
        self.note("tx_inclusion", f"{len(items)} txs with a receipt; {self.tx_ok} (node, tx) pairs found at the "
                  f"receipt's height and index (looked up during the run and after it); {self.tx_skipped} pairs "
                  f"pruned before the lookup or below a snapshot")

    def check_retention(self):
        self.applies["retention"] = True
        r, iv = self.m.retain_blocks, self.m.snapshot_interval
        out = []
        for n in self.running():
            oldest, head = self.watermark(n)
            restored = self.restored_height(n) if n.spec.state_sync else 0
            if restored:
                lo = expected_oldest(head, r, iv, restored + 1)
                hi = max(retention_start(head, r, iv), restored + 1)
                ok = lo <= oldest <= hi
                want = f"between {lo} and {hi} (state sync restored {restored})"
            else:
                lo = hi = expected_oldest(head, r, iv)
                ok = oldest == lo
                want = f"{lo} (retain_blocks {r}, snapshot_interval {iv}, at most {MAX_PRUNE_PER_BLOCK} a block)"
            if not ok:
                self.fail("retention", f"{n.name}: oldest available block {oldest} at head {head}, expected {want}",
                          n.name, head)
            m = n.metrics()
            gauge = m.get("gtos_history_oldest_height", m.get("gtos_oldest_available_height"))
            if gauge is not None and int(gauge) < oldest:
                self.fail("retention", f"{n.name}: gtos_history_oldest_height {int(gauge)} below the RPC "
                          f"watermark {oldest}", n.name, head)
            # A node still pruning its way up to the window (at most
            # MAX_PRUNE_PER_BLOCK heights a block, e.g. after a state sync)
            # moves the watermark between the reads: read until it holds.
            for _ in range(20):
                reps = n.batch([("tos_getBlockByNumber", (oldest,)), ("tos_getBlockByNumber", (oldest - 1,))])
                again = self.watermark(n)
                if again[0] == oldest:
                    break
                oldest, head = again
            if "result" not in reps[0]:
                self.fail("retention", f"{n.name}: block {oldest} (oldest available) not served: {reps[0]}",
                          n.name, oldest)
            if oldest > 1 and reps[1].get("error", {}).get("code") != -38005:
                self.fail("retention", f"{n.name}: block {oldest - 1} below the window answered {reps[1]}, "
                          f"not -38005 history_pruned", n.name, oldest - 1)
            out.append(f"{n.name} {oldest}..{head}")
        self.note("retention", "bodies held: " + ", ".join(out))

    def check_equivocation(self):
        # Both double-sign modes: conflicting prevotes, conflicting proposals.
        bad = [n for n in self.nodes.values() if n.spec.byzantine in ("equivocate", "equivocate-proposals")]
        if not bad:
            return
        self.applies["equivocation"] = True
        running = self.running()
        prof = running[0].rpc("tos_chainProfile")
        permille = int(prof["params"].get("slash_double_sign_permille", 50))
        epoch = int(prof["params"].get("epoch_length", self.m.epoch_length))
        for b in bad:
            stake = b.spec.stake
            slash = stake // 1000 * permille + stake % 1000 * permille // 1000
            ev_heights = sorted(h for h, blk in self.blocks.items()
                                if blk.get("evidence") and b.address[2:] in json.dumps(blk["evidence"]))
            if not ev_heights:
                self.fail("equivocation", f"no committed block carries evidence against {b.name} ({b.address}); "
                          f"blocks seen with evidence: {sorted(h for h, x in self.blocks.items() if x.get('evidence'))[:10]}",
                          b.name)
            for n in running:
                try:
                    v = {x["address"]: x for x in n.rpc("dpos_getValidators")}.get(b.address)
                except Exception as e:
                    self.fail("equivocation", f"dpos_getValidators failed on {n.name}: {e}", n.name)
                    continue
                h = n.try_height()
                if v is None:
                    self.fail("equivocation", f"{n.name} does not list validator {b.name}", n.name, h)
                    continue
                if not v.get("jailed"):
                    self.fail("equivocation", f"{n.name} shows {b.name} not jailed: {v}", n.name, h)
                if int(v["stake"]) != stake - slash:
                    self.fail("equivocation", f"{n.name} shows {b.name} with stake {v['stake']}, expected "
                              f"{stake} - {slash} ({permille} per mille slashed once)", n.name, h)
                if ev_heights:
                    boundary = (ev_heights[0] // epoch + 1) * epoch
                    if h > boundary and v.get("active"):
                        self.fail("equivocation", f"{n.name} still has {b.name} in the active set at {h}, after the "
                                  f"boundary {boundary} following its evidence at {ev_heights[0]}", n.name, h)
            if ev_heights:
                self.note("equivocation", f"{b.name}: evidence in blocks {ev_heights[:5]}, slashed {slash}, jailed")

    def check_locks(self):
        """From the honest validators' sign journals (every proposal and vote each
        signed, across restarts): no validator signed two different messages
        for one (height, round, type), and none broke its lock: after it
        precommitted block B in round L of a height, it prevoted another block
        in a later round only for a proposal whose valid_round is at least L
        (Tendermint's lines 22-33; a node that forgets its lock on restart
        breaks this)."""
        vals = [n for n in self.nodes.values() if n.validator and not n.spec.byzantine and n.journal]
        if not vals:
            if self.m.crash_heights and not self.sign_journal:
                self.note("locks", "not checked: gtos-node does not take --sign-journal")
            return
        self.applies["locks"] = True
        out = []
        for n in vals:
            try:
                with open(n.journal, "rb") as f:
                    raw = f.read().split(b"\n")
            except OSError as e:
                self.fail("locks", f"{n.name}: cannot read its sign journal {n.journal}: {e}", n.name)
                continue
            signed = {}                # (height, round, type) -> block
            locks = {}                 # height -> (round, block) of its latest precommit for a block
            locked_heights = set()
            entries = bad = 0
            for line in raw:
                if not line.strip():
                    continue
                try:
                    e = json.loads(line)
                    h, r, typ, blk = int(e["height"]), int(e["round"]), e["type"], e.get("block")
                except (ValueError, KeyError, TypeError):
                    bad += 1
                    continue
                entries += 1
                pos = (h, r, typ)
                if pos in signed and signed[pos] != blk:
                    self.fail("locks", f"{n.name} signed two different {typ}s at height {h} round {r}: "
                              f"{signed[pos]} and {blk}", n.name, h)
                signed.setdefault(pos, blk)
                if typ == "precommit" and blk:
                    if h not in locks or r >= locks[h][0]:
                        locks[h] = (r, blk)
                        locked_heights.add(h)
                elif typ == "prevote" and blk and h in locks:
                    lr, lb = locks[h]
                    if r > lr and blk != lb:
                        pol = e.get("pol_round")
                        if pol is None or int(pol) < lr:
                            self.fail("locks", f"{n.name} precommitted {lb[:14]}... in round {lr} of height {h}, "
                                      f"then prevoted {blk[:14]}... in round {r} for a proposal with valid_round "
                                      f"{pol if pol is not None else '(none recorded)'}, below its lock's round {lr}: "
                                      f"it forgot its lock", n.name, h)
            out.append(f"{n.name} {entries} signatures" + (f" ({bad} unreadable lines)" if bad else ""))
        self.note("locks", "sign journals: " + ", ".join(out))

    def check_joiners(self):
        late = [n for n in self.nodes.values() if n.spec.start_at > 0]
        if not late:
            return
        self.applies["joiners"] = True
        for n in late:
            if not n.started:
                self.fail("joiners", f"{n.name} was never started (start_at {n.spec.start_at})", n.name)
                continue
            if not n.alive():
                continue  # reported by nodes_alive
            h = n.try_height()
            msg = f"{n.name} joined at {n.spec.start_at}, head {h}"
            if n.spec.state_sync:
                restored = self.restored_height(n)
                if restored <= 0:
                    self.fail("joiners", f"{n.name} joined with --state-sync but restored no snapshot "
                              f"(gtos_statesync_restored_height {restored})", n.name, h)
                msg += f", restored snapshot {restored}"
            self.note("joiners", msg)

    def perturbation_counts(self):
        counts = {}
        for p in self.perturbations:
            if p["ok"] is None:
                continue
            for name in (p["nodes"][0] + p["nodes"][1] if p["kind"] == "partition" else p["nodes"]):
                counts[name] = counts.get(name, 0) + 1
        return counts

    def quiet_honest(self):
        """Honest nodes with a true clock that started at 0, least perturbed first."""
        counts = self.perturbation_counts()
        honest = [n for n in self.nodes.values()
                  if not n.spec.clock_skew_ms and not n.spec.byzantine and n.spec.start_at == 0 and n.started]
        return sorted(honest, key=lambda n: (counts.get(n.name, 0), n.name)), counts

    def check_clock_skew(self):
        """The skew took effect: a skewed node logs each commit (its own clock)
        about clock_skew_ms away from when an honest node logs the same height.
        Also reported: how far the skewed validator's blocks' time_ms are from
        the runner's clock when it first saw them."""
        skewed = [n for n in self.nodes.values() if n.spec.clock_skew_ms and n.started]
        if not skewed:
            return
        self.applies["clock_skew"] = True
        refs, _ = self.quiet_honest()
        ref_times, ref = {}, None
        for r in refs:
            ref_times = self.commit_times(r)
            if ref_times:
                ref = r
                break
        headers = max(self.headers.values(), key=len) if getattr(self, "headers", None) else {}
        block_off = {}
        for h, hd in headers.items():
            if h in self.first_seen and h >= 2:
                block_off.setdefault(hd["proposer"], []).append(int(hd["time_ms"]) - self.first_seen[h] * 1000)
        for n in skewed:
            skew = n.spec.clock_skew_ms
            mine = self.commit_times(n)
            common = [h for h in mine if h in ref_times]
            if ref is None or len(common) < 10:
                self.fail("clock_skew", f"{n.name}: cannot measure its clock: only {len(common)} heights logged "
                          f"by it and by an honest node", n.name)
                continue
            obs = statistics.median(mine[h] - ref_times[h] for h in common)
            tol = max(100.0, 0.1 * abs(skew))
            msg = (f"{n.name}: configured {skew:+d} ms; its commit log times minus {ref.name}'s for the same "
                   f"height: median {obs:+.0f} ms over {len(common)} heights")
            if n.validator:
                bo = block_off.get(n.address, [])
                msg += (f"; its {len(bo)} committed blocks' time_ms minus the runner's clock: median "
                        f"{statistics.median(bo):+.0f} ms" if bo else "; none of its proposals was committed")
            self.note("clock_skew", msg)
            if abs(obs - skew) > tol:
                self.fail("clock_skew", f"{n.name} runs {skew:+d} ms under libfaketime but its clock reads "
                          f"{obs:+.0f} ms off {ref.name}'s (median over {len(common)} commits): the skew did not "
                          f"take effect as configured", n.name)

    def check_load(self):
        if not self.load:
            return
        s = self.load.summary()
        if s["receipts_seen"] == 0:
            self.fail("load", f"no receipt seen for any of {s['accepted']} accepted txs "
                      f"({s['sent']} sent; refused {s['refused']}; {s['batch_failure_examples']})")
        self.note("load", f"{s['sent']} sent, {s['accepted']} accepted, {s['receipts_seen']} receipts")

    # -- the end
    def stop_nodes(self):
        self.applies["clean_shutdown"] = True
        alive = [n for n in self.nodes.values() if n.alive()]
        for n in alive:
            n.expect_exit = True
            if n.paused:
                n.signal(signal.SIGCONT)
                n.paused = False
            n.signal(signal.SIGTERM)
        for n in alive:
            try:
                rc = n.proc.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                n.proc.kill()
                n.proc.wait()
                self.fail("clean_shutdown", f"{n.name} did not stop within {STOP_TIMEOUT_S:.0f}s of SIGTERM",
                          n.name, n.height)
                continue
            if rc != 0:
                self.fail("clean_shutdown", f"{n.name} exited with status {rc} on SIGTERM", n.name, n.height)

    def kill_all(self):
        for n in self.nodes.values():
            if n.alive():
                try:
                    if n.paused:
                        n.signal(signal.SIGCONT)
                    n.proc.kill()
                    n.proc.wait()
                except Exception:
                    pass
        self.relay.stop()

    def block_stats(self):
        # Intervals between commits as one node logged them: the node with an
        # honest clock that was perturbed least (block headers carry the
        # proposer's clock, which a skewed validator moves); else header times.
        honest, perturbed = self.quiet_honest()
        times, source = {}, None
        for n in honest:
            times = self.commit_times(n)
            if len(times) > 1:
                source = f"commit times in the log of {n.name} ({perturbed.get(n.name, 0)} perturbations)"
                break
        if len(times) < 2:
            ref = max(self.headers.values(), key=len) if getattr(self, "headers", None) else {}
            times = {h: int(hd["time_ms"]) for h, hd in ref.items()}
            if not times:
                times = {h: b["time_ms"] for h, b in self.blocks.items()}
            source = "header time_ms"
        hs = sorted(times)
        deltas = [(times[h] - times[h - 1]) / 1000 for h in hs if h - 1 in times]
        txs = [b["txs"] for b in self.blocks.values() if b.get("txs") is not None]
        span = (times[hs[-1]] - times[hs[0]]) / 1000 if len(hs) > 1 else 0
        ev = []
        for h, b in sorted(self.blocks.items()):
            for e in b.get("evidence") or []:
                named = [name for addr, name in self.by_address.items() if addr[2:] in json.dumps(e)]
                ev.append({"height": h, "validators": named})
        return {
            "heights": [hs[0], hs[-1]] if hs else [], "interval_source": source,
            "interval_s": {"avg": statistics.mean(deltas) if deltas else None, "p50": pct(deltas, 50),
                           "p99": pct(deltas, 99), "max": max(deltas) if deltas else None},
            "txs_in_blocks": sum(txs), "blocks_with_known_txs": len(txs),
            "committed_tps": (sum(txs) / span) if span > 0 else None,
            "evidence": ev,
        }

    def log_summary(self):
        """Per node: how many log lines of each level, and of a few messages worth a look."""
        out = {}
        for n in self.nodes.values():
            c = {}
            try:
                with open(n.logpath, errors="replace") as f:
                    for line in f:
                        mt = LOG_LEVEL_RE.match(line)
                        if not mt:
                            continue
                        level, msg = mt.group(1), mt.group(2)
                        if level in ("warn", "error"):
                            key = f"{level}: {msg}"
                            c[key] = c.get(key, 0) + 1
            except OSError:
                pass
            out[n.name] = c
        return out

    def report(self):
        stats = self.block_stats()
        checks = {}
        for c in CHECKS:
            fails = [f for f in self.failures if f["check"] == c]
            checks[c] = {"status": "failed" if fails else ("passed" if self.applies[c] else "not applicable"),
                         "failures": fails, "notes": self.notes[c]}
        return {
            "manifest": self.m.path, "seed": self.seed, "ok": not self.failures,
            "wall_s": round(time.time() - self.t0, 1), "chain_id": getattr(self, "chain", None),
            "genesis_hash": getattr(self, "genesis_hash", None), "head": getattr(self, "head", None),
            "workdir": self.work,
            "nodes": [{"name": n.name, "validator": n.validator, "address": n.address, "rpc_port": n.rpc_port,
                       "p2p_port": n.p2p_port, "relay_port": n.relay_port, "starts": n.starts,
                       "height": n.height, "log": n.logpath, **{k: v for k, v in n.spec.as_dict().items()
                                                                if k not in ("name", "validator")}}
                      for n in self.nodes.values()],
            "schedule": [{"t": t, "node": name, "kind": kind} for t, name, kind in self.schedule],
            "perturbations": self.perturbations,
            "blocks": stats,
            "load": self.load.summary() if self.load else None,
            "load_tps_committed": (len(self.load.receipts) / (self.load.t_stop - self.load.t_start))
            if self.load and self.load.t_stop else None,
            "node_log_warnings": self.log_summary(),
            "relay": {"connections_cut": self.relay.cut, "connections_refused": self.relay.refused},
            "checks": checks, "failures": self.failures, "manifest_values": self.m.as_dict(),
        }


def print_report(r):
    print()
    print(f"== e2e report: {r['manifest']}  seed {r['seed']}  wall {r['wall_s']}s  head {r['head']}")
    print(f"   chain {r['chain_id']}  genesis {r['genesis_hash']}")
    print()
    print(f"{'node':<5} {'role':<10} {'height':>7} {'starts':>6}  extras")
    for n in r["nodes"]:
        ex = []
        if n["perturb"]:
            ex.append("perturb=" + ",".join(n["perturb"]))
        if n["byzantine"]:
            ex.append(f"byzantine={n['byzantine']}")
        if n["clock_skew_ms"]:
            ex.append(f"skew={n['clock_skew_ms']:+d}ms")
        if n["start_at"]:
            ex.append(f"start_at={n['start_at']}")
        if n["state_sync"]:
            ex.append("state_sync")
        print(f"{n['name']:<5} {'validator' if n['validator'] else 'full node':<10} {n['height']:>7} "
              f"{n['starts']:>6}  {' '.join(ex)}")
    print()
    if r["perturbations"]:
        print(f"{'t':>7} {'perturbation':<12} {'target':<24} {'height':>6} {'lasted':>7} {'recovery':>8}  result")
        for p in r["perturbations"]:
            tgt = " | ".join(",".join(g) for g in p["nodes"]) if p["kind"] == "partition" else ",".join(p["nodes"])
            res = {True: "ok", False: "FAILED", None: "skipped"}[p["ok"]]
            print(f"{p['t']:>6.1f}s {p['kind']:<12} {tgt:<24} {p['height']:>6} {fmt_s(p['duration_s']):>7} "
                  f"{fmt_s(p['recovery_s']):>8}  {res} {p['detail']}")
        print()
    b = r["blocks"]
    iv = b["interval_s"]
    if iv["avg"] is not None:
        print(f"block interval over heights {b['heights'][0]}..{b['heights'][1]}: avg {iv['avg']:.3f}s  "
              f"p50 {iv['p50']:.3f}s  p99 {iv['p99']:.3f}s  max {iv['max']:.3f}s  ({b['interval_source']})")
    if b["committed_tps"] is not None:
        print(f"committed: {b['txs_in_blocks']} txs in {b['blocks_with_known_txs']} blocks, "
              f"{b['committed_tps']:.1f} tx/s over the chain's time")
    if r["load"]:
        l = r["load"]
        print(f"load: {l['sent']} sent, {l['accepted']} accepted, {l['receipts_seen']} receipts seen "
              f"({r['load_tps_committed'] or 0:.1f} tx/s), kinds {l['kinds']}, refused {sum(l['refused'].values())}")
        if l["no_receipt"] + l["pending_at_end"]:
            print(f"      no receipt for {l['no_receipt'] + l['pending_at_end']}: {l['no_receipt_superseded']} "
                  f"superseded (their nonce went to another tx of the sender), {l['no_receipt_dropped']} dropped "
                  f"(lost with a killed or paused node's mempool)")
    evs = ", ".join(f"{e['height']}:{'/'.join(e['validators']) or '?'}" for e in b["evidence"][:10])
    more = " ..." if len(b["evidence"]) > 10 else ""
    print(f"evidence: {evs or 'none'}{more} ({len(b['evidence'])} in all)")
    warn = {name: c for name, c in r["node_log_warnings"].items() if c}
    if warn:
        print("node log warnings and errors:")
        for name, c in warn.items():
            print(f"  {name}: " + "; ".join(f"{k} x{v}" for k, v in sorted(c.items(), key=lambda kv: -kv[1])))
    print()
    for c, v in r["checks"].items():
        print(f"{v['status'].upper() if v['status'] == 'failed' else v['status']:<15} {c}")
        for note in v["notes"]:
            print(f"{'':<18}{note}")
        for f in v["failures"][:10]:
            where = (f" [node {f['node']}" + (f", height {f['height']}" if f["height"] is not None else "") + "]") \
                if f["node"] else (f" [height {f['height']}]" if f["height"] is not None else "")
            print(f"{'':<18}FAILED{where}: {f['message']}")
        if len(v["failures"]) > 10:
            print(f"{'':<18}... {len(v['failures']) - 10} more")
    print()
    print(f"e2e: {'ok' if r['ok'] else 'FAILED'} (seed {r['seed']}; reproduce with --seed {r['seed']})")


def flag_supported(tools, help_text, flag):
    """(True, "") when gtos-node run takes `flag` ("--name" or "--name=VALUE"),
    else (False, why). A flag listed by `gtos-node run --help` counts (with
    VALUE among the {choices} its help line lists, if it lists any); test
    switches may be hidden from the help, so the flag is also tried: `run FLAG
    --datadir <absent>` fails naming that data directory when the flag parses,
    and with a usage error when it does not."""
    name, _, value = flag.partition("=")
    line = next((l for l in help_text.splitlines() if re.search(rf"(^|[\s,]){re.escape(name)}\b", l)), None)
    if line is not None:
        choices = re.search(r"\{([^}]*)\}", line)
        if not (value and choices) or value in [c.strip() for c in choices.group(1).split(",")]:
            return True, ""
    with tempfile.TemporaryDirectory(prefix="gtos-e2e-probe-") as d:
        absent = os.path.join(d, "absent")
        p = subprocess.run([tools.path("gtos-node"), "run", flag, "--datadir", absent],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=tools.env, timeout=30)
    out = p.stdout.decode(errors="replace")
    if absent in out:
        return True, ""
    errors = [l.strip() for l in out.splitlines() if "error" in l.lower()] or [out.strip() or f"exit {p.returncode}"]
    return False, errors[0]


def byzantine_support(tools, modes):
    """[(mode, message)] of the modes this gtos-node cannot run."""
    p = subprocess.run([tools.path("gtos-node"), "run", "--help"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       env=tools.env, timeout=30)
    help_text = p.stdout.decode(errors="replace")
    out = []
    for mode in sorted(modes):
        for flag in BYZANTINE_FLAGS[mode]:
            ok, why = flag_supported(tools, help_text, flag)
            if not ok:
                out.append((mode, f"byzantine mode '{mode}' needs a node built with {flag} "
                                  f"(gtos-node run does not take it: {why})"))
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description="GTOS end-to-end testnet runner (docs/e2e.md)")
    ap.add_argument("--bin", required=True, help="directory holding gtos-node, gtos-keys, gtos-tx, ...")
    ap.add_argument("manifest", help="the manifest (TOML)")
    ap.add_argument("--seed", type=int, help="seed of the nemesis schedule, partitions and load "
                                             "(default: the manifest's testnet.seed, else random)")
    ap.add_argument("--report", help="write the report as JSON to this file")
    ap.add_argument("--workdir", help="work directory (must be empty or absent; default: a new one under $TMPDIR)")
    ap.add_argument("--keep", action="store_true", help="keep the work directory after a successful run")
    ap.add_argument("--check-manifest", action="store_true", help="only parse and check the manifest (and the "
                                                                   "binary's byzantine support), then exit")
    ap.add_argument("-v", "--verbose", action="store_true", help="log every perturbation and start as it happens")
    try:
        opts = ap.parse_args(argv)
    except SystemExit as e:
        return 2 if e.code else 0
    try:
        m = mf.load(opts.manifest)
    except mf.ManifestError as e:
        print(f"e2e: error: bad manifest '{opts.manifest}': {e}", file=sys.stderr)
        return 2
    tools = Tools(opts.bin)
    missing = tools.missing()
    if missing:
        print(f"e2e: error: --bin {opts.bin}: missing {', '.join(missing)}", file=sys.stderr)
        return 2
    # Run copies: a build directory relinked during the run would otherwise
    # replace the binaries under the nodes (a restart then fails).
    tool_copy = tempfile.mkdtemp(prefix="gtos-e2e-bin-")
    atexit.register(shutil.rmtree, tool_copy, True)
    for t in os.listdir(tools.bindir):
        src = os.path.join(tools.bindir, t)
        if t.startswith("gtos-") and os.path.isfile(src) and os.access(src, os.X_OK):
            shutil.copy2(src, os.path.join(tool_copy, t))
    tools = Tools(tool_copy)
    modes = {s.byzantine for s in m.nodes.values() if s.byzantine}
    problems = byzantine_support(tools, modes)
    p = subprocess.run([tools.path("gtos-node"), "run", "--help"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       env=tools.env, timeout=30)
    sign_journal = "--sign-journal" in p.stdout.decode(errors="replace")
    if problems:
        for mode, msg in problems:
            nodes = [s.name for s in m.nodes.values() if s.byzantine == mode]
            print(f"e2e: error: bad manifest '{opts.manifest}': key 'node.{nodes[0]}.byzantine': {msg}",
                  file=sys.stderr)
        return 2
    if any(s.clock_skew_ms for s in m.nodes.values()) and not faketime_lib():
        name = next(s.name for s in m.nodes.values() if s.clock_skew_ms)
        print(f"e2e: error: key 'node.{name}.clock_skew_ms' needs libfaketime (Debian package faketime; "
              f"`make deps` installs it): none of the usual libfaketime.so.1 paths exists", file=sys.stderr)
        return 2
    if opts.check_manifest:
        print(json.dumps(m.as_dict(), indent=2))
        return 0
    seed = opts.seed if opts.seed is not None else (m.seed if m.seed is not None else random.randrange(1 << 31))

    if opts.workdir:
        work = os.path.abspath(opts.workdir)
        if os.path.exists(work) and os.listdir(work):
            print(f"e2e: error: --workdir {work} is not empty", file=sys.stderr)
            return 2
        os.makedirs(work, exist_ok=True)
    else:
        work = tempfile.mkdtemp(prefix="gtos-e2e-")
    run = Run(m, opts, seed, tools)
    run.work = work
    run.sign_journal = sign_journal
    print(f"e2e: manifest {opts.manifest}, seed {seed}, work directory {work}", flush=True)

    def on_signal(sig, _frame):
        raise KeyboardInterrupt(f"signal {sig}")
    signal.signal(signal.SIGTERM, on_signal)
    setup_error = None
    try:
        run.setup(work)
        run.execute()
        run.check_all()
        run.stop_nodes()
    except SetupError as e:
        setup_error = str(e)
        print(f"e2e: error: {e}", file=sys.stderr)
    except KeyboardInterrupt as e:
        setup_error = f"interrupted ({e})"
        print(f"e2e: interrupted", file=sys.stderr)
    except Exception as e:
        setup_error = f"runner error: {e!r}"
        traceback.print_exc()
    finally:
        run.stop_ev.set()
        run.nemesis_stop.set()
        run.kill_all()
    if setup_error:
        run.fail("runner", setup_error)
    rep = run.report()
    print_report(rep)
    if rep["failures"]:
        named = []
        for f in rep["failures"]:
            for name in (f["node"] or "").split(","):
                if name in run.nodes and name not in named:
                    named.append(name)
        if setup_error and not named:
            named = list(run.nodes)[:1]
        for name in named[:4]:
            try:
                with open(run.nodes[name].logpath, errors="replace") as f:
                    tail = f.readlines()[-15:]
                print(f"---- {run.nodes[name].logpath} (last {len(tail)} lines)")
                print("".join(tail), end="")
            except OSError:
                pass
    if opts.report:
        with open(opts.report, "w") as f:
            json.dump(rep, f, indent=2, default=str)
        print(f"e2e: report written to {opts.report}")
    if rep["ok"] and not opts.keep:
        shutil.rmtree(work, ignore_errors=True)
    else:
        print(f"e2e: work directory kept: {work}")
    return 0 if rep["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
