import Testing
@testable import PlanterJSON

@Test func placeholder() { #expect(JSON.int(1) == .double(1)) }
