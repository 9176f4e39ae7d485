/*
 * dpohost plugin ABI — the whole contract between the dpohost host and a plugin.
 *
 * A plugin is a shared object exporting exactly two C symbols:
 *
 *   uint32_t   dph_plugin_abi_version(void);              read FIRST; must not do anything else
 *   dph_status dph_plugin_init(const dph_host_api *host, dph_ctx *ctx, dph_plugin_desc *out_desc);
 *
 * (DPH_PLUGIN_ABI_VERSION_EXPORT defines the first one for you.) The host checks the ABI
 * version before calling anything else, then calls dph_plugin_init once, which fills the
 * descriptor: name, kind, version, options and the kind-specific vtable.
 *
 * Conventions
 *  - Every struct starts with `struct_size` (sizeof as the writer compiled it) so the ABI can
 *    grow by appending fields; a reader never touches bytes beyond struct_size.
 *  - Every host function returns a dph_status. On failure the message is kept in the context:
 *    host->last_error(ctx). A plugin reports its own failure with host->set_error(ctx, ...),
 *    which records the message and returns the code to pass back up.
 *  - Tensors cross the ABI as dph_tensor handles (0 = none) owned by the per-call context:
 *    the host frees every handle created during a call when that call returns. Never keep a
 *    handle across calls.
 *  - Strings passed TO the host are copied by the host; the caller keeps ownership.
 *    Strings returned BY the host stay valid for the lifetime stated next to the function.
 *  - All host functions are differentiable where the math is: ops called by a plugin are
 *    recorded on the same autograd tape as the host's own calls.
 *
 * Versioning: DPH_ABI_VERSION changes only when an existing field, function or meaning
 * changes or is removed. Appending a field or host function keeps the version; check
 * DPH_HOST_HAS(host, fn) before calling a function newer than your oldest supported host.
 */
#ifndef DPOHOST_PLUGIN_H
#define DPOHOST_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define DPH_ABI_VERSION 1u

#if defined(_WIN32)
#define DPH_EXPORT __declspec(dllexport)
#else
#define DPH_EXPORT __attribute__((visibility("default")))
#endif

/* ------------------------------------------------------------------ status codes */

typedef int32_t dph_status;
enum {
    DPH_OK = 0,
    DPH_ERR_INVALID_ARGUMENT = 1, /* bad value, wrong dtype, unknown handle */
    DPH_ERR_SHAPE = 2,            /* operand shapes do not fit the op */
    DPH_ERR_INDEX = 3,            /* token id / label / position out of range */
    DPH_ERR_NOT_FOUND = 4,        /* option, config key or parameter absent */
    DPH_ERR_IO = 5,               /* file could not be read */
    DPH_ERR_FORMAT = 6,           /* file read but malformed (name the file and line) */
    DPH_ERR_UNSUPPORTED = 7,      /* not available in this host or configuration */
    DPH_ERR_PLUGIN = 8            /* any other failure inside the plugin */
};

/* ------------------------------------------------------------------ opaque types */

/* Per-call context (arena). Owned by the host; valid only during the call it was passed to. */
typedef struct dph_ctx dph_ctx;

/* Tensor handle, 0 = none. Owned by the ctx it was created in; freed when the call returns. */
typedef uint64_t dph_tensor;

typedef enum dph_dtype { DPH_FLOAT32 = 0, DPH_INT32 = 1 } dph_dtype;

/* Reduce over every axis (sum/mean). Other negative axes count from the end, as in numpy. */
enum { DPH_AXIS_ALL = INT32_MIN };

/* Elementwise ops without parameters, all differentiable. softmax/log_softmax: last axis. */
typedef enum dph_unary_op {
    DPH_UNARY_NEG = 0,
    DPH_UNARY_EXP = 1,
    DPH_UNARY_LOG = 2,
    DPH_UNARY_SQUARE = 3,
    DPH_UNARY_RELU = 4,
    DPH_UNARY_SIGMOID = 5,
    DPH_UNARY_LOG_SIGMOID = 6, /* stable: min(x,0) - log1p(exp(-|x|)) */
    DPH_UNARY_SILU = 7,
    DPH_UNARY_GELU_ERF = 8,    /* exact: 0.5 x (1 + erf(x / sqrt 2)) */
    DPH_UNARY_GELU_TANH = 9,   /* GPT-2 "gelu_new" */
    DPH_UNARY_SOFTMAX = 10,
    DPH_UNARY_LOG_SOFTMAX = 11
} dph_unary_op;

