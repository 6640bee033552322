#!/usr/bin/env python3
"""Monitoring files against a real node (issue 14, "Monitoring").

  monitoring_test.py --bin BUILD/cmd --src SOURCE_DIR

1. `promtool check rules` on etc/prometheus/gtos-alerts.yml and
   `promtool test rules` on tests/tools/prometheus/alerts_test.yml.
2. A dev node on loopback: its /metrics passes `promtool check metrics`,
   declares the type docs/node.md gives for every metric in its table, and
   carries every metric the alerts and the Grafana dashboard query.
3. etc/grafana/gtos-node.json is a well-formed dashboard (unique panel ids,
   panels inside the 24-column grid, a datasource on every query).

promtool comes from Debian's `prometheus` package (make deps); a missing
promtool fails the test.
"""
import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

RPC_PORT = 23950  # tool tests' range (docs/notes.md)


def fail(msg):
    print(f"FAIL: {msg}")
    sys.exit(1)


def promtool(*args, stdin=None):
    p = subprocess.run(["promtool", *args], input=stdin, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=120)
    return p.returncode, p.stdout.decode(errors="replace")


def names_in(expr):
    """Metric names a PromQL expression reads (gtos_* and process_*)."""
    return set(re.findall(r"\b((?:gtos|process)_[a-z0-9_]+)", expr))


def base_name(n):
    for suffix in ("_bucket", "_sum", "_count"):
        if n.endswith(suffix):
            return n[: -len(suffix)]
    return n


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--src", required=True)
    a = ap.parse_args()
    if not shutil.which("promtool"):
        fail("promtool not found: install Debian's 'prometheus' package (make deps does)")
    rules = os.path.join(a.src, "etc/prometheus/gtos-alerts.yml")
    dash_file = os.path.join(a.src, "etc/grafana/gtos-node.json")

    rc, out = promtool("check", "rules", rules)
    if rc != 0:
        fail(f"promtool check rules:\n{out}")
    rc, out = promtool("test", "rules", os.path.join(a.src, "tests/tools/prometheus/alerts_test.yml"))
    if rc != 0:
        fail(f"promtool test rules:\n{out}")
    print("ok: alert rules check and unit tests")

    # Every expression of the rules file and the dashboard.
    exprs = re.findall(r"^\s*expr:\s*(>-\n(?:\s{10,}.*\n)+|.*)$", open(rules).read(), re.M)
    if len(exprs) < 10:
        fail(f"expected at least 10 alert expressions in {rules}, found {len(exprs)}")
    dash = json.load(open(dash_file))
    ids = set()
    for p in dash["panels"]:
        if p["id"] in ids:
            fail(f"dashboard: panel id {p['id']} repeated")
        ids.add(p["id"])
        g = p["gridPos"]
        if g["x"] < 0 or g["x"] + g["w"] > 24:
            fail(f"dashboard: panel '{p['title']}' lies outside the 24-column grid")
        for t in p.get("targets", []):
            if not t.get("expr") or t.get("datasource", {}).get("uid") != "${datasource}":
                fail(f"dashboard: panel '{p['title']}' has a query without expression or data source")
            exprs.append(t["expr"])
    for section in ("Consensus", "P2P", "Mempool and RPC", "Storage and process"):
        if not any(p["type"] == "row" and p["title"] == section for p in dash["panels"]):
            fail(f"dashboard: no '{section}' row")
    wanted = set()
    for e in exprs:
        wanted |= names_in(e)

    # A real node's /metrics.
    work = tempfile.mkdtemp(prefix="gtos-mon-")
    log = open(os.path.join(work, "node.log"), "w")
    node = subprocess.Popen([os.path.join(a.bin, "gtos-node"), "--dev", "--datadir", os.path.join(work, "d"),
                             "--rpc-addr", f"127.0.0.1:{RPC_PORT}", "--param", "target_block_interval_ms=200"],
                            stdout=log, stderr=subprocess.STDOUT)
    try:
        text, deadline = "", time.time() + 30
        while time.time() < deadline:
            try:
                text = urllib.request.urlopen(f"http://127.0.0.1:{RPC_PORT}/metrics", timeout=2).read().decode()
                m = re.search(r"^gtos_head_height (\d+)$", text, re.M)
                c = re.search(r"^gtos_block_interval_seconds_count (\d+)$", text, re.M)
                if m and int(m.group(1)) >= 5 and c and int(c.group(1)) >= 3:
                    break
            except OSError:
                pass
            time.sleep(0.2)
        else:
            fail(f"the dev node did not reach height 5 with 3 commit intervals in 30 s (log in {work})")
        rc, out = promtool("check", "metrics", stdin=text.encode())
        if rc != 0 or out.strip():
            fail(f"promtool check metrics found problems:\n{out}")
        print(f"ok: promtool check metrics on {len(text.splitlines())} lines of /metrics")
        types = dict(re.findall(r"^# TYPE (\S+) (\S+)$", text, re.M))
        missing = sorted(n for n in wanted if base_name(n) not in types)
        if missing:
            fail(f"queried by the alerts or the dashboard but not exported: {', '.join(missing)}")
        print(f"ok: the {len(wanted)} metrics the alerts and dashboard query are exported")
        # The docs' table gives the type of each metric.
        doc = open(os.path.join(a.src, "docs/node.md")).read()
        rows = re.findall(r"^\s*\| `([a-z_]+)(?:\{[^`]*\})?` \| (gauge|counter|histogram) \|", doc, re.M)
        if len(rows) < 20:
            fail(f"docs/node.md: expected the metrics table, found {len(rows)} rows")
        for name, typ in rows:
            if name not in types:
                fail(f"docs/node.md documents {name}, which /metrics does not export")
            if types[name] != typ:
                fail(f"docs/node.md calls {name} a {typ}; /metrics exports a {types[name]}")
        print(f"ok: {len(rows)} documented metrics exported with the documented type")
        ready = re.search(r"^gtos_ready (\d)$", text, re.M)
        if not ready or ready.group(1) != "1":
            fail("gtos_ready is not 1 on a committing dev node")
        b = [int(v) for v in re.findall(r'^gtos_block_interval_seconds_bucket\{le="[^"]+"\} (\d+)$', text, re.M)]
        if b != sorted(b) or b[-1] != int(re.search(r"^gtos_block_interval_seconds_count (\d+)$", text, re.M).group(1)):
            fail(f"gtos_block_interval_seconds buckets are not cumulative: {b}")
    finally:
        node.send_signal(signal.SIGTERM)
        try:
            node.wait(timeout=20)
        except subprocess.TimeoutExpired:
            node.kill()
    shutil.rmtree(work, ignore_errors=True)
    print("monitoring: all checks passed")


if __name__ == "__main__":
    main()
