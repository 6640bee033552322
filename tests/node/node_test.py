#!/usr/bin/env python3
"""Multi-process tests of gtos-node on loopback (issue: single-node chain).

Each scenario starts real gtos-node processes (dev chains with fast blocks),
drives them with the real tools (gtos-tx build/sign/send, gtos-inspect) and
JSON-RPC over HTTP, and checks outcomes. Prints one line per scenario and a
closing "N passed, N failed".

  node_test.py --bin BUILD/cmd [scenario ...]
"""
import argparse
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import urllib.error
import urllib.request

BIN = None
ENV = None


class Fail(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise Fail(msg)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def run(args, stdin=None, check_exit=True):
    p = subprocess.run(args, input=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=ENV, timeout=120)
    if check_exit and p.returncode != 0:
        raise Fail(f"{' '.join(map(str, args))} exited {p.returncode}: {p.stderr.decode(errors='replace')}")
    return p


class Node:
    """A gtos-node --dev process on its own data directory and port."""

    def __init__(self, work, name="dev", params=(), datadir=None):
        self.datadir = datadir or os.path.join(work, name)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.params = list(params)
        self.log = open(os.path.join(work, f"{name}.log"), "ab")
        self.proc = None

    def start(self):
        args = ["gtos-node", "--dev", "--datadir", self.datadir, "--rpc-addr", f"127.0.0.1:{self.port}"]
        for p in self.params:
            args += ["--param", p]
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=self.log, env=ENV)
        deadline = time.time() + 20
        while time.time() < deadline:
            check(self.proc.poll() is None, f"node exited with {self.proc.returncode} at start")
            try:
                with urllib.request.urlopen(self.url + "/readyz", timeout=1) as r:
                    if r.status == 200:
                        return self
            except Exception:
                pass
            time.sleep(0.05)
        raise Fail("node did not become ready")

    @property
    def key(self):
        return os.path.join(self.datadir, "dev.key")

    def rpc(self, method, *params):
        body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)}).encode()
        req = urllib.request.Request(self.url, data=body, headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=10) as r:
            reply = json.loads(r.read())
        return reply

    def call(self, method, *params):
        reply = self.rpc(method, *params)
        if "error" in reply:
            raise Fail(f"{method}{params}: error {reply['error']}")
        return reply["result"]

    def height(self):
        return int(self.call("tos_blockNumber"))

    def wait_height(self, h, timeout=30):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.height() >= h:
                return
            time.sleep(0.01)
        raise Fail(f"height {h} not reached")

    def stop(self, sig=signal.SIGTERM, timeout=15):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise Fail("node did not stop in time")
        return self.proc.returncode if self.proc else None


def addr_of(key):
    return run(["gtos-keys", "addr", key]).stdout.decode().strip()


def build(node, kind, *args, key=None, nonce=None, chain="gtos-dev", sign_key=None, bound=False):
    key = key or node.key
    cmd = ["gtos-tx", "build", kind, "--chain-id", chain, "--from-key", key]
    cmd += ["--nonce", str(nonce)] if nonce is not None else ["--rpc", node.url]
    unsigned = run(cmd + list(args)).stdout
    sign = ["gtos-tx", "sign", "--key", sign_key or key] + (["--bound-signer"] if bound else [])
    return run(sign, stdin=unsigned).stdout


def send(node, signed, wait=True):
    """Returns (exit code, stdout, stderr) of gtos-tx send."""
    args = ["gtos-tx", "send", "--rpc", node.url, "--json"] + (["--wait", "--timeout", "30"] if wait else [])
    p = run(args, stdin=signed, check_exit=False)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


def send_ok(node, signed):
    code, out, err = send(node, signed)
    check(code == 0, f"send failed ({code}): {err}")
    receipts = [json.loads(l) for l in out.splitlines() if l.strip()]
    check(receipts, "no receipt")
    return receipts[-1]


def send_receipt(node, signed):
    """The receipt of a committed tx, whether it succeeded or failed."""
    code, out, err = send(node, signed)
    receipts = [json.loads(l) for l in out.splitlines() if l.strip()]
    check(receipts, f"no receipt (exit {code}): {err}")
    return receipts[-1]