typedef enum dph_binary_op {
    DPH_BINARY_ADD = 0, DPH_BINARY_SUB = 1, DPH_BINARY_MUL = 2, DPH_BINARY_DIV = 3 /* numpy broadcasting */
} dph_binary_op;

typedef enum dph_linear_layout {
    DPH_LINEAR_OUT_IN = 0, /* PyTorch nn.Linear: weight [out, in], y = x W^T + b */
    DPH_LINEAR_IN_OUT = 1  /* GPT-2 Conv1D:      weight [in, out], y = x W + b   */
} dph_linear_layout;

/* How tensor parallelism may split a model's linear weight (declared with the parameter). */
typedef enum dph_parallel {
    DPH_PARALLEL_NONE = 0,
    DPH_PARALLEL_COLUMN = 1, /* split the output features */
    DPH_PARALLEL_ROW = 2     /* split the input features */
} dph_parallel;

typedef enum dph_log_level { DPH_LOG_DEBUG = 0, DPH_LOG_INFO = 1, DPH_LOG_WARNING = 2 } dph_log_level;

/* ------------------------------------------------------------------ dataset records */

/* What a record's strings hold. */
typedef enum dph_record_content {
    DPH_RECORD_TEXT = 0,     /* plain text: the prompt, then each response after it */
    /* JSON arrays of chat messages ({"role": "system"|"user"|"assistant"|"tool", "content": ...}):
     * `prompt` the conversation so far, each response and `sft_target` the messages that continue
     * it. The host renders prompt + response with the model's chat template, as TRL does. */
    DPH_RECORD_MESSAGES = 1
} dph_record_content;

/* One prompt's record (docs/spec/data.md §1). Every pointer is borrowed for the duration of the
 * emit_record call only: the host copies all strings and arrays before returning. */
typedef struct dph_record {
    uint32_t struct_size;
    const char *prompt;            /* UTF-8, NUL-terminated */
    const char *const *responses;  /* n_responses UTF-8 strings */
    int32_t n_responses;
    const int32_t *pairs;          /* 2*n_pairs indices into responses: (preferred, dispreferred) */
    int32_t n_pairs;
    const char *sft_target;        /* UTF-8; may equal one of the responses */
    /* Appended after the first v1 hosts (a record of a plugin built before it is text). */
    dph_record_content content;
} dph_record;

/* ------------------------------------------------------------------ loss inputs */

enum {
    DPH_LOSS_NEEDS_SEQUENCE = 1u << 0, /* per-sequence log-probs (and response lengths) */
    DPH_LOSS_NEEDS_TOKEN = 1u << 1,    /* per-token log-probs of the labels and the response mask */
    DPH_LOSS_NEEDS_LOGITS = 1u << 2,   /* full policy and reference logits and the labels */
    /* Not an input level: the loss never reads reference_* inputs (SimPO, SFT). When every loss
     * of a run sets it, the host loads and runs no reference model and those inputs are 0. */
    DPH_LOSS_REFERENCE_FREE = 1u << 3,
    /* With DPH_LOSS_NEEDS_LOGITS: the loss reads the logits only at positions whose label counts
     * (response_mask 1), so the host may leave every other position's logits 0 (TDPO). */
    DPH_LOSS_LOGITS_SCORED_ONLY = 1u << 4,
    /* Not an input level: the reference implementation this loss reproduces draws the data
     * order's permutation seeds with randint(0, 2**31) instead of randint(0, 2**32) (the TDPO
     * reference). The host shuffles with such seeds when the run's first loss that reads a
     * reference model sets it (a [tdpo, sft] run follows TDPO's order, a [dpo, tdpo] run DPO's). */
    DPH_LOSS_DATA_ORDER_31_BIT_SEEDS = 1u << 5,
    /* Not an input level: the loss multiplies each example's loss by `pair_weights` before its
     * batch mean when the host gives them (WPO's weighting, use_weighting). A run that asks for
     * the weighting refuses a loss without this flag. */
    DPH_LOSS_PAIR_WEIGHTS = 1u << 6,
    /* Not an input level: the loss reads only the chosen rows (supervised fine-tuning on each
     * prompt's sft_target). When every loss of a run sets it, the host batches each prompt's
     * sft_target alone, as rows of their own (B = rows), and runs no rejected rows; set it with
     * DPH_LOSS_REFERENCE_FREE for a run without a reference model (SFT). */
    DPH_LOSS_CHOSEN_ONLY = 1u << 7
};

