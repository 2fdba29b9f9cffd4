// SPDX-License-Identifier: GPL-2.0
//! Suspend for `xl save`, `xl save -c` and `xl migrate` (`control/shutdown = suspend`), after
//! Linux's `do_suspend` (`drivers/xen/manage.c`) and xenbus's suspend/resume
//! (`drivers/xen/xenbus/xenbus_probe.c`, `xenbus_xs.c`). Runs in the control watch's callback,
//! so no other watch callback runs meanwhile (the dispatcher is ours until we return):
//!
//! 1. refused (a `pr_err`, the guest goes on) if a bound frontend driver cannot suspend;
//! 2. each bound frontend's `suspend`: its rings get no new work (requests in flight are kept);
//! 3. xenstore quiesced: new requests wait, those in flight get their replies ([`Xs::suspend`]);
//! 4. `xen_platform` suspends the domain (`abi_client::platform_suspend`): the toolstack saves
//!    it; we come back in a new domain (restore, migration) or cancelled (checkpoint);
//! 5. xenstore resumed: in a new domain its port is bound again and every watch registered again,
//!    which fires each once ([`Xs::resume`]);
//! 6. each frontend's `resume`: cancelled, it carries on; in a new domain, our state is
//!    Initialising (the toolstack made our nodes anew) and it reconnects to its new backend
//!    when the backend-state watch (queued in 5) reports InitWait.
//!
//! Any failure before 4 resumes what was suspended as cancelled, and the guest keeps running.
//! In a new domain each device's backend path is read again (it names the new domid) and its
//! backend-state watch moved there (`bus::resume_otherend`); the backend's domain must be the
//! same as before.

use core::sync::atomic::Ordering;

use kernel::prelude::*;

use crate::abi_client;
use crate::abi_xenbus::XenbusFrontendDriver;
use crate::bus::{Dev, BUS};
use crate::frontend::handle;
use crate::xenbus_state::XenbusState;
use crate::xs::Xs;

/// Suspends done, for the log.
static COUNT: core::sync::atomic::AtomicU32 = core::sync::atomic::AtomicU32::new(0);

fn name(d: &Dev) -> &str {
    d.nodename.to_str().unwrap_or("?")
}

/// Calls `resume(cancelled)` of the driver bound to each of `devs`; in a new domain, each
/// device's backend path is read again first (`bus::resume_otherend`).
fn resume_all(xs: &Xs, devs: &[Option<Pin<KBox<Dev>>>], cancelled: bool) {
    for d in devs.iter().flatten() {
        if !cancelled {
            crate::bus::resume_otherend(xs, d);
        }
        let g = d.drv.lock();
        let Some(drv) = g.get() else { continue };
        if !cancelled {
            // libxl wrote our state node afresh (Initialising); the driver switches from there.
            d.state
                .store(XenbusState::Initialising as u32, Ordering::Release);
            d.dev.set_state(XenbusState::Initialising as u32);
        }
        if let Some(resume) = drv.resume {
            // SAFETY: a bound device (its handle lives until `remove`, which cannot run: we hold
            // its `drv` lock), with its driver's context.
            unsafe { resume(handle(d), u32::from(cancelled), drv.ctx) };
        }
    }
}

fn driver_name(drv: &XenbusFrontendDriver) -> &str {
    crate::abi_xenbus::field_str(&drv.name).unwrap_or("?")
}

/// Handles `control/shutdown = suspend` (already acknowledged). Never fails: a suspend that
/// cannot be done is refused with a `pr_err`, and the guest goes on.
pub(crate) fn run(xs: &Xs) {
    let n = COUNT.fetch_add(1, Ordering::Relaxed) + 1;
    // SAFETY: `BUS` is null or the registered bus, which lives until xenbus unloads (after the
    // control watch, whose callback this is, was removed).
    let Some(inner) = (unsafe { BUS.load(Ordering::Acquire).as_ref() }) else {
        pr_err!("suspend {}: refused: the xen bus is not registered\n", n);
        return;
    };
    // Held throughout: no device comes or goes (hotplug scans run in the watch dispatcher,
    // which is ours anyway; a driver registering waits).
    let devs = inner.devs.lock();
    for d in devs.iter().flatten() {
        let g = d.drv.lock();
        if let Some(drv) = g.get() {
            if drv.suspend.is_none() || drv.resume.is_none() {
                pr_err!(
                    "suspend {}: refused: driver {} of {} cannot suspend; the guest goes on\n",
                    n,
                    driver_name(drv),
                    name(d)
                );
                return;
            }
        }
    }
    pr_info!("suspend {}: quiescing frontends and xenstore\n", n);
    for (i, d) in devs.iter().enumerate() {
        let Some(d) = d else { continue };
        let g = d.drv.lock();
        let Some(drv) = g.get() else { continue };
        let Some(suspend) = drv.suspend else { continue };
        // SAFETY: as in `resume_all`.
        let r = unsafe { suspend(handle(d), drv.ctx) };
        if r != 0 {
            drop(g);
            pr_err!(
                "suspend {}: refused: {} could not suspend (errno {}); the guest goes on\n",
                n,
                name(d),
                -r
            );
            resume_all(xs, &devs[..i], true);
            return;
        }
    }
    if let Err(e) = xs.suspend() {
        pr_err!(
            "suspend {}: refused: xenstore requests still unanswered (errno {}); the guest goes on\n",
            n,
            -e.to_errno()
        );
        resume_all(xs, &devs, true);
        return;
    }
    let r = abi_client::platform_suspend();
    let new_domain = matches!(r, Ok(true));
    if let Err(e) = r {
        pr_err!(
            "suspend {}: the platform could not suspend ({}); the guest goes on\n",
            n,
            e
        );
    }
    xs.resume(new_domain);
    resume_all(xs, &devs, !new_domain);
    pr_info!(
        "suspend {}: {}\n",
        n,
        if new_domain {
            "resumed in a new domain: frontends reconnecting"
        } else {
            "resumed in the same domain"
        }
    );
}
