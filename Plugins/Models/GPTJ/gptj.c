/* GPT-J as a dpohost model plugin in plain C, against the SDK header alone.
 *
 * Block i ("transformer.h.{i}"): one layer norm ln_1 feeds both the attention and the MLP, and
 * the block returns x + attn(ln_1(x)) + mlp(ln_1(x)). q/k/v/out projections have no bias; the
 * MLP is fc_in -> gelu_new -> fc_out with biases; the head (lm_head) has a bias.
 * Rotary: GPT-J rotates the first rotary_dim dims of each head in interleaved pairs
 * (2j, 2j+1) ("rotate every two"). The host's rotary pairs (j, j + rotary_dim/2) ("rotate
 * half"); after reordering those dims as (0, 2, 4, ..., 1, 3, 5, ...) the two agree. Only q
 * and k are reordered, both the same way, so their dot products, and so the attention, are
 * unchanged; v is untouched. */
#include <dpohost/plugin.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

DPH_PLUGIN_ABI_VERSION_EXPORT

#define TRY(call) do { dph_status s_ = (call); if (s_ != DPH_OK) return s_; } while (0)

/* The parsed config.json: one per plugin instance (owned by the instance; see create/destroy). */
typedef struct gptj_config {
    int64_t vocab, hidden, layers, heads, head_dim, inner, rotary_dim;
    double eps;
    float inv_freq[512];
} gptj_config;

static dph_status create(const dph_host_api *host, dph_ctx *ctx, void **out_state) {
    gptj_config *c = calloc(1, sizeof(gptj_config));
    if (!c) return host->set_error(ctx, DPH_ERR_PLUGIN, "gptj: out of memory");
    *out_state = c;
    return DPH_OK;
}

static void destroy(void *state) { free(state); }

static dph_status positive(const dph_host_api *host, dph_ctx *ctx, const char *key, int64_t *out) {
    TRY(host->config_int(ctx, key, out));
    if (*out <= 0 || *out > (1 << 24)) {
        char message[160];
        snprintf(message, sizeof message, "gptj: config.json: %s = %lld is out of range", key, (long long)*out);
        return host->set_error(ctx, DPH_ERR_INVALID_ARGUMENT, message);
    }
    return DPH_OK;
}

static dph_status declare(const dph_host_api *host, dph_ctx *ctx, const char *name, int64_t d0, int64_t d1,
                          dph_parallel parallel) {
    const int64_t shape[2] = {d0, d1};
    return host->declare_parameter(ctx, name, shape, d1 > 0 ? 2 : 1, parallel);
}