/* Inputs of one loss call; B = pairs in the batch (B = rows for SFT). Handles belong to the
 * call's ctx. Policy tensors carry gradient, reference ones do not. Fields whose level the
 * plugin did not declare in `needs` are 0. Rows 0..B-1 are chosen, B..2B-1 rejected.
 * T: the positions each row ran on its own. A prompt that a pair's rows share may run once
 * (share_prompt), and its leading positions, whose logits score no counted label, are then
 * left out of every input; a loss needing every logit row always gets the whole rows. */
typedef struct dph_loss_inputs {
    uint32_t struct_size;
    int64_t batch_pairs;
    /* sequence level, each [B] float32 */
    dph_tensor policy_chosen_logps, policy_rejected_logps;
    dph_tensor reference_chosen_logps, reference_rejected_logps;
    dph_tensor chosen_lengths, rejected_lengths; /* response tokens per sequence, as float */
    /* token level, [2B, T-1] float32 */
    dph_tensor policy_token_logps, reference_token_logps;
    dph_tensor response_mask; /* 1.0 where the label counts, else 0.0 */
    /* vocabulary level */
    dph_tensor policy_logits, reference_logits; /* [2B, T, V] float32 */
    dph_tensor labels;                          /* [2B, T] int32, -100 = ignored */
    /* Appended after the first v1 hosts (read it only when struct_size covers it, see
     * DPH_LOSS_INPUTS_HAVE). [B] float32 without gradient, or 0: the weight of each example's
     * loss (WPO: the product of the chosen and rejected rows' exp of their mean token log-prob
     * under the policy's own squared-probability normalisation). Given only to a loss that sets
     * DPH_LOSS_PAIR_WEIGHTS, and only when the run asks for the weighting. */
    dph_tensor pair_weights;
} dph_loss_inputs;

/* Whether the host's loss inputs `in` have `field` (hosts older than the field end before it). */
#define DPH_LOSS_INPUTS_HAVE(in, field) \
    ((in)->struct_size >= offsetof(dph_loss_inputs, field) + sizeof((in)->field))

/* ------------------------------------------------------------------ model forward */

typedef struct dph_forward_args {
    uint32_t struct_size;
    dph_tensor input_ids;      /* [N, T] int32 */
    dph_tensor attention_mask; /* [N, T] int32, 1 = real token, 0 = padding */
    dph_tensor position_ids;   /* [N, T] int32, or 0 for 0..T-1 on every row */
    int32_t use_cache;         /* nonzero: keys/values go through kv_cache_append (generation, or the
                                * host's shared-prompt passes); attention_mask spans the keys.
                                * A packed forward (attends_through_host) has N = 1 and S positions:
                                * rows and prompts in one sequence, taken apart by the host */
    /* Appended after the first v1 hosts (read it only when struct_size covers it, see
     * DPH_FORWARD_ARGS_HAVE): nonzero when the host reads nothing of this forward but what it passes
     * to kv_cache_append (a shared prompt's pass). The plugin may then skip everything after its
     * last layer's kv_cache_append (the rest of that layer, the final norm, lm_head) and return
     * any float tensor of ctx; computing it all is correct too. */
    int32_t keys_only;
} dph_forward_args;

/* Whether the host's dph_forward_args `args` has `field` (hosts older than the field end before it). */
#define DPH_FORWARD_ARGS_HAVE(args, field) \
    ((args)->struct_size >= offsetof(dph_forward_args, field) + sizeof((args)->field))

/* ------------------------------------------------------------------ the host table */

typedef struct dph_host_api dph_host_api;

/* One repeated block of a model (a transformer layer), run through host->run_block.
 * Computes *out (a float32 handle of ctx) from inputs[0..n_inputs-1] through host ops, exactly
 * as the same code inlined in `forward` would. `layer` and `user` are the values given to
 * run_block; `ctx` may be a different context from the caller's (with activation checkpointing
 * the host calls fn again during backward, in a context of its own): use only `inputs`, `user`
 * and what the host table gives (parameters, config), never a handle of another call. */
