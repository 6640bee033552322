#!/usr/bin/env python3
"""Crash-recovery acceptance test of the consensus WAL (D/cs.wal) with real
processes on loopback.

The issue's acceptance text: "four validators under tx load, each killed
with SIGKILL at random points for at least three minutes, including all four
at once at least twice: identical block hashes and state roots at every
height, no validator ever signs conflicting messages, finality resumes
within 10 s of quorum returning."

What it does:
- a genesis ceremony for 4 validators (tests/node/net_test.py's Network,
  imported as a module) with 300 ms blocks (--interval-ms) and every block
  body kept; loopback ports 15000-17999 (disjoint from the other suites);
- kv-put load with TTLs of 1..6 blocks (net_test's Sender), posted to any
  node that is up;
- a nemesis for --seconds (default 180) from a seeded RNG (--seed, printed):
  SIGKILL of one validator, of two at once (quorum lost), or of one that is
  still starting (replaying its WAL, syncing), each restarted after
  0.5-3 s; about one restart in eight is killed again within 1.2 s; and
  --all-four (default 2) times all four at once at random points, each
  restarted after its own 0.5-3 s. Every event is printed with the chain
  height.
- liveness, measured while it runs: whenever the number of validators that
  are up (process alive and /healthz 200: serving; /readyz also waits for a quorum) climbs back to 3, the time until a
  block above every height known so far (polled, or the last height a
  killed node logged) is committed must be <= 10 s (--recovery-limit); and
  while 3 or more are up, there is never a gap of more than 10 s without a
  new block. No node may exit unless the test killed it.
- conflicting signatures: every node's cs.wal is read (after each kill,
  and every ~0.25 s while it runs; entries are CRC-32C checked); every
  proposal and vote in them (the node's own and those it received) goes
  into one map (signer, height, round, type) -> value, as do the
  precommits of every final commit certificate; two values at one position
  is a conflict. Also: no block carries evidence, no validator is jailed or
  slashed, gtos_consensus_evidence_pending is 0, and no log has an
  "equivocation evidence" line.
- at the end: all four up, load stopped, every node reaches a common height
  H; every height 1..H has the same block hash, state root (and the other
  header fields) on all four, a parent chain, and, below H, the same
  canonical commit certificate; SIGTERM stops every node with status 0.
- logs: "consensus WAL replayed" must appear at least once; "refused to
  sign" lines are counted and shown (allowed).

The tools are copied from --bin into the work directory first (a build
directory relinked during the run would otherwise break the restarts).
About 3.3 minutes with the defaults. --self-test-equivocate runs val3 with
--unsafe-equivocate: the run must then fail (conflicting signatures found in
the WALs, evidence in blocks, a jailed validator), which shows that the
checks are not vacuous.

  crash_test.py --bin BUILD/cmd [--seconds 180] [--seed N] [--all-four 2]
                [--interval-ms 300] [--recovery-limit 10] [--load-batch 40]
                [--self-test-equivocate] [--keep] [-v]

Exit status 0 when every check passes, 1 otherwise (the failures and the
work directory with every node's log are printed).
"""
import argparse
import hashlib
import json
import os
import random
import re
import shutil
import struct
import sys
import tempfile
import time
import traceback
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import net_test as nt  # noqa: E402
from net_test import Fail, Network, Sender, run  # noqa: E402

# Loopback ports of this suite (below the ephemeral range, disjoint from the
# others: net_test.py 26000-29999, storage_test.py 30000-32767, testnet.sh
# 20000-22999, single-node examples 23000-25999).
nt.PORT_RANGE = (15000, 18000)

OPTS = None
T0 = time.time()
FAILURES = []


def expect(cond, msg):
    """A check that does not stop the run: the test fails at the end."""
    if not cond:
        FAILURES.append(msg)
        say(f"FAILURE: {msg}")
    return cond


def say(msg):
    print(f"[{time.time() - T0:7.1f}s] {msg}", flush=True)


# ---- the consensus WAL, read from Python ------------------------------------
# File: entries `u32 length (BE) | u32 CRC-32C of payload (BE) | payload`,
# payload one canonical msgpack record [type, version, fields...]
# (lib/consensus/wal.h, wal.cpp):
#   0x60 wal_height   [height]
#   0x61 wal_proposal [own, receive_ms, height, round, valid_round+1, block, proposer, signature]
#   0x62 wal_vote     [own, vote=[type, height, round, block_hash, validator, signature]]
#   0x63 wal_timeout  [kind, height, round]
# An embedded object (block, header, vote) is an array of its fields.

