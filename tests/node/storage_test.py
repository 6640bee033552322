#!/usr/bin/env python3
"""Acceptance tests of issue 5 on a loopback network: retention, pruning,
automatic snapshots and state sync (docs/storage.md section 7,
docs/snapshots.md).

Reuses tests/node/net_test.py (the genesis ceremony, Node, Network, Sender)
as a module, with its own port range (30000-32767; net_test.py uses
26000-29999, examples/testnet.sh 20000-25999) so that ctest may run them in
parallel. The scenarios share ONE network of 4 validators (genesis
retain_blocks=40, snapshot_interval=100, epoch_length=20, 100 ms blocks)
under TTL kv-put churn; a scenario run alone first drives the network as far
as it needs. Prints one line per scenario and a closing "N passed, N failed".

  storage_test.py --bin BUILD/cmd [--blocks 1200] [--keep] [-v] [scenario ...]

retention_churn      >= --blocks blocks with churn; every height compared
                     on all nodes (header hash, state root); retention
                     policy, watermark and the history_pruned boundary;
                     gtos-prune refused on a running node, then run on a
                     stopped one, which restarts and agrees again; disk use
snapshots_identical  automatic snapshots: names, heights, at most
                     snapshot_keep (3) files, byte-identical on every node,
                     verify passes, a flipped chunk byte fails, list
state_sync_join      an observer joins with --state-sync once block sync
                     from genesis is impossible (height 1 pruned), restores
                     the newest snapshot, follows and agrees; an observer
                     without --state-sync stays at height 0; the joiner,
                     frozen until its peers pruned its next height,
                     switches to state sync by itself and follows again
"""
import argparse
import hashlib
import json
import os
import re
import shutil
import signal
import sys
import tempfile
import threading
import time
import traceback
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import net_test as nt  # noqa: E402
from net_test import Fail, Network, Sender, check, run, wait_for  # noqa: E402

nt.PORT_RANGE = (30000, 32768)

RETAIN = 40
SNAP_INTERVAL = 100
SNAP_KEEP = 3  # the node's default snapshot_keep
PARAMS = (f"retain_blocks={RETAIN}", f"snapshot_interval={SNAP_INTERVAL}", f"epoch_length={nt.EPOCH}")
FIELDS = ("hash", "state_root", "parent_hash", "validators_hash", "next_validators_hash", "proposer")
SNAP_RE = re.compile(r"^snapshot-(\d{12})\.gsnap$")

OPTS = None
HEADER_RPC = None  # tos_getHeaderByNumber available (detected once)


def log(msg):
    nt.log(msg)


def du(path):
    """Allocated bytes of every file under path (what `du` counts)."""
    total = 0
    for root, _, files in os.walk(path):
        for f in files:
            try:
                total += os.lstat(os.path.join(root, f)).st_blocks * 512
            except OSError:
                pass  # LevelDB removed it meanwhile
    return total


def mib(b):
    return f"{b / 1048576:.1f}MiB"


def raw_batch(node, calls, timeout=30):
    """Batched JSON-RPC; returns the raw replies (result or error), in order."""
    body = json.dumps([{"jsonrpc": "2.0", "id": i, "method": m, "params": list(p)}
                       for i, (m, p) in enumerate(calls)]).encode()
    req = urllib.request.Request(node.url, data=body, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=timeout) as r:
        replies = json.loads(r.read())
    replies.sort(key=lambda x: x["id"])
    return replies


def detect_header_rpc(node):
    global HEADER_RPC
    if HEADER_RPC is None:
        rep = node.rpc("tos_getHeaderByNumber", 0)
        HEADER_RPC = not ("error" in rep and rep["error"].get("code") == -32601)
        log(f"tos_getHeaderByNumber {'available' if HEADER_RPC else 'missing: comparing bodies in the window'}")
    return HEADER_RPC


def fetch_headers(node, lo, hi):
    """{height: header} for lo..hi, and {height: error} for the ones refused."""
    method = "tos_getHeaderByNumber" if HEADER_RPC else "tos_getBlockByNumber"
    got, errs = {}, {}
    for start in range(lo, hi + 1, 200):
        hs = list(range(start, min(hi, start + 199) + 1))
        for h, rep in zip(hs, raw_batch(node, [(method, (h,)) for h in hs])):
            if "result" in rep:
                got[h] = rep["result"]
            else:
                errs[h] = rep["error"]
    return got, errs


