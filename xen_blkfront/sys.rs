// SPDX-License-Identifier: GPL-2.0
//! The one place where xen_blkfront touches raw kernel bindings: our bindgen output
//! (`bindings_gen.rs`, from `bindings.h`) and safe wrappers over it.

use core::ffi::CStr;
use kernel::prelude::*;

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
mod b {
    use kernel::ffi;
    type __kernel_size_t = usize;
    type __kernel_ssize_t = isize;
    type __kernel_ptrdiff_t = isize;
    include!("bindings_gen.rs");
}

/// A block device major number reserved with `__register_blkdev`; released on drop.
pub(crate) struct BlkdevMajor {
    major: u32,
    name: &'static CStr,
}

impl BlkdevMajor {
    /// Reserves `major` under `name` (shown in `/proc/devices`).
    pub(crate) fn register(major: u32, name: &'static CStr) -> Result<Self> {
        // SAFETY: `name` is a 'static NUL-terminated string; no probe callback is passed.
        let ret = unsafe { b::__register_blkdev(major, name.as_ptr().cast(), None) };
        if ret < 0 {
            pr_err!(
                "cannot reserve block major {} ({:?}): error {}\n",
                major,
                name,
                ret
            );
            return Err(Error::from_errno(ret));
        }
        Ok(Self { major, name })
    }
}

impl Drop for BlkdevMajor {
    fn drop(&mut self) {
        // SAFETY: `self.major` was registered under `self.name` by `register`.
        unsafe { b::unregister_blkdev(self.major, self.name.as_ptr().cast()) };
    }
}