static dph_status configure(const dph_host_api *host, dph_ctx *ctx, void *state) {
    gptj_config *c = state;
    TRY(positive(host, ctx, "vocab_size", &c->vocab));
    TRY(positive(host, ctx, "n_embd", &c->hidden));
    TRY(positive(host, ctx, "n_layer", &c->layers));
    TRY(positive(host, ctx, "n_head", &c->heads));
    if (c->hidden % c->heads != 0) return host->set_error(ctx, DPH_ERR_INVALID_ARGUMENT, "gptj: config.json: n_embd is not a multiple of n_head");
    c->head_dim = c->hidden / c->heads;
    if (host->config_int(ctx, "n_inner", &c->inner) != DPH_OK) c->inner = 4 * c->hidden;   /* null: 4 * n_embd */
    if (host->config_int(ctx, "rotary_dim", &c->rotary_dim) != DPH_OK) c->rotary_dim = c->head_dim;
    if (c->rotary_dim <= 0 || c->rotary_dim > c->head_dim || c->rotary_dim % 2 != 0 || c->rotary_dim / 2 > 512)
        return host->set_error(ctx, DPH_ERR_INVALID_ARGUMENT, "gptj: config.json: rotary_dim must be even, positive and at most the head size");
    if (host->config_float(ctx, "layer_norm_epsilon", &c->eps) != DPH_OK) c->eps = 1e-5;
    const char *activation = NULL;
    if (host->config_string(ctx, "activation_function", &activation) == DPH_OK && strcmp(activation, "gelu_new") != 0)
        return host->set_error(ctx, DPH_ERR_INVALID_ARGUMENT, "gptj: config.json: only activation_function gelu_new is supported");
    for (int64_t j = 0; j < c->rotary_dim / 2; j++)
        c->inv_freq[j] = (float)(1.0 / pow(10000.0, (double)(2 * j) / (double)c->rotary_dim));

    const int64_t h = c->hidden;
    char name[128];
    TRY(declare(host, ctx, "transformer.wte.weight", c->vocab, h, DPH_PARALLEL_NONE));
    for (int64_t l = 0; l < c->layers; l++) {
#define NAME(suffix) (snprintf(name, sizeof name, "transformer.h.%lld." suffix, (long long)l), name)
        TRY(declare(host, ctx, NAME("ln_1.weight"), h, 0, DPH_PARALLEL_NONE));
        TRY(declare(host, ctx, NAME("ln_1.bias"), h, 0, DPH_PARALLEL_NONE));
        TRY(declare(host, ctx, NAME("attn.q_proj.weight"), h, h, DPH_PARALLEL_COLUMN));
        TRY(declare(host, ctx, NAME("attn.k_proj.weight"), h, h, DPH_PARALLEL_COLUMN));
        TRY(declare(host, ctx, NAME("attn.v_proj.weight"), h, h, DPH_PARALLEL_COLUMN));
        TRY(declare(host, ctx, NAME("attn.out_proj.weight"), h, h, DPH_PARALLEL_ROW));
        TRY(declare(host, ctx, NAME("mlp.fc_in.weight"), c->inner, h, DPH_PARALLEL_COLUMN));
        TRY(declare(host, ctx, NAME("mlp.fc_in.bias"), c->inner, 0, DPH_PARALLEL_NONE));
        TRY(declare(host, ctx, NAME("mlp.fc_out.weight"), h, c->inner, DPH_PARALLEL_ROW));
        TRY(declare(host, ctx, NAME("mlp.fc_out.bias"), h, 0, DPH_PARALLEL_NONE));
#undef NAME
    }
    TRY(declare(host, ctx, "transformer.ln_f.weight", h, 0, DPH_PARALLEL_NONE));
    TRY(declare(host, ctx, "transformer.ln_f.bias", h, 0, DPH_PARALLEL_NONE));
    TRY(declare(host, ctx, "lm_head.weight", c->vocab, h, DPH_PARALLEL_NONE));
    TRY(declare(host, ctx, "lm_head.bias", c->vocab, 0, DPH_PARALLEL_NONE));
    return DPH_OK;
}

static dph_status param(const dph_host_api *host, dph_ctx *ctx, int32_t layer, const char *suffix, dph_tensor *out) {
    char name[128];
    snprintf(name, sizeof name, "transformer.h.%d.%s", (int)layer, suffix);
    return host->parameter(ctx, name, out);
}

/* x [B,T,H*d] -> [B,T,H,d] with the rotary dims of each head reordered (evens, then odds)
 * and rotated by the host's rotate-half rotary: GPT-J's interleaved rotary up to that order. */
static dph_status rotate(const dph_host_api *host, dph_ctx *ctx, const gptj_config *c, dph_tensor x,
                         int64_t b, int64_t t, dph_tensor positions, dph_tensor *out) {
    const int64_t heads_shape[4] = {b, t, c->heads, c->head_dim};
    dph_tensor x4, rot, pass = 0, pairs, swapped, reordered, joined;
    TRY(host->reshape(ctx, x, heads_shape, 4, &x4));
    TRY(host->slice(ctx, x4, 3, 0, c->rotary_dim, &rot));
    const int64_t pair_shape[5] = {b, t, c->heads, c->rotary_dim / 2, 2};
    TRY(host->reshape(ctx, rot, pair_shape, 5, &pairs));
    TRY(host->transpose(ctx, pairs, 3, 4, &swapped));
    const int64_t rot_shape[4] = {b, t, c->heads, c->rotary_dim};
    TRY(host->reshape(ctx, swapped, rot_shape, 4, &reordered));
    if (c->rotary_dim < c->head_dim) {
        TRY(host->slice(ctx, x4, 3, c->rotary_dim, c->head_dim, &pass));
        const dph_tensor parts[2] = {reordered, pass};
        TRY(host->concat(ctx, parts, 2, 3, &joined));
    } else {
        joined = reordered;
    }
    return host->rotary(ctx, joined, positions, (int32_t)c->rotary_dim, c->inv_freq, (int32_t)(c->rotary_dim / 2), out);
}

