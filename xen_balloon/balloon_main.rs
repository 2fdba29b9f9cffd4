// SPDX-License-Identifier: GPL-2.0
//! xen_balloon: the guest's memory follows the toolstack's target (`xl mem-set`, XenServer
//! dynamic memory control, populate-on-demand boots), as Linux's `drivers/xen/balloon.c` and
//! `xen-balloon.c` do it.
//!
//! - The target comes from xenstore `memory/target` (KiB, watched) and from sysfs
//!   (`/sys/devices/system/xen_memory/xen_memory0/target_kb`, `target` in bytes). A xenstore
//!   target is corrected by the pages of `memory/static-max` the guest does not have as RAM
//!   (Linux's `target_diff`, `xen_proto/src/balloon.rs`); a sysfs one is taken as is.
//! - Going down, the work item takes pages from the page allocator (`GFP_BALLOON`: no reclaim
//!   pressure, no warning), zeroes them (`scrub_pages`), and gives them to Xen with
//!   `XENMEM_decrease_reservation` (`memory.h`), 512 per call; the pages Xen took leave MemTotal
//!   (`adjust_managed_page_count`) and stay allocated by us, marked PageOffline. Going up,
//!   `XENMEM_populate_physmap` backs them again and they are freed to the kernel. Growth stops at
//!   the memory the guest booted with (no memory hotplug): a higher target is lowered to it.
//! - Only pages Xen reports as processed change hands: the rest go back to the allocator (going
//!   down) or stay ballooned (going up). When the guest has no page to spare or Xen no memory,
//!   the work retries later, 1 s then doubling up to `max_schedule_delay` (32 s).
//! - Populate-on-demand (`memory` < `maxmem`): when the target at load is below what the guest
//!   has, the module balloons down before its init returns, so that nothing loaded after it
//!   (from the initramfs) touches memory Xen never backed.
//! - Unload gives every ballooned page back to the guest; a page Xen will not back again stays
//!   allocated (out of use, never freed) and is reported.

use core::ffi::c_void;
use core::ptr::null_mut;
use core::sync::atomic::{AtomicPtr, Ordering};
use kernel::prelude::*;
use kernel::str::BStr;
use kernel::sync::{new_mutex, Mutex};

#[macro_use]
#[path = "../xen_proto/src/kernel_common.rs"]
mod kernel_common;
abi_modules!(client);
#[allow(unreachable_pub, dead_code)]
#[path = "../xen_proto/src/balloon.rs"]
mod balloon;
#[allow(unreachable_pub, dead_code)]
#[path = "../xen_proto/src/hvm.rs"]
mod hvm;
#[allow(unreachable_pub, dead_code)]
#[path = "../xen_proto/src/xenbus_state.rs"]
mod xenbus_state;
#[allow(unreachable_pub, dead_code)]
#[path = "../xen_proto/src/xs_wire.rs"]
mod xs_wire;

mod sys;

use abi::Errno;
use balloon::{next_step, pages_to_kib, Backoff, Step};

xpv_module! {
    type: XenBalloon,
    name: "xen_balloon",
    description: "Xen memory balloon driver (memory/target, populate-on-demand)",
}

/// Batches per run of the work item before it yields the worker (re-queued at once): 64 batches
/// are 128 MiB.
const BATCHES_PER_RUN: u32 = 64;

/// The balloon's accounting, under [`Balloon::st`].
struct State {
    /// Pages the guest has (Linux's `current_pages`): RAM at load, minus ballooned pages.
    current: u64,
    /// Pages the guest should have.
    target: u64,
    /// Guest frames given to Xen, in the order given; their pages stay allocated by us.
    ballooned: KVec<u64>,
    /// One batch of guest frames for a hypercall (capacity `RESERVATION_BATCH`).
    batch: KVec<u64>,
    /// Retry delay after a failed step.
    backoff: Backoff,
    /// Pages of static-max that are not RAM of the guest (Linux's `target_diff`).
    diff: u64,
}

