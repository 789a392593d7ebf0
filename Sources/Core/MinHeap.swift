/// A binary min-heap: ready phases pop in manifest order, timers in deadline order.
/// Inlinable so that the modules using it get it specialized for their element type: called
/// generically across the module boundary, a pop cost about 2,000 instructions.
public struct MinHeap<Element: Comparable> {
    @usableFromInline var storage: [Element] = []

    @inlinable public init() {}

    @inlinable public var isEmpty: Bool { storage.isEmpty }
    @inlinable public var count: Int { storage.count }
    @inlinable public var min: Element? { storage.first }

    @inlinable public mutating func push(_ element: Element) {
        storage.append(element)
        var child = storage.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard storage[child] < storage[parent] else { break }
            storage.swapAt(child, parent)
            child = parent
        }
    }

    @inlinable public mutating func pop() -> Element? {
        guard !storage.isEmpty else { return nil }
        storage.swapAt(0, storage.count - 1)
        let top = storage.removeLast()
        var parent = 0
        while true {
            let left = 2 * parent + 1, right = left + 1
            var smallest = parent
            if left < storage.count && storage[left] < storage[smallest] { smallest = left }
            if right < storage.count && storage[right] < storage[smallest] { smallest = right }
            if smallest == parent { break }
            storage.swapAt(parent, smallest)
            parent = smallest
        }
        return top
    }
}
