// cpuid and xgetbv for dpohost's processor detection (TensorCore's ProcessorFeatures): Swift has
// no inline assembly, so these two instructions are reached through static inline functions.
#ifndef DPOHOST_PROCESSOR_PROBE_H
#define DPOHOST_PROCESSOR_PROBE_H
#include <stdint.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>

/// Fills out[0..3] with eax, ebx, ecx, edx of cpuid(leaf, subleaf); returns 0 (and zeros) when
/// the processor does not have that leaf. Caller owns `out` (4 elements).
static inline int dph_cpuid(uint32_t leaf, uint32_t subleaf, uint32_t *out) {
    unsigned a = 0, b = 0, c = 0, d = 0;
    int ok = __get_cpuid_count(leaf, subleaf, &a, &b, &c, &d);
    out[0] = ok ? a : 0; out[1] = ok ? b : 0; out[2] = ok ? c : 0; out[3] = ok ? d : 0;
    return ok;
}

/// XCR0: which register states the operating system saves (AVX, AVX-512, AMX). Only call when
/// cpuid leaf 1 reports OSXSAVE (ecx bit 27).
static inline uint64_t dph_xgetbv0(void) {
    uint32_t lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((uint64_t)hi << 32) | lo;
}
#else
static inline int dph_cpuid(uint32_t leaf, uint32_t subleaf, uint32_t *out) {
    (void)leaf; (void)subleaf; out[0] = out[1] = out[2] = out[3] = 0; return 0;
}
static inline uint64_t dph_xgetbv0(void) { return 0; }
#endif

#endif