typedef dph_status (*dph_block_fn)(const dph_host_api *host, dph_ctx *ctx, void *user, int32_t layer,
                                   const dph_tensor *inputs, int32_t n_inputs, dph_tensor *out);

struct dph_host_api {
    uint32_t struct_size;
    uint32_t abi_version; /* the host's DPH_ABI_VERSION */

    /* --- errors and logging ------------------------------------------------------------ */
    /* Message of the last failed call in ctx. Owned by ctx; valid until the next host call. */
    const char *(*last_error)(dph_ctx *ctx);
    /* Records `message` (copied) as the plugin's error and returns `code` for convenience. */
    dph_status (*set_error)(dph_ctx *ctx, dph_status code, const char *message);
    void (*log)(dph_ctx *ctx, dph_log_level level, const char *message /* copied */);

    /* --- the plugin's options (validated by the host against the descriptor) ------------ */
    dph_status (*option_int)(dph_ctx *ctx, const char *name, int64_t *out);
    dph_status (*option_float)(dph_ctx *ctx, const char *name, double *out);
    dph_status (*option_bool)(dph_ctx *ctx, const char *name, int32_t *out);
    /* *out owned by the host; valid for the lifetime of the plugin instance. */
    dph_status (*option_string)(dph_ctx *ctx, const char *name, const char **out);
    dph_status (*option_list_count)(dph_ctx *ctx, const char *name, int32_t *out);
    dph_status (*option_list_item)(dph_ctx *ctx, const char *name, int32_t index, const char **out);

    /* --- tensors ------------------------------------------------------------------------ */
    /* data/shape are copied. rank 0 = scalar. requires_grad: a leaf the tape differentiates. */
    dph_status (*tensor_from_floats)(dph_ctx *ctx, const float *data, const int64_t *shape, int32_t rank,
                                     int32_t requires_grad, dph_tensor *out);
    dph_status (*tensor_from_int32)(dph_ctx *ctx, const int32_t *data, const int64_t *shape, int32_t rank,
                                    dph_tensor *out);
    dph_status (*tensor_zeros)(dph_ctx *ctx, const int64_t *shape, int32_t rank, dph_tensor *out);
    dph_status (*tensor_dtype)(dph_ctx *ctx, dph_tensor t, dph_dtype *out);
    dph_status (*tensor_rank)(dph_ctx *ctx, dph_tensor t, int32_t *out);
    /* Writes min(rank, capacity) dims into out_dims (caller-owned). */
    dph_status (*tensor_shape)(dph_ctx *ctx, dph_tensor t, int64_t *out_dims, int32_t capacity);
    /* Copies the values in row-major order into dst (caller-owned, `count` = element count). */
    dph_status (*tensor_read_floats)(dph_ctx *ctx, dph_tensor t, float *dst, int64_t count);
    dph_status (*tensor_read_int32)(dph_ctx *ctx, dph_tensor t, int32_t *dst, int64_t count);

