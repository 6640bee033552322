#!/usr/bin/env python3
"""RPC security acceptance tests of gtos-node on loopback (issue 12, "RPC
that stays up").

One dev node (`gtos-node --dev`, 300 ms blocks) on a port in 33000-34999,
run from a copy of the binaries, with a few RPC limits lowered through
GTOS_RPC_* variables so that the attacks stay short (docs/rpc.md, "Limits").
Each attack below is replayed while a prober asks GET /healthz and
GET /readyz on fresh connections every 100 ms and a sampler reads
the node's VmRSS (/proc/PID/status) every 20 ms. After each attack:

- every health answer was 200 and came within 1 s;
- the node's peak VmRSS during the attack is less than 64 MiB above its
  level just before it;
- the offending requests got the documented error or were cut off (named
  per attack);
- the chain kept finalizing: the height advanced during the attack.

Attacks: slowloris headers (more connections than workers, one header line
every 0.5 s); slow bodies (Content-Length and chunked, a few bytes every
0.5 s); 25 MB POSTs of msgpack nils to /tx (bare nils, and arrays of 2^20
nils); bodies over the size cap (Content-Length refused before the body,
chunked cut off while reading); a huge JSON-RPC batch (elements cap) and
one just over the batch cap; deeply nested JSON; many idle connections
beyond the connection cap, and a connect/close flood; a batch whose replies
exceed the response cap. Prints the figures of each attack and a closing
"N passed, N failed".

  rpc_security_test.py --bin BUILD/cmd [attack ...]
"""
import argparse
import json
import multiprocessing
import os
import random
import select
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback

MiB = 1 << 20
HEALTH_LIMIT_S = 1.0
RSS_LIMIT = 64 * MiB
PORT_RANGE = (33000, 34999)
TOOLS = ("gtos-node",)

# The node's limits for this test (the rest keep their defaults, which the
# attacks below are checked against: 5 s header deadline, 32 MiB bodies,
# 10 000 batch entries, 200 000 JSON values, depth 32).
MAX_CONNECTIONS = 100
BODY_TIMEOUT_MS = 3000
HEADER_TIMEOUT_MS = 5000
MAX_BODY = 32 * MiB
MAX_RESPONSE = 256 * 1024
NODE_ENV = {
    "GTOS_RPC_MAX_CONNECTIONS": str(MAX_CONNECTIONS),
    "GTOS_RPC_BODY_TIMEOUT_MS": str(BODY_TIMEOUT_MS),
    "GTOS_RPC_MAX_RESPONSE_BYTES": str(MAX_RESPONSE),
}

ENV = None


class Fail(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise Fail(msg)


def copy_tools(bindir, dest, timeout=180):
    """Copies the binaries: a rebuild may relink BUILD/cmd during the run.
    Waits for a binary that is being written (modified in the last 5 s)."""
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
                raise Fail(f"{src} is missing or not executable (a build in progress?) after {timeout}s")
            time.sleep(2)
    return dest


def pick_port():
    ports = list(range(PORT_RANGE[0], PORT_RANGE[1] + 1))
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
    raise Fail("no free port in 33000-34999")


# ---- raw HTTP -----------------------------------------------------------------

class Reply:
    def __init__(self, status, headers, body, elapsed):
        self.status, self.headers, self.body, self.elapsed = status, headers, body, elapsed

    def json(self):
        return json.loads(self.body)


def read_reply(s, t0, limit=64 * MiB):
    """Reads one HTTP response from socket s (Content-Length or until EOF)."""
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = s.recv(65536)
        if not chunk:
            raise ConnectionError(f"connection closed before a response ({len(buf)} bytes)")
        buf += chunk
    head, _, body = buf.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    if status == 100:  # an interim answer: the real one follows
        s2 = body
        return read_reply_rest(s, t0, s2, limit)
    n = headers.get("content-length")
    if n is not None:
        n = int(n)
        while len(body) < n:
            chunk = s.recv(min(65536, n - len(body)))
            if not chunk:
                raise ConnectionError("connection closed in the response body")
            body += chunk
    else:
        while len(body) < limit:
            chunk = s.recv(65536)
            if not chunk:
                break
            body += chunk
    return Reply(status, headers, body, time.monotonic() - t0)


def read_reply_rest(s, t0, pending, limit):
    class Pre:
        def __init__(self, sock, data):
            self.sock, self.data = sock, data

        def recv(self, n):
            if self.data:
                d, self.data = self.data[:n], self.data[n:]
                return d
            return self.sock.recv(n)
    return read_reply(Pre(s, pending), t0, limit)


def request(port, raw, timeout=10.0, body_chunks=None):
    """Sends raw bytes (then optional body chunks) on a new connection and
    reads one response. A server that answers and closes before the whole
    body is sent is fine: the response is read anyway."""
    t0 = time.monotonic()
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        try:
            s.sendall(raw)
            for c in body_chunks or ():
                s.sendall(c)
        except (BrokenPipeError, ConnectionResetError):
            pass
        return read_reply(s, t0)
    finally:
        s.close()


def post(port, path, body, content_type="application/json", timeout=30.0):
    head = (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {content_type}\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode()
    return request(port, head + body, timeout=timeout)


def get(port, path, timeout=5.0):
    return request(port, f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode(),
                   timeout=timeout)


def rpc(port, method, params=()):
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)}).encode()
    r = post(port, "/", body, timeout=10)
    check(r.status == 200, f"{method}: HTTP {r.status} {r.body[:200]!r}")
    reply = r.json()
    check("result" in reply, f"{method}: {reply}")
    return reply["result"]


