#ifndef DPOHOST_CMPI_SHIM_H
#define DPOHOST_CMPI_SHIM_H
/* Open MPI's handles (MPI_COMM_WORLD, MPI_FLOAT, ...) are macros over global objects, which
 * Swift cannot import: they are reached through these accessors instead. */
#include <mpi.h>
#include <stdint.h>
#include <string.h>

static inline MPI_Comm cmpi_comm_world(void) { return MPI_COMM_WORLD; }
static inline MPI_Datatype cmpi_float(void) { return MPI_FLOAT; }
static inline MPI_Datatype cmpi_double(void) { return MPI_DOUBLE; }
static inline MPI_Datatype cmpi_int64(void) { return MPI_INT64_T; }
static inline MPI_Datatype cmpi_int32(void) { return MPI_INT32_T; }
static inline MPI_Datatype cmpi_byte(void) { return MPI_BYTE; }
static inline MPI_Op cmpi_sum(void) { return MPI_SUM; }
static inline MPI_Op cmpi_max(void) { return MPI_MAX; }
static inline void *cmpi_in_place(void) { return MPI_IN_PLACE; }
static inline MPI_Errhandler cmpi_errors_return(void) { return MPI_ERRORS_RETURN; }
static inline int cmpi_success(void) { return MPI_SUCCESS; }
static inline int cmpi_thread_multiple(void) { return MPI_THREAD_MULTIPLE; }
static inline int cmpi_max_error_string(void) { return MPI_MAX_ERROR_STRING; }
static inline MPI_Datatype cmpi_uint16(void) { return MPI_UINT16_T; }
static inline int cmpi_max_processor_name(void) { return MPI_MAX_PROCESSOR_NAME; }
static inline MPI_Status *cmpi_status_ignore(void) { return MPI_STATUS_IGNORE; }

/* bfloat16 <-> float32 for FSDP's bf16 communication: round to nearest even, NaN stays NaN. */
static inline uint16_t cmpi_bf16_from_float(float f) {
    uint32_t b;
    memcpy(&b, &f, 4);
    if ((b & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((b >> 16) | 0x40u);
    b += 0x7fffu + ((b >> 16) & 1u);
    return (uint16_t)(b >> 16);
}
static inline float cmpi_float_from_bf16(uint16_t h) {
    uint32_t b = (uint32_t)h << 16;
    float f;
    memcpy(&f, &b, 4);
    return f;
}
/* MPI reduction: inout[i] = bf16(in[i] + inout[i]), each partial sum rounded to bfloat16 as a
 * bf16 all-reduce does. */
static void cmpi_bf16_sum(void *in, void *inout, int *len, MPI_Datatype *type) {
    (void)type;
    const uint16_t *a = (const uint16_t *)in;
    uint16_t *b = (uint16_t *)inout;
    for (int i = 0; i < *len; i++) b[i] = cmpi_bf16_from_float(cmpi_float_from_bf16(a[i]) + cmpi_float_from_bf16(b[i]));
}
/* The caller owns *op (MPI_Op_free). */
static inline int cmpi_op_create_bf16_sum(MPI_Op *op) { return MPI_Op_create(cmpi_bf16_sum, 1, op); }

#endif
