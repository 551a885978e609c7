#!/usr/bin/env python3
"""What each symptom of the catalog costs the Hyperscan scan, as a Markdown table.

  python3 scripts/bench/symptom-cost.py [--casewatch BIN] [--corpus FILE] [--repeats N] [--top N]
                                        [casewatch catalog options...]

Takes the symptoms from `casewatch cases list --format json` (the built-in catalog unless other
catalog options follow), builds scripts/bench/symptom-cost.c against libhs, and scans the corpus
(default .build/bench/corpus-1m.log, from make_inputs.py) the way casewatch does: one database,
one hs_scan per 256 KiB chunk of whole lines; times are the scanning thread's CPU time, best of
--repeats passes. For every symptom, most costly first:

  - marginal: the whole database's time less the time without this symptom, measured one
    right after the other (what removing it would save; a few milliseconds either way is noise,
    and symptoms that share a costly literal each show only part of what they cost together),
  - reports: how often Hyperscan calls back for it (each report costs the callback, and in
    casewatch a memchr per report after a line's first, then PCRE2 on the line).
"""
import json, os, re, subprocess, sys

root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
args = sys.argv[1:]

def option(name, default):
    if name in args:
        i = args.index(name)
        value = args[i + 1]
        del args[i:i + 2]
        return value
    return default

casewatch = option("--casewatch", os.path.join(root, ".build", "release", "casewatch"))
corpus = option("--corpus", os.path.join(root, ".build", "bench", "corpus-1m.log"))
repeats = option("--repeats", "3")
top = int(option("--top", "0"))

out = os.path.join(root, ".build", "bench")
os.makedirs(out, exist_ok=True)
tool = os.path.join(out, "symptom-cost")
source = os.path.join(root, "scripts", "bench", "symptom-cost.c")
if not os.path.exists(tool) or os.path.getmtime(tool) < os.path.getmtime(source):
    flags = subprocess.run(["pkg-config", "--cflags", "--libs", "libhs"], capture_output=True, text=True, check=True).stdout.split()
    subprocess.run(["cc", "-O2", "-o", tool, source] + flags, check=True)

listing = subprocess.run([casewatch, "cases", "list", "--format", "json", "--no-cache"] + args,
                         capture_output=True, text=True, check=True).stdout
symptoms = []
for line in listing.splitlines():
    c = json.loads(line)
    for s in c["symptoms"]:
        symptoms.append((c["id"] + "/" + s["id"], s["regex"], "caseless" in s["flags"]))
patterns = os.path.join(out, "symptom-cost.patterns")
# As CompiledCatalog.needsPrefilter: look-around and back-references go in with HS_FLAG_PREFILTER.
prefilter = re.compile(r"\\[1-9gk]|\(\?<?[=!]")
with open(patterns, "w") as fh:
    for _, regex, caseless in symptoms:
        flags = ("i" if caseless else "") + ("p" if prefilter.search(regex) else "")
        fh.write((flags or "-") + "\t" + regex + "\n")

run = subprocess.run([tool, corpus, patterns, repeats], capture_output=True, text=True, check=True).stdout
all_time, alone, without, reports, again = 0.0, {}, {}, {}, {}
for line in run.splitlines():
    f = line.split()
    if f[0] == "all":
        all_time = float(f[1])
    elif f[0] == "alone":
        alone[int(f[1])] = float(f[2])
        reports[int(f[1])] = int(f[3])
    elif f[0] == "without":
        without[int(f[1])] = float(f[2])
        again[int(f[1])] = float(f[4])

size = os.path.getsize(corpus)
print(f"{len(symptoms)} symptoms, corpus {size / 1e6:.0f} MB: whole database {all_time * 1000:.0f} ms "
      f"({size / all_time / 1e9:.2f} GB/s, Hyperscan alone, best of {repeats})\n")
print("| symptom | marginal ms | reports |")
print("|---|---:|---:|")
order = sorted(range(len(symptoms)), key=lambda i: again[i] - without[i], reverse=True)
for i in order[:top or len(order)]:
    print(f"| {symptoms[i][0]} | {(again[i] - without[i]) * 1000:.1f} | {reports[i]:,} |")
