#!/usr/bin/env python3
"""Side-by-side comparison: casewatch scan, GNU grep -E -f, ripgrep -f, a one-regex-at-a-time
PCRE2-JIT loop and fail2ban-regex, on the same 1,000,000-line corpus (built from
../shared/corpora by make_inputs.py) with the same 100, 1,000 and 10,000 patterns.

Each tool runs end to end, as a user would run it: reading the file and compiling the patterns
(casewatch twice: compiling its database, and loading it from its cache). The slow tools run on a
prefix of the corpus so the whole comparison stays within minutes; their lines/s are measured on
that prefix. Every tool's count of matching lines is checked against casewatch's on the same
lines: a disagreement is an error.

Writes the table between the markers of docs/PERFORMANCE.md (and prints it).
The built-in catalog ("builtin") runs through every tool too: its PCRE2 regexes are written
out for the PCRE2 loop as they are (caseless ones with (?i)), for ripgrep with named groups made
non-capturing (ripgrep's engine has no (?<name>...)), and for fail2ban with Python's (?P<name>...).

usage: compare.py [--sizes builtin,100,1000,10000] [--no-write]
"""
import json, os, re, shutil, subprocess, sys, tempfile, time

root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
bench = os.path.join(root, ".build", "bench")
casewatch = os.path.join(root, ".build", "release", "casewatch")
pcre2loop = os.path.join(bench, "pcre2loop")
corpus = os.path.join(bench, "corpus-1m.log")
TIMEOUT = 600

sizes = ["builtin", 100, 1000, 10000]
write = True
args = sys.argv[1:]
while args:
    a = args.pop(0)
    if a == "--sizes":
        sizes = [x if x == "builtin" else int(x) for x in args.pop(0).split(",")]
    elif a == "--no-write":
        write = False

# Lines each tool reads, per pattern count: the whole corpus where the tool is fast enough.
PREFIX = {
    "pcre2": {"builtin": 1_000_000, 100: 1_000_000, 1000: 200_000, 10000: 20_000},
    "fail2ban": {"builtin": 20_000, 100: 20_000, 1000: 2_000, 10000: 200},
    "grep": {100: 1_000_000, 1000: 1_000_000, 10000: 1_000_000},
}

def write_builtin_inputs():
    """The built-in catalog's symptoms in each peer's dialect (see the docstring)."""
    out = subprocess.run([casewatch, "cases", "list", "--format", "json"], capture_output=True, check=True).stdout
    regexes = []
    for line in out.decode().splitlines():
        case = json.loads(line)
        for s in case["symptoms"]:
            regexes.append(("(?i)" if "caseless" in s["flags"] else "") + s["regex"])
    named = re.compile(r"\(\?<(?=[A-Za-z_])[A-Za-z_][A-Za-z0-9_]*>")
    with open(os.path.join(bench, "synthetic-builtin.txt"), "w") as f:
        f.write("".join(r + "\n" for r in regexes))
    with open(os.path.join(bench, "synthetic-builtin-rg.txt"), "w") as f:
        f.write("".join(named.sub("(?:", r) + "\n" for r in regexes))
    with open(os.path.join(bench, "synthetic-builtin-fail2ban.conf"), "w") as f:
        f.write("[Definition]\nfailregex = ")
        f.write("\n            ".join("(?P<fid>)(?:" + re.sub(r"\(\?<(?=[A-Za-z_])", "(?P<", r) + ")" for r in regexes))
        f.write("\nignoreregex =\n")
    return len(regexes)

def prefix_file(lines):
    if lines >= 1_000_000:
        return corpus
    path = os.path.join(bench, f"corpus-{lines}.log")
    if not os.path.exists(path):
        with open(corpus, "rb") as src, open(path, "wb") as dst:
            for i, line in enumerate(src):
                if i == lines:
                    break
                dst.write(line)
    return path

def run(cmd, env=None):
    start = time.perf_counter()
    p = subprocess.run(cmd, capture_output=True, timeout=TIMEOUT, env=env)
    return time.perf_counter() - start, p

def casewatch_count(n, path, cache, jobs=1):
    env = dict(os.environ, LANG="C")
    cmd = [casewatch, "scan", "--count", "--stats", "--jobs", str(jobs)]
    if n != "builtin":
        cmd += ["--no-builtin", "--patterns", os.path.join(bench, f"synthetic-{n}")]
    cmd.append(path)
    cmd += ["--cache-dir", cache] if cache else ["--no-cache"]
    secs, p = run(cmd, env)
    stats = dict(l.split(": ", 1) for l in p.stderr.decode().splitlines() if ": " in l)
    if p.returncode not in (0, 1) or "matched_lines" not in stats:
        raise SystemExit(f"casewatch failed: {p.stderr.decode()[:500]}")
    return secs, int(stats["matched_lines"])

