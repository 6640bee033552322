"""Processes, RPC and the genesis ceremony of the e2e runner.

Ports: the e2e runner hands out loopback ports in 10000-14999 only (the
other test suites own 20000-32767, docs/notes.md "Traps"; everything is
below Linux's ephemeral range 32768+, so the kernel never hands one of ours
to an outgoing connection between our bind test and the node's bind).
"""
import http.client as httpclient
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import threading
import time

PORT_RANGE = (10000, 15000)
STAKE_FUNDS = 10**15        # balance of every validator on top of its stake
LOAD_FUNDS = 10**15         # balance of every load sender
FAKETIME_LIBS = ("/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1",
                 "/usr/lib/aarch64-linux-gnu/faketime/libfaketime.so.1",
                 "/usr/lib/faketime/libfaketime.so.1",
                 "/usr/local/lib/faketime/libfaketime.so.1")
STRIP_ENV = ("GTOS_PASSPHRASE_FILE", "GTOS_DATADIR", "GTOS_VALIDATOR_KEY", "GTOS_PEERS", "GTOS_P2P_ADDR",
             "GTOS_RPC_ADDR", "GTOS_P2P_EXTERNAL", "GTOS_MAX_PEERS", "GTOS_P2P_DISCOVERY", "GTOS_STATE_SYNC",
             "GTOS_SNAPSHOT_KEEP", "GTOS_LOG_FORMAT", "GTOS_LOG_LEVEL", "GTOS_FSYNC", "GTOS_MEMPOOL_MAX_TXS",
             "GTOS_MEMPOOL_MAX_BYTES", "LD_PRELOAD", "FAKETIME")


class SetupError(Exception):
    """The run could not be set up (a tool failed): exit 1."""


_ports = set()
_ports_lock = threading.Lock()


def free_port(rng=random):
    with _ports_lock:
        for _ in range(10000):
            p = rng.randrange(*PORT_RANGE)
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
    raise SetupError(f"no free port in {PORT_RANGE[0]}-{PORT_RANGE[1] - 1}")


def faketime_lib():
    for p in FAKETIME_LIBS:
        if os.path.exists(p):
            return p
    return None


class Tools:
    def __init__(self, bindir):
        self.bindir = os.path.abspath(bindir)
        self.env = {k: v for k, v in os.environ.items() if k not in STRIP_ENV}
        self.env["PATH"] = self.bindir + os.pathsep + self.env.get("PATH", "")

    def path(self, tool):
        return os.path.join(self.bindir, tool)

    def missing(self):
        return [t for t in ("gtos-node", "gtos-keys", "gtos-tx", "gtos-genesis", "gtos-inspect")
                if not os.access(self.path(t), os.X_OK)]

    def run(self, args, stdin=None, timeout=120, check=True):
        args = [self.path(args[0])] + [str(a) for a in args[1:]]
        try:
            p = subprocess.run(args, input=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=self.env,
                               timeout=timeout)
        except subprocess.TimeoutExpired:
            raise SetupError(f"{' '.join(args)} did not finish within {timeout}s")
        if check and p.returncode != 0:
            raise SetupError(f"{' '.join(args)} exited {p.returncode}: {p.stderr.decode(errors='replace').strip()}")
        return p

    def text(self, args, **kw):
        return self.run(args, **kw).stdout.decode().strip()

    def inspect(self, record_bytes):
        """Records to a list of JSON objects (gtos-inspect)."""
        out = self.run(["gtos-inspect"], stdin=record_bytes).stdout.decode()
        return [json.loads(l) for l in out.splitlines() if l.strip()]


# -- JSON-RPC over http.client ------------------------------------------------

class RpcError(Exception):
    def __init__(self, code, message, data=None):
        super().__init__(f"{code} {message}")
        self.code = code
        self.message = message
        self.data = data


def http_req(port, method, path, body=None, headers=None, timeout=5.0):
    c = httpclient.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        c.request(method, path, body=body, headers=headers or {})
        r = c.getresponse()
        return r.status, r.read()
    finally:
        c.close()


def rpc(port, method, *params, timeout=5.0):
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)})
    _, data = http_req(port, "POST", "/", body, {"Content-Type": "application/json"}, timeout)
    rep = json.loads(data)
    if "error" in rep:
        e = rep["error"]
        raise RpcError(e.get("code"), e.get("message"), e.get("data"))
    return rep["result"]


def rpc_batch(port, calls, timeout=30.0):
    """[(method, params)] -> [{"result": ...} or {"error": ...}], in order."""
    out = []
    for start in range(0, len(calls), 1000):
        part = calls[start:start + 1000]
        body = json.dumps([{"jsonrpc": "2.0", "id": i, "method": m, "params": list(p)}
                           for i, (m, p) in enumerate(part)])
        _, data = http_req(port, "POST", "/", body, {"Content-Type": "application/json"}, timeout)
        reps = json.loads(data)
        reps.sort(key=lambda x: x["id"])
        out += reps
    return out


