"""The e2e runner's load generator.

Signed transactions from funded sender keys, a mix of kv-put with short
TTLs over a small key space (TTL churn: entries keep expiring and being
written again), transfer, and code-put (random code with short TTLs).

Process spawning is slow, so a batch is made with two tool runs per sender:
one `gtos-tx build KIND --json` per sender and kind at start gives the
templates; each batch edits nonce and payload in the JSON, encodes every
record with one `gtos-inspect --encode` and signs them all with one
`gtos-tx sign` (both stream many records), and posts the signed records in
one `POST /tx` (docs/rpc.md) to a usable node (the batch starts at that
node's `next_nonce`). A second thread polls `tos_getReceipt` for every
accepted id and records (height, index, status) of each receipt it sees.
"""
import json
import re
import threading
import time

from cluster import RpcError, http_req

FEE = 100000
TTL_MAX = 20
KV_KEYS = 64
MIX = (("kv-put", 0.6), ("transfer", 0.25), ("code-put", 0.15))
PENDING_GIVE_UP_S = 90


class Load:
    def __init__(self, tools, chain, senders, tps, rng, pick_node, workdir, log):
        self.tools = tools
        self.chain = chain
        self.senders = senders       # [(keyfile, address)]
        self.tps = tps
        self.rng = rng
        self.pick_node = pick_node   # () -> a usable Node or None
        self.log = log
        self.stop_ev = threading.Event()
        self.lock = threading.Lock()
        self.pending = {}            # id -> (submit time, sender address, nonce)
        self.unreceipted = []        # (sender address, nonce) of the txs given up on
        self.receipts = {}           # id -> (height, index, status)
        self.sent = 0
        self.accepted = 0
        self.refused = {}            # error message (truncated) -> count
        self.failures = []           # batch-level failures (node gone mid-request, ...)
        self.given_up = 0            # no receipt within PENDING_GIVE_UP_S (dropped, e.g. by a killed node's mempool)
        self.pruned_unseen = 0
        self.kinds = {}
        self.t_start = self.t_stop = None
        self.done = False
        self.templates = {}
        code_file = f"{workdir}/load/code.bin"
        with open(code_file, "wb") as f:
            f.write(b"\x00" * 16)
        for key, addr in senders:
            for kind, _ in MIX:
                args = ["gtos-tx", "build", kind, "--chain-id", chain, "--from-key", key, "--nonce", "0",
                        "--fee", FEE, "--json"]
                if kind == "kv-put":
                    args += ["--namespace", "e2e", "--key", "k", "--value", "v", "--ttl", "1"]
                elif kind == "transfer":
                    args += ["--to", senders[0][1], "--amount", "1"]
                else:
                    args += ["--code-file", code_file, "--ttl", "1"]
                t = json.loads(tools.text(args))
                t.pop("id", None)
                self.templates[(addr, kind)] = t
        self.threads = [threading.Thread(target=self._send_loop, daemon=True, name="load-send"),
                        threading.Thread(target=self._receipt_loop, daemon=True, name="load-receipts")]

    def start(self):
        self.t_start = time.time()
        for t in self.threads:
            t.start()
        return self

    def stop_sending(self):
        self.stop_ev.set()
        self.threads[0].join(timeout=60)
        self.t_stop = time.time()

    def drain(self, timeout):
        """Waits up to timeout for receipts of the pending txs, then stops polling."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            with self.lock:
                if not self.pending:
                    break
            time.sleep(0.2)
        self.done = True
        self.threads[1].join(timeout=30)
        self.classify()

    def classify(self):
        """Txs without a receipt: `superseded` when the chain used their nonce
        for another tx of the same sender (a batch built from a node that had
        not seen an earlier one), else `dropped` (lost with a killed or
        paused node's mempool before it was gossiped)."""
        with self.lock:
            todo = self.unreceipted + [(a, n) for _, a, n in self.pending.values()]
        self.superseded = self.dropped = 0
        node = self.pick_node()
        if node is None or not todo:
            return
        committed = {}
        try:
            for addr in {a for a, _ in todo}:
                committed[addr] = int(node.rpc("tos_getAccount", addr)["nonce"])
        except Exception:
            return
        for addr, nonce in todo:
            if nonce < committed[addr]:
                self.superseded += 1
            else:
                self.dropped += 1

    # -- sending
    def _tx(self, addr, nonce):
        r = self.rng.random()
        acc = 0.0
        kind = MIX[-1][0]
        for k, w in MIX:
            acc += w
            if r < acc:
                kind = k
                break
        t = json.loads(json.dumps(self.templates[(addr, kind)]))
        tx = t["tx"]
        tx["nonce"] = nonce
        p = tx["payload"]
        if kind == "kv-put":
            p["key"] = "0x" + f"k{self.rng.randrange(KV_KEYS)}".encode().hex()
            p["value"] = "0x" + self.rng.randbytes(self.rng.randint(8, 48)).hex()
            p["ttl"] = self.rng.randint(1, TTL_MAX)
        elif kind == "transfer":
            p["to"] = self.rng.choice(self.senders)[1] if self.rng.random() < 0.5 else \
                "0x" + self.rng.randbytes(32).hex()
            p["amount"] = self.rng.randint(1, 1000)
        else:
            p["code"] = "0x" + self.rng.randbytes(self.rng.randint(16, 64)).hex()
            p["ttl"] = self.rng.randint(1, TTL_MAX)
        self.kinds[kind] = self.kinds.get(kind, 0) + 1
        return json.dumps(t)

    def _send_batch(self, key, addr, n):
        node = self.pick_node()
        if node is None:
            return
        try:
            nonce = int(node.rpc("tos_getAccount", addr, timeout=3)["next_nonce"])
            lines = [self._tx(addr, nonce + i) for i in range(n)]
            unsigned = self.tools.run(["gtos-inspect", "--encode"], stdin=("\n".join(lines) + "\n").encode()).stdout
            signed = self.tools.run(["gtos-tx", "sign", "--key", key], stdin=unsigned).stdout
            st, body = http_req(node.rpc_port, "POST", "/tx", signed, {"Content-Type": "application/msgpack"},
                                timeout=10)
            reply = json.loads(body)
            if not isinstance(reply, list):
                raise RuntimeError(f"/tx answered HTTP {st}: {body[:200]!r}")
        except (OSError, RpcError, RuntimeError, ValueError, KeyError) as e:
            self.failures.append(f"{node.name}: {e!r}"[:300])
            return
        except Exception as e:  # a tool failing is worth a line, not a crash
            self.failures.append(f"{node.name}: {e!r}"[:300])
            return
        now = time.time()
        with self.lock:
            self.sent += n
            for k, e in enumerate(reply):        # one entry per record, in order: nonce + k
                if "id" in e:
                    self.accepted += 1
                    self.pending[e["id"]] = (now, addr, nonce + k)
                elif "error" in e:
                    msg = str(e["error"].get("message", e["error"]))
                    msg = re.sub(r"\d+", "N", msg.split(" (")[0])[:80]
                    self.refused[msg] = self.refused.get(msg, 0) + 1

    def _send_loop(self):
        period = 1.0
        per_sender = max(1, -(-self.tps // len(self.senders)))
        while not self.stop_ev.is_set():
            t0 = time.time()
            for key, addr in self.senders:
                if self.stop_ev.is_set():
                    break
                self._send_batch(key, addr, per_sender)
            self.stop_ev.wait(max(0.0, period - (time.time() - t0)))

    # -- receipts
    def _receipt_loop(self):
        while not self.done:
            with self.lock:
                ids = list(self.pending.items())[:2000]
            node = self.pick_node() if ids else None
            if node is not None:
                try:
                    reps = node.batch([("tos_getReceipt", (i,)) for i, _ in ids], timeout=10)
                    if not isinstance(reps, list) or len(reps) != len(ids):
                        reps = []
                except Exception:
                    reps = []
                now = time.time()
                with self.lock:
                    for (i, (t, addr, nonce)), rep in zip(ids, reps):
                        if "result" in rep:
                            r = rep["result"]
                            self.receipts[i] = (int(r["height"]), int(r["index"]), r.get("status"))
                            self.pending.pop(i, None)
                        elif rep.get("error", {}).get("code") == -38005:
                            self.pruned_unseen += 1
                            self.pending.pop(i, None)
                        elif now - t > PENDING_GIVE_UP_S:
                            self.given_up += 1
                            self.unreceipted.append((addr, nonce))
                            self.pending.pop(i, None)
            time.sleep(0.5)

    def summary(self):
        with self.lock:
            return {"sent": self.sent, "accepted": self.accepted, "receipts_seen": len(self.receipts),
                    "kinds": dict(self.kinds), "refused": dict(self.refused), "no_receipt": self.given_up,
                    "pending_at_end": len(self.pending), "pruned_before_seen": self.pruned_unseen,
                    "no_receipt_superseded": getattr(self, "superseded", None),
                    "no_receipt_dropped": getattr(self, "dropped", None),
                    "batch_failures": len(self.failures), "batch_failure_examples": self.failures[:3],
                    "senders": len(self.senders)}