def rejected(node, signed, fragment):
    code, out, err = send(node, signed, wait=False)
    check(code == 1, f"expected rejection containing {fragment!r}, got exit {code}: {out} {err}")
    check(fragment in err, f"rejection {err!r} does not mention {fragment!r}")


def consistent(node, fn):
    """Runs fn() between two equal head readings; returns (height, value)."""
    while True:
        h1 = node.height()
        v = fn()
        h2 = node.height()
        if h1 == h2:
            return h1, v


def kv_meta(node, addr, ns, key):
    hexs = lambda s: "0x" + s.encode().hex()
    return node.rpc("tos_getKVMeta", addr, hexs(ns), hexs(key))


def receipt_ok(r):
    return r.get("status") in ("ok", 0)


# ---- scenarios ---------------------------------------------------------------

def scenario_ttl_boundary(work):
    # Every height from h to h + 5 must be observed: 400 ms blocks leave the
    # poller room when ctest runs the loopback clusters beside it.
    n = Node(work, params=["target_block_interval_ms=400"]).start()
    try:
        addr = addr_of(n.key)
        r = send_ok(n, build(n, "kv-put", "--namespace", "ns", "--key", "k", "--value", "v1", "--ttl", "4"))
        check(receipt_ok(r), f"receipt {r}")
        h = int(r["height"])
        check(int(r["expire_block"]) == h + 4, f"expire_block {r['expire_block']} != {h}+4")
        seen = {}
        while len(seen) < 6:
            height, reply = consistent(n, lambda: kv_meta(n, addr, "ns", "k"))
            if h <= height <= h + 5:
                seen[height] = reply
            check(height <= h + 8, "missed heights")
            time.sleep(0.02)
        for height in range(h, h + 4):
            res = seen[height].get("result")
            check(res is not None, f"KV not readable at height {height} (written at {h}, ttl 4): {seen[height]}")
            check(int(res["created_block"]) == h and int(res["expire_block"]) == h + 4, f"meta {res}")
        for height in (h + 4, h + 5):
            err = seen[height].get("error")
            check(err is not None and err["code"] == -38004, f"KV still there at height {height}: {seen[height]}")
        # Overwrite resets created/expire; the old expiry does not remove it.
        r1 = send_ok(n, build(n, "kv-put", "--namespace", "ns", "--key", "o", "--value", "a", "--ttl", "3"))
        r2 = send_ok(n, build(n, "kv-put", "--namespace", "ns", "--key", "o", "--value", "b", "--ttl", "10"))
        h2 = int(r2["height"])
        n.wait_height(int(r1["expire_block"]) + 1)
        meta = kv_meta(n, addr, "ns", "o")["result"]
        check(int(meta["created_block"]) == h2 and int(meta["expire_block"]) == h2 + 10, f"overwrite meta {meta}")
    finally:
        n.stop()