def _crc32c_table():
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return table


_CRC_TABLE = _crc32c_table()


def crc32c(data):
    c = 0xFFFFFFFF
    t = _CRC_TABLE
    for b in data:
        c = t[(c ^ b) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


def mp_header(b, i):
    """(kind, n, next): kind 'v' scalar (n = value), 'b' bytes/str (n = length),
    'a' array, 'm' map (n = element count), at offset i."""
    t = b[i]
    if t <= 0x7F:
        return "v", t, i + 1
    if t >= 0xE0:
        return "v", t - 256, i + 1
    if 0x80 <= t <= 0x8F:
        return "m", t & 0x0F, i + 1
    if 0x90 <= t <= 0x9F:
        return "a", t & 0x0F, i + 1
    if 0xA0 <= t <= 0xBF:
        return "s", t & 0x1F, i + 1
    if t == 0xC0:
        return "v", None, i + 1
    if t in (0xC2, 0xC3):
        return "v", t == 0xC3, i + 1
    sizes = {0xC4: ("b", 1), 0xC5: ("b", 2), 0xC6: ("b", 4), 0xD9: ("s", 1), 0xDA: ("s", 2), 0xDB: ("s", 4),
             0xDC: ("a", 2), 0xDD: ("a", 4), 0xDE: ("m", 2), 0xDF: ("m", 4)}
    if t in sizes:
        kind, w = sizes[t]
        return kind, int.from_bytes(b[i + 1:i + 1 + w], "big"), i + 1 + w
    ints = {0xCC: (1, False), 0xCD: (2, False), 0xCE: (4, False), 0xCF: (8, False),
            0xD0: (1, True), 0xD1: (2, True), 0xD2: (4, True), 0xD3: (8, True)}
    if t in ints:
        w, signed = ints[t]
        return "v", int.from_bytes(b[i + 1:i + 1 + w], "big", signed=signed), i + 1 + w
    if t == 0xCA:
        return "v", struct.unpack(">f", b[i + 1:i + 5])[0], i + 5
    if t == 0xCB:
        return "v", struct.unpack(">d", b[i + 1:i + 9])[0], i + 9
    raise ValueError(f"msgpack type 0x{t:02x} at {i}")


def mp_decode(b, i=0):
    """(value, next): arrays as lists, bin as bytes, str as str."""
    kind, n, j = mp_header(b, i)
    if kind == "v":
        return n, j
    if kind in ("b", "s"):
        if j + n > len(b):
            raise ValueError("truncated")
        raw = bytes(b[j:j + n])
        return (raw if kind == "b" else raw.decode("utf-8", "replace")), j + n
    out = []
    for _ in range(n * (2 if kind == "m" else 1)):
        v, j = mp_decode(b, j)
        out.append(v)
    return out, j


def mp_spans(b, i):
    """The (start, end) of each element of the array at offset i."""
    kind, n, j = mp_header(b, i)
    if kind != "a":
        raise ValueError("not an array")
    spans = []
    for _ in range(n):
        _, k = mp_decode(b, j)
        spans.append((j, k))
        j = k
    return spans


def read_wal(data):
    """(entries, torn_bytes): the whole, CRC-checked entries of a cs.wal;
    an entry is a dict {kind: 'height'|'proposal'|'vote'|'timeout', ...}."""
    out = []
    pos = 0
    while pos + 8 <= len(data):
        n, crc = struct.unpack(">II", data[pos:pos + 8])
        if n == 0 or pos + 8 + n > len(data):
            break
        payload = data[pos + 8:pos + 8 + n]
        if crc32c(payload) != crc:
            break
        pos += 8 + n
        spans = mp_spans(payload, 0)
        rtype, _ = mp_decode(payload, spans[0][0])
        f = lambda k: mp_decode(payload, spans[k][0])[0]  # noqa: E731
        if rtype == 0x60:
            out.append({"kind": "height", "height": f(2)})
        elif rtype == 0x61:
            block_start = spans[7][0]
            header_start, header_end = mp_spans(payload, block_start)[0]
            out.append({"kind": "proposal", "own": f(2), "height": f(4), "round": f(5), "valid_round1": f(6),
                        "header": hashlib.sha256(payload[header_start:header_end]).hexdigest()[:16],
                        "proposer": f(8).hex()})
        elif rtype == 0x62:
            v = f(3)
            out.append({"kind": "vote", "own": f(2), "type": v[0], "height": v[1], "round": v[2],
                        "block_hash": v[3].hex(), "validator": v[4].hex()})
        elif rtype == 0x63:
            out.append({"kind": "timeout", "type": f(2), "height": f(3), "round": f(4)})
        else:
            raise ValueError(f"unknown WAL record type 0x{rtype:x}")
    return out, len(data) - pos


class SignedLedger:
    """Every signed proposal and vote seen anywhere, by position: two
    values at one position are conflicting signatures."""

    def __init__(self):
        self.pos = {}         # (signer, height, round, what) -> {value: where first seen}
        self.conflicts = []   # messages
        self.files_read = 0
        self.entries = 0
        self.own_votes = 0
        self.own_proposals = 0
        self.torn = 0
        self.errors = []
        self._seen_files = {}  # name -> (ino, size, mtime_ns)

    def add(self, signer, height, rnd, what, value, where):
        key = (signer, height, rnd, what)
        vals = self.pos.setdefault(key, {})
        if value not in vals:
            vals[value] = where
            if len(vals) == 2:
                self.conflicts.append(f"validator 0x{signer} signed two {what}s at height {height} round {rnd}: "
                                      + "; ".join(f"{v} (seen in {w})" for v, w in vals.items()))

    def harvest(self, node, why):
        path = os.path.join(node.datadir, "cs.wal")
        try:
            st = os.stat(path)
        except FileNotFoundError:
            return
        sig = (st.st_ino, st.st_size, st.st_mtime_ns)
        if self._seen_files.get(node.name) == sig:
            return
        self._seen_files[node.name] = sig
        with open(path, "rb") as f:
            data = f.read()
        try:
            entries, torn = read_wal(data)
        except Exception as e:  # a record this reader does not know: report, never pass silently
            self.errors.append(f"{node.name} cs.wal ({why}): {e!r}")
            return
        self.files_read += 1
        self.torn += torn > 0
        where = f"{node.name} cs.wal {why}"
        for e in entries:
            self.entries += 1
            if e["kind"] == "vote":
                what = {1: "prevote", 2: "precommit"}.get(e["type"], f"vote type {e['type']}")
                self.own_votes += bool(e["own"])
                self.add(e["validator"], e["height"], e["round"], what, "nil" if set(e["block_hash"]) == {"0"}
                         else e["block_hash"][:16], where)
            elif e["kind"] == "proposal":
                self.own_proposals += bool(e["own"])
                self.add(e["proposer"], e["height"], e["round"], "proposal",
                         f"header {e['header']} valid_round+1 {e['valid_round1']}", where)


# ---- the nemesis --------------------------------------------------------------

HEIGHT_RE = re.compile(rb"block (?:committed|synced) height=(\d+)")


def last_logged_height(node):
    """The last height the node's log says it committed (since its last start)."""
    try:
        with open(node.logpath, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - 262144))
            tail = f.read()
    except OSError:
        return -1
    tail = tail[tail.rfind(b"\n==== ") + 1:] if b"\n==== " in tail else tail
    found = HEIGHT_RE.findall(tail)
    return int(found[-1]) if found else -1


