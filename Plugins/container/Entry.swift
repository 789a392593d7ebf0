import ExecutorKit

/// The library's one exported symbol (see Sources/ExecutorAPI/include/planter_executor.h).
@_cdecl("planter_executor_entry")
public func planterExecutorEntry(_ hostABI: UInt32) -> UnsafeRawPointer? {
    ExecutorEntry.descriptor(for: ContainerPlugin.self, hostABI: hostABI)
}
