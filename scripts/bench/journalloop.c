/* The minimal sd-journal reader the journald source is measured against: every entry of a
 * directory of journal files, sd_journal_next + sd_journal_get_data("MESSAGE"); with
 * `enumerate`, every field of each entry in one pass instead (what the source does).
 * Prints the number of entries and of MESSAGE bytes.
 * usage: journalloop DIRECTORY [enumerate]
 */
#include <stdio.h>
#include <string.h>
#include <systemd/sd-journal.h>

int main(int argc, char **argv) {
    if (argc < 2 || argc > 3) { fprintf(stderr, "usage: %s DIRECTORY [enumerate]\n", argv[0]); return 2; }
    int enumerate = argc == 3 && strcmp(argv[2], "enumerate") == 0;
    sd_journal *j;
    int r = sd_journal_open_directory(&j, argv[1], 0);
    if (r < 0) { fprintf(stderr, "sd_journal_open_directory: %d\n", r); return 2; }
    unsigned long entries = 0, bytes = 0;
    while ((r = sd_journal_next(j)) > 0) {
        const void *data;
        size_t length;
        entries++;
        if (!enumerate) {
            if (sd_journal_get_data(j, "MESSAGE", &data, &length) >= 0) bytes += length - 8;
            continue;
        }
        SD_JOURNAL_FOREACH_DATA(j, data, length)
            if (length >= 8 && memcmp(data, "MESSAGE=", 8) == 0) bytes += length - 8;
    }
    if (r < 0) { fprintf(stderr, "sd_journal_next: %d\n", r); return 2; }
    printf("entries=%lu bytes=%lu\n", entries, bytes);
    sd_journal_close(j);
    return 0;
}
