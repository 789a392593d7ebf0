import PlanterCore

/// A phase's output: the last `limit` bytes are kept, earlier bytes only counted. Secrets are
/// masked line by line before anything is kept, so a secret split across two chunks is
/// still caught (a line is held back until it ends or grows past 4 KiB).
public struct OutputTail: Sendable {
    public struct Snapshot: Sendable, Equatable {
        public var text = ""
        /// Bytes written before the kept tail.
        public var droppedBytes = 0
        public var totalBytes = 0

        public init() {}
    }

    public let limit: Int
    private let masker: SecretMasker
    private var kept: [UInt8] = []
    private var pendingLine: [UInt8] = []
    private(set) var droppedBytes = 0
    private(set) var totalBytes = 0

    public init(limit: Int, masker: SecretMasker) {
        self.limit = limit
        self.masker = masker
    }

    /// Appends a chunk and returns the text that became final (masked), for live streaming.
    public mutating func append(_ bytes: UnsafeRawBufferPointer) -> String? {
        totalBytes += bytes.count
        if masker.isEmpty {
            keep(bytes)
            return bytes.isEmpty ? nil : String(decoding: bytes, as: UTF8.self)
        }
        pendingLine.append(contentsOf: bytes)
        guard let lastNewline = pendingLine.lastIndex(of: 0x0A) else {
            if pendingLine.count > 4096 { return flushPending() }
            return nil
        }
        let complete = Array(pendingLine[...lastNewline])
        pendingLine.removeFirst(lastNewline + 1)
        let text = masker.mask(String(decoding: complete, as: UTF8.self))
        keep(Array(text.utf8))
        return text
    }

    /// Whatever is still held back (at the end of an attempt).
    public mutating func flushPending() -> String? {
        guard !pendingLine.isEmpty else { return nil }
        let text = masker.mask(String(decoding: pendingLine, as: UTF8.self))
        pendingLine.removeAll()
        keep(Array(text.utf8))
        return text
    }

    private mutating func keep(_ bytes: some Collection<UInt8>) {
        guard limit > 0 else {
            droppedBytes += bytes.count
            return
        }
        kept.append(contentsOf: bytes)
        if kept.count > 2 * limit {
            let excess = kept.count - limit
            kept.removeFirst(excess)
            droppedBytes += excess
        }
    }

    public var snapshot: Snapshot {
        var snapshot = Snapshot()
        var bytes = kept
        var dropped = droppedBytes
        if bytes.count > limit {
            dropped += bytes.count - limit
            bytes.removeFirst(bytes.count - limit)
        }
        // Do not start in the middle of a UTF-8 sequence.
        while let first = bytes.first, first & 0xC0 == 0x80 {
            bytes.removeFirst()
            dropped += 1
        }
        snapshot.text = String(decoding: bytes, as: UTF8.self)
        snapshot.droppedBytes = dropped
        snapshot.totalBytes = totalBytes
        return snapshot
    }
}
