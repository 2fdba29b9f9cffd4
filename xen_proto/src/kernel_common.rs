// SPDX-License-Identifier: GPL-2.0
//! Declarations the kernel modules would otherwise repeat, written once as macros: the bindgen
//! module, the `xen_proto` files of the C ABI between our modules and those both frontends use. Kernel-only (not part of the host crate: it names
//! the `kernel` crate); a module's crate root includes it first:
//!
//! ```ignore
//! #[macro_use]
//! #[path = "../xen_proto/src/kernel_common.rs"]
//! mod kernel_common;
//! ```

/// The one error conversion: an [`Errno`](crate::abi::Errno) from our C ABI (`abi_client`,
/// `abi_xenbus_client`, `granted_pages`) becomes the kernel's `Error` with `?`. Every module
/// declares `abi` at its crate root (through [`abi_modules`] or, in `xen_platform`, itself).
impl From<crate::abi::Errno> for kernel::error::Error {
    fn from(e: crate::abi::Errno) -> Self {
        // `Errno` holds -4095..=-1 only (`Errno::from_ret`), which `from_errno` keeps as it is.
        kernel::error::Error::from_errno(e.to_neg())
    }
}

/// The other way, for the calls that hand an error to the C side (`XenbusDevice::fatal`).
impl From<kernel::error::Error> for crate::abi::Errno {
    fn from(e: kernel::error::Error) -> Self {
        crate::abi::Errno::from_ret(e.to_errno())
    }
}

/// Declares, at the crate root, the `xen_proto` files of the C ABI between our modules: `abi`
/// (the shared structs and errnos), `abi_client` (xen_platform's services: grants, event
/// channels, work items) and `abi_xenbus` (what xenbus exports); with `client`, also
/// `abi_xenbus_client` (the wrappers a user of xenbus calls: xen_balloon and the frontends). The
/// paths are relative to the invoking crate root, one directory below the tree's top as every
/// module is. (xen_platform, the provider of `abi_client`, declares `abi` itself.)
#[allow(unused_macros)]
macro_rules! abi_modules {
    () => {
        #[allow(unreachable_pub, dead_code)]
        #[path = "../xen_proto/src/abi.rs"]
        mod abi;
        #[allow(unreachable_pub, dead_code)]
        #[path = "../xen_proto/src/abi_client.rs"]
        mod abi_client;
        #[allow(unreachable_pub, dead_code)]
        #[path = "../xen_proto/src/abi_xenbus.rs"]
        mod abi_xenbus;
    };
    (client) => {
        abi_modules!();
        #[allow(unreachable_pub, dead_code)]
        #[path = "../xen_proto/src/abi_xenbus_client.rs"]
        mod abi_xenbus_client;
    };
}

/// Declares, at the crate root, what both frontends (xen_blkfront, xen_netfront) include: the
/// ABI modules of a client ([`abi_modules`]`!(client)`), the protocol files they share (`grant`,
/// `granted_pages`, `ring`, `unplug`, `xenbus_state`, `xs_wire`) and `kernel_frontend` (their
/// shared kernel-side code). Each adds its own protocol (`blkif`, `vdev`; `netif`).
#[allow(unused_macros)]
macro_rules! frontend_modules {
    () => {
        abi_modules!(client);
        #[allow(unreachable_pub, dead_code)]
        #[path = "../xen_proto/src/grant.rs"]
        mod grant;
        #[allow(unreachable_pub, dead_code)]
        #[path = "../xen_proto/src/granted_pages.rs"]
        mod granted_pages;
        #[path = "../xen_proto/src/kernel_frontend.rs"]
        mod kernel_frontend;
        #[allow(unreachable_pub, dead_code)]
        #[path = "../xen_proto/src/ring.rs"]
        mod ring;
        #[allow(unreachable_pub, dead_code)]
        #[path = "../xen_proto/src/unplug.rs"]
        mod unplug;
        #[allow(unreachable_pub, dead_code)]
        #[path = "../xen_proto/src/xenbus_state.rs"]
        mod xenbus_state;
        #[allow(unreachable_pub, dead_code)]
        #[path = "../xen_proto/src/xs_wire.rs"]
        mod xs_wire;
    };
}

/// Declares module `b` holding the module's bindgen output, `bindings_gen.rs` (generated from
/// its `bindings.h` by `scripts/Kbuild.bindgen`, next to the `sys.rs` that invokes this macro:
/// `include!` resolves from the outermost call site), with the lints that generated code cannot
/// meet turned off. The `__kernel_*_t` aliases are the ones `rust/bindgen_parameters` blocks
/// (the kernel's `ffi` types map them). Only `sys.rs` invokes it: the bindings stay behind that
/// module's safe wrappers. `bindgen_module!(pub(crate))` makes `b` visible to the crate.
macro_rules! bindgen_module {
    ($($vis:tt)*) => {
        #[allow(
            non_camel_case_types,
            non_upper_case_globals,
            non_snake_case,
            dead_code,
            improper_ctypes,
            unreachable_pub,
            unsafe_op_in_unsafe_fn,
            missing_docs,
            clippy::all,
            clippy::undocumented_unsafe_blocks,
            // Lints 7.x's kernel turns on for all Rust code (as its own bindings allow them).
            clippy::as_underscore,
            clippy::cast_lossless,
            clippy::ptr_as_ptr,
            clippy::ref_as_ptr
        )]
        $($vis)* mod b {
            use kernel::ffi;
            // 7.x's `rust/bindgen_parameters` derive `MaybeZeroable` on every struct.
            #[cfg(xpv_linux7)]
            #[allow(unused_imports)]
            use pin_init::MaybeZeroable;
            type __kernel_size_t = usize;
            type __kernel_ssize_t = isize;
            type __kernel_ptrdiff_t = isize;
            include!("bindings_gen.rs");
        }
    };
}

