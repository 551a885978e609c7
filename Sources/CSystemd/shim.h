// libsystemd: sd-journal (read and write) and sd-daemon (notify).
#include <sys/uio.h>
#include <systemd/sd-journal.h>
#include <systemd/sd-daemon.h>
#include <systemd/sd-id128.h>
