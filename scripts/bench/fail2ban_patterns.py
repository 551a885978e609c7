#!/usr/bin/python3
"""The same N built-in symptoms for casewatch and for fail2ban (scripts/bench/journal-fail2ban.sh).

Reads `casewatch cases list --format json` on standard input and takes, in catalog order, the
first N distinct symptom regexes that
  - Python's `re` compiles once PCRE2's named groups `(?<n>...)` are written `(?P<n>...)` (and,
    for a caseless symptom, `(?i)` put in front),
  - fail2ban reads back from the filter file unchanged (its config parser and its `<TAG>`
    substitution leave the regex as written), and
  - match, with Python's `re`, at least one line of their own case's examples (that line becomes
    the example of the generated case, and says the pattern was carried over sensibly).
Run it with the Python fail2ban runs on (/usr/bin/python3, which has the fail2ban modules).

Writes into OUT:
  patterns/bench.yaml   N one-symptom cases, one per regex (no scope, no trigger: any hit raises
                        it, as any failregex hit is a failure for fail2ban)
  fail2ban.conf         a fail2ban filter: prefregex `^<host> <ident>[<pid>]: <F-CONTENT>...`
                        (the line fail2ban's systemd backend makes of an entry; failregex sees
                        MESSAGE alone, as casewatch does) and the N regexes as failregex;
  fail2ban-1.conf       the same with the first regex only (what reading costs fail2ban)
  chosen.tsv            generated case id, built-in case, symptom and regex of each one taken
  skipped.tsv           those passed over before the N-th, with the reason
  examples.log          every example line of the whole built-in catalog, one a line, for the
                        agreement check; examples-fail2ban.log the same lines as the systemd
                        backend shows an entry (`node-1 kubelet[1]: line`)

usage: casewatch cases list --format json | fail2ban_patterns.py N OUT
"""
import json, os, re, sys

sys.path.insert(0, "/usr/lib/python3/dist-packages")
from fail2ban.client.filterreader import FilterReader  # noqa: E402

n, out = int(sys.argv[1]), sys.argv[2]
os.makedirs(os.path.join(out, "patterns"), exist_ok=True)
PREFREGEX = r"^(?P<fid>)\S+ \S+: <F-CONTENT>.*</F-CONTENT>$"
NAMED = re.compile(r"\(\?<(?=[A-Za-z_])")


def python_regex(symptom):
    r = NAMED.sub("(?P<", symptom["regex"])
    return ("(?i)" if "caseless" in symptom["flags"] else "") + r


def example_lines(case):
    for block in case["examples"]["match"] + case["examples"].get("no_match", []):
        for line in block.split("\n"):
            if line:
                yield line


def roundtrip(regexes):
    """What fail2ban reads back from a filter file with these failregex lines."""
    path = os.path.join(out, "roundtrip.conf")
    write_filter(path, regexes)
    # As fail2ban-regex reads a filter file given by its path (readRegex: a "foreign" file).
    reader = FilterReader(os.path.abspath(path), "fail2ban-regex-jail", {}, share_config={}, basedir=None)
    reader.setBaseDir(None)
    ok = reader.readexplicit()
    os.unlink(path)
    if not ok:
        return None
    reader.applyAutoOptions("systemd")
    reader.getOptions(None)
    regexes = []
    for o in reader.convert():
        if o[2] == "addfailregex":
            regexes += o[3] if o[0] == "multi-set" else [o[3]]
    return regexes


def write_filter(path, regexes):
    with open(path, "w") as f:
        f.write("[Definition]\n")
        # ConfigParser interpolation: a literal % is written %%.
        f.write("prefregex = %s\n" % PREFREGEX.replace("%", "%%"))
        f.write("failregex = " + "\n            ".join(r.replace("%", "%%") for r in regexes) + "\n")
        f.write("ignoreregex =\n")


cases = [json.loads(line) for line in sys.stdin if line.strip()]
chosen, skipped, seen = [], [], set()
for case in cases:
    for s in case["symptoms"]:
        if len(chosen) == n:
            break
        if s["regex"] in seen:
            continue
        seen.add(s["regex"])
        r = python_regex(s)
        try:
            compiled = re.compile(r)
        except re.error as e:
            skipped.append((case["id"], s["id"], "Python re: %s" % e))
            continue
        if r != r.strip() or "\n" in r:
            skipped.append((case["id"], s["id"], "leading/trailing blank: the filter file would lose it"))
            continue
        back = roundtrip([r])
        if back != [r]:
            skipped.append((case["id"], s["id"], "fail2ban reads it back as %r" % (back,)))
            continue
        example = next((l for l in example_lines(case) if compiled.search(l)), None)
        if example is None:
            skipped.append((case["id"], s["id"], "no example line of its case matches with Python re"))
            continue
        chosen.append((case, s, r, example))
if len(chosen) < n:
    sys.exit("only %d symptoms qualify" % len(chosen))

regexes = [r for _, _, r, _ in chosen]
if roundtrip(regexes) != regexes:
    sys.exit("fail2ban does not read the filter back as written")
write_filter(os.path.join(out, "fail2ban.conf"), regexes)
write_filter(os.path.join(out, "fail2ban-1.conf"), regexes[:1])


def yq(s):
    return "'" + s.replace("'", "''") + "'"


with open(os.path.join(out, "patterns", "bench.yaml"), "w") as f:
    for i, (case, s, _, example) in enumerate(chosen):
        f.write("---\n")
        f.write("id: bench-%02d-%s\n" % (i + 1, s["id"]))
        f.write("title: {en: %s, zh: %s}\n" % (yq("bench " + s["id"]), yq("bench " + s["id"])))
        f.write("severity: %s\n" % case["severity"])
        f.write("source: {seed: bench, heading: bench}\n")
        f.write("symptoms:\n  - id: %s\n    regex: %s\n" % (s["id"], yq(s["regex"])))
        if s["flags"]:
            f.write("    flags: [%s]\n" % ", ".join(s["flags"]))
        f.write("diagnosis: {en: bench, zh: bench}\nfix: {en: bench, zh: bench}\n")
        f.write("examples: {match: [%s]}\n" % yq(example))
with open(os.path.join(out, "chosen.tsv"), "w") as f:
    for i, (case, s, _, _) in enumerate(chosen):
        f.write("bench-%02d-%s\t%s\t%s\t%s\n" % (i + 1, s["id"], case["id"], s["id"], s["regex"]))
with open(os.path.join(out, "skipped.tsv"), "w") as f:
    for row in skipped:
        f.write("\t".join(row) + "\n")
with open(os.path.join(out, "examples.log"), "w") as f, open(os.path.join(out, "examples-fail2ban.log"), "w") as g:
    for case in cases:
        for line in example_lines(case):
            f.write(line + "\n")
            g.write("node-1 kubelet[1]: %s\n" % line)
print("%d symptoms chosen, %d passed over" % (len(chosen), len(skipped)), file=sys.stderr)
