#!/usr/bin/env python3
"""Security acceptance tests of the p2p transport (issue 12), real processes
on loopback. Each scenario runs a fresh 4-validator network
(tests/node/net_test.py's Network) with 300 ms blocks; the attacker is this
script, speaking protocol 2 by hand (tests/node/p2pwire.py).

- relay: "A TCP relay placed between two validators records their traffic:
  a distinctive value written by a kv-put never appears in it, and flipping
  one byte in transit closes that connection without crashing either node."
  val3 is restarted without a listener and with one peer, a relay in front
  of val0, so every byte val3 sends or receives passes through the relay.
  A kv-put of a random marker is sent to val1 and read back from val3
  (tos_getKV); the marker must not occur in the recorded bytes (either
  direction; at least 8 KiB recorded). Then one byte of the next chunk
  val3 -> val0 is flipped: that connection must close, val0 counts a frame
  that failed authentication (gtos_p2p_bad_frames_total) and penalises
  nobody (gtos_p2p_penalty_disconnects_total unchanged), both stay alive,
  val3 reconnects through the relay and keeps following the chain.
- impersonation: "A relay took A's challenge, had B sign it, and was
  accepted by A as B; one bad frame then got B's key banned." The attacker
  runs its own session with val1, receives val1's Hello (signed over that
  session's challenge) and presents it to val0 in another session: val0
  must close the connection; val1 stays connected to val0 and unbanned.
- handshake_memory: "32 idle connections that each sent a 4-byte length
  header reserved 17 MiB apiece and filled every peer slot; one 1 MB frame
  of empty txs took a node from 14 to 251 MiB." From 127.0.0.2: 32 idle
  connections sending 4 bytes; 8 that complete the intro and announce a
  16 MiB frame; one that sends 1 MiB after its intro. val0's RSS must grow
  by < 64 MiB, connections beyond the per-IP handshake cap are refused
  (gtos_p2p_refused_connections_total), its 3 peers stay connected and the
  chain advances by >= 10 blocks.
- snapshot_parts: "A 60-byte snapshot-part request makes the node read and
  queue 64 MiB." val0 serves a ~24 MiB snapshot (random 60 KiB values);
  an authenticated attacker asks for every part three times and reads
  nothing: RSS < +64 MiB, the non-reader dropped, the chain goes on, and
  a reading peer still gets a whole part.
- authenticated_floods: an authenticated attacker (new node key each time)
  sends (a) one frame holding a p2p_txs of ~1M empty arrays: banned at the
  element budget, RSS < +64 MiB; (b) 50,000 copies of a kv-put with a
  forged signature in 10 frames: banned after 4 frames (25 points each,
  each frame costing one verification), val0's CPU time for the whole
  flood < 1 s; (c) an unsolicited p2p_peers: 10 points, logged; (d) an
  answer to val0's p2p_get_peers listing a loopback address we listen on
  and a host name: val0 dials neither within 5 s.

Loopback ports 35000-36999. The tools are copied from --bin first. Prints
one line per scenario and "N passed, N failed"; exit 1 on any failure.

  security_test.py --bin BUILD/cmd [--keep] [-v] [scenario ...]
"""
import argparse
import json
import os
import shutil
import socket
import struct
import sys
import tempfile
import threading
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import net_test as nt  # noqa: E402
from net_test import Fail, Network, check, run, wait_for  # noqa: E402
from crash_test import copy_tools  # noqa: E402
from hostile_test import RssSampler, spawn_outbound_only, vm_rss  # noqa: E402
import p2pwire  # noqa: E402

nt.PORT_RANGE = (35000, 37000)

OPTS = None
MiB = 1 << 20


def say(msg):
    if OPTS and OPTS.verbose:
        print(f"     {time.strftime('%H:%M:%S')} {msg}", flush=True)


def new_network(work):
    return Network(work, params=("target_block_interval_ms=300",))


