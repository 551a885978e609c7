// The Hyperscan API (libhs), as shipped by Debian's libhyperscan-dev or libvectorscan-dev.
#include <hs/hs.h>
