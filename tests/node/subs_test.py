#!/usr/bin/env python3
"""Subscription acceptance tests (issue 14, "Subscriptions"; docs/rpc.md
"Subscriptions") on loopback, ports 37000-38999.

One dev node (`gtos-node --dev`, 100 ms blocks) per case, run from a copy of
the binaries. Cases:

- heads: a WebSocket client (tos_subscribe ["newHeads"]) and an SSE client
  (GET /subscribe/heads) each receive 200 consecutive headers in order,
  none missing, with the same hashes as tos_getBlockByNumber;
- receipt: a WebSocket receipt subscription made before the tx is sent
  gets the receipt while the head is at most one block past its height; an
  SSE receipt stream for a committed tx answers at once and ends; `gtos-tx
  send --wait` (over the head stream) and `gtos-inspect rpc watch tx` give
  the receipt;
- kv: WebSocket and `gtos-inspect rpc watch kv` see a KV write and, at its
  expire_block, its expiry;
- slow: a WebSocket client with 32 head subscriptions that never reads is
  dropped (gtos_rpc_subscribers_dropped_total{reason="slow"}), while an
  SSE client that reads sees every header and the chain keeps its pace;
- limits: max_subscribers (503), bad paths (404, 400), bad WebSocket
  requests (JSON-RPC errors), tos_unsubscribe, and `rpc watch heads
  --count` / `| head` exiting 0.

  subs_test.py --bin BUILD/cmd [case ...]
"""
import argparse
import http.client
import json
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import urllib.request

try:
    import websocket  # python3-websocket (websocket-client), DEB_PACKAGES
except ImportError:  # a Python other than Debian's (pyenv) runs the test
    sys.path.append("/usr/lib/python3/dist-packages")
    import websocket

PORT_RANGE = (37000, 38999)
TOOLS = ("gtos-node", "gtos-tx", "gtos-inspect", "gtos-keys")
BLOCK_MS = 100
ENV = None


class Fail(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise Fail(msg)


def pick_port():
    ports = list(range(*PORT_RANGE))
    random.shuffle(ports)
    for p in ports:
        s = socket.socket()
        try:
            s.bind(("127.0.0.1", p))
            return p
        except OSError:
            continue
        finally:
            s.close()
    raise Fail("no free port in 37000-38999")


def copy_tools(bindir, dest, timeout=180):
    os.makedirs(dest)
    deadline = time.time() + timeout
    for tool in TOOLS:
        src = os.path.join(bindir, tool)
        while True:
            try:
                st = os.stat(src)
                if st.st_mode & 0o111 and time.time() - st.st_mtime > 5:
                    shutil.copy2(src, os.path.join(dest, tool))
                    if os.stat(src).st_mtime == st.st_mtime:
                        break
            except OSError:
                pass
            if time.time() > deadline:
                raise Fail(f"{src} is missing or not executable after {timeout}s")
            time.sleep(2)


def run(args, stdin=None, check_exit=True, timeout=120):
    p = subprocess.run(args, input=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=ENV, timeout=timeout)
    if check_exit and p.returncode != 0:
        raise Fail(f"{' '.join(map(str, args))} exited {p.returncode}: {p.stderr.decode(errors='replace')}")
    return p


class Node:
    def __init__(self, work, name, env=None):
        self.datadir = os.path.join(work, name)
        self.port = pick_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.logpath = os.path.join(work, f"{name}.log")
        self.env = dict(ENV, **(env or {}))
        self.proc = None

    def start(self):
        args = ["gtos-node", "--dev", "--datadir", self.datadir, "--rpc-addr", f"127.0.0.1:{self.port}",
                "--param", f"target_block_interval_ms={BLOCK_MS}"]
        log = open(self.logpath, "ab")
        self.proc = subprocess.Popen(args, stdout=log, stderr=log, env=self.env)
        log.close()
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
        raise Fail("node did not become ready")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise Fail("node did not stop within 15 s of SIGTERM")

    @property
    def key(self):
        return os.path.join(self.datadir, "dev.key")

    def call(self, method, *params):
        body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)}).encode()
        req = urllib.request.Request(self.url, data=body, headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=10) as r:
            reply = json.loads(r.read())
        if "error" in reply:
            raise Fail(f"{method}{params}: error {reply['error']}")
        return reply["result"]

    def height(self):
        return int(self.call("tos_blockNumber"))

    def metric(self, name):
        with urllib.request.urlopen(self.url + "/metrics", timeout=10) as r:
            for line in r.read().decode().splitlines():
                if line.startswith(name + " "):
                    return float(line.split()[-1])
        raise Fail(f"metric {name} missing")

    def ws(self, timeout=10):
        return websocket.create_connection(f"ws://127.0.0.1:{self.port}/ws", timeout=timeout)


