// What each symptom of a catalog costs Hyperscan, measured the way casewatch scans: one block-mode
// database of every pattern (HS_FLAG_MULTILINE, plus HS_FLAG_CASELESS where asked), one hs_scan
// per chunk of whole lines of at most 256 KiB, a callback that only counts.
//
//   symptom-cost CORPUS PATTERNS REPEATS [all]
//
// PATTERNS holds one pattern a line: "FLAGS<TAB>regex", FLAGS "-" or any of "i" (caseless) and "p"
// (prefilter, as casewatch compiles a regex with look-around or a back-reference). Prints, best of
// REPEATS passes each (CPU seconds of the scanning thread):
//   all     <seconds> <reports>                   the whole database
//   alone   <index> <seconds> <reports>           a database of that pattern only
//   without <index> <seconds> <reports> <all>     the whole database less that pattern, and the
//                                                 whole database again, measured right after it
// Built and run by symptom-cost.py, which turns the figures into a table.
#include <hs/hs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { CHUNK = 256 * 1024 };

static char *corpus;
static size_t corpusSize;
static size_t *chunkStart;
static size_t chunks;

static int onMatch(unsigned id, unsigned long long from, unsigned long long to, unsigned flags, void *ctx) {
    (void)id; (void)from; (void)to; (void)flags;
    ++*(unsigned long long *)ctx;
    return 0;
}

// CPU time of this thread: on a shared machine, time spent waiting for a core is not counted.
static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

static hs_database_t *compile(char **regex, unsigned *flags, unsigned *ids, unsigned n) {
    hs_database_t *db = NULL;
    hs_compile_error_t *error = NULL;
    if (hs_compile_multi((const char *const *)regex, flags, ids, n, HS_MODE_BLOCK, NULL, &db, &error) != HS_SUCCESS) {
        fprintf(stderr, "symptom-cost: pattern %d: %s\n", error->expression, error->message);
        exit(2);
    }
    return db;
}

// Best time of `repeats` passes over the corpus; the reports of one pass in *reports.
static double scan(hs_database_t *db, int repeats, unsigned long long *reports) {
    hs_scratch_t *scratch = NULL;
    if (hs_alloc_scratch(db, &scratch) != HS_SUCCESS) exit(2);
    double best = 1e9;
    for (int r = 0; r < repeats; r++) {
        unsigned long long count = 0;
        double t0 = now();
        for (size_t c = 0; c < chunks; c++) {
            size_t start = chunkStart[c], end = chunkStart[c + 1];
            hs_scan(db, corpus + start, (unsigned)(end - start), 0, scratch, onMatch, &count);
        }
        double t = now() - t0;
        if (t < best) best = t;
        *reports = count;
    }
    hs_free_scratch(scratch);
    return best;
}

int main(int argc, char **argv) {
    if (argc != 4 && argc != 5) {
        fprintf(stderr, "usage: symptom-cost CORPUS PATTERNS REPEATS [all]\n");
        return 2;
    }
    int repeats = atoi(argv[3]);
    FILE *f = fopen(argv[1], "rb");
    if (!f) { perror(argv[1]); return 2; }
    fseek(f, 0, SEEK_END);
    corpusSize = ftell(f);
    fseek(f, 0, SEEK_SET);
    corpus = malloc(corpusSize);
    if (fread(corpus, 1, corpusSize, f) != corpusSize) { perror("read"); return 2; }
    fclose(f);

    // Chunks of whole lines, as ChunkedLineReader hands them over.
    chunkStart = malloc(sizeof(size_t) * (corpusSize / 1024 + 2));
    size_t at = 0;
    chunkStart[chunks] = 0;
    while (at < corpusSize) {
        size_t end = at + CHUNK < corpusSize ? at + CHUNK : corpusSize;
        if (end < corpusSize) {
            size_t nl = end;
            while (nl > at && corpus[nl - 1] != '\n') nl--;
            if (nl > at) end = nl;
        }
        chunkStart[++chunks] = end;
        at = end;
    }

    char **regex = NULL;
    unsigned *flags = NULL, *ids = NULL, n = 0;
    FILE *p = fopen(argv[2], "r");
    if (!p) { perror(argv[2]); return 2; }
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    while ((len = getline(&line, &cap, p)) > 0) {
        if (line[len - 1] == '\n') line[--len] = 0;
        char *tab = strchr(line, '\t');
        if (!tab || tab[1] == 0) continue;
        *tab = 0;
        regex = realloc(regex, sizeof(char *) * (n + 1));
        flags = realloc(flags, sizeof(unsigned) * (n + 1));
        ids = realloc(ids, sizeof(unsigned) * (n + 1));
        regex[n] = strdup(tab + 1);
        flags[n] = HS_FLAG_MULTILINE | (strchr(line, 'i') ? HS_FLAG_CASELESS : 0) | (strchr(line, 'p') ? HS_FLAG_PREFILTER : 0);
        ids[n] = n;
        n++;
    }
    fclose(p);

    unsigned long long reports;
    hs_database_t *db = compile(regex, flags, ids, n);
    double all = scan(db, repeats, &reports);
    hs_free_database(db);
    printf("all %.6f %llu\n", all, reports);
    fflush(stdout);
    if (argc == 5) return 0;  // the whole database only

    char **r = malloc(sizeof(char *) * n);
    unsigned *fl = malloc(sizeof(unsigned) * n), *id = malloc(sizeof(unsigned) * n);
    for (unsigned i = 0; i < n; i++) {
        db = compile(&regex[i], &flags[i], &ids[i], 1);
        double t = scan(db, repeats, &reports);
        hs_free_database(db);
        printf("alone %u %.6f %llu\n", i, t, reports);

        unsigned m = 0;
        for (unsigned j = 0; j < n; j++) {
            if (j == i) continue;
            r[m] = regex[j]; fl[m] = flags[j]; id[m] = ids[j]; m++;
        }
        db = compile(r, fl, id, m);
        t = scan(db, repeats, &reports);
        hs_free_database(db);
        db = compile(regex, flags, ids, n);
        unsigned long long allReports;
        double again = scan(db, repeats, &allReports);
        hs_free_database(db);
        printf("without %u %.6f %llu %.6f\n", i, t, reports, again);
        fflush(stdout);
    }
    return 0;
}