def same(h, a, an, b, bn):
    for f in FIELDS:
        if f in a and f in b:
            check(a[f] == b[f], f"height {h}: {f} {a[f]} on {an}, {b[f]} on {bn}")
    check(a.get("hash") and a.get("state_root"), f"height {h}: header without hash/state_root on {an}: {a}")


class Recorder:
    """Polls every running node for the heights it has not recorded yet and
    keeps (node, height) -> header; with only tos_getBlockByNumber (bodies
    are pruned after RETAIN blocks) this is what sees every height in time."""

    def __init__(self, nodes):
        self.nodes = nodes
        self.seen = {n.name: {} for n in nodes}
        self.next = {n.name: 1 for n in nodes}
        self.gaps = {n.name: set() for n in nodes}
        self.stop_ev = threading.Event()
        self.thread = threading.Thread(target=self.loop, daemon=True)
        self.error = None
        self.snap_watched = 0   # polls that saw a head at a snapshot height
        self.snap_early = []    # snapshots seen before their height + 1

    def add(self, node):
        self.nodes.append(node)
        self.seen[node.name], self.next[node.name], self.gaps[node.name] = {}, 1, set()

    def watch_snapshots(self, n):
        """A snapshot of H appears only once H + 1 is committed: never while
        the head is H (checked when two head reads around the listing agree)."""
        h1 = n.try_height()
        files = snapshot_files(n)
        h2 = n.try_height()
        if files and h2 >= 0 and max(files) >= h2:
            self.snap_early.append(f"{n.name}: snapshot {max(files)} listed at head {h2}")
        if h1 == h2 and h1 > 0 and h1 % SNAP_INTERVAL == 0:
            self.snap_watched += 1
            if h1 in files:
                self.snap_early.append(f"{n.name}: snapshot {h1} present while the head is {h1}")

    def poll(self):
        for n in list(self.nodes):
            if not n.alive():
                continue
            self.watch_snapshots(n)
            head = n.try_height()
            lo = self.next[n.name]
            if head < lo:
                continue
            hi = min(head, lo + 399)
            try:
                got, errs = fetch_headers(n, lo, hi)
            except Exception:
                continue  # stopping or restarting
            for h, hd in got.items():
                self.seen[n.name][h] = hd
            for h in errs:
                self.gaps[n.name].add(h)
            self.next[n.name] = hi + 1

    def loop(self):
        while not self.stop_ev.is_set():
            try:
                self.poll()
            except Exception as e:  # keep polling; reported at the end
                self.error = repr(e)
            self.stop_ev.wait(0.1)

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.stop_ev.set()
        self.thread.join(timeout=30)

    def compare(self, nodes, lo, hi):
        """Every height lo..hi recorded on every node and identical; returns
        the number of (node, height) gaps (bodies pruned before the poll saw
        them: only possible without tos_getHeaderByNumber)."""
        gaps = 0
        for h in range(lo, hi + 1):
            have = [(n.name, self.seen[n.name].get(h)) for n in nodes]
            have = [x for x in have if x[1] is not None]
            gaps += len(nodes) - len(have)
            for name, hd in have[1:]:
                same(h, have[0][1], have[0][0], hd, name)
        return gaps


def refused(node, errs):
    if errs:
        h = min(errs)
        raise Fail(f"{node.name}: tos_getHeaderByNumber refused {len(errs)} heights, e.g. {h}: {errs[h]}")


def compare_all(nodes, lo, hi, recorder=None):
    """Header hash and state root (and the set hashes, proposer, parent) of
    every height lo..hi identical on all nodes. With tos_getHeaderByNumber
    every height is read from every node now (and checked against what the
    recorder saw in the window); without it, the recorder's data is all."""
    if HEADER_RPC:
        ref, errs = fetch_headers(nodes[0], lo, hi)
        refused(nodes[0], errs)
        for h in range(lo + 1, hi + 1):
            check(ref[h].get("parent_hash", ref[h - 1]["hash"]) == ref[h - 1]["hash"],
                  f"{nodes[0].name}: header {h}: parent_hash is not header {h - 1}")
        for n in nodes[1:]:
            got, errs = fetch_headers(n, lo, hi)
            refused(n, errs)
            for h in range(lo, hi + 1):
                same(h, ref[h], nodes[0].name, got[h], n.name)
        if recorder:
            for n in nodes:
                for h, hd in list(recorder.seen.get(n.name, {}).items()):
                    if lo <= h <= hi:
                        same(h, ref[h], nodes[0].name, hd, f"{n.name} (polled)")
        return 0
    check(recorder is not None, "no tos_getHeaderByNumber and no recorder")
    return recorder.compare(nodes, lo, hi)


