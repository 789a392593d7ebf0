import CFFI
import ExecutorKit
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Shared libraries opened by the native executor, per path or soname as the payload wrote
/// it. Opened with RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE and never closed: a call may have
/// handed out pointers into the library (a returned `const char *`), and unloading code
/// that registered anything (atexit, TLS destructors, Swift metadata) crashes later.
enum Libraries {
    /// Handles as address bits, so the table is Sendable.
    private static let handles = Mutex<[String: UInt]>([:])

    static func open(_ name: String) -> Result<UnsafeMutableRawPointer, PluginError> {
        handles.withLock { handles in
            if let bits = handles[name], let handle = UnsafeMutableRawPointer(bitPattern: bits) {
                return .success(handle)
            }
            _ = dlerror()  // clear any stale message (thread-local in glibc)
            guard let handle = dlopen(name, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE) else {
                let reason = dlerror().map { String(cString: $0) } ?? "unknown dlopen error"
                return .failure(PluginError("payload.library: cannot open \(name): \(reason)"))
            }
            handles[name] = UInt(bitPattern: handle)
            return .success(handle)
        }
    }

    static func symbol(_ symbol: String, in handle: UnsafeMutableRawPointer, library: String)
        -> Result<UnsafeMutableRawPointer, PluginError>
    {
        _ = dlerror()
        guard let address = dlsym(handle, symbol) else {
            let reason = dlerror().map { String(cString: $0) } ?? "the symbol's address is NULL"
            return .failure(PluginError("payload.symbol: \(symbol) not found in \(library): \(reason)"))
        }
        return .success(address)
    }
}

/// Calls a C function through libffi: `ffi_prep_cif` describes the signature, `ffi_call`
/// makes the call. Everything libffi reads during the call lives in memory allocated here
/// and freed only after the call returned: the cif, the argument-types array (which
/// `ffi_prep_cif` keeps a pointer to), the argument values, the C strings and the return slot.
enum FFI {
    static func invoke(_ function: UnsafeMutableRawPointer, _ call: NativeCall) -> Result<JSON, PluginError> {
        let count = call.arguments.count
        let slots = max(count, 1)
        let types = UnsafeMutablePointer<UnsafeMutablePointer<ffi_type>?>.allocate(capacity: slots)
        let values = UnsafeMutablePointer<UnsafeMutableRawPointer?>.allocate(capacity: slots)
        // One 8-byte, 16-aligned slot per argument: every supported type fits.
        let storage = UnsafeMutableRawPointer.allocate(byteCount: slots * 8, alignment: 16)
        // Big enough for ffi_arg, double and a pointer; libffi widens small integer returns to ffi_arg.
        let returnSlot = UnsafeMutableRawPointer.allocate(byteCount: 16, alignment: 16)
        let cif = UnsafeMutablePointer<ffi_cif>.allocate(capacity: 1)
        var strings: [UnsafeMutablePointer<CChar>] = []
        defer {
            for string in strings { free(string) }
            cif.deallocate()
            returnSlot.deallocate()
            storage.deallocate()
            values.deallocate()
            types.deallocate()
        }
        storage.initializeMemory(as: UInt8.self, repeating: 0, count: slots * 8)
        returnSlot.initializeMemory(as: UInt8.self, repeating: 0, count: 16)

        for (index, argument) in call.arguments.enumerated() {
            let slot = storage + index * 8
            switch argument {
            case .int(let value):
                types[index] = cffi_type_sint32()
                slot.storeBytes(of: value, as: Int32.self)
            case .int64(let value):
                types[index] = cffi_type_sint64()
                slot.storeBytes(of: value, as: Int64.self)
            case .double(let value):
                types[index] = cffi_type_double()
                slot.storeBytes(of: value, as: Double.self)
            case .string(let value):
                types[index] = cffi_type_pointer()
                var pointer: UnsafeMutablePointer<CChar>? = nil
                if let value {
                    guard let copy = strdup(value) else {
                        return .failure(PluginError("out of memory copying payload.args[\(index)].value"))
                    }
                    strings.append(copy)
                    pointer = copy
                }
                slot.storeBytes(of: pointer, as: UnsafeMutablePointer<CChar>?.self)
            case .bool(let value):
                types[index] = cffi_type_uint8()  // C's bool is one byte
                slot.storeBytes(of: value ? 1 : 0, as: UInt8.self)
            }
            values[index] = slot
        }

        let returnType: UnsafeMutablePointer<ffi_type>
        switch call.returns {
        case .void: returnType = cffi_type_void()
        case .int: returnType = cffi_type_sint32()
        case .int64: returnType = cffi_type_sint64()
        case .double: returnType = cffi_type_double()
        case .string: returnType = cffi_type_pointer()
        case .bool: returnType = cffi_type_uint8()
        }

        let status = ffi_prep_cif(cif, FFI_DEFAULT_ABI, UInt32(count), returnType, types)
        guard status == FFI_OK else {
            return .failure(PluginError("ffi_prep_cif rejected the signature \(call.signature) (status \(status.rawValue))"))
        }
        let entry = unsafeBitCast(function, to: (@convention(c) () -> Void).self)
        ffi_call(cif, entry, returnSlot, values)

        switch call.returns {
        case .void:
            return .success(.null)
        case .int:
            // Widened to ffi_arg: the low 32 bits are the int.
            return .success(.int(Int64(Int32(truncatingIfNeeded: returnSlot.load(as: UInt64.self)))))
        case .int64:
            return .success(.int(returnSlot.load(as: Int64.self)))
        case .double:
            let value = returnSlot.load(as: Double.self)
            if value.isFinite { return .success(.double(value)) }
            return .success(.string(value.isNaN ? "nan" : value > 0 ? "inf" : "-inf"))
        case .string:
            guard let pointer = returnSlot.load(as: UnsafePointer<CChar>?.self) else { return .success(.null) }
            let bytes = UnsafeBufferPointer(start: UnsafeRawPointer(pointer).assumingMemoryBound(to: UInt8.self),
                                            count: strlen(pointer))
            return .success(.string(String(decoding: bytes, as: UTF8.self)))
        case .bool:
            return .success(.bool(returnSlot.load(as: UInt64.self) & 0xff != 0))
        }
    }
}
