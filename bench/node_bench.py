#!/usr/bin/env python3
"""Single-node chain benchmarks (make bench-node).

  node_bench.py --bin BUILD/cmd [--txs 200000] [--senders 4] [--rss-records 0]

1. Sustained committed kv-put throughput on a --dev chain (1 s blocks,
   128-byte values, ed25519): pre-signed txs are POSTed to /tx by one thread
   per sender as fast as the node admits them; every block is read back to
   find when each tx committed. Reports committed tx/s over the run and
   p50/p99 submit-to-commit latency (submit = the batch's POST returned).
2. Block re-execution: `gtos-node replay` on the stopped node's data
   directory; reports replayed tx/s.
3. With --rss-records N: loads N live KV records (long TTL) and reports the
   node's resident memory (VmRSS).
"""
import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

import benchlib
from benchlib import free_port, post_tx, rpc, run, signed_batches


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


class Bench:
    def __init__(self, args):
        self.args = args
        self.work = tempfile.mkdtemp(prefix="gtos-bench-")
        self.datadir = os.path.join(self.work, "dev")
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = open(os.path.join(self.work, "node.log"), "wb")
        self.proc = None

    def start(self, params):
        args = ["gtos-node", "--dev", "--datadir", self.datadir, "--rpc-addr", f"127.0.0.1:{self.port}"]
        for p in params:
            args += ["--param", p]
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=self.log, env=benchlib.ENV)
        for _ in range(400):
            try:
                with urllib.request.urlopen(self.url + "/readyz", timeout=1):
                    return
            except Exception:
                time.sleep(0.05)
        sys.exit("node did not start; see " + self.log.name)

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=60)

    def fund_senders(self, n):
        key = os.path.join(self.datadir, "dev.key")
        keys = []
        for i in range(n):
            k = os.path.join(self.work, f"sender{i}.key")
            run(["gtos-keys", "new", "--unencrypted", "-o", k])
            keys.append(k)
            addr = run(["gtos-keys", "addr", k]).decode().strip()
            unsigned = run(["gtos-tx", "build", "transfer", "--chain-id", "gtos-dev", "--from-key", key, "--rpc",
                            self.url, "--to", addr, "--amount", str(10 ** 16)])
            run(["gtos-tx", "send", "--rpc", self.url, "--wait"], stdin=run(["gtos-tx", "sign", "--key", key],
                                                                             stdin=unsigned))
        return keys

    def load(self, keys, per_sender, ttl, prefix):
        t0 = time.time()
        streams = []
        for i, k in enumerate(keys):
            addr = run(["gtos-keys", "addr", k]).decode().strip()
            nonce = int(rpc(self.url, "tos_getAccount", addr)["next_nonce"])
            streams.append(signed_batches(k, "gtos-dev", nonce, per_sender, 1000, f"{prefix}{i}", ttl))
        print(f"  generated and signed {per_sender * len(keys)} txs in {time.time() - t0:.1f}s", flush=True)
        submitted = {}  # id -> submit time
        committed = {}  # id -> commit observation time
        done = threading.Event()

        def sender(batches):
            # The mempool is sized for the whole load (GTOS_MEMPOOL_MAX_*), so
            # any refusal is a failure.
            for body, ids in batches:
                reply = post_tx(self.url, body)
                now = time.time()
                for e, i in zip(reply, ids):
                    if "error" in e:
                        raise RuntimeError(f"tx {i} refused: {e['error']}")
                    submitted[i] = now

        def watcher():
            h = rpc(self.url, "tos_blockNumber")
            while not done.is_set() or len(committed) < len(submitted):
                top = rpc(self.url, "tos_blockNumber")
                while h < top:
                    h += 1
                    block = rpc(self.url, "tos_getBlockByNumber", h)
                    now = time.time()
                    for tx in block.get("txs", block.get("transactions", [])):
                        tid = tx if isinstance(tx, str) else tx.get("id")
                        committed[tid] = now
                if done.is_set() and time.time() - last_submit[0] > 30:
                    break
                time.sleep(0.02)

        last_submit = [time.time()]
        w = threading.Thread(target=watcher)
        w.start()
        start = time.time()
        threads = [threading.Thread(target=sender, args=(s,)) for s in streams]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        last_submit[0] = time.time()
        done.set()
        w.join()
        lat = sorted(committed[i] - submitted[i] for i in submitted if i in committed)
        first_commit = min(committed.values())
        last_commit = max(committed.values())
        return {
            "txs": len(committed),
            "seconds": last_commit - start,
            "tps": len(committed) / (last_commit - start),
            "p50": statistics.median(lat),
            "p99": lat[int(len(lat) * 0.99) - 1] if lat else 0,
            "first_commit_after": first_commit - start,
        }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--txs", type=int, default=200_000)
    ap.add_argument("--senders", type=int, default=4)
    ap.add_argument("--rss-records", type=int, default=0)
    args = ap.parse_args()
    b = os.path.abspath(args.bin)
    benchlib.ENV = ENV = dict(os.environ)
    ENV["PATH"] = os.pathsep.join([b] + [os.path.join(b, d) for d in os.listdir(b)] + [ENV["PATH"]])
    ENV["GTOS_MEMPOOL_MAX_TXS"] = str(4_000_000)
    ENV["GTOS_MEMPOOL_MAX_BYTES"] = str(4 << 30)
    bench = Bench(args)
    try:
        bench.start(["max_block_txs=50000"])
        keys = bench.fund_senders(args.senders)
        print(f"throughput: {args.txs} kv-puts (128-byte values, ed25519) from {args.senders} senders, 1 s blocks")
        r = bench.load(keys, args.txs // args.senders, 100_000, "t")
        print(f"  committed {r['txs']} txs in {r['seconds']:.1f}s: {r['tps']:.0f} tx/s "
              f"(goal >= 20000); submit-to-commit p50 {r['p50'] * 1000:.0f} ms, p99 {r['p99'] * 1000:.0f} ms")
        if args.rss_records:
            print(f"rss: loading {args.rss_records} live KV records")
            r2 = bench.load(keys, args.rss_records // args.senders, 1_000_000, "r")
            time.sleep(3)
            rss = rss_kib(bench.proc.pid)
            print(f"  node RSS with >= {args.rss_records} live KV records: {rss / 1024:.0f} MiB (goal <= 1024 MiB)")
        bench.stop()
        height = None
        t0 = time.time()
        out = run(["gtos-node", "replay", "--datadir", bench.datadir]).decode()
        secs = time.time() - t0
        total = r["txs"] + (args.rss_records if args.rss_records else 0) + args.senders
        print(f"replay: {out.strip()}")
        print(f"  {total} txs re-executed in {secs:.1f}s (process total): {total / secs:.0f} tx/s (goal >= 100000)")
    finally:
        if bench.proc and bench.proc.poll() is None:
            bench.proc.kill()
        if os.environ.get("GTOS_BENCH_KEEP"):
            print(f"kept {bench.work}")
        else:
            shutil.rmtree(bench.work, ignore_errors=True)


if __name__ == "__main__":
    main()
