import CDPOHostSDK
import DPHLossKit
@testable import DPOHostSDK
import XCTest

/// plugin.h's growth rule seen from a plugin built with the SDK: on a host whose table ends
/// before a function (a host older than the field), the SDK takes its fallback and never reads
/// the field, even where memory past the table's end holds a pointer.
final class HostTableGrowthTests: XCTestCase {
    /// What the fake host's functions saw, in call order.
    nonisolated(unsafe) static var calls: [String] = []

    override func setUp() { Self.calls = [] }

    /// A context handle: the fake host never reads it.
    let ctx = OpaquePointer(bitPattern: 0x10)

    /// A host table whose every function this test uses is set, its `struct_size` ending just
    /// before `field` (the whole table when nil).
    func table(endingBefore field: PartialKeyPath<dph_host_api>?) -> UnsafeMutablePointer<dph_host_api> {
        var t = dph_host_api()
        t.struct_size = UInt32(field.map { MemoryLayout<dph_host_api>.offset(of: $0)! } ?? MemoryLayout<dph_host_api>.size)
        t.linear = { _, _, _, _, _, out in HostTableGrowthTests.calls.append("linear"); out?.pointee = 1; return Int32(DPH_OK) }
        t.lm_head = { _, _, _, _, _, out in HostTableGrowthTests.calls.append("lm_head"); out?.pointee = 2; return Int32(DPH_OK) }
        t.run_block = { _, _, _, _, _, _, out in HostTableGrowthTests.calls.append("run_block"); out?.pointee = 3; return Int32(DPH_OK) }
        t.declare_parameter_alias = { _, _, _ in HostTableGrowthTests.calls.append("declare_parameter_alias"); return Int32(DPH_OK) }
        let p = UnsafeMutablePointer<dph_host_api>.allocate(capacity: 1)
        p.initialize(to: t)
        addTeardownBlock { p.deallocate() }
        return p
    }

    static let block: dph_block_fn = { _, _, _, _, _, _, out in
        HostTableGrowthTests.calls.append("block")
        out?.pointee = 4
        return Int32(DPH_OK)
    }

    func testRunBlockGoesThroughTheHostWhenItHasRunBlock() throws {
        let host = Host(table(endingBefore: nil), ctx)
        XCTAssertEqual(try host.runBlock(layer: 0, Self.block, inputs: [7]), 3)
        XCTAssertEqual(Self.calls, ["run_block"])
    }

    func testRunBlockCallsTheBlockItselfOnAHostOlderThanRunBlock() throws {
        let host = Host(table(endingBefore: \dph_host_api.run_block), ctx)
        XCTAssertEqual(try host.runBlock(layer: 0, Self.block, inputs: [7]), 4)
        XCTAssertEqual(Self.calls, ["block"])
    }

    func testLMHeadIsALinearOnAHostOlderThanLMHead() throws {
        XCTAssertEqual(try Host(table(endingBefore: nil), ctx).lmHead(5, 6), 2)
        XCTAssertEqual(try Host(table(endingBefore: \dph_host_api.lm_head), ctx).lmHead(5, 6), 1)
        XCTAssertEqual(Self.calls, ["lm_head", "linear"])
    }

    func testAParameterAliasIsNotDeclaredOnAHostOlderThanAliases() throws {
        try Host(table(endingBefore: \dph_host_api.declare_parameter_alias), ctx).declareParameterAlias("a", "b")
        XCTAssertEqual(Self.calls, [])
        try Host(table(endingBefore: nil), ctx).declareParameterAlias("a", "b")
        XCTAssertEqual(Self.calls, ["declare_parameter_alias"])
    }

    func testForwardArgumentsFromAHostOlderThanKeysOnlyAreNotKeysOnly() {
        var args = dph_forward_args()
        args.keys_only = 1
        args.struct_size = UInt32(MemoryLayout<dph_forward_args>.size)
        XCTAssertTrue(args.keysOnly)
        args.struct_size = UInt32(MemoryLayout<dph_forward_args>.offset(of: \dph_forward_args.keys_only)!)
        XCTAssertFalse(args.keysOnly)
    }
}

/// The same rule for a loss's inputs: a host older than `pair_weights` gives none, so the batch
/// mean is unweighted.
final class LossInputsGrowthTests: XCTestCase {
    func testPairWeightsAreAbsentFromAHostsInputsThatEndBeforeThem() {
        var inputs = dph_loss_inputs()
        inputs.pair_weights = 9
        inputs.struct_size = UInt32(MemoryLayout<dph_loss_inputs>.size)
        XCTAssertTrue(DPHLossInputs.has(inputs, \.pair_weights))
        inputs.struct_size = UInt32(MemoryLayout<dph_loss_inputs>.offset(of: \dph_loss_inputs.pair_weights)!)
        XCTAssertFalse(DPHLossInputs.has(inputs, \.pair_weights))
    }
}
