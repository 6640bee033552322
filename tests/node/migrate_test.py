#!/usr/bin/env python3
"""A data directory written by the previous schema (5 when written) is migrated and the
node starts on it with the same head and state root (docs/upgrades.md).

usage: migrate_test.py --bin BUILD/cmd --make-prev-schema BUILD/tests/make_prev_schema

1. A dev node (100 ms blocks, retain_blocks 20, snapshot_interval 10, so
   older bodies are pruned online) runs past height 40 with a transfer at
   about height 31 (kept in the window). While it runs, `gtos-node
   migrate` on its directory is refused (the directory is locked). It
   is stopped; head, state root and the hashes of every block are read
   with gtos-inspect db.
2. make_prev_schema turns the directory into the one the previous build
   writes for the same chain (no N table, the previous format). The
   versions are read from its output, so a renumbering needs no edit here.
3. The node refuses to start on it and says to run `gtos-node migrate`.
4. `migrate --dry-run` says what it would do and changes nothing (the node
   still refuses).
5. `migrate` migrates: same head and state root, printed; a second run has
   nothing to do.
6. Every kept block is found by hash offline (gtos-inspect db); the node
   starts on it: the head header is the same, tos_getBlockByHash
   finds the newest ten (also through gtos-inspect rpc
   block 0x...), a pruned block's hash is not found, blocks keep coming and
   new ones are found by hash.
Ports: RPC in 41000-41999 only.
"""
import argparse
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

PORT_RANGE = (41000, 41999)  # this test's ports only


def free_port(taken=set()):
    """A port of PORT_RANGE that binds now (a port of a previous run may
    still be in TIME_WAIT), never the same twice in one run."""
    first = PORT_RANGE[0] + random.randrange(PORT_RANGE[1] - PORT_RANGE[0])
    for i in range(PORT_RANGE[1] - PORT_RANGE[0]):
        port = PORT_RANGE[0] + (first - PORT_RANGE[0] + i) % (PORT_RANGE[1] - PORT_RANGE[0])
        if port in taken:
            continue
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
        taken.add(port)
        return port
    fail(f"no free port in {PORT_RANGE}")


def fail(msg):
    sys.exit(f"FAIL: {msg}")


def check(cond, msg):
    if not cond:
        fail(msg)


class Env:
    def __init__(self, bin_dir, make_prev):
        self.make_prev = make_prev
        dirs = [bin_dir] + [os.path.join(bin_dir, d) for d in sorted(os.listdir(bin_dir))
                            if os.path.isdir(os.path.join(bin_dir, d))]
        self.env = dict(os.environ)
        self.env["PATH"] = os.pathsep.join(dirs + [self.env.get("PATH", "")])
        self.env.pop("GTOS_PASSPHRASE_FILE", None)

    def run(self, *args, expect=0):
        p = subprocess.run(list(args), env=self.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120)
        if expect is not None and p.returncode != expect:
            fail(f"{' '.join(args)} exited {p.returncode} (expected {expect}): {p.stderr.decode(errors='replace')}")
        return p.returncode, p.stdout.decode(), p.stderr.decode()


class Node:
    def __init__(self, env, datadir, port, log):
        self.env, self.datadir, self.port, self.log = env, datadir, port, log
        self.url = f"http://127.0.0.1:{port}"
        self.proc = None

    def start(self, extra=()):
        args = ["gtos-node", "--dev", "--datadir", self.datadir, "--rpc-addr", f"127.0.0.1:{self.port}",
                "--param", "target_block_interval_ms=100", "--param", "retain_blocks=20",
                "--param", "snapshot_interval=10"] + list(extra)
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=self.log, env=self.env.env)
        deadline = time.time() + 30
        while time.time() < deadline:
            check(self.proc.poll() is None, f"node exited with {self.proc.returncode} at start")
            try:
                with urllib.request.urlopen(self.url + "/readyz", timeout=1) as r:
                    if r.status == 200:
                        return self
            except Exception:
                pass
            time.sleep(0.05)
        fail("node did not become ready")

    def rpc(self, method, *params):
        body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)}).encode()
        req = urllib.request.Request(self.url, data=body, headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=10) as r:
            return json.loads(r.read())

    def call(self, method, *params):
        reply = self.rpc(method, *params)
        check("error" not in reply, f"{method}{params}: error {reply.get('error')}")
        return reply["result"]

    def wait_height(self, h, timeout=60):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if int(self.call("tos_blockNumber")) >= h:
                return
            time.sleep(0.02)
        fail(f"height {h} not reached")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=20)
        check(self.proc.returncode == 0, f"node exit status {self.proc.returncode} after SIGTERM")


