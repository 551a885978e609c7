// PCRE2, 8-bit code units. Swift sees the width-suffixed names (pcre2_compile_8 ...).
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