def closed_by_peer(s):
    """True when the server has closed (or reset) socket s; never blocks."""
    try:
        r, _, _ = select.select([s], [], [], 0)
        if not r:
            return False
        data = s.recv(65536, socket.MSG_PEEK)
        if not data:
            return True
        s.recv(65536)  # an error response before the close: drop it, look again later
        return False
    except (ConnectionResetError, BrokenPipeError, OSError):
        return True


# ---- the node and the observers ---------------------------------------------------

def vm_rss(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise Fail(f"no VmRSS for pid {pid}")


class NodeProc:
    def __init__(self, work):
        self.datadir = os.path.join(work, "dev")
        self.port = pick_port()
        self.logpath = os.path.join(work, "dev.log")
        self.proc = None

    def start(self):
        env = dict(ENV)
        env.update(NODE_ENV)
        args = ["gtos-node", "--dev", "--datadir", self.datadir, "--rpc-addr", f"127.0.0.1:{self.port}",
                "--param", "target_block_interval_ms=300"]
        log = open(self.logpath, "ab")
        self.proc = subprocess.Popen(args, stdout=log, stderr=log, env=env)
        log.close()
        deadline = time.time() + 30
        while time.time() < deadline:
            check(self.proc.poll() is None, f"node exited with {self.proc.returncode} at start")
            try:
                if get(self.port, "/readyz", timeout=1).status == 200:
                    return self
            except OSError:
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

    def height(self):
        return int(rpc(self.port, "tos_blockNumber"))

    def rss(self):
        return vm_rss(self.proc.pid)


class Prober(threading.Thread):
    """GET /healthz and /readyz on fresh connections every 100 ms."""

    def __init__(self, port):
        super().__init__(daemon=True)
        self.port = port
        self.stop_flag = threading.Event()
        self.latencies = []
        self.failures = []

    def run(self):
        while not self.stop_flag.is_set():
            for path in ("/healthz", "/readyz"):
                t0 = time.monotonic()
                try:
                    r = get(self.port, path, timeout=5)
                    dt = time.monotonic() - t0
                    self.latencies.append(dt)
                    if r.status != 200:
                        self.failures.append(f"{path}: HTTP {r.status} {r.body[:100]!r}")
                except OSError as e:
                    self.latencies.append(time.monotonic() - t0)
                    self.failures.append(f"{path}: {type(e).__name__} {e}")
            self.stop_flag.wait(0.1)

    def finish(self):
        self.stop_flag.set()
        self.join()


class RssSampler(threading.Thread):
    def __init__(self, pid):
        super().__init__(daemon=True)
        self.pid = pid
        self.stop_flag = threading.Event()
        self.peak = 0

    def run(self):
        while not self.stop_flag.is_set():
            try:
                self.peak = max(self.peak, vm_rss(self.pid))
            except (OSError, Fail):
                pass
            self.stop_flag.wait(0.02)

    def finish(self):
        self.stop_flag.set()
        self.join()


def _observe(port, pid, conn, stop):
    prober, sampler = Prober(port), RssSampler(pid)
    sampler.start()
    prober.start()
    conn.send("started")
    stop.wait()
    prober.finish()
    sampler.finish()
    conn.send((prober.latencies, prober.failures, sampler.peak))


class Observer:
    """The prober and the sampler in a process of their own, so that the
    attacks (which hold this process's GIL while they build and send tens
    of MB) do not delay the probes and inflate their latencies."""

    def __init__(self, node):
        ctx = multiprocessing.get_context("fork")
        self.stop = ctx.Event()
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=_observe, args=(node.port, node.proc.pid, child, self.stop), daemon=True)

    def start(self):
        self.proc.start()
        check(self.conn.poll(10) and self.conn.recv() == "started", "the observer process did not start")

    def finish(self):
        """Returns (latencies, failures, peak VmRSS)."""
        self.stop.set()
        check(self.conn.poll(30), "the observer process did not report")
        result = self.conn.recv()
        self.proc.join()
        return result