def identity(node):
    prof = node.call("tos_chainProfile")
    return prof["chain_id"], bytes.fromhex(prof["genesis_hash"][2:])


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def metric(node, name):
    return node.metric(name) or 0


class Relay:
    """Forwards one listening port to a target, recording every byte; can
    flip one byte of the next chunk in the client -> target direction."""

    def __init__(self, target_port):
        self.target = target_port
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", nt.free_port()))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.recorded = bytearray()
        self.lock = threading.Lock()
        self.flip = False
        self.flipped = 0
        self.closed_conns = 0
        self.conns = 0
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            try:
                u = socket.create_connection(("127.0.0.1", self.target), timeout=5)
            except OSError:
                c.close()
                continue
            self.conns += 1
            state = {"done": False}
            threading.Thread(target=self.pump, args=(c, u, True, state), daemon=True).start()
            threading.Thread(target=self.pump, args=(u, c, False, state), daemon=True).start()

    def pump(self, a, b, up, state):
        try:
            while True:
                data = a.recv(65536)
                if not data:
                    break
                if up and self.flip:
                    self.flip = False
                    data = data[:-1] + bytes([data[-1] ^ 0x01])
                    self.flipped += 1
                with self.lock:
                    self.recorded += data
                b.sendall(data)
        except OSError:
            pass
        for s in (a, b):
            try:
                s.close()
            except OSError:
                pass
        with self.lock:
            if not state["done"]:
                state["done"] = True
                self.closed_conns += 1

    def close(self):
        self.sock.close()


def scenario_relay(work):
    net = new_network(work).start()
    net.wait_all(3)
    val0, val1, val3 = net.nodes[0], net.nodes[1], net.nodes[3]
    relay = Relay(val0.p2p_port)
    val3.stop()
    extra = ["--passphrase-file", val3.passphrase] if val3.passphrase else []
    spawn_outbound_only(val3, [f"127.0.0.1:{relay.port}"], extra, settings={"p2p_discovery": "false"})
    val3.wait_ready()
    h = net.min_height(net.nodes[:3])
    val3.wait_height(h + 5, timeout=60)
    check(relay.conns >= 1, "val3 did not connect through the relay")

    marker = "GTOS-SECRET-" + os.urandom(12).hex()
    signed = nt.build_tx(net, val1, "kv-put", net.user, "--namespace", "sec", "--key", "k", "--value", marker,
                         "--ttl", "1000")
    receipt = nt.send_wait(val1, signed)
    val3.wait_height(int(receipt["height"]) + 1, timeout=60)
    user_addr = run(["gtos-keys", "addr", net.user]).stdout.decode().strip()
    kv = val3.call("tos_getKV", user_addr, "0x" + b"sec".hex(), "0x" + b"k".hex())
    check(marker in json.dumps(kv) or marker.encode().hex() in json.dumps(kv),
          f"val3 did not get the value through the relay: {kv}")
    with relay.lock:
        rec = bytes(relay.recorded)
    check(len(rec) >= 8 * 1024, f"only {len(rec)} bytes went through the relay")
    check(marker.encode() not in rec, "the kv-put value appears in the recorded p2p traffic")
    check(b"sec" + b"\xa1k" not in rec and signed not in rec, "the signed tx appears in the recorded traffic")

    bad0 = metric(val0, "gtos_p2p_bad_frames_total")
    pen0 = metric(val0, "gtos_p2p_penalty_disconnects_total")
    closed0 = relay.closed_conns
    relay.flip = True
    wait_for(lambda: relay.flipped == 1, 10, "a chunk to flip")
    wait_for(lambda: relay.closed_conns > closed0, 10, "the connection with the flipped byte to close")
    wait_for(lambda: metric(val0, "gtos_p2p_bad_frames_total") > bad0, 10, "val0 to count a bad frame")
    check(metric(val0, "gtos_p2p_penalty_disconnects_total") == pen0, "val0 penalised someone for a flipped byte")
    check(val0.alive() and val3.alive(), "a node died after the flipped byte")
    wait_for(lambda: relay.conns >= 2, 30, "val3 to reconnect through the relay")
    h = net.min_height(net.nodes[:3])
    val3.wait_height(h + 5, timeout=60)
    bad1 = metric(val0, "gtos_p2p_bad_frames_total")
    net.compare()
    errors = net.stop_all()
    check(not errors, "; ".join(errors))
    relay.close()
    return (f"{len(rec)} bytes recorded, marker absent; flipped byte closed the connection "
            f"(bad frames {bad0:.0f} -> {bad1:.0f}), no penalty, val3 reconnected")