def scenario_ttl_rejections(work):
    n = Node(work, params=["target_block_interval_ms=150", "max_ttl=100"]).start()
    try:
        addr = addr_of(n.key)
        # ttl 0 cannot be built; craft it as JSON and encode it.
        unsigned = run(["gtos-tx", "build", "kv-put", "--chain-id", "gtos-dev", "--from-key", n.key, "--rpc",
                        n.url, "--namespace", "a", "--key", "b", "--value", "c", "--ttl", "1", "--json"]).stdout
        for ttl, fragment in ((0, "ttl"), (101, "max_ttl"), (18446744073709551615, "")):
            j = json.loads(unsigned)
            j["tx"]["payload"]["ttl"] = ttl
            rec = run(["gtos-inspect", "--encode"], stdin=(json.dumps(j) + "\n").encode()).stdout
            signed = run(["gtos-tx", "sign", "--key", n.key], stdin=rec).stdout
            rejected(n, signed, fragment)
        # gtos-tx build --rpc checks the chain's limits at build time.
        p = run(["gtos-tx", "build", "kv-put", "--chain-id", "gtos-dev", "--from-key", n.key, "--rpc", n.url,
                 "--namespace", "a", "--key", "b", "--value", "c", "--ttl", "101"], check_exit=False)
        err = p.stderr.decode()
        check(p.returncode == 1 and "would refuse this tx: field 'payload.ttl': 101 exceeds max_ttl 100" in err and
              not p.stdout, f"build --rpc with ttl 101 > max_ttl: exit {p.returncode}, stderr {err!r}")
        # code-put: a second put of existing code fails; after expiry it works again.
        code = os.path.join(work, "code.bin")
        with open(code, "wb") as f:
            f.write(b"\x00\x01program bytes")
        # ttl 20 (3 s of 150 ms blocks): the second put must land while the
        # first is alive even on a loaded machine (building a tx spawns tools).
        r1 = send_ok(n, build(n, "code-put", "--code-file", code, "--ttl", "20"))
        check(receipt_ok(r1), f"first code-put {r1}")
        rr = n.call("tos_getReceipt", r1["tx_id"])
        want = "0x" + hashlib.sha256(b"\x00\x01program bytes").hexdigest()
        check(rr.get("code_hash") == want, f"code-put receipt from tos_getReceipt: {rr}, expected code_hash {want}")
        check(n.call("tos_getCodeMeta", want)["expire_block"] == r1["expire_block"], "tos_getCodeMeta by the receipt's code_hash")
        r2 = send_receipt(n, build(n, "code-put", "--code-file", code, "--ttl", "3"))
        check(int(r2["height"]) < int(r1["expire_block"]),
              f"the second code-put landed at {r2['height']}, after the first expired at {r1['expire_block']}")
        check(r2["status"] in ("code_exists", 2), f"second code-put should fail with code_exists: {r2}")
        acct = n.call("tos_getAccount", addr)
        n.wait_height(int(r1["expire_block"]))
        r3 = send_ok(n, build(n, "code-put", "--code-file", code, "--ttl", "3"))
        check(receipt_ok(r3), f"code-put after expiry {r3}")
        # The failed put still used its nonce (0 and 1 used: next is 2) and paid its fee.
        check(int(acct["nonce"]) == 2, f"nonce after a failed code-put: {acct}")
        check(int(r2["fee"]) > 0, f"fee of the failed code-put: {r2}")
    finally:
        n.stop()


def scenario_signer(work):
    n = Node(work, params=["target_block_interval_ms=150"]).start()
    try:
        addr = addr_of(n.key)
        new_key = os.path.join(work, "new.key")
        run(["gtos-keys", "new", "--algo", "secp256k1", "--unencrypted", "-o", new_key])
        r = send_ok(n, build(n, "transfer", "--to", addr, "--amount", "1"))  # fallback to the address
        check(receipt_ok(r), f"fallback transfer {r}")
        r = send_ok(n, build(n, "set-signer", "--signer-key", new_key))
        check(receipt_ok(r), f"set-signer {r}")
        signer = n.call("tos_getSigner", addr)
        check("secp256k1" in json.dumps(signer), f"signer now {signer}")
        rejected(n, build(n, "transfer", "--to", addr, "--amount", "1"), "signer")
        r = send_ok(n, build(n, "transfer", "--to", addr, "--amount", "1", sign_key=new_key, bound=True))
        check(receipt_ok(r), f"transfer signed by the new signer {r}")
    finally:
        n.stop()


def scenario_replay_protection(work):
    n = Node(work, params=["target_block_interval_ms=150"]).start()
    try:
        addr = addr_of(n.key)
        signed = build(n, "transfer", "--to", addr, "--amount", "1")
        send_ok(n, signed)
        rejected(n, signed, "already used")
        nonce = int(n.call("tos_getAccount", addr)["next_nonce"])
        rejected(n, build(n, "transfer", "--to", addr, "--amount", "1", chain="other-chain", nonce=nonce),
                 "wrong chain id")
        nonce = int(n.call("tos_getAccount", addr)["next_nonce"])
        rejected(n, build(n, "transfer", "--to", addr, "--amount", "1", nonce=nonce + 5), "gap")
    finally:
        n.stop()


