#!/usr/bin/env python3
"""Multi-validator benchmarks on loopback (make bench).

  net_bench.py --bin BUILD/cmd [--validators 4] [--idle-blocks 120]
               [--txs 160000] [--senders 8] [--node-arg=ARG ...]
               [--param NAME=VALUE ...]

Builds a chain with the tools (gtos-keys new, gtos-genesis new / gentx /
add-account / collect), starts N validators on 127.0.0.1 with 1 s blocks,
then measures:

1. Idle block interval: the differences of consecutive header times over
   --idle-blocks blocks with no load; p50 and p99 (goal p99 <= 1.5 s).
2. Finalized kv-put throughput under load: pre-signed kv-puts (128-byte
   values, ed25519) from --senders accounts are POSTed to /tx, spread over
   all validators; every finalized block is read back to find when each tx
   was final. Reports finalized tx/s over the run and p50/p99
   submit-to-finality latency (goal >= 8,000 tx/s).
"""
import argparse
import os
import shutil
import signal
import statistics
import subprocess
import tempfile
import threading
import time
import urllib.request

import benchlib
from benchlib import free_port, post_tx, rpc, run, signed_batches

CHAIN = "gtos-bench-net"


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, max(0, int(len(xs) * p) - 1))] if xs else 0


class Net:
    def __init__(self, n, senders, params, extra_args=()):
        self.work = tempfile.mkdtemp(prefix="gtos-netbench-")
        self.n = n
        self.procs = []
        self.urls = []
        w = self.work
        keys, gentxs, addrs = [], [], []
        p2p = [free_port() for _ in range(n)]
        for i in range(n):
            k = os.path.join(w, f"v{i}.key")
            run(["gtos-keys", "new", "--unencrypted", "-o", k])
            g = os.path.join(w, f"v{i}.gentx")
            run(["gtos-genesis", "gentx", "--chain-id", CHAIN, "--key", k, "--stake", "10000000",
                 "--p2p-addr", f"127.0.0.1:{p2p[i]}", "-o", g])
            keys.append(k)
            gentxs.append(g)
            addrs.append(run(["gtos-keys", "addr", k]).decode().strip())
        self.senders = []
        for i in range(senders):
            k = os.path.join(w, f"s{i}.key")
            run(["gtos-keys", "new", "--unencrypted", "-o", k])
            self.senders.append(k)
            addrs.append(run(["gtos-keys", "addr", k]).decode().strip())
        gen = os.path.join(w, "genesis.bin")
        args = ["gtos-genesis", "new", "--chain-id", CHAIN, "-o", gen]
        for p in params:
            args += ["--param", p]
        run(args)
        for a in addrs:
            run(["gtos-genesis", "add-account", a, str(10 ** 17), gen, "-o", gen])
        with open(gen, "rb") as f:
            run_out = run(["gtos-genesis", "collect"] + gentxs, stdin=f.read())
        with open(gen, "wb") as f:
            f.write(run_out)
        for i in range(n):
            d = os.path.join(w, f"n{i}")
            run(["gtos-node", "init", "--datadir", d, "--genesis", gen, "--key", keys[i]])
            rpc_port = free_port()
            self.urls.append(f"http://127.0.0.1:{rpc_port}")
            cmd = ["gtos-node", "run", "--datadir", d, "--rpc-addr", f"127.0.0.1:{rpc_port}",
                   "--p2p-addr", f"127.0.0.1:{p2p[i]}"]
            cmd += extra_args
            for j in range(n):
                if j != i:
                    cmd += ["--peer", f"127.0.0.1:{p2p[j]}"]
            log = open(os.path.join(w, f"n{i}.log"), "wb")
            self.procs.append(subprocess.Popen(cmd, stdout=log, stderr=log, env=benchlib.ENV))
        for u in self.urls:
            for _ in range(400):
                try:
                    with urllib.request.urlopen(u + "/readyz", timeout=1):
                        break
                except Exception:
                    time.sleep(0.05)

    def height(self, i=0):
        return int(rpc(self.urls[i], "tos_blockNumber"))

    def stop(self):
        for p in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in self.procs:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()


def idle(net, blocks):
    start = net.height()
    while net.height() < start + 2:
        time.sleep(0.1)
    h0 = net.height()
    deadline = time.time() + blocks * 3 + 30
    while net.height() < h0 + blocks and time.time() < deadline:
        time.sleep(0.2)
    times = [int(rpc(net.urls[0], "tos_getBlockByNumber", h)["time_ms"])
             for h in range(h0, net.height() + 1)]
    gaps = [(b - a) / 1000.0 for a, b in zip(times, times[1:])]
    return gaps