    /* --- differentiable ops; every *out is a new handle in ctx ---------------------------- */
    dph_status (*unary)(dph_ctx *ctx, dph_unary_op op, dph_tensor x, dph_tensor *out);
    dph_status (*binary)(dph_ctx *ctx, dph_binary_op op, dph_tensor a, dph_tensor b, dph_tensor *out);
    dph_status (*scale)(dph_ctx *ctx, dph_tensor x, float s, dph_tensor *out);
    dph_status (*add_scalar)(dph_ctx *ctx, dph_tensor x, float s, dph_tensor *out);
    dph_status (*sum)(dph_ctx *ctx, dph_tensor x, int32_t axis, int32_t keep_dims, dph_tensor *out);
    dph_status (*mean)(dph_ctx *ctx, dph_tensor x, int32_t axis, int32_t keep_dims, dph_tensor *out);
    /* [..,M,K] x [K,N], or batched [B,M,K] x [B,K,N]. */
    dph_status (*matmul)(dph_ctx *ctx, dph_tensor a, dph_tensor b, int32_t transpose_a, int32_t transpose_b,
                         dph_tensor *out);
    dph_status (*linear)(dph_ctx *ctx, dph_tensor x, dph_tensor weight, dph_tensor bias /* 0 = none */,
                         dph_linear_layout layout, dph_tensor *out);
    dph_status (*embedding)(dph_ctx *ctx, dph_tensor ids /* int32 */, dph_tensor table, dph_tensor *out);
    dph_status (*layer_norm)(dph_ctx *ctx, dph_tensor x, dph_tensor weight, dph_tensor bias, float eps,
                             dph_tensor *out);
    dph_status (*rms_norm)(dph_ctx *ctx, dph_tensor x, dph_tensor weight, float eps, dph_tensor *out);
    /* Causal attention with grouped-query heads. q [B,Tq,Hq,d], k/v [B,Tk,Hkv,d],
     * key_mask [B,Tk] int32 (0 = none); has_scale = 0 uses 1/sqrt(d). */
    dph_status (*attention)(dph_ctx *ctx, dph_tensor q, dph_tensor k, dph_tensor v, dph_tensor key_mask,
                            int32_t has_scale, float scale, dph_tensor *out);
    /* Rotate-half rotary embedding on the first rotary_dims of each head of x [B,T,H,d];
     * positions [T] or [B,T] int32; inv_freq (rotary_dims/2 values) is copied. */
    dph_status (*rotary)(dph_ctx *ctx, dph_tensor x, dph_tensor positions, int32_t rotary_dims,
                         const float *inv_freq, int32_t n_inv_freq, dph_tensor *out);
    /* Fused log_softmax + gather: logits [N,T,V], labels [N,T] int32 -> [N,T-1]; -100 -> 0. */
    dph_status (*label_log_probs)(dph_ctx *ctx, dph_tensor logits, dph_tensor labels, dph_tensor *out);
    dph_status (*concat)(dph_ctx *ctx, const dph_tensor *xs /* n handles, borrowed */, int32_t n, int32_t axis,
                         dph_tensor *out);
    /* out: caller-owned array of n handles, filled with new handles. */
    dph_status (*split)(dph_ctx *ctx, dph_tensor x, const int64_t *sizes, int32_t n, int32_t axis,
                        dph_tensor *out);
    dph_status (*reshape)(dph_ctx *ctx, dph_tensor x, const int64_t *shape, int32_t rank, dph_tensor *out);
    dph_status (*transpose)(dph_ctx *ctx, dph_tensor x, int32_t axis_a, int32_t axis_b, dph_tensor *out);
    dph_status (*slice)(dph_ctx *ctx, dph_tensor x, int32_t axis, int64_t start, int64_t end, dph_tensor *out);
    /* Same values, cut from the tape (no gradient flows back through it). */
    dph_status (*detach)(dph_ctx *ctx, dph_tensor x, dph_tensor *out);

    /* --- losses ------------------------------------------------------------------------- */
    /* A named per-example metric ([B] values, copied, never differentiated). `{split}` in the
     * name becomes `train` or `eval`; other names are logged as given. The host relies on one
     * name: `loss/{split}`, each example's loss (before the batch mean): the host logs and
     * summarises it as the run's loss, multiplies it by the example's `pair_weights` when it gave
     * them (so that it reports the loss that was differentiated), sums it over the losses of
     * `loss=[a,b]` by their weights (each loss's own kept as `a/loss/{split}`), and stops an
     * evaluation whose loss is not finite. A loss without it trains, but its run reports no loss. */
    dph_status (*emit_metric)(dph_ctx *ctx, const char *name, dph_tensor values);

    /* --- datasets ------------------------------------------------------------------------ */
    /* Appends one record; everything in *record is copied before return. */
    dph_status (*emit_record)(dph_ctx *ctx, const dph_record *record);

