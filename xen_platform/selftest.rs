// SPDX-License-Identifier: GPL-2.0
//! Load-time self-tests (`selftest=1`), run at the end of a successful probe. Each logs one
//! `xen_platform: selftest <name>: PASS (...)` or `FAIL (...)` line.
//!
//! - `evtchn`: a loop-back channel inside this domain (`alloc_unbound` with remote `DOMID_SELF`,
//!   then `bind_interdomain` to it); each of N sends must reach the handler exactly once.
//! - `lateeoi`: a handler that keeps its port masked (`evtchn_ret::LATE`): further sends are not
//!   delivered until the EOI, which re-raises the pending port exactly once. (The first
//!   delivery may be the event Xen raises when a port is bound.)
//! - `storm`: a handler that reports every event spurious while the port is flooded (XSA-391):
//!   far fewer upcalls than sends, and the port is unmasked again after the flood.
//! - `grant`: grant a page read-only to our own domain, check the entry, copy the page through
//!   the grant with `GNTTABOP_copy` (Xen reads our entry), revoke, check the entry is cleared
//!   and the reference freed, and that a copy through the revoked reference is refused.

use core::ffi::c_void;
use core::ptr::null_mut;
use core::sync::atomic::{AtomicU32, Ordering};

use kernel::prelude::*;

use crate::abi::{evtchn_ret, Errno};
use crate::{events, evtchn, gnttab, grant, hypercall, sys};

/// Sends of the evtchn test.
const N: u32 = 64;
/// How long to wait for one delivery, in ms.
const WAIT_MS: u32 = 2000;

static COUNT: AtomicU32 = AtomicU32::new(0);
static LAST_PORT: AtomicU32 = AtomicU32::new(0);

/// Self-test event handler.
///
/// # Safety
/// Called by the event demultiplexer only; `data` is unused.
unsafe extern "C" fn count_eoi(port: u32, _data: *mut c_void) -> u32 {
    COUNT.fetch_add(1, Ordering::SeqCst);
    LAST_PORT.store(port, Ordering::Relaxed);
    evtchn_ret::EOI
}

/// Self-test event handler.
///
/// # Safety
/// Called by the event demultiplexer only; `data` is unused.
unsafe extern "C" fn count_late(port: u32, _data: *mut c_void) -> u32 {
    COUNT.fetch_add(1, Ordering::SeqCst);
    LAST_PORT.store(port, Ordering::Relaxed);
    evtchn_ret::LATE
}

/// Waits until `COUNT` reaches `want`; returns whether it did.
fn wait_count(want: u32, ms: u32) -> bool {
    let mut waited = 0;
    while COUNT.load(Ordering::SeqCst) < want {
        if waited >= ms {
            return false;
        }
        sys::msleep(1);
        waited += 1;
    }
    true
}

/// A loop-back pair: `(a, b)`, sends on `a` arrive on `b`.
fn loopback() -> Result<(u32, u32), Errno> {
    let a = hypercall::evtchn_alloc_unbound(evtchn::DOMID_SELF)?;
    match hypercall::evtchn_bind_interdomain(evtchn::DOMID_SELF, a) {
        Ok(b) => Ok((a, b)),
        Err(e) => {
            let _ = hypercall::evtchn_close(a);
            Err(e)
        }
    }
}

fn test_evtchn() -> Result<(u32, u32, u32, u32), (&'static str, i32)> {
    let (a, b) = loopback().map_err(|e| ("loop-back channel", e.to_neg()))?;
    COUNT.store(0, Ordering::SeqCst);
    let r = (|| {
        events::bind(b, count_eoi, null_mut()).map_err(|e| ("bind", e.to_neg()))?;
        // Xen marks a port pending when it is bound (EVTCHNOP_bind_interdomain), so that nothing
        // sent before is lost: let that event arrive and count from there.
        sys::msleep(50);
        let base = COUNT.load(Ordering::SeqCst);
        for i in 0..N {
            events::notify(a).map_err(|e| ("send", e.to_neg()))?;
            if !wait_count(base + i + 1, WAIT_MS) {
                return Err(("delivery timeout", i as i32));
            }
        }
        // Nothing extra may arrive.
        sys::msleep(50);
        Ok(base)
    })();
    let _ = events::close(b);
    let _ = events::close(a);
    let base = r?;
    if LAST_PORT.load(Ordering::Relaxed) != b {
        return Err(("wrong port", LAST_PORT.load(Ordering::Relaxed) as i32));
    }
    Ok((COUNT.load(Ordering::SeqCst) - base, base, a, b))
}

