/* A dataset plugin in plain C: reads a tab-separated file of preference pairs,
 *   prompt <TAB> chosen <TAB> rejected
 * one pair per line ("\n", "\t" and "\\" escapes allowed; blank and '#' lines skipped).
 * Lines with the same prompt merge into one record (docs/spec/data.md §1.2): responses are
 * appended, each line adds the pair (chosen, rejected), the first chosen is the SFT target. */
#include <dpohost/plugin.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

DPH_PLUGIN_ABI_VERSION_EXPORT

static const dph_option_spec options[] = {
    {sizeof(dph_option_spec), "path", DPH_OPTION_STRING, NULL, "TSV file of the train split (prompt, chosen, rejected)"},
    {sizeof(dph_option_spec), "test_path", DPH_OPTION_STRING, "", "TSV file of the test split (empty: no test records)"},
};

typedef struct record {
    char *prompt;
    char **responses;
    int32_t n_responses;
    int32_t *pairs;
    int32_t n_pairs;
} record;

typedef struct dataset {
    record *records;
    size_t count, capacity;
} dataset;

static void free_dataset(dataset *ds) {
    for (size_t i = 0; i < ds->count; i++) {
        record *r = &ds->records[i];
        for (int32_t j = 0; j < r->n_responses; j++) free(r->responses[j]);
        free(r->responses);
        free(r->pairs);
        free(r->prompt);
    }
    free(ds->records);
}

/* Decodes the escapes in place. */
static void unescape(char *s) {
    char *w = s;
    for (char *r = s; *r; r++) {
        if (*r == '\\' && r[1]) {
            r++;
            *w++ = *r == 'n' ? '\n' : *r == 't' ? '\t' : *r;
        } else {
            *w++ = *r;
        }
    }
    *w = 0;
}

static int32_t add_response(record *r, const char *text) {
    char **grown = realloc(r->responses, sizeof(char *) * (size_t)(r->n_responses + 1));
    if (!grown) return -1;
    r->responses = grown;
    r->responses[r->n_responses] = strdup(text);
    return r->responses[r->n_responses] ? r->n_responses++ : -1;
}

static record *find_or_add(dataset *ds, const char *prompt) {
    for (size_t i = 0; i < ds->count; i++)
        if (strcmp(ds->records[i].prompt, prompt) == 0) return &ds->records[i];
    if (ds->count == ds->capacity) {
        size_t cap = ds->capacity ? ds->capacity * 2 : 16;
        record *grown = realloc(ds->records, cap * sizeof(record));
        if (!grown) return NULL;
        ds->records = grown;
        ds->capacity = cap;
    }
    record *r = &ds->records[ds->count];
    memset(r, 0, sizeof *r);
    if (!(r->prompt = strdup(prompt))) return NULL;
    ds->count++;
    return r;
}

/* Parses `path` into ds; on error writes a "FILE:LINE: ..." message into msg. */
static dph_status parse(const char *path, dataset *ds, char *msg, size_t msg_size) {
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(msg, msg_size, "mydata: cannot open %s: %s", path, strerror(errno));
        return DPH_ERR_IO;
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    long lineno = 0;
    dph_status status = DPH_OK;
    while ((len = getline(&line, &cap, f)) != -1) {
        lineno++;
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) line[--len] = 0;
        if (len == 0 || line[0] == '#') continue;
        char *fields[3];
        int n = 0;
        for (char *p = line, *tab; n < 3; p = tab + 1) {
            fields[n++] = p;
            if (!(tab = strchr(p, '\t'))) break;
            *tab = 0;
            if (n == 3) { n = 4; break; } /* a fourth field */
        }
        if (n != 3) {
            snprintf(msg, msg_size, "mydata: %s:%ld: expected 3 tab-separated fields (prompt, chosen, rejected), found %s",
                     path, lineno, n > 3 ? "more" : n == 2 ? "2" : "1");
            status = DPH_ERR_FORMAT;
            break;
        }
        for (int i = 0; i < 3; i++) unescape(fields[i]);
        record *r = find_or_add(ds, fields[0]);
        int32_t chosen = r ? add_response(r, fields[1]) : -1;
        int32_t rejected = chosen >= 0 ? add_response(r, fields[2]) : -1;
        int32_t *pairs = rejected >= 0 ? realloc(r->pairs, sizeof(int32_t) * 2 * (size_t)(r->n_pairs + 1)) : NULL;
        if (!pairs) {
            snprintf(msg, msg_size, "mydata: %s:%ld: out of memory", path, lineno);
            status = DPH_ERR_PLUGIN;
            break;
        }
        r->pairs = pairs;
        r->pairs[2 * r->n_pairs] = chosen;
        r->pairs[2 * r->n_pairs + 1] = rejected;
        r->n_pairs++;
    }
    free(line);
    fclose(f);
    return status;
}

static dph_status load(const dph_host_api *host, dph_ctx *ctx, void *state, const char *split) {
    (void)state;
    const char *path;
    dph_status s = host->option_string(ctx, strcmp(split, "test") == 0 ? "test_path" : "path", &path);
    if (s != DPH_OK) return s;
    if (strcmp(split, "train") != 0 && strcmp(split, "test") != 0) {
        return host->set_error(ctx, DPH_ERR_INVALID_ARGUMENT, "mydata: split must be train or test");
    }
    if (path[0] == 0) return DPH_OK; /* no file for this split */

    dataset ds = {0};
    char msg[1024];
    s = parse(path, &ds, msg, sizeof msg);
    if (s != DPH_OK) {
        free_dataset(&ds);
        return host->set_error(ctx, s, msg);
    }
    for (size_t i = 0; i < ds.count && s == DPH_OK; i++) {
        const record *r = &ds.records[i];
        dph_record out = {sizeof(dph_record), r->prompt, (const char *const *)r->responses, r->n_responses,
                          r->pairs, r->n_pairs, r->responses[r->pairs[0]]};
        s = host->emit_record(ctx, &out); /* the host copies; we keep and free our buffers */
    }
    free_dataset(&ds);
    return s;
}

static const dph_dataset_vtable vtable = {sizeof(dph_dataset_vtable), DPH_KEEP_START, load};

DPH_EXPORT dph_status dph_plugin_init(const dph_host_api *host, dph_ctx *ctx, dph_plugin_desc *d) {
    (void)host; (void)ctx;
    d->struct_size = sizeof(dph_plugin_desc);
    d->abi_version = DPH_ABI_VERSION;
    d->kind = DPH_KIND_DATASET;
    d->name = "mydata";
    d->version = "1.0.0";
    d->description = "prompt/chosen/rejected pairs from a tab-separated file";
    d->options = options;
    d->n_options = sizeof(options) / sizeof(options[0]);
    d->dataset = &vtable;
    return DPH_OK;
}