def tool(name, n, path):
    pats = os.path.join(bench, f"synthetic-{n}.txt")
    if name == "grep":
        secs, p = run(["grep", "-E", "-c", "-f", pats, path])
        return secs, int(p.stdout or 0)
    if name == "rg":
        if n == "builtin":
            pats = os.path.join(bench, "synthetic-builtin-rg.txt")
            # Look-around and back-references need ripgrep's PCRE2 engine.
            if any(t in open(pats).read() for t in ("(?=", "(?!", "(?<=", "(?<!", "\\1")):
                secs, p = run(["rg", "-c", "--no-config", "-P", "-f", pats, path])
                return secs, int(p.stdout or 0)
        secs, p = run(["rg", "-c", "--no-config", "-f", pats, path])
        return secs, int(p.stdout or 0)
    if name == "pcre2":
        secs, p = run([pcre2loop, pats, path])
        return secs, int(p.stdout)
    if name == "fail2ban":
        secs, p = run(["fail2ban-regex", "--datepattern", "{NONE}", "--print-no-missed", path,
                       os.path.join(bench, f"synthetic-{n}-fail2ban.conf")])
        m = re.search(r"Lines: \d+ lines, \d+ ignored, (\d+) matched", p.stdout.decode())
        if not m:
            raise SystemExit(f"fail2ban-regex output not understood: {p.stdout.decode()[-800:]} {p.stderr.decode()[-800:]}")
        return secs, int(m.group(1))
    raise ValueError(name)

def lines_of(path):
    return 1_000_000 if path == corpus else int(re.search(r"corpus-(\d+)", path).group(1))

# Every tool reads the corpus from the page cache: read it once before the first measurement.
with open(corpus, "rb") as fh:
    while fh.read(1 << 24):
        pass

rows = []
if "builtin" in sizes:
    print(f"built-in catalog: {write_builtin_inputs()} symptoms", file=sys.stderr)
for n in sizes:
    cache = tempfile.mkdtemp(prefix="casewatch-bench-cache-")
    try:
        cold, ref = casewatch_count(n, corpus, cache)     # compiles and stores the database
        warm, ref2 = casewatch_count(n, corpus, cache)    # loads it from the cache
        assert ref == ref2
        rows.append((n, "casewatch scan (cold: caches empty)", 1_000_000, cold, ref, True))
        rows.append((n, "casewatch scan (caches warm)", 1_000_000, warm, ref, True))
        both, ref3 = casewatch_count(n, corpus, cache, jobs=os.cpu_count())
        rows.append((n, f"casewatch scan --jobs {os.cpu_count()} (caches warm)", 1_000_000, both, ref3, ref3 == ref))
        peers = (("grep", "GNU grep -E -c -f"), ("rg", "ripgrep -c -f"),
                 ("pcre2", "PCRE2-JIT loop, one regex at a time"), ("fail2ban", "fail2ban-regex"))
        if n == "builtin":
            # PCRE2 syntax (\s, \d, lazy repeats, look-around) is not POSIX ERE: no grep -E.
            peers = peers[1:]
        for name, label in peers:
            lines = PREFIX.get(name, {}).get(n, 1_000_000)
            path = prefix_file(lines)
            expected = ref if path == corpus else casewatch_count(n, path, cache)[1]
            try:
                secs, count = tool(name, n, path)
            except subprocess.TimeoutExpired:
                rows.append((n, label, lines, None, None, None))
                continue
            rows.append((n, label, lines, secs, count, count == expected))
            if count != expected:
                print(f"DISAGREEMENT: {label} with {n} patterns counts {count} matching lines, casewatch {expected}", file=sys.stderr)
    finally:
        shutil.rmtree(cache, ignore_errors=True)

size = os.path.getsize(corpus)
out = ["| patterns | tool | lines read | seconds | lines/s | MB/s | matching lines | agrees |", "|---:|---|---:|---:|---:|---:|---:|---|"]
for n, label, lines, secs, count, agrees in rows:
    if secs is None:
        out.append(f"| {n if n == 'builtin' else format(n, ','):} | {label} | {lines:,} | > {TIMEOUT} | | | | timed out |")
        continue
    mb = size * lines / 1_000_000 / secs / 1e6
    shown = "built-in" if n == "builtin" else f"{n:,}"
    out.append(f"| {shown} | {label} | {lines:,} | {secs:.2f} | {lines / secs:,.0f} | {mb:,.0f} | {count:,} | {'yes' if agrees else 'NO'} |")
table = "\n".join(out)
print(table)
if write:
    doc = os.path.join(root, "docs", "PERFORMANCE.md")
    text = open(doc).read()
    begin, end = "<!-- BEGIN COMPARISON -->", "<!-- END COMPARISON -->"
    i, j = text.index(begin) + len(begin), text.index(end)
    stamp = f"\n\nMeasured {time.strftime('%Y-%m-%d')} on this machine ({os.cpu_count()} cores), corpus {size / 1e6:.0f} MB.\n\n"
    open(doc, "w").write(text[:i] + stamp + table + "\n\n" + text[j:])
if any(r[5] is False for r in rows):
    sys.exit(1)