fn test_lateeoi() -> Result<u32, (&'static str, i32)> {
    let (a, b) = loopback().map_err(|e| ("loop-back channel", e.to_neg()))?;
    COUNT.store(0, Ordering::SeqCst);
    let r = (|| {
        events::bind(b, count_late, null_mut()).map_err(|e| ("bind", e.to_neg()))?;
        events::notify(a).map_err(|e| ("send", e.to_neg()))?;
        if !wait_count(1, WAIT_MS) {
            return Err(("first delivery timeout", 0));
        }
        // Masked until the EOI: these must not be delivered (they coalesce into one pending).
        for _ in 0..5 {
            events::notify(a).map_err(|e| ("send", e.to_neg()))?;
        }
        sys::msleep(50);
        let c = COUNT.load(Ordering::SeqCst);
        if c != 1 {
            return Err(("delivered while masked", c as i32));
        }
        events::late_eoi(b, false).map_err(|e| ("eoi", e.to_neg()))?;
        if !wait_count(2, WAIT_MS) {
            return Err(("pending event not re-raised by the EOI", 1));
        }
        sys::msleep(50);
        let c = COUNT.load(Ordering::SeqCst);
        if c != 2 {
            return Err(("wrong count after EOI", c as i32));
        }
        Ok(c)
    })();
    let _ = events::close(b);
    let _ = events::close(a);
    r
}

/// Self-test event handler.
///
/// # Safety
/// Called by the event demultiplexer only; `data` is unused.
unsafe extern "C" fn count_spurious(port: u32, _data: *mut c_void) -> u32 {
    COUNT.fetch_add(1, Ordering::SeqCst);
    LAST_PORT.store(port, Ordering::Relaxed);
    evtchn_ret::SPURIOUS
}

/// A flood of events whose handler finds no work (XSA-391): the EOIs get delayed, so far fewer
/// upcalls than sends happen; once the flood stops the port is unmasked again (by the timer)
/// and a real event is delivered.
fn test_storm() -> Result<(u32, u32, u32), (&'static str, i32)> {
    let (a, b) = loopback().map_err(|e| ("loop-back channel", e.to_neg()))?;
    COUNT.store(0, Ordering::SeqCst);
    let r = (|| {
        events::bind(b, count_spurious, null_mut()).map_err(|e| ("bind", e.to_neg()))?;
        let t0 = sys::jiffies();
        let mut sends = 0u32;
        // About 1 s of sends, one per ms.
        while sys::jiffies().wrapping_sub(t0) < u64::from(sys::hz()) {
            events::notify(a).map_err(|e| ("send", e.to_neg()))?;
            sends += 1;
            sys::msleep(1);
        }
        let during = COUNT.load(Ordering::SeqCst);
        if during == 0 || during > sends / 4 {
            return Err(("not throttled", during as i32));
        }
        // The last EOI is at most 1 s away: the pending event must come through.
        if !wait_count(during + 1, 3000) {
            return Err(("port never unmasked again", during as i32));
        }
        Ok((sends, during))
    })();
    let _ = events::close(b);
    let _ = events::close(a);
    let (sends, during) = r?;
    Ok((sends, during, sys::hz()))
}

