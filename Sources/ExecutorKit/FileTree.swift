#if canImport(Glibc)
import Glibc
#endif

/// `rm -rf` for a folder a plugin made (an attempt's files, a container bundle): descends
/// into folders, never follows a symbolic link, and never crosses into another file system
/// (a mount a runtime left behind stays as it is).
public enum FileTree {
    public static func remove(_ path: String) {
        var info = stat()
        guard lstat(path, &info) == 0 else { return }
        remove(path, info: info, device: info.st_dev)
    }

    private static func remove(_ path: String, info: stat, device: dev_t) {
        guard (info.st_mode & S_IFMT) == S_IFDIR else {
            unlink(path)
            return
        }
        guard info.st_dev == device else { return }
        if let dir = opendir(path) {
            var names: [String] = []
            while let entry = readdir(dir) {
                let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                    raw.bindMemory(to: CChar.self).baseAddress.map { String(cString: $0) } ?? ""
                }
                if !name.isEmpty && name != "." && name != ".." { names.append(name) }
            }
            closedir(dir)
            for name in names {
                var child = stat()
                if lstat(path + "/" + name, &child) == 0 { remove(path + "/" + name, info: child, device: device) }
            }
        }
        rmdir(path)
    }
}
