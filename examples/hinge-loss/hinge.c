/* Hinge (SLiC) loss as a dpohost plugin in plain C (docs/spec/losses.md §6):
 *   l_i = max(0, 1 - beta * h_i),  h = (pc - pr) - (qc - qr),  loss = mean_i l_i.
 * Everything runs through host ops, so the host's tape differentiates it. */
#include <dpohost/plugin.h>

DPH_PLUGIN_ABI_VERSION_EXPORT

/* Evaluate a host call; on failure return its status (the message stays in ctx). */
#define TRY(call) do { dph_status s_ = (call); if (s_ != DPH_OK) return s_; } while (0)

static const dph_option_spec options[] = {
    {sizeof(dph_option_spec), "beta", DPH_OPTION_FLOAT, "0.1", "scale of the margin h inside the hinge"},
};

static dph_status compute(const dph_host_api *host, dph_ctx *ctx, void *state, const dph_loss_inputs *in,
                          dph_tensor *out_loss) {
    (void)state;
    double beta;
    TRY(host->option_float(ctx, "beta", &beta));
    if (beta <= 0) return host->set_error(ctx, DPH_ERR_INVALID_ARGUMENT, "hinge: beta must be positive");

    dph_tensor policy, reference, h, scaled, shifted, losses;
    TRY(host->binary(ctx, DPH_BINARY_SUB, in->policy_chosen_logps, in->policy_rejected_logps, &policy));
    TRY(host->binary(ctx, DPH_BINARY_SUB, in->reference_chosen_logps, in->reference_rejected_logps, &reference));
    TRY(host->binary(ctx, DPH_BINARY_SUB, policy, reference, &h));
    TRY(host->scale(ctx, h, (float)-beta, &scaled));
    TRY(host->add_scalar(ctx, scaled, 1.0f, &shifted));
    TRY(host->unary(ctx, DPH_UNARY_RELU, shifted, &losses));
    TRY(host->mean(ctx, losses, DPH_AXIS_ALL, 0, out_loss));

    /* Per-example metrics: the DPO-style rewards beta*(p - q) and the margin beta*h. */
    dph_tensor dw, dl, rc, rr, margin;
    TRY(host->binary(ctx, DPH_BINARY_SUB, in->policy_chosen_logps, in->reference_chosen_logps, &dw));
    TRY(host->binary(ctx, DPH_BINARY_SUB, in->policy_rejected_logps, in->reference_rejected_logps, &dl));
    TRY(host->scale(ctx, dw, (float)beta, &rc));
    TRY(host->scale(ctx, dl, (float)beta, &rr));
    TRY(host->scale(ctx, h, (float)beta, &margin));
    TRY(host->emit_metric(ctx, "rewards_{split}/chosen", rc));
    TRY(host->emit_metric(ctx, "rewards_{split}/rejected", rr));
    TRY(host->emit_metric(ctx, "rewards_{split}/margins", margin));
    TRY(host->emit_metric(ctx, "loss/{split}", losses));
    return DPH_OK;
}

static const dph_loss_vtable vtable = {sizeof(dph_loss_vtable), DPH_LOSS_NEEDS_SEQUENCE, compute};

DPH_EXPORT dph_status dph_plugin_init(const dph_host_api *host, dph_ctx *ctx, dph_plugin_desc *d) {
    (void)host; (void)ctx;
    d->struct_size = sizeof(dph_plugin_desc);
    d->abi_version = DPH_ABI_VERSION;
    d->kind = DPH_KIND_LOSS;
    d->name = "hinge";
    d->version = "1.0.0";
    d->description = "SLiC hinge loss max(0, 1 - beta*h) over sequence log-probs";
    d->options = options;
    d->n_options = sizeof(options) / sizeof(options[0]);
    d->loss = &vtable;
    return DPH_OK;
}