def get(url, timeout):
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, b""
    except Exception:
        return None, b""


class Chaos:
    def __init__(self, net, rng, ledger):
        self.net = net
        self.nodes = net.nodes
        self.rng = rng
        self.ledger = ledger
        self.failures = []
        self.events = []
        self.kills = 0
        self.all_four = 0
        self.recoveries = []      # (seconds from quorum ready, seconds from spawn, height, what)
        self.worst_gap = 0.0      # longest time without a new block while >= 3 were up
        self.hmax = 0             # the highest height known to be committed anywhere
        self.top_ready = 0        # the highest height polled from a running node
        self.last_progress = time.time()
        self.quorum_since = time.time()
        self.pending = None       # a recovery being measured
        self.stalled = None       # a liveness failure being watched
        self._harvest_i = 0
        self.t_start = time.time()
        for n in self.nodes:
            n.killed = False
            n.spawn_t = time.time()
            n.ready_t = time.time()
            n.h = 0
            n.restart_at = None

    # -- helpers
    def alive(self):
        return [n for n in self.nodes if n.alive()]

    def ready(self):
        return [n for n in self.nodes if n.alive() and n.ready_t is not None]

    def event(self, kind, names, extra=""):
        heights = " ".join(f"{n.name}={n.h if n.alive() else '-'}" for n in self.nodes)
        line = f"{kind:<14} {','.join(names):<24} height {self.top_ready:>5}  [{heights}]"
        if extra:
            line += "  " + extra
        self.events.append(line)
        say(line)

    def fail(self, msg):
        self.failures.append(msg)
        say(f"FAILURE: {msg}")

    def kill(self, nodes, kind):
        for n in nodes:  # all first, then the bookkeeping: "at once"
            n.killed = True
            n.proc.kill()
        now = time.time()
        for n in nodes:
            n.proc.wait()
            n.ready_t = None
            kh = last_logged_height(n)
            n.kill_h = kh
            n.h = max(n.h, kh)
            self.hmax = max(self.hmax, kh)
            n.restart_at = now + self.rng.uniform(0.5, 3.0)
            self.ledger.harvest(n, f"after kill {self.kills + 1}")
            self.kills += 1
        self.event(kind, [n.name for n in nodes],
                   "restart in " + ", ".join(f"{n.restart_at - now:.1f}s" for n in nodes))

    def restart(self, n):
        n.killed = False
        n.restart_at = None
        n.spawn_t = time.time()
        n.start(getattr(n, "extra_args", ()), wait_ready=False)
        # Now and then the restarted process is killed again within a
        # second: while it opens its store, replays its WAL or re-sends.
        n.flap_at = n.spawn_t + self.rng.uniform(0.05, 1.2) if self.rng.random() < 0.12 else None
        self.event("restart", [n.name], f"killed again at +{n.flap_at - n.spawn_t:.2f}s" if n.flap_at else "")

    # -- one poll of every node: exits, readiness, heights, liveness
    def poll(self):
        now = time.time()
        for n in self.nodes:
            if n.proc is None:
                continue
            rc = n.proc.poll()
            if rc is not None:
                if not n.killed:
                    n.killed = True  # report once
                    n.ready_t = None
                    self.fail(f"{n.name} exited with status {rc} without being killed (log {n.logpath})")
                continue
            if n.ready_t is None:
                status, _ = get(n.url + "/healthz", 0.5)
                if status != 200:
                    continue
                n.ready_t = time.time()
                self.event("ready", [n.name], f"{n.ready_t - n.spawn_t:.2f}s after spawn")
            try:
                n.h = int(n.rpc("tos_blockNumber", timeout=2)["result"])
            except Exception:
                pass
        ready = self.ready()
        top = max([n.h for n in ready], default=0)
        if top > self.top_ready:
            self.top_ready = top
            self.last_progress = now
        if len(ready) >= 3:
            if self.quorum_since is None:
                self.quorum_since = now
                last = max(ready, key=lambda x: x.ready_t)
                base = max(self.hmax, self.top_ready)
                self.pending = {"t": last.ready_t, "spawn": last.spawn_t, "h": base, "node": last.name}
                self.event("quorum back", [x.name for x in ready],
                           f"waiting for a block above {base} (completed by {last.name})")
        else:
            if self.quorum_since is not None and self.pending:
                self.event("quorum lost", [x.name for x in ready], "recovery measurement interrupted")
                self.pending = None
            self.quorum_since = None
        self.hmax = max(self.hmax, self.top_ready)
        if self.pending:
            p = self.pending
            if self.top_ready > p["h"]:
                dt, ds = now - p["t"], now - p["spawn"]
                self.recoveries.append((dt, ds, self.top_ready, p["node"]))
                self.event("finality back", [p["node"]],
                           f"block {self.top_ready} {dt:.2f}s after quorum ({ds:.2f}s after spawn)")
                if dt > OPTS.recovery_limit:
                    self.fail(f"finality resumed {dt:.1f}s after quorum returned (limit {OPTS.recovery_limit}s): "
                              f"block {self.top_ready} above {p['h']}, quorum completed by {p['node']}")
                self.pending = None
            elif now - p["t"] > OPTS.recovery_limit and not p.get("reported"):
                p["reported"] = True
                self.fail(f"no block above {p['h']} within {OPTS.recovery_limit}s of quorum returning "
                          f"(completed by {p['node']}); heights " + self.heights())
        if self.quorum_since is not None and not self.pending:
            gap = now - max(self.quorum_since, self.last_progress)
            self.worst_gap = max(self.worst_gap, gap)
            if gap > OPTS.recovery_limit and not self.stalled:
                self.stalled = now
                self.fail(f"no new block for {gap:.1f}s while {len(ready)} validators were up "
                          f"(stuck at {self.top_ready}); heights " + self.heights())
        if self.stalled and self.top_ready > 0 and self.last_progress > self.stalled:
            self.event("progress again", [], f"after the stall, {now - self.stalled:.1f}s later")
            self.stalled = None
        # WAL of one running node per poll, in turn.
        live = [n for n in self.nodes if n.alive()]
        if live:
            n = live[self._harvest_i % len(live)]
            self._harvest_i += 1
            self.ledger.harvest(n, "while running")

    def heights(self):
        return " ".join(f"{n.name}={n.h if n.alive() else 'down'}{'' if n.ready_t or not n.alive() else '(starting)'}"
                        for n in self.nodes)

    def wait_until(self, t):
        while time.time() < t:
            self.poll()
            self.restart_due()
            time.sleep(min(0.06, max(0.0, t - time.time())))

    def restart_due(self):
        now = time.time()
        for n in self.nodes:
            if not n.alive() and n.killed and n.restart_at is not None and now >= n.restart_at:
                self.restart(n)

    def blocked(self):
        """A recovery is being measured or a stall watched: no new kills."""
        return self.pending is not None or self.stalled is not None

    # -- the schedule
    def run(self, seconds, all_four):
        rng = self.rng
        end = self.t_start + seconds
        # The all-four events: one at a random point of each of `all_four`
        # equal slices of [10%, 90%] of the run.
        lo, hi = self.t_start + 0.1 * seconds, self.t_start + 0.9 * seconds
        width = (hi - lo) / max(1, all_four)
        four_at = [lo + k * width + rng.uniform(0.15, 0.85) * width for k in range(all_four)]
        say("all-four events planned at " + ", ".join(f"{t - self.t_start:.0f}s" for t in four_at)
            + " into the nemesis")
        next_kill = time.time() + rng.uniform(1.0, 4.0)
        abort_at = None
        while time.time() < end or four_at:
            self.poll()
            self.restart_due()
            now = time.time()
            if self.stalled:
                abort_at = abort_at or now + 60
                if now > abort_at:
                    self.fail("the chain did not recover within 60 s of the stall: nemesis aborted")
                    return
                time.sleep(0.06)
                continue
            abort_at = None
            for n in self.nodes:
                if n.alive() and getattr(n, "flap_at", None) and now >= n.flap_at:
                    n.flap_at = None
                    if not self.blocked() and now < end:
                        self.kill([n], "kill flapping")
            if four_at and now >= four_at[0]:
                self.do_all_four()
                four_at.pop(0)
                next_kill = time.time() + rng.uniform(2.0, 5.0)
                continue
            if now >= next_kill and now < end and not self.blocked():
                self.random_kill()
                next_kill = time.time() + rng.uniform(0.3, 4.0)
            time.sleep(0.06)
        # Bring everyone back.
        for n in self.nodes:
            if not n.alive():
                self.restart(n)

    def random_kill(self):
        rng = self.rng
        alive = self.alive()
        down = len(self.nodes) - len(alive)
        if not alive or down >= 2:
            return
        starting = [n for n in alive if time.time() - n.spawn_t < 3.0]
        r = rng.random()
        if r < 0.15 and starting:
            victims, kind = [rng.choice(starting)], "kill starting"
        elif r < 0.35 and down == 0:
            victims, kind = rng.sample(alive, 2), "kill two"
        else:
            victims, kind = [rng.choice(alive)], "kill one"
        self.kill(victims, kind)

    def do_all_four(self):
        rng = self.rng
        # Everyone back and up first, then a random moment.
        for n in self.nodes:
            if not n.alive():
                self.restart(n)
        deadline = time.time() + 60
        while len(self.ready()) < 4 or self.blocked():
            if time.time() > deadline:
                self.fail("the four validators were not all up (and finalizing) within 60 s before an "
                          "all-four kill; heights " + self.heights())
                return
            self.poll()
            time.sleep(0.06)
        self.wait_until(time.time() + rng.uniform(0.2, 3.0))
        if len(self.alive()) < 4:
            return self.do_all_four()
        self.all_four += 1
        self.kill(list(self.nodes), f"KILL ALL FOUR #{self.all_four}")


