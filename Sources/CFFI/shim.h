/* libffi (Debian's libffi-dev), for the native executor. Swift 6 rejects C mutable
 * globals such as ffi_type_double, so the types are reached through these accessors. */
#include <ffi.h>

static inline ffi_type *cffi_type_void(void) { return &ffi_type_void; }
static inline ffi_type *cffi_type_sint32(void) { return &ffi_type_sint32; }
static inline ffi_type *cffi_type_sint64(void) { return &ffi_type_sint64; }
static inline ffi_type *cffi_type_double(void) { return &ffi_type_double; }
static inline ffi_type *cffi_type_pointer(void) { return &ffi_type_pointer; }
static inline ffi_type *cffi_type_uint8(void) { return &ffi_type_uint8; }
