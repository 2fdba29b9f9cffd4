// SPDX-License-Identifier: GPL-2.0
//! Xen hypercalls from an HVM guest, by `vmcall` or `vmmcall` as the CPU vendor requires
//! (`xen_proto/src/hvm.rs`, [`hvm::hypercall_insn`]), never through a hypercall page (XSA-466),
//! and typed wrappers for the operations `xen_platform` uses. Argument structs are the
//! `#[repr(C)]` layouts of `xen_proto` (checked there against Xen's headers).

use core::arch::asm;
use core::sync::atomic::{AtomicBool, Ordering};

use crate::abi::Errno;
use crate::evtchn;
use crate::grant;
use crate::hvm;

/// Set once at init from CPUID leaf 0: `vmmcall` (AMD, Hygon) instead of `vmcall`.
static USE_VMMCALL: AtomicBool = AtomicBool::new(false);

/// Picks the hypercall instruction for this CPU. Call before any hypercall.
pub(crate) fn init() -> hvm::HypercallInsn {
    let r = core::arch::x86_64::__cpuid(0);
    let insn = hvm::hypercall_insn([r.eax, r.ebx, r.ecx, r.edx]);
    USE_VMMCALL.store(insn == hvm::HypercallInsn::Vmmcall, Ordering::Relaxed);
    insn
}

/// A Xen hypercall result: a negative Xen errno (`include/xen/interface/errno.h`, which for the
/// codes Xen returns equals Linux's) as the error.
pub(crate) type HcResult = Result<u64, Errno>;

fn result(ret: i64) -> HcResult {
    if ret < 0 {
        // Xen errnos are small; anything odd is reported as -EIO (`Errno::from_ret`).
        Err(Errno::from_ret(i32::try_from(ret).unwrap_or(i32::MIN)))
    } else {
        Ok(ret as u64)
    }
}

/// Raw three-argument hypercall.
///
/// # Safety
/// The arguments must be valid for hypercall `op` (pointers to correctly laid out, live
/// arguments); Xen may read and write through them.
unsafe fn hypercall3(op: u32, a1: u64, a2: u64, a3: u64) -> i64 {
    let ret: i64;
    if USE_VMMCALL.load(Ordering::Relaxed) {
        // SAFETY: entering Xen with the HVM hypercall ABI; the caller guarantees the arguments.
        // Xen may clobber the argument registers (debug builds do), hence `inout ... => _`.
        unsafe {
            asm!("vmmcall",
                inout("rax") u64::from(op) => ret,
                inout("rdi") a1 => _, inout("rsi") a2 => _, inout("rdx") a3 => _,
                out("r10") _, out("r8") _,
                options(nostack));
        }
    } else {
        // SAFETY: as above, with `vmcall`.
        unsafe {
            asm!("vmcall",
                inout("rax") u64::from(op) => ret,
                inout("rdi") a1 => _, inout("rsi") a2 => _, inout("rdx") a3 => _,
                out("r10") _, out("r8") _,
                options(nostack));
        }
    }
    ret
}

/// `HYPERVISOR_xen_version(XENVER_version, NULL)`: `(major, minor)`.
pub(crate) fn xen_version() -> Result<(u16, u16), Errno> {
    // SAFETY: XENVER_version takes no argument buffer.
    let v = result(unsafe {
        hypercall3(
            hvm::HYPERVISOR_XEN_VERSION,
            u64::from(hvm::XENVER_VERSION),
            0,
            0,
        )
    })?;
    Ok(((v >> 16) as u16, v as u16))
}

/// `XENMEM_add_to_physmap`.
pub(crate) fn add_to_physmap(xatp: &mut hvm::XenAddToPhysmap) -> HcResult {
    // SAFETY: `xatp` is a live, correctly laid out `struct xen_add_to_physmap`.
    result(unsafe {
        hypercall3(
            hvm::HYPERVISOR_MEMORY_OP,
            u64::from(hvm::XENMEM_ADD_TO_PHYSMAP),
            core::ptr::from_mut(xatp) as u64,
            0,
        )
    })
}

