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
    /* The same model with the normalizer's add_dummy_prefix off (spm_encode_without_prefix). */
    sentencepiece::SentencePieceProcessor without_prefix;
    bool has_without_prefix = false;
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

bool read_varint(const std::string &s, size_t &i, uint64_t &value) {
    value = 0;
    for (int shift = 0; shift < 64 && i < s.size(); shift += 7) {
        const auto byte = static_cast<uint8_t>(s[i++]);
        value |= static_cast<uint64_t>(byte & 0x7F) << shift;
        if ((byte & 0x80) == 0) return true;
    }
    return false;
}

void write_varint(std::string &s, uint64_t value) {
    while (value >= 0x80) { s.push_back(static_cast<char>((value & 0x7F) | 0x80)); value >>= 7; }
    s.push_back(static_cast<char>(value));
}

/* The serialized ModelProto with `add_dummy_prefix = false` appended to its normalizer_spec
 * (field 3; in NormalizerSpec, add_dummy_prefix is field 3 too). Protobuf keeps the last value
 * of a repeated scalar field, so appending overrides the model's own setting. Empty on a
 * malformed proto. */
std::string without_dummy_prefix(const std::string &proto) {
    std::string out;
    size_t i = 0;
    bool found = false;
    while (i < proto.size()) {
        const size_t start = i;
        uint64_t key = 0;
        if (!read_varint(proto, i, key)) return "";
        const auto wire = key & 7;
        if (wire == 0) {
            uint64_t v = 0;
            if (!read_varint(proto, i, v)) return "";
        } else if (wire == 1) {
            i += 8;
        } else if (wire == 5) {
            i += 4;
        } else if (wire == 2) {
            uint64_t length = 0;
            if (!read_varint(proto, i, length) || i + length > proto.size()) return "";
            if (key >> 3 == 3) {
                std::string spec = proto.substr(i, length) + std::string("\x18\x00", 2);
                write_varint(out, key);
                write_varint(out, spec.size());
                out += spec;
                i += length;
                found = true;
                continue;
            }
            i += length;
        } else {
            return "";
        }
        if (i > proto.size()) return "";
        out += proto.substr(start, i - start);
    }
    return found ? out : "";
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
    const std::string edited = without_dummy_prefix(model->processor.serialized_model_proto());
    model->has_without_prefix = !edited.empty() && model->without_prefix.LoadFromSerializedProto(edited).ok();
    return model;
}

void spm_free(spm_model *model) { delete model; }

static int encode_with(const sentencepiece::SentencePieceProcessor &processor, const char *text, size_t length,
                       int32_t **ids, size_t *count) {
    *ids = nullptr;
    *count = 0;
    std::vector<int> pieces;
    if (!processor.Encode(std::string_view(text, length), &pieces).ok()) return -1;
    if (pieces.empty()) return 0;
    auto *out = static_cast<int32_t *>(std::malloc(pieces.size() * sizeof(int32_t)));
    if (out == nullptr) return -1;
    for (size_t i = 0; i < pieces.size(); ++i) out[i] = pieces[i];
    *ids = out;
    *count = pieces.size();
    return 0;
}

int spm_encode(const spm_model *model, const char *text, size_t length, int32_t **ids, size_t *count) {
    return encode_with(model->processor, text, length, ids, count);
}

int spm_encode_without_prefix(const spm_model *model, const char *text, size_t length, int32_t **ids, size_t *count) {
    if (!model->has_without_prefix) return -2;
    return encode_with(model->without_prefix, text, length, ids, count);
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
