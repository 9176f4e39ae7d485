/* The system zlib (Debian zlib1g-dev) for the dataset plugins' line reader. */
#include <zlib.h>
