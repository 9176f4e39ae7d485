import XCTest
import HostUtility

final class FileErrorTests: XCTestCase {
    private enum Sample: FileError {
        case broken(path: String)
        var fault: (file: String, problem: String) {
            switch self {
            case let .broken(path): return (path, "broken: line 3")
            }
        }
    }

    func testMessageNamesTheFileFirstAndFileIsThatPath() {
        let error = Sample.broken(path: "/d/model.safetensors")
        XCTAssertEqual(error.description, "/d/model.safetensors: broken: line 3")
        XCTAssertEqual(error.file, "/d/model.safetensors")
        XCTAssertEqual("\(error)", error.description)
    }
}