def watermark(node, tries=50):
    """tos_getPruneWatermark, read until two reads in a row agree."""
    prev = None
    for _ in range(tries):
        w = node.call("tos_getPruneWatermark")
        w = {"oldest_available": int(w["oldest_available"]), "head": int(w["head"])}
        if w == prev:
            return w
        prev = w
    raise Fail(f"{node.name}: tos_getPruneWatermark never read the same twice (last {prev})")


MAX_PRUNE_PER_BLOCK = 16  # kMaxPrunePerBlock (lib/chain/chain.cpp)


def retention_start(head, retain=RETAIN, interval=SNAP_INTERVAL):
    """The online window's start (docs/storage.md 7.1): the last retain_blocks
    heights, and every height after the second-newest snapshot height (S -
    snapshot_interval, S the highest multiple of snapshot_interval below the
    head): snapshot S is only offered once S + 1 committed and it was
    written, so joiners may still restore the one before."""
    newest_snapshot = (head - 1) // interval * interval if head >= 1 else 0
    keep_after = newest_snapshot - interval if newest_snapshot >= interval else 0
    return max(1, min(head - retain + 1, keep_after + 1))


def expected_oldest(head, start_oldest=1, start_head=0):
    """oldest_available of a node that committed every block 1..head: each
    commit moves it to retention_start(h), at most MAX_PRUNE_PER_BLOCK
    heights at a time (right after a snapshot height the window start jumps
    by snapshot_interval - retain_blocks + 1 and is worked off over a few
    blocks)."""
    o = start_oldest
    for h in range(start_head + 1, head + 1):
        start = retention_start(h)
        if start > o:
            o = min(start, o + MAX_PRUNE_PER_BLOCK)
    return o


def check_window(node, tries=30, pruned=None):
    """oldest_available == RetentionStart(head), reached at most
    MAX_PRUNE_PER_BLOCK heights per block; pruned = (oldest, head) after an
    offline gtos-prune, which may have removed more than the online window."""
    def want(head):
        return expected_oldest(head, *pruned) if pruned else expected_oldest(head)
    w = None
    for _ in range(tries):
        w = watermark(node)
        if w["oldest_available"] == want(w["head"]):
            return w
        time.sleep(0.05)
    raise Fail(f"{node.name}: watermark {w}: oldest_available is not {want(w['head'])} "
               f"(gtos-prune left {pruned}; "
               f"(min(head - {RETAIN - 1}, second-newest snapshot height + 1) = {retention_start(w['head'])}, "
               f"reached at most {MAX_PRUNE_PER_BLOCK} heights per block)")


def check_boundary(node, retain=RETAIN, tries=30):
    """Block oldest_available is served; oldest_available - 1 is
    -38005 history_pruned with the right data (retried when the watermark
    moved between the calls)."""
    for _ in range(tries):
        w1 = watermark(node)
        o = w1["oldest_available"]
        ok, below = raw_batch(node, [("tos_getBlockByNumber", (o,)), ("tos_getBlockByNumber", (o - 1,))])
        w2 = watermark(node)
        if w1 != w2:
            continue
        check("result" in ok and int(ok["result"]["height"]) == o,
              f"{node.name}: block {o} (oldest_available) not served: {ok}")
        check(o > 1, f"{node.name}: nothing pruned yet (oldest_available 1, head {w1['head']})")
        err = below.get("error")
        check(err, f"{node.name}: block {o - 1} below oldest_available {o} was served")
        check(err.get("code") == -38005 and err.get("message") == "history_pruned",
              f"{node.name}: block {o - 1}: error {err}, expected -38005 history_pruned")
        data = {k: int(v) for k, v in (err.get("data") or {}).items()}
        want = {"retain_blocks": retain, "oldest_available": o, "requested": o - 1, "head": w1["head"]}
        check(data == want, f"{node.name}: block {o - 1}: history_pruned data {err.get('data')}, expected {want}")
        return w1
    raise Fail(f"{node.name}: the watermark kept moving during {tries} boundary checks")


def snapshot_files(node):
    d = os.path.join(node.datadir, "snapshots")
    out = {}
    if os.path.isdir(d):
        for f in os.listdir(d):
            m = SNAP_RE.match(f)
            if m:
                out[int(m.group(1))] = os.path.join(d, f)
    return out


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