/// `XENMEM_decrease_reservation` or `XENMEM_populate_physmap` (`cmd`) of `gfns` (order 0) for this
/// domain: the number of frames Xen processed (in order, from the first), or a negative errno.
pub(crate) fn memory_reservation(cmd: u32, gfns: &mut [u64]) -> HcResult {
    let mut r = hvm::XenMemoryReservation {
        extent_start: gfns.as_mut_ptr() as u64,
        nr_extents: gfns.len() as u64,
        domid: hvm::DOMID_SELF,
        ..Default::default()
    };
    // SAFETY: `r` is a live `struct xen_memory_reservation` whose handle points to `gfns`, which
    // stays borrowed (and is only read by these two commands) for the call.
    result(unsafe {
        hypercall3(
            hvm::HYPERVISOR_MEMORY_OP,
            u64::from(cmd),
            core::ptr::from_mut(&mut r) as u64,
            0,
        )
    })
}

/// `HVMOP_get_param` for this domain.
pub(crate) fn hvm_get_param(index: u32) -> HcResult {
    let mut p = hvm::XenHvmParam {
        domid: hvm::DOMID_SELF,
        index,
        value: 0,
    };
    // SAFETY: `p` is a live `struct xen_hvm_param`.
    result(unsafe {
        hypercall3(
            hvm::HYPERVISOR_HVM_OP,
            u64::from(hvm::HVMOP_GET_PARAM),
            core::ptr::from_mut(&mut p) as u64,
            0,
        )
    })?;
    Ok(p.value)
}

/// `HVMOP_set_param` for this domain.
pub(crate) fn hvm_set_param(index: u32, value: u64) -> HcResult {
    let mut p = hvm::XenHvmParam {
        domid: hvm::DOMID_SELF,
        index,
        value,
    };
    // SAFETY: `p` is a live `struct xen_hvm_param`.
    result(unsafe {
        hypercall3(
            hvm::HYPERVISOR_HVM_OP,
            u64::from(hvm::HVMOP_SET_PARAM),
            core::ptr::from_mut(&mut p) as u64,
            0,
        )
    })
}

/// `HYPERVISOR_event_channel_op(cmd, arg)` on one of `evtchn`'s argument structs.
///
/// # Safety
/// `T` must be the argument struct of `cmd`.
unsafe fn evtchn_op<T>(cmd: u32, arg: &mut T) -> HcResult {
    // SAFETY: the caller pairs `cmd` with its struct; `arg` is live.
    result(unsafe {
        hypercall3(
            hvm::HYPERVISOR_EVENT_CHANNEL_OP,
            u64::from(cmd),
            core::ptr::from_mut::<T>(arg) as u64,
            0,
        )
    })
}

/// `EVTCHNOP_alloc_unbound`: a new port of ours that `remote_dom` may bind.
pub(crate) fn evtchn_alloc_unbound(remote_dom: u16) -> Result<u32, Errno> {
    let mut a = evtchn::EvtchnAllocUnbound {
        dom: evtchn::DOMID_SELF,
        remote_dom,
        port: 0,
    };
    // SAFETY: matching struct.
    unsafe { evtchn_op(evtchn::op::ALLOC_UNBOUND, &mut a) }?;
    Ok(a.port)
}

/// `EVTCHNOP_bind_interdomain`.
pub(crate) fn evtchn_bind_interdomain(remote_dom: u16, remote_port: u32) -> Result<u32, Errno> {
    let mut a = evtchn::EvtchnBindInterdomain {
        remote_dom,
        remote_port,
        local_port: 0,
    };
    // SAFETY: matching struct.
    unsafe { evtchn_op(evtchn::op::BIND_INTERDOMAIN, &mut a) }?;
    Ok(a.local_port)
}

/// `EVTCHNOP_send`.
pub(crate) fn evtchn_send(port: u32) -> HcResult {
    let mut a = evtchn::EvtchnSend { port };
    // SAFETY: matching struct.
    unsafe { evtchn_op(evtchn::op::SEND, &mut a) }
}

