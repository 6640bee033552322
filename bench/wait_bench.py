#!/usr/bin/env python3
"""gtos-tx send --wait: following the head stream vs polling tos_getReceipt.

  wait_bench.py --bin BUILD/cmd [--txs 1000] [--rounds 3] [--block-ms 100]

A --dev chain (--block-ms blocks, default 100). Each round signs --txs
kv-puts (consecutive nonces) and times `gtos-tx send --wait --json` on them,
once over the head stream (the default) and once with GTOS_TX_WAIT_POLL=1
(the old 200 ms polling), alternating which goes first. Reports, per mode,
the median wall time from start to the last receipt written, and checks
that both wrote --txs receipts.
"""
import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

import benchlib
from benchlib import free_port, rpc, signed_batches


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--txs", type=int, default=1000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--block-ms", type=int, default=100)
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="gtos-waitbench-")
    benchlib.ENV = env = dict(os.environ, PATH=os.path.abspath(args.bin) + os.pathsep + os.environ["PATH"])
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = open(os.path.join(work, "node.log"), "wb")
    node = subprocess.Popen(["gtos-node", "--dev", "--datadir", os.path.join(work, "dev"), "--rpc-addr",
                             f"127.0.0.1:{port}", "--param", f"target_block_interval_ms={args.block_ms}"],
                            stdout=log, stderr=log, env=env)
    try:
        for _ in range(300):
            try:
                with urllib.request.urlopen(url + "/readyz", timeout=1) as r:
                    if r.status == 200:
                        break
            except Exception:
                time.sleep(0.1)
        key = os.path.join(work, "dev", "dev.key")
        addr = benchlib.run(["gtos-keys", "addr", key]).decode().strip()
        nonce = int(rpc(url, "tos_getAccount", addr)["next_nonce"])
        times = {"stream": [], "poll": []}
        for r in range(args.rounds):
            order = ["stream", "poll"] if r % 2 == 0 else ["poll", "stream"]
            for mode in order:
                [(signed, ids)] = signed_batches(key, "gtos-dev", nonce, args.txs, args.txs, f"{mode}{r}", 1000)
                nonce += args.txs
                menv = dict(env)
                if mode == "poll":
                    menv["GTOS_TX_WAIT_POLL"] = "1"
                t0 = time.time()
                p = subprocess.run(["gtos-tx", "send", "--rpc", url, "--wait", "--json", "--timeout", "120"],
                                   input=signed, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=menv)
                dt = time.time() - t0
                n = len(p.stdout.splitlines())
                if p.returncode != 0 or n != args.txs:
                    sys.exit(f"{mode}: exit {p.returncode}, {n} receipts: {p.stderr.decode()}")
                times[mode].append(dt)
                print(f"round {r + 1} {mode:6s} {dt:.3f} s", flush=True)
        for mode, ts in times.items():
            print(f"{mode}: median {statistics.median(ts):.3f} s over {len(ts)} rounds of {args.txs} txs "
                  f"({args.block_ms} ms blocks)")
    finally:
        node.terminate()
        node.wait()


if __name__ == "__main__":
    main()
