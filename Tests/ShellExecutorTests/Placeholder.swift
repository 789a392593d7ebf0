import Testing

@Test func ShellExecutorTestsPlaceholder() { #expect(Bool(true)) }
