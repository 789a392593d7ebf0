// Text trimming without Foundation, for the readers of every input.

extension String {
    /// The text without leading and trailing whitespace.
    package var trimmingSpaces: Substring {
        var s = self[...]
        while let first = s.first, first.isWhitespace { s.removeFirst() }
        while let last = s.last, last.isWhitespace { s.removeLast() }
        return s
    }
}

extension Substring {
    /// The text without leading and trailing `set` characters.
    package func trimmingCharacters(in set: Character) -> String {
        var s = self
        while s.first == set { s.removeFirst() }
        while s.last == set { s.removeLast() }
        return String(s)
    }
}