def metrics(port, timeout=3.0):
    _, data = http_req(port, "GET", "/metrics", timeout=timeout)
    m = {}
    for line in data.decode(errors="replace").splitlines():
        if line and not line.startswith("#"):
            parts = line.split()
            if len(parts) >= 2:
                try:
                    m[parts[0]] = float(parts[1])
                except ValueError:
                    pass
    return m


# -- nodes -------------------------------------------------------------------

class Node:
    """One gtos-node: keys, data directory, ports and its current process."""

    def __init__(self, spec, work, tools, rng):
        self.spec = spec
        self.name = spec.name
        self.validator = spec.validator
        self.tools = tools
        self.dir = os.path.join(work, self.name)
        os.makedirs(self.dir, exist_ok=True)
        self.datadir = os.path.join(self.dir, "data")
        self.logpath = os.path.join(self.dir, "node.log")
        self.rpc_port = free_port(rng)
        self.p2p_port = free_port(rng)       # private: only the relay dials it
        self.relay_port = free_port(rng)     # what everybody else dials
        self.relay_addr = f"127.0.0.1:{self.relay_port}"
        self.key = self.passfile = self.address = None
        self.node_key = None
        self.proc = None
        self.extra_args = []
        self.peers = []
        self.env = dict(tools.env)
        # E2E_NODE_LOG_LEVEL=debug: every node logs at that level (GTOS_LOG_LEVEL
        # itself is stripped so that the caller's shell does not leak in).
        if os.environ.get("E2E_NODE_LOG_LEVEL"):
            self.env["GTOS_LOG_LEVEL"] = os.environ["E2E_NODE_LOG_LEVEL"]
        self.started = False     # started at least once
        self.synced = False      # reached the network's head at least once
        self.paused = False
        self.isolated = False
        self.height = -1         # last height seen by the monitor
        self.exits = []          # (time, returncode) of exits the runner did not cause
        self.expect_exit = False
        self.starts = 0

    def make_validator_key(self):
        self.passfile = os.path.join(self.dir, "pass.txt")
        with open(self.passfile, "w") as f:
            f.write(f"{self.name} passphrase\n")
        os.chmod(self.passfile, 0o600)
        self.key = os.path.join(self.dir, "validator.key")
        # Unencrypted: every (re)start would otherwise spend a second of CPU
        # on scrypt (N = 2^17); the passphrase file is passed and ignored.
        self.tools.run(["gtos-keys", "new", "--unencrypted", "-o", self.key])
        self.address = self.tools.text(["gtos-keys", "addr", self.key])

    def init(self, genesis):
        args = ["gtos-node", "init", "--datadir", self.datadir, "--genesis", genesis]
        if self.key:
            args += ["--key", self.key, "--passphrase-file", self.passfile]
        self.tools.run(args)
        nk = os.path.join(self.datadir, "node.key")
        if not os.path.exists(nk):
            raise SetupError(f"{self.name}: gtos-node init made no node.key")
        pub = self.tools.run(["gtos-keys", "pub", nk]).stdout
        rec = self.tools.inspect(pub)[0]
        self.node_key = bytes.fromhex(rec["public_key"][2:])

    def set_clock_skew(self, lib, skew_ms):
        if skew_ms:
            self.env["LD_PRELOAD"] = lib
            self.env["FAKETIME"] = f"{skew_ms / 1000:+.3f}"
            self.env["FAKETIME_DONT_FAKE_MONOTONIC"] = "1"  # timers stay real; only the wall clock is off

    def command(self):
        args = [self.tools.path("gtos-node"), "run", "--datadir", self.datadir,
                "--rpc-addr", f"127.0.0.1:{self.rpc_port}",
                "--p2p-addr", f"127.0.0.1:{self.p2p_port}", "--p2p-external", self.relay_addr]
        if self.passfile:
            args += ["--passphrase-file", self.passfile]
        for p in self.peers:
            args += ["--peer", p]
        return args + list(self.extra_args)

    def start(self):
        args = self.command()
        with open(self.logpath, "ab") as logf:
            skew = f" (FAKETIME={self.env['FAKETIME']})" if "FAKETIME" in self.env else ""
            logf.write(f"==== e2e {time.strftime('%H:%M:%S')} start{skew}: {' '.join(args)}\n".encode())
            logf.flush()
            self.proc = subprocess.Popen(args, stdout=logf, stderr=logf, env=self.env, start_new_session=True)
        self.started = True
        self.synced = False      # the monitor sets it again once the node is within 2 blocks of the head
        self.paused = False
        self.expect_exit = False
        self.starts += 1
        return self

    def note(self, text):
        with open(self.logpath, "ab") as logf:
            logf.write(f"==== e2e {time.strftime('%H:%M:%S')} {text}\n".encode())

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def wait_ready(self, timeout=60):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if not self.alive():
                return False
            try:
                st, _ = http_req(self.rpc_port, "GET", "/readyz", timeout=1)
                if st == 200:
                    return True
            except OSError:
                pass
            time.sleep(0.05)
        return False

    def signal(self, sig):
        if self.alive():
            self.proc.send_signal(sig)

    def kill9(self):
        self.expect_exit = True
        if self.alive():
            if self.paused:
                self.proc.send_signal(signal.SIGCONT)
            self.proc.kill()
        if self.proc:
            self.proc.wait()
        self.paused = False

    def terminate(self, timeout=30):
        """SIGTERM and wait; returns (returncode, seconds) or (None, timeout) after a SIGKILL."""
        self.expect_exit = True
        if not self.alive():
            return (self.proc.returncode if self.proc else None), 0.0
        if self.paused:
            self.proc.send_signal(signal.SIGCONT)
            self.paused = False
        t0 = time.time()
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout=timeout)
            return rc, time.time() - t0
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            return None, timeout

    # -- RPC helpers
    def rpc(self, method, *params, timeout=5.0):
        return rpc(self.rpc_port, method, *params, timeout=timeout)

    def batch(self, calls, timeout=30.0):
        return rpc_batch(self.rpc_port, calls, timeout)

    def metrics(self, timeout=3.0):
        return metrics(self.rpc_port, timeout)

    def try_height(self, timeout=1.0):
        try:
            return int(self.rpc("tos_blockNumber", timeout=timeout))
        except Exception:
            return -1

    def usable(self):
        """Running, answering and connected: a node to send load to and read from."""
        return self.alive() and not self.paused and not self.isolated and self.synced and not self.spec.byzantine


