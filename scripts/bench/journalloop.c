/* The minimal sd-journal reader the journald source is measured against: every entry of a
 * directory of journal files, sd_journal_next + sd_journal_get_data("MESSAGE"); prints the
 * number of entries and of MESSAGE bytes.
 * usage: journalloop DIRECTORY
 */
#include <stdio.h>
#include <systemd/sd-journal.h>

int main(int argc, char **argv) {
    if (argc != 2) { fprintf(stderr, "usage: %s DIRECTORY\n", argv[0]); return 2; }
    sd_journal *j;
    int r = sd_journal_open_directory(&j, argv[1], 0);
    if (r < 0) { fprintf(stderr, "sd_journal_open_directory: %d\n", r); return 2; }
    unsigned long entries = 0, bytes = 0;
    while ((r = sd_journal_next(j)) > 0) {
        const void *data;
        size_t length;
        entries++;
        if (sd_journal_get_data(j, "MESSAGE", &data, &length) >= 0) bytes += length - 8;
    }
    if (r < 0) { fprintf(stderr, "sd_journal_next: %d\n", r); return 2; }
    printf("entries=%lu bytes=%lu\n", entries, bytes);
    sd_journal_close(j);
    return 0;
}
