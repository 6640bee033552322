"""The e2e runner's manifest: a TOML file describing one testnet run.

Every key, its type, default and meaning is documented in docs/e2e.md.
`load(path)` returns a Manifest or raises ManifestError with a message that
names the offending key (the runner exits 2 on it). Unknown tables and keys
are errors, not warnings: a typo must not silently run a different test.
"""
import re

try:
    import tomllib  # Python 3.11+
except ImportError:  # pragma: no cover - exercised only on old Pythons
    tomllib = None

PERTURBATIONS = ("kill", "pause", "disconnect", "restart")
BYZANTINE_MODES = ("equivocate", "tamper-proposals", "lie-height", "silent", "flood-proposals", "forge-blocks",
                   "equivocate-proposals")


class ManifestError(Exception):
    pass


def _kind(v):
    if isinstance(v, bool):
        return "a boolean"
    if isinstance(v, int):
        return "an integer"
    if isinstance(v, float):
        return "a number"
    if isinstance(v, str):
        return "a string"
    if isinstance(v, list):
        return "an array"
    if isinstance(v, dict):
        return "a table"
    return type(v).__name__


def _int(lo=None, hi=None):
    def check(key, v):
        if isinstance(v, bool) or not isinstance(v, int):
            raise ManifestError(f"key '{key}' must be an integer, got {_kind(v)} ({v!r})")
        if lo is not None and v < lo:
            raise ManifestError(f"key '{key}' must be at least {lo}, got {v}")
        if hi is not None and v > hi:
            raise ManifestError(f"key '{key}' must be at most {hi}, got {v}")
        return v
    return check


def _num(lo=None):
    def check(key, v):
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise ManifestError(f"key '{key}' must be a number, got {_kind(v)} ({v!r})")
        if lo is not None and v < lo:
            raise ManifestError(f"key '{key}' must be at least {lo}, got {v}")
        return float(v)
    return check


def _bool(key, v):
    if not isinstance(v, bool):
        raise ManifestError(f"key '{key}' must be a boolean (true or false), got {_kind(v)} ({v!r})")
    return v


def _choice(choices):
    def check(key, v):
        if not isinstance(v, str):
            raise ManifestError(f"key '{key}' must be a string, got {_kind(v)} ({v!r})")
        if v not in choices:
            raise ManifestError(f"key '{key}': unknown value {v!r}; choose from {', '.join(choices)}")
        return v
    return check


def _list_of(item, unique=True):
    def check(key, v):
        if not isinstance(v, list):
            raise ManifestError(f"key '{key}' must be an array, got {_kind(v)} ({v!r})")
        out = [item(f"{key}[{i}]", x) for i, x in enumerate(v)]
        if unique and len(set(out)) != len(out):
            raise ManifestError(f"key '{key}' lists a value twice: {v!r}")
        return out
    return check


# table -> key -> (checker, default). A default of None means "unset".
TESTNET_KEYS = {
    "validators": (_int(1, 100), 4),
    "full_nodes": (_int(0, 100), 0),
    "blocks": (_int(1), 100),
    "block_interval_ms": (_int(10, 60000), 200),
    "epoch_length": (_int(1), 20),
    "retain_blocks": (_int(1), 200),
    "snapshot_interval": (_int(1), 100),
    "load_tps": (_int(0, 100000), 0),
    "perturb_every_s": (_num(0), 0.0),
    "seed": (_int(0, 2**63 - 1), None),
    "timeout_s": (_num(1), 600.0),
    "recovery_s": (_num(0.1), 10.0),
    "link_latency_ms": (_int(0, 5000), 0),
}
NODE_KEYS = {
    "perturb": (_list_of(_choice(PERTURBATIONS)), []),
    "clock_skew_ms": (_int(-86400000, 86400000), 0),
    "byzantine": (_choice(BYZANTINE_MODES), None),
    "start_at": (_int(0), 0),
    "state_sync": (_bool, False),
    "stake": (_int(1, 10**15), None),
}
PARTITION_KEYS = {
    "at_height": (_list_of(_int(1)), []),
    "duration_s": (_num(0.1), 10.0),
}
CRASH_KEYS = {
    "at_height": (_list_of(_int(1)), []),
    "down_s": (_num(0), 1.0),
}
DEFAULT_STAKE = 2_000_000


class NodeSpec:
    def __init__(self, name, validator):
        self.name = name
        self.validator = validator
        for key, (_, default) in NODE_KEYS.items():
            setattr(self, key, list(default) if isinstance(default, list) else default)
        if validator and self.stake is None:
            self.stake = DEFAULT_STAKE

    def as_dict(self):
        return {"name": self.name, "validator": self.validator,
                **{k: getattr(self, k) for k in NODE_KEYS}}


