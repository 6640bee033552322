#!/usr/bin/env python3
"""Self-test of the e2e runner's manifest checking (no build needed).

Runs `runner.py --check-manifest` on bad manifests and expects exit status 2
with an error naming the offending key; on the shipped manifests (ci.toml,
soak.toml) it expects 0. The byzantine-mode check runs against a stand-in
gtos-node whose `run --help` lists --unsafe-equivocate only and which refuses
--unsafe-byzantine (and, once more, with a hidden --unsafe-byzantine that
takes some modes). Also checks that the runner's fallback TOML-subset parser reads the
shipped manifests exactly as tomllib does.

  python3 tests/e2e/test_manifest.py [-v]

Prints one line per case and "N passed, N failed"; exit 1 on a failure.
"""
import os
import stat
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
RUNNER = os.path.join(HERE, "runner.py")
sys.path.insert(0, HERE)
import manifest as mf  # noqa: E402

HELP = """Run a node on an initialised data directory
Usage: gtos-node run [OPTIONS]

Options:
  -h,--help                   Print this help message and exit
  --state-sync                On a chain with no blocks yet: restore the newest snapshot
  --unsafe-equivocate         TESTS ONLY: double-sign every prevote
  --datadir D                 Data directory
"""

BASE = """
[testnet]
validators = 4
full_nodes = 1
blocks = 300
snapshot_interval = 50
"""

# (name, manifest text, what stderr must contain)
BAD = [
    ("unknown table", BASE + "[nemesis]\nevery = 5\n", "'nemesis'"),
    ("unknown testnet key", BASE + "blockz = 5\n", "testnet.blockz"),
    ("string for an integer", "[testnet]\nblocks = \"100\"\n", "testnet.blocks"),
    ("bool for an integer", "[testnet]\nvalidators = true\n", "testnet.validators"),
    ("negative load", "[testnet]\nload_tps = -1\n", "testnet.load_tps"),
    ("zero validators", "[testnet]\nvalidators = 0\n", "testnet.validators"),
    ("float for an integer", BASE + "epoch_length = 2.5\n", "testnet.epoch_length"),
    ("string for a number", BASE + "perturb_every_s = \"5\"\n", "testnet.perturb_every_s"),
    ("no such validator", BASE + "[node.v9]\nperturb = [\"kill\"]\n", "node.v9"),
    ("no such full node", BASE + "[node.f2]\nperturb = [\"kill\"]\n", "node.f2"),
    ("bad node name", BASE + "[node.alice]\nperturb = [\"kill\"]\n", "node.alice"),
    ("unknown node key", BASE + "[node.v1]\nkil = 1\n", "node.v1.kil"),
    ("unknown perturbation", BASE + "[node.v1]\nperturb = [\"kill\", \"explode\"]\n", "node.v1.perturb[1]"),
    ("perturb not an array", BASE + "[node.v1]\nperturb = \"kill\"\n", "node.v1.perturb"),
    ("perturbation twice", BASE + "[node.v1]\nperturb = [\"kill\", \"kill\"]\n", "node.v1.perturb"),
    ("unknown byzantine mode", BASE + "[node.v1]\nbyzantine = \"evil\"\n", "node.v1.byzantine"),
    ("byzantine full node", BASE + "[node.f1]\nbyzantine = \"equivocate\"\n", "node.f1.byzantine"),
    ("stake on a full node", BASE + "[node.f1]\nstake = 5\n", "node.f1.stake"),
    ("zero stake", BASE + "[node.v1]\nstake = 0\n", "node.v1.stake"),
    ("clock skew not an integer", BASE + "[node.v1]\nclock_skew_ms = 1.5\n", "node.v1.clock_skew_ms"),
    ("state_sync not a bool", BASE + "[node.f1]\nstate_sync = \"yes\"\nstart_at = 100\n", "node.f1.state_sync"),
    ("state sync before a snapshot", BASE + "[node.f1]\nstate_sync = true\nstart_at = 20\n", "node.f1.state_sync"),
    ("start_at past blocks", BASE + "[node.f1]\nstart_at = 300\n", "node.f1.start_at"),
    ("late validators hold the quorum", BASE + "[node.v1]\nstart_at = 10\n[node.v2]\nstart_at = 10\n", "start_at"),
    ("partition past blocks", BASE + "[partition]\nat_height = [50, 300]\n", "partition.at_height"),
    ("partition height not an integer", BASE + "[partition]\nat_height = [\"50\"]\n", "partition.at_height[0]"),
    ("unknown partition key", BASE + "[partition]\nat_height = [50]\ngroups = 2\n", "partition.groups"),
    ("partition duration zero", BASE + "[partition]\nat_height = [50]\nduration_s = 0\n", "partition.duration_s"),
    ("crash past blocks", BASE + "[crash]\nat_height = [300]\n", "crash.at_height"),
    ("unknown crash key", BASE + "[crash]\nat_height = [50]\nnodes = 2\n", "crash.nodes"),
    ("crash down_s negative", BASE + "[crash]\nat_height = [50]\ndown_s = -1\n", "crash.down_s"),
    ("latency too large", BASE + "link_latency_ms = 9000\n", "testnet.link_latency_ms"),
    ("node not a table", BASE + "node = 5\n", "node"),
    ("TOML syntax error", "[testnet\nblocks = 5\n", "TOML syntax error"),
    ("byzantine mode the binary lacks", BASE + "[node.v2]\nbyzantine = \"silent\"\n",
     "node.v2.byzantine': byzantine mode 'silent' needs a node built with --unsafe-byzantine=silent"),
    ("another missing mode", BASE + "[node.v3]\nbyzantine = \"lie-height\"\n", "--unsafe-byzantine=lie-height"),
]

