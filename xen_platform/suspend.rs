// SPDX-License-Identifier: GPL-2.0
//! Suspend for save/restore, checkpoint and migration: the hypervisor side of Linux's
//! `do_suspend` (`drivers/xen/manage.c` `xen_suspend`, `arch/x86/xen/suspend_hvm.c`
//! `xen_hvm_post_suspend`), exported as `xpv_platform_suspend` (`abi.rs`). xenbus orchestrates:
//! it quiesces the frontends and xenstore first and resumes them after.
//!
//! On CPU 0 with every other CPU stopped and interrupts off (`stop_machine`), the
//! `SCHEDOP_shutdown(SHUTDOWN_suspend)` hypercall, during which the toolstack saves the domain,
//! then:
//! - returned 0, a new domain (`xl restore`, the receiving end of `xl migrate`): the shared info
//!   page placed again at its guest frame (the mapping is of that frame, so it stays valid), the
//!   event callback set again (`HVM_PARAM_CALLBACK_IRQ`), every event channel forgotten and
//!   masked, per-vCPU upcall vectors registered again (`events::resume_new_domain`), the grant
//!   table frames placed again (`gnttab::resume_new_domain`);
//! - returned 1, cancelled (`xl save -c`, a failed save or migration): the same domain goes on
//!   with its ports, grants and backends; only the callback parameter is written again, as Linux
//!   does.
//!
//! Back in process context, after a new domain: the emulated devices are unplugged again (a new
//! device model) and the wall clock is set from Xen's, since the domain was paused for as long
//! as the save file waited.
//!
//! Unlike Linux, no `syscore_suspend`/`syscore_resume`: they exist only with `CONFIG_PM_SLEEP`,
//! which a guest kernel may lack (the test bed's does), and an HVM guest does not need them here:
//! Xen's HVM save record carries the local APIC, IO-APIC, PIC, HPET and RTC state and the
//! vCPUs' TSC (restored to its saved value, so monotonic time goes on from where it stopped, as
//! timekeeping_resume would make it); the one thing the restored kernel lacks is the wall time
//! that passed, set here from Xen's wall clock.

use core::ffi::c_void;
use core::sync::atomic::{AtomicI32, AtomicI64, AtomicU32, AtomicU64, Ordering};

use kernel::prelude::*;

use crate::abi;
use crate::events;
use crate::gnttab;
use crate::hvm;
use crate::hypercall;
use crate::sys;

/// The shared info page's guest frame and the `HVM_PARAM_CALLBACK_IRQ` value, recorded by the
/// device's set-up (0: not set up).
static SHARED_GPFN: AtomicU64 = AtomicU64::new(0);
static CALLBACK_PARAM: AtomicU64 = AtomicU64::new(0);
/// Suspends done, for the log.
static COUNT: AtomicU32 = AtomicU32::new(0);

/// Records what a resume must set up again (called by the platform device's set-up).
pub(crate) fn record(shared_gpfn: u64, callback_param: u64) {
    SHARED_GPFN.store(shared_gpfn, Ordering::Relaxed);
    CALLBACK_PARAM.store(callback_param, Ordering::Relaxed);
}

/// What the stopped-machine callback found; read after `stop_machine` returned. Errors are
/// negative errnos, 0 for none (no printk while the machine is stopped).
#[derive(Default)]
struct Outcome {
    /// The hypercall's return: 0 new domain, 1 cancelled, negative: failed (treated as
    /// cancelled: the domain did not move).
    hypercall: AtomicI32,
    shared_info: AtomicI32,
    callback: AtomicI32,
    grant_frames: AtomicI32,
    handlers_dropped: AtomicU32,
    /// How far the `xen` clocksource's record had moved (ns), absorbed (`clock.rs`).
    clock_jump: AtomicI64,
}