def load(net, per_sender):
    t0 = time.time()
    streams = []
    for i, k in enumerate(net.senders):
        streams.append(signed_batches(k, CHAIN, 0, per_sender, 1000, f"t{i}", 100_000))
    print(f"  generated and signed {per_sender * len(net.senders)} txs in {time.time() - t0:.1f}s", flush=True)
    submitted, committed = {}, {}
    done = threading.Event()
    last_submit = [time.time()]
    errors = []

    def sender(idx, batches):
        url = net.urls[idx % len(net.urls)]
        try:
            for body, ids in batches:
                reply = post_tx(url, body)
                now = time.time()
                for e, i in zip(reply, ids):
                    if "error" in e:
                        raise RuntimeError(f"tx {i} refused: {e['error']}")
                    submitted[i] = now
        except Exception as e:  # noqa: BLE001
            errors.append(str(e))

    def watcher():
        url = net.urls[0]
        h = int(rpc(url, "tos_blockNumber"))
        while True:
            top = int(rpc(url, "tos_blockNumber"))
            while h < top:
                h += 1
                block = rpc(url, "tos_getBlockByNumber", h)
                now = time.time()
                for tx in block.get("txs", block.get("transactions", [])):
                    tid = tx if isinstance(tx, str) else tx.get("id")
                    committed[tid] = now
            if done.is_set() and (len(committed) >= len(submitted) or time.time() - last_submit[0] > 60):
                break
            time.sleep(0.02)

    w = threading.Thread(target=watcher)
    w.start()
    start = time.time()
    threads = [threading.Thread(target=sender, args=(i, s)) for i, s in enumerate(streams)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    last_submit[0] = time.time()
    done.set()
    w.join()
    if errors:
        print("  submit errors:", errors[:3])
    lat = [committed[i] - submitted[i] for i in submitted if i in committed]
    last_commit = max(committed.values()) if committed else time.time()
    return {"txs": len(committed), "submitted": len(submitted), "seconds": last_commit - start,
            "tps": len(committed) / max(1e-9, last_commit - start),
            "p50": statistics.median(lat) if lat else 0, "p99": pct(lat, 0.99)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--validators", type=int, default=4)
    ap.add_argument("--idle-blocks", type=int, default=120)
    ap.add_argument("--txs", type=int, default=160_000)
    ap.add_argument("--senders", type=int, default=8)
    ap.add_argument("--node-arg", action="append", default=[],
                    help="extra argument for every gtos-node run (repeatable), e.g. --node-arg=--log-level=debug")
    ap.add_argument("--param", action="append", default=[],
                    help="extra genesis parameter NAME=VALUE (repeatable)")
    args = ap.parse_args()
    b = os.path.abspath(args.bin)
    benchlib.ENV = ENV = dict(os.environ)
    ENV["PATH"] = os.pathsep.join([b] + [os.path.join(b, d) for d in os.listdir(b)] + [ENV["PATH"]])
    ENV["GTOS_MEMPOOL_MAX_TXS"] = str(4_000_000)
    ENV["GTOS_MEMPOOL_MAX_BYTES"] = str(4 << 30)
    net = Net(args.validators, args.senders, ["max_block_txs=50000", "target_block_interval_ms=1000"] + list(args.param),
              list(args.node_arg))
    try:
        print(f"network: {args.validators} validators on loopback, 1 s blocks ({net.work})")
        gaps = idle(net, args.idle_blocks)
        print(f"idle block interval over {len(gaps)} blocks: p50 {statistics.median(gaps):.3f} s, "
              f"p99 {pct(gaps, 0.99):.3f} s, max {max(gaps):.3f} s (goal p99 <= 1.5 s)")
        r = load(net, args.txs // args.senders)
        print(f"finalized kv-put throughput: {r['txs']}/{r['submitted']} txs final in {r['seconds']:.1f}s: "
              f"{r['tps']:.0f} tx/s (goal >= 8000); submit-to-finality p50 {r['p50'] * 1000:.0f} ms, "
              f"p99 {r['p99'] * 1000:.0f} ms")
        hs = [net.height(i) for i in range(net.n)]
        print(f"heights after the run: {hs}")
    finally:
        net.stop()
        if os.environ.get("GTOS_BENCH_KEEP"):
            print(f"kept {net.work}")
        else:
            shutil.rmtree(net.work, ignore_errors=True)


if __name__ == "__main__":
    main()
