import Testing

@Test func PythonExecutorTestsPending() { #expect(Bool(true)) }
