// SPDX-License-Identifier: GPL-2.0
//! Hypercall numbers, argument layouts and HVM callback encoding used by `xen_platform`, from
//! Xen's public headers as found in the guest kernel tree, `include/xen/interface/`:
//! `xen.h` (`__HYPERVISOR_*`), `memory.h` (`XENMEM_add_to_physmap`, `XENMAPSPACE_*`,
//! `XENMEM_decrease_reservation`, `XENMEM_populate_physmap`),
//! `hvm/hvm_op.h` (`HVMOP_*`), `hvm/params.h` (`HVM_PARAM_*`) and `version.h`.
//!
//! The hypercall instruction is chosen from the CPU vendor, as Linux does (`vmcall` on Intel and
//! compatible, `vmmcall` on AMD and Hygon), instead of executing Xen's hypercall page: no
//! hypervisor-provided code runs in the guest (XSA-466).
//!
//! x86_64 HVM hypercall convention: `rax` = hypercall number, arguments in `rdi`, `rsi`, `rdx`,
//! `r10`, `r8`; the result (0 or a negative Xen errno, which matches Linux's errno values for the
//! codes used here) comes back in `rax`. Argument registers may be clobbered.

/// `__HYPERVISOR_memory_op`.
pub const HYPERVISOR_MEMORY_OP: u32 = 12;
/// `__HYPERVISOR_xen_version`.
pub const HYPERVISOR_XEN_VERSION: u32 = 17;
/// `__HYPERVISOR_grant_table_op`.
pub const HYPERVISOR_GRANT_TABLE_OP: u32 = 20;
/// `__HYPERVISOR_sched_op`.
pub const HYPERVISOR_SCHED_OP: u32 = 29;
/// `__HYPERVISOR_event_channel_op`.
pub const HYPERVISOR_EVENT_CHANNEL_OP: u32 = 32;
/// `__HYPERVISOR_hvm_op`.
pub const HYPERVISOR_HVM_OP: u32 = 34;

/// `XENVER_version` (`version.h`): returns `major << 16 | minor`.
pub const XENVER_VERSION: u32 = 0;

/// `XENMEM_add_to_physmap` (`memory.h`).
pub const XENMEM_ADD_TO_PHYSMAP: u32 = 7;
/// `XENMAPSPACE_shared_info`: the shared info page (`idx` 0).
pub const XENMAPSPACE_SHARED_INFO: u32 = 0;
/// `XENMAPSPACE_grant_table`: grant table frame `idx` (v1 shared frames).
pub const XENMAPSPACE_GRANT_TABLE: u32 = 1;

/// `XENMEM_decrease_reservation` (`memory.h`): give the listed guest frames back to Xen.
pub const XENMEM_DECREASE_RESERVATION: u32 = 1;
/// `XENMEM_populate_physmap` (`memory.h`): back the listed guest frames with memory again.
pub const XENMEM_POPULATE_PHYSMAP: u32 = 6;
/// Extents per `XENMEM_*_reservation` call that our callers use (Linux's balloon: one page of
/// `xen_pfn_t`, `ARRAY_SIZE(frame_list)` in `drivers/xen/balloon.c`).
pub const RESERVATION_BATCH: usize = 512;

/// `struct xen_memory_reservation` (`memory.h`, x86_64: 32 bytes). For an auto-translated (HVM)
/// guest, `extent_start` lists guest frame numbers (4 KiB page numbers of guest-physical
/// addresses); the hypercall returns how many extents it processed, in order.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct XenMemoryReservation {
    /// Guest address of the `xen_pfn_t` array (`XEN_GUEST_HANDLE(xen_pfn_t)`).
    pub extent_start: u64,
    /// Number of entries in that array.
    pub nr_extents: u64,
    /// Each extent is `2^extent_order` pages; 0 here.
    pub extent_order: u32,
    /// `XENMEMF_*` flags; 0 (any node, any address width).
    pub mem_flags: u32,
    /// [`DOMID_SELF`].
    pub domid: u16,
}

/// "This domain" (`DOMID_SELF`, `xen.h`).
pub const DOMID_SELF: u16 = 0x7ff0;

/// `struct xen_add_to_physmap` (`memory.h`, x86_64: 24 bytes): make page `idx` of `space` appear
/// at guest frame `gpfn`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct XenAddToPhysmap {
    /// Domain whose physmap changes: [`DOMID_SELF`].
    pub domid: u16,
    /// Pages for `XENMAPSPACE_gmfn_range` (unused here: 0).
    pub size: u16,
    /// `XENMAPSPACE_*`.
    pub space: u32,
    /// Index into the space (grant frame number; 0 for shared info).
    pub idx: u64,
    /// Guest frame number (4 KiB page number of a guest-physical address) to map it at.
    pub gpfn: u64,
}

