// SPDX-License-Identifier: GPL-2.0
//! Xen PV protocol core for the xen-pvhvm-rs frontends: `no_std`, no allocation, no dependencies.
//!
//! Each file is a self-contained module that the kernel modules include with
//! `#[path = "../xen_proto/src/<file>.rs"] mod <file>;`. To keep that possible a file refers to
//! another one only as `super::<file>`, and a kernel module that includes it includes that file too,
//! as a sibling. Host builds (`cargo test`, fuzzers) use this crate root. The `kernel_*.rs`
//! files are the exception: kernel-only code shared by the modules (they name the `kernel`
//! crate), included the same way but not part of this crate.
//!
//! The wire formats follow the Xen headers in the guest kernel tree, `include/xen/interface/`; each
//! file names the header it implements.
#![no_std]
#![forbid(unsafe_op_in_unsafe_fn)]
#![deny(missing_docs)]

pub mod abi;
pub mod abi_client;
pub mod abi_xenbus;
pub mod abi_xenbus_client;
pub mod balloon;
pub mod blkif;
pub mod cpuid;
pub mod evtchn;
pub mod grant;
pub mod granted_pages;
pub mod hvm;
pub mod netif;
pub mod ring;
pub mod unplug;
pub mod vdev;
pub mod xenbus_state;
pub mod xs_dev;
pub mod xs_wire;