impl State {
    /// Gives up to `n` pages to Xen. Returns whether all `n` went.
    fn decrease(&mut self, n: usize) -> bool {
        if self.ballooned.reserve(n, GFP_KERNEL).is_err() {
            return false;
        }
        sys::truncate(&mut self.batch, 0);
        for _ in 0..n {
            match sys::page_alloc() {
                // Within the capacity reserved at creation (RESERVATION_BATCH >= n).
                Ok(gfn) => {
                    if self.batch.push(gfn, GFP_NOWAIT).is_err() {
                        // SAFETY: just allocated, populated, not given to Xen.
                        unsafe { sys::page_free(gfn) };
                        break;
                    }
                }
                Err(_) => break,
            }
        }
        if self.batch.is_empty() {
            return false;
        }
        let done = abi_client::memory_reservation(
            hvm::XENMEM_DECREASE_RESERVATION,
            self.batch.as_mut_slice(),
        )
        .unwrap_or_else(|e| {
            pr_err!(
                "XENMEM_decrease_reservation failed: errno {}\n",
                -e.to_neg()
            );
            0
        });
        for (i, &gfn) in self.batch.iter().enumerate() {
            if i < done {
                // SAFETY: allocated by us and released to Xen by the hypercall, once.
                unsafe { sys::page_out(gfn) };
                // Cannot fail: `n` slots were reserved above.
                let _ = self.ballooned.push(gfn, GFP_NOWAIT);
            } else {
                // SAFETY: allocated by us, Xen did not take it: still populated.
                unsafe { sys::page_free(gfn) };
            }
        }
        self.current -= done as u64;
        done == n
    }

    /// Takes up to `n` ballooned pages back from Xen, the most recently given first. Returns
    /// whether all `n` came back.
    fn increase(&mut self, n: usize) -> bool {
        let len = self.ballooned.len();
        let n = n.min(len);
        sys::truncate(&mut self.batch, 0);
        for &gfn in self.ballooned[len - n..].iter().rev() {
            // Within the capacity reserved at creation (RESERVATION_BATCH >= n).
            if self.batch.push(gfn, GFP_NOWAIT).is_err() {
                break;
            }
        }
        let done =
            abi_client::memory_reservation(hvm::XENMEM_POPULATE_PHYSMAP, self.batch.as_mut_slice())
                .unwrap_or_else(|e| {
                    pr_err!("XENMEM_populate_physmap failed: errno {}\n", -e.to_neg());
                    0
                });
        // Xen processes frames in order: the first `done` of the batch, i.e. the last `done`
        // of `ballooned`, are backed again.
        for &gfn in &self.ballooned[len - done..] {
            // SAFETY: ballooned by `decrease` and populated again just now, handed back once
            // (removed from `ballooned` below).
            unsafe { sys::page_in(gfn) };
        }
        sys::truncate(&mut self.ballooned, len - done);
        self.current += done as u64;
        done == n
    }

    /// One step towards the target: `None` at the target, else whether the step completed.
    fn step(&mut self) -> Option<bool> {
        let ballooned = self.ballooned.len() as u64;
        match next_step(self.current, self.target, ballooned, hvm::RESERVATION_BATCH) {
            Step::Idle => {
                if self.target > self.current {
                    // Linux's reserve_additional_memory without memory hotplug.
                    pr_info!(
                        "target {} KiB is above the memory this guest booted with: staying at {} KiB\n",
                        pages_to_kib(self.target),
                        pages_to_kib(self.current)
                    );
                    self.target = self.current;
                }
                None
            }
            Step::Increase(n) => Some(self.increase(n)),
            Step::Decrease(n) => Some(self.decrease(n)),
        }
    }
}

/// The balloon: its state, shared by the work item, the xenstore watch and sysfs.
#[pin_data]
struct Balloon {
    #[pin]
    st: Mutex<State>,
}

/// The balloon for the C callbacks (work item, sysfs); null when not running. Set before the
/// work item, sysfs and the watch exist, cleared after they are gone.
static BALLOON: AtomicPtr<Balloon> = AtomicPtr::new(null_mut());

fn get() -> Option<&'static Balloon> {
    // SAFETY: null or the pinned `Balloon` of the live `Running`, which clears `BALLOON` only
    // after stopping every callback that reads it.
    unsafe { BALLOON.load(Ordering::Acquire).as_ref() }
}

impl Balloon {
    /// Steps towards the target for at most [`BATCHES_PER_RUN`] batches. Returns the delay in
    /// ms until the next run, or `None` at the target.
    fn run(&self, batches: u32) -> Option<u32> {
        for _ in 0..batches {
            let mut st = self.st.lock();
            match st.step() {
                None => {
                    st.backoff.success();
                    return None;
                }
                Some(true) => st.backoff.success(),
                Some(false) => return Some(st.backoff.failure().saturating_mul(1000)),
            }
            drop(st);
            sys::cond_resched();
        }
        Some(0)
    }