def inspect_db(env, datadir, *query):
    _, out, _ = env.run("gtos-inspect", "db", "--datadir", datadir, *query)
    return json.loads(out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--make-prev-schema", required=True)
    a = ap.parse_args()
    env = Env(os.path.abspath(a.bin), os.path.abspath(a.make_prev_schema))
    work = tempfile.mkdtemp(prefix="gtos-migrate-")
    logpath = os.path.join(work, "node.log")
    log = open(logpath, "ab")
    datadir = os.path.join(work, "dev")
    ok = False
    nodes = []
    try:
        # 1. A chain with history, a tx and pruned bodies.
        n = Node(env, datadir, free_port(), log)
        nodes.append(n)
        n.start()
        n.wait_height(30)  # the tx lands after some bodies are pruned, and stays in the window
        key = os.path.join(datadir, "dev.key")
        _, addr, _ = env.run("gtos-keys", "addr", key)
        unsigned = subprocess.run(["gtos-tx", "build", "transfer", "--chain-id", "gtos-dev", "--from-key", key,
                                   "--rpc", n.url, "--to", addr.strip(), "--amount", "7"],
                                  env=env.env, stdout=subprocess.PIPE, check=True).stdout
        p = subprocess.run(["gtos-tx", "sign", "--key", key], input=unsigned, env=env.env,
                           stdout=subprocess.PIPE, check=True)
        p = subprocess.run(["gtos-tx", "send", "--rpc", n.url, "--json", "--wait", "--timeout", "30"],
                           input=p.stdout, env=env.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        check(p.returncode == 0, f"send: {p.stderr.decode()}")
        tx_height = json.loads(p.stdout.decode().splitlines()[-1])["height"]
        n.wait_height(tx_height + 10)
        rc, _, err = env.run("gtos-node", "migrate", "--datadir", datadir, expect=1)
        check("in use by another process" in err, f"migrate on a running node's directory: {err!r}")
        n.stop()

        head = inspect_db(env, datadir, "head")
        H = head["height"]
        stats = inspect_db(env, datadir, "stats")
        oldest = stats["oldest_available"]
        check(isinstance(oldest, int) and oldest > 1, f"no pruned history to exercise: stats {stats}")
        hashes = {h: inspect_db(env, datadir, "block", str(h))["hash"] for h in range(oldest, H + 1)}
        n2 = Node(env, datadir, free_port(), log)
        nodes.append(n2)
        # 2. The previous schema's directory.
        _, out, _ = env.run(env.make_prev, datadir)
        m = re.search(r"removed (\d+) block-index entries; format (\d+) -> (\d+)", out)
        check(m and int(m.group(1)) == H - oldest + 1, f"make_prev_schema: {out!r} (window {oldest}..{H})")
        cur, prev = int(m.group(2)), int(m.group(3))

        # 3. The node refuses it and says what to do.
        p = subprocess.run(["gtos-node", "--dev", "--datadir", datadir, "--rpc-addr", f"127.0.0.1:{free_port()}"],
                           env=env.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
        err = p.stderr.decode()
        check(p.returncode == 1, f"node on a schema-{prev} directory: exit {p.returncode}")
        check(f"schema version {prev}; this build reads version {cur}" in err and
              f"gtos-node migrate --datadir {datadir}" in err, f"node's refusal: {err!r}")

        # 4. Dry run: says, changes nothing.
        _, out, _ = env.run("gtos-node", "migrate", "--datadir", datadir, "--dry-run")
        check(f"would run step {prev} -> {cur} (block-hash-index)" in out and
              f"would index {H - oldest + 1} block hashes (heights {oldest}..{H})" in out and
              "nothing was changed" in out, f"dry run: {out!r}")
        rc, _, err = env.run("gtos-node", "replay", "--datadir", datadir, expect=1)
        check("gtos-node migrate" in err, f"after the dry run the directory is still schema {prev}: {err!r}")

        # 5. Migrate.
        _, out, _ = env.run("gtos-node", "migrate", "--datadir", datadir)
        check(f"indexed {H - oldest + 1} block hashes" in out, f"migrate: {out!r}")
        check(f"from schema version {prev} to {cur}; head {H}, state root {head['state_root']}" in out, f"migrate: {out!r}")
        _, out, _ = env.run("gtos-node", "migrate", "--datadir", datadir)
        check(f"at schema version {cur}: nothing to do" in out, f"second migrate: {out!r}")
        check(inspect_db(env, datadir, "head") == head, "head changed by the migration")
        # Every kept block by hash, offline (a running node prunes the low
        # end of its window as it commits: online, only the newest are sure).
        for h, bh in hashes.items():
            b = inspect_db(env, datadir, "block", bh)
            check(b["height"] == h and b["hash"] == bh, f"gtos-inspect db block {bh} gave height {b['height']}, not {h}")
        check(oldest <= tx_height, f"the transfer's block {tx_height} is below the window {oldest}..{H}")
        b = inspect_db(env, datadir, "block", hashes[tx_height])
        check(len(b["txs"]) == 1, f"the transfer's block by hash: {b}")

        # 6. The node runs on it.
        n2.start()
        check(n2.call("tos_getHeaderByNumber", H)["state_root"] == head["state_root"], "state root at H differs")
        check(n2.call("tos_getHeaderByNumber", H)["hash"] == hashes[H], "header H differs")
        # The newest ten stay in the window (retain_blocks 20) while the
        # node goes on; each found by hash over RPC.
        for h in range(H - 9, H + 1):
            b = n2.call("tos_getBlockByHash", hashes[h])
            check(b["height"] == h and b["hash"] == hashes[h], f"tos_getBlockByHash({hashes[h]}) gave height {b['height']}, not {h}")
        pruned = n2.call("tos_getHeaderByNumber", 1)["hash"]  # headers are kept, body 1 is not
        r = n2.rpc("tos_getBlockByHash", pruned)
        check("error" in r and r["error"]["code"] == -38004 and "not found" in r["error"]["message"],
              f"a pruned block's hash: {r}")
        _, out, _ = env.run("gtos-inspect", "rpc", "--rpc", n2.url, "block", hashes[H])
        check(json.loads(out)["height"] == H, "gtos-inspect rpc block 0x...")
        n2.wait_height(H + 10)
        newer = n2.call("tos_getBlockByNumber", H + 5)
        check(n2.call("tos_getBlockByHash", newer["hash"])["height"] == H + 5, "a block after the migration by hash")
        n2.stop()
        print(f"ok: schema-{prev} directory at head {H} (bodies {oldest}..{H}, {H - oldest + 1} blocks) migrated; "
              f"same state root {head['state_root'][:18]}...; node went on to {H + 10}")
        ok = True
    finally:
        for node in nodes:
            if node.proc and node.proc.poll() is None:
                node.proc.kill()
                node.proc.wait()
        log.close()
        if not ok:
            with open(logpath, errors="replace") as f:
                print("---- node.log (tail)\n" + f.read()[-3000:])
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
