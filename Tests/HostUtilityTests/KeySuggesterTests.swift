import XCTest
import HostUtility

final class KeySuggesterTests: XCTestCase {
    func testSuggestsTheClosestKeyWithinTheTypoLimit() {
        XCTAssertEqual(KeySuggester.nearest(to: "lerning_rate", among: ["lr", "learning_rate", "warmup_steps"]), "learning_rate")
    }

    func testSuggestsNothingWhenEveryKeyIsTooFar() {
        XCTAssertNil(KeySuggester.nearest(to: "optimizer", among: ["lr", "seed"]))
    }

    func testDistanceCountsEditsOverCharacters() {
        XCTAssertEqual(KeySuggester.distance("kitten", "sitting"), 3)
        XCTAssertEqual(KeySuggester.distance("", "abc"), 3)
        XCTAssertEqual(KeySuggester.distance("é", "e"), 1)
    }
}