class Sse:
    """A reader of GET /subscribe/...: events as (event, data) pairs."""

    def __init__(self, node, path, timeout=10):
        self.conn = http.client.HTTPConnection("127.0.0.1", node.port, timeout=timeout)
        self.conn.request("GET", path, headers={"Accept": "text/event-stream"})
        self.resp = self.conn.getresponse()
        self.status = self.resp.status

    def next(self):
        """The next event, or None at the end of the stream."""
        event, data = "message", []
        while True:
            line = self.resp.readline()
            if not line:
                return None
            line = line.decode().rstrip("\r\n")
            if line == "":
                if data:
                    return event, "\n".join(data)
                continue
            if line.startswith(":"):
                continue
            field, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if field == "event":
                event = value
            elif field == "data":
                data.append(value)

    def close(self):
        self.conn.close()


def ws_call(ws, method, params, rid=1):
    ws.send(json.dumps({"jsonrpc": "2.0", "id": rid, "method": method, "params": params}))
    while True:
        m = json.loads(ws.recv())
        if m.get("id") == rid:
            return m


def ws_subscribe(ws, *params):
    r = ws_call(ws, "tos_subscribe", list(params))
    check("result" in r, f"tos_subscribe {params}: {r}")
    return r["result"]


def ws_next(ws, sub):
    while True:
        m = json.loads(ws.recv())
        if m.get("method") == "tos_subscription" and m["params"]["subscription"] == sub:
            return m["params"]["result"]


def build_signed(node, kind, *args):
    unsigned = run(["gtos-tx", "build", kind, "--chain-id", "gtos-dev", "--from-key", node.key, "--rpc", node.url]
                   + list(args)).stdout
    return run(["gtos-tx", "sign", "--key", node.key], stdin=unsigned).stdout


def tx_id(signed):
    return run(["gtos-tx", "hash"], stdin=signed).stdout.decode().split()[0]


def address(node):
    return run(["gtos-keys", "addr", node.key]).stdout.decode().strip()


# ---- cases ---------------------------------------------------------------------

def case_heads(work):
    n = Node(work, "heads").start()
    try:
        ws = n.ws()
        sub = ws_subscribe(ws, "newHeads")
        sse = Sse(n, "/subscribe/heads")
        check(sse.status == 200, f"GET /subscribe/heads: {sse.status}")
        got = {"ws": [], "sse": []}
        errors = []

        def read_sse():
            try:
                while len(got["sse"]) < 200:
                    ev = sse.next()
                    if ev is None:
                        errors.append("SSE stream ended early")
                        return
                    check(ev[0] == "head", f"SSE event {ev[0]!r}, want head")
                    got["sse"].append(json.loads(ev[1]))
            except Exception as e:  # noqa: BLE001 - reported below
                errors.append(f"SSE: {e}")

        t = threading.Thread(target=read_sse)
        t.start()
        start = time.time()
        while len(got["ws"]) < 200:
            got["ws"].append(ws_next(ws, sub))
        t.join(timeout=120)
        check(not errors, "; ".join(errors))
        check(len(got["sse"]) == 200, f"SSE got {len(got['sse'])} heads")
        elapsed = time.time() - start
        for name, heads in got.items():
            hs = [h["height"] for h in heads]
            check(hs == list(range(hs[0], hs[0] + 200)), f"{name}: heights not consecutive: {hs[:5]}...")
            check(all("hash" in h and "txs" in h and "state_root" in h for h in heads), f"{name}: fields missing")
        # Both saw the same blocks where they overlap, and those are the chain's.
        by_h = {h["height"]: h["hash"] for h in got["ws"]}
        for h in got["sse"]:
            if h["height"] in by_h:
                check(by_h[h["height"]] == h["hash"], f"hash of {h['height']} differs between WS and SSE")
        for h in got["ws"][::20]:
            b = n.call("tos_getBlockByNumber", h["height"])
            check(b["hash"] == h["hash"], f"head {h['height']}: hash {h['hash']} but the block is {b['hash']}")
        print(f"  200 heads over WS and SSE in {elapsed:.1f} s ({elapsed / 200 * 1000:.0f} ms per block), none missing")
        ws.close()
        sse.close()
    finally:
        n.stop()