def scenario_impersonation(work):
    net = new_network(work).start()
    net.wait_all(3)
    val0, val1 = net.nodes[0], net.nodes[1]
    chain, genesis = identity(val0)
    pen0 = metric(val0, "gtos_p2p_penalty_disconnects_total")
    # Our session with val1: val1 sends its Hello, signed over challenge c1.
    to_b = p2pwire.Peer(val1.p2p_port).intro()
    hello_b = to_b.read_record()
    # Our session with val0 (challenge c0): present val1's Hello.
    to_a = p2pwire.Peer(val0.p2p_port).intro()
    to_a.read_record()
    to_a.send_record(hello_b)
    check(to_a.closed(), "val0 accepted val1's Hello replayed on another connection")
    to_a.close()
    to_b.close()
    time.sleep(1)
    check(metric(val0, "gtos_p2p_penalty_disconnects_total") == pen0, "val0 banned someone")
    check(metric(val0, "gtos_p2p_peers") >= 3, "val0 lost a real peer")
    h = net.min_height()
    net.wait_all(h + 5, timeout=60)
    net.compare()
    errors = net.stop_all()
    check(not errors, "; ".join(errors))
    return "a Hello replayed from another session was refused; val1 stayed connected and unbanned"


def scenario_handshake_memory(work):
    net = new_network(work).start()
    net.wait_all(3)
    val0 = net.nodes[0]
    port = val0.p2p_port
    base = max(vm_rss(val0.proc.pid) for _ in range(5))
    refused0 = metric(val0, "gtos_p2p_refused_connections_total")
    h0 = net.min_height()
    sampler = RssSampler([val0]).start()
    socks = []
    for _ in range(32):
        try:
            s = socket.create_connection(("127.0.0.1", port), timeout=5, source_address=("127.0.0.2", 0))
            s.sendall(struct.pack(">I", 16 * MiB))
            socks.append(s)
        except OSError:
            pass
    for _ in range(8):
        try:
            p = p2pwire.Peer(port, source="127.0.0.2").intro()
            p.raw(struct.pack(">I", 16 * MiB) + b"\0" * 1000)
            socks.append(p.sock)
        except (OSError, ConnectionError):
            pass
    try:
        big = p2pwire.Peer(port, source="127.0.0.3").intro()
        big.raw(struct.pack(">I", MiB) + b"\x90" * MiB)
        check(big.closed(), "a 1 MiB frame before the handshake was not refused")
    except (OSError, ConnectionError):
        pass
    wait_for(lambda: metric(val0, "gtos_p2p_refused_connections_total") >= refused0 + 20, 10,
             "connections beyond the handshake caps to be refused")
    net.wait_all(h0 + 10, timeout=60)
    peers = metric(val0, "gtos_p2p_peers")
    sampler.stop()
    for s in socks:
        s.close()
    grow = (sampler.peak[val0.name] - base) / MiB
    check(grow < 64, f"val0's RSS grew by {grow:.1f} MiB")
    check(peers >= 3, f"val0 lost real peers: gtos_p2p_peers={peers}")
    refused = metric(val0, "gtos_p2p_refused_connections_total") - refused0
    net.compare()
    errors = net.stop_all()
    check(not errors, "; ".join(errors))
    return f"RSS +{grow:.1f} MiB, {refused:.0f} connections refused at the caps, peers kept, chain advanced"


