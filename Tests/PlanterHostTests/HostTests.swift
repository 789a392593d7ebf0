import Testing
@testable import PlanterHost
import PlanterJSON

@Test func hostPlaceholder() { #expect(JSON.int(1) == .double(1)) }
