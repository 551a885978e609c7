/* The one-regex-at-a-time baseline of the comparison: every pattern, JIT-compiled, run over
 * every line; prints the number of lines at least one pattern matches.
 * usage: pcre2loop PATTERNS_FILE LOG_FILE [MAX_LINES]
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv) {
    if (argc < 3) { fprintf(stderr, "usage: %s PATTERNS LOG [MAX_LINES]\n", argv[0]); return 2; }
    long max = argc > 3 ? atol(argv[3]) : -1;
    FILE *pf = fopen(argv[1], "r");
    if (!pf) { perror(argv[1]); return 2; }
    pcre2_code **codes = NULL;
    size_t n = 0, cap = 0;
    char *line = NULL;
    size_t lcap = 0;
    ssize_t len;
    while ((len = getline(&line, &lcap, pf)) > 0) {
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) line[--len] = 0;
        if (len == 0) continue;
        int err; PCRE2_SIZE off;
        pcre2_code *c = pcre2_compile((PCRE2_SPTR)line, len, 0, &err, &off, NULL);
        if (!c) { fprintf(stderr, "bad pattern: %s\n", line); return 2; }
        pcre2_jit_compile(c, PCRE2_JIT_COMPLETE);
        if (n == cap) { cap = cap ? cap * 2 : 64; codes = realloc(codes, cap * sizeof *codes); }
        codes[n++] = c;
    }
    fclose(pf);
    pcre2_match_data *md = pcre2_match_data_create(1, NULL);
    FILE *lf = fopen(argv[2], "r");
    if (!lf) { perror(argv[2]); return 2; }
    long lines = 0, matched = 0;
    while ((len = getline(&line, &lcap, lf)) > 0 && (max < 0 || lines < max)) {
        if (line[len - 1] == '\n') len--;
        lines++;
        for (size_t i = 0; i < n; i++) {
            if (pcre2_jit_match(codes[i], (PCRE2_SPTR)line, len, 0, 0, md, NULL) >= 0) { matched++; break; }
        }
    }
    printf("%ld\n", matched);
    fprintf(stderr, "lines: %ld\n", lines);
    return 0;
}