def signed_fields(signed):
    """The field array of a signed-tx record (its [type, version] dropped)."""
    b0 = signed[0]
    if 0x90 <= b0 <= 0x9f:
        n, rest = b0 & 0x0f, signed[1:]
    elif b0 == 0xdc:
        n, rest = struct.unpack(">H", signed[1:3])[0], signed[3:]
    else:
        raise Fail(f"unexpected record header {b0:#x}")
    check(rest[0] < 0x80 and rest[1] < 0x80, "type and version are one byte each")
    return p2pwire.mp_array(n - 2) + rest[2:]


def scenario_authenticated_floods(work):
    net = new_network(work).start()
    net.wait_all(3)
    val0 = net.nodes[0]
    chain, genesis = identity(val0)
    port = val0.p2p_port
    pen = lambda: metric(val0, "gtos_p2p_penalty_disconnects_total")  # noqa: E731
    out = []

    # (a) ~1M empty arrays in one p2p_txs frame.
    base = max(vm_rss(val0.proc.pid) for _ in range(5))
    sampler = RssSampler([val0]).start()
    p0 = pen()
    p = p2pwire.connect(port, chain, genesis)
    n = MiB - 8
    p.send_record(p2pwire.record(p2pwire.T_TXS, 1, b"\xdd" + struct.pack(">I", n) + b"\x90" * n))
    check(p.closed(), "the element flood was not refused")
    wait_for(lambda: pen() > p0, 10, "the element flooder to be banned")
    sampler.stop()
    grow = (sampler.peak[val0.name] - base) / MiB
    check(grow < 64, f"val0's RSS grew by {grow:.1f} MiB on an element flood")
    out.append(f"element flood banned, RSS +{grow:.1f} MiB")

    # (b) 50,000 forged txs.
    signed = nt.build_tx(net, val0, "kv-put", net.user, "--namespace", "f", "--key", "k", "--value", "v",
                         "--ttl", "10")
    fields = bytearray(signed_fields(signed))
    fields[-1] ^= 0x01  # the signature's last byte
    per = 5000
    frame = p2pwire.record(p2pwire.T_TXS, 1, p2pwire.mp_array(per) + bytes(fields) * per)
    p0 = pen()
    bad0 = metric(val0, "gtos_p2p_bad_messages_total")
    cpu0 = cpu_seconds(val0.proc.pid)
    p = p2pwire.connect(port, chain, genesis)
    sent = 0
    try:
        for _ in range(10):
            p.send_record(frame)
            sent += per
    except (BrokenPipeError, ConnectionResetError):
        pass
    check(p.closed(), "the forger was not disconnected")
    wait_for(lambda: pen() > p0, 10, "the forger to be banned")
    cpu = cpu_seconds(val0.proc.pid) - cpu0
    bad = metric(val0, "gtos_p2p_bad_messages_total") - bad0
    check(bad >= 4, f"only {bad:.0f} bad messages counted for the forged batches")
    check(cpu < 1.0, f"val0 spent {cpu:.2f} s of CPU on {sent} forged txs")
    out.append(f"{sent} forged txs sent, banned, val0 CPU {cpu:.2f} s")

    # (c) unsolicited p2p_peers, (d) answered p2p_get_peers with undialable addresses.
    lsock = socket.socket()
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(4)
    lsock.settimeout(5)
    trap = f"127.0.0.1:{lsock.getsockname()[1]}"
    p = p2pwire.connect(port, chain, genesis)
    asked = False
    deadline = time.time() + 10
    p.sock.settimeout(2)
    while not asked and time.time() < deadline:
        rec = p.read_record()
        asked = rec[1] == p2pwire.T_GETPEERS
    check(asked, "val0 never asked for peers")
    addrs = [trap, "evil.example.org:26656", "[::1]:1"]
    p.send_record(p2pwire.record(p2pwire.T_PEERS, 1, p2pwire.mp_array(len(addrs)) +
                                 b"".join(p2pwire.mp_str(a) for a in addrs)))
    dialled = True
    try:
        c, _ = lsock.accept()
        c.close()
    except socket.timeout:
        dialled = False
    check(not dialled, f"val0 dialled {trap}, a loopback address from peer exchange")
    p0 = pen()
    try:
        for _ in range(10):  # 10 points each
            p.send_record(p2pwire.record(p2pwire.T_PEERS, 1, p2pwire.mp_array(1) + p2pwire.mp_str("1.2.3.4:5")))
    except (BrokenPipeError, ConnectionResetError):
        pass
    wait_for(lambda: pen() > p0, 10, "ten unsolicited p2p_peers to get the sender banned")
    p.close()
    lsock.close()
    out.append("undialable peer-exchange addresses ignored, unsolicited p2p_peers banned")

    h = net.min_height()
    net.wait_all(h + 5, timeout=60)
    net.compare()
    errors = net.stop_all()
    check(not errors, "; ".join(errors))
    return "; ".join(out)