def case_receipt(work):
    n = Node(work, "receipt").start()
    try:
        me = address(n)
        signed = build_signed(n, "transfer", "--to", me, "--amount", "1")
        tid = tx_id(signed)
        ws = n.ws()
        sub = ws_subscribe(ws, "receipt", tid)
        run(["gtos-tx", "send", "--rpc", n.url], stdin=signed)
        r = ws_next(ws, sub)
        head = n.height()
        check(r["tx_id"] == tid and r["status"] == "ok", f"receipt {r}")
        check(head <= r["height"] + 1, f"receipt of block {r['height']} came with the head at {head}")
        # The same subscription for a committed tx: answered at once.
        sub2 = ws_subscribe(ws, "receipt", tid)
        r2 = ws_next(ws, sub2)
        check(r2 == r, f"late receipt subscription: {r2} != {r}")
        ws.close()
        # SSE for a committed tx: one event, then the stream ends.
        sse = Sse(n, f"/subscribe/receipt/{tid}")
        ev = sse.next()
        check(ev is not None and ev[0] == "receipt" and json.loads(ev[1]) == r, f"SSE receipt: {ev}")
        check(sse.next() is None, "SSE receipt stream did not end after the receipt")
        # gtos-inspect rpc watch tx: the receipt line, exit 0.
        p = run(["gtos-inspect", "rpc", "--rpc", n.url, "watch", "tx", tid], timeout=30)
        check(json.loads(p.stdout) == r, f"rpc watch tx printed {p.stdout!r}")
        # gtos-tx send --wait over the stream.
        signed = build_signed(n, "transfer", "--to", me, "--amount", "2")
        p = run(["gtos-tx", "send", "--rpc", n.url, "--wait", "--json", "--timeout", "30"], stdin=signed)
        rec = json.loads(p.stdout)
        check(rec["tx_id"] == tx_id(signed) and rec["status"] == "ok", f"send --wait: {rec}")
        print(f"  receipt at head {head} for block {r['height']}; SSE, watch tx and send --wait agree")
    finally:
        n.stop()


def case_kv(work):
    n = Node(work, "kv").start()
    try:
        me = address(n)
        ws = n.ws()
        sub = ws_subscribe(ws, "kv", me, "0x" + b"subs".hex())
        watch = subprocess.Popen(["gtos-inspect", "rpc", "--rpc", n.url, "watch", "--count", "2", "kv", me, "subs"],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=ENV)
        time.sleep(0.5)  # the watcher subscribes
        signed = build_signed(n, "kv-put", "--namespace", "subs", "--key", "greeting", "--value", "hi",
                              "--ttl", "5")
        run(["gtos-tx", "send", "--rpc", n.url], stdin=signed)
        w = ws_next(ws, sub)
        check(w["event"] == "write" and w["key"] == "0x" + b"greeting".hex() and w["value"] == "0x" + b"hi".hex(),
              f"write event {w}")
        check(w["expire_block"] == w["created_block"] + 5, f"write event {w}")
        e = ws_next(ws, sub)
        check(e["event"] == "expired" and e["key"] == w["key"], f"expiry event {e}")
        check(e["height"] == w["expire_block"], f"expired at {e['height']}, expire_block {w['expire_block']}")
        out, err = watch.communicate(timeout=30)
        check(watch.returncode == 0, f"rpc watch kv exited {watch.returncode}: {err.decode()}")
        lines = [json.loads(l) for l in out.decode().splitlines()]
        check(lines == [w, e], f"rpc watch kv printed {lines}")
        ws.close()
        print(f"  write at {w['created_block']}, expiry at {e['height']} (expire_block {w['expire_block']})")
    finally:
        n.stop()


def case_slow(work):
    n = Node(work, "slow", env={"GTOS_RPC_SUBSCRIBER_QUEUE_BYTES": "65536"}).start()
    try:
        # The slow one: a small receive buffer, 32 head subscriptions, never read.
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.settimeout(10)
        s.connect(("127.0.0.1", n.port))
        slow = websocket.WebSocket()
        slow.connect(f"ws://127.0.0.1:{n.port}/ws", socket=s)
        for i in range(32):
            ws_subscribe(slow, "newHeads")
        sse = Sse(n, "/subscribe/heads")
        h0, t0 = n.height(), time.time()
        heads = []
        dropped = 0
        while time.time() - t0 < 60:
            ev = sse.next()
            check(ev is not None, "the reading SSE client was dropped")
            heads.append(json.loads(ev[1])["height"])
            dropped = n.metric('gtos_rpc_subscribers_dropped_total{reason="slow"}')
            if dropped >= 1 and len(heads) >= 50:
                break
        elapsed = time.time() - t0
        h1 = n.height()
        check(dropped >= 1, "the client that never reads was not dropped within 60 s")
        check(heads == list(range(heads[0], heads[0] + len(heads))), "the reading client missed heads")
        rate = (h1 - h0) / elapsed
        check(rate >= 0.6 * 1000 / BLOCK_MS, f"{rate:.1f} blocks/s while a client did not read (want ~{1000 / BLOCK_MS})")
        # The slow socket ends after what was buffered: EOF or reset, never a hang.
        s.settimeout(5)
        try:
            while s.recv(65536):
                pass
        except ConnectionResetError:
            pass
        check(n.metric("gtos_rpc_subscribers") == 1, "the dropped connection is still counted")
        print(f"  slow client dropped; {len(heads)} heads read meanwhile, {rate:.1f} blocks/s")
        sse.close()
    finally:
        n.stop()