class Ctx:
    """The network the scenarios share, built on first use."""

    def __init__(self, work):
        self.work = work
        self.net = None
        self.sender = None
        self.recorder = None
        self.victim = None          # the node stopped, pruned and restarted
        self.db_samples = []        # (height, [bytes of each D/db])
        self.extra_nodes = []

    def ensure(self, height, what):
        """A running network at min height >= height (with churn)."""
        if self.net is None:
            self.net = Network(os.path.join(self.work, "net"), params=PARAMS)
            self.net.start()
            detect_header_rpc(self.net.nodes[0])
            self.sender = Sender(self.net).start()
            self.recorder = Recorder(list(self.net.nodes)).start()
        self.drive(height, what)

    def drive(self, height, what):
        t0 = time.time()
        last_log = last_sample = 0
        limit = height * nt.INTERVAL_MS / 1000 * 6 + 90
        while True:
            for n in self.net.nodes:
                check(n.alive(), f"{n.name} exited ({n.proc.returncode})")
            low = self.net.min_height()
            if time.time() - last_sample > 15:
                self.sample_db(low)
                last_sample = time.time()
            if low >= height:
                return
            check(time.time() - t0 < limit, f"{what}: only {low} of {height} blocks after {time.time() - t0:.0f}s")
            if time.time() - last_log > 10:
                log(f"{what}: {low}/{height} blocks, {self.sender.accepted} txs accepted")
                last_log = time.time()
            time.sleep(0.25)

    def sample_db(self, h):
        self.db_samples.append((h, [du(os.path.join(n.datadir, "db")) for n in self.net.nodes]))

    def close(self):
        errors = []
        if self.sender:
            self.sender.stop()
        if self.recorder:
            self.recorder.stop()
        for n in self.extra_nodes:
            if n.alive():
                n.stop()
        if self.net:
            errors = self.net.stop_all()
        return errors


# ---- scenarios ---------------------------------------------------------------