/// `module!` with the project's author and license, in the syntax of the kernel the module is
/// built for: 6.12's macro takes `author: "..."`, 7.x's `authors: ["..."]` (cfg `xpv_linux7`,
/// set by `scripts/Kbuild.bindgen`). `alias` lists modaliases, as `module!`'s.
#[allow(unused_macros)]
macro_rules! xpv_module {
    (type: $t:ident, name: $n:tt, description: $d:tt $(, alias: [$($a:tt),* $(,)?])? $(,)?) => {
        #[cfg(not(xpv_linux7))]
        kernel::prelude::module! {
            type: $t,
            name: $n,
            author: "xen-pvhvm-rs developers",
            description: $d,
            license: "GPL",
            $(alias: [$($a),*],)?
        }
        #[cfg(xpv_linux7)]
        kernel::prelude::module! {
            type: $t,
            name: $n,
            authors: ["xen-pvhvm-rs developers"],
            description: $d,
            license: "GPL",
            $(alias: [$($a),*],)?
        }
    };
}

/// Makes types that implement `core::fmt::Display` printable with `{}` in `pr_*!`: 7.x's
/// formatting macros take the kernel's own `kernel::fmt::Display` (6.12's take core's, so this
/// expands to nothing there).
#[allow(unused_macros)]
macro_rules! kernel_display {
    ($($t:ty),+ $(,)?) => {
        $(
            #[cfg(xpv_linux7)]
            impl kernel::fmt::Display for $t {
                fn fmt(&self, f: &mut kernel::fmt::Formatter<'_>) -> kernel::fmt::Result {
                    core::fmt::Display::fmt(self, f)
                }
            }
        )+
    };
}

kernel_display!(crate::abi::Errno);

/// A C string's bytes without its NUL, by 7.x's name (`to_bytes`, core's `CStr`) on 6.12 too,
/// whose `kernel::str::CStr` calls it `as_bytes`. In scope through
/// `use crate::kernel_common::CStrCompat as _;` (unused, hence allowed, on 7.x).
#[cfg(not(xpv_linux7))]
#[allow(dead_code)]
pub(crate) trait CStrCompat {
    /// The bytes before the terminating NUL.
    fn to_bytes(&self) -> &[u8];
}

#[cfg(not(xpv_linux7))]
impl CStrCompat for kernel::str::CStr {
    fn to_bytes(&self) -> &[u8] {
        self.as_bytes()
    }
}

/// 7.x has nothing to add: `to_bytes` is `core::ffi::CStr`'s own.
#[cfg(xpv_linux7)]
#[allow(dead_code)]
pub(crate) trait CStrCompat {}

/// The user buffer of `len` bytes at user address `addr` (a `read`/`write` file operation's
/// `buf`): 7.x's `UserSlice::new` takes a `UserPtr`, 6.12's the address itself.
#[allow(dead_code)]
pub(crate) fn user_slice(addr: usize, len: usize) -> kernel::uaccess::UserSlice {
    #[cfg(xpv_linux7)]
    let addr = kernel::uaccess::UserPtr::from_addr(addr);
    kernel::uaccess::UserSlice::new(addr, len)
}

/// Shortens `v` to `len` elements (no-op if it is not longer): 7.x's `KVec::truncate`; the 6.12
/// `KVec` has none, so there the length is set down (`T: Copy`, so nothing needs dropping).
#[allow(dead_code)]
pub(crate) fn kvec_truncate<T: Copy>(v: &mut kernel::alloc::KVec<T>, len: usize) {
    #[cfg(xpv_linux7)]
    v.truncate(len);
    #[cfg(not(xpv_linux7))]
    if len < v.len() {
        // SAFETY: `T: Copy` needs no drop and `len` is below the current length, so the first
        // `len` elements stay initialised.
        unsafe { v.set_len(len) };
    }
}

/// The `SKB_GSO_*` bits of `skb_shared_info.gso_type` (`include/linux/skbuff.h`) as the `u32`
/// that field is: 7.x's kernel bindings type their enum `i32`, 6.12's `u32` (the values are small
/// and positive on both).
#[allow(dead_code, clippy::unnecessary_cast)]
pub(crate) mod skb_gso {
    /// TCP over IPv4 segmentation.
    pub(crate) const TCPV4: u32 = kernel::bindings::SKB_GSO_TCPV4 as u32;
    /// TCP over IPv6 segmentation.
    pub(crate) const TCPV6: u32 = kernel::bindings::SKB_GSO_TCPV6 as u32;
    /// The packet's GSO header comes from an untrusted source (here: the backend).
    pub(crate) const DODGY: u32 = kernel::bindings::SKB_GSO_DODGY as u32;
}

/// `s` as the `const char *` a C function takes. For `core::ffi::CStr`s (C-string literals):
/// 7.x's clippy configuration steers `CStr::as_ptr` to the kernel's `as_char_ptr`, which 6.12's
/// `core::ffi::CStr` lacks; the pointer is the same.
#[allow(dead_code, clippy::disallowed_methods)]
pub(crate) fn c_ptr(s: &core::ffi::CStr) -> *const core::ffi::c_char {
    s.as_ptr()
}

/// The NUL-terminated string at `p`, borrowed (the counterpart of [`c_ptr`], for the same
/// reason).
///
/// # Safety
/// `p` points to a NUL-terminated string that stays valid and unchanged for `'a`.
#[allow(dead_code, clippy::disallowed_methods)]
pub(crate) unsafe fn cstr_from_ptr<'a>(p: *const core::ffi::c_char) -> &'a core::ffi::CStr {
    // SAFETY: as the caller promises.
    unsafe { core::ffi::CStr::from_ptr(p) }
}
