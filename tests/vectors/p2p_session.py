#!/usr/bin/env python3
"""Computes the p2p session test vectors of docs/p2p.md ("Test vectors")
independently of the C++ code, with the Python `cryptography` package, and
writes them as JSON (tests/vectors/p2p_session.json). net_test checks that
lib/net/secret.cpp produces exactly these bytes.

Run: python3 tests/vectors/p2p_session.py > tests/vectors/p2p_session.json
"""
import hashlib
import json

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

RAW = serialization.Encoding.Raw, serialization.PublicFormat.Raw


def nonce(n):
    return b"\0" * 4 + n.to_bytes(8, "little")


def main():
    eph_a_secret = bytes([0x11] * 32)
    eph_b_secret = bytes([0x22] * 32)
    node_a_seed = bytes([0x33] * 32)
    eph_a = X25519PrivateKey.from_private_bytes(eph_a_secret)
    eph_b = X25519PrivateKey.from_private_bytes(eph_b_secret)
    pa = eph_a.public_key().public_bytes(*RAW)
    pb = eph_b.public_key().public_bytes(*RAW)
    shared = eph_a.exchange(eph_b.public_key())
    lo, hi = sorted([pa, pb])
    transcript = hashlib.sha256(b"GTOS-P2P-V2" + lo + hi).digest()
    okm = HKDF(algorithm=hashes.SHA256(), length=96, salt=transcript, info=b"GTOS-P2P-V2 session").derive(shared)
    key_lo, key_hi, challenge = okm[:32], okm[32:64], okm[64:]
    a_send = key_lo if pa == lo else key_hi
    auth_digest = hashlib.sha256(b"GTOS-P2P-AUTH-V2" + challenge).digest()
    node_a = Ed25519PrivateKey.from_private_bytes(node_a_seed)
    node_a_pub = node_a.public_key().public_bytes(*RAW)
    signature = node_a.sign(auth_digest)
    # The first two frames A sends: a record "\x93\x42\x01\x07" (p2p_ping
    # shape, any bytes will do), then the same record again.
    record = bytes.fromhex("934301cf0000010000000000")
    frames = []
    for i in range(2):
        body_len = len(record) + 16
        header = body_len.to_bytes(4, "big")
        frames.append((header + ChaCha20Poly1305(a_send).encrypt(nonce(i), record, header)).hex())
    out = {
        "ephemeral_a_secret": eph_a_secret.hex(),
        "ephemeral_b_secret": eph_b_secret.hex(),
        "intro_a": (b"GTOSP2P2" + pa).hex(),
        "intro_b": (b"GTOSP2P2" + pb).hex(),
        "shared": shared.hex(),
        "transcript": transcript.hex(),
        "a_send_key": a_send.hex(),
        "a_recv_key": (key_hi if pa == lo else key_lo).hex(),
        "challenge": challenge.hex(),
        "auth_digest": auth_digest.hex(),
        "node_a_seed": node_a_seed.hex(),
        "node_a_public": node_a_pub.hex(),
        "node_a_signature": signature.hex(),
        "record": record.hex(),
        "a_frames": frames,
    }
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