GOOD = [
    ("defaults", ""),
    ("everything", BASE + """
load_tps = 10
perturb_every_s = 7.5
seed = 3
timeout_s = 100
recovery_s = 5
link_latency_ms = 20
[node.v1]
perturb = ["kill", "pause", "disconnect", "restart"]
clock_skew_ms = -250
stake = 3000000
[node.v4]
byzantine = "equivocate"
[node.f1]
start_at = 60
state_sync = true
perturb = ["restart"]
[partition]
at_height = [100, 40]
duration_s = 3
[crash]
at_height = [120, 60]
down_s = 0.5
"""),
]


# The stand-in gtos-node: `run --help` prints HELP; a --unsafe-byzantine flag
# is refused as CLI11 refuses an unknown option, unless HIDDEN_MODES lists its
# mode (a hidden test switch); anything else fails on the data directory.
NODE = """#!/bin/sh
for a in "$@"; do
  case $a in
    --help) cat <<'EOF'
%s
EOF
      exit 0 ;;
    --unsafe-byzantine=*)
      case " %s " in
        *" ${a#--unsafe-byzantine=} "*) ;;
        *) echo "gtos-node: error: the following argument was not expected: $a" >&2; exit 2 ;;
      esac ;;
  esac
done
while [ $# -gt 0 ]; do [ "$1" = --datadir ] && dir=$2; shift; done
echo "gtos-node: error: '$dir' is not an initialised data directory" >&2
exit 1
"""


def fake_bin(d, hidden_modes=""):
    for tool in ("gtos-node", "gtos-keys", "gtos-tx", "gtos-genesis", "gtos-inspect"):
        p = os.path.join(d, tool)
        with open(p, "w") as f:
            if tool == "gtos-node":
                f.write(NODE % (HELP.rstrip("\n"), hidden_modes))
            else:
                f.write("#!/bin/sh\nexit 0\n")
        os.chmod(p, os.stat(p).st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)


def run(bindir, path):
    p = subprocess.run([sys.executable, RUNNER, "--bin", bindir, "--check-manifest", path],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
    return p.returncode, p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")


def main():
    verbose = "-v" in sys.argv[1:]
    passed = failed = 0

    def result(ok, what, detail=""):
        nonlocal passed, failed
        if ok:
            passed += 1
        else:
            failed += 1
        if verbose or not ok:
            print(f"{'ok  ' if ok else 'FAIL'} {what}{': ' + detail if detail and not ok else ''}")

    with tempfile.TemporaryDirectory(prefix="gtos-e2e-manifest-") as tmp:
        bindir = os.path.join(tmp, "bin")
        os.makedirs(bindir)
        fake_bin(bindir)
        for i, (name, text, want) in enumerate(BAD):
            path = os.path.join(tmp, f"bad{i}.toml")
            with open(path, "w") as f:
                f.write(text)
            rc, _, err = run(bindir, path)
            result(rc == 2 and want in err, f"bad manifest: {name}",
                   f"exit {rc}, stderr {err.strip()!r}, expected exit 2 naming {want!r}")
        for i, (name, text) in enumerate(GOOD):
            path = os.path.join(tmp, f"good{i}.toml")
            with open(path, "w") as f:
                f.write(text)
            rc, _, err = run(bindir, path)
            result(rc == 0, f"good manifest: {name}", f"exit {rc}, stderr {err.strip()!r}")
        # A node whose --unsafe-byzantine is hidden from --help but takes some modes.
        hidden = os.path.join(tmp, "hidden")
        os.makedirs(hidden)
        fake_bin(hidden, "silent flood-proposals")
        full = os.path.join(tmp, "full")     # takes every mode (as gtos-node since 3331437)
        os.makedirs(full)
        fake_bin(full, " ".join(mf.BYZANTINE_MODES))
        path = os.path.join(tmp, "hidden.toml")
        with open(path, "w") as f:
            f.write(BASE + "[node.v2]\nbyzantine = \"silent\"\n[node.v3]\nbyzantine = \"flood-proposals\"\n")
        rc, _, err = run(hidden, path)
        result(rc == 0, "byzantine modes behind a hidden flag are found by trying it", f"exit {rc}, {err.strip()!r}")
        with open(path, "w") as f:
            f.write(BASE + "[node.v2]\nbyzantine = \"lie-height\"\n")
        rc, _, err = run(hidden, path)
        result(rc == 2 and "--unsafe-byzantine=lie-height" in err and "node.v2.byzantine" in err,
               "a mode the hidden flag does not take", f"exit {rc}, {err.strip()!r}")
        rc, _, err = run(bindir, os.path.join(tmp, "absent.toml"))
        result(rc == 2 and "cannot read" in err, "missing manifest file", f"exit {rc}, {err.strip()!r}")
        for shipped in ("ci.toml", "soak.toml", "mutant-commit-check.toml", "mutant-forget-lock.toml"):
            path = os.path.join(HERE, shipped)
            rc, _, err = run(full, path)
            result(rc == 0, f"shipped manifest {shipped}", f"exit {rc}, stderr {err.strip()!r}")
            if mf.tomllib is not None:
                with open(path) as f:
                    text = f.read()
                a = mf.tomllib.loads(text)
                b = mf.parse_toml_subset(text)
                result(a == b, f"TOML-subset parser reads {shipped} as tomllib does", f"{b!r} != {a!r}")
        # The fallback parser reports errors as ManifestError too.
        try:
            mf.parse(mf.parse_toml_subset("[testnet]\nblocks = \"x\"\n"))
            result(False, "TOML-subset parser: type error", "no error")
        except mf.ManifestError as e:
            result("testnet.blocks" in str(e), "TOML-subset parser: type error names the key", str(e))
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
