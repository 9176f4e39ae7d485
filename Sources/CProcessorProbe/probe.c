// The probe is header-only (static inline); this file gives the C target a source to build.
#include "processor_probe.h"