    /* --- models ------------------------------------------------------------------------- */
    /* The HF config.json text. *out owned by the host; valid for the plugin instance's life. */
    dph_status (*config_json)(dph_ctx *ctx, const char **out);
    /* Typed lookups; `key` may be dotted ("rope_parameters.rope_theta"). Absent or null ->
     * DPH_ERR_NOT_FOUND, so plugins apply the HF default. Strings: valid for the instance's life. */
    dph_status (*config_int)(dph_ctx *ctx, const char *key, int64_t *out);
    dph_status (*config_float)(dph_ctx *ctx, const char *key, double *out);
    dph_status (*config_bool)(dph_ctx *ctx, const char *key, int32_t *out);
    dph_status (*config_string)(dph_ctx *ctx, const char *key, const char **out);
    /* During `configure` only: declares a float32 parameter under its HF name (copied).
     * Refused (DPH_ERR_INVALID_ARGUMENT, message naming the parameter) when a dimension is below 1
     * or the parameters declared so far would not fit in the machine's memory as float32;
     * nothing is allocated until `configure` returns. */
    dph_status (*declare_parameter)(dph_ctx *ctx, const char *name, const int64_t *shape, int32_t rank,
                                    dph_parallel parallel);
    /* During `forward`: a handle (in this ctx) to the declared parameter, on the tape. */
    dph_status (*parameter)(dph_ctx *ctx, const char *name, dph_tensor *out);
    /* During a cached forward: appends k/v [B,T,Hkv,d] of `layer` to the instance's cache and
     * returns the full keys/values so far (attend to those). Without use_cache it returns k and
     * v unchanged. The host also uses it to run a prompt that several rows share only once (a
     * preference pair's chosen and rejected rows): a first forward over the prompt, whose keys
     * it keeps (its logits are never read), then one over the rest of every row, with the
     * prompt's keys in front of each row's own; both get position_ids. Call it once per layer in
     * every cached forward, with the keys the layer's attention would use (after rotary), and
     * keep no other state between forwards (a recurrent layer's would be wrong there: such a
     * model must not call it, or the user sets share_prompt=false). A model that sets
     * attends_through_host gets one packed forward instead (see dph_model_vtable): keys and
     * values pass through, and host->attention must then be given exactly what this returned. */
    dph_status (*kv_cache_append)(dph_ctx *ctx, int32_t layer, dph_tensor k, dph_tensor v,
                                  dph_tensor *out_k, dph_tensor *out_v);

    /* --- appended after the first v1 hosts: test with DPH_HOST_HAS(host, field) ----------- */
    /* TDPO's per-position KL of the reference from the policy, fused over the vocabulary:
     * policy and reference logits [N,T,V], mask [N,T-1] float -> out [N,T-1] with
     * out[n,t] = sum_v softmax(ref[n,t])_v * (log_softmax(ref[n,t])_v - log_softmax(pol[n,t])_v)
     * where mask[n,t] != 0, else 0 (logits t score label t+1, as in label_log_probs).
     * Differentiable in both logits, never in the mask; keeps no [N,T,V] intermediates.
     * out_underflows (may be NULL, caller-owned): kept positions where softmax(ref) has an
     * exact 0 (where log(softmax) would be -inf). */
    dph_status (*token_kl)(dph_ctx *ctx, dph_tensor policy_logits, dph_tensor reference_logits, dph_tensor mask,
                           dph_tensor *out, int64_t *out_underflows);

    /* During `forward`: runs block `layer` as fn(host, ctx', user, layer, inputs, n_inputs, out)
     * and puts its output in *out (a handle of ctx). inputs: the block's input handles
     * (borrowed, read before return), e.g. the hidden state plus the attention mask and
     * positions; float inputs carry gradient, int32 ones are constants.
     * Normally (no activation checkpointing for this model instance, a no-grad forward, or
     * use_cache) the host simply calls fn with ctx' = ctx. With activation checkpointing (the
     * host's choice, per model instance) on a recording forward, the host runs fn without
     * recording, keeps only the block's float inputs, and during backward calls fn again in a
     * fresh context (same layer, user and input values) to recompute the block's activations.
     * So fn must be deterministic and free of side effects besides host ops, and `user` (owned
     * by the plugin, may be NULL) must stay valid until the tape's backward ran or the forward
     * was discarded: use the instance `state` or static data, never the forward's stack.
     * Older hosts lack it: without DPH_HOST_HAS(host, run_block) call fn(host, ctx, ...) yourself. */
    dph_status (*run_block)(dph_ctx *ctx, int32_t layer, dph_block_fn fn, void *user, const dph_tensor *inputs,
                            int32_t n_inputs, dph_tensor *out);

    /* During `forward`: the model's output projection to the vocabulary, x [N,T,H] -> out
     * [N,T,V] (in a packed forward, attends_through_host: x [1,S,H] -> the rows' positions only,
     * [rows, positions per row, V]). The same as linear(x, weight, bias, layout), except that the host may compute
     * only the positions whose logits are read: in a training forward whose losses need only
     * label log-probs, position t of row n is computed only where label t+1 counts (not -100);
     * the other rows of out are 0 and pass no gradient. Call it instead of linear for the last
     * projection; older hosts lack it: without DPH_HOST_HAS(host, lm_head) call linear. */
    dph_status (*lm_head)(dph_ctx *ctx, dph_tensor x, dph_tensor weight, dph_tensor bias /* 0 = none */,
                          dph_linear_layout layout, dph_tensor *out);

