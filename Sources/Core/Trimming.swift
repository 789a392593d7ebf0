// Text trimming without Foundation, for the readers of every input.

extension String {
    /// The text without leading and trailing whitespace.
    package var trimmingSpaces: Substring {
        // Fast path, almost every id and value: first and last bytes are visible ASCII, so no Character
        // (grapheme breaking, Unicode properties) needs to be looked at.
        let utf8 = self.utf8
        if let first = utf8.first, let last = utf8.last, (0x21...0x7E).contains(first), (0x21...0x7E).contains(last) {
            return self[...]
        }
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