# ---- the final checks ---------------------------------------------------------

def final_checks(net, chaos, ledger, sender):
    nodes = net.nodes
    for n in nodes:
        n.wait_ready(60)
    # Load off, then a common height a few blocks past the current top.
    sender.stop()
    top = max(n.height() for n in nodes)
    target = top + 5
    say(f"all four up; waiting for every node to reach {target}")
    net.wait_all(target, nodes=nodes, timeout=90)
    hi = min(n.height() for n in nodes)
    say(f"comparing heights 1..{hi} on all four nodes")
    blocks = {n.name: n.blocks(1, hi) for n in nodes}
    ref_name = nodes[0].name
    ref = blocks[ref_name]
    fields = ("hash", "state_root", "parent_hash", "tx_root", "receipts_root", "validators_hash",
              "next_validators_hash", "evidence_root", "last_commit_hash", "time_ms", "proposer")
    mismatches = []
    with_evidence = []
    for h in range(1, hi + 1):
        a = ref[h - 1]
        if int(a["height"]) != h:
            mismatches.append(f"{ref_name}: block {h} reports height {a['height']}")
        if h > 1 and a["parent_hash"] != ref[h - 2]["hash"]:
            mismatches.append(f"block {h}: parent_hash is not block {h - 1}'s hash")
        for n in nodes[1:]:
            b = blocks[n.name][h - 1]
            for fld in fields:
                if a.get(fld) != b.get(fld):
                    mismatches.append(f"height {h} {fld}: {a.get(fld)} on {ref_name}, {b.get(fld)} on {n.name}")
            if h < hi and json.dumps(a.get("commit"), sort_keys=True) != json.dumps(b.get("commit"), sort_keys=True):
                mismatches.append(f"height {h} canonical commit certificate differs between {ref_name} and {n.name}")
        for n in nodes:
            b = blocks[n.name][h - 1]
            c = b.get("commit")
            if not c or int(c["height"]) != h or c["block_hash"] != b["hash"]:
                mismatches.append(f"{n.name}: block {h} has no commit certificate for its hash: {c}")
            if b.get("evidence"):
                with_evidence.append(f"{n.name}: block {h} carries evidence: {json.dumps(b['evidence'])[:300]}")
    expect(not mismatches, f"{len(mismatches)} disagreement(s) across nodes, first: " + "; ".join(mismatches[:8]))
    expect(not with_evidence, f"{len(with_evidence)} block(s) with equivocation evidence: "
           + "; ".join(with_evidence[:4]))
    # Every final precommit into the ledger: a certificate's signature
    # conflicting with a vote some WAL saw is a double sign too.
    for n in nodes:
        for b in blocks[n.name]:
            c = b.get("commit") or {}
            for s in c.get("signatures", []):
                val = s["validator"][2:] if s["validator"].startswith("0x") else s["validator"]
                ledger.add(val, int(c["height"]), int(c["round"]), "precommit", c["block_hash"][2:18],
                           f"{n.name} commit certificate")
    # Validators: none jailed or slashed, nothing pending.
    for n in nodes:
        vs = n.validators()
        expect(len(vs) == 4, f"{n.name}: {len(vs)} validators, expected 4")
        bad = [f"{addr} (jailed {v['jailed']}, active {v.get('active')}, stake {v['stake']})"
               for addr, v in sorted(vs.items())
               if v["jailed"] or not v.get("active", True) or int(v["stake"]) != nt.STAKE]
        expect(not bad, f"{n.name}: validators jailed, inactive or slashed (stake != {nt.STAKE}): {'; '.join(bad)}")
        pend = n.metric("gtos_consensus_evidence_pending")
        expect(not pend, f"{n.name}: gtos_consensus_evidence_pending = {pend}")
    txs = sum(len(b["txs"]) for b in ref)
    return hi, txs


