"""Helpers shared by the benchmarks: tool runs, JSON-RPC, signed kv-put batches.

ENV is the environment the tools run with (set it before calling run()).
"""
import json
import socket
import subprocess
import sys
import urllib.request

ENV = None


def run(args, stdin=None):
    p = subprocess.run(args, input=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=ENV)
    if p.returncode != 0:
        sys.exit(f"{' '.join(args)}: {p.stderr.decode(errors='replace')}")
    return p.stdout


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def rpc(url, method, *params):
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)}).encode()
    req = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as r:
        reply = json.loads(r.read())
    if "error" in reply:
        raise RuntimeError(f"{method}: {reply['error']}")
    return reply["result"]


def post_tx(url, body):
    req = urllib.request.Request(url + "/tx", data=body, headers={"Content-Type": "application/msgpack"})
    with urllib.request.urlopen(req, timeout=60) as r:
        return json.loads(r.read())


def signed_batches(key, chain, start_nonce, count, per_batch, prefix, ttl):
    """Signed kv-put records in batches of per_batch, with their ids."""
    template = json.loads(run(["gtos-tx", "build", "kv-put", "--chain-id", chain, "--from-key", key,
                               "--nonce", "0", "--namespace", "bench", "--key", "k", "--value", "v" * 128,
                               "--ttl", str(ttl), "--json"]))
    template.pop("id", None)
    batches = []
    for b in range(0, count, per_batch):
        lines = []
        for i in range(b, min(count, b + per_batch)):
            t = template
            t["tx"]["nonce"] = start_nonce + i
            t["tx"]["fee"] = 1_000_000_000  # above the minimum for these keys and ttls
            t["tx"]["payload"]["key"] = "0x" + f"{prefix}-{i}".encode().hex()
            lines.append(json.dumps(t))
        unsigned = run(["gtos-inspect", "--encode"], stdin=("\n".join(lines) + "\n").encode())
        signed = run(["gtos-tx", "sign", "--key", key], stdin=unsigned)
        ids = run(["gtos-tx", "hash"], stdin=signed).decode().split()
        batches.append((signed, ids))
    return batches