/* inputs: hidden state [B,T,H], attention mask, positions. keys_only: stop after the keys. */
static dph_status block_body(const dph_host_api *host, dph_ctx *ctx, const gptj_config *c, int32_t layer,
                             const dph_tensor *inputs, int32_t n_inputs, int keys_only, dph_tensor *out) {
    if (n_inputs != 3) return host->set_error(ctx, DPH_ERR_INVALID_ARGUMENT, "gptj: a block takes 3 inputs");
    const dph_tensor x = inputs[0], mask = inputs[1], positions = inputs[2];
    int64_t dims[3];
    TRY(host->tensor_shape(ctx, x, dims, 3));
    const int64_t b = dims[0], t = dims[1];
    dph_tensor w, bias, normed, q, k, v, v4, kv_k, kv_v;
    TRY(param(host, ctx, layer, "ln_1.weight", &w));
    TRY(param(host, ctx, layer, "ln_1.bias", &bias));
    TRY(host->layer_norm(ctx, x, w, bias, (float)c->eps, &normed));

    TRY(param(host, ctx, layer, "attn.k_proj.weight", &w));
    TRY(host->linear(ctx, normed, w, 0, DPH_LINEAR_OUT_IN, &k));
    TRY(rotate(host, ctx, c, k, b, t, positions, &k));
    TRY(param(host, ctx, layer, "attn.v_proj.weight", &w));
    TRY(host->linear(ctx, normed, w, 0, DPH_LINEAR_OUT_IN, &v));
    const int64_t heads_shape[4] = {b, t, c->heads, c->head_dim};
    TRY(host->reshape(ctx, v, heads_shape, 4, &v4));
    TRY(host->kv_cache_append(ctx, layer, k, v4, &kv_k, &kv_v));
    if (keys_only) { *out = x; return DPH_OK; }

    dph_tensor attended, attended3, attn_out, up, act, mlp_out, sum;
    TRY(param(host, ctx, layer, "attn.q_proj.weight", &w));
    TRY(host->linear(ctx, normed, w, 0, DPH_LINEAR_OUT_IN, &q));
    TRY(rotate(host, ctx, c, q, b, t, positions, &q));
    TRY(host->attention(ctx, q, kv_k, kv_v, mask, 0, 0.0f, &attended));
    const int64_t flat[3] = {b, t, c->hidden};
    TRY(host->reshape(ctx, attended, flat, 3, &attended3));
    TRY(param(host, ctx, layer, "attn.out_proj.weight", &w));
    TRY(host->linear(ctx, attended3, w, 0, DPH_LINEAR_OUT_IN, &attn_out));

    TRY(param(host, ctx, layer, "mlp.fc_in.weight", &w));
    TRY(param(host, ctx, layer, "mlp.fc_in.bias", &bias));
    TRY(host->linear(ctx, normed, w, bias, DPH_LINEAR_OUT_IN, &up));
    TRY(host->unary(ctx, DPH_UNARY_GELU_TANH, up, &act));
    TRY(param(host, ctx, layer, "mlp.fc_out.weight", &w));
    TRY(param(host, ctx, layer, "mlp.fc_out.bias", &bias));
    TRY(host->linear(ctx, act, w, bias, DPH_LINEAR_OUT_IN, &mlp_out));
    /* Parallel: attention and MLP both read ln_1(x); their outputs join the residual. */
    TRY(host->binary(ctx, DPH_BINARY_ADD, x, attn_out, &sum));
    return host->binary(ctx, DPH_BINARY_ADD, sum, mlp_out, out);
}

