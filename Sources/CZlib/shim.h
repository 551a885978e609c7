// zlib: gzip-compressed log files.
#include <zlib.h>