def baseline_rss(node, seconds=0.5):
    peak, end = 0, time.time() + seconds
    while time.time() < end:
        peak = max(peak, node.rss())
        time.sleep(0.02)
    return peak


def under_attack(node, name, attack):
    """Runs attack() with the prober and the sampler; checks health, memory
    and finality; returns the attack's own figures (a string)."""
    base = baseline_rss(node)
    h0 = node.height()
    observer = Observer(node)
    observer.start()
    t0 = time.monotonic()
    error = None
    try:
        figures = attack(node)
    except (Fail, OSError, ValueError, KeyError) as e:  # the figures below are printed all the same
        error, figures = e, f"attack check failed: {e}"
    finally:
        # Keep probing a little after the attack (lingering effects).
        time.sleep(0.3)
        latencies, failures, peak = observer.finish()
    took = time.monotonic() - t0
    check(node.proc.poll() is None, f"{name}: the node died")
    # Finality: the height advanced during the attack, or (for attacks shorter
    # than a few blocks) within 3 s after it.
    h1 = node.height()
    deadline = time.time() + 3
    while h1 < h0 + 2 and time.time() < deadline:
        time.sleep(0.1)
        h1 = node.height()
    worst = max(latencies) if latencies else float("inf")
    growth = peak - base
    print(f"     {name}: {took:.1f} s, health {len(latencies)} probes, max {worst * 1000:.0f} ms, "
          f"{len(failures)} failed; VmRSS {base / MiB:.1f} MiB -> peak {peak / MiB:.1f} MiB "
          f"(+{growth / MiB:.1f}); height {h0} -> {h1}; {figures}", flush=True)
    if error:
        raise error
    check(latencies, f"{name}: no health probe ran")
    check(not failures, f"{name}: health probes failed: {failures[:3]}")
    check(worst < HEALTH_LIMIT_S, f"{name}: a health probe took {worst:.2f} s (limit {HEALTH_LIMIT_S} s)")
    check(growth < RSS_LIMIT, f"{name}: VmRSS grew by {growth / MiB:.1f} MiB (limit 64)")
    check(h1 >= h0 + 2, f"{name}: the chain did not advance ({h0} -> {h1})")
    return figures


def watch_cutoff(socks, started, limit_s, feed=None, feed_every=0.5):
    """Feeds each socket (feed(i) -> bytes) every feed_every seconds until
    the server closes it; returns the seconds each stayed open (None: still
    open at started + limit_s)."""
    open_for = [None] * len(socks)
    alive = set(range(len(socks)))
    next_feed = time.monotonic()
    while alive and time.monotonic() < started + limit_s:
        now = time.monotonic()
        for i in list(alive):
            if closed_by_peer(socks[i]):
                open_for[i] = now - started
                alive.discard(i)
        if feed and now >= next_feed:
            for i in list(alive):
                try:
                    socks[i].send(feed(i))
                except OSError:
                    open_for[i] = now - started
                    alive.discard(i)
            next_feed = now + feed_every
        time.sleep(0.02)
    return open_for


def connect_many(port, n):
    socks = []
    for _ in range(n):
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        s.setblocking(True)
        socks.append(s)
    return socks


def close_all(socks):
    for s in socks:
        try:
            s.close()
        except OSError:
            pass


# ---- attacks ---------------------------------------------------------------------