def make_batches(work, node, count, per_batch, start_nonce):
    """Signed kv-put batches (one file each) with consecutive nonces."""
    template = json.loads(run(["gtos-tx", "build", "kv-put", "--chain-id", "gtos-dev", "--from-key", node.key,
                               "--nonce", "0", "--namespace", "load", "--key", "k", "--value", "x" * 128,
                               "--ttl", "1000", "--json"]).stdout)
    lines = []
    for i in range(count * per_batch):
        t = json.loads(json.dumps(template))
        t["tx"]["nonce"] = start_nonce + i
        t["tx"]["fee"] = 10_000_000  # above the minimum for any key length
        t["tx"]["payload"]["key"] = "0x" + f"k{i}".encode().hex()
        t.pop("id", None)
        lines.append(json.dumps(t))
    batches = []
    for b in range(count):
        chunk = "\n".join(lines[b * per_batch:(b + 1) * per_batch]) + "\n"
        unsigned = run(["gtos-inspect", "--encode"], stdin=chunk.encode()).stdout
        signed = run(["gtos-tx", "sign", "--key", node.key], stdin=unsigned).stdout
        ids = run(["gtos-tx", "hash"], stdin=signed).stdout.decode().split()
        batches.append((signed, ids))
    return batches


def post_tx(node, body):
    req = urllib.request.Request(node.url + "/tx", data=body, headers={"Content-Type": "application/msgpack"})
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read())


def scenario_kill9(work):
    n = Node(work, params=["target_block_interval_ms=100"]).start()
    addr = addr_of(n.key)
    batches = make_batches(work, n, 30, 100, int(n.call("tos_getAccount", addr)["next_nonce"]))
    committed = set()
    errors = []
    stop = threading.Event()

    def load():
        for body, ids in batches:
            if stop.is_set():
                return
            try:
                reply = post_tx(n, body)
            except Exception as e:
                errors.append(repr(e))
                return
            errors.extend(str(e["error"]) for e in reply if "error" in e)
            time.sleep(0.05)

    t = threading.Thread(target=load)
    t.start()
    time.sleep(1.0)
    last_head = 0
    all_ids = [i for _, ids in batches for i in ids]
    deadline = time.time() + 1.5
    while time.time() < deadline:
        last_head = n.height()
        for i in all_ids:
            if i in committed:
                continue
            rep = n.rpc("tos_getReceipt", i)
            if "result" in rep and rep["result"]:
                committed.add(i)
    n.proc.kill()  # SIGKILL under load
    n.proc.wait()
    stop.set()
    t.join()
    check(not errors, f"load was refused: {errors[:3]}")
    check(committed, "no tx was committed before the kill")
    n2 = Node(work, name="dev-restart", datadir=n.datadir).start()
    try:
        check(n2.height() >= last_head, f"restarted at {n2.height()}, below last seen head {last_head}")
        lost = [i for i in committed if "result" not in n2.rpc("tos_getReceipt", i)]
        check(not lost, f"{len(lost)} committed txs lost after SIGKILL, e.g. {lost[:3]}")
        h = n2.height()
        n2.wait_height(h + 2)
    finally:
        code = n2.stop()
    check(code == 0, f"SIGTERM exit status {code}")
    p = run(["gtos-node", "replay", "--datadir", n.datadir], check_exit=False)
    check(p.returncode == 0, f"replay failed: {p.stderr.decode()}")
    check(b"every state root matches" in p.stdout, f"replay output {p.stdout!r}")


def scenario_halt_height(work):
    """--halt-height H (here GTOS_HALT_HEIGHT, which --dev reads too): the node
    stops cleanly with exit 0 right after committing H, refuses to move past
    H when started again with it, and goes on without it."""
    datadir = os.path.join(work, "halt")
    n = Node(work, name="halt", params=["target_block_interval_ms=100"], datadir=datadir).start()
    n.stop()
    logpath = os.path.join(work, "halt.log")

    def run_halting(halt, timeout=60):
        env = dict(ENV, GTOS_HALT_HEIGHT=str(halt))
        with open(logpath, "ab") as log:
            p = subprocess.run(["gtos-node", "--dev", "--datadir", datadir, "--rpc-addr", f"127.0.0.1:{free_port()}"],
                               stdout=log, stderr=log, env=env, timeout=timeout)
        with open(logpath, errors="replace") as f:
            text = f.read()
        return p.returncode, text
    rc, text = run_halting(15)
    check(rc == 0, f"exit status {rc} at the halt height")
    check("halting at the configured height height=15 halt_height=15" in text, "no 'halting at the configured height' line")
    check("node stopped height=15" in text, "the node did not stop at height 15: " + text[-400:])
    t0 = time.time()
    rc, text = run_halting(15, timeout=20)
    check(rc == 0 and text.count("node stopped height=15") == 2, f"a restart with the same halt height: exit {rc}")
    quick = time.time() - t0
    n = Node(work, name="halt", params=["target_block_interval_ms=100"], datadir=datadir).start()
    try:
        n.wait_height(20)
    finally:
        n.stop()
    return f"stopped at 15 with exit 0; restarted with the same height it stopped at once ({quick:.1f}s); went on to 20 without it"


