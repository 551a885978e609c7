// libsystemd: sd-journal (read and write) and sd-daemon (notify).
// Without SD_JOURNAL_SUPPRESS_LOCATION sd_journal_sendv is a function-like macro Swift cannot call.
#define SD_JOURNAL_SUPPRESS_LOCATION 1
#include <sys/uio.h>
#include <systemd/sd-journal.h>
#include <systemd/sd-daemon.h>
#include <systemd/sd-id128.h>
