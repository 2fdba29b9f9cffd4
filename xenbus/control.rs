// SPDX-License-Identifier: GPL-2.0
//! Toolstack requests through `control/`, after Linux's `drivers/xen/manage.c`:
//! - `control/shutdown` = `poweroff` | `halt` → `orderly_poweroff(false)` (runs
//!   `/proc/sys/kernel/poweroff_cmd`), `reboot` → `orderly_reboot()`, `suspend` (`xl save`,
//!   `xl save -c`, `xl migrate`) → `suspend.rs`, run here in the watch callback as Linux runs
//!   `do_suspend` in its xenwatch thread. The request is acknowledged by writing an empty value
//!   in a transaction, as Linux does.
//! - `control/sysrq` = one key → `handle_sysrq(key)`, acknowledged by writing `"\0"`.
//! - `control/feature-poweroff`, `feature-reboot` and `feature-suspend` are set to `1` (as
//!   manage.c does for the requests it handles), so `xl shutdown`/`xl reboot` use this path
//!   instead of ACPI.

use crate::sys;
use crate::xs::{self, trim, Xs};
use core::ffi::c_void;
use kernel::prelude::*;

/// The watches of the control node; dropping needs the connection, see [`Control::shutdown`].
pub(crate) struct Control {
    shutdown: Option<u64>,
    sysrq: Option<u64>,
}

enum Req {
    Poweroff,
    Reboot,
    Suspend,
    Unknown,
}

/// `control/shutdown` watch.
///
/// # Safety
/// Called by the watch dispatcher only (a [`crate::xs::WatchCb`]): `path` valid for `len` bytes,
/// `data` as registered.
unsafe extern "C" fn shutdown_cb(_path: *const u8, _len: usize, _data: *mut c_void) {
    let Some(xs) = xs::get() else { return };
    let mut what = [0u8; 16];
    let mut wlen = 0usize;
    // Read and clear in one transaction (manage.c: shutdown_handler), retried on EAGAIN.
    let r = xs.transaction(|tx| {
        let v = match xs.read(tx, b"control/shutdown") {
            Ok(v) => v,
            Err(e) if e == ENOENT => {
                wlen = 0;
                return Ok(());
            }
            Err(e) => return Err(e),
        };
        let v = trim(v.payload());
        wlen = v.len().min(what.len());
        what[..wlen].copy_from_slice(&v[..wlen]);
        if v.is_empty() {
            return Ok(());
        }
        xs.write(tx, b"control/shutdown", b"")
    });
    if let Err(e) = r {
        pr_err!(
            "control/shutdown: cannot read/acknowledge: errno {}\n",
            -e.to_errno()
        );
        return;
    }
    let v = &what[..wlen];
    if v.is_empty() {
        return;
    }
    let req = match v {
        b"poweroff" | b"halt" => Req::Poweroff,
        b"reboot" => Req::Reboot,
        b"suspend" => Req::Suspend,
        _ => Req::Unknown,
    };
    let name = core::str::from_utf8(v).unwrap_or("?");
    match req {
        Req::Poweroff => {
            pr_info!(
                "control/shutdown: {}: powering off (orderly_poweroff)\n",
                name
            );
            sys::poweroff();
        }
        Req::Reboot => {
            pr_info!("control/shutdown: reboot: rebooting (orderly_reboot)\n");
            sys::reboot();
        }
        Req::Suspend => {
            pr_info!("control/shutdown: suspend\n");
            crate::suspend::run(xs);
        }
        Req::Unknown => pr_err!("control/shutdown: unknown request {:?} ignored\n", name),
    }
}

/// `control/sysrq` watch.
///
/// # Safety
/// Called by the watch dispatcher only (a [`crate::xs::WatchCb`]): `path` valid for `len` bytes,
/// `data` as registered.
unsafe extern "C" fn sysrq_cb(_path: *const u8, _len: usize, _data: *mut c_void) {
    let Some(xs) = xs::get() else { return };
    let mut key = 0u8;
    let r = xs.transaction(|tx| {
        key = match xs.read(tx, b"control/sysrq") {
            Ok(v) => v.payload().first().copied().unwrap_or(0),
            Err(e) if e == ENOENT => 0,
            Err(e) => return Err(e),
        };
        if key == 0 {
            return Ok(());
        }
        xs.write(tx, b"control/sysrq", b"\0")
    });
    if let Err(e) = r {
        pr_err!(
            "control/sysrq: cannot read/acknowledge: errno {}\n",
            -e.to_errno()
        );
        return;
    }
    if key != 0 {
        pr_info!("control/sysrq: key {:?}\n", key as char);
        if !sys::sysrq(key) {
            pr_err!("control/sysrq: this kernel has no magic SysRq\n");
        }
    }
}

impl Control {
    /// Advertises the features and watches `control/shutdown` and `control/sysrq`.
    /// Failures are logged (the guest then only reacts to ACPI); never fatal.
    pub(crate) fn new(xs: &Xs) -> Self {
        for f in [
            &b"control/feature-poweroff"[..],
            b"control/feature-reboot",
            b"control/feature-suspend",
        ] {
            if let Err(e) = xs.write(0, f, b"1") {
                pr_err!(
                    "cannot write {}: errno {}\n",
                    core::str::from_utf8(f).unwrap_or("?"),
                    -e.to_errno()
                );
            }
        }
        // SAFETY: the callbacks use no data and reach xenstore through the live connection.
        let shutdown =
            match unsafe { xs.watch(b"control/shutdown", shutdown_cb, core::ptr::null_mut()) } {
                Ok(t) => Some(t),
                Err(e) => {
                    pr_err!("cannot watch control/shutdown: errno {}\n", -e.to_errno());
                    None
                }
            };
        // SAFETY: as above.
        let sysrq = match unsafe { xs.watch(b"control/sysrq", sysrq_cb, core::ptr::null_mut()) } {
            Ok(t) => Some(t),
            Err(e) => {
                pr_err!("cannot watch control/sysrq: errno {}\n", -e.to_errno());
                None
            }
        };
        if shutdown.is_some() {
            pr_info!(
                "control: watching control/shutdown (poweroff, reboot, halt) and control/sysrq\n"
            );
        }
        Control { shutdown, sysrq }
    }

    /// Removes the watches.
    pub(crate) fn shutdown(mut self, xs: &Xs) {
        if let Some(t) = self.shutdown.take() {
            xs.unwatch(b"control/shutdown", t);
        }
        if let Some(t) = self.sysrq.take() {
            xs.unwatch(b"control/sysrq", t);
        }
    }
}
