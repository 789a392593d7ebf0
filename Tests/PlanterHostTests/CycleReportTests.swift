import PlanterJSON
import Testing

@testable import PlanterHost

/// A chain whose last phase waits for every phase closes one cycle per phase, each as long
/// as the chain. Listing them all made an error report quadratic in the plan (3,000 phases:
/// 3,000 errors naming 4.5 million ids); now ten are listed and the rest counted.
@Suite struct CycleReportTests {
    @Test func manyCyclesAreCappedAndCounted() {
        let count = 3000
        var phases: [String] = []
        for index in 0..<count - 1 {
            phases.append(#"{"kind":"Phase","id":"p\#(index)","spec":{"waitFor":["p\#(index + 1)"]}}"#)
        }
        let all = (0..<count - 1).map { "\"p\($0)\"" }.joined(separator: ",")
        phases.append(#"{"kind":"Phase","id":"p\#(count - 1)","spec":{"waitFor":[\#(all)]}}"#)
        let found = problems("[" + phases.joined(separator: ",") + "]")
        let cycles = found.filter { $0.message.hasPrefix("dependency cycle: ") }
        #expect(cycles.count == PhaseGraph.maximumReportedCycles)
        #expect(found.contains { $0.message == "and \(count - 1 - PhaseGraph.maximumReportedCycles) more dependency cycles (fix the ones above first)" },
                "\(found.suffix(2))")
        #expect(found.count == PhaseGraph.maximumReportedCycles + 1)
    }

    @Test func aFewCyclesAreAllListed() {
        let found = problems("""
        [{"kind":"Phase","id":"a","spec":{"waitFor":["b"]}},{"kind":"Phase","id":"b","spec":{"waitFor":["a"]}},
         {"kind":"Phase","id":"c","spec":{"waitFor":["c"]}}]
        """).map(\.message)
        #expect(found == ["dependency cycle: a -> b -> a", "dependency cycle: c -> c"])
    }
}