class Manifest:
    def __init__(self):
        self.path = None
        for key, (_, default) in TESTNET_KEYS.items():
            setattr(self, key, default)
        self.nodes = {}            # name -> NodeSpec, v1..vN then f1..fM
        self.partition_heights = []
        self.partition_duration_s = PARTITION_KEYS["duration_s"][1]
        self.crash_heights = []
        self.crash_down_s = CRASH_KEYS["down_s"][1]

    def validator_names(self):
        return [n for n, s in self.nodes.items() if s.validator]

    def as_dict(self):
        return {"testnet": {k: getattr(self, k) for k in TESTNET_KEYS},
                "nodes": [s.as_dict() for s in self.nodes.values()],
                "partition": {"at_height": self.partition_heights, "duration_s": self.partition_duration_s},
                "crash": {"at_height": self.crash_heights, "down_s": self.crash_down_s}}


def _table(where, table, keys, target, prefix):
    if not isinstance(table, dict):
        raise ManifestError(f"'{where}' must be a table, got {_kind(table)}")
    for key, value in table.items():
        if key not in keys:
            raise ManifestError(f"unknown key '{prefix}{key}' in [{where}]; known keys: {', '.join(keys)}")
        checker, _ = keys[key]
        setattr(target, key, checker(prefix + key, value))


NODE_NAME = re.compile(r"^([vf])([1-9][0-9]*)$")


def parse(doc, path="<manifest>"):
    """Builds a Manifest from a parsed TOML document (a dict)."""
    m = Manifest()
    m.path = path
    for top in doc:
        if top not in ("testnet", "node", "partition", "crash"):
            raise ManifestError(f"unknown table or key '{top}'; the manifest has [testnet], [node.NAME], "
                                f"[partition] and [crash]")
    _table("testnet", doc.get("testnet", {}), TESTNET_KEYS, m, "testnet.")
    for i in range(1, m.validators + 1):
        m.nodes[f"v{i}"] = NodeSpec(f"v{i}", True)
    for i in range(1, m.full_nodes + 1):
        m.nodes[f"f{i}"] = NodeSpec(f"f{i}", False)
    nodes = doc.get("node", {})
    if not isinstance(nodes, dict):
        raise ManifestError(f"'node' must be a table of [node.NAME] tables, got {_kind(nodes)}")
    for name, table in nodes.items():
        if name not in m.nodes:
            have = f"v1..v{m.validators}" + (f", f1..f{m.full_nodes}" if m.full_nodes else "")
            raise ManifestError(f"[node.{name}]: no such node (testnet.validators = {m.validators}, "
                                f"testnet.full_nodes = {m.full_nodes}: {have})")
        spec = m.nodes[name]
        _table(f"node.{name}", table, NODE_KEYS, spec, f"node.{name}.")
        if not spec.validator:
            if "stake" in table:
                raise ManifestError(f"key 'node.{name}.stake': {name} is a full node (no stake); "
                                    f"only validators v1..v{m.validators} have one")
            if "byzantine" in table:
                raise ManifestError(f"key 'node.{name}.byzantine': {name} is a full node and signs nothing; "
                                    f"only validators can be byzantine")
        elif spec.stake is None:
            spec.stake = DEFAULT_STAKE
    part = doc.get("partition", {})
    if not isinstance(part, dict):
        raise ManifestError(f"'partition' must be a table, got {_kind(part)}")
    holder = type("P", (), {})()
    holder.at_height, holder.duration_s = [], PARTITION_KEYS["duration_s"][1]
    _table("partition", part, PARTITION_KEYS, holder, "partition.")
    m.partition_heights = sorted(holder.at_height)
    m.partition_duration_s = holder.duration_s
    crash = doc.get("crash", {})
    if not isinstance(crash, dict):
        raise ManifestError(f"'crash' must be a table, got {_kind(crash)}")
    holder = type("C", (), {})()
    holder.at_height, holder.down_s = [], CRASH_KEYS["down_s"][1]
    _table("crash", crash, CRASH_KEYS, holder, "crash.")
    m.crash_heights = sorted(holder.at_height)
    m.crash_down_s = holder.down_s
    _semantics(m)
    return m