def scenario_operator_rpcs(work):
    """tos_syncing, net_peers, tos_mempool, tos_getMempoolTxs and "latest" on a
    dev node whose blocks are slow enough to see the mempool."""
    n = Node(work, name="ops", params=["target_block_interval_ms=4000"]).start()
    try:
        addr = addr_of(n.key)
        sync = n.call("tos_syncing")
        check(sync["catching_up"] is False and sync["ready"] is True and sync["not_ready"] == "" and
              sync["peers"] == 0 and int(sync["head"]) >= 0, f"tos_syncing on a dev node: {sync}")
        check(n.call("net_peers") == [], "net_peers on a node without p2p")
        # Right after a commit: the next block is 4 s away.
        h0 = n.height()
        n.wait_height(h0 + 1, 15)
        nonce = int(n.call("tos_getAccount", addr)["next_nonce"])
        ids = []
        for i in range(3):
            signed = build(n, "transfer", "--to", addr, "--amount", "1", nonce=nonce + i)
            code, out, err = send(n, signed, wait=False)
            check(code == 0, f"send {i}: {err}")
            ids.append(run(["gtos-tx", "hash"], stdin=signed).stdout.decode().strip())
        pool = n.call("tos_mempool")
        if n.height() == h0 + 1:  # still the same block: all three wait
            check(int(pool["txs"]) == 3 and len(pool["senders"]) == 1, f"tos_mempool: {pool}")
            snd = pool["senders"][0]
            check(snd["address"] == addr and int(snd["txs"]) == 3 and int(snd["lowest_nonce"]) == nonce and
                  int(snd["highest_nonce"]) == nonce + 2 and int(snd["bytes"]) == int(pool["bytes"]) > 0,
                  f"tos_mempool sender: {snd}")
            txs = n.call("tos_getMempoolTxs", addr)
            check([t["id"] for t in txs] == ids, f"tos_getMempoolTxs ids {[t['id'] for t in txs]} != {ids}")
            check([t["id"] for t in n.call("tos_getMempoolTxs", None, 2)] == ids[:2], "tos_getMempoolTxs limit 2")
        bad = n.rpc("tos_mempool", 0)
        check(bad.get("error", {}).get("code") == -32602 and "max_senders" in bad["error"]["message"],
              f"tos_mempool [0]: {bad}")
        bad = n.rpc("tos_getMempoolTxs", None, 1001)
        check(bad.get("error", {}).get("code") == -32602, f"tos_getMempoolTxs limit 1001: {bad}")
        # "latest" wherever a height is taken.
        for _ in range(5):
            h = n.height()
            b = n.call("tos_getBlockByNumber", "latest")
            hd = n.call("tos_getHeaderByNumber", "latest")
            if n.height() == h:
                check(int(b["height"]) == h and int(hd["height"]) == h, f"latest: block {b['height']}, header {hd['height']}, head {h}")
                break
        with urllib.request.urlopen(n.url + "/metrics", timeout=10) as r:
            text = r.read().decode()
        vals = {}
        for l in text.splitlines():
            if l and not l.startswith("#"):
                name, _, v = l.rpartition(" ")
                vals[name] = float(v)
        now = time.time()
        check(vals.get('gtos_build_info{version="gtos 0.1.0"}') == 1.0 or
              any(k.startswith("gtos_build_info{version=") and v == 1.0 for k, v in vals.items()), "no gtos_build_info")
        check(abs(vals.get("process_start_time_seconds", 0) - now) < 120, f"process_start_time_seconds {vals.get('process_start_time_seconds')}")
        check(abs(vals.get("gtos_last_commit_timestamp_seconds", 0) - now) < 30,
              f"gtos_last_commit_timestamp_seconds {vals.get('gtos_last_commit_timestamp_seconds')} vs now {now}")
        check(vals.get("process_cpu_seconds_total", -1) > 0, "process_cpu_seconds_total")
        types = dict(l.split()[2:4] for l in text.splitlines() if l.startswith("# TYPE"))
        bad_types = [k for k, t in types.items() if k.endswith("_total") != (t == "counter")]
        check(not bad_types, f"_total metrics must be counters and only they: {bad_types}")
        bad = n.rpc("tos_getBlockByNumber", "newest")
        check("latest" in bad.get("error", {}).get("message", ""), f"tos_getBlockByNumber 'newest': {bad}")
    finally:
        n.stop()
    return f"3 txs seen waiting in the mempool (nonces {nonce}..{nonce + 2}); latest = head {h}"


