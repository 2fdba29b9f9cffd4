// SPDX-License-Identifier: GPL-2.0
//! The `xen` clocksource: Xen's per-vCPU time record scaled from the TSC (`xen.h`,
//! `struct vcpu_time_info` in `struct vcpu_info` of the shared info page; Linux's
//! `arch/x86/xen/time.c` `xen_clocksource`), in nanoseconds of Xen system time.
//!
//! A kernel without `CONFIG_XEN` otherwise keeps what it found at boot. Under Xen HVM without
//! an invariant TSC that is the HPET, which Xen emulates: every read of the clock is a trap into
//! the hypervisor, and the network stack and `clock_gettime` read it all the time (under the
//! test bed's TCG, 36-46 % of a guest CPU receiving TCP, measured with perf). Reading Xen's
//! record costs an `rdtsc` and a multiplication.
//!
//! As Linux: rating 400, above the TSC (300) and the HPET (250), unless the TSC is invariant,
//! not marked unstable, and Xen never emulates it (CPUID leaf base+3, `XEN_CPUID_TSC_MODE_*`,
//! `arch-x86/cpuid.h`): then 299, so that the kernel keeps the TSC. `clocksource=` on the
//! command line and `/sys/devices/system/clocksource/clocksource0/current_clocksource` still
//! choose. The read itself is C (helpers.c, the `asm/pvclock.h` inlines): each CPU reads its
//! vCPU's record (vCPU id from CPUID leaf base+4), or vCPU 0's for a CPU with none known (a
//! vCPU id past the shared info page's 32 `vcpu_info`, a CPU brought online later), with a
//! global last value so that the clock never goes backwards between CPUs, unless Xen marks the
//! records `PVCLOCK_TSC_STABLE_BIT` (checked once on registration, as Linux's `xen_time_init`).
//!
//! Xen's record gives the host's system time (`system_time`, host uptime in ns) against the
//! domain's TSC, so after a restore or migration it jumps, by the downtime on the same host or
//! by anything, backwards too, on another. Linux absorbs that in `timekeeping_resume`
//! (`syscore_resume`), which a kernel without `CONFIG_PM_SLEEP` lacks and a module cannot call;
//! here the resume in a new domain (suspend.rs, on CPU 0 with the machine stopped) sets an offset
//! so that the clock goes on from its last value (`sys::clock_resume`), as the restored TSC and
//! HPET do, and the wall clock is then set from Xen's.

use core::ptr::addr_of_mut;
use core::sync::atomic::{AtomicBool, Ordering};

use kernel::prelude::*;

use crate::cpuid::hvm_flags;
use crate::evtchn::{SharedInfo, MAX_VIRT_CPUS};
use crate::sys;

/// Xen never emulates the TSC (`XEN_CPUID_TSC_MODE_NEVER_EMULATE`, `arch-x86/cpuid.h`, in ebx
/// of CPUID leaf base+3 sub-leaf 0).
const TSC_MODE_NEVER_EMULATE: u32 = 2;
/// Ratings, as Linux's `xen_clocksource` and `xen_time_init`.
const RATING: u32 = 400;
const RATING_BELOW_TSC: u32 = 299;

/// The clocksource is registered.
static REGISTERED: AtomicBool = AtomicBool::new(false);

/// Registers the clocksource over the mapped shared info page `p`: each online CPU's vCPU id
/// from CPUID (`cpuid_base` + 4, when `hvm_features` says Xen reports it). Failure is logged
/// and leaves the kernel's clocksource as it was.
///
/// # Safety
/// `p` is the shared info mapping, live until [`stop`] has returned.
pub(crate) unsafe fn start(p: *mut SharedInfo, cpuid_base: u32, hvm_features: u32) {
    // SAFETY: in the mapping (vCPU 0's record); only its address is taken.
    let pvti0 = unsafe { addr_of_mut!((*p).vcpu_info[0].time) };
    let mut own = 0u32;
    for n in 0..sys::num_online_cpus() {
        let Some(cpu) = sys::nth_online_cpu(n) else {
            break;
        };
        let vcpu = if hvm_features & hvm_flags::VCPU_ID_PRESENT != 0 {
            match sys::cpuid_on(cpu, cpuid_base + 4) {
                Ok(r) if r[0] & hvm_flags::VCPU_ID_PRESENT != 0 => Some(r[1] as usize),
                _ => None,
            }
        } else {
            None
        };
        if let Some(v) = vcpu.filter(|&v| v < MAX_VIRT_CPUS) {
            // SAFETY: `v` indexes the page's `vcpu_info` array; only the address is taken.
            let t = unsafe { addr_of_mut!((*p).vcpu_info[v].time) };
            sys::clock_set_cpu(cpu, t.cast());
            own += 1;
        }
    }
    let never_emulated = sys::cpuid_on(0, cpuid_base + 3)
        .map(|r| r[1] == TSC_MODE_NEVER_EMULATE)
        .unwrap_or(false);
    let rating = if sys::tsc_invariant() && never_emulated {
        RATING_BELOW_TSC
    } else {
        RATING
    };
    match sys::clock_register(pvti0.cast(), rating) {
        Ok(()) => {
            REGISTERED.store(true, Ordering::Release);
            let below = if rating == RATING_BELOW_TSC {
                ", below the invariant TSC"
            } else {
                ""
            };
            pr_info!(
                "clocksource xen registered (rating {}{}), {} of {} online CPUs reading their own vCPU's time\n",
                rating,
                below,
                own,
                sys::num_online_cpus()
            );
        }
        Err(e) => pr_err!("clocksource xen not registered: {:?}\n", e),
    }
}

/// Unregisters the clocksource (the kernel switches back to the best other one) before the
/// shared info page goes. Returns false if the kernel refused (it had no other clocksource):
/// the caller must then keep the mapping.
pub(crate) fn stop() -> bool {
    if !REGISTERED.load(Ordering::Acquire) {
        return true;
    }
    match sys::clock_unregister() {
        Ok(()) => {
            REGISTERED.store(false, Ordering::Release);
            true
        }
        Err(e) => {
            pr_err!("clocksource xen cannot be unregistered: {:?}\n", e);
            false
        }
    }
}
