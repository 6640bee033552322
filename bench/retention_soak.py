#!/usr/bin/env python3
"""Retention soak (make soak): does a node's disk use level off under churn?

  retention_soak.py --bin BUILD/cmd [--blocks 3000] [--senders 3] [--per-batch 1000]
                    [--keys 20000] [--ttl-max 50] [--sample 250]

One dev node (`gtos-node --dev`, genesis retain_blocks=100,
snapshot_interval=500, 100 ms blocks) under continuous kv-put churn: each
sender signs batches of --per-batch txs (random key out of --keys of its
own, random TTL 1..--ttl-max, 128-byte values) and posts them to /tx,
keeping at most a few batches in flight, until the chain reaches --blocks.
Every --sample blocks it records the height, the allocated bytes of D/db
and D/snapshots, the snapshot files and the txs committed so far.

With a window of 100 blocks, bounded TTLs and a bounded key space, the
history, the live state and the snapshots are all bounded, so D/db should
level off once LevelDB's compactions catch up with the deletions. Verdict:
"levels off" when the growth over the last third of the run is under 15% of
the growth over the first third, or the bytes at the end are at most 1.3x
the bytes at one third. Exit status 1 when it does not.
"""
import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

import benchlib
from benchlib import free_port, post_tx, rpc, run


def du(path):
    total = 0
    for root, _, files in os.walk(path):
        for f in files:
            try:
                total += os.lstat(os.path.join(root, f)).st_blocks * 512
            except OSError:
                pass
    return total


def metrics(url):
    with urllib.request.urlopen(url + "/metrics", timeout=10) as r:
        out = {}
        for line in r.read().decode().splitlines():
            parts = line.split()
            if len(parts) >= 2 and not line.startswith("#"):
                try:
                    out[parts[0]] = float(parts[1])
                except ValueError:
                    pass
        return out