def scenario_values_as_text(work):
    """Values as text: tos_getKV/tos_getCode with encoding "text", and
    gtos-inspect rpc|db kv|code --text / --raw."""
    n = Node(work, name="text", params=["target_block_interval_ms=200"]).start()
    text = "h\u00e9llo, w\u00f6rld \u2713"
    blob = bytes([0x00, 0xff, 0xfe, 0x41])  # not UTF-8 from offset 1
    blob_file = os.path.join(work, "blob.bin")
    with open(blob_file, "wb") as f:
        f.write(blob)
    try:
        addr = addr_of(n.key)
        send_ok(n, build(n, "kv-put", "--namespace", "app", "--key", "greeting", "--value", text, "--ttl", "1000"))
        r = send_ok(n, build(n, "kv-put", "--namespace", "app", "--key", "blob", "--value-file", blob_file,
                             "--ttl", "1000"))
        check(receipt_ok(r), f"blob receipt {r}")
        hexs = lambda b: "0x" + b.hex()
        got = n.call("tos_getKV", addr, "app", "greeting", "text")
        check(got["value"] == text, f"tos_getKV text: {got}")
        got = n.call("tos_getKV", addr, hexs(b"app"), hexs(b"greeting"))
        check(got["value"] == hexs(text.encode()), f"tos_getKV hex (default): {got}")
        got = n.call("tos_getKV", addr, hexs(b"app"), hexs(b"greeting"), "hex")
        check(got["value"] == hexs(text.encode()), f"tos_getKV hex: {got}")
        bad = n.rpc("tos_getKV", addr, "app", "blob", "text")
        msg = bad.get("error", {}).get("message", "")
        check(bad.get("error", {}).get("code") == -32602 and "not UTF-8 text" in msg and "offset 1" in msg,
              f"tos_getKV text of a binary value: {bad}")
        bad = n.rpc("tos_getKV", addr, "app", "blob", "base64")
        check(bad.get("error", {}).get("code") == -32602 and "encoding" in bad["error"]["message"],
              f"tos_getKV unknown encoding: {bad}")
        meta = n.call("tos_getKVMeta", addr, "app", "blob", "text")
        check(int(meta["size"]) == 4 and "value" not in meta, f"tos_getKVMeta text: {meta}")
        base = ["gtos-inspect", "rpc", "--rpc", n.url]
        out = json.loads(run(base + ["kv", addr, "app", "greeting", "--text"]).stdout)
        check(out["value"] == text, f"inspect rpc kv --text: {out}")
        raw = run(base + ["kv", addr, "app", "blob", "--raw"]).stdout
        check(raw == blob, f"inspect rpc kv --raw: {raw!r}")
        p = run(base + ["kv", addr, "app", "blob", "--text"], check_exit=False)
        check(p.returncode == 1 and b"not UTF-8 text" in p.stderr and p.stdout == b"",
              f"inspect rpc kv --text of a binary value: exit {p.returncode}, {p.stderr!r}")
        p = run(base + ["kv", addr, "app", "blob", "--text", "--raw"], check_exit=False)
        check(p.returncode == 2, f"--text with --raw: exit {p.returncode}, {p.stderr!r}")
    finally:
        n.stop()
    db = ["gtos-inspect", "db", "--datadir", n.datadir]
    out = json.loads(run(db + ["kv", addr, "app", "greeting", "--text"]).stdout)
    check(out["value"] == text, f"inspect db kv --text: {out}")
    check(run(db + ["kv", addr, "app", "blob", "--raw"]).stdout == blob, "inspect db kv --raw")
    return "a text value read back as text over RPC and from the data directory; a binary one refused as text, raw bytes intact"


