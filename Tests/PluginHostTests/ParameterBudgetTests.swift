@testable import PluginHost
import XCTest

/// The host refuses a declaration that takes a model's float32 parameters past the machine's
/// memory, or one with an empty dimension, naming the parameter, before anything is allocated.
final class ParameterBudgetTests: XCTestCase {
    let budget = ParameterBudget(machineBytes: 1_000_000)

    func testDeclarationsWithinMemoryAddUpTheirBytes() throws {
        let total = try budget.total(adding: ParameterSpec(name: "w", shape: [100, 100]), to: 0)
        XCTAssertEqual(total, 40_000)
        XCTAssertEqual(try budget.total(adding: ParameterSpec(name: "b", shape: [100]), to: total), 40_400)
    }

    func testADeclarationPastTheMachinesMemoryIsRefusedByName() {
        XCTAssertThrowsError(try budget.total(adding: ParameterSpec(name: "layers.7.w", shape: [500, 100]), to: 900_000)) { error in
            let message = (error as? HostCallError)?.message ?? "\(error)"
            XCTAssertEqual(message, "parameter 'layers.7.w' [500, 100] takes the model's float32 parameters to 1.05 MiB, "
                           + "more than this machine's 977 KiB of memory (check the sizes in config.json)")
        }
    }

    func testAShapeWhoseProductOverflowsAnIntIsRefusedNotTrapped() {
        XCTAssertThrowsError(try budget.total(adding: ParameterSpec(name: "wte", shape: [1 << 40, 1 << 40]), to: 0))
    }

    func testAnEmptyDimensionIsRefused() {
        XCTAssertThrowsError(try budget.total(adding: ParameterSpec(name: "ln.weight", shape: [0]), to: 0)) { error in
            XCTAssertEqual((error as? HostCallError)?.message,
                           "parameter 'ln.weight' has shape [0]: every dimension must be at least 1 (check the sizes in config.json)")
        }
    }
}