def grep_logs(net):
    counts = {}
    for n in net.nodes:
        with open(n.logpath, "rb") as f:
            text = f.read().decode(errors="replace")
        counts[n.name] = {
            "starts": text.count("\n==== ") + text.startswith("==== "),
            "replayed": len(re.findall(r"consensus WAL replayed", text)),
            "refused": len(re.findall(r"refused to sign", text)),
            "evidence": len(re.findall(r"equivocation evidence", text)),
            "stopped": len(re.findall(r"consensus stopped", text)),
            "bad_msg": len(re.findall(r"bad message from peer", text)),
            "errors": len(re.findall(r"^\S+ error ", text, re.M)),
            "refused_lines": re.findall(r"^.*refused to sign.*$", text, re.M),
        }
    return counts


TOOLS = ("gtos-node", "gtos-keys", "gtos-genesis", "gtos-tx", "gtos-inspect")


def copy_tools(bindir, dest, timeout=180):
    """Copies the tools into the work directory: the run takes minutes and a
    build directory may be relinked meanwhile (a restart would then find no
    executable, or another program). Waits for a tool that is being
    written (not executable yet, or modified in the last 5 s)."""
    os.makedirs(dest)
    deadline = time.time() + timeout
    for tool in TOOLS:
        src = os.path.join(bindir, tool)
        while True:
            try:
                st = os.stat(src)
                if st.st_mode & 0o111 and time.time() - st.st_mtime > 5:
                    shutil.copy2(src, os.path.join(dest, tool))
                    if os.stat(src).st_mtime == st.st_mtime:
                        break
            except OSError:
                pass
            if time.time() > deadline:
                raise Fail(f"{src} is missing or not executable (a build in progress?) after {timeout}s")
            time.sleep(2)
    return dest


