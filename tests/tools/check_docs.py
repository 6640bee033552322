#!/usr/bin/env python3
"""Checks that the manual pages and shell completions cover every command and flag.

usage: check_docs.py --bin BUILD/cmd --src SRCDIR [-v]

The tools' own --help output is the source of truth (git checks its man
SYNOPSIS against -h the same way). For each tool, a directory SRCDIR/cmd/gtos-*,
the checker runs `TOOL --help`, then `TOOL SUB --help` for every subcommand
it lists, recursively (gtos-tx build transfer), and reads the CLI11 help
format:

  Usage: gtos-tx build [OPTIONS] SUBCOMMAND     <- ignored
  Options:                                      <- a section heading
    -h,--help                   Print ...       <- an entry: indented 2
    --algo TEXT:{a,b}=a                         <- names, then type/default
                                Signature ...   <- continuation: ignored
  Subcommands:
    transfer                    Move AMOUNT ...
  Examples:                                     <- footer sections: ignored

Then it checks, counting each as one check:
  - man/TOOL.1 exists and its .TH line names TOOL in section 1;
  - every long option (not --help/--version) appears in man/TOOL.1, in
    completions/bash/gtos, in the tool's zsh file(s) (completions/zsh/_TOOL,
    or any file there whose #compdef line names TOOL) and in
    completions/fish/TOOL.fish (as `complete ... -l NAME`);
  - every subcommand name appears in the SYNOPSIS section of man/TOOL.1
    and in each completion file;
  - completing `TOOL SUB... --` in bash (and in fish, when installed) offers
    every option of that very command, and `TOOL SUB... ` every subcommand:
    the completion functions are run, not just read;
  - the bash file registers the tool; each completion file passes its
    shell's -n; every other page in man/ has a .TH line naming it in its
    section; the help parser still reads the CLI11 shapes in PARSER_SAMPLES.
Comments (roff .\\" lines, shell # lines) do not count as mentions.

Prints each missing item and closes with "N passed, N failed"; exits 1 when
any check failed (or when no tool was found).
"""
import argparse
import glob
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile

# Section headings of CLI11 help that never list options.
NON_OPTION_SECTIONS = {"positionals", "subcommands", "examples", "example",
                       "exit status", "notes", "see also", "environment"}
IGNORED_OPTIONS = {"--help", "--help-all", "--version"}
MAX_DEPTH = 4
# How far past its section heading an entry may be indented. CLI11 indents
# entries by 2 (2.4 aligns long names of options without a short one, to
# about 10) and continuation lines (wrapped descriptions) by the name column
# width, 30 by default.
MAX_ENTRY_INDENT = 4
MAX_OPTION_INDENT = 16


class Checks:
    def __init__(self, verbose):
        self.passed = 0
        self.failed = 0
        self.verbose = verbose

    def check(self, ok, what):
        if ok:
            self.passed += 1
            if self.verbose:
                print(f"ok: {what}")
        else:
            self.failed += 1
            print(f"MISSING: {what}")
        return ok


# --- CLI11 help --------------------------------------------------------------

def parse_help(text):
    """Returns (long options, subcommand names) listed in one --help text."""
    options, subcommands = [], []
    section, base = None, 0
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped:
            continue
        indent = len(line) - len(line.lstrip(" "))
        if re.fullmatch(r"\[Option Group: .*\]", stripped):
            section, base = "option group", indent
            continue
        m = re.fullmatch(r"([A-Za-z][A-Za-z0-9 _-]*):", stripped)
        if m and indent <= MAX_ENTRY_INDENT:
            section, base = m.group(1).strip().lower(), indent
            continue
        if indent == 0:
            section = None  # usage line, description or footer text
            continue
        if section is None:
            continue
        tokens = stripped.split()
        if indent > base + (MAX_OPTION_INDENT if tokens[0].startswith("-") else MAX_ENTRY_INDENT):
            continue  # continuation of a wrapped description
        if section == "subcommands":
            name = tokens[0].rstrip(",")
            if re.fullmatch(r"[A-Za-z0-9][\w.-]*", name):
                subcommands.append(name)
        elif section not in NON_OPTION_SECTIONS and tokens[0].startswith("-"):
            # "-o,--output FILE" (CLI11 2.1) or "-o,     --output TEXT" (2.4)
            for token in tokens:
                for name in token.split(","):
                    name = re.split(r"[{=\[:]", name, maxsplit=1)[0]
                    if name.startswith("--") and len(name) > 2 and name not in IGNORED_OPTIONS:
                        options.append(name)
                if not token.endswith(","):
                    break
    return options, subcommands