def _mp_uint(b, i):
    """A msgpack unsigned integer at b[i]: (value, next index)."""
    t = b[i]
    if t < 0x80:
        return t, i + 1
    size = {0xcc: 1, 0xcd: 2, 0xce: 4, 0xcf: 8}[t]
    return int.from_bytes(b[i + 1:i + 1 + size], "big"), i + 1 + size


def _mp_array(b, i):
    t = b[i]
    if 0x90 <= t <= 0x9f:
        return t & 0x0f, i + 1
    if t == 0xdc:
        return int.from_bytes(b[i + 1:i + 3], "big"), i + 3
    return int.from_bytes(b[i + 1:i + 5], "big"), i + 5


def snapshot_offers(rec):
    """[(height, hash, parts)] of a p2p_snapshots record (docs/p2p.md)."""
    _, i = _mp_array(rec, 0)
    rtype, i = _mp_uint(rec, i)
    check(rtype == T_SNAPSHOTS, f"expected p2p_snapshots, got record type {rtype:#x}")
    _, i = _mp_uint(rec, i)  # version
    n, i = _mp_array(rec, i)
    out = []
    for _ in range(n):
        _, i = _mp_array(rec, i)
        height, i = _mp_uint(rec, i)
        check(rec[i] == 0xc4 and rec[i + 1] == 32, "offer hash is not bin 32")
        h = bytes(rec[i + 2:i + 34])
        i += 34
        parts, i = _mp_uint(rec, i)
        out.append((height, h, parts))
    return out


T_GET_SNAPSHOTS, T_SNAPSHOTS, T_GET_SNAPSHOT_PART, T_SNAPSHOT_PART = 0x4d, 0x4e, 0x4f, 0x50


def read_until(p, rtype, timeout=15):
    deadline = time.time() + timeout
    p.sock.settimeout(2)
    while time.time() < deadline:
        try:
            rec = p.read_record()
        except socket.timeout:
            continue
        if _mp_uint(rec, _mp_array(rec, 0)[1])[0] == rtype:
            return rec
    raise Fail(f"no record of type {rtype:#x} within {timeout}s")