/// The `stop_machine` callback (helpers.c), on CPU 0, the other CPUs stopped, interrupts off.
///
/// # Safety
/// `data` is the `Outcome` that `xpv_platform_suspend` passed to `sys::suspend::stop_machine_cpu0`.
#[no_mangle]
pub(crate) unsafe extern "C" fn xpv_suspend_on_cpu0(data: *mut c_void) -> kernel::ffi::c_int {
    // SAFETY: the caller's contract: a live `Outcome`, only read through shared references.
    let out = unsafe { &*(data as *const Outcome) };
    let ret = match hypercall::sched_shutdown_suspend() {
        Ok(0) => 0,
        Ok(_) => 1,
        Err(e) => e.to_neg(),
    };
    out.hypercall.store(ret, Ordering::Relaxed);
    if ret == 0 {
        let mut x = hvm::XenAddToPhysmap::shared_info(SHARED_GPFN.load(Ordering::Relaxed));
        if let Err(e) = hypercall::add_to_physmap(&mut x) {
            out.shared_info.store(e.to_neg(), Ordering::Relaxed);
        }
    }
    if let Err(e) = hypercall::hvm_set_param(
        hvm::param::CALLBACK_IRQ,
        CALLBACK_PARAM.load(Ordering::Relaxed),
    ) {
        out.callback.store(e.to_neg(), Ordering::Relaxed);
    }
    if ret == 0 {
        out.handlers_dropped
            .store(events::resume_new_domain(), Ordering::Relaxed);
        match gnttab::resume_new_domain() {
            Ok(n) => out.grant_frames.store(n as i32, Ordering::Relaxed),
            Err(e) => out.grant_frames.store(e.to_neg(), Ordering::Relaxed),
        }
        out.clock_jump.store(sys::clock_resume(), Ordering::Relaxed);
    }
    0
}

/// `xpv_platform_suspend` of `abi.rs`.
#[no_mangle]
pub(crate) extern "C" fn xpv_platform_suspend() -> i32 {
    if !crate::xen_detected() {
        return -abi::ENODEV;
    }
    if !events::ready() || SHARED_GPFN.load(Ordering::Relaxed) == 0 {
        pr_err!("suspend: the platform device is not set up: refused\n");
        return -abi::EAGAIN;
    }
    let n = COUNT.fetch_add(1, Ordering::Relaxed) + 1;
    let out = Outcome::default();
    let r = sys::suspend::stop_machine_cpu0(&out);
    if r != 0 {
        pr_err!(
            "suspend {}: stop_machine failed (errno {}): not suspended\n",
            n,
            -r
        );
        return r;
    }
    let hc = out.hypercall.load(Ordering::Relaxed);
    let cb = out.callback.load(Ordering::Relaxed);
    if cb != 0 {
        pr_err!(
            "suspend {}: HVM_PARAM_CALLBACK_IRQ could not be set again (errno {}): no events\n",
            n,
            -cb
        );
    }
    if hc != 0 {
        if hc < 0 {
            pr_err!(
                "suspend {}: SCHEDOP_shutdown(SHUTDOWN_suspend) failed (errno {}): going on\n",
                n,
                -hc
            );
        } else {
            pr_info!(
                "suspend {}: cancelled (checkpoint): same domain, going on\n",
                n
            );
        }
        return abi::SUSPEND_CANCELLED;
    }
    let si = out.shared_info.load(Ordering::Relaxed);
    if si != 0 {
        pr_err!(
            "suspend {}: shared info page could not be placed again (errno {}): events are broken\n",
            n,
            -si
        );
    }
    let gf = out.grant_frames.load(Ordering::Relaxed);
    if gf < 0 {
        pr_err!(
            "suspend {}: grant table frames could not be placed again (errno {}): grants are broken\n",
            n,
            -gf
        );
    }
    if events::VECTOR_FAILED.swap(false, Ordering::Relaxed) {
        pr_err!(
            "suspend {}: a vCPU's upcall vector could not be registered again\n",
            n
        );
    }
    let unplug = crate::unplug_again();
    let (before, _) = sys::suspend::wall_clock();
    let clock = match events::xen_wallclock() {
        Some((sec, nsec)) => match sys::suspend::set_wall_clock(sec, nsec) {
            Ok(()) => Some(sec - before),
            Err(e) => {
                pr_err!("resume: cannot set the wall clock: {:?}\n", e);
                None
            }
        },
        None => {
            pr_err!("resume: Xen's wall clock is unreadable: clock not set\n");
            None
        }
    };
    pr_info!(
        "suspend {}: resumed in a new domain: {} event channel handler(s) dropped, {} grant frame(s) placed again, unplug {:#x}, wall clock {}{} s, xen clocksource record moved {} ms (absorbed)\n",
        n,
        out.handlers_dropped.load(Ordering::Relaxed),
        gf.max(0),
        unplug.unwrap_or(0),
        if clock.is_some() { "moved by " } else { "not set, " },
        clock.unwrap_or(0),
        out.clock_jump.load(Ordering::Relaxed) / 1_000_000
    );
    abi::SUSPEND_RESUMED
}