def main():
    global OPTS
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bin", required=True, help="directory of the gtos-* binaries (BUILD/cmd)")
    ap.add_argument("--seconds", type=float, default=180, help="nemesis duration (default 180)")
    ap.add_argument("--seed", type=int, default=None, help="nemesis RNG seed (default: random, printed)")
    ap.add_argument("--all-four", type=int, default=2, help="times all four are killed at once (default 2)")
    ap.add_argument("--interval-ms", type=int, default=300, help="target_block_interval_ms (default 300)")
    ap.add_argument("--recovery-limit", type=float, default=10.0,
                    help="seconds within which finality must resume once quorum is back (default 10)")
    ap.add_argument("--load-batch", type=int, default=40,
                    help="kv-put txs per load batch, about 3 batches/s (default 40: ~100 tx/s)")
    ap.add_argument("--self-test-equivocate", action="store_true",
                    help="run val3 with --unsafe-equivocate: the test must then FAIL (conflicting signatures, "
                         "evidence); shows that the checks are not vacuous")
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    ap.add_argument("-v", "--verbose", action="store_true")
    OPTS = ap.parse_args()
    seed = OPTS.seed if OPTS.seed is not None else int.from_bytes(os.urandom(4), "big")
    say(f"seed {seed} (rerun with --seed {seed}); nemesis {OPTS.seconds:.0f}s, {OPTS.all_four} all-four events, "
        f"{OPTS.interval_ms} ms blocks")
    rng = random.Random(seed)
    work = tempfile.mkdtemp(prefix="gtos-crash-")
    net = None
    sender = None
    failures = FAILURES
    summary = None
    try:
        bindir = copy_tools(os.path.abspath(OPTS.bin), os.path.join(work, "bin"))
        env = dict(os.environ)
        env["PATH"] = os.pathsep.join([bindir, env.get("PATH", "")])
        for var in list(env):
            if var.startswith("GTOS_"):
                env.pop(var)
        nt.ENV = env
        nt.OPTS = OPTS
        ver = run([os.path.join(bindir, "gtos-node"), "--version"]).stdout.decode().strip()
        built = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(os.stat(os.path.join(bindir, "gtos-node")).st_mtime))
        say(f"{ver} (gtos-node built {built}), copied to {bindir}")
        net = Network(work, params=(f"target_block_interval_ms={OPTS.interval_ms}",))
        extra = {"val3": ["--unsafe-equivocate"]} if OPTS.self_test_equivocate else {}
        for n in net.nodes:
            n.extra_args = extra.get(n.name, [])
        net.start(extra)
        say(f"4 validators up in {work}; ports {[n.rpc_port for n in net.nodes]} (rpc)")
        net.wait_all(5, timeout=60)
        sender = Sender(net, per_batch=OPTS.load_batch, pause=0.2).start()
        ledger = SignedLedger()
        chaos = Chaos(net, rng, ledger)
        chaos.run(OPTS.seconds, OPTS.all_four)
        FAILURES.extend(chaos.failures)
        say(f"nemesis over: {chaos.kills} kills, {chaos.all_four} all-four events")
        expect(not ledger.errors, "cs.wal could not be read: " + "; ".join(ledger.errors[:3]))
        hi, txs = final_checks(net, chaos, ledger, sender)
        accepted = sender.accepted
        errors = net.stop_all()
        expect(not errors, "; ".join(errors))
        for n in net.nodes:
            expect(n.proc.returncode == 0, f"{n.name} exited {n.proc.returncode} on SIGTERM")
            ledger.harvest(n, "after the final stop")
        logs = grep_logs(net)
        replayed = sum(c["replayed"] for c in logs.values())
        refused = sum(c["refused"] for c in logs.values())
        evidence = sum(c["evidence"] for c in logs.values())
        stopped = sum(c["stopped"] for c in logs.values())
        expect(not ledger.conflicts, f"{len(ledger.conflicts)} conflicting signature(s): "
              + " | ".join(ledger.conflicts[:5]))
        expect(ledger.own_votes > 0, f"no own vote was found in any cs.wal ({ledger.files_read} files read): "
                                    f"the WAL reader does not match the node's format")
        expect(evidence == 0, f"{evidence} 'equivocation evidence' line(s) in the logs: "
              + ", ".join(f"{k}={v['evidence']}" for k, v in logs.items()))
        expect(stopped == 0, f"{stopped} 'consensus stopped' line(s) in the logs")
        expect(replayed > 0, "no 'consensus WAL replayed' line in any log: no restart replayed its WAL")
        expect(chaos.all_four >= OPTS.all_four, f"only {chaos.all_four} all-four events of {OPTS.all_four}")
        expect(txs > 0, "no load tx was finalized")
        worst = max(chaos.recoveries, default=None)
        summary = [
            f"seed {seed}",
            f"processes SIGKILLed {chaos.kills}, all-four events {chaos.all_four}",
            f"quorum returns measured {len(chaos.recoveries)}; worst recovery "
            + (f"{worst[0]:.2f}s after quorum ({worst[1]:.2f}s after that node's spawn), completed by {worst[3]}"
               if worst else "n/a")
            + "; all: " + ", ".join(f"{r[0]:.1f}" for r in sorted(chaos.recoveries)),
            f"longest gap without a block while >= 3 were up: {chaos.worst_gap:.2f}s",
            f"final height {hi}, identical hashes and state roots at 1..{hi} on 4 nodes; {txs} txs finalized "
            f"({accepted} accepted by the load generator)",
            f"'consensus WAL replayed' {replayed}, 'refused to sign' {refused}, 'equivocation evidence' {evidence}"
            + "  per node: " + "; ".join(f"{k} starts={v['starts']} replayed={v['replayed']} refused={v['refused']} "
                                         f"bad_msg={v['bad_msg']} errors={v['errors']}" for k, v in logs.items()),
            *[f"  {k}: {line[:300]}" for k, v in logs.items() for line in v["refused_lines"][:5]],
            f"signed-message ledger: {len(ledger.pos)} positions from {ledger.files_read} cs.wal reads "
            f"({ledger.entries} entries, own votes {ledger.own_votes}, own proposals {ledger.own_proposals}) and "
            f"{hi} commit certificates x 4; conflicts {len(ledger.conflicts)}",
        ]
    except Fail as e:
        failures.append(str(e))
    except Exception as e:
        failures.append(f"{type(e).__name__}: {e}")
        traceback.print_exc()
    finally:
        if sender:
            sender.stop()
        if net:
            for n in net.nodes:
                if n.alive():
                    n.proc.kill()
                    n.proc.wait()
    print()
    if summary:
        print("summary:")
        for line in summary:
            print(f"  {line}")
    if failures:
        print(f"FAIL ({len(failures)} failure(s)), seed {seed}:")
        for f in failures:
            print(f"  - {f}")
        if net:
            for n in net.nodes:
                try:
                    with open(n.logpath, errors="replace") as f:
                        tail = f.readlines()[-30:]
                    print(f"---- {n.logpath} (last lines)\n{''.join(tail)}")
                except OSError:
                    pass
        print(f"work directory kept: {work}")
        return 1
    print(f"ok crash_test ({time.time() - T0:.0f}s)")
    if OPTS.keep:
        print(f"work directory kept: {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