    /// Sets the target to `pages` and lets the work item go for it.
    fn set_target(&self, pages: u64) {
        self.st.lock().target = pages;
        sys::kick_work();
    }

    /// Gives every ballooned page back to the guest (unload). Returns how many Xen would not
    /// back again: those stay allocated and out of use.
    fn release_all(&self) -> usize {
        let mut st = self.st.lock();
        while !st.ballooned.is_empty() {
            let n = st.ballooned.len().min(hvm::RESERVATION_BATCH);
            let before = st.ballooned.len();
            st.increase(n);
            if st.ballooned.len() == before {
                break;
            }
            drop(st);
            sys::cond_resched();
            st = self.st.lock();
        }
        st.ballooned.len()
    }
}

/// Reads a KiB value from xenstore: `Ok(None)` when the node does not exist.
fn read_kib(node: &[u8]) -> Result<Option<u64>, Errno> {
    let mut buf = [0u8; 32];
    let name = BStr::from_bytes(node);
    match abi_xenbus_client::read(node, &mut buf) {
        Ok(n) => match balloon::parse_kib(&buf[..n]) {
            Some(kib) => Ok(Some(kib)),
            None => {
                pr_err!(
                    "{}: {:?} is not a number of KiB; ignored\n",
                    name,
                    BStr::from_bytes(&buf[..n])
                );
                Err(Errno::EINVAL)
            }
        },
        Err(Errno::ENOENT) => Ok(None),
        Err(e) => {
            pr_err!("{}: cannot read: errno {}\n", name, -e.to_neg());
            Err(e)
        }
    }
}

/// Watch callback of `memory/target`.
///
/// # Safety
/// `data` is the `Balloon` of the live `Running`, which outlives the watch.
unsafe extern "C" fn target_changed(_path: *const u8, _len: usize, data: *mut c_void) {
    // SAFETY: caller's contract.
    let bl = unsafe { &*(data as *const Balloon) };
    if let Ok(Some(kib)) = read_kib(balloon::TARGET_NODE) {
        let diff = bl.st.lock().diff;
        bl.set_target(balloon::target_pages(kib, diff));
    }
}
const _: abi_xenbus::WatchFn = target_changed;

/// Work item (`helpers.c`): ms until the next run, or -1 when at the target.
#[no_mangle]
extern "C" fn xpv_bl_rs_work() -> kernel::ffi::c_long {
    match get().and_then(|bl| bl.run(BATCHES_PER_RUN)) {
        Some(ms) => ms as kernel::ffi::c_long,
        None => -1,
    }
}

/// sysfs read of attribute `what` (`XPV_BL_*`, `bindings.h`).
#[no_mangle]
extern "C" fn xpv_bl_rs_get(what: u32) -> u64 {
    let Some(bl) = get() else { return 0 };
    let st = bl.st.lock();
    match what {
        sys::XPV_BL_TARGET_KB => pages_to_kib(st.target),
        sys::XPV_BL_TARGET => st.target.saturating_mul(4096),
        sys::XPV_BL_CURRENT_KB => pages_to_kib(st.current),
        sys::XPV_BL_LOW_KB => pages_to_kib(st.ballooned.len() as u64),
        sys::XPV_BL_SCHEDULE_DELAY => u64::from(st.backoff.delay_s),
        sys::XPV_BL_MAX_SCHEDULE_DELAY => u64::from(st.backoff.max_delay_s),
        sys::XPV_BL_RETRY_COUNT => u64::from(st.backoff.retries),
        // No highmem on x86_64.
        sys::XPV_BL_HIGH_KB => 0,
        _ => 0,
    }
}

/// sysfs write of attribute `what`: 0 or a negative errno.
#[no_mangle]
extern "C" fn xpv_bl_rs_set(what: u32, value: u64) -> kernel::ffi::c_int {
    let Some(bl) = get() else {
        return -abi::ENODEV;
    };
    match what {
        // As Linux: a target written here is not corrected by static-max.
        sys::XPV_BL_TARGET_KB => bl.set_target(balloon::kib_to_pages(value)),
        sys::XPV_BL_TARGET => bl.set_target(value / 4096),
        sys::XPV_BL_MAX_SCHEDULE_DELAY => match u32::try_from(value) {
            Ok(s) if s > 0 => bl.st.lock().backoff.max_delay_s = s,
            _ => return -abi::EINVAL,
        },
        _ => return -abi::EINVAL,
    }
    0
}

