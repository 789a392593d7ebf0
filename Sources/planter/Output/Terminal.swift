#if canImport(Glibc)
import Glibc
#endif

enum Terminal {
    static func isTerminal(_ fd: Int32) -> Bool { isatty(fd) == 1 }

    static func paint(_ text: String, _ code: String, _ enabled: Bool) -> String {
        enabled ? "\u{1B}[\(code)m\(text)\u{1B}[0m" : text
    }

    static func pad(_ text: String, _ width: Int) -> String {
        text.count >= width ? text : text + String(repeating: " ", count: width - text.count)
    }

    static func seconds(_ milliseconds: Int64) -> String {
        if milliseconds < 1000 { return "\(milliseconds)ms" }
        let tenths = milliseconds / 100
        return "\(tenths / 10).\(tenths % 10)s"
    }
}
