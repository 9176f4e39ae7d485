// A plain C view of sentencepiece's C++ SentencePieceProcessor, so Swift can use it without
// C++ interop (which would spread to every target importing it).
#ifndef DPOHOST_SENTENCEPIECE_SHIM_H
#define DPOHOST_SENTENCEPIECE_SHIM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// An immutable, loaded sentencepiece model. Encoding through it is thread-safe.
typedef struct spm_model spm_model;

/// Values of `ModelProto.SentencePiece.Type` (sentencepiece_model.proto). User-defined pieces
/// are reported as NORMAL: the public C++ header has no query for them, and they decode alike.
typedef enum spm_piece_type {
    SPM_PIECE_NORMAL = 1,
    SPM_PIECE_UNKNOWN = 2,
    SPM_PIECE_CONTROL = 3,
    SPM_PIECE_UNUSED = 5,
    SPM_PIECE_BYTE = 6,
} spm_piece_type;

/// Loads a `tokenizer.model` file. On failure returns NULL and stores a NUL-terminated message
/// in `error` (truncated to `error_capacity` bytes).
spm_model *spm_load(const char *path, char *error, size_t error_capacity);

/// Releases a model returned by `spm_load`. NULL is ignored.
void spm_free(spm_model *model);

/// Encodes `length` bytes of UTF-8 text to piece ids (no BOS/EOS). On success returns 0 and
/// stores a `malloc`ed array of `*count` ids in `*ids` (NULL when empty), to release with
/// `spm_free_buffer`; returns -1 when sentencepiece reports an error.
int spm_encode(const spm_model *model, const char *text, size_t length, int32_t **ids, size_t *count);

/// As `spm_encode`, without the normalizer's dummy-prefix "▁" (what transformers 5's Metaspace
/// pre-tokenizer does for text that does not begin the input). Returns -2 when the model could
/// not be rebuilt without it.
int spm_encode_without_prefix(const spm_model *model, const char *text, size_t length, int32_t **ids, size_t *count);

/// Decodes ids with sentencepiece's own rules (control pieces are dropped). Returns a
/// `malloc`ed, NUL-terminated UTF-8 string of `*length` bytes to release with
/// `spm_free_buffer`, or NULL when sentencepiece reports an error.
char *spm_decode(const spm_model *model, const int32_t *ids, size_t count, size_t *length);

/// Releases memory returned by `spm_encode` or `spm_decode`. NULL is ignored.
void spm_free_buffer(void *buffer);

/// Number of pieces (the vocabulary size).
int32_t spm_piece_count(const spm_model *model);

/// The id of a piece given as `length` bytes of UTF-8, or the unknown id when absent.
int32_t spm_piece_to_id(const spm_model *model, const char *piece, size_t length);

/// The piece text of `id` (not NUL-terminated; `*length` bytes), owned by the model and valid
/// while it lives. NULL for an id out of range.
const char *spm_id_to_piece(const spm_model *model, int32_t id, size_t *length);

/// The type of the piece `id`, or 0 for an id out of range.
int32_t spm_piece_type_of(const spm_model *model, int32_t id);

/// Special ids from the model's trainer spec; -1 when the model has no such piece.
int32_t spm_bos_id(const spm_model *model);
int32_t spm_eos_id(const spm_model *model);
int32_t spm_unk_id(const spm_model *model);
int32_t spm_pad_id(const spm_model *model);

#ifdef __cplusplus
}
#endif

#endif