def scenario_retention_churn(ctx):
    blocks = OPTS.blocks
    ctx.ensure(5, "start")
    net = ctx.net
    for n in net.nodes:
        pol = n.call("tos_getRetentionPolicy")
        check({k: int(v) for k, v in pol.items()} == {"retain_blocks": RETAIN, "snapshot_interval": SNAP_INTERVAL},
              f"{n.name}: tos_getRetentionPolicy {pol}")
    # Online retention, checked early and again at the end of the churn.
    # (past 2 * snapshot_interval: the node keeps the blocks after its
    # second-newest snapshot height, so pruning starts there)
    ctx.drive(min(blocks, 2 * SNAP_INTERVAL + 20), "retention")
    for n in net.nodes:
        check_window(n)
        check_boundary(n)
    ctx.drive(blocks, "churn")
    n_hi = net.min_height()
    for n in net.nodes:
        check_window(n)
        w = check_boundary(n)
    gaps = compare_all(net.nodes, 1, n_hi, ctx.recorder)
    check(gaps == 0, f"{gaps} (node, height) pairs never seen before their bodies were pruned "
                     f"(no tos_getHeaderByNumber; the poll fell behind)")
    ctx.sample_db(n_hi)
    first_db = [b for b in ctx.db_samples[-1][1]]

    # gtos-prune: refused on a running node, then run on a stopped one.
    victim = net.nodes[3]
    ctx.victim = victim
    p = run(["gtos-prune", "--datadir", victim.datadir, "--retain-blocks", "10"], check_exit=False)
    err = p.stderr.decode(errors="replace")
    check(p.returncode == 1 and "in use" in err,
          f"gtos-prune on a running node's directory: exit {p.returncode}, stderr {err!r}")
    w_before = watermark(victim)
    t_down = time.time()
    h_down = net.nodes[0].height()
    check(victim.stop() == 0, f"{victim.name}: SIGTERM exit status {victim.proc.returncode}")
    p = run(["gtos-prune", "--datadir", victim.datadir, "--retain-blocks", "10", "--json"])
    rep = json.loads(p.stdout)
    head = int(rep["head"])
    check(head >= w_before["head"], f"gtos-prune report head {head} < {w_before['head']} before the stop")
    # gtos-prune --retain-blocks N keeps exactly the last N (no snapshot rule).
    check(int(rep["oldest_before"]) == expected_oldest(head) and int(rep["oldest_after"]) == head - 9 and
          int(rep["heights"]) == head - 9 - expected_oldest(head) and int(rep["retain_blocks"]) == 10 and
          not rep["dry_run"], f"gtos-prune report at head {head}: {rep}")
    check(int(rep["records"]) >= 2 * int(rep["heights"]), f"gtos-prune deleted {rep['records']} records: {rep}")
    again = json.loads(run(["gtos-prune", "--datadir", victim.datadir, "--retain-blocks", "10", "--json"]).stdout)
    check(int(again["heights"]) == 0 and int(again["oldest_after"]) == head - 9, f"second gtos-prune: {again}")
    listed = run(["gtos-snapshot", "list", "--datadir", victim.datadir]).stdout.decode().split("\n")
    lh = sorted(int(l.split()[0]) for l in listed if l.strip())
    check(lh == sorted(snapshot_files(victim)) and lh, f"gtos-snapshot list on the stopped {victim.name}: {listed}")
    # Stay down for about half the window: the restart then block-syncs
    # those heights (a node down for more than retain_blocks could not).
    wait_for(lambda: net.nodes[0].height() >= h_down + RETAIN // 2, 30, "the others to go on")
    victim.start()
    down = time.time() - t_down
    missed = net.nodes[0].height() - h_down
    log(f"{victim.name} down {down:.1f}s; the others made ~{missed} blocks meanwhile")
    # Catch up (block sync: it was down for fewer blocks than the window) and 100 more blocks.
    try:
        victim.wait_height(net.nodes[0].height(), 60)
    except Fail as e:
        raise Fail(f"{e}; it was down {down:.1f}s while the others made ~{missed} blocks (window {RETAIN})")
    synced = victim.metric("gtos_blocks_synced_total") or 0
    check(synced > 0, f"{victim.name} block-synced nothing after the restart")
    ctx.drive(max(n_hi, net.nodes[0].height()) + 100, "after prune")
    n2 = net.min_height()
    # The victim keeps what gtos-prune left (oldest head - 9) until the
    # online window start passes it; with the snapshot rule that can take
    # up to 2 * snapshot_interval blocks.
    wv = check_window(victim, pruned=(int(rep["oldest_after"]), head))
    check_boundary(victim)
    for n in net.nodes[:3]:
        check_window(n)
    gaps = compare_all(net.nodes, 1, n2, ctx.recorder)
    if gaps and not HEADER_RPC:
        # without the header RPC the heights the victim block-synced (and
        # pruned at once) are not readable on it
        other = compare_all(net.nodes[:3], 1, n2, ctx.recorder)
        check(other == 0, f"{other} heights never seen on the validators that stayed up")
    ctx.sample_db(n2)
    sizes = ctx.db_samples[-1][1]
    third = [s for s in ctx.db_samples if s[0] >= n_hi // 3]
    base = third[0] if third else ctx.db_samples[0]
    for i, n in enumerate(net.nodes):
        check(sizes[i] < 256 << 20, f"{n.name}: D/db is {sizes[i]} bytes")
        check(sizes[i] <= 2 * base[1][i] + (16 << 20),
              f"{n.name}: D/db grew from {base[1][i]} bytes at height {base[0]} to {sizes[i]} at {n2}")
    txs = ctx.sender.accepted
    check(txs > 0, f"no churn tx accepted: {ctx.sender.errors[:3]}")
    mode = "headers" if HEADER_RPC else f"bodies polled in the window ({gaps} pairs unseen on {victim.name})"
    return (f"{n_hi} blocks with {txs} churn txs, heights 1..{n2} identical on 4 nodes ({mode}); "
            f"watermark {w['oldest_available']}..{w['head']}, {w['oldest_available'] - 1} history_pruned; "
            f"gtos-prune --retain-blocks 10 on {victim.name} at head {head}: oldest {rep['oldest_before']} -> "
            f"{rep['oldest_after']}, db {rep['db_bytes_before']} -> {rep['db_bytes_after']} bytes; "
            f"snapshots {lh} listed while stopped; down {down:.1f}s (~{missed} blocks, {synced:.0f} block-synced), "
            f"then window {wv['oldest_available']}..{wv['head']}; "
            f"D/db bytes at {base[0]}: {base[1]}, at {n_hi}: {first_db}, at {n2}: {sizes}")


def scenario_snapshots_identical(ctx):
    ctx.ensure((SNAP_KEEP + 1) * SNAP_INTERVAL + 5, "snapshots")
    net = ctx.net
    files = {}
    for n in net.nodes:
        f = snapshot_files(n)
        check(f, f"{n.name}: no snapshot in {n.datadir}/snapshots at height {n.height()}")
        bad = [h for h in f if h % SNAP_INTERVAL or h <= 0]
        check(not bad, f"{n.name}: snapshots at heights {bad}, not multiples of {SNAP_INTERVAL}")
        check(len(f) <= SNAP_KEEP, f"{n.name}: {len(f)} snapshots kept ({sorted(f)}), snapshot_keep {SNAP_KEEP}")
        files[n.name] = f
        leftovers = [x for x in os.listdir(os.path.join(n.datadir, "snapshots")) if not SNAP_RE.match(x)]
        m = n.metrics()
        written = m.get("gtos_snapshots_written_total")
        last = m.get("gtos_snapshot_last_height")
        check(written and written >= 1, f"{n.name}: gtos_snapshots_written_total {written}")
        check(last and int(last) >= max(f) and int(last) % SNAP_INTERVAL == 0,
              f"{n.name}: gtos_snapshot_last_height {last}, files {sorted(f)}")
        fails = m.get("gtos_snapshot_failures_total") or 0
        check(not fails, f"{n.name}: gtos_snapshot_failures_total {fails}")
        log(f"{n.name}: snapshots {sorted(f)}, written {written:.0f}, other files {leftovers}")
    common = sorted(set.intersection(*(set(f) for f in files.values())))
    # Only once all nodes wrote the newest: a node may be a block behind.
    check(common, f"no snapshot height on all nodes: {({k: sorted(v) for k, v in files.items()})}")
    digests = {}
    for h in common:
        ds = {name: sha256(f[h]) for name, f in files.items() if os.path.exists(f[h])}
        check(len(set(ds.values())) == 1, f"snapshot {h} differs between nodes: {ds}")
        digests[h] = next(iter(ds.values()))
    # A snapshot exists for H only once H+1 is committed (it carries the commit of H from H+1).
    top = common[-1]
    ref = net.nodes[0]
    path = files[ref.name][top]
    p = run(["gtos-snapshot", "verify", path, "--genesis", net.genesis], timeout=300)
    out = p.stdout.decode().strip()
    hdr = fetch_headers(ref, top, top)[0].get(top)  # None: pruned (no tos_getHeaderByNumber)
    check(out.startswith(f"ok height {top} "), f"verify {path}: {out!r}")
    if hdr:
        check(hdr["state_root"] in out, f"verify: {out!r}, header {top} state_root {hdr['state_root']}")
    info = json.loads(run(["gtos-snapshot", "info", "--json", path]).stdout)
    chunks = int(info["chunks"])
    check(int(info["height"]) == top and int(info["bytes"]) == os.path.getsize(path), f"info: {info}")
    if hdr:
        check(info["block_hash"] == hdr["hash"] and info["state_root"] == hdr["state_root"],
              f"info {info} does not name header {top}: {hdr}")
    # One flipped byte in the last chunk's entries (the end of the file).
    bad = os.path.join(ctx.work, "flipped.gsnap")
    with open(path, "rb") as f:
        data = bytearray(f.read())
    data[-8] ^= 0x01
    with open(bad, "wb") as f:
        f.write(data)
    p = run(["gtos-snapshot", "verify", bad, "--genesis", net.genesis], check_exit=False, timeout=300)
    err = p.stderr.decode(errors="replace").strip()
    check(p.returncode == 1, f"verify of a flipped byte: exit {p.returncode}, stdout {p.stdout!r}, stderr {err!r}")
    check(f"chunk {chunks} of {chunks}" in err, f"verify of a flipped byte does not name chunk {chunks}: {err!r}")
    # list (reads only D/snapshots; the node may be running)
    listed = {}
    for n in net.nodes:
        before = set(snapshot_files(n))
        lines = run(["gtos-snapshot", "list", "--datadir", n.datadir, "--json"]).stdout.decode().splitlines()
        after = set(snapshot_files(n))
        rows = [json.loads(l) for l in lines if l.strip()]
        hs = [int(r["height"]) for r in rows]
        check(hs == sorted(hs) and set(hs) >= before & after and set(hs) <= before | after,
              f"{n.name}: list heights {hs}, files {sorted(before)} / {sorted(after)}")
        listed[n.name] = {int(r["height"]): r["hash"] for r in rows}
        text = run(["gtos-snapshot", "list", "--datadir", n.datadir]).stdout.decode().split("\n")
        check(all(len(l.split()) == 5 for l in text if l), f"{n.name}: list lines {text}")
    for h in common:
        hashes = {name: v.get(h) for name, v in listed.items() if h in v}
        check(len(set(hashes.values())) == 1, f"snapshot {h}: list hashes differ {hashes}")
    rec = ctx.recorder
    check(not rec.snap_early, f"snapshots written before their height + 1 was committed: {rec.snap_early[:3]}")
    return (f"{rec.snap_watched} polls at a head H = k*{SNAP_INTERVAL} saw no snapshot H yet; "
            f"snapshots {({k: sorted(v) for k, v in files.items()})}; heights {common} byte-identical "
            f"on 4 nodes (sha256 {digests[top][:12]}… at {top}); verify ok ({chunks} chunk(s)); "
            f"flipped byte: {err.splitlines()[0] if err else ''}")


def scenario_state_sync_join(ctx):
    # Past a snapshot and well past the window: height 1's body is gone everywhere.
    ctx.ensure(SNAP_INTERVAL + 2 * RETAIN + 5, "state sync")
    net = ctx.net
    vals = net.nodes
    for n in vals:
        check(watermark(n)["oldest_available"] > 1, f"{n.name} still has height 1")
    # Negative: a fresh observer without --state-sync cannot start from genesis.
    plain = net.add_node("plain-observer")
    ctx.extra_nodes.append(plain)
    plain.start(peers=[v.p2p for v in vals], wait_ready=False)
    time.sleep(5)
    ready = nt.readyz(plain)
    check(ready[0] == 503 and "behind the peers' retention window" in ready[1] and "--state-sync" in ready[1],
          f"plain observer that cannot sync: /readyz {ready}, expected 503 behind the peers' retention window")
    hp = plain.try_height()
    check(plain.alive() or plain.proc.returncode == 0, f"plain observer died with {plain.proc.returncode}")
    check(hp <= 0, f"an observer without --state-sync synced to {hp} although height 1 is pruned everywhere")
    synced = plain.metric("gtos_blocks_synced_total") if plain.alive() else None
    check(not synced, f"plain observer: gtos_blocks_synced_total {synced}")
    check(plain.stop() in (0, None), f"plain observer: SIGTERM exit {plain.proc.returncode}")

    # Start the joiner more than retain_blocks after the newest snapshot
    # height H: it restores H and block-syncs from H + 1, which the peers
    # still have because they keep every block after their newest snapshot.
    def well_after():
        h = net.min_height()
        return h if RETAIN + 5 <= h % SNAP_INTERVAL <= SNAP_INTERVAL - 10 else None
    wait_for(well_after, SNAP_INTERVAL * nt.INTERVAL_MS / 1000 * 5 + 30, "a head well past the newest snapshot",
             0.05)
    for v in vals:
        w = watermark(v)
        newest = (w["head"] - 1) // SNAP_INTERVAL * SNAP_INTERVAL
        check(w["oldest_available"] <= max(1, newest - SNAP_INTERVAL + 1) and newest + 1 < w["head"] - RETAIN,
              f"{v.name}: does not keep the blocks after the newest snapshot {newest}: {w}")
    joiner = net.add_node("joiner")
    ctx.extra_nodes.append(joiner)
    t0 = time.time()
    joiner.start(["--state-sync"], peers=[v.p2p for v in vals[:2]], wait_ready=False)
    joiner.wait_ready(120)
    target = max(v.height() for v in vals)
    joiner.wait_height(target, 120)
    t_sync = time.time() - t0
    m = joiner.metrics()
    restored = int(m.get("gtos_statesync_restored_height") or 0)
    check(restored > 0 and restored % SNAP_INTERVAL == 0,
          f"gtos_statesync_restored_height {m.get('gtos_statesync_restored_height')}")
    check(restored < target, f"restored {restored} >= target {target}")
    hi = joiner.height()
    net.wait_all(hi)
    if HEADER_RPC:
        compare_all([joiner] + vals, restored, hi)
        lo = restored
    else:
        lo = max(restored + 1, watermark(joiner)["oldest_available"], *(watermark(v)["oldest_available"]
                                                                         for v in vals))
        net.compare(nodes=[joiner] + vals, lo=lo, hi=hi)
    w = watermark(joiner)
    check(w["oldest_available"] > 1, f"joiner watermark {w}")
    check(w["oldest_available"] >= min(restored + 1, w["head"] - RETAIN + 1), f"joiner watermark {w}")
    pruned = joiner.rpc("tos_getBlockByNumber", 1)
    check(pruned.get("error", {}).get("code") == -38005, f"joiner: block 1: {pruned}")
    joiner.wait_height(hi + 10, 30)  # keeps following
    check(joiner.metric("gtos_consensus_validator_power") in (None, 0.0), "the joiner has voting power")
    h2 = joiner.height()
    if HEADER_RPC:
        compare_all([joiner] + vals, hi, h2)

    # Falling behind while running (docs/node.md "Falling behind the
    # window"): frozen until the peers no longer keep its next height, the
    # joiner (it runs with --state-sync) finds out from their answers,
    # state-syncs a newer snapshot in the same process and follows again.
    os.kill(joiner.proc.pid, signal.SIGSTOP)
    try:
        wait_for(lambda: net.min_height() >= h2 + 2 * SNAP_INTERVAL + 5 and
                 min(watermark(v)["oldest_available"] for v in vals) > h2 + 1,
                 2 * SNAP_INTERVAL * nt.INTERVAL_MS / 1000 * 5 + 30, "the peers to prune the frozen joiner's next height")
    finally:
        os.kill(joiner.proc.pid, signal.SIGCONT)
    t1 = time.time()
    target2 = max(v.height() for v in vals)
    joiner.wait_height(target2, 60)
    t_resync = time.time() - t1
    restored2 = int(joiner.metric("gtos_statesync_restored_height") or 0)
    check(restored2 > h2 and restored2 % SNAP_INTERVAL == 0,
          f"after falling behind at {h2}: gtos_statesync_restored_height {restored2}")
    with open(joiner.logpath, errors="replace") as f:
        text = f.read()
    check("switching to state sync" in text, "the joiner's log does not say it switched to state sync")
    check(joiner.alive(), "the joiner is not running after the switch")
    h3 = joiner.height()
    if HEADER_RPC:
        net.wait_all(h3)
        compare_all([joiner] + vals, restored2, h3)
    check(joiner.stop() == 0, f"joiner: SIGTERM exit status {joiner.proc.returncode}")
    return (f"plain observer stayed at {hp} (height 1 pruned); joiner restored snapshot {restored}, "
            f"reached {target} in {t_sync:.1f}s, agrees on {lo}..{h2}, watermark {w['oldest_available']}.."
            f"{w['head']}, followed to {h2}; frozen at {h2} until pruned, it switched to state sync, "
            f"restored {restored2} and reached {target2} in {t_resync:.1f}s")


SCENARIOS = {name[len("scenario_"):]: fn for name, fn in list(globals().items()) if name.startswith("scenario_")}


def main():
    global OPTS
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--blocks", type=int, default=1200, help="blocks of churn in retention_churn (default 1200)")
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
                "GTOS_SNAPSHOT_KEEP"):
        env.pop(var, None)
    nt.ENV = env
    names = OPTS.scenarios or list(SCENARIOS)
    unknown = [n for n in names if n not in SCENARIOS]
    if unknown:
        ap.error(f"unknown scenario(s) {', '.join(unknown)}; choose from {', '.join(SCENARIOS)}")
    work = tempfile.mkdtemp(prefix="gtos-storage-")
    ctx = Ctx(work)
    passed = failed = 0
    t_all = time.time()
    try:
        for name in names:
            start = time.time()
            try:
                summary = SCENARIOS[name](ctx)
                passed += 1
                print(f"ok   {name} ({time.time() - start:.1f}s){': ' + summary if summary else ''}", flush=True)
            except Exception as e:
                failed += 1
                print(f"FAIL {name} ({time.time() - start:.1f}s): {e}", flush=True)
                if not isinstance(e, Fail):
                    traceback.print_exc()
                if ctx.net is None or not all(n.alive() for n in ctx.net.nodes):
                    break  # the shared network is gone
        errors = ctx.close()
        if errors:
            failed += 1
            print(f"FAIL shutdown: {'; '.join(errors)}")
    finally:
        nt._kill_leftovers(os.path.join(work, "net"))
    if failed:
        logs = os.path.join(work, "net")
        for log_name in sorted(os.listdir(logs)) if os.path.isdir(logs) else []:
            if log_name.endswith(".log"):
                with open(os.path.join(logs, log_name), errors="replace") as f:
                    tail = f.read()[-2500:]
                print(f"---- {log_name} (tail)\n{tail}")
        print(f"     work directory kept: {work}")
    elif OPTS.keep:
        print(f"     work directory kept: {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)
    print(f"{passed} passed, {failed} failed ({time.time() - t_all:.0f}s)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