impl XenAddToPhysmap {
    /// The shared info page at guest frame `gpfn`.
    pub const fn shared_info(gpfn: u64) -> Self {
        Self {
            domid: DOMID_SELF,
            size: 0,
            space: XENMAPSPACE_SHARED_INFO,
            idx: 0,
            gpfn,
        }
    }

    /// Grant table frame `idx` at guest frame `gpfn`.
    pub const fn grant_frame(idx: u32, gpfn: u64) -> Self {
        Self {
            domid: DOMID_SELF,
            size: 0,
            space: XENMAPSPACE_GRANT_TABLE,
            idx: idx as u64,
            gpfn,
        }
    }
}

/// `HVMOP_set_param` (`hvm/hvm_op.h`).
pub const HVMOP_SET_PARAM: u32 = 0;
/// `HVMOP_get_param`.
pub const HVMOP_GET_PARAM: u32 = 1;
/// `HVMOP_set_evtchn_upcall_vector` (x86): per-vCPU upcall vector.
pub const HVMOP_SET_EVTCHN_UPCALL_VECTOR: u32 = 23;

/// `struct xen_hvm_param` (`hvm/hvm_op.h`, 16 bytes).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct XenHvmParam {
    /// IN: [`DOMID_SELF`].
    pub domid: u16,
    /// IN: `HVM_PARAM_*`.
    pub index: u32,
    /// IN (set) / OUT (get).
    pub value: u64,
}

/// `struct xen_hvm_evtchn_upcall_vector` (8 bytes).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct XenHvmEvtchnUpcallVector {
    /// vCPU id.
    pub vcpu: u32,
    /// IDT vector.
    pub vector: u8,
}

/// `HVM_PARAM_*` indices (`hvm/params.h`).
pub mod param {
    /// Event channel callback: see [`super::CallbackVia`].
    pub const CALLBACK_IRQ: u32 = 0;
    /// Guest frame of the xenstore ring page.
    pub const STORE_PFN: u32 = 1;
    /// Event channel port of xenstore.
    pub const STORE_EVTCHN: u32 = 2;
    /// Guest frame of the PV console ring.
    pub const CONSOLE_PFN: u32 = 17;
    /// Event channel port of the PV console.
    pub const CONSOLE_EVTCHN: u32 = 18;
    /// One past the largest index a guest may ask for (`HVM_NR_PARAMS`).
    pub const NR_PARAMS: u32 = 39;
}

/// Bit position of the callback type in `HVM_PARAM_CALLBACK_IRQ` (`HVM_CALLBACK_VIA_TYPE_SHIFT`).
pub const HVM_CALLBACK_VIA_TYPE_SHIFT: u32 = 56;
/// `HVM_PARAM_CALLBACK_TYPE_GSI`: value is a GSI.
pub const HVM_PARAM_CALLBACK_TYPE_GSI: u64 = 0;
/// `HVM_PARAM_CALLBACK_TYPE_PCI_INTX`: domain, bus, device, INTx pin.
pub const HVM_PARAM_CALLBACK_TYPE_PCI_INTX: u64 = 1;
/// `HVM_PARAM_CALLBACK_TYPE_VECTOR`: a per-domain IDT vector (vCPU 0 delivery semantics apply).
pub const HVM_PARAM_CALLBACK_TYPE_VECTOR: u64 = 2;

/// How Xen raises the event channel upcall (`HVM_PARAM_CALLBACK_IRQ` value).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CallbackVia {
    /// An ISA IRQ / GSI number (< 16 here, as Linux's `get_callback_via`).
    Gsi(u32),
    /// The INTx line of a PCI device.
    PciIntx {
        /// PCI segment (domain) number.
        segment: u16,
        /// Bus number.
        bus: u8,
        /// Device (slot) number, 0..32.
        device: u8,
        /// Interrupt pin, 1 = INTA .. 4 = INTD (the `Interrupt Pin` config register).
        pin: u8,
    },
}

/// The platform device has no usable interrupt pin (config register 0 or > 4).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NoInterruptPin(pub u8);