static dph_status block(const dph_host_api *host, dph_ctx *ctx, void *user, int32_t layer, const dph_tensor *inputs,
                        int32_t n_inputs, dph_tensor *out) {
    return block_body(host, ctx, user, layer, inputs, n_inputs, 0, out);
}

static dph_status keys_only_block(const dph_host_api *host, dph_ctx *ctx, void *user, int32_t layer,
                                  const dph_tensor *inputs, int32_t n_inputs, dph_tensor *out) {
    return block_body(host, ctx, user, layer, inputs, n_inputs, 1, out);
}

static dph_status forward(const dph_host_api *host, dph_ctx *ctx, void *state, const dph_forward_args *args,
                          dph_tensor *out_logits) {
    const gptj_config *c = state;
    const int keys_only = DPH_FORWARD_ARGS_HAVE(args, keys_only) && args->keys_only;
    int64_t dims[2];
    TRY(host->tensor_shape(ctx, args->input_ids, dims, 2));
    dph_tensor positions = args->position_ids;
    if (positions == 0) {
        int32_t *steps = malloc((size_t)dims[1] * sizeof(int32_t));
        if (!steps) return host->set_error(ctx, DPH_ERR_PLUGIN, "gptj: out of memory");
        for (int64_t i = 0; i < dims[1]; i++) steps[i] = (int32_t)i;
        dph_status s = host->tensor_from_int32(ctx, steps, &dims[1], 1, &positions);
        free(steps);
        TRY(s);
    }
    dph_tensor wte, x;
    TRY(host->parameter(ctx, "transformer.wte.weight", &wte));
    TRY(host->embedding(ctx, args->input_ids, wte, &x));
    /* A built-in plugin ships with its host, so run_block and lm_head are there (a plugin built
     * for older hosts would test them with DPH_HOST_HAS; the SDK's Swift layer does). */
    for (int32_t l = 0; l < (int32_t)c->layers; l++) {
        const dph_block_fn fn = keys_only && l == (int32_t)c->layers - 1 ? keys_only_block : block;
        const dph_tensor inputs[3] = {x, args->attention_mask, positions};
        TRY(host->run_block(ctx, l, fn, state, inputs, 3, &x));
    }
    if (keys_only) { *out_logits = x; return DPH_OK; }
    dph_tensor w, bias, normed;
    TRY(host->parameter(ctx, "transformer.ln_f.weight", &w));
    TRY(host->parameter(ctx, "transformer.ln_f.bias", &bias));
    TRY(host->layer_norm(ctx, x, w, bias, (float)c->eps, &normed));
    TRY(host->parameter(ctx, "lm_head.weight", &w));
    TRY(host->parameter(ctx, "lm_head.bias", &bias));
    return host->lm_head(ctx, normed, w, bias, DPH_LINEAR_OUT_IN, out_logits);
}

static const dph_model_vtable vtable = {
    sizeof(dph_model_vtable), "transformer.h.{i}", configure, forward, "gptj", "GPTJBlock",
    NULL, /* position_limit_key: rotary, no hard limit */
    1,    /* attends_through_host: positions meet only in host->attention */
};

DPH_EXPORT dph_status dph_plugin_init(const dph_host_api *host, dph_ctx *ctx, dph_plugin_desc *d) {
    (void)host; (void)ctx;
    d->struct_size = sizeof(dph_plugin_desc);
    d->abi_version = DPH_ABI_VERSION;
    d->kind = DPH_KIND_MODEL;
    d->name = "gptj";
    d->version = "1.0.0";
    d->description = "GPT-J (parallel attention and MLP over one layer norm, interleaved partial rotary), in plain C";
    d->create = create;
    d->destroy = destroy;
    d->model = &vtable;
    return DPH_OK;
}