def http_status(node, path):
    c = http.client.HTTPConnection("127.0.0.1", node.port, timeout=10)
    c.request("GET", path)
    r = c.getresponse()
    body = r.read().decode()
    c.close()
    return r.status, body


def case_limits(work):
    n = Node(work, "limits", env={"GTOS_RPC_MAX_SUBSCRIBERS": "4"}).start()
    try:
        check(http_status(n, "/subscribe/nope")[0] == 404, "unknown stream not 404")
        st, body = http_status(n, "/subscribe/receipt/0xzz")
        check(st == 400 and "tx id" in body, f"bad tx id: {st} {body!r}")
        st, body = http_status(n, "/subscribe/kv/0x00")
        check(st == 400 and "takes 2" in body, f"kv without namespace: {st} {body!r}")
        ws = n.ws()
        r = ws_call(ws, "tos_blockNumber", [])
        check(r["error"]["code"] == -32601, f"other method on /ws: {r}")
        r = ws_call(ws, "tos_subscribe", ["bogus"])
        check(r["error"]["code"] == -32602 and "bogus" in r["error"]["message"], f"bad kind: {r}")
        ws.send("{not json")
        check(json.loads(ws.recv())["error"]["code"] == -32700, "bad JSON not -32700")
        sub = ws_subscribe(ws, "newHeads")
        ws_next(ws, sub)
        check(ws_call(ws, "tos_unsubscribe", [sub], rid=7)["result"] is True, "unsubscribe")
        check(ws_call(ws, "tos_unsubscribe", [sub], rid=8)["result"] is False, "unsubscribe twice")
        # Three more connections make four; the fifth is refused.
        others = [Sse(n, "/subscribe/heads") for _ in range(3)]
        check(all(o.status == 200 for o in others), "subscribers under the limit refused")
        st, body = http_status(n, "/subscribe/heads")
        check(st == 503 and "rpc_max_subscribers" in body, f"over the limit: {st} {body!r}")
        for o in others:
            o.close()
        ws.close()
        # rpc watch heads --count 3 and | head -n 2: exit 0, JSON lines.
        p = run(["gtos-inspect", "rpc", "--rpc", n.url, "watch", "--count", "3", "heads"], timeout=30)
        hs = [json.loads(l)["height"] for l in p.stdout.decode().splitlines()]
        check(len(hs) == 3 and hs == list(range(hs[0], hs[0] + 3)), f"watch --count 3: {hs}")
        sh = subprocess.run(["sh", "-c", f"gtos-inspect rpc --rpc {n.url} watch heads | head -n 2; "
                                         "echo \"status ${PIPESTATUS:-0}\""],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=ENV, timeout=30)
        lines = sh.stdout.decode().splitlines()
        check(len(lines) == 3 and all(json.loads(l)["height"] for l in lines[:2]), f"watch | head: {lines}")
        check(sh.stderr == b"", f"watch | head wrote to stderr: {sh.stderr!r}")
        print("  404/400/503, JSON-RPC errors, unsubscribe, watch --count and | head all as documented")
    finally:
        n.stop()


CASES = {"heads": case_heads, "receipt": case_receipt, "kv": case_kv, "slow": case_slow, "limits": case_limits}


def main():
    global ENV
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("cases", nargs="*")
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="gtos-subs-")
    bindir = os.path.join(work, "bin")
    copy_tools(os.path.abspath(args.bin), bindir)
    ENV = dict(os.environ, PATH=bindir + os.pathsep + os.environ["PATH"])
    passed = failed = 0
    for name in args.cases or CASES:
        print(f"{name}:")
        try:
            CASES[name](work)
            passed += 1
        except Exception:  # noqa: BLE001 - every case runs, failures are listed
            traceback.print_exc()
            failed += 1
            print(f"  FAILED (logs in {work})")
    print(f"{passed} passed, {failed} failed")
    if failed == 0:
        shutil.rmtree(work, ignore_errors=True)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