    /* During `configure`, after declare_parameter(name): another name the same tensor has in
     * checkpoints (both copied), tried when `name` is absent; e.g. transformers 5 writes
     * GPT-NeoX's head as "lm_head.weight" where earlier versions wrote "embed_out.weight".
     * Older hosts lack it: without DPH_HOST_HAS(host, declare_parameter_alias) skip it. */
    dph_status (*declare_parameter_alias)(dph_ctx *ctx, const char *name, const char *alias);
};

/* True when `host` is new enough to have function `field`. */
#define DPH_HOST_HAS(host, field) \
    ((host)->struct_size >= offsetof(dph_host_api, field) + sizeof((host)->field) && (host)->field != NULL)

/* ------------------------------------------------------------------ the descriptor */

typedef enum dph_plugin_kind { DPH_KIND_MODEL = 1, DPH_KIND_DATASET = 2, DPH_KIND_LOSS = 3 } dph_plugin_kind;

typedef enum dph_option_type {
    DPH_OPTION_INT = 1,
    DPH_OPTION_FLOAT = 2,
    DPH_OPTION_BOOL = 3,   /* true/false */
    DPH_OPTION_STRING = 4,
    DPH_OPTION_LIST = 5    /* of strings: "a,b" or "[a, b]" */
} dph_option_type;

/* All strings are owned by the plugin and must live as long as the loaded library (static). */
typedef struct dph_option_spec {
    uint32_t struct_size;
    const char *name;          /* [a-z0-9_]+, unique within the plugin */
    dph_option_type type;
    const char *default_value; /* as written on a command line; NULL = the option is required */
    const char *help;          /* one line */
} dph_option_spec;

typedef struct dph_loss_vtable {
    uint32_t struct_size;
    uint32_t needs; /* DPH_LOSS_NEEDS_* flags */
    /* Computes the scalar (rank-0) loss, mean over the batch, through host ops; metrics via
     * host->emit_metric. *out_loss must be a handle of ctx. */
    dph_status (*compute)(const dph_host_api *host, dph_ctx *ctx, void *state, const dph_loss_inputs *inputs, dph_tensor *out_loss);
    /* Appended after the first v1 hosts (the host reads it only when struct_size covers it, see
     * DPH_LOSS_VTABLE_HAS); may be NULL. The needs of one instance, which its options may change:
     * a reference_free option adds DPH_LOSS_REFERENCE_FREE (the host then loads no reference when
     * every loss of the run is reference-free), a weighting option DPH_LOSS_NEEDS_LOGITS. Called
     * once, after `create`; NULL means `needs` for every instance. */
    dph_status (*instance_needs)(const dph_host_api *host, dph_ctx *ctx, void *state, uint32_t *out_needs);
} dph_loss_vtable;

/* Whether the plugin's loss vtable `vt` has `field` (plugins older than the field end before it). */
#define DPH_LOSS_VTABLE_HAS(vt, field) \
    ((vt)->struct_size >= offsetof(dph_loss_vtable, field) + sizeof((vt)->field))

typedef enum dph_truncation_mode { DPH_KEEP_START = 0, DPH_KEEP_END = 1 } dph_truncation_mode;

typedef struct dph_dataset_vtable {
    uint32_t struct_size;
    dph_truncation_mode truncation_mode;
    /* Yields the records of `split` ("train" or "test") in order through host->emit_record.
     * Errors must name the file and line. */
    dph_status (*load)(const dph_host_api *host, dph_ctx *ctx, void *state, const char *split /* borrowed */);
} dph_dataset_vtable;

