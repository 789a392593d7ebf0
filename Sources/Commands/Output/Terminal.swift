import Foundation
#if canImport(Glibc)
import Glibc
#endif

package enum Terminal {
    package static func isTerminal(_ fd: Int32) -> Bool { isatty(fd) == 1 }

    /// The terminal's height and width in characters; `$LINES`/`$COLUMNS`, else 24×80, when
    /// `fd` is not a terminal or does not say.
    package static func rows(_ fd: Int32) -> Int { size(fd).rows }
    package static func columns(_ fd: Int32) -> Int { size(fd).columns }

    private static func size(_ fd: Int32) -> (rows: Int, columns: Int) {
        var window = winsize()
        let asked = ioctl(fd, UInt(TIOCGWINSZ), &window) == 0
        let environment = ProcessInfo.processInfo.environment
        let rows = asked && window.ws_row > 0 ? Int(window.ws_row) : environment["LINES"].flatMap(Int.init) ?? 24
        let columns = asked && window.ws_col > 0 ? Int(window.ws_col) : environment["COLUMNS"].flatMap(Int.init) ?? 80
        return (max(1, rows), max(1, columns))
    }

    package static func paint(_ text: String, _ code: String, _ enabled: Bool) -> String {
        enabled ? "\u{1B}[\(code)m\(text)\u{1B}[0m" : text
    }

    package static func pad(_ text: String, _ width: Int) -> String {
        text.count >= width ? text : text + String(repeating: " ", count: width - text.count)
    }

    package static func seconds(_ milliseconds: Int64) -> String {
        if milliseconds < 1000 { return "\(milliseconds)ms" }
        let tenths = milliseconds / 100
        return "\(tenths / 10).\(tenths % 10)s"
    }
}
