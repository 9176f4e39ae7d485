// extern "C" wrappers over sentencepiece::SentencePieceProcessor (Debian libsentencepiece-dev).
#include "sentencepiece_shim.h"

#include <sentencepiece_processor.h>

#include <cstdlib>
#include <cstring>
#include <new>
#include <string>
#include <vector>

struct spm_model {
    sentencepiece::SentencePieceProcessor processor;
};

namespace {

void copy_message(const std::string &message, char *error, size_t capacity) {
    if (error == nullptr || capacity == 0) return;
    size_t n = message.size() < capacity - 1 ? message.size() : capacity - 1;
    std::memcpy(error, message.data(), n);
    error[n] = '\0';
}

bool valid_id(const spm_model *model, int32_t id) {
    return id >= 0 && id < model->processor.GetPieceSize();
}

}  // namespace

extern "C" {

spm_model *spm_load(const char *path, char *error, size_t error_capacity) {
    auto *model = new (std::nothrow) spm_model();
    if (model == nullptr) {
        copy_message("out of memory", error, error_capacity);
        return nullptr;
    }
    const auto status = model->processor.Load(path);
    if (!status.ok()) {
        copy_message(status.ToString(), error, error_capacity);
        delete model;
        return nullptr;
    }
    return model;
}

void spm_free(spm_model *model) { delete model; }

int spm_encode(const spm_model *model, const char *text, size_t length, int32_t **ids, size_t *count) {
    *ids = nullptr;
    *count = 0;
    std::vector<int> pieces;
    if (!model->processor.Encode(std::string_view(text, length), &pieces).ok()) return -1;
    if (pieces.empty()) return 0;
    auto *out = static_cast<int32_t *>(std::malloc(pieces.size() * sizeof(int32_t)));
    if (out == nullptr) return -1;
    for (size_t i = 0; i < pieces.size(); ++i) out[i] = pieces[i];
    *ids = out;
    *count = pieces.size();
    return 0;
}

char *spm_decode(const spm_model *model, const int32_t *ids, size_t count, size_t *length) {
    std::vector<int> input(ids, ids + count);
    std::string text;
    const auto status = model->processor.Decode(input, &text);
    if (!status.ok()) return nullptr;
    auto *out = static_cast<char *>(std::malloc(text.size() + 1));
    if (out == nullptr) return nullptr;
    std::memcpy(out, text.data(), text.size());
    out[text.size()] = '\0';
    *length = text.size();
    return out;
}

void spm_free_buffer(void *buffer) { std::free(buffer); }

int32_t spm_piece_count(const spm_model *model) { return model->processor.GetPieceSize(); }

int32_t spm_piece_to_id(const spm_model *model, const char *piece, size_t length) {
    return model->processor.PieceToId(std::string_view(piece, length));
}

const char *spm_id_to_piece(const spm_model *model, int32_t id, size_t *length) {
    if (!valid_id(model, id)) return nullptr;
    const std::string &piece = model->processor.IdToPiece(id);
    *length = piece.size();
    return piece.data();
}

int32_t spm_piece_type_of(const spm_model *model, int32_t id) {
    if (!valid_id(model, id)) return 0;
    const auto &processor = model->processor;
    if (processor.IsControl(id)) return SPM_PIECE_CONTROL;
    if (processor.IsUnknown(id)) return SPM_PIECE_UNKNOWN;
    if (processor.IsByte(id)) return SPM_PIECE_BYTE;
    if (processor.IsUnused(id)) return SPM_PIECE_UNUSED;
    return SPM_PIECE_NORMAL;
}

int32_t spm_bos_id(const spm_model *model) { return model->processor.bos_id(); }
int32_t spm_eos_id(const spm_model *model) { return model->processor.eos_id(); }
int32_t spm_unk_id(const spm_model *model) { return model->processor.unk_id(); }
int32_t spm_pad_id(const spm_model *model) { return model->processor.pad_id(); }

}  // extern "C"