def scenario_snapshot_parts(work):
    """'A 60-byte snapshot-part request makes the node read and queue
    64 MiB.' val0 serves a snapshot of ~24 MiB (400 kv-puts of 60 KiB of
    random bytes: chunks of ~1 MiB that do not compress). An authenticated
    attacker asks for every part three times (each request ~60 bytes) and
    reads nothing: val0's RSS must grow by < 64 MiB, val0 must penalise the
    non-reader, the chain keeps finalizing, and a second, reading peer
    still gets a whole part."""
    # 4 MiB blocks: with 16 MiB ones (the default limit) a loaded 2-core
    # machine took 1.4 s to validate each proposal and the height went
    # through 10+ rounds without deciding (docs/notes.md, session 8).
    # GTOS_TEST_MAX_BLOCK_BYTES=16777216 reproduces that case.
    max_block = int(os.environ.get("GTOS_TEST_MAX_BLOCK_BYTES", "4194304"))
    net = Network(work, params=("target_block_interval_ms=300", "snapshot_interval=30", f"max_block_bytes={max_block}"))
    net.start({n.name: ["--log-level", "debug"] for n in net.nodes} if os.environ.get("GTOS_TEST_DEBUG") else None)
    net.wait_all(3)
    val0 = net.nodes[0]
    chain, genesis = identity(val0)
    user = net.user
    blob = os.path.join(work, "blob.bin")
    with open(blob, "wb") as f:
        f.write(os.urandom(60 << 10))
    template = json.loads(run(["gtos-tx", "build", "kv-put", "--chain-id", chain, "--from-key", user,
                               "--rpc", val0.url, "--namespace", "snap", "--key", "k0000", "--value-file", blob,
                               "--ttl", "100000", "--json"]).stdout)
    template.pop("id", None)
    nonce0 = int(template["tx"]["nonce"])
    lines = []
    for i in range(400):
        template["tx"]["nonce"] = nonce0 + i
        template["tx"]["payload"]["key"] = "0x" + f"k{i:04d}".encode().hex()
        template["tx"]["payload"]["value"] = "0x" + os.urandom(60 << 10).hex()
        lines.append(json.dumps(template))
    unsigned = run(["gtos-inspect", "--encode"], stdin=("\n".join(lines) + "\n").encode()).stdout
    signed = run(["gtos-tx", "sign", "--key", user], stdin=unsigned).stdout
    r = nt.send_wait(val0, signed, timeout=120)
    h_state = int(r["height"])
    wait_for(lambda: metric(val0, "gtos_snapshot_last_height") > h_state, 60, "a snapshot above the state's height")
    p = p2pwire.connect(val0.p2p_port, chain, genesis)
    p.send_record(p2pwire.record(T_GET_SNAPSHOTS, 1))
    offers = snapshot_offers(read_until(p, T_SNAPSHOTS))
    check(offers, "val0 offers no snapshot")
    height, mhash, parts = offers[-1]
    check(parts >= 20, f"the snapshot at {height} has only {parts} parts: the state did not reach ~20 MiB")
    ask = lambda part: p2pwire.record(T_GET_SNAPSHOT_PART, 1, p2pwire.mp_uint(height), p2pwire.mp_bin(mhash),
                                      p2pwire.mp_uint(part))  # noqa: E731
    base = max(vm_rss(val0.proc.pid) for _ in range(5))
    sampler = RssSampler([val0]).start()
    pen0 = metric(val0, "gtos_p2p_penalty_disconnects_total")
    h0 = val0.height()
    t0 = time.time()
    sent = 0
    try:
        for _ in range(3):
            for part in range(parts):
                p.send_record(ask(part))
                sent += len(ask(part))
    except (BrokenPipeError, ConnectionResetError):
        pass
    # A reading peer meanwhile: its part must arrive whole.
    q = p2pwire.connect(val0.p2p_port, chain, genesis)
    q.send_record(ask(1))
    got, total, tq = 0, None, time.time()
    q.sock.settimeout(2)
    while total is None or got < total:
        check(time.time() - tq < 60, f"the reading peer got {got} of {total} bytes of part 1 in 60 s")
        try:
            rec = q.read_record()
        except socket.timeout:
            continue
        _, i = _mp_array(rec, 0)
        rtype, i = _mp_uint(rec, i)
        if rtype != T_SNAPSHOT_PART:
            continue
        _, i = _mp_uint(rec, i)  # version
        _, i = _mp_uint(rec, i)  # height
        i += 34                  # hash
        _, i = _mp_uint(rec, i)  # part
        _, i = _mp_uint(rec, i)  # offset
        total, i = _mp_uint(rec, i)
        check(total > 0, "part 1 was not served (total 0)")
        t = rec[i]
        n = rec[i + 1] if t == 0xc4 else int.from_bytes(rec[i + 1:i + 3], "big") if t == 0xc5 else \
            int.from_bytes(rec[i + 1:i + 5], "big")
        got += n
    reader_s = time.time() - tq
    wait_for(lambda: metric(val0, "gtos_p2p_penalty_disconnects_total") > pen0 or p.closed(1), 60,
             "val0 to drop the peer that does not read its snapshot parts")
    dropped_s = time.time() - t0
    net.wait_all(h0 + 10, timeout=60)
    sampler.stop()
    grow = (sampler.peak[val0.name] - base) / MiB
    check(grow < 64, f"val0's RSS grew by {grow:.1f} MiB while {3 * parts} parts of a {parts}-part snapshot were "
                     f"asked for and never read")
    errors = net.stop_all()
    check(not errors, "; ".join(errors))
    return (f"{3 * parts} part requests ({sent} bytes) for a {parts}-part snapshot, never read: val0 RSS "
            f"+{grow:.1f} MiB, the non-reader dropped after {dropped_s:.1f}s; a reading peer got part 1 "
            f"({total} bytes) in {reader_s:.1f}s; the chain went on")