def attack_slowloris(node):
    """64 connections (16x the 4 workers) send a request line and then one
    header line every 0.5 s, never the blank line: each is cut off at the
    header deadline (5 s)."""
    n = 64
    socks = connect_many(node.port, n)
    started = time.monotonic()
    try:
        for s in socks:
            s.send(b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        open_for = watch_cutoff(socks, started, HEADER_TIMEOUT_MS / 1000 + 3,
                                feed=lambda i: b"X-Slow: 1\r\n")
    finally:
        close_all(socks)
    still = sum(1 for t in open_for if t is None)
    check(still == 0, f"slowloris: {still} of {n} connections still open {HEADER_TIMEOUT_MS / 1000 + 3} s on")
    latest = max(open_for)
    check(latest <= HEADER_TIMEOUT_MS / 1000 + 1.5, f"slowloris: a connection lasted {latest:.1f} s")
    return f"{n} connections cut off after {min(open_for):.1f}-{latest:.1f} s"


def attack_slow_body(node):
    """16 POSTs with Content-Length 100000 and 10 bytes every 0.5 s, and 4
    chunked ones with one byte chunks: each is cut off at the body deadline
    (3 s here), or refused at once (503) when its body would not fit the
    in-flight budget (a chunked body counts as 32 MiB of the 64 MiB); JSON-RPC
    keeps answering meanwhile (bodies are read by the poller, chunked ones
    hold at most 2 of the 4 workers)."""
    n_len, n_chunked = 16, 4
    socks = connect_many(node.port, n_len + n_chunked)
    started = time.monotonic()
    rpc_worst = 0.0
    try:
        for i, s in enumerate(socks):
            if i < n_len:
                s.send(b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                       b"Content-Length: 100000\r\n\r\n[")
            else:
                s.send(b"POST /tx HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/msgpack\r\n"
                       b"Transfer-Encoding: chunked\r\n\r\n")

        def feed(i):
            return b"          " if i < n_len else b"1\r\n\xc0\r\n"
        # Interleave: feed for a while, ask JSON-RPC in between.
        open_for = [None] * len(socks)
        limit = BODY_TIMEOUT_MS / 1000 + 3
        while time.monotonic() < started + limit and any(t is None for t in open_for):
            t0 = time.monotonic()
            node.height()
            rpc_worst = max(rpc_worst, time.monotonic() - t0)
            part = watch_cutoff([s for s, t in zip(socks, open_for) if t is None], started,
                                min(limit, time.monotonic() - started + 0.6), feed=None)
            idx = [i for i, t in enumerate(open_for) if t is None]
            for i, t in zip(idx, part):
                if t is not None:
                    open_for[i] = t
            for i in idx:
                if open_for[i] is None:
                    try:
                        socks[i].send(feed(i))
                    except OSError:
                        open_for[i] = time.monotonic() - started
    finally:
        close_all(socks)
    still = sum(1 for t in open_for if t is None)
    check(still == 0, f"slow body: {still} connections still open")
    latest = max(open_for)
    check(latest <= BODY_TIMEOUT_MS / 1000 + 1.5, f"slow body: a connection lasted {latest:.1f} s")
    check(rpc_worst < 1.0, f"slow body: tos_blockNumber took {rpc_worst:.2f} s")
    early = [t for t in open_for if t < 1.0]
    late = [t for t in open_for if t >= 1.0]
    check(len(early) <= n_chunked, f"slow body: {len(early)} connections ended within 1 s")
    return (f"{len(late)} of {n_len} + {n_chunked} chunked slow bodies cut off after "
            f"{min(late):.1f}-{max(late):.1f} s, {len(early)} refused at once; "
            f"tos_blockNumber meanwhile <= {rpc_worst * 1000:.0f} ms")


def tx_entry_error(r):
    check(r.status == 200, f"HTTP {r.status} {r.body[:200]!r}")
    reply = r.json()
    check(isinstance(reply, list) and len(reply) == 1 and "error" in reply[0], f"reply {reply!r:.300}")
    e = reply[0]["error"]
    check(e["code"] == -32602 and e["message"].startswith("record 1:"), f"error {e}")
    return e["message"]


def attack_tx_nils(node):
    """25 MB of msgpack nils POSTed to /tx: the first record is not a
    signed_tx, which ends the processing there (-32602 naming record 1)."""
    r = post(node.port, "/tx", b"\xc0" * (25_000_000), "application/msgpack")
    msg = tx_entry_error(r)
    return f"answered in {r.elapsed * 1000:.0f} ms: {msg!r}"


def attack_tx_nil_arrays(node):
    """25 records, each an array of 2^20 - 1 nils (25 MB): each would cost
    24 MiB of msgpack objects; refused by the /tx element caps at record 1."""
    rec = b"\xdd" + (0xFFFFF).to_bytes(4, "big") + b"\xc0" * 0xFFFFF
    r = post(node.port, "/tx", rec * 25, "application/msgpack")
    msg = tx_entry_error(r)
    return f"answered in {r.elapsed * 1000:.0f} ms: {msg!r}"


def attack_oversize(node):
    """A Content-Length over the 32 MiB cap is refused (413) before any body
    byte is sent; a chunked body is cut off (413) once it passes the cap."""
    t0 = time.monotonic()
    s = socket.create_connection(("127.0.0.1", node.port), timeout=10)
    try:
        s.sendall(f"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                  f"Content-Length: {40 * MiB}\r\n\r\n".encode())
        r = read_reply(s, t0)
    finally:
        s.close()
    check(r.status == 413, f"Content-Length 40 MiB: HTTP {r.status}")
    check(r.json()["error"]["code"] == -32600, f"Content-Length 40 MiB: {r.body!r}")
    check(r.elapsed < 1.0, f"Content-Length 40 MiB: answered after {r.elapsed:.2f} s")
    head = (b"POST /tx HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/msgpack\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n")
    piece = b"\xc0" * (1 * MiB)
    chunk = f"{len(piece):x}\r\n".encode() + piece + b"\r\n"
    r2 = request(node.port, head, timeout=30, body_chunks=[chunk] * 40 + [b"0\r\n\r\n"])
    check(r2.status == 413, f"chunked 40 MiB: HTTP {r2.status} {r2.body[:200]!r}")
    check(r2.json()["error"]["code"] == -32600, f"chunked 40 MiB: {r2.body!r}")
    return f"Content-Length refused in {r.elapsed * 1000:.0f} ms, chunked cut off in {r2.elapsed * 1000:.0f} ms"


def attack_huge_batch(node):
    """A batch of 300 000 requests (16 MB) is refused by the JSON element
    cap before it is built; one of 10 001 by the batch cap; both 413 with
    -32600."""
    one = b'{"jsonrpc":"2.0","id":1,"method":"tos_blockNumber"}'
    body = b"[" + b",".join([one] * 300_000) + b"]"
    r = post(node.port, "/", body)
    check(r.status == 413, f"300 000 batch: HTTP {r.status} {r.body[:200]!r}")
    e = r.json()["error"]
    check(e["code"] == -32600, f"300 000 batch: {e}")
    body2 = b"[" + b",".join([one] * 10_001) + b"]"
    r2 = post(node.port, "/", body2)
    check(r2.status == 413, f"10 001 batch: HTTP {r2.status}")
    e2 = r2.json()["error"]
    check(e2["code"] == -32600 and "10000" in e2["message"].replace(" ", "").replace(",", ""), f"{e2}")
    return f"{len(body) / MiB:.1f} MiB batch: {e['message']!r} in {r.elapsed * 1000:.0f} ms; 10 001: {e2['message']!r}"


def attack_deep_json(node):
    """5 000 000 nested arrays (10 MB), and 1 000 000 nested objects: 413,
    -32600, before anything is built."""
    body = b"[" * 5_000_000 + b"]" * 5_000_000
    r = post(node.port, "/", body)
    check(r.status == 413, f"nested arrays: HTTP {r.status} {r.body[:200]!r}")
    e = r.json()["error"]
    check(e["code"] == -32600, f"nested arrays: {e}")
    body2 = b'{"a":' * 1_000_000 + b"1" + b"}" * 1_000_000
    r2 = post(node.port, "/", body2)
    check(r2.status == 413 and r2.json()["error"]["code"] == -32600, f"nested objects: HTTP {r2.status}")
    return f"{e['message']!r} in {r.elapsed * 1000:.0f} ms"


def attack_conn_cap(node):
    """MAX_CONNECTIONS + 200 idle connections: the oldest waiting ones are
    closed at once to make room (the cap holds); then 3 s of connect/close
    churn from 4 threads."""
    n = MAX_CONNECTIONS + 200
    socks = connect_many(node.port, n)
    started = time.monotonic()
    try:
        open_for = watch_cutoff(socks, started, 1.5)
        closed = sum(1 for t in open_for if t is not None)
        check(closed >= 200, f"conn cap: only {closed} of {n} connections closed within 1.5 s")
        still_open = n - closed
        check(still_open <= MAX_CONNECTIONS, f"conn cap: {still_open} connections open (cap {MAX_CONNECTIONS})")
    finally:
        close_all(socks)
    stop = threading.Event()
    made = [0]

    def churn():
        while not stop.is_set():
            try:
                s = socket.create_connection(("127.0.0.1", node.port), timeout=2)
                made[0] += 1
                s.close()
            except OSError:
                pass
    threads = [threading.Thread(target=churn, daemon=True) for _ in range(4)]
    for t in threads:
        t.start()
    time.sleep(3)
    stop.set()
    for t in threads:
        t.join()
    return f"{closed} of {n} idle connections closed within 1.5 s; {made[0]} connect/close in 3 s"


def attack_big_response(node):
    """A batch of 2000 tos_chainProfile calls (~1 KiB each) against a
    256 KiB response cap: the calls past the cap are not run and answer
    -38006; the reply stays near the cap."""
    one = {"jsonrpc": "2.0", "method": "tos_chainProfile"}
    body = json.dumps([dict(one, id=i) for i in range(2000)]).encode()
    r = post(node.port, "/", body)
    check(r.status == 200, f"HTTP {r.status} {r.body[:200]!r}")
    reply = r.json()
    check(len(reply) == 2000, f"{len(reply)} entries")
    ok = [x for x in reply if "result" in x]
    refused = [x for x in reply if "error" in x]
    check(ok and refused and all(x["error"]["code"] == -38006 for x in refused), "no -38006 entries")
    check([x["id"] for x in reply] == list(range(2000)), "ids out of order")
    check(len(r.body) < MAX_RESPONSE + 2000 * 200, f"reply of {len(r.body)} bytes")
    return f"{len(ok)} answered, {len(refused)} refused (-38006), reply {len(r.body) / 1024:.0f} KiB"


ATTACKS = {name[len("attack_"):]: fn for name, fn in globals().items() if name.startswith("attack_")}


def main():
    global ENV
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bin", required=True, help="directory of the gtos-* binaries (BUILD/cmd)")
    ap.add_argument("attacks", nargs="*", help=f"attacks to run (default all: {' '.join(ATTACKS)})")
    args = ap.parse_args()
    names = args.attacks or list(ATTACKS)
    for n in names:
        if n not in ATTACKS:
            print(f"unknown attack {n!r}", file=sys.stderr)
            return 2
    work = tempfile.mkdtemp(prefix="gtos-rpcsec-")
    passed = failed = 0
    node = None
    try:
        bindir = copy_tools(os.path.abspath(args.bin), os.path.join(work, "bin"))
        ENV = dict(os.environ)
        ENV["PATH"] = bindir + os.pathsep + ENV.get("PATH", "")
        for k in list(ENV):
            if k.startswith("GTOS_"):
                del ENV[k]
        node = NodeProc(work).start()
        print(f"     node on 127.0.0.1:{node.port}, pid {node.proc.pid}", flush=True)
        for name in names:
            start = time.time()
            try:
                under_attack(node, name, ATTACKS[name])
                passed += 1
                print(f"ok   {name} ({time.time() - start:.1f}s)", flush=True)
            except Exception as e:
                failed += 1
                print(f"FAIL {name}: {e}", flush=True)
                if not isinstance(e, Fail):
                    traceback.print_exc()
                if node.proc.poll() is not None:
                    print("     the node is gone; restarting it", flush=True)
                    node = NodeProc(work).start()
    except Exception as e:
        failed += 1
        print(f"FAIL setup: {e}", flush=True)
        if not isinstance(e, Fail):
            traceback.print_exc()
    finally:
        if node:
            try:
                node.stop()
            except Fail as e:
                failed += 1
                print(f"FAIL stop: {e}")
        if failed and node:
            with open(node.logpath, errors="replace") as f:
                print(f"---- dev.log (tail)\n{f.read()[-3000:]}")
        shutil.rmtree(work, ignore_errors=True)
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