def ceremony(m, work, tools, rng, log):
    """The genesis ceremony with the tools (as examples/testnet.sh): every
    validator makes an encrypted key and a gentx naming its (relay) p2p
    address; the coordinator makes the genesis with the manifest's
    parameters, funds validators and load senders, collects the gentx files;
    every participant checks the announced hash and initialises its data
    directory. Returns (chain_id, genesis path, nodes, load sender keys)."""
    chain = f"gtos-e2e-{rng.randrange(1 << 30)}"
    inbox = os.path.join(work, "inbox")
    coord = os.path.join(work, "coordinator")
    os.makedirs(inbox)
    os.makedirs(coord)
    nodes = {}
    for name, spec in m.nodes.items():
        nodes[name] = Node(spec, work, tools, rng)
    for node in nodes.values():
        if node.validator:
            node.make_validator_key()
            tools.run(["gtos-genesis", "gentx", "--chain-id", chain, "--key", node.key, "--passphrase-file",
                       node.passfile, "--stake", node.spec.stake, "--p2p-addr", node.relay_addr,
                       "-o", os.path.join(inbox, f"{node.name}.gentx")])
    senders = []
    n_senders = 0 if m.load_tps == 0 else max(2, min(8, -(-m.load_tps // 25)))
    os.makedirs(os.path.join(work, "load"))
    for i in range(n_senders):
        k = os.path.join(work, "load", f"sender{i}.key")
        tools.run(["gtos-keys", "new", "--unencrypted", "-o", k])
        senders.append((k, tools.text(["gtos-keys", "addr", k])))
    g0 = os.path.join(coord, "genesis.0")
    params = {"target_block_interval_ms": m.block_interval_ms, "epoch_length": m.epoch_length,
              "retain_blocks": m.retain_blocks, "snapshot_interval": m.snapshot_interval}
    args = ["gtos-genesis", "new", "--chain-id", chain]
    for k, v in params.items():
        args += ["--param", f"{k}={v}"]
    tools.run(args + ["-o", g0])
    for node in nodes.values():
        if node.validator:
            tools.run(["gtos-genesis", "add-account", node.address, node.spec.stake + STAKE_FUNDS, g0, "-o", g0])
    for _, addr in senders:
        tools.run(["gtos-genesis", "add-account", addr, LOAD_FUNDS, g0, "-o", g0])
    gentx = sorted(os.path.join(inbox, f) for f in os.listdir(inbox))
    with open(g0, "rb") as f:
        final = tools.run(["gtos-genesis", "collect"] + gentx, stdin=f.read()).stdout
    genesis = os.path.join(coord, "genesis.bin")
    with open(genesis, "wb") as f:
        f.write(final)
    tools.run(["gtos-genesis", "validate", genesis])
    announced = tools.text(["gtos-genesis", "hash", genesis])
    log(f"genesis {announced} for chain {chain}: {len(m.validator_names())} validators, "
        f"{len(nodes) - len(m.validator_names())} full nodes, {len(senders)} load senders")
    for node in nodes.values():
        mine = os.path.join(node.dir, "genesis.bin")
        shutil.copy(genesis, mine)
        tools.run(["gtos-genesis", "validate", mine])
        got = tools.text(["gtos-genesis", "hash", mine])
        if got != announced:
            raise SetupError(f"{node.name}: genesis hash {got}, announced {announced}")
        node.init(mine)
    return chain, genesis, nodes, senders, announced