class Churn(threading.Thread):
    """One sender: signed kv-put batches with random keys and TTLs."""

    def __init__(self, url, key, chain, args, idx, stop):
        super().__init__(daemon=True)
        self.url, self.key, self.chain, self.args, self.idx, self.stop_ev = url, key, chain, args, idx, stop
        self.addr = run(["gtos-keys", "addr", key]).decode().strip()
        t = json.loads(run(["gtos-tx", "build", "kv-put", "--chain-id", chain, "--from-key", key, "--nonce", "0",
                            "--namespace", "soak", "--key", "k", "--value", "v" * 128, "--ttl", "1", "--json"]))
        t.pop("id", None)
        t["tx"]["fee"] = 1_000_000_000
        self.template = t
        self.accepted = 0
        self.refused = 0
        self.rng = random.Random(idx)

    def next_nonce(self):
        return int(rpc(self.url, "tos_getAccount", self.addr)["next_nonce"])

    def run(self):
        a = self.args
        nonce = self.next_nonce()
        while not self.stop_ev.is_set():
            try:
                onchain = self.next_nonce()
                if nonce - onchain > 3 * a.per_batch:  # enough in flight
                    self.stop_ev.wait(0.05)
                    continue
                lines = []
                t = self.template
                for i in range(a.per_batch):
                    t["tx"]["nonce"] = nonce + i
                    t["tx"]["payload"]["key"] = "0x" + f"s{self.idx}-{self.rng.randrange(a.keys)}".encode().hex()
                    t["tx"]["payload"]["ttl"] = self.rng.randint(1, a.ttl_max)
                    lines.append(json.dumps(t))
                unsigned = run(["gtos-inspect", "--encode"], stdin=("\n".join(lines) + "\n").encode())
                signed = run(["gtos-tx", "sign", "--key", self.key], stdin=unsigned)
                reply = post_tx(self.url, signed)
                ok = sum(1 for e in reply if "id" in e)
                self.accepted += ok
                self.refused += len(reply) - ok
                if ok == len(reply):
                    nonce += a.per_batch
                else:  # mempool full or a nonce gap: resynchronise
                    self.stop_ev.wait(0.5)
                    nonce = self.next_nonce()
            except Exception:
                if self.stop_ev.is_set():
                    break
                self.stop_ev.wait(0.5)
                try:
                    nonce = self.next_nonce()
                except Exception:
                    pass


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--blocks", type=int, default=3000)
    ap.add_argument("--senders", type=int, default=3)
    ap.add_argument("--per-batch", type=int, default=1000)
    ap.add_argument("--keys", type=int, default=20000, help="key space of each sender")
    ap.add_argument("--ttl-max", type=int, default=50)
    ap.add_argument("--sample", type=int, default=250, help="blocks between samples")
    ap.add_argument("--retain-blocks", type=int, default=100)
    ap.add_argument("--snapshot-interval", type=int, default=500)
    ap.add_argument("--interval-ms", type=int, default=100)
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()
    b = os.path.abspath(args.bin)
    benchlib.ENV = env = dict(os.environ)
    env["PATH"] = os.pathsep.join([b] + [os.path.join(b, d) for d in os.listdir(b)] + [env["PATH"]])
    for var in [v for v in env if v.startswith("GTOS_")]:
        env.pop(var)
    env["GTOS_MEMPOOL_MAX_TXS"] = str(1_000_000)
    env["GTOS_MEMPOOL_MAX_BYTES"] = str(1 << 30)
    work = tempfile.mkdtemp(prefix="gtos-soak-")
    d = os.path.join(work, "dev")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    logf = open(os.path.join(work, "node.log"), "wb")
    proc = None
    stop = threading.Event()
    ok = False
    try:
        cmd = ["gtos-node", "--dev", "--datadir", d, "--rpc-addr", f"127.0.0.1:{port}",
               "--param", f"retain_blocks={args.retain_blocks}", "--param", f"snapshot_interval={args.snapshot_interval}",
               "--param", f"target_block_interval_ms={args.interval_ms}"]
        proc = subprocess.Popen(cmd, stdout=logf, stderr=logf, env=env)
        for _ in range(600):
            try:
                with urllib.request.urlopen(url + "/readyz", timeout=1):
                    break
            except Exception:
                if proc.poll() is not None:
                    sys.exit("the node exited; see " + logf.name)
                time.sleep(0.05)
        pol = rpc(url, "tos_getRetentionPolicy")
        dev_key = os.path.join(d, "dev.key")
        keys = []
        for i in range(args.senders):
            k = os.path.join(work, f"sender{i}.key")
            run(["gtos-keys", "new", "--unencrypted", "-o", k])
            addr = run(["gtos-keys", "addr", k]).decode().strip()
            unsigned = run(["gtos-tx", "build", "transfer", "--chain-id", "gtos-dev", "--from-key", dev_key, "--rpc",
                            url, "--to", addr, "--amount", str(10 ** 16)])
            run(["gtos-tx", "send", "--rpc", url, "--wait"], stdin=run(["gtos-tx", "sign", "--key", dev_key],
                                                                      stdin=unsigned))
            keys.append(k)
        print(f"retention soak: dev node, policy {pol}, {args.interval_ms} ms blocks; {args.senders} senders x "
              f"{args.per_batch}-tx batches, TTL 1..{args.ttl_max}, {args.keys} keys each; {args.blocks} blocks",
              flush=True)
        senders = [Churn(url, k, "gtos-dev", args, i, stop) for i, k in enumerate(keys)]
        for s in senders:
            s.start()
        t0 = time.time()
        h0 = rpc(url, "tos_blockNumber")
        samples = []

        def sample(h):
            m = metrics(url)
            snaps = sorted(f for f in os.listdir(os.path.join(d, "snapshots"))) \
                if os.path.isdir(os.path.join(d, "snapshots")) else []
            w = rpc(url, "tos_getPruneWatermark")
            samples.append({"height": h, "t": time.time() - t0, "db": du(os.path.join(d, "db")),
                            "snap": du(os.path.join(d, "snapshots")), "nsnap": len(snaps),
                            "txs": int(m.get("gtos_txs_committed_total", 0)), "oldest": int(w["oldest_available"]),
                            "rss": rss_kib(proc.pid)})
            s = samples[-1]
            print(f"  {s['height']:>6} {s['t']:>7.0f} {s['db']:>12} {s['snap']:>11} {s['nsnap']:>5} "
                  f"{s['txs']:>10} {s['oldest']:>7} {s['rss'] // 1024:>6}", flush=True)

        print(f"  {'height':>6} {'secs':>7} {'D/db bytes':>12} {'snap bytes':>11} {'snaps':>5} {'txs':>10} "
              f"{'oldest':>7} {'rssMiB':>6}")
        sample(h0)
        next_sample = (h0 // args.sample + 1) * args.sample
        while True:
            if proc.poll() is not None:
                sys.exit(f"the node exited with {proc.returncode}; see {logf.name}")
            h = rpc(url, "tos_blockNumber")
            if h >= next_sample:
                sample(h)
                next_sample = (h // args.sample + 1) * args.sample
                if h >= args.blocks:
                    break
            time.sleep(0.2)
        stop.set()
        for s in senders:
            s.join(timeout=30)
        elapsed = time.time() - t0
        txs = samples[-1]["txs"] - samples[0]["txs"]
        print(f"  {samples[-1]['height'] - samples[0]['height']} blocks in {elapsed:.0f}s, {txs} txs committed "
              f"({txs / elapsed:.0f} tx/s, {txs / max(1, samples[-1]['height'] - samples[0]['height']):.0f} per block); "
              f"refused {sum(s.refused for s in senders)}")

        def at(x):  # the sample nearest height x
            return min(samples, key=lambda s: abs(s["height"] - x))
        n = samples[-1]["height"]
        s0, s1, s2, s3 = samples[0], at(n / 3), at(2 * n / 3), samples[-1]
        g1 = s1["db"] - s0["db"]
        g3 = s3["db"] - s2["db"]
        ok = g3 < 0.15 * g1 or s3["db"] <= 1.3 * s1["db"]
        print(f"  D/db growth: first third (h {s0['height']}-{s1['height']}) {g1} bytes, last third "
              f"(h {s2['height']}-{s3['height']}) {g3} bytes ({g3 / g1 * 100 if g1 else 0:.0f}%); "
              f"end/third {s3['db'] / max(1, s1['db']):.2f}x; snapshots at end {s3['snap']} bytes in {s3['nsnap']} files")
        # Compactions make D/db a sawtooth, so the peaks tell more than two points.
        thirds = [[s["db"] for s in samples if lo < s["height"] <= hi]
                  for lo, hi in ((0, n / 3), (n / 3, 2 * n / 3), (2 * n / 3, n))]
        peaks = [max(t) if t else 0 for t in thirds]
        print(f"  D/db peak per third: {peaks[0]} / {peaks[1]} / {peaks[2]} bytes "
              f"(last/first {peaks[2] / max(1, peaks[0]):.2f}x)")
        print(f"verdict: D/db {'levels off' if ok else 'does NOT level off'} "
              f"(last-third growth < 15% of first-third growth, or end <= 1.3x bytes at 1/3)")
    finally:
        stop.set()
        if proc and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    return 0 if ok else 1


def rss_kib(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
