#!/usr/bin/env python3
"""Multi-validator acceptance tests of gtos-node on loopback.

Each scenario builds its own fresh network with the real tools: a genesis
ceremony (gtos-keys new, gtos-genesis new/add-account/gentx/collect/hash, as
examples/testnet.sh does), `gtos-node init` per node, then 4 validators (and
sometimes an observer or a fifth validator) running `gtos-node run` with
--p2p-addr and --peer on 127.0.0.1, a 100 ms target block interval and short
epochs. Scenarios drive the nodes with signals, JSON-RPC, /metrics and raw
TCP, and compare every node's block hash and state root at every height.
Prints one line per scenario and a closing "N passed, N failed".

  net_test.py --bin BUILD/cmd [--finality-blocks N] [scenario ...]
"""
import argparse
import json
import os
import random
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import p2pwire  # noqa: E402

ENV = None
OPTS = None
INTERVAL_MS = 100
EPOCH = 20
STAKE = 2_000_000
FUNDS = 10**15


class Fail(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise Fail(msg)


def log(msg):
    if OPTS and OPTS.verbose:
        print(f"     {time.strftime('%H:%M:%S')} {msg}", flush=True)


_ports = set()
# [lo, hi) of the loopback ports this module hands out. Below Linux's
# ephemeral range (32768 and up): a port the kernel hands out for port 0 or
# for an outgoing connection could be taken again before the node binds it.
# Disjoint ranges, so that ctest can run the suites in parallel:
# examples/testnet.sh 20000-22999, single-node examples and tool tables
# 23000-25999, net_test.py 26000-29999, storage_test.py
# (which imports this module and sets PORT_RANGE) 30000-32767.
PORT_RANGE = (26000, 30000)


def free_port():
    while True:
        p = random.randrange(*PORT_RANGE)
        if p in _ports:
            continue
        s = socket.socket()
        try:
            s.bind(("127.0.0.1", p))
        except OSError:
            continue
        finally:
            s.close()
        _ports.add(p)
        return p


def run(args, stdin=None, check_exit=True, timeout=120):
    p = subprocess.run(args, input=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=ENV, timeout=timeout)
    if check_exit and p.returncode != 0:
        raise Fail(f"{' '.join(map(str, args))} exited {p.returncode}: {p.stderr.decode(errors='replace')}")
    return p


def wait_for(pred, timeout, what, interval=0.1):
    deadline = time.time() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.time() > deadline:
            raise Fail(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


class RpcError(Exception):
    pass


class Node:
    """One gtos-node run process: its keys, data directory and ports."""

    def __init__(self, net, name, key=None, passphrase=None):
        self.net = net
        self.name = name
        self.dir = os.path.join(net.work, name)
        os.makedirs(self.dir, exist_ok=True)
        self.datadir = os.path.join(self.dir, "data")
        self.key = key            # validator key file (None: observer)
        self.passphrase = passphrase
        self.rpc_port = free_port()
        self.p2p_port = free_port()
        self.url = f"http://127.0.0.1:{self.rpc_port}"
        self.p2p = f"127.0.0.1:{self.p2p_port}"
        self.logpath = os.path.join(net.work, f"{name}.log")
        self.proc = None
        self.address = run(["gtos-keys", "addr", key]).stdout.decode().strip() if key else None

    def init(self, install_key=True):
        args = ["gtos-node", "init", "--datadir", self.datadir, "--genesis", self.net.genesis]
        if self.key and install_key:
            args += ["--key", self.key]
            if self.passphrase:
                args += ["--passphrase-file", self.passphrase]
        run(args)
        check(os.path.exists(os.path.join(self.datadir, "node.key")), f"{self.name}: init made no node.key")
        mode = os.stat(os.path.join(self.datadir, "node.key")).st_mode & 0o777
        check(mode == 0o600, f"{self.name}: node.key has mode {oct(mode)}, not 0600")

    def start(self, extra=(), peers=None, wait_ready=True):
        args = ["gtos-node", "run", "--datadir", self.datadir, "--rpc-addr", f"127.0.0.1:{self.rpc_port}",
                "--p2p-addr", self.p2p]
        if self.passphrase:
            args += ["--passphrase-file", self.passphrase]
        for p in (peers if peers is not None else [n.p2p for n in self.net.nodes if n is not self]):
            args += ["--peer", p]
        args += list(extra)
        logf = open(self.logpath, "ab")
        logf.write(f"==== {time.strftime('%H:%M:%S')} {' '.join(args)}\n".encode())
        logf.flush()
        self.proc = subprocess.Popen(args, stdout=logf, stderr=logf, env=ENV)
        logf.close()
        if wait_ready:
            self.wait_ready()
        return self

    def wait_ready(self, timeout=30):
        def ready():
            check(self.proc.poll() is None, f"{self.name} exited with {self.proc.returncode} at start")
            try:
                with urllib.request.urlopen(self.url + "/readyz", timeout=1) as r:
                    return r.status == 200
            except Exception:
                return False
        wait_for(ready, timeout, f"{self.name} to be ready", 0.05)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, sig=signal.SIGTERM, timeout=20):
        if self.alive():
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise Fail(f"{self.name} did not stop within {timeout}s of signal {sig}")
        return self.proc.returncode if self.proc else None

    def kill9(self):
        self.proc.kill()
        self.proc.wait()

    # -- RPC
    def rpc(self, method, *params, timeout=10):
        body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)}).encode()
        req = urllib.request.Request(self.url, data=body, headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return json.loads(r.read())

    def call(self, method, *params):
        reply = self.rpc(method, *params)
        if "error" in reply:
            raise RpcError(f"{self.name} {method}{params}: error {reply['error']}")
        return reply["result"]

    def batch(self, calls, timeout=30):
        body = json.dumps([{"jsonrpc": "2.0", "id": i, "method": m, "params": list(p)}
                           for i, (m, p) in enumerate(calls)]).encode()
        req = urllib.request.Request(self.url, data=body, headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=timeout) as r:
            replies = json.loads(r.read())
        replies.sort(key=lambda x: x["id"])
        out = []
        for (m, p), rep in zip(calls, replies):
            if "error" in rep:
                raise RpcError(f"{self.name} {m}{p}: error {rep['error']}")
            out.append(rep["result"])
        return out

    def height(self):
        return int(self.call("tos_blockNumber"))

    def try_height(self):
        try:
            return self.height()
        except Exception:
            return -1

    def block(self, h):
        return self.call("tos_getBlockByNumber", h)

    def blocks(self, lo, hi):
        """Blocks lo..hi (inclusive), fetched with batched requests."""
        out = []
        for start in range(lo, hi + 1, 200):
            out += self.batch([("tos_getBlockByNumber", (h,)) for h in range(start, min(hi, start + 199) + 1)])
        return out

    def metrics(self):
        with urllib.request.urlopen(self.url + "/metrics", timeout=10) as r:
            text = r.read().decode()
        m = {}
        for line in text.splitlines():
            if line and not line.startswith("#"):
                parts = line.split()
                if len(parts) >= 2:
                    try:
                        m[parts[0]] = float(parts[1])
                    except ValueError:
                        pass
        return m

    def metric(self, name):
        return self.metrics().get(name)

    def wait_height(self, h, timeout=None):
        timeout = timeout or 30

        def reached():
            check(self.alive(), f"{self.name} exited ({self.proc.returncode})")
            return self.try_height() >= h
        wait_for(reached, timeout, f"{self.name} to reach height {h} (at {self.try_height()})", 0.05)

    def validators(self):
        return {v["address"]: v for v in self.call("dpos_getValidators")}


class Network:
    """A genesis ceremony for n validators (plus funded extra keys) and the nodes."""

    # Genesis parameters of every network; `params` ("name=value" strings)
    # override these by name and add others.
    DEFAULT_PARAMS = {"target_block_interval_ms": None, "epoch_length": None, "retain_blocks": "1000000",
                      "unbonding_blocks": "100000"}

    def __init__(self, work, n=4, extra_keys=0, params=()):
        self.work = work
        self.chain = f"gtos-net-{os.getpid()}-{random.randrange(1 << 30)}"
        self.nodes = []
        inbox = os.path.join(work, "inbox")
        os.makedirs(inbox)
        vals = []
        for i in range(n):
            d = os.path.join(work, f"val{i}")
            os.makedirs(d)
            pw = os.path.join(d, "pass.txt")
            with open(pw, "w") as f:
                f.write(f"val{i} passphrase\n")
            os.chmod(pw, 0o600)
            key = os.path.join(d, "validator.key")
            # Unencrypted: every (re)start would otherwise spend a second of
            # CPU on scrypt (N = 2^17). The passphrase file is still passed
            # around and ignored, as for any plain key.
            run(["gtos-keys", "new", "--unencrypted", "-o", key])
            vals.append((key, pw))
        self.extra = []   # unencrypted funded keys
        for i in range(extra_keys + 1):  # the last one is the load sender
            key = os.path.join(work, f"extra{i}.key")
            run(["gtos-keys", "new", "--unencrypted", "-o", key])
            self.extra.append(key)
        self.user = self.extra.pop()
        # Nodes first: their p2p ports go into the gentx records.
        for i, (key, pw) in enumerate(vals):
            node = Node(self, f"val{i}", key, pw)
            self.nodes.append(node)
            run(["gtos-genesis", "gentx", "--chain-id", self.chain, "--key", key, "--passphrase-file", pw,
                 "--stake", str(STAKE), "--p2p-addr", node.p2p, "-o", os.path.join(inbox, f"val{i}.gentx")])
        g0 = os.path.join(work, "genesis.0")
        merged = dict(self.DEFAULT_PARAMS, target_block_interval_ms=str(INTERVAL_MS), epoch_length=str(EPOCH))
        for p in params:
            name, _, value = p.partition("=")
            merged[name] = value
        args = ["gtos-genesis", "new", "--chain-id", self.chain]
        for name, value in merged.items():
            args += ["--param", f"{name}={value}"]
        run(args + ["-o", g0])
        for node in self.nodes:
            run(["gtos-genesis", "add-account", node.address, str(STAKE + FUNDS), g0, "-o", g0])
        for key in self.extra + [self.user]:
            addr = run(["gtos-keys", "addr", key]).stdout.decode().strip()
            run(["gtos-genesis", "add-account", addr, str(FUNDS), g0, "-o", g0])
        self.genesis = os.path.join(work, "genesis.bin")
        gentx = sorted(os.path.join(inbox, f) for f in os.listdir(inbox))
        with open(g0, "rb") as f:
            out = run(["gtos-genesis", "collect"] + gentx, stdin=f.read()).stdout
        with open(self.genesis, "wb") as f:
            f.write(out)
        run(["gtos-genesis", "validate", self.genesis])
        announced = run(["gtos-genesis", "hash", self.genesis]).stdout.strip()
        for node in self.nodes:  # each participant checks the hash of its copy
            mine = os.path.join(node.dir, "genesis.bin")
            shutil.copy(self.genesis, mine)
            check(run(["gtos-genesis", "hash", mine]).stdout.strip() == announced, f"{node.name}: genesis hash")
            node.init()

    def add_node(self, name, key=None, passphrase=None):
        node = Node(self, name, key, passphrase)
        node.init(install_key=False)
        return node

    def start(self, extra_args=None):
        extra_args = extra_args or {}
        for node in self.nodes:
            node.start(extra_args.get(node.name, ()), wait_ready=False)
        for node in self.nodes:
            node.wait_ready()
        return self

    def running(self):
        return [n for n in self.nodes if n.alive()]

    def stop_all(self):
        errors = []
        for node in self.nodes:
            if node.alive():
                node.proc.send_signal(signal.SIGTERM)
        for node in self.nodes:
            if node.proc is None:
                continue
            try:
                node.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                node.proc.kill()
                node.proc.wait()
                errors.append(f"{node.name} did not stop within 20s of SIGTERM")
        return errors

    def min_height(self, nodes=None):
        return min(n.try_height() for n in (nodes or self.running()))

    def wait_all(self, h, nodes=None, timeout=None):
        nodes = nodes or self.running()
        timeout = timeout or 60
        deadline = time.time() + timeout
        for n in nodes:
            n.wait_height(h, max(1.0, deadline - time.time()))

    def compare(self, nodes=None, lo=1, hi=None):
        """Every node reports the same hash, state root and headers at every
        height lo..hi; returns node 0's blocks."""
        nodes = nodes or self.running()
        hi = hi if hi is not None else min(n.height() for n in nodes)
        ref = nodes[0].blocks(lo, hi)
        for h, b in zip(range(lo, hi + 1), ref):
            check(int(b["height"]) == h, f"{nodes[0].name}: block {h} reports height {b['height']}")
            check(b.get("commit") and int(b["commit"]["height"]) == h and b["commit"]["block_hash"] == b["hash"],
                  f"{nodes[0].name}: block {h} has no commit certificate for its hash: {b.get('commit')}")
            if h > lo:
                check(b["parent_hash"] == ref[h - lo - 1]["hash"], f"block {h}: parent_hash is not block {h - 1}")
        for n in nodes[1:]:
            got = n.blocks(lo, hi)
            for h, a, b in zip(range(lo, hi + 1), ref, got):
                for field in ("hash", "state_root", "validators_hash", "next_validators_hash", "proposer"):
                    check(a[field] == b[field], f"block {h}: {field} {a[field]} on {nodes[0].name}, "
                                                f"{b[field]} on {n.name}")
        return ref


class Sender:
    """Background TTL churn: kv-put txs with TTLs of 1..6 blocks from the
    funded user key, signed in batches and posted to /tx of the running
    nodes in turn; each batch starts at the target node's next_nonce."""

    def __init__(self, net, per_batch=10, pause=0.2):
        self.net = net
        self.per_batch = per_batch
        self.pause = pause
        self.stop_ev = threading.Event()
        self.sent = 0
        self.accepted = 0
        self.errors = []
        self.addr = run(["gtos-keys", "addr", net.user]).stdout.decode().strip()
        self.template = json.loads(run(["gtos-tx", "build", "kv-put", "--chain-id", net.chain, "--from-key", net.user,
                                        "--nonce", "0", "--namespace", "churn", "--key", "k", "--value", "v" * 32,
                                        "--ttl", "1", "--fee", "10000000", "--json"]).stdout)
        self.thread = threading.Thread(target=self.loop, daemon=True)

    def start(self):
        self.thread.start()
        return self

    def loop(self):
        i = 0
        while not self.stop_ev.is_set():
            targets = self.net.running()
            if not targets:
                time.sleep(self.pause)
                continue
            node = targets[i % len(targets)]
            i += 1
            try:
                nonce = int(node.call("tos_getAccount", self.addr)["next_nonce"])
                lines = []
                for k in range(self.per_batch):
                    t = json.loads(json.dumps(self.template))
                    t.pop("id", None)
                    t["tx"]["nonce"] = nonce + k
                    t["tx"]["payload"]["key"] = "0x" + f"k{random.randrange(50)}".encode().hex()
                    t["tx"]["payload"]["ttl"] = random.randint(1, 6)
                    lines.append(json.dumps(t))
                unsigned = run(["gtos-inspect", "--encode"], stdin=("\n".join(lines) + "\n").encode()).stdout
                signed = run(["gtos-tx", "sign", "--key", self.net.user], stdin=unsigned).stdout
                req = urllib.request.Request(node.url + "/tx", data=signed,
                                             headers={"Content-Type": "application/msgpack"})
                with urllib.request.urlopen(req, timeout=10) as r:
                    reply = json.loads(r.read())
                self.sent += self.per_batch
                self.accepted += sum(1 for e in reply if "id" in e)
                self.errors += [str(e["error"]) for e in reply if "error" in e]
            except Exception as e:  # a node going down mid-request is expected in some scenarios
                self.errors.append(repr(e))
            self.stop_ev.wait(self.pause)

    def stop(self):
        self.stop_ev.set()
        self.thread.join(timeout=30)


def build_tx(net, node, kind, key, *args, passphrase=None):
    unsigned = run(["gtos-tx", "build", kind, "--chain-id", net.chain, "--from-key", key, "--rpc", node.url]
                   + list(args)).stdout
    sign = ["gtos-tx", "sign", "--key", key] + (["--passphrase-file", passphrase] if passphrase else [])
    return run(sign, stdin=unsigned).stdout


def send_wait(node, signed, timeout=60):
    p = run(["gtos-tx", "send", "--rpc", node.url, "--json", "--wait", "--timeout", str(timeout)], stdin=signed,
            check_exit=False, timeout=timeout + 30)
    receipts = [json.loads(l) for l in p.stdout.decode().splitlines() if l.strip()]
    check(p.returncode == 0 and receipts, f"send to {node.name} failed ({p.returncode}): {p.stderr.decode()}")
    r = receipts[-1]
    check(r.get("status") in ("ok", 0), f"tx failed: {r}")
    return r


# ---- scenarios ---------------------------------------------------------------

def scenario_finality_1000(work):
    target = OPTS.finality_blocks
    net = Network(work).start()
    sender = Sender(net).start()
    try:
        t0 = time.time()
        last_log = 0
        while True:
            for n in net.nodes:
                check(n.alive(), f"{n.name} exited ({n.proc.returncode})")
            low = net.min_height()
            if low >= target:
                break
            check(time.time() - t0 < target * INTERVAL_MS / 1000 * 8 + 60,
                  f"only {low} of {target} blocks after {time.time() - t0:.0f}s")
            if time.time() - last_log > 10:
                log(f"finality: {low}/{target} blocks, {sender.accepted} txs accepted")
                last_log = time.time()
            time.sleep(0.5)
        elapsed = time.time() - t0
    finally:
        sender.stop()
    ref = net.compare(hi=target)
    txs = sum(len(b["txs"]) for b in ref)
    check(txs > 0, f"no churn tx was finalized ({sender.sent} sent, errors {sender.errors[:3]})")
    # TTL churn really expired things: a key written with a small TTL is gone.
    addr = sender.addr
    gone = 0
    for k in range(50):
        rep = net.nodes[0].rpc("tos_getKVMeta", addr, "0x" + b"churn".hex(), "0x" + f"k{k}".encode().hex())
        gone += "error" in rep
    check(gone > 0, "no churn key has expired")
    errors = net.stop_all()
    check(not errors, "; ".join(errors))
    for n in net.nodes:
        check(n.proc.returncode == 0, f"{n.name} exited {n.proc.returncode} on SIGTERM")
    return (f"{target} blocks in {elapsed:.0f}s ({target / elapsed:.1f}/s), {txs} churn txs, "
            f"identical on 4 nodes")


def scenario_kill9_restart(work):
    net = Network(work).start()
    sender = Sender(net).start()
    try:
        net.wait_all(15)
        victim = net.nodes[2]
        victim.kill9()
        h = net.min_height()
        net.wait_all(h + 15, timeout=60)  # finality continues on the other three
        victim.start()
        target = max(n.height() for n in net.running()) + 5
        victim.wait_height(target, 90)
        net.wait_all(target)
    finally:
        sender.stop()
    net.compare()
    synced = victim.metric("gtos_blocks_synced_total") or 0
    check(synced > 0, "the restarted node synced no block (gtos_blocks_synced_total is 0)")
    errors = net.stop_all()
    check(not errors, "; ".join(errors))
    return (f"killed at ~{h}, others went on, restarted node block-synced {synced:.0f} blocks, "
            f"caught up to {target} and agrees")


def scenario_double_sign_check(work):
    """double_sign_check_height: a second instance of a validator's key (a
    fresh data directory, no privval state) sees that key's precommits in
    the commits it syncs, signs nothing for N heights, then signs again."""
    N = 20
    net = Network(work).start()
    net.wait_all(10)
    victim = net.nodes[3]
    check(victim.stop() == 0, "SIGTERM exit status not 0")
    victim_last = net.nodes[0].height()
    twin = net.add_node("twin", key=victim.key, passphrase=victim.passphrase)
    twin.start(["--validator-key", victim.key, "--double-sign-check-height", str(N)],
               peers=[n.p2p for n in net.running()], wait_ready=False)
    # Its own signatures reach back to where the victim stopped; the twin
    # may sign again from (the newest of them) + N + 1.
    def held():
        with open(twin.logpath, errors="replace") as f:
            return "another instance may be running" in f.read()
    wait_for(held, 60, "the twin logging the double-sign hold")
    twin.wait_height(victim_last + 1, 60)  # past every commit the victim signed
    gate = int(twin.metric("gtos_consensus_sign_hold_until_height") or 0)
    target = gate + 15
    twin.wait_height(target, 90)
    addr = victim.address
    signed = {}
    for b in twin.blocks(1, target):
        h = int(b["height"])
        signed[h] = any(s["validator"] == addr for s in (b.get("commit") or {}).get("signatures", []))
    newest_victim = max(h for h, v in signed.items() if v and h < gate - N)
    check(gate == newest_victim + N + 1, f"hold until {gate}, expected newest victim signature {newest_victim} + {N} + 1")
    early = [h for h in range(newest_victim + 1, gate) if signed.get(h)]
    check(not early, f"the key signed during the hold (heights {early}, hold until {gate})")
    late = [h for h in range(gate, target + 1) if signed.get(h)]
    check(late, f"the twin never signed after the hold ended at {gate} (up to {target})")
    # No false alarm: a validator killed and restarted with the option
    # finds only signatures its own privval state made.
    other = net.nodes[1]
    other.kill9()
    other.start(["--double-sign-check-height", str(N)], wait_ready=False)
    h_back = twin.height() + 10
    other.wait_height(h_back, 60)
    hold = int(other.metric("gtos_consensus_sign_hold_until_height") or 0)
    check(hold == 0, f"a plain restart with --double-sign-check-height held signing until {hold}")
    back = [int(b["height"]) for b in twin.blocks(h_back - 5, h_back)
            if any(s["validator"] == other.address for s in (b.get("commit") or {}).get("signatures", []))]
    check(back, f"{other.name} signed nothing in {h_back - 5}..{h_back} after its restart")
    code = twin.stop()
    check(code == 0, f"twin exit status {code}")
    errors = net.stop_all()
    check(not errors, "; ".join(errors))
    return (f"victim stopped near {victim_last}; the twin held from its newest signature {newest_victim} until {gate} "
            f"(N={N}), nothing signed in between, signed again at {late[0]}")


def readyz(node):
    """(HTTP status, body) of GET /readyz; (0, error) when it does not answer."""
    try:
        with urllib.request.urlopen(node.url + "/readyz", timeout=2) as r:
            return r.status, r.read().decode(errors="replace")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(errors="replace")
    except Exception as e:  # noqa: BLE001 - not up yet
        return 0, str(e)


def scenario_no_quorum(work):
    net = Network(work).start()
    net.wait_all(10)
    for n in net.nodes:
        st, body = readyz(n)
        check(st == 200 and body == "ready", f"{n.name}: /readyz {st} {body!r} on a healthy chain")
    a, b = net.nodes[1], net.nodes[2]
    check(a.stop() == 0 and b.stop() == 0, "SIGTERM exit status not 0")
    t_lost = time.time()
    live = net.running()
    # /readyz fails within three block intervals of the last commit once the
    # quorum is gone (docs/node.md "Health and metrics"); the poll allows a
    # second of scheduling on a loaded machine.
    went_503 = {}
    while len(went_503) < len(live) and time.time() - t_lost < 3 * INTERVAL_MS / 1000 + 1.0:
        for n in live:
            if n.name not in went_503:
                st, body = readyz(n)
                if st == 503:
                    went_503[n.name] = (round(time.time() - t_lost, 2), body)
        time.sleep(0.01)
    check(len(went_503) == len(live), f"/readyz still 200 on {[n.name for n in live if n.name not in went_503]} "
                                      f"{3 * INTERVAL_MS / 1000 + 1.0:.1f}s after the quorum was lost ({went_503})")
    for name, (_, body) in went_503.items():
        check("no quorum" in body or "no block committed" in body, f"{name}: /readyz reason {body!r}")
    time.sleep(1.0)  # a block already decided may still be committed
    before = [n.height() for n in live]
    time.sleep(max(5.0, 40 * INTERVAL_MS / 1000))
    after = [n.height() for n in live]
    check(before == after, f"blocks were finalized without a quorum: {before} -> {after}")
    for n in live:
        st, body = readyz(n)
        check(st == 503, f"{n.name}: /readyz {st} {body!r} while no block is finalized")
        with open(n.logpath, errors="replace") as f:
            stuck = [l for l in f if "height stuck" in l]
        check(stuck and "prevote_power=" in stuck[-1] and "round=" in stuck[-1] and "step=" in stuck[-1],
              f"{n.name}: no 'height stuck' line with round, step and powers after 6 s without a block")
    m = live[0].metrics()
    rnd = m.get("gtos_consensus_round")
    a.start()
    h = max(after)
    net.wait_all(h + 5, timeout=90)
    back = {}
    deadline = time.time() + 10
    while len(back) < 3 and time.time() < deadline:
        for n in net.running():
            if readyz(n)[0] == 200:
                back[n.name] = True
        time.sleep(0.05)
    check(len(back) == 3, f"/readyz not back to 200 after recovery: {sorted(back)} of {[n.name for n in net.running()]}")
    net.compare()
    errors = net.stop_all()
    check(not errors, "; ".join(errors))
    first = min(t for t, _ in went_503.values())
    last = max(t for t, _ in went_503.values())
    return (f"/readyz 503 {first}..{last}s after the quorum was lost ({next(iter(went_503.values()))[1]!r}); "
            f"stuck at {after} for 5s (round {rnd}), resumed past {h + 5} with 3 of 4, /readyz 200 again")


def scenario_proposer_offline(work):
    net = Network(work).start()
    net.wait_all(5)
    off = net.nodes[3]
    check(off.stop() == 0, "SIGTERM exit status not 0")
    time.sleep(0.5)
    h0 = net.min_height()
    max_round = 0
    deadline = time.time() + 120
    while net.min_height() < h0 + 30:
        check(time.time() < deadline, f"heights stalled with one validator down (at {net.min_height()})")
        for n in net.running():
            r = n.metric("gtos_consensus_last_decide_round") or 0
            max_round = max(max_round, r)
        time.sleep(0.1)
    blocks = net.compare(lo=h0 + 2)
    proposers = {}
    rounds = []
    for b in blocks:
        proposers[b["proposer"]] = proposers.get(b["proposer"], 0) + 1
        rounds.append(int(b["commit"]["round"]))
    check(off.address not in proposers, f"the offline validator proposed {proposers.get(off.address)} blocks")
    check(len(proposers) >= 2, f"only {len(proposers)} proposer(s) while one validator was down: {proposers}")
    check(max(rounds) > 0 or max_round > 0, "no block needed a round change with its proposer offline")
    errors = net.stop_all()
    check(not errors, "; ".join(errors))
    return (f"{len(blocks)} blocks without {net.nodes[3].name}; {sum(1 for r in rounds if r > 0)} decided in "
            f"round > 0 (max {max(rounds)}), proposers {sorted(proposers.values())}")


def scenario_late_joiner(work):
    net = Network(work).start()
    obs = net.add_node("observer")
    net.wait_all(100, timeout=120)
    h_start = max(n.height() for n in net.nodes)
    obs.start(wait_ready=False)
    # Readiness never claims "ready" while the observer is far behind.
    seen = []
    deadline = time.time() + 60
    while time.time() < deadline:
        st, body = readyz(obs)
        kind = ":".join(body.split(":")[:2])  # "ready", "not ready: catching up", "not ready: no peers (...)"
        if st and (not seen or seen[-1][:2] != (st, kind)):
            seen.append((st, kind, obs.try_height()))
        if st == 200:
            break
        time.sleep(0.005)
    h_ready = obs.height()
    check(seen and seen[-1][0] == 200, f"the observer's /readyz never became 200: {seen}")
    check(h_ready >= h_start - 1, f"/readyz said ready at height {h_ready}, while the chain was at {h_start}: {seen}")
    bad = [x for x in seen if x[0] == 503 and not x[1].startswith("not ready")]
    check(not bad, f"/readyz 503 bodies without 'not ready': {bad}")
    power = obs.metric("gtos_consensus_validator_power")
    check(not power, f"the observer has voting power {power}")
    target = max(n.height() for n in net.nodes) + 3
    obs.wait_height(target, 90)
    synced = obs.metric("gtos_blocks_synced_total") or 0
    check(synced > 0, "the observer synced no block (gtos_blocks_synced_total is 0)")
    net.compare(nodes=[obs] + net.nodes, hi=target)
    h = obs.height()
    obs.wait_height(h + 5)  # and keeps following
    peers = obs.call("net_peers")
    keys = {n.node_key for n in net.nodes if getattr(n, "node_key", None)}
    check(peers and all(p["direction"] in ("inbound", "outbound") and int(p["bytes_in"]) > 0 and
                        int(p["bytes_out"]) > 0 and int(p["connected_ms"]) > 0 for p in peers),
          f"the observer's net_peers: {peers}")
    if keys:
        check({p["node_key"] for p in peers} <= keys, f"net_peers node keys {[p['node_key'] for p in peers]} not the validators'")
    sync = obs.call("tos_syncing")
    check(sync["catching_up"] is False and int(sync["peers"]) == len(peers) or int(sync["peers"]) > 0,
          f"the observer's tos_syncing: {sync}")
    check(obs.stop() == 0, "observer SIGTERM exit status not 0")
    errors = net.stop_all()
    check(not errors, "; ".join(errors))
    return (f"observer joined at ~{target - 3}, synced {synced:.0f} blocks, agrees on 1..{target}; "
            f"/readyz on the way: {[(x[0], x[1]) for x in seen]}, first 200 at height {h_ready} (chain at {h_start})")


def scenario_equivocation(work):
    net = Network(work).start({"val3": ["--unsafe-equivocate"]})
    bad = net.nodes[3]
    permille = int(net.nodes[0].call("tos_chainProfile")["params"].get("slash_double_sign_permille", 50))
    before = net.nodes[0].validators()[bad.address]
    check(int(before["stake"]) == STAKE and not before["jailed"], f"validator before: {before}")

    def jailed():
        v = net.nodes[0].validators().get(bad.address)
        return v if v and v["jailed"] else None
    v = wait_for(jailed, 90, "the equivocating validator to be jailed", 0.2)
    slash = STAKE // 1000 * permille + STAKE % 1000 * permille // 1000
    check(int(v["stake"]) == STAKE - slash, f"stake {v['stake']}, expected {STAKE} - {slash} ({permille} per mille)")
    h = net.min_height(net.nodes[:3])
    net.wait_all(h + 10, nodes=net.nodes[:3])
    blocks = net.compare(nodes=net.nodes[:3])
    with_ev = [b for b in blocks if b.get("evidence")]
    check(with_ev, "no block carries the evidence")
    named = json.dumps(with_ev[0]["evidence"])
    check(bad.address[2:] in named, f"the evidence does not name {bad.address}: {named[:300]}")
    for n in net.nodes[:3]:
        check(n.validators()[bad.address]["jailed"], f"{n.name} does not show the validator jailed")
    # At the next epoch boundary the jailed validator leaves the active set.
    boundary = (int(with_ev[0]["height"]) // EPOCH + 1) * EPOCH
    net.wait_all(boundary + 2, nodes=net.nodes[:3])
    v2 = net.nodes[0].validators()[bad.address]
    check(not v2.get("active", False), f"still active after the boundary {boundary}: {v2}")
    hb = net.nodes[0].height()
    net.wait_all(hb + 5, nodes=net.nodes[:3])
    net.compare(nodes=net.nodes[:3])
    errors = net.stop_all()
    check(not errors, "; ".join(errors))
    return (f"evidence in block {with_ev[0]['height']}, stake {STAKE} -> {v['stake']}, jailed, out of the set "
            f"after block {boundary}; chain went on")


def scenario_epoch_change(work):
    net = Network(work, extra_keys=1)
    newkey = net.extra[0]
    newnode = net.add_node("val4", key=newkey)  # not in the genesis set: it follows until it is active
    net.start()
    newnode.start(["--validator-key", newkey])
    check(not newnode.metric("gtos_consensus_validator_power"), "the new validator has power before registering")
    net.wait_all(3)
    leaver = net.nodes[0]
    # Register the new validator (its key is operator and consensus key) and unbond val0 fully.
    reg = build_tx(net, net.nodes[1], "validator-register", newkey, "--stake", str(STAKE), "--consensus-key", newkey)
    unb = build_tx(net, net.nodes[2], "validator-unbond", leaver.key, "--amount", str(STAKE),
                   passphrase=leaver.passphrase)
    r1 = send_wait(net.nodes[1], reg)
    r2 = send_wait(net.nodes[2], unb)
    last = max(int(r1["height"]), int(r2["height"]))
    boundary = -(-last // EPOCH) * EPOCH  # the first boundary block at or after both
    log(f"register at {r1['height']}, unbond at {r2['height']}, boundary {boundary}")
    everyone = net.nodes + [newnode]
    net.wait_all(boundary + EPOCH // 2, nodes=everyone, timeout=120)
    blocks = net.compare(nodes=everyone)
    by_h = {int(b["height"]): b for b in blocks}
    old = by_h[1]["validators_hash"]
    for h in range(1, boundary + 1):
        check(by_h[h]["validators_hash"] == old, f"validators_hash changed at {h}, before the boundary {boundary}")
    for h in range(1, boundary):
        check(by_h[h]["next_validators_hash"] == old, f"next_validators_hash changed at {h}, before {boundary}")
    new = by_h[boundary]["next_validators_hash"]
    check(new != old, f"next_validators_hash of the boundary block {boundary} did not change")
    for h in range(boundary + 1, max(by_h) + 1):
        check(by_h[h]["validators_hash"] == new, f"block {h}: validators_hash is not the new set")
    for n in everyone:
        vs = n.validators()
        check(vs.get(newnode.address, {}).get("active"), f"{n.name}: the new validator is not active: {vs.get(newnode.address)}")
        check(not vs.get(leaver.address, {}).get("active"), f"{n.name}: the unbonded validator is still active")
        e = n.call("dpos_getEpochInfo")
        check(int(e["epoch_start"]) == boundary + 1 or int(e["head"]) > boundary + EPOCH,
              f"{n.name}: epoch_start {e['epoch_start']}, expected {boundary + 1}")
        if "active_set_hash" in e and int(e["head"]) <= boundary + EPOCH:
            check(e["active_set_hash"] == new, f"{n.name}: active_set_hash {e['active_set_hash']} != {new}")
    # The new validator votes: its address is in later commit certificates, and it has power.
    late = [b for b in blocks if int(b["height"]) > boundary + 2]
    signed = sum(1 for b in late if newnode.address[2:] in json.dumps(b["commit"]))
    check(signed > 0, f"the new validator signed none of the {len(late)} commits after the boundary")
    left = sum(1 for b in late if leaver.address[2:] in json.dumps(b["commit"]))
    check(left == 0, f"the unbonded validator is still in {left} commit certificates")
    check(newnode.metric("gtos_consensus_validator_power"), "the new validator reports no voting power")
    h = net.min_height(everyone)
    net.wait_all(h + 5, nodes=everyone)
    errors = net.stop_all()
    check(newnode.stop() == 0, "new validator SIGTERM exit status not 0")
    check(not errors, "; ".join(errors))
    return (f"register/unbond at {r1['height']}/{r2['height']}, set changed after block {boundary}; "
            f"new validator signed {signed}/{len(late)} later commits")


def msgpack_str(s):
    b = s.encode()
    check(len(b) < 32, "fixstr only")
    return bytes([0xa0 | len(b)]) + b


def msgpack_bin(b):
    return bytes([0xc4, len(b)]) + b


def frame(payload):
    return struct.pack(">I", len(payload)) + payload


def dropped(port, data, what, timeout=10):
    """Connects, sends data, and returns True when the node closes the socket."""
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    try:
        s.settimeout(timeout)
        try:
            s.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            return True
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                chunk = s.recv(65536)  # the node's own Hello may arrive first: read past it
            except (ConnectionResetError, BrokenPipeError):
                return True
            except socket.timeout:
                break
            if not chunk:
                return True
        raise Fail(f"{what}: the connection was not closed within {timeout}s")
    finally:
        s.close()


def scenario_malformed_p2p(work):
    net = Network(work).start()
    net.wait_all(5)
    target = net.nodes[0]
    port = target.p2p_port
    d0 = target.metric("gtos_p2p_dropped_frames_total")
    check(d0 is not None, "no gtos_p2p_dropped_frames_total metric")
    zeros = bytes(32)
    hello_v1 = bytes([0x99, 0x40, 0x01, 0x01]) + msgpack_str("not-this-chain") + msgpack_bin(zeros) + \
        msgpack_bin(os.urandom(32)) + msgpack_bin(os.urandom(32)) + msgpack_str("") + bytes([0x00])
    cases = [
        ("garbage bytes instead of an intro", bytes(random.Random(7).randrange(256) for _ in range(4096))),
        ("a protocol 1 Hello", frame(hello_v1)),
    ]
    for what, data in cases:
        check(dropped(port, data, what), what)
        check(target.alive(), f"the node died after: {what}")
    # After a valid intro (session keys agreed), before the Hello.
    sealed_cases = [
        ("oversized length prefix", lambda p: p.raw(struct.pack(">I", 0xFFFFFFF0) + b"\x00" * 64)),
        ("a frame that fails authentication", lambda p: p.raw(frame(b"\x00" * 40))),
        ("invalid msgpack in a sealed frame", lambda p: p.send_record(b"\xc1" * 32)),
        ("a sealed record that is not a Hello", lambda p: p.send_record(p2pwire.record(p2pwire.T_PING, 1, b"\x2a"))),
        ("Hello with the wrong chain id", lambda p: p.hello("not-this-chain", zeros)),
    ]
    for what, act in sealed_cases:
        peer = p2pwire.Peer(port).intro()
        try:
            act(peer)
        except (BrokenPipeError, ConnectionResetError):
            pass
        check(peer.closed(), what)
        peer.close()
        check(target.alive(), f"the node died after: {what}")
    cases += sealed_cases
    d1 = wait_for(lambda: (target.metric("gtos_p2p_dropped_frames_total") or 0) > d0 and
                  target.metric("gtos_p2p_dropped_frames_total"), 10, "gtos_p2p_dropped_frames_total to rise")
    h = net.min_height()
    net.wait_all(h + 10, timeout=60)
    peers = target.metric("gtos_p2p_peers")
    check(peers and peers >= 3, f"the node lost its real peers: gtos_p2p_peers={peers}")
    net.compare()
    errors = net.stop_all()
    check(not errors, "; ".join(errors))
    return f"{len(cases)} bad connections dropped, dropped_frames {d0:.0f} -> {d1:.0f}, still finalizing"


SCENARIOS = {name[len("scenario_"):]: fn for name, fn in list(globals().items()) if name.startswith("scenario_")}


def main():
    global ENV, OPTS
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--finality-blocks", type=int, default=1000,
                    help="blocks the finality_1000 scenario finalizes (default 1000)")
    ap.add_argument("--keep", action="store_true", help="keep the work directories")
    ap.add_argument("-v", "--verbose", action="store_true")
    ap.add_argument("scenarios", nargs="*", help=f"any of: {', '.join(SCENARIOS)} (default: all)")
    OPTS = ap.parse_args()
    bindir = os.path.abspath(OPTS.bin)
    dirs = [bindir] + [os.path.join(bindir, d) for d in sorted(os.listdir(bindir))
                       if os.path.isdir(os.path.join(bindir, d))]
    ENV = dict(os.environ)
    ENV["PATH"] = os.pathsep.join(dirs + [ENV.get("PATH", "")])
    for var in ("GTOS_PASSPHRASE_FILE", "GTOS_DATADIR", "GTOS_VALIDATOR_KEY", "GTOS_PEERS", "GTOS_P2P_ADDR",
                "GTOS_RPC_ADDR", "GTOS_P2P_EXTERNAL", "GTOS_MAX_PEERS", "GTOS_P2P_DISCOVERY"):
        ENV.pop(var, None)
    names = OPTS.scenarios or list(SCENARIOS)
    unknown = [n for n in names if n not in SCENARIOS]
    if unknown:
        ap.error(f"unknown scenario(s) {', '.join(unknown)}; choose from {', '.join(SCENARIOS)}")
    passed = failed = 0
    t_all = time.time()
    for name in names:
        work = tempfile.mkdtemp(prefix=f"gtos-net-{name}-")
        start = time.time()
        try:
            summary = SCENARIOS[name](work)
            passed += 1
            print(f"ok   {name} ({time.time() - start:.1f}s){': ' + summary if summary else ''}", flush=True)
            if not OPTS.keep:
                shutil.rmtree(work, ignore_errors=True)
        except Exception as e:
            failed += 1
            print(f"FAIL {name} ({time.time() - start:.1f}s): {e}", flush=True)
            if not isinstance(e, Fail):
                traceback.print_exc()
            for log_name in sorted(os.listdir(work)):
                if log_name.endswith(".log"):
                    with open(os.path.join(work, log_name), errors="replace") as f:
                        tail = f.read()[-2500:]
                    print(f"---- {log_name} (tail)\n{tail}")
            print(f"     work directory kept: {work}")
        finally:
            _kill_leftovers(work)  # whatever happened, no node outlives its scenario
    print(f"{passed} passed, {failed} failed ({time.time() - t_all:.0f}s)")
    return 1 if failed else 0


_all_nodes = []
_orig_start = Node.start


def _tracking_start(self, *a, **kw):
    _all_nodes.append(self)
    return _orig_start(self, *a, **kw)


Node.start = _tracking_start


def _kill_leftovers(work):
    for n in list(_all_nodes):
        if n.net.work == work and n.alive():
            n.proc.kill()
            n.proc.wait()
    _all_nodes[:] = [n for n in _all_nodes if n.net.work != work]


if __name__ == "__main__":
    sys.exit(main())