impl CallbackVia {
    /// Linux's `get_callback_via()`: the device's IRQ if it is an ISA IRQ (< 16), else its INTx
    /// line (the GSI behind a higher IRQ number is not known to a driver).
    ///
    /// # Errors
    /// [`NoInterruptPin`] when the IRQ is ≥ 16 and `pin` is not 1..=4.
    pub const fn for_device(
        irq: u32,
        segment: u16,
        bus: u8,
        devfn: u8,
        pin: u8,
    ) -> Result<Self, NoInterruptPin> {
        if irq < 16 {
            return Ok(Self::Gsi(irq));
        }
        if pin == 0 || pin > 4 {
            return Err(NoInterruptPin(pin));
        }
        Ok(Self::PciIntx {
            segment,
            bus,
            device: devfn >> 3,
            pin,
        })
    }

    /// The `HVM_PARAM_CALLBACK_IRQ` value.
    pub const fn param_value(&self) -> u64 {
        match *self {
            Self::Gsi(gsi) => {
                (HVM_PARAM_CALLBACK_TYPE_GSI << HVM_CALLBACK_VIA_TYPE_SHIFT) | gsi as u64
            }
            Self::PciIntx {
                segment,
                bus,
                device,
                pin,
            } => {
                (HVM_PARAM_CALLBACK_TYPE_PCI_INTX << HVM_CALLBACK_VIA_TYPE_SHIFT)
                    | (segment as u64) << 32
                    | (bus as u64) << 16
                    | ((device & 0x1f) as u64) << 11
                    | ((pin - 1) & 3) as u64
            }
        }
    }
}

/// The instruction that enters Xen from an HVM guest.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HypercallInsn {
    /// Intel VMX (`vmcall`), also Centaur/Zhaoxin.
    Vmcall,
    /// AMD SVM (`vmmcall`), also Hygon.
    Vmmcall,
}

/// Picks the hypercall instruction from CPUID leaf 0's vendor string (`ebx`, `edx`, `ecx`), as
/// Linux does (`X86_FEATURE_VMMCALL` on AMD and Hygon, `vmcall` otherwise).
pub fn hypercall_insn(leaf0: [u32; 4]) -> HypercallInsn {
    let mut v = [0u8; 12];
    v[0..4].copy_from_slice(&leaf0[1].to_le_bytes());
    v[4..8].copy_from_slice(&leaf0[3].to_le_bytes());
    v[8..12].copy_from_slice(&leaf0[2].to_le_bytes());
    match &v {
        b"AuthenticAMD" | b"HygonGenuine" => HypercallInsn::Vmmcall,
        _ => HypercallInsn::Vmcall,
    }
}

/// Guest frames of the platform device's MMIO BAR used by `xen_platform`: page 0 holds the
/// shared info page, pages `1..=grant_frames` the grant table (Linux's `alloc_xen_mmio` carves
/// the same BAR). All values are 4 KiB page numbers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MmioLayout {
    /// Guest frame of the shared info page.
    pub shared_info_gpfn: u64,
    /// Guest frame of grant table frame 0.
    pub grant_gpfn: u64,
    /// Number of grant table frames placed.
    pub grant_frames: u32,
}

/// The BAR is too small or misaligned for the shared info page and one grant frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BarTooSmall {
    /// BAR start, bytes.
    pub start: u64,
    /// BAR length, bytes.
    pub len: u64,
}

/// Lays out the shared info page and up to `want_frames` grant frames (at least 1) in the BAR
/// at `start` (bytes) of `len` bytes.
///
/// # Errors
/// [`BarTooSmall`] if the BAR is not page aligned or holds fewer than 2 pages.
pub const fn mmio_layout(
    start: u64,
    len: u64,
    want_frames: u32,
) -> Result<MmioLayout, BarTooSmall> {
    let pages = len / 4096;
    if start == 0 || start & 0xfff != 0 || pages < 2 {
        return Err(BarTooSmall { start, len });
    }
    let room = pages - 1;
    let want = if want_frames == 0 {
        1
    } else {
        want_frames as u64
    };
    let frames = if want < room { want } else { room };
    let frames = if frames > u32::MAX as u64 {
        u32::MAX
    } else {
        frames as u32
    };
    Ok(MmioLayout {
        shared_info_gpfn: start / 4096,
        grant_gpfn: start / 4096 + 1,
        grant_frames: frames,
    })
}

/// `SCHEDOP_shutdown` (`sched.h`): argument a `struct sched_shutdown`.
pub const SCHEDOP_SHUTDOWN: u32 = 2;
/// `SHUTDOWN_suspend` (`sched.h`): clean up, save suspend info, kill. For an HVM guest the
/// hypercall returns 0 in the restored (new) domain and 1 when the suspend was cancelled
/// (`xl save -c`, a failed migration: `xc_domain_resume` sets the return value).
pub const SHUTDOWN_SUSPEND: u32 = 2;

/// `struct sched_shutdown` (`sched.h`).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct SchedShutdown {
    /// `SHUTDOWN_*`.
    pub reason: u32,
}

