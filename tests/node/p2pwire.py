"""A test peer that speaks GTOS p2p protocol 2 (docs/p2p.md) by hand, for
tests that must send what a well-behaved node never sends: the intro, the
session keys, sealed frames, and a Hello signed with any node key.

Uses the `cryptography` package (Debian: python3-cryptography, installed by
`make deps`); a test that imports this module fails, not skips, without it.
"""
import hashlib
import os
import socket
import struct

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

MAGIC = b"GTOSP2P2"
RAW = (serialization.Encoding.Raw, serialization.PublicFormat.Raw)
T_HELLO, T_PING, T_PONG, T_GETPEERS, T_PEERS, T_STATUS, T_TXS = 0x40, 0x42, 0x43, 0x44, 0x45, 0x46, 0x47


def _nonce(n):
    return b"\0" * 4 + n.to_bytes(8, "little")


# ---- minimal canonical msgpack writer (enough for the records tests send) ----
def mp_uint(n):
    if n < 0x80:
        return bytes([n])
    if n < 0x100:
        return bytes([0xcc, n])
    if n < 0x10000:
        return b"\xcd" + struct.pack(">H", n)
    if n < 0x100000000:
        return b"\xce" + struct.pack(">I", n)
    return b"\xcf" + struct.pack(">Q", n)


def mp_str(s):
    b = s.encode() if isinstance(s, str) else s
    if len(b) < 32:
        return bytes([0xa0 | len(b)]) + b
    if len(b) < 0x100:
        return bytes([0xd9, len(b)]) + b
    return b"\xda" + struct.pack(">H", len(b)) + b


def mp_bin(b):
    if len(b) < 0x100:
        return bytes([0xc4, len(b)]) + b
    if len(b) < 0x10000:
        return b"\xc5" + struct.pack(">H", len(b)) + b
    return b"\xc6" + struct.pack(">I", len(b)) + b


def mp_array(n):
    if n < 16:
        return bytes([0x90 | n])
    if n < 0x10000:
        return b"\xdc" + struct.pack(">H", n)
    return b"\xdd" + struct.pack(">I", n)


def record(rtype, version, *fields):
    return mp_array(2 + len(fields)) + mp_uint(rtype) + mp_uint(version) + b"".join(fields)


class Peer:
    """One connection to a node. connect() does the intro and derives the
    session; hello() sends our sealed Hello; send()/send_record() seal."""

    def __init__(self, port, host="127.0.0.1", source=None, timeout=10):
        self.sock = socket.create_connection((host, port), timeout=timeout,
                                             source_address=(source, 0) if source else None)
        self.send_ch = self.recv_ch = None
        self.sent = self.received = 0
        self.challenge = None

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def raw(self, data):
        self.sock.sendall(data)

    def _read(self, n):
        out = b""
        while len(out) < n:
            chunk = self.sock.recv(n - len(out))
            if not chunk:
                raise ConnectionError("closed by the node")
            out += chunk
        return out

    def intro(self):
        eph = X25519PrivateKey.generate()
        mine = eph.public_key().public_bytes(*RAW)
        self.raw(MAGIC + mine)
        theirs = self._read(40)
        if theirs[:8] != MAGIC:
            raise ConnectionError("bad intro magic from the node")
        theirs = theirs[8:]
        shared = eph.exchange(X25519PublicKey.from_public_bytes(theirs))
        lo, hi = sorted([mine, theirs])
        transcript = hashlib.sha256(b"GTOS-P2P-V2" + lo + hi).digest()
        okm = HKDF(algorithm=hashes.SHA256(), length=96, salt=transcript, info=b"GTOS-P2P-V2 session").derive(shared)
        we_lo = mine == lo
        self.send_ch = ChaCha20Poly1305(okm[:32] if we_lo else okm[32:64])
        self.recv_ch = ChaCha20Poly1305(okm[32:64] if we_lo else okm[:32])
        self.challenge = okm[64:]
        return self

    def seal(self, rec):
        header = struct.pack(">I", len(rec) + 16)
        body = self.send_ch.encrypt(_nonce(self.sent), rec, header)
        self.sent += 1
        return header + body

    def send_record(self, rec):
        self.raw(self.seal(rec))

    def read_record(self):
        header = self._read(4)
        (n,) = struct.unpack(">I", header)
        body = self._read(n)
        rec = self.recv_ch.decrypt(_nonce(self.received), body, header)
        self.received += 1
        return rec

    def hello(self, chain_id, genesis_hash, node_key=None, listen="", height=0):
        """Reads the node's Hello and sends ours, signed with node_key (an
        Ed25519PrivateKey; a fresh one by default). Returns the node's Hello
        record bytes."""
        key = node_key or Ed25519PrivateKey.generate()
        theirs = self.read_record()
        digest = hashlib.sha256(b"GTOS-P2P-AUTH-V2" + self.challenge).digest()
        rec = record(T_HELLO, 2, mp_uint(2), mp_str(chain_id), mp_bin(genesis_hash),
                     mp_bin(key.public_key().public_bytes(*RAW)), mp_bin(key.sign(digest)), mp_str(listen),
                     mp_uint(height))
        self.send_record(rec)
        return theirs

    def closed(self, timeout=10):
        """True when the node closes the connection within timeout (reading
        and discarding whatever it sends meanwhile)."""
        self.sock.settimeout(timeout)
        try:
            while True:
                if not self.sock.recv(65536):
                    return True
        except (ConnectionResetError, BrokenPipeError):
            return True
        except socket.timeout:
            return False
        except OSError:
            return True


def connect(port, chain_id, genesis_hash, **kw):
    """A peer that completed the handshake."""
    source = kw.pop("source", None)
    p = Peer(port, source=source).intro()
    p.hello(chain_id, genesis_hash, **kw)
    return p


def random_genesis():
    return os.urandom(32)
