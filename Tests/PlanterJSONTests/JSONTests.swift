import Testing

@testable import PlanterJSON

@Suite struct JSONTests {
    @Test func parsesEveryKindOfValue() throws {
        let json = try JSONParser.parse(#"{"a":[1,-2,3.5,1e3,true,false,null,"s\n\u00e9\ud83d\ude00"],"b":{}}"#)
        #expect(json["a"] == [1, -2, 3.5, 1000.0, true, false, nil, "s\né😀"])
        #expect(json["b"] == .object(JSONObject()))
        #expect(json["a"]?.arrayValue?[0] == .int(1))
    }

    @Test func keepsKeyOrderButCompareIgnoresIt() throws {
        let a = try JSONParser.parse(#"{"z":1,"a":2}"#)
        let b = try JSONParser.parse(#"{"a":2,"z":1}"#)
        #expect(a.objectValue?.keys == ["z", "a"])
        #expect(a == b)
        #expect(a.hashValue == b.hashValue)
        #expect(a.serialized == #"{"z":1,"a":2}"#)
    }

    @Test func roundTripsThroughTheWriter() throws {
        let text = #"{"s":"quote \" backslash \\ tab \t ctl \u0001","n":[0,-7,2.5,9007199254740993],"o":{"x-k":null}}"#
        let json = try JSONParser.parse(text)
        #expect(try JSONParser.parse(json.serialized) == json)
        #expect(try JSONParser.parse(json.prettySerialized) == json)
        #expect(json["n"]?.arrayValue?[3] == .int(9_007_199_254_740_993), "large integers stay exact")
    }

    @Test func errorsNameLineAndColumn() {
        func failure(_ text: String) -> JSONParseError? {
            do { _ = try JSONParser.parse(text); return nil } catch { return error }
        }
        let e1 = failure("[\n  1,\n  2,,\n]")
        #expect(e1?.line == 3)
        #expect(e1?.column == 5)
        #expect(failure(#"{"a" 1}"#)?.message.contains("expected ':'") == true)
        #expect(failure(#"["unterminated"#)?.message.contains("unterminated string") == true)
        #expect(failure("[01]")?.message.contains("leading zeros") == true)
        #expect(failure("[1] x")?.message.contains("after the end") == true)
        #expect(failure("") != nil)
        #expect(failure(#"["\ud800"]"#)?.message.contains("surrogate") == true)
        #expect(failure(String(repeating: "[", count: 600))?.message.contains("nesting") == true)
    }

    @Test func pointersEscapeSlashAndTilde() {
        #expect(JSONPointer.append("/a", "b/c~d") == "/a/b~1c~0d")
        #expect(JSONPointer.append("", 3) == "/3")
        // A combining mark after "/" or "~" makes one Character with it; the byte still escapes.
        #expect(JSONPointer.escape("a/\u{301}b~\u{301}") == "a~1\u{301}b~0\u{301}")
    }

    @Test func largeObjectsParseAndTheLastDuplicateWins() throws {
        // 100,000 keys: a scan per key for duplicates would take minutes. How fast it is belongs
        // to bench/; the bound below only stops a quadratic parser from passing after a long wait.
        var text = "{"
        for index in 0..<100_000 { text += "\"k\(index)\":\(index)," }
        text += "\"k17\":\"again\",\"k5\":\"again\"}"
        let start = ContinuousClock.now
        let object = try #require(try JSONParser.parse(text).objectValue)
        #expect(ContinuousClock.now - start < .seconds(60))
        #expect(object.count == 100_000)
        #expect(object["k17"] == "again")
        #expect(object["k5"] == "again")
        #expect(object["k99999"] == 99_999)
        #expect(object.members[17].key == "k17", "a duplicate keeps its first place")
    }
}