def _semantics(m):
    for h in m.partition_heights:
        if h >= m.blocks:
            raise ManifestError(f"key 'partition.at_height': height {h} is not below testnet.blocks = {m.blocks}")
    for h in m.crash_heights:
        if h >= m.blocks:
            raise ManifestError(f"key 'crash.at_height': height {h} is not below testnet.blocks = {m.blocks}")
    if m.partition_heights and len(m.nodes) < 2:
        raise ManifestError("key 'partition.at_height': a partition needs at least 2 nodes")
    for name, s in m.nodes.items():
        if s.start_at >= m.blocks:
            raise ManifestError(f"key 'node.{name}.start_at': {s.start_at} is not below testnet.blocks = {m.blocks}")
        if s.state_sync:
            # Snapshot S is offered once S + 1 committed: a snapshot exists
            # from height snapshot_interval + 1 on.
            if s.start_at < m.snapshot_interval + 2:
                raise ManifestError(
                    f"key 'node.{name}.state_sync': a state-sync joiner needs a snapshot to restore; set "
                    f"node.{name}.start_at to at least testnet.snapshot_interval + 2 = {m.snapshot_interval + 2}")
    first = [s for s in m.nodes.values() if s.start_at == 0]
    if not any(s.validator for s in first):
        raise ManifestError("key 'start_at': no validator starts at height 0, so the chain cannot begin")
    total = sum(s.stake for s in m.nodes.values() if s.validator)
    early = sum(s.stake for s in first if s.validator)
    if 3 * early <= 2 * total:
        raise ManifestError(f"key 'start_at': the validators starting at height 0 hold {early} of {total} stake, "
                            f"not more than 2/3: the chain could not finalize block 1")


def load(path):
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as e:
        raise ManifestError(f"cannot read the manifest: {e}")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ManifestError("the manifest is not UTF-8")
    if tomllib is not None:
        try:
            doc = tomllib.loads(text)
        except tomllib.TOMLDecodeError as e:
            raise ManifestError(f"TOML syntax error: {e}")
    else:
        doc = parse_toml_subset(text)
    return parse(doc, path)


# -- A TOML subset for Pythons without tomllib: [table] and [a.b] headers,
# key = integer | float | string | bool | array of those, # comments.

_BARE = re.compile(r"^[A-Za-z0-9_-]+$")


def parse_toml_subset(text):
    doc = {}
    cur = doc
    for lineno, line in enumerate(text.splitlines(), 1):
        s = _strip_comment(line).strip()
        if not s:
            continue
        if s.startswith("["):
            if not s.endswith("]") or s.startswith("[["):
                raise ManifestError(f"TOML syntax error at line {lineno}: bad table header {s!r}")
            cur = doc
            for part in s[1:-1].strip().split("."):
                part = part.strip().strip('"')
                if not _BARE.match(part):
                    raise ManifestError(f"TOML syntax error at line {lineno}: bad table name {s!r}")
                cur = cur.setdefault(part, {})
                if not isinstance(cur, dict):
                    raise ManifestError(f"TOML syntax error at line {lineno}: {part!r} is not a table")
            continue
        key, eq, value = s.partition("=")
        key = key.strip()
        if not eq or not _BARE.match(key):
            raise ManifestError(f"TOML syntax error at line {lineno}: expected key = value, got {s!r}")
        if key in cur:
            raise ManifestError(f"TOML syntax error at line {lineno}: key {key!r} defined twice")
        v, rest = _value(value.strip(), lineno)
        if rest.strip():
            raise ManifestError(f"TOML syntax error at line {lineno}: trailing text {rest.strip()!r}")
        cur[key] = v
    return doc


def _strip_comment(line):
    out, q = [], False
    for ch in line:
        if ch == '"':
            q = not q
        if ch == "#" and not q:
            break
        out.append(ch)
    return "".join(out)


def _value(s, lineno):
    if s.startswith('"'):
        end = s.find('"', 1)
        if end < 0:
            raise ManifestError(f"TOML syntax error at line {lineno}: unterminated string")
        return s[1:end], s[end + 1:]
    if s.startswith("["):
        items, rest = [], s[1:].lstrip()
        while not rest.startswith("]"):
            v, rest = _value(rest, lineno)
            items.append(v)
            rest = rest.lstrip()
            if rest.startswith(","):
                rest = rest[1:].lstrip()
            elif not rest.startswith("]"):
                raise ManifestError(f"TOML syntax error at line {lineno}: expected , or ] in an array")
        return items, rest[1:]
    m = re.match(r"^(true|false|[+-]?[0-9][0-9_]*(\.[0-9]+)?)", s)
    if not m:
        raise ManifestError(f"TOML syntax error at line {lineno}: bad value {s!r}")
    tok = m.group(1)
    if tok in ("true", "false"):
        return tok == "true", s[len(tok):]
    if m.group(2):
        return float(tok.replace("_", "")), s[len(tok):]
    return int(tok.replace("_", "")), s[len(tok):]
