import Foundation
import TestSupport
import XCTest
@testable import PluginHost

/// Builds plugins with the system C compiler exactly as a user would, into a per-test folder
/// (`CPlugin` and `ProcessRunner` of TestSupport).
enum Build {
    static let root = Repository.root
    /// SwiftPM's products folder (the dpohost binary and Swift plugin products live here).
    static let products = Repository.products

    static func tempDir() throws -> URL { try Repository.temporaryDirectory(prefix: "dph-test-") }

    /// `cc -shared -fPIC -I SDK/include SOURCE -o OUT -lm`; fails the test on compiler errors.
    static func plugin(_ source: URL, into dir: URL, name: String, defines: [String] = []) throws -> String {
        try CPlugin.build(source, to: dir.appendingPathComponent(name + ".so").path, defines: defines, libraries: ["m"])
    }

    static func plugin(code: String, into dir: URL, name: String, defines: [String] = []) throws -> String {
        let src = dir.appendingPathComponent(name + ".c")
        try code.write(to: src, atomically: true, encoding: .utf8)
        return try plugin(src, into: dir, name: name, defines: defines)
    }

    static func example(_ relative: String, into dir: URL) throws -> String {
        let src = root.appendingPathComponent(relative)
        return try plugin(src, into: dir, name: src.deletingPathExtension().lastPathComponent)
    }

    static func run(_ exe: String, _ args: [String], environment: [String: String]? = nil) throws -> ProcessRunner.Result {
        try ProcessRunner.run(exe, args, environment: environment)
    }

    /// Runs the built `dpohost` with an empty plugin environment (no stray installed bundles).
    static func dpohost(_ args: [String], home: URL) throws -> ProcessRunner.Result {
        try Repository.dpohost(args, home: home)
    }
}

/// A configurable minimal loss plugin for the refusal cases; each -D flag breaks one thing.
let brokenPluginSource = #"""
#include <dpohost/plugin.h>
#ifndef ABI
#define ABI DPH_ABI_VERSION
#endif
#ifndef DESC_SIZE
#define DESC_SIZE sizeof(dph_plugin_desc)
#endif
#ifndef NAME
#define NAME "broken"
#endif
#ifndef NO_VERSION_SYMBOL
DPH_EXPORT uint32_t dph_plugin_abi_version(void) { return ABI; }
#endif
static const dph_option_spec options[] = {
    {sizeof(dph_option_spec), "beta", DPH_OPTION_FLOAT, "0.1", "temperature"},
    {sizeof(dph_option_spec), "label_smoothing", DPH_OPTION_FLOAT, "0", "cDPO epsilon"},
};
static dph_status compute(const dph_host_api *host, dph_ctx *ctx, void *state, const dph_loss_inputs *in, dph_tensor *out) {
    (void)state;
#ifdef COMPUTE_FAILS
    (void)in; (void)out;
    return host->set_error(ctx, DPH_ERR_INVALID_ARGUMENT, "broken: the reference log-probs are missing");
#else
    return host->mean(ctx, in->policy_chosen_logps, DPH_AXIS_ALL, 0, out);
#endif
}
#ifndef NEEDS
#define NEEDS DPH_LOSS_NEEDS_SEQUENCE
#endif
#ifdef INSTANCE_NEEDS
/* What each instance reads, given its options: label_smoothing > 0 stands for an option that
 * needs the token level. */
static dph_status instance_needs(const dph_host_api *host, dph_ctx *ctx, void *state, uint32_t *out) {
    (void)state;
    double eps = 0;
    dph_status s = host->option_float(ctx, "label_smoothing", &eps);
    if (s != DPH_OK) return s;
    *out = eps > 0 ? (INSTANCE_NEEDS) : NEEDS;
    return DPH_OK;
}
static const dph_loss_vtable vtable = {sizeof(dph_loss_vtable), NEEDS, compute, instance_needs};
#elif defined(OLDER_VTABLE)
/* A plugin built before instance_needs was appended: its vtable ends after compute. */
static const dph_loss_vtable vtable = {offsetof(dph_loss_vtable, instance_needs), NEEDS, compute, 0};
#else
static const dph_loss_vtable vtable = {sizeof(dph_loss_vtable), NEEDS, compute, 0};
#endif
#ifndef NO_INIT
DPH_EXPORT dph_status dph_plugin_init(const dph_host_api *host, dph_ctx *ctx, dph_plugin_desc *d) {
#ifdef INIT_FAILS
    (void)d;
    return host->set_error(ctx, DPH_ERR_IO, "broken: cannot read its license file /nonexistent/LICENSE");
#else
    (void)host; (void)ctx;
    d->struct_size = DESC_SIZE;
    d->abi_version = ABI;
    d->kind = DPH_KIND_LOSS;
    d->name = NAME;
    d->version = "0.1";
    d->description = "test plugin";
    d->options = options;
    d->n_options = 2;
    d->loss = &vtable;
    return DPH_OK;
#endif
}
#endif
"""#

func XCTAssertThrowsPluginError(_ body: @autoclosure () throws -> Any, contains fragments: [String],
                                file: StaticString = #filePath, line: UInt = #line) {
    do {
        _ = try body()
        XCTFail("expected a PluginError", file: file, line: line)
    } catch let e as PluginError {
        for f in fragments {
            XCTAssertTrue(e.description.contains(f), "'\(e.description)' lacks '\(f)'", file: file, line: line)
        }
    } catch {
        XCTFail("expected a PluginError, got \(error)", file: file, line: line)
    }
}
