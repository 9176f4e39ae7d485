import ChatTemplate
import Foundation
import XCTest

/// The Jinja2 subset behaves as Jinja2 does under transformers' settings: each template of
/// Fixtures/chat/jinja_cases.json renders what Jinja2 itself rendered (make_jinja_cases.py).
final class JinjaSubsetTests: XCTestCase {
    static let cases: TemplateValue = try! TemplateValue.parseJSON(String(
        contentsOf: RealTemplateRenderingTests.root.appendingPathComponent("jinja_cases.json"), encoding: .utf8))

    func check(_ name: String, file: StaticString = #filePath, line: UInt = #line) throws {
        guard case let .dict(all) = Self.cases, case let .dict(c)? = all[name] else { return XCTFail("no case \(name)", file: file, line: line) }
        let template = try ChatTemplate(source: c["template"]!.text)
        XCTAssertEqual(try template.render(messages: .list([.dict(TemplateDict())])), c["output"]!.text, name, file: file, line: line)
    }

    func testTrimBlocksAndLstripBlocksAsTransformersSetsThem() throws { try check("trim_lstrip") }
    func testDashesStripAllWhitespaceOnTheirSide() throws { try check("dash_control") }
    func testSetInsideALoopDoesNotLeakOutNorAcrossIterations() throws { try check("loop_scope") }
    func testANamespaceCarriesValuesOutOfALoop() throws { try check("namespace") }
    func testLoopVariables() throws { try check("loop_vars") }
    func testLengthTrimJoinAndTransformersTojson() throws { try check("filters") }
    func testItemsUnpackIntoTwoLoopVariables() throws { try check("items_unpack") }
    func testSelectattrAndReject() throws { try check("select") }
    func testPythonStringAndDictMethods() throws { try check("methods") }
    func testSlicesAndNegativeIndices() throws { try check("slices") }
    func testTests() throws { try check("tests") }
    func testPythonOperators() throws { try check("operators") }
    func testValuesPrintAsPythonPrintsThem() throws { try check("output_python") }
    func testFiltersBindTighterThanArithmeticAndNotLooserThanComparison() throws { try check("precedence") }
    func testBreakAndContinue() throws { try check("break_continue") }
    func testForElse() throws { try check("for_else") }
    func testMacrosWithDefaults() throws { try check("macro") }
    func testCommentsVanishWithTheirWhitespaceRules() throws { try check("comment") }

    func testRaiseExceptionGivesTheTemplatesOwnMessage() throws {
        let t = try ChatTemplate(source: "{{ raise_exception('Only user and assistant roles are supported!') }}")
        XCTAssertThrowsError(try t.render(messages: .list([.none]))) {
            XCTAssertEqual("\($0)", "Only user and assistant roles are supported!")
        }
    }

    func testASyntaxErrorNamesItsLine() {
        XCTAssertThrowsError(try ChatTemplate(source: "line one\n{% if x %}\nno end")) {
            XCTAssertEqual("\($0)", "template syntax error on line 2: 'if' is never closed with 'endif'")
        }
        XCTAssertThrowsError(try ChatTemplate(source: "{{ a + }}")) { XCTAssertTrue("\($0)".contains("line 1"), "\($0)") }
    }

    func testAttributesOfAnUndefinedValueAreAnError() throws {
        let t = try ChatTemplate(source: "{{ missing.role }}")
        XCTAssertThrowsError(try t.render(messages: .list([.none]))) { XCTAssertEqual("\($0)", "template error: 'missing' is undefined") }
    }
}
