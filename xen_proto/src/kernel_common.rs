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
            clippy::undocumented_unsafe_blocks
        )]
        $($vis)* mod b {
            use kernel::ffi;
            type __kernel_size_t = usize;
            type __kernel_ssize_t = isize;
            type __kernel_ptrdiff_t = isize;
            include!("bindings_gen.rs");
        }
    };
}
