// OpenBLAS from Debian's libopenblas-dev (pthread variant): CBLAS plus the thread-count controls.
#include <cblas.h>
