#!/usr/bin/env python3
"""Table-driven tool tests (in the spirit of Bitcoin Core's bitcoin-util-test).

A table is a JSON file:
  {
    "setup": ["shell line", ...],      # run once, in a fresh temp dir
    "teardown": ["shell line", ...],   # run once at the end, also after a
                                       # failure (stop background processes)
    "cases": [
      {
        "name": "what is checked",
        "cmd": ["gtos-keys", "addr", "alice.key"],   # argv, tool looked up in --bin
        "sh": "gtos-tx sign ... | gtos-tx verify",   # or a shell line (pipes)
        "stdin": "text" | "stdin_file": "path",
        "exit": 0,                                    # expected exit status
        "stdout": "exact text" | "stdout_re": "regex" | "stdout_empty": true,
        "stdout_not_re": "regex that must not match",
        "stderr": "exact text" | "stderr_re": "regex" | "stderr_empty": true,
        "stdout_tty": true,                           # stdout is a terminal (pty)
        "files_absent": ["out.bin"],                  # no partial output
        "files_equal": [["a", "b"]],
        "file_mode": {"alice.key": "600"},
        "after": ["shell line", ...]                  # run after, must succeed
      }
    ]
  }
Every case runs in the same temp dir (after setup), with the tools' directory
first on PATH. Prints one line per case and a closing "N passed, N failed".
"""
import argparse
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile


def run_on_pty(argv, stdin, cwd, env, timeout):
    """Runs argv with stdout on a pseudo-terminal; returns what it wrote there."""
    import pty
    import select
    master, slave = pty.openpty()
    try:
        p = subprocess.run(argv, input=stdin if stdin is not None else b"", cwd=cwd, env=env,
                           stdout=slave, stderr=subprocess.PIPE, timeout=timeout)
        written = b""
        while select.select([master], [], [], 0)[0]:
            chunk = os.read(master, 65536)
            if not chunk:
                break
            written += chunk
        p.stdout = written
        return p
    finally:
        os.close(master)
        os.close(slave)


def run_case(case, env, cwd, timeout):
    stdin = None
    if "stdin" in case:
        stdin = case["stdin"].encode()
    elif "stdin_file" in case:
        with open(os.path.join(cwd, case["stdin_file"]), "rb") as f:
            stdin = f.read()
    if "sh" in case:
        argv = ["bash", "-o", "pipefail", "-c", case["sh"]]
    else:
        argv = case["cmd"]
    if case.get("stdout_tty"):
        p = run_on_pty(argv, stdin, cwd, env, timeout)
    else:
        p = subprocess.run(argv, input=stdin if stdin is not None else b"", cwd=cwd, env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout)
    out = p.stdout.decode(errors="replace")
    err = p.stderr.decode(errors="replace")
    problems = []
    want_exit = case.get("exit", 0)
    if p.returncode != want_exit:
        problems.append(f"exit status {p.returncode}, want {want_exit}")
    if "stdout" in case and out != case["stdout"]:
        problems.append(f"stdout {out!r}, want {case['stdout']!r}")
    if "stdout_re" in case and not re.search(case["stdout_re"], out, re.S):
        problems.append(f"stdout {out[:400]!r} does not match {case['stdout_re']!r}")
    if "stdout_not_re" in case and re.search(case["stdout_not_re"], out, re.S):
        problems.append(f"stdout {out[:400]!r} matches {case['stdout_not_re']!r}")
    if case.get("stdout_empty") and p.stdout:
        problems.append(f"stdout not empty: {p.stdout[:200]!r}")
    if "stderr" in case and err != case["stderr"]:
        problems.append(f"stderr {err!r}, want {case['stderr']!r}")
    if "stderr_re" in case and not re.search(case["stderr_re"], err, re.S):
        problems.append(f"stderr {err!r} does not match {case['stderr_re']!r}")
    if case.get("stderr_empty") and p.stderr:
        problems.append(f"stderr not empty: {err!r}")
    for path in case.get("files_absent", []):
        full = os.path.join(cwd, path)
        leftovers = [n for n in os.listdir(os.path.dirname(full) or cwd)
                     if n.startswith(os.path.basename(full))]
        if leftovers:
            problems.append(f"output left behind: {leftovers}")
    for a, b in case.get("files_equal", []):
        with open(os.path.join(cwd, a), "rb") as fa, open(os.path.join(cwd, b), "rb") as fb:
            if fa.read() != fb.read():
                problems.append(f"{a} and {b} differ")
    for path, mode in case.get("file_mode", {}).items():
        got = stat.S_IMODE(os.stat(os.path.join(cwd, path)).st_mode)
        if got != int(mode, 8):
            problems.append(f"{path} has mode {got:o}, want {mode}")
    for line in case.get("after", []):
        r = subprocess.run(["bash", "-o", "pipefail", "-c", line], cwd=cwd, env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout)
        if r.returncode != 0:
            problems.append(f"after-check {line!r} failed: {r.stderr.decode(errors='replace')}")
    return problems


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bin", required=True, help="directory holding the gtos-* tools")
    ap.add_argument("--timeout", type=float, default=60)
    ap.add_argument("tables", nargs="+")
    args = ap.parse_args()

    bindirs = [os.path.abspath(os.path.join(args.bin, d)) for d in sorted(os.listdir(args.bin))
               if os.path.isdir(os.path.join(args.bin, d))]
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([os.path.abspath(args.bin)] + bindirs + [env.get("PATH", "")])
    env["SRCDIR"] = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
    env.pop("GTOS_PASSPHRASE_FILE", None)
    env["LC_ALL"] = "C"

    passed = failed = 0
    for table_path in args.tables:
        with open(table_path) as f:
            table = json.load(f)
        work = tempfile.mkdtemp(prefix="gtos-tooltest-")
        try:
            for line in table.get("setup", []):
                r = subprocess.run(["bash", "-o", "pipefail", "-c", line], cwd=work, env=env,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE)
                if r.returncode != 0:
                    print(f"FAIL {table_path}: setup {line!r}: {r.stderr.decode(errors='replace')}")
                    failed += 1
                    raise StopIteration
            for case in table["cases"]:
                name = f"{os.path.basename(table_path)}: {case['name']}"
                try:
                    problems = run_case(case, env, work, args.timeout)
                except subprocess.TimeoutExpired:
                    problems = ["timed out"]
                if problems:
                    failed += 1
                    print(f"FAIL {name}")
                    for pr in problems:
                        print(f"     {pr}")
                else:
                    passed += 1
                    print(f"ok   {name}")
        except StopIteration:
            pass
        finally:
            for line in table.get("teardown", []):
                try:
                    subprocess.run(["bash", "-c", line], cwd=work, env=env, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL, timeout=args.timeout)
                except subprocess.TimeoutExpired:
                    print(f"WARN {table_path}: teardown {line!r} timed out")
            shutil.rmtree(work, ignore_errors=True)
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
