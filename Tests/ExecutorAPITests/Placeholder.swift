import Testing

@Test func ExecutorAPITestsPlaceholder() { #expect(Bool(true)) }