# Help texts in the shapes CLI11 prints, with what parse_help must find; run
# first so that a parser change that breaks on one shape fails loudly.
PARSER_SAMPLES = [
    ("""Build an unsigned transaction of one kind
Usage: gtos-tx build [OPTIONS] SUBCOMMAND

Options:
  -h,--help                   Print this help message and exit
  --algo TEXT:{ed25519,secp256k1}=ed25519
                              Signature algorithm --not-an-option
                              --not-an-option-either
  --from ADDR Excludes: --from-key
                              Sender address
  -j,--jobs N=0               Verification threads

Subcommands:
  transfer                    Move AMOUNT to ADDR
  a-very-long-subcommand-name-indeed
                              Description on its own line

Examples:
  gtos-tx build transfer --chain-id x \\
      --to 0x00 --amount 5
Exit status: 0 success, 1 failure, 2 usage error.
""", ["--algo", "--from", "--jobs"], ["transfer", "a-very-long-subcommand-name-indeed"]),
    ("""gtos-tx build transfer
Usage: gtos-tx build transfer [OPTIONS]

OPTIONS:
  -h,     --help              Print this help message and exit
  -o,     --output TEXT       Write to FILE
          --json              Print JSON
[Option Group: common]
  Flags every kind shares
  OPTIONS:
    --chain-id ID REQUIRED    Chain id

POSITIONALS:
  files TEXT ...              Input files
""", ["--output", "--json", "--chain-id"], []),
]


def check_parser(checks):
    for i, (text, want_opts, want_subs) in enumerate(PARSER_SAMPLES, 1):
        opts, subs = parse_help(text)
        checks.check((opts, subs) == (want_opts, want_subs),
                     f"help parser reads sample {i} (got {opts} {subs})")


