"""A TCP relay in front of every node's p2p port, so that the runner can
disconnect nodes and partition the network without root.

Each node listens on a private loopback port that nobody is told about; the
runner owns one relay port per ordered pair of nodes: node A's --peer for B
is the port of (A -> B), which the relay forwards to B's private port, so
each connection is known as (A -> B) from the port it arrived on (p2p
frames are encrypted: the relay cannot read who is talking). Each node also
has one public relay port, what it advertises (--p2p-external) and what its
gentx names; connections arriving there have an unknown source. Peer
exchange hands out only those public loopback addresses, which nodes do not
dial (p2p_allow_private is off), so in practice every connection goes
through a pair port.

Faults: `isolate(name)` closes every connection to or from the node and
refuses new ones until `heal(name)`; `partition(a, b)` does the same for
every connection between the groups a and b until `heal_partition()`.
Latency: `Relay(latency_s)` holds every chunk of bytes that long before it
forwards it, in each direction (order kept; the manifest's
`testnet.link_latency_ms`), which widens the time between a message's
signature and its effect at the peers.
Threads: one accept thread per relay port and two pump threads per
connection, plus one sender thread per direction with a latency (blocking
sockets; a closed socket ends its pumps).
"""
import collections
import socket
import threading
import time


class _Conn:
    def __init__(self, relay, src, dst, client, upstream):
        self.relay = relay
        self.dst = dst
        self.src = src           # node name (None: arrived on the public port)
        self.client = client
        self.upstream = upstream
        self.closed = False
        self.lock = threading.Lock()
        self.bytes = 0

    def close(self):
        with self.lock:
            if self.closed:
                return
            self.closed = True
        for s in (self.client, self.upstream):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            try:
                s.close()
            except OSError:
                pass
        self.relay._forget(self)

    def start(self):
        threading.Thread(target=self._pump_up, daemon=True, name=f"relay-up-{self.dst}").start()
        threading.Thread(target=self._pump, args=(self.upstream, self.client), daemon=True,
                         name=f"relay-down-{self.dst}").start()

    def _pump_up(self):
        self._pump(self.client, self.upstream)

    def _pump(self, a, b):
        delay = self.relay.latency_s
        if delay > 0:
            q = collections.deque()
            cv = threading.Condition()
            threading.Thread(target=self._send_later, args=(b, q, cv, delay), daemon=True,
                             name=f"relay-late-{self.dst}").start()
        try:
            while True:
                data = a.recv(262144)
                if not data:
                    break
                if delay > 0:
                    with cv:
                        q.append((time.monotonic() + delay, data))
                        cv.notify()
                else:
                    b.sendall(data)
                self.bytes += len(data)
        except OSError:
            pass
        if delay > 0:
            with cv:
                q.append((None, None))  # flush what is queued, then close
                cv.notify()
            return
        self.close()

    def _send_later(self, b, q, cv, delay):
        try:
            while True:
                with cv:
                    while not q:
                        cv.wait()
                    due, data = q.popleft()
                if data is None:
                    break
                wait = due - time.monotonic()
                if wait > 0:
                    time.sleep(wait)
                b.sendall(data)
        except OSError:
            pass
        self.close()


class Relay:
    def __init__(self, latency_s=0.0):
        self.latency_s = latency_s
        self.ports = {}         # name -> (relay port, private port)
        self.listeners = {}
        self.conns = set()
        self.lock = threading.Lock()
        self.isolated = set()
        self.sides = None       # name -> 0/1 while partitioned
        self.stopping = False
        self.refused = 0        # connections refused or cut because of a fault
        self.cut = 0

    # -- setup
    def _listen(self, key, port, src, dst):
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", port))
        s.listen(64)
        s.settimeout(0.5)
        self.listeners[key] = s
        threading.Thread(target=self._accept, args=(src, dst, s), daemon=True, name=f"relay-accept-{key}").start()

    def add(self, name, relay_port, private_port):
        """The node's public relay port (unknown sources)."""
        self.ports[name] = (relay_port, private_port)
        self._listen(name, relay_port, None, name)

    def add_pair(self, src, dst, port):
        """The port src dials to reach dst (add dst first)."""
        self._listen((src, dst), port, src, dst)
        return f"127.0.0.1:{port}"

    def _accept(self, src, name, lsock):
        while not self.stopping:
            try:
                client, _ = lsock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            client.settimeout(None)
            if self.stopping:
                client.close()
                return
            if not self.allowed(src, name):
                self.refused += 1
                client.close()
                continue
            try:
                up = socket.create_connection(("127.0.0.1", self.ports[name][1]), timeout=2)
                up.settimeout(None)
            except OSError:
                client.close()  # the node is down: the dialler sees a refused/closed connection
                continue
            for s in (client, up):
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            c = _Conn(self, src, name, client, up)
            with self.lock:
                self.conns.add(c)
            c.start()

    def _forget(self, c):
        with self.lock:
            self.conns.discard(c)

    # -- faults
    def allowed(self, src, dst):
        if dst in self.isolated or (src is not None and src in self.isolated):
            return False
        sides = self.sides
        if sides is not None and src is not None and src in sides and dst in sides:
            return sides[src] == sides[dst]
        return True

    def _enforce(self):
        with self.lock:
            victims = [c for c in self.conns if not self.allowed(c.src, c.dst)]
        for c in victims:
            self.cut += 1
            c.close()
        return len(victims)

    def isolate(self, name):
        self.isolated.add(name)
        return self._enforce()

    def heal(self, name):
        self.isolated.discard(name)

    def partition(self, group_a, group_b):
        sides = {n: 0 for n in group_a}
        sides.update({n: 1 for n in group_b})
        self.sides = sides
        return self._enforce()

    def heal_partition(self):
        self.sides = None

    def connections(self):
        """[(src, dst)] of the open connections (src None: not identified)."""
        with self.lock:
            return [(c.src, c.dst) for c in self.conns if not c.closed]

    def stop(self):
        self.stopping = True
        for s in self.listeners.values():
            try:
                s.close()
            except OSError:
                pass
        with self.lock:
            conns = list(self.conns)
        for c in conns:
            c.close()
        time.sleep(0.05)