typedef struct dph_model_vtable {
    uint32_t struct_size;
    /* static: HF prefix of the repeated block with "{i}", e.g. "h.{i}". (The tokenizer is the
     * model folder's own, tokenizer.json or tokenizer.model: the plugin does not name it.) */
    const char *block_name;
    /* Reads the config (host->config_*) and declares every parameter (host->declare_parameter). */
    dph_status (*configure)(const dph_host_api *host, dph_ctx *ctx, void *state);
    /* input ids + attention mask -> logits [N, T, V] float32, through host ops.
     * attention_mask always spans the KEYS: with use_cache it covers the cached positions
     * plus the new ones (input_ids holds only the new tokens), as in transformers' generate. */
    dph_status (*forward)(const dph_host_api *host, dph_ctx *ctx, void *state, const dph_forward_args *args,
                          dph_tensor *out_logits);
    /* static, may be NULL: comma-separated Hugging Face `model_type` values this plugin runs
     * (e.g. "gpt_neox"); the host picks the model plugin from config.json with it.
     * NULL means the plugin's own name. */
    const char *model_types;
    /* Appended (read when struct_size covers it); static, may be NULL: comma-separated names of
     * the repeated block's class in transformers (e.g. "GPTNeoXLayer"), which the reference's
     * `model.block_name` names; the host checks that setting against them. */
    const char *block_classes;
    /* Appended (read when struct_size covers it); static, may be NULL: the config.json key whose
     * integer value is a hard limit on positions (learned position embeddings: GPT-2's
     * "n_positions"). The host refuses a max_length or a generation past it before a run
     * starts. NULL for rotary models, which run past their trained length. */
    const char *position_limit_key;
    /* Appended (read when struct_size covers it): nonzero when the positions of a forward meet
     * only in host->attention, over the keys and values kv_cache_append returned, and every other
     * op the plugin runs acts on each position alone (linears, norms, embeddings, rotary with
     * position_ids, lm_head), with lm_head's output returned as the logits (or changed position
     * by position). The host may then run a preference batch's shared prompts and its rows as
     * one sequence, input_ids [1, S]: one product per linear over them all, each weight read
     * once per pass; host->attention and lm_head take the packing apart, so the plugin sees
     * plain tensors. 0 (or a vtable that ends before this field): a shared prompt runs as a
     * forward of its own. */
    int32_t attends_through_host;
} dph_model_vtable;

/* Every callback receives the host table (the same pointer as in dph_plugin_init) and its
 * call's ctx, so a plugin needs no global state of its own.
 *
 * Filled by dph_plugin_init. The host zeroes it and sets struct_size to its own size before
 * the call; the plugin must then write struct_size = sizeof(dph_plugin_desc) as it compiled
 * it. Every pointer is owned by the plugin and must stay valid while the library is loaded. */
typedef struct dph_plugin_desc {
    uint32_t struct_size;
    uint32_t abi_version;  /* DPH_ABI_VERSION the plugin was built against */
    dph_plugin_kind kind;
    const char *name;      /* [a-z0-9_.-]+ ; unique per kind in one registry */
    const char *version;   /* free-form, e.g. "1.0.0" */
    const char *description;
    const dph_option_spec *options; /* n_options specs */
    int32_t n_options;
    /* Optional. Creates one instance; options are readable through host->option_* here.
     * *out_state is the plugin's own, passed back to every callback and to destroy. */
    dph_status (*create)(const dph_host_api *host, dph_ctx *ctx, void **out_state);
    void (*destroy)(void *state);
    /* Exactly the one matching `kind` is non-NULL. */
    const dph_model_vtable *model;
    const dph_dataset_vtable *dataset;
    const dph_loss_vtable *loss;
} dph_plugin_desc;

/* ------------------------------------------------------------------ entry points */

typedef uint32_t (*dph_plugin_abi_version_fn)(void);
typedef dph_status (*dph_plugin_init_fn)(const dph_host_api *host, dph_ctx *ctx, dph_plugin_desc *out_desc);

/* `host` is owned by the host and stays valid for the life of the process: keep it.
 * `ctx` is for set_error/log during this call only (no options, no tensors yet).
 * (Not declared for Swift, whose plugins define these with @_cdecl.) */
#if !defined(__swift__)
DPH_EXPORT dph_status dph_plugin_init(const dph_host_api *host, dph_ctx *ctx, dph_plugin_desc *out_desc);
DPH_EXPORT uint32_t dph_plugin_abi_version(void);
#endif

/* Put this once in a plugin's source to export the version it was built against. */
#define DPH_PLUGIN_ABI_VERSION_EXPORT \
    DPH_EXPORT uint32_t dph_plugin_abi_version(void) { return DPH_ABI_VERSION; }

#ifdef __cplusplus
}
#endif
#endif /* DPOHOST_PLUGIN_H */