/// Everything the balloon runs, torn down in the order that stops every user of the state
/// before the pages are given back.
struct Running {
    watch: Option<abi_xenbus_client::Watch>,
    sysfs: Option<sys::Sysfs>,
    work: Option<sys::Work>,
    bl: Pin<KBox<Balloon>>,
}

impl Drop for Running {
    fn drop(&mut self) {
        self.watch = None;
        self.sysfs = None;
        self.work = None;
        BALLOON.store(null_mut(), Ordering::Release);
        let left = self.bl.release_all();
        if left > 0 {
            pr_err!(
                "{} KiB stay out of use: Xen did not back them again (they are never freed)\n",
                pages_to_kib(left as u64)
            );
        } else {
            pr_info!("every ballooned page is back\n");
        }
    }
}

impl Running {
    fn new() -> Result<Self> {
        let current = sys::num_physpages();
        let static_max = read_kib(balloon::STATIC_MAX_NODE).ok().flatten();
        let diff = balloon::target_diff(static_max, current);
        let target = match read_kib(balloon::TARGET_NODE) {
            Ok(Some(kib)) => balloon::target_pages(kib, diff),
            _ => current,
        };
        let batch = KVec::with_capacity(hvm::RESERVATION_BATCH, GFP_KERNEL)?;
        let bl = KBox::pin_init(
            pin_init!(Balloon {
                st <- new_mutex!(State {
                    current,
                    target,
                    ballooned: KVec::new(),
                    batch,
                    backoff: Backoff::default(),
                    diff,
                }),
            }),
            GFP_KERNEL,
        )?;
        BALLOON.store(
            core::ptr::from_ref::<Balloon>(&*bl).cast_mut(),
            Ordering::Release,
        );
        let mut r = Running {
            watch: None,
            sysfs: None,
            work: Some(sys::Work::new()),
            bl,
        };
        pr_info!(
            "current {} KiB, target {} KiB, static-max {} KiB\n",
            pages_to_kib(current),
            pages_to_kib(target),
            static_max.unwrap_or(0)
        );
        if target < current {
            // Populate-on-demand: down to the target before anything else runs.
            while let Some(ms) = r.bl.run(u32::MAX) {
                if ms > 0 {
                    pr_warn!("cannot reach the target at load yet; the work item goes on\n");
                    sys::kick_work();
                    break;
                }
            }
            pr_info!(
                "ballooned down to {} KiB at load\n",
                pages_to_kib(r.bl.st.lock().current)
            );
        }
        r.sysfs = Some(sys::Sysfs::new().inspect_err(|e| {
            pr_err!(
                "cannot register /sys/devices/system/xen_memory (another balloon driver?): errno {}\n",
                -e.to_errno()
            );
        })?);
        let data = core::ptr::from_ref::<Balloon>(&*r.bl) as *mut c_void;
        // SAFETY: `data` is the pinned `Balloon`, dropped after the watch (see `Drop`), which
        // is never dropped from its own callback.
        let watch =
            unsafe { abi_xenbus_client::Watch::new(balloon::TARGET_NODE, target_changed, data) };
        r.watch = Some(watch.map_err(|e| {
            pr_err!("cannot watch memory/target: errno {}\n", -e.to_neg());
            Error::from(e)
        })?);
        Ok(r)
    }
}

struct XenBalloon {
    _running: Option<Running>,
}

impl kernel::Module for XenBalloon {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        match abi_client::platform_info() {
            Ok(info) if info.flags & abi::PLATFORM_EVENTS != 0 => {}
            Ok(_) => {
                pr_info!("Xen without the platform device: no xenstore, no balloon\n");
                return Ok(XenBalloon { _running: None });
            }
            Err(Errno::ENODEV) => {
                pr_info!("Xen not detected by xen_platform: no balloon\n");
                return Ok(XenBalloon { _running: None });
            }
            Err(e) => return Err(e.into()),
        }
        Ok(XenBalloon {
            _running: Some(Running::new()?),
        })
    }
}