def run_help(binary, path):
    env = dict(os.environ)
    env.pop("GTOS_PASSPHRASE_FILE", None)
    env["COLUMNS"] = "80"
    try:
        p = subprocess.run([binary, *path, "--help"], stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           env=env, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as e:
        return None, str(e)
    if p.returncode != 0:
        return None, f"exit status {p.returncode}: {p.stderr.decode(errors='replace').strip()}"
    return p.stdout.decode(errors="replace"), None


def discover(binary, checks, tool):
    """Walks the subcommand tree. Returns {option: [paths]}, [paths] and
    {path: (options, subcommands)}, paths being tuples of subcommand names."""
    options, paths, tree = {}, [], {}
    seen_texts = set()

    def walk(path):
        text, err = run_help(binary, path)
        shown = " ".join([tool, *path, "--help"])
        if not checks.check(text is not None, f"{shown} runs ({err})" if err else f"{shown} runs"):
            return
        if path and text in seen_texts:
            return  # CLI11 printed the parent's help: not a real subcommand
        seen_texts.add(text)
        opts, subs = parse_help(text)
        tree[tuple(path)] = (opts, subs)
        for o in opts:
            options.setdefault(o, []).append(" ".join(path) or "(top level)")
        for s in subs:
            sub = [*path, s]
            paths.append(sub)
            if len(sub) < MAX_DEPTH:
                walk(sub)

    walk([])
    return options, paths, tree


# --- documents ---------------------------------------------------------------

ROFF_ESCAPES = [
    (r"\\f\[[^\]]*\]", ""), (r"\\f\(..", ""), (r"\\f.", ""),
    (r"\\\(aq", "'"), (r"\\\(dq", '"'), (r"\\\(em", " "), (r"\\\(en", " "),
    (r"\\\(bu", " "), (r"\\\(mu", "x"), (r"\\\(..", " "), (r"\\\[[^\]]*\]", " "),
    (r"\\-", "-"), (r"\\&", ""), (r"\\%", ""), (r"\\ ", " "), (r"\\~", " "),
    (r"\\e", "\\\\"),
]


def roff_text(line):
    for pattern, repl in ROFF_ESCAPES:
        line = re.sub(pattern, repl, line)
    return line


def read(path):
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()
    except OSError:
        return None


def man_lines(source):
    """Man page source without comments, escapes removed (macros kept)."""
    out = []
    for line in source.splitlines():
        if re.match(r"^[.']\s*\\\"", line) or line.startswith('\\"'):
            continue
        out.append(roff_text(line))
    return out


def man_body(lines):
    """Text of a man page: macro names dropped, their arguments kept."""
    out = []
    for line in lines:
        if line.startswith((".", "'")):
            parts = line.split(None, 1)
            line = parts[1] if len(parts) > 1 else ""
        out.append(line.replace('"', " "))
    return "\n".join(out)


def man_section(lines, name):
    start = None
    for i, line in enumerate(lines):
        m = re.match(r'^\.SH\s+"?([^"]*)"?\s*$', line)
        if m:
            if start is not None:
                return man_body(lines[start:i])
            if m.group(1).strip().upper() == name:
                start = i + 1
    return man_body(lines[start:]) if start is not None else ""


def th_fields(lines):
    for line in lines:
        if re.match(r"^\.TH\s", line):
            try:
                return shlex.split(line[3:])
            except ValueError:
                return line[3:].split()
    return []


def shell_text(source):
    """Shell (bash, zsh, fish) source without comment lines."""
    return "\n".join(l for l in source.splitlines() if not l.lstrip().startswith("#"))


def has_option(text, option):
    return re.search(r"(?<![\w-])" + re.escape(option) + r"(?![\w-])", text) is not None


def has_fish_option(text, option):
    """fish declares a long option as `complete ... -l NAME` (or --long-option)."""
    name = re.escape(option[2:])
    return re.search(r"(?:^|\s)(?:-l\s*|--long(?:-option)?[=\s]+)['\"]?" + name + r"(?![\w-])",
                     text, re.M) is not None


def has_word(text, word):
    return re.search(r"(?<![\w-])" + re.escape(word) + r"(?![\w-])", text) is not None


def zsh_files_for(src, tool):
    files = []
    for path in sorted(glob.glob(os.path.join(src, "completions", "zsh", "*"))):
        text = read(path) or ""
        first = text.splitlines()[0] if text else ""
        named = os.path.basename(path) == "_" + tool
        if named or (first.startswith("#compdef") and tool in first.split()[1:]):
            files.append(path)
    return files


# --- completions, run ----------------------------------------------------------

# Sources a bash completion file, then for each input line (words of a command
# line, the last one being completed; "<none>" for an empty word) calls the
# function registered for the command and prints COMPREPLY on one line.
BASH_DRIVER = r"""
source "$1" >/dev/null 2>&1 || exit 3
while IFS= read -r line; do
  read -ra w <<< "$line"
  n=${#w[@]}
  [[ ${w[n-1]} == "<none>" ]] && w[n-1]=""
  COMP_WORDS=("${w[@]}"); COMP_CWORD=$((n - 1))
  COMP_LINE="${w[*]}"; COMP_POINT=${#COMP_LINE}; COMP_TYPE=9; COMP_KEY=9
  spec=$(complete -p -- "${w[0]}" 2>/dev/null)
  COMPREPLY=()
  if [[ $spec == *" -F "* ]]; then
    func=${spec#* -F }; func=${func%% *}
    "$func" "${w[0]}" "${w[n-1]}" "${w[n-2]}" >/dev/null 2>&1
  fi
  printf '%s\n' "${COMPREPLY[*]}"
done
"""

# The same for fish: `complete -C LINE`, candidates without descriptions. Only
# the checked directory is on fish_complete_path, so fish autoloads the file
# by the tool's name, as an installed copy would be, and nothing else (fish
# autoloads only for commands it finds on PATH: the tools' directory is put
# first there).
FISH_DRIVER = r"""
set -g fish_complete_path $argv[1]
while read -l line
    set -l found (complete -C "$line" | string replace -r '\t.*' '')
    echo "$found"
end
"""


def run_completions(argv, lines, bindir):
    """Runs a completion driver over lines; returns one set of words per line."""
    env = dict(os.environ)
    env["PATH"] = os.path.abspath(bindir) + os.pathsep + env.get("PATH", "")
    with tempfile.TemporaryDirectory() as empty:  # no file names to offer
        try:
            p = subprocess.run(argv, input="\n".join(lines) + "\n", cwd=empty, env=env, text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120)
        except (OSError, subprocess.TimeoutExpired) as e:
            return None, str(e)
    if p.returncode != 0:
        return None, f"exit status {p.returncode}: {p.stderr.strip()}"
    out = p.stdout.split("\n")
    if len(out) < len(lines):
        return None, "driver printed too few lines"
    return [set(l.split()) for l in out[:len(lines)]], None


def check_completion_runs(checks, shell, argv, bindir, tool, tree, empty_word):
    """Checks that completing `TOOL PATH --` offers every option of PATH and
    completing `TOOL PATH ` offers every subcommand of PATH."""
    cases = []  # (line, wanted words, shown)
    for path, (opts, subs) in sorted(tree.items()):
        prefix = " ".join([tool, *path])
        for o in opts:
            cases.append((prefix + " --", o, f"{shell}: '{prefix} --<TAB>' offers {o}"))
        for sub in subs:
            cases.append((prefix + " " + empty_word, sub, f"{shell}: '{prefix} <TAB>' offers {sub}"))
    if not cases:
        return
    lines = sorted({c[0] for c in cases})
    results, err = run_completions(argv, lines, bindir)
    if not checks.check(results is not None, f"{shell}: completion of {tool} runs"
                        + (f" ({err})" if err else "")):
        return
    by_line = dict(zip(lines, results))
    for line, want, shown in cases:
        checks.check(want in by_line[line], shown)


# --- main --------------------------------------------------------------------

def find_binary(bindir, tool):
    for candidate in (os.path.join(bindir, tool), os.path.join(bindir, tool, tool)):
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return None


class Docs:
    """The documents of one tool, as text to search (None: the file is missing)."""

    def __init__(self, src, tool, bash_text):
        self.rel_man = os.path.join("man", tool + ".1")
        self.man_src = read(os.path.join(src, self.rel_man))
        self.man, self.synopsis, self.th = None, "", []
        if self.man_src is not None:
            lines = man_lines(self.man_src)
            self.man = man_body(lines)
            self.synopsis = man_section(lines, "SYNOPSIS")
            self.th = th_fields(lines)
        self.bash = bash_text
        zsh_paths = zsh_files_for(src, tool)
        self.rel_zsh = " ".join(os.path.relpath(p, src) for p in zsh_paths)
        self.zsh = "\n".join(shell_text(read(p) or "") for p in zsh_paths) if zsh_paths else None
        self.rel_fish = os.path.join("completions", "fish", tool + ".fish")
        fish_src = read(os.path.join(src, self.rel_fish))
        self.fish = shell_text(fish_src) if fish_src is not None else None


def check_files(checks, tool, docs):
    checks.check(docs.man is not None, f"{tool}: {docs.rel_man} exists")
    if docs.man is not None:
        th = docs.th
        checks.check(len(th) >= 2 and th[0].lower() == tool.lower() and th[1] == "1",
                     f"{docs.rel_man}: .TH names {tool} in section 1 (got: .TH {' '.join(th[:2])})")
        checks.check(bool(docs.synopsis.strip()), f"{docs.rel_man}: has a SYNOPSIS section")
    if docs.bash is not None:
        checks.check(has_word(docs.bash, tool), f"completions/bash/gtos: registers {tool}")
    checks.check(docs.zsh is not None, f"{tool}: a zsh completion file (_{tool} or #compdef {tool})")
    checks.check(docs.fish is not None, f"{tool}: {docs.rel_fish} exists")


def check_mentions(checks, tool, docs, options, paths):
    """Every long option in each document; every subcommand in the SYNOPSIS
    and in each completion file."""
    where_opt = [(docs.man, docs.rel_man, has_option),
                 (docs.bash, "completions/bash/gtos", has_option),
                 (docs.zsh, docs.rel_zsh, has_option),
                 (docs.fish, docs.rel_fish, has_fish_option)]
    for option in sorted(options):
        what = f"{tool} {option} (used by: {', '.join(options[option])})"
        for text, name, found in where_opt:
            if text is not None:
                checks.check(found(text, option), f"{name}: {what}")
    where_sub = [(docs.synopsis if docs.man is not None else None, docs.rel_man + " SYNOPSIS"),
                 (docs.bash, "completions/bash/gtos"),
                 (docs.zsh, docs.rel_zsh),
                 (docs.fish, docs.rel_fish)]
    for path in paths:
        what = f"subcommand '{' '.join([tool, *path])}'"
        for text, name in where_sub:
            if text is not None:
                checks.check(has_word(text, path[-1]), f"{name}: {what}")


def check_tool(args, checks, tool, bash_text):
    binary = find_binary(args.bin, tool)
    if not checks.check(binary is not None, f"{tool}: executable in {args.bin}"):
        return
    options, paths, tree = discover(binary, checks, tool)
    docs = Docs(args.src, tool, bash_text)
    check_files(checks, tool, docs)
    check_mentions(checks, tool, docs, options, paths)
    bindir = os.path.dirname(binary)
    if docs.bash is not None and shutil.which("bash"):
        bash_file = os.path.join(args.src, "completions", "bash", "gtos")
        check_completion_runs(checks, "bash", ["bash", "-c", BASH_DRIVER, "bash", bash_file],
                              bindir, tool, tree, "<none>")
    if docs.fish is not None and shutil.which("fish"):
        fish_dir = os.path.join(args.src, "completions", "fish")
        check_completion_runs(checks, "fish", ["fish", "--no-config", "-c", FISH_DRIVER, fish_dir],
                              bindir, tool, tree, "")


def check_syntax(checks, src):
    """Each completion file parses in its shell (where that shell is installed)."""
    for shell, pattern in (("bash", "bash/*"), ("zsh", "zsh/*"), ("fish", "fish/*.fish")):
        files = sorted(glob.glob(os.path.join(src, "completions", pattern)))
        if not files:
            continue
        if not shutil.which(shell):
            print(f"note: {shell} is not installed: its completion files are checked as text only")
            continue
        for path in files:
            p = subprocess.run([shell, "-n", path], stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            checks.check(p.returncode == 0, f"{os.path.relpath(path, src)}: {shell} -n accepts it"
                         + (f" ({p.stderr.strip()})" if p.returncode else ""))


def check_other_man_pages(src, checks, tools):
    for path in sorted(glob.glob(os.path.join(src, "man", "*.[1-9]"))):
        stem, ext = os.path.splitext(os.path.basename(path))
        if ext == ".1" and stem in tools:
            continue  # checked with its tool
        th = th_fields(man_lines(read(path) or ""))
        checks.check(len(th) >= 2 and th[0].lower() == stem.lower() and th[1] == ext[1:],
                     f"man/{stem}{ext}: .TH names {stem} in section {ext[1:]}"
                     f" (got: .TH {' '.join(th[:2])})")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bin", required=True, help="directory of the built tools (BUILD/cmd)")
    ap.add_argument("--src", required=True, help="source tree (holds cmd/, man/, completions/)")
    ap.add_argument("-v", "--verbose", action="store_true", help="print passing checks too")
    args = ap.parse_args()

    checks = Checks(args.verbose)
    check_parser(checks)
    tools = sorted(os.path.basename(d) for d in glob.glob(os.path.join(args.src, "cmd", "gtos-*"))
                   if os.path.isdir(d))
    checks.check(bool(tools), f"tool directories {os.path.join(args.src, 'cmd', 'gtos-*')} exist")

    bash_src = read(os.path.join(args.src, "completions", "bash", "gtos"))
    checks.check(bash_src is not None, "completions/bash/gtos exists")
    bash_text = shell_text(bash_src) if bash_src is not None else None

    for tool in tools:
        check_tool(args, checks, tool, bash_text)
    check_other_man_pages(args.src, checks, set(tools))
    check_syntax(checks, args.src)

    print(f"{checks.passed} passed, {checks.failed} failed")
    return 1 if checks.failed else 0


if __name__ == "__main__":
    sys.exit(main())
