#!/usr/bin/env python3
"""Builds the benchmark inputs in OUT (default .build/bench):

  corpus-1m.log          1,000,000 real log lines from ../shared/corpora, in rotation
  corpus-100k.log        its first 100,000 lines (the package-benchmark suites)
  synthetic-N/cases.yaml a casewatch catalog of N one-symptom cases, N = 100, 1000, 10000
  synthetic-N.txt        the same N regexes, one a line (grep -E -f, rg -f, the PCRE2 loop)
  synthetic-N-fail2ban.conf  the same N regexes as a fail2ban filter

The regexes use only what ERE and PCRE2 read alike (literals, [classes], +, *, .*, (a|b)), so
every tool gets the very same patterns. Most name rare tokens (few lines hit, as in production);
one in fifty is a common log phrase that does hit. Seeded: the same files every time.
"""
import gzip, os, random, sys

root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(root, ".build", "bench")
corpora = os.path.join(os.path.dirname(root), "shared", "corpora")
os.makedirs(out, exist_ok=True)

def corpus_lines():
    lines = []
    for d, _, files in sorted(os.walk(corpora)):
        for f in sorted(files):
            if f.startswith(("SOURCE", "README")) or "README" in f or f.endswith((".csv", ".md")) or f in ("LICENSE", "CITATION"):
                continue
            p = os.path.join(d, f)
            opener = gzip.open if f.endswith(".gz") else open
            with opener(p, "rb") as fh:
                for line in fh:
                    line = line.rstrip(b"\r\n")
                    if line:
                        lines.append(line)
    return lines

corpus = os.path.join(out, "corpus-1m.log")
if not os.path.exists(corpus):
    src = corpus_lines()
    with open(corpus + ".tmp", "wb") as fh:
        for i in range(1_000_000):
            fh.write(src[i % len(src)] + b"\n")
    os.rename(corpus + ".tmp", corpus)
small = os.path.join(out, "corpus-100k.log")
if not os.path.exists(small):
    with open(corpus, "rb") as src, open(small, "wb") as dst:
        for i, line in enumerate(src):
            if i == 100_000:
                break
            dst.write(line)

rng = random.Random(20261122)
words = ("connection error failed timeout refused denied invalid missing unable cannot lost closed "
         "reset exceeded unreachable rejected expired corrupt fatal panic killed evicted pending "
         "backoff unhealthy unauthorized forbidden overflow deadlock").split()
nouns = ("pod node volume claim image registry socket session token lease channel cluster "
         "replica shard broker consumer partition segment bucket tenant gateway upstream").split()
common = [
    "Connection (refused|reset)", "[Ee]rror.*[0-9]+", "Failed password for", "[Tt]imed? ?out",
    "Exception", "(WARN|WARNING).*[a-z]+", "authentication failure", "GET /[a-z]+.*HTTP/1\\.[01]\" 404",
    "session (opened|closed) for user", "[Dd]isconnect",
]

def rare():
    return "".join(rng.choice("bcdfghjklmnpqrstvwxz") for _ in range(rng.randint(5, 8)))

def pattern(i):
    if i % 50 == 0 and i // 50 < len(common):
        return common[i // 50], None
    shape = rng.randrange(4)
    w, n, r = rng.choice(words), rng.choice(nouns), rare()
    if shape == 0:
        return f"{n} {r} {w}", f"the {n} {r} {w} now"
    if shape == 1:
        return f"{w}: {n}-[0-9]+ {r}", f"{w}: {n}-42 {r}"
    if shape == 2:
        return f"{r}[a-z]* ({w}|{rng.choice(words)}) {n}", f"x {r}abc {w} {n}"
    return f"{n}=[a-z0-9-]+ .*{r} {w}", f"{n}=abc-1 and {r} {w}"

def example_for(regex):
    # An example the regex matches, for the catalog's mandatory match examples.
    samples = {
        "Connection (refused|reset)": "Connection refused", "[Ee]rror.*[0-9]+": "Error 42",
        "Failed password for": "Failed password for root", "[Tt]imed? ?out": "timed out",
        "Exception": "Exception", "(WARN|WARNING).*[a-z]+": "WARN abc", "authentication failure": "authentication failure",
        "GET /[a-z]+.*HTTP/1\\.[01]\" 404": "GET /abc HTTP/1.1\" 404", "session (opened|closed) for user": "session opened for user",
        "[Dd]isconnect": "disconnect",
    }
    return samples[regex]

for n in (100, 1000, 10000):
    rng.seed(n)
    pats = [pattern(i) for i in range(n)]
    d = os.path.join(out, f"synthetic-{n}")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "cases.yaml"), "w") as y, open(os.path.join(out, f"synthetic-{n}.txt"), "w") as t, \
            open(os.path.join(out, f"synthetic-{n}-fail2ban.conf"), "w") as f2b:
        f2b.write("[Definition]\nfailregex = ")
        for i, (regex, ex) in enumerate(pats):
            ex = ex or example_for(regex)
            q = regex.replace("'", "''")
            y.write(f"---\nid: synthetic-{i}\ntitle: {{en: s, zh: s}}\nseverity: info\n"
                    f"source: {{seed: synthetic, heading: synthetic}}\nsymptoms:\n  - id: s\n    regex: '{q}'\n"
                    f"diagnosis: {{en: d, zh: d}}\nfix: {{en: f, zh: f}}\nexamples: {{match: ['{ex.replace(chr(39), chr(39)*2)}']}}\n")
            t.write(regex + "\n")
            # fail2ban wants a failure-id group in every failregex; an empty one, because it
            # parses a non-empty id as an address.
            f2b.write(("\n            " if i else "") + f"(?P<fid>)(?:{regex})")
        f2b.write("\nignoreregex =\n")
print(out)