/// `EVTCHNOP_close`.
pub(crate) fn evtchn_close(port: u32) -> HcResult {
    let mut a = evtchn::EvtchnClose { port };
    // SAFETY: matching struct.
    unsafe { evtchn_op(evtchn::op::CLOSE, &mut a) }
}

/// `EVTCHNOP_bind_vcpu`: `port`'s events notify vCPU `vcpu` (Xen's id) from now on.
pub(crate) fn evtchn_bind_vcpu(port: u32, vcpu: u32) -> HcResult {
    let mut a = evtchn::EvtchnBindVcpu { port, vcpu };
    // SAFETY: matching struct.
    unsafe { evtchn_op(evtchn::op::BIND_VCPU, &mut a) }
}

/// `HVMOP_set_evtchn_upcall_vector` (`hvm/hvm_op.h`): vCPU `vcpu`'s event upcalls arrive as
/// local APIC interrupt `vector` (at least 0x10) instead of through `HVM_PARAM_CALLBACK_IRQ`.
pub(crate) fn hvm_set_evtchn_upcall_vector(vcpu: u32, vector: u8) -> HcResult {
    let mut a = hvm::XenHvmEvtchnUpcallVector { vcpu, vector };
    // SAFETY: `a` is a live `struct xen_hvm_evtchn_upcall_vector`.
    result(unsafe {
        hypercall3(
            hvm::HYPERVISOR_HVM_OP,
            u64::from(hvm::HVMOP_SET_EVTCHN_UPCALL_VECTOR),
            core::ptr::from_mut(&mut a) as u64,
            0,
        )
    })
}

/// `EVTCHNOP_unmask`: Xen clears the mask and re-raises the port if it is pending.
pub(crate) fn evtchn_unmask(port: u32) -> HcResult {
    let mut a = evtchn::EvtchnUnmask { port };
    // SAFETY: matching struct.
    unsafe { evtchn_op(evtchn::op::UNMASK, &mut a) }
}

/// `GNTTABOP_query_size` for this domain: `(nr_frames, max_nr_frames)`.
pub(crate) fn gnttab_query_size() -> Result<(u32, u32), Errno> {
    let mut q = grant::GnttabQuerySize {
        dom: hvm::DOMID_SELF,
        ..Default::default()
    };
    // SAFETY: `q` is a live `struct gnttab_query_size`, count 1.
    result(unsafe {
        hypercall3(
            hvm::HYPERVISOR_GRANT_TABLE_OP,
            u64::from(grant::op::QUERY_SIZE),
            core::ptr::from_mut(&mut q) as u64,
            1,
        )
    })?;
    if q.status != grant::status::OKAY {
        return Err(Errno::EINVAL);
    }
    Ok((q.nr_frames, q.max_nr_frames))
}

/// `GNTTABOP_copy` of one segment; returns the `GNTST_*` status of the segment.
pub(crate) fn gnttab_copy(c: &mut grant::GnttabCopy) -> Result<i16, Errno> {
    // SAFETY: `c` is a live `struct gnttab_copy`, count 1.
    result(unsafe {
        hypercall3(
            hvm::HYPERVISOR_GRANT_TABLE_OP,
            u64::from(grant::op::COPY),
            core::ptr::from_mut(c) as u64,
            1,
        )
    })?;
    Ok(c.status)
}

/// `SCHEDOP_shutdown(SHUTDOWN_suspend)`: the domain is saved (or migrated) from here. Returns
/// `Ok(0)` in a new domain (restored), `Ok(1)` when cancelled (the same domain goes on), or
/// Xen's errno. The third argument is the PV start-info frame, 0 for HVM (Linux's
/// `HYPERVISOR_suspend`). Call with every other CPU stopped and interrupts off.
pub(crate) fn sched_shutdown_suspend() -> HcResult {
    let mut a = hvm::SchedShutdown {
        reason: hvm::SHUTDOWN_SUSPEND,
    };
    // SAFETY: `a` is a live `struct sched_shutdown`.
    result(unsafe {
        hypercall3(
            hvm::HYPERVISOR_SCHED_OP,
            u64::from(hvm::SCHEDOP_SHUTDOWN),
            core::ptr::from_mut(&mut a) as u64,
            0,
        )
    })
}