def scenario_dev_zero_min_stake(work):
    """--param min_validator_stake=0 (genesis.md allows it): the dev validator
    bonds 1 unit and the chain runs."""
    n = Node(work, params=["target_block_interval_ms=150", "min_validator_stake=0"]).start()
    try:
        n.wait_height(3)
        vals = n.call("dpos_getValidators")
        vals = vals.get("validators", vals) if isinstance(vals, dict) else vals
        check(len(vals) == 1 and int(vals[0]["stake"]) == 1, f"dev validator with min_validator_stake=0: {vals}")
    finally:
        n.stop()


def scenario_rpc_malformed(work):
    n = Node(work, params=["target_block_interval_ms=200"]).start()
    try:
        bad_params = [[], [None], ["0xzz"], [1, 2, 3, 4, 5], [{"a": 1}], ["0x" + "00" * 31], [-1], [1.5], ["x" * 10000]]
        methods = ["tos_chainProfile", "tos_blockNumber", "tos_getBlockByNumber", "tos_getTransaction",
                   "tos_getReceipt", "tos_sendRawTransaction", "tos_getAccount", "tos_getSigner", "tos_getKV",
                   "tos_getKVMeta", "tos_getCode", "tos_getCodeMeta", "tos_getRetentionPolicy",
                   "tos_getPruneWatermark", "dpos_getValidators", "dpos_getEpochInfo"]
        for m in methods:
            for p in bad_params:
                reply = n.rpc(m, *p)
                check("result" in reply or "error" in reply, f"{m}{p}: not a JSON-RPC reply: {reply}")
                if "error" in reply:
                    check(isinstance(reply["error"].get("code"), int), f"{m}{p}: error without code {reply}")
        for raw in (b"{not json", b"[]", b"42", json.dumps({"jsonrpc": "2.0", "id": 1}).encode()):
            req = urllib.request.Request(n.url, data=raw, headers={"Content-Type": "application/json"})
            try:
                with urllib.request.urlopen(req, timeout=10) as r:
                    reply = json.loads(r.read())
            except urllib.error.HTTPError as e:
                reply = json.loads(e.read() or b"{}")
            check("error" in json.dumps(reply), f"{raw!r}: no error in {reply}")
        big = b'{"jsonrpc":"2.0","id":1,"method":"tos_blockNumber","params":["' + b"a" * (40 << 20) + b'"]}'
        req = urllib.request.Request(n.url, data=big, headers={"Content-Type": "application/json"})
        refused = False
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                refused = "error" in json.loads(r.read())
        except urllib.error.HTTPError as e:
            refused = e.code in (400, 413)
        except (ConnectionError, urllib.error.URLError):
            refused = True
        check(refused, "oversize request was not refused")
        check(n.proc.poll() is None, "node died")
        h = n.height()
        n.wait_height(h + 1)
    finally:
        n.stop()


SCENARIOS = {name[len("scenario_"):]: fn for name, fn in globals().items() if name.startswith("scenario_")}


def main():
    global BIN, ENV
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("scenarios", nargs="*")
    args = ap.parse_args()
    BIN = os.path.abspath(args.bin)
    dirs = [BIN] + [os.path.join(BIN, d) for d in sorted(os.listdir(BIN)) if os.path.isdir(os.path.join(BIN, d))]
    ENV = dict(os.environ)
    ENV["PATH"] = os.pathsep.join(dirs + [ENV.get("PATH", "")])
    ENV.pop("GTOS_PASSPHRASE_FILE", None)
    names = args.scenarios or list(SCENARIOS)
    passed = failed = 0
    for name in names:
        work = tempfile.mkdtemp(prefix=f"gtos-node-{name}-")
        start = time.time()
        try:
            SCENARIOS[name](work)
            passed += 1
            print(f"ok   {name} ({time.time() - start:.1f}s)", flush=True)
            shutil.rmtree(work, ignore_errors=True)
        except Exception as e:
            failed += 1
            print(f"FAIL {name}: {e}", flush=True)
            if not isinstance(e, Fail):
                traceback.print_exc()
            for log in sorted(os.listdir(work)):
                if log.endswith(".log"):
                    with open(os.path.join(work, log), errors="replace") as f:
                        tail = f.read()[-3000:]
                    print(f"---- {log} (tail)\n{tail}")
            shutil.rmtree(work, ignore_errors=True)
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