SCENARIOS = {name[len("scenario_"):]: fn for name, fn in list(globals().items()) if name.startswith("scenario_")}


def main():
    global OPTS
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bin", required=True, help="directory of the gtos-* binaries (BUILD/cmd)")
    ap.add_argument("--keep", action="store_true", help="keep the work directories")
    ap.add_argument("-v", "--verbose", action="store_true")
    ap.add_argument("scenarios", nargs="*", help=f"any of: {', '.join(SCENARIOS)} (default: all)")
    OPTS = ap.parse_args()
    names = OPTS.scenarios or list(SCENARIOS)
    unknown = [n for n in names if n not in SCENARIOS]
    if unknown:
        ap.error(f"unknown scenario(s) {', '.join(unknown)}; choose from {', '.join(SCENARIOS)}")
    top = tempfile.mkdtemp(prefix="gtos-security-")
    try:
        bindir = copy_tools(os.path.abspath(OPTS.bin), os.path.join(top, "bin"))
    except Fail as e:
        print(f"FAIL setup: {e}")
        return 1
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([bindir, env.get("PATH", "")])
    for var in list(env):
        if var.startswith("GTOS_"):
            env.pop(var)
    nt.ENV = env
    nt.OPTS = OPTS
    passed = failed = 0
    t_all = time.time()
    for name in names:
        work = os.path.join(top, name)
        os.makedirs(work)
        start = time.time()
        try:
            summary = SCENARIOS[name](work)
            passed += 1
            print(f"ok   {name} ({time.time() - start:.1f}s){': ' + summary if summary else ''}", flush=True)
        except Exception as e:
            failed += 1
            print(f"FAIL {name} ({time.time() - start:.1f}s): {e}", flush=True)
            if not isinstance(e, Fail):
                traceback.print_exc()
            for log_name in sorted(os.listdir(work)):
                if log_name.endswith(".log"):
                    with open(os.path.join(work, log_name), errors="replace") as f:
                        lines = [l for l in f.read().splitlines() if " debug p2p " not in l]
                    print(f"---- {log_name} (tail)\n" + "\n".join(lines[-25:]))
            print(f"     work directory kept: {work}")
        finally:
            nt._kill_leftovers(work)
    print(f"{passed} passed, {failed} failed ({time.time() - t_all:.0f}s)")
    if not failed and not OPTS.keep:
        shutil.rmtree(top, ignore_errors=True)
    elif OPTS.keep:
        print(f"work directory kept: {top}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
