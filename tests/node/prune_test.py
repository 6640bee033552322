#!/usr/bin/env python3
"""gtos-prune killed with SIGKILL, then run again; and a node on the result.

usage: prune_test.py --bin BUILD/cmd --fill BUILD/tests/prune_fill [--blocks N] [--txs-per-block N]

1. prune_fill builds a data directory with a long history (default 600
   blocks of 1000 kv-put txs: about 600,000 records, a few deletion batches).
2. gtos-prune --retain-blocks 50 runs with stderr on a pseudo-terminal, so
   it shows progress; at its first progress line (one batch written, the
   others not) it gets SIGKILL. The directory must then be partly pruned:
   the recorded oldest height moved, some heights are still to delete.
3. Run again, killed when it announces compaction: the deletion is complete.
4. Run again: nothing to prune. The head (and its state root) never changed.
5. gtos-node --dev starts on the directory: the oldest kept height is served,
   the one below is error -38005 history_pruned, and blocks keep coming.
No hidden switch in the tool: the kill points are its own progress lines.
"""
import argparse
import json
import os
import pty
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

RETAIN = 50


def fail(msg):
    sys.exit(f"FAIL: {msg}")


def run(env, *args, check=True):
    p = subprocess.run(list(args), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=300)
    if check and p.returncode != 0:
        fail(f"{' '.join(args)}: exit {p.returncode}: {p.stderr.decode(errors='replace')}")
    return p


def prune_json(env, datadir, *extra):
    return json.loads(run(env, "gtos-prune", "--datadir", datadir, "--retain-blocks", str(RETAIN), "--json",
                          *extra).stdout)


def kill_at(env, datadir, marker):
    """Runs gtos-prune with stderr on a pty; SIGKILLs it when `marker` shows.

    Returns True when it was killed, False when it finished first."""
    master, slave = pty.openpty()
    p = subprocess.Popen(["gtos-prune", "--datadir", datadir, "--retain-blocks", str(RETAIN)], env=env,
                         stdout=subprocess.DEVNULL, stderr=slave)
    os.close(slave)
    seen = b""
    killed = False
    deadline = time.time() + 120
    try:
        while time.time() < deadline:
            r, _, _ = select.select([master], [], [], 0.5)
            if r:
                try:
                    chunk = os.read(master, 4096)
                except OSError:
                    chunk = b""
                if not chunk:
                    break
                seen += chunk
                if marker in seen:
                    p.send_signal(signal.SIGKILL)
                    killed = True
                    break
            elif p.poll() is not None:
                break
        p.wait(timeout=60)
    finally:
        os.close(master)
    print(f"  stderr before the kill: {seen.decode(errors='replace').strip()!r}")
    if killed and p.returncode != -signal.SIGKILL:
        killed = False  # it had already exited
    return killed


def rpc(url, method, *params):
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)}).encode()
    req = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--fill", required=True)
    ap.add_argument("--blocks", type=int, default=600)
    ap.add_argument("--txs-per-block", type=int, default=1000)
    args = ap.parse_args()
    env = dict(os.environ)
    env["PATH"] = os.path.abspath(args.bin) + os.pathsep + env.get("PATH", "")
    env["LC_ALL"] = "C"

    work = tempfile.mkdtemp(prefix="gtos-prune-test-")
    node = None
    try:
        d = os.path.join(work, "d")
        print(run(env, args.fill, d, str(args.blocks), str(args.txs_per_block)).stdout.decode().strip())
        head = args.blocks
        cut = head - RETAIN + 1

        print("1. SIGKILL in the middle of the deletion")
        if not kill_at(env, d, b"heights"):
            fail("gtos-prune finished before the kill; use more --blocks")
        r = prune_json(env, d, "--dry-run")
        print(f"  after the kill: oldest {r['oldest_before']}, {r['heights']} heights still to delete")
        if not (1 < r["oldest_before"] < cut and r["heights"] == cut - r["oldest_before"]):
            fail(f"not a partly pruned directory after the kill: {r}")
        partial = r["oldest_before"]

        print("2. run again, SIGKILL when it compacts")
        if kill_at(env, d, b"compacting"):
            r = prune_json(env, d, "--dry-run")
            if r["oldest_before"] != cut or r["heights"] != 0:
                fail(f"deletion not complete at compaction: {r}")
        else:
            print("  (it finished before the kill)")

        print("3. run again: nothing left to delete")
        r = prune_json(env, d)
        if r["oldest_before"] != cut or r["oldest_after"] != cut or r["heights"] != 0:
            fail(f"re-run did not leave the window [{cut}, {head}]: {r}")
        if r["head"] != head:
            fail(f"the head changed: {r}")
        print(f"  oldest {partial} after the kill, {cut} after the re-runs; head unchanged")

        print("4. a node starts on the pruned directory")
        port = 23000 + os.getpid() % 3000
        url = f"http://127.0.0.1:{port}"
        log = open(os.path.join(work, "node.log"), "wb")
        node = subprocess.Popen(["gtos-node", "--dev", "--datadir", d, "--rpc-addr", f"127.0.0.1:{port}"],
                                env=env, stdout=log, stderr=log)
        for _ in range(300):
            try:
                with urllib.request.urlopen(url + "/readyz", timeout=1):
                    break
            except Exception:
                if node.poll() is not None:
                    fail("the node exited: " + open(os.path.join(work, "node.log")).read())
                time.sleep(0.1)
        ok = rpc(url, "tos_getBlockByNumber", cut)
        if "result" not in ok:
            fail(f"block {cut}: {ok}")
        below = rpc(url, "tos_getBlockByNumber", cut - 1)
        err = below.get("error", {})
        if err.get("code") != -38005 or err.get("message") != "history_pruned" or \
                err.get("data", {}).get("oldest_available") != cut:
            fail(f"block {cut - 1}: {below}")
        for _ in range(100):
            h = rpc(url, "tos_blockNumber")["result"]
            if h >= head + 2:
                break
            time.sleep(0.1)
        else:
            fail(f"the node does not make blocks (height {h})")
        print(f"  block {cut} served, {cut - 1} history_pruned, height {h} > {head}")
        print("ok")
    finally:
        if node and node.poll() is None:
            node.terminate()
            try:
                node.wait(timeout=20)
            except subprocess.TimeoutExpired:
                node.kill()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