/// A vCPU's time record (`struct vcpu_time_info`, `xen.h`, the pvclock ABI), copied out of the
/// shared info page under its `version` protocol (odd: Xen is updating it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VcpuTime {
    /// TSC at the last update (`tsc_timestamp`).
    pub tsc_timestamp: u64,
    /// Nanoseconds since the domain's boot at `tsc_timestamp` (`system_time`).
    pub system_time: u64,
    /// TSC ticks to ns: `ns = ((ticks << shift) * mul) >> 32`, a negative shift shifting right
    /// (`tsc_to_system_mul`, `tsc_shift`).
    pub mul: u32,
    /// See `mul`.
    pub shift: i8,
}

impl VcpuTime {
    /// From the 32 bytes of `struct vcpu_time_info` as 8 little-endian `u32` words: version,
    /// pad, tsc_timestamp (2 words), system_time (2), tsc_to_system_mul, then tsc_shift (s8),
    /// flags, pad. The version word is not part of the value (the caller checks it).
    pub fn from_words(w: &[u32; 8]) -> Self {
        Self {
            tsc_timestamp: u64::from(w[2]) | u64::from(w[3]) << 32,
            system_time: u64::from(w[4]) | u64::from(w[5]) << 32,
            mul: w[6],
            shift: (w[7] & 0xff) as u8 as i8,
        }
    }

    /// Domain system time in ns at TSC value `tsc` (pvclock's scaling, Linux's
    /// `pvclock_scale_delta`); a TSC before the record counts as no time elapsed.
    pub fn system_time_at(&self, tsc: u64) -> u64 {
        let mut delta = tsc.saturating_sub(self.tsc_timestamp);
        if self.shift < 0 {
            delta >>= u32::from(self.shift.unsigned_abs()).min(63);
        } else {
            delta = delta.checked_shl(u32::from(self.shift as u8)).unwrap_or(0);
        }
        let ns = ((u128::from(delta) * u128::from(self.mul)) >> 32) as u64;
        self.system_time.wrapping_add(ns)
    }
}