fn test_grant() -> Result<(u32, i16), (&'static str, i32)> {
    let domid = crate::XEN_DOMID.load(Ordering::Relaxed);
    if domid > 0x7fef {
        return Err(("domid unknown (CPUID)", domid as i32));
    }
    let domid = domid as u16;
    let mut src = sys::ZeroedPage::new().map_err(|_| ("alloc", -12))?;
    let mut dst = sys::ZeroedPage::new().map_err(|_| ("alloc", -12))?;
    for (i, b) in src.bytes().iter_mut().enumerate() {
        *b = (i * 7 + 3) as u8;
    }
    let free0 = gnttab::free_count();
    let gref = gnttab::grant(domid, src.gfn(), true).map_err(|e| ("grant", e.to_neg()))?;
    let want =
        grant::GrantEntryValue::permit_access(domid, src.gfn(), true).map_err(|_| ("frame", 0))?;
    if gnttab::peek(gref) != Some(want) || gnttab::free_count() != free0 - 1 {
        let _ = gnttab::end(gref);
        return Err(("entry contents", gref as i32));
    }
    let copy = |gref: u32, dst_gfn: u64| {
        let mut c = grant::GnttabCopy {
            source: grant::GnttabCopyPtr {
                ref_or_gmfn: u64::from(gref),
                domid,
                offset: 0,
            },
            dest: grant::GnttabCopyPtr {
                ref_or_gmfn: dst_gfn,
                domid: evtchn::DOMID_SELF,
                offset: 0,
            },
            len: 4096,
            flags: grant::GNTCOPY_SOURCE_GREF,
            status: 0,
        };
        hypercall::gnttab_copy(&mut c)
    };
    let st = copy(gref, dst.gfn());
    let same = src.bytes()[..] == dst.bytes()[..];
    match gnttab::end(gref) {
        Ok(()) => {}
        Err(e) => {
            // Still mapped by someone: the page must never be reused (XSA-396).
            core::mem::forget(src);
            return Err(("revoke", e.to_neg()));
        }
    }
    match st {
        Ok(grant::status::OKAY) if same => {}
        Ok(s) => return Err(("copy through the grant", i32::from(s))),
        Err(e) => return Err(("GNTTABOP_copy", e.to_neg())),
    }
    let after = gnttab::peek(gref).map(|v| v.flags);
    if after != Some(0) || gnttab::free_count() != free0 {
        return Err((
            "entry not cleared or ref not freed",
            i32::from(after.unwrap_or(0xffff)),
        ));
    }
    if gnttab::end(gref) != Err(Errno::EINVAL) {
        return Err(("double revoke accepted", gref as i32));
    }
    dst.bytes().fill(0);
    let refused = match copy(gref, dst.gfn()) {
        Ok(grant::status::OKAY) => {
            return Err(("copy through a revoked grant succeeded", gref as i32))
        }
        Ok(s) => s,
        Err(e) => e.to_neg() as i16,
    };
    Ok((gref, refused))
}

/// Runs all self-tests and logs one line each.
pub(crate) fn run() {
    match test_evtchn() {
        Ok((n, base, a, b)) if n == N => pr_info!(
            "selftest evtchn: PASS ({}/{}) ports {}->{}, {} bind-time event(s)\n",
            n,
            N,
            a,
            b,
            base
        ),
        Ok((n, base, _, _)) => pr_err!(
            "selftest evtchn: FAIL ({}/{} deliveries, {} bind-time)\n",
            n,
            N,
            base
        ),
        Err((what, e)) => pr_err!(
            "selftest evtchn: FAIL ({} {}) count {}/{}\n",
            what,
            e,
            COUNT.load(Ordering::SeqCst),
            N
        ),
    }
    match test_lateeoi() {
        Ok(n) => pr_info!(
            "selftest lateeoi: PASS ({} deliveries: masked until EOI, pending re-raised once)\n",
            n
        ),
        Err((what, e)) => pr_err!("selftest lateeoi: FAIL ({} {})\n", what, e),
    }
    match test_storm() {
        Ok((sends, got, hz)) => pr_info!(
            "selftest storm: PASS ({} spurious sends in 1 s -> {} upcalls, EOI delayed up to {} jiffies; unmasked again after)\n",
            sends,
            got,
            hz
        ),
        Err((what, e)) => pr_err!("selftest storm: FAIL ({} {})\n", what, e),
    }
    match test_grant() {
        Ok((gref, refused)) => pr_info!(
            "selftest grant: PASS (ref {}: entry ok, 4096 bytes copied through it, revoked, ref freed, revoked ref refused with status {})\n",
            gref,
            refused
        ),
        Err((what, e)) => pr_err!("selftest grant: FAIL ({} {})\n", what, e),
    }
}