/// The wall clock (`(seconds, nanoseconds)` since the Unix epoch) from the shared info page's
/// `wc_sec`/`wc_nsec`/`wc_sec_hi` (the wall time at domain system time 0, `xen.h`) and the
/// domain system time `system_ns`; as Linux's `pvclock_read_wallclock`.
pub fn wallclock(wc_sec: u32, wc_nsec: u32, wc_sec_hi: u32, system_ns: u64) -> (i64, u32) {
    let base = (u64::from(wc_sec_hi) << 32 | u64::from(wc_sec)) as i64;
    // No u128 division: the kernel has no `__udivti3`. System time below 2^63 ns (292 years).
    let total_ns = u64::from(wc_nsec).saturating_add(system_ns);
    let sec = base.wrapping_add((total_ns / 1_000_000_000) as i64);
    (sec, (total_ns % 1_000_000_000) as u32)
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::mem::{offset_of, size_of};

    #[test]
    fn layouts_match_the_headers() {
        assert_eq!(size_of::<XenAddToPhysmap>(), 24);
        assert_eq!(offset_of!(XenAddToPhysmap, space), 4);
        assert_eq!(offset_of!(XenAddToPhysmap, idx), 8);
        assert_eq!(offset_of!(XenAddToPhysmap, gpfn), 16);
        assert_eq!(size_of::<XenMemoryReservation>(), 32);
        assert_eq!(offset_of!(XenMemoryReservation, nr_extents), 8);
        assert_eq!(offset_of!(XenMemoryReservation, extent_order), 16);
        assert_eq!(offset_of!(XenMemoryReservation, mem_flags), 20);
        assert_eq!(offset_of!(XenMemoryReservation, domid), 24);
        assert_eq!(size_of::<XenHvmParam>(), 16);
        assert_eq!(offset_of!(XenHvmParam, index), 4);
        assert_eq!(offset_of!(XenHvmParam, value), 8);
        assert_eq!(size_of::<XenHvmEvtchnUpcallVector>(), 8);
        assert_eq!(
            (
                HYPERVISOR_MEMORY_OP,
                HYPERVISOR_GRANT_TABLE_OP,
                HYPERVISOR_EVENT_CHANNEL_OP
            ),
            (12, 20, 32)
        );
        assert_eq!(HYPERVISOR_HVM_OP, 34);
        assert_eq!(XenAddToPhysmap::grant_frame(3, 9).space, 1);
        assert_eq!(XenAddToPhysmap::shared_info(9).idx, 0);
    }

    #[test]
    fn callback_via_as_linux() {
        // ISA IRQ: plain GSI number.
        let v = CallbackVia::for_device(11, 0, 0, 3 << 3, 1).unwrap();
        assert_eq!(v, CallbackVia::Gsi(11));
        assert_eq!(v.param_value(), 11);
        // IRQ 24 on 0000:00:03.0 INTA: type 1, slot 3, pin 0.
        let v = CallbackVia::for_device(24, 0, 0, 3 << 3, 1).unwrap();
        assert_eq!(v.param_value(), (1 << 56) | (3 << 11));
        let v = CallbackVia::for_device(40, 2, 5, (31 << 3) | 7, 4).unwrap();
        assert_eq!(
            v.param_value(),
            (1 << 56) | (2 << 32) | (5 << 16) | (31 << 11) | 3
        );
        assert_eq!(
            CallbackVia::for_device(24, 0, 0, 0, 0),
            Err(NoInterruptPin(0))
        );
        assert_eq!(
            CallbackVia::for_device(24, 0, 0, 0, 5),
            Err(NoInterruptPin(5))
        );
    }

    fn leaf0(s: &[u8; 12]) -> [u32; 4] {
        let w = |i: usize| u32::from_le_bytes([s[i], s[i + 1], s[i + 2], s[i + 3]]);
        [0xd, w(0), w(8), w(4)]
    }

    #[test]
    fn vendor_picks_the_instruction() {
        assert_eq!(
            hypercall_insn(leaf0(b"GenuineIntel")),
            HypercallInsn::Vmcall
        );
        assert_eq!(
            hypercall_insn(leaf0(b"AuthenticAMD")),
            HypercallInsn::Vmmcall
        );
        assert_eq!(
            hypercall_insn(leaf0(b"HygonGenuine")),
            HypercallInsn::Vmmcall
        );
        assert_eq!(
            hypercall_insn(leaf0(b"CentaurHauls")),
            HypercallInsn::Vmcall
        );
        assert_eq!(hypercall_insn([0; 4]), HypercallInsn::Vmcall);
    }

    #[test]
    fn bar_layout() {
        // qemu-xen's platform BAR 1: 16 MiB.
        let l = mmio_layout(0xf000_0000, 16 << 20, 32).unwrap();
        assert_eq!(l.shared_info_gpfn, 0xf0000);
        assert_eq!(l.grant_gpfn, 0xf0001);
        assert_eq!(l.grant_frames, 32);
        assert_eq!(
            mmio_layout(0xf000_0000, 3 * 4096, 32).unwrap().grant_frames,
            2
        );
        assert_eq!(
            mmio_layout(0xf000_0000, 2 * 4096, 0).unwrap().grant_frames,
            1
        );
        assert!(mmio_layout(0xf000_0000, 4096, 1).is_err());
        assert!(mmio_layout(0xf000_0800, 1 << 20, 1).is_err());
        assert!(mmio_layout(0, 1 << 20, 1).is_err());
    }

    #[test]
    fn pvclock_scaling_and_wallclock() {
        // 1 GHz TSC: mul 2^31 with shift 1 gives 1 ns per tick.
        let t = VcpuTime {
            tsc_timestamp: 1000,
            system_time: 5_000_000_000,
            mul: 1 << 31,
            shift: 1,
        };
        assert_eq!(t.system_time_at(1000), 5_000_000_000);
        assert_eq!(t.system_time_at(1500), 5_000_000_500);
        assert_eq!(t.system_time_at(10), 5_000_000_000);
        // 3 GHz TSC: shift -1, mul 2/3 * 2^32 * 2 ... (about 0.333 ns a tick).
        let t3 = VcpuTime {
            tsc_timestamp: 0,
            system_time: 0,
            mul: 0xaaaa_aaaa,
            shift: -1,
        };
        let ns = t3.system_time_at(3_000_000_000);
        assert!((999_999_990..=1_000_000_000).contains(&ns), "{ns}");
        let mut w = [0u32; 8];
        w[0] = 4;
        w[2] = 0x89ab_cdef;
        w[3] = 0x1;
        w[4] = 7;
        w[6] = 0x8000_0000;
        w[7] = 0xff; // shift -1
        let v = VcpuTime::from_words(&w);
        assert_eq!(v.tsc_timestamp, 0x1_89ab_cdef);
        assert_eq!(v.system_time, 7);
        assert_eq!(v.shift, -1);
        assert_eq!(
            wallclock(100, 900_000_000, 0, 200_000_000),
            (101, 100_000_000)
        );
        assert_eq!(wallclock(0, 0, 1, 0), (1 << 32, 0));
    }
}
