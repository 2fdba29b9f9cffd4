// SPDX-License-Identifier: GPL-2.0
//! Event channels, 2-level ABI, as defined by Xen's `include/xen/interface/event_channel.h` and
//! `xen.h` (`struct shared_info`, `struct vcpu_info`), with the scan of Linux's
//! `drivers/xen/events/events_2l.c`.
//!
//! Pending and mask bits live in the shared info page (x86_64 layout, `xen_ulong_t` = `u64`):
//!
//! | offset | field                              | size   | meaning                              |
//! |--------|------------------------------------|--------|--------------------------------------|
//! | 0      | `vcpu_info[32]`                    | 32×64  | per-vCPU, see below                  |
//! | 2048   | `evtchn_pending[64]`               | 512    | bit `p` set: port `p` is pending     |
//! | 2560   | `evtchn_mask[64]`                  | 512    | bit `p` set: port `p` is masked      |
//! | 3072   | `wc_version`, `wc_sec`, `wc_nsec`, `wc_sec_hi` | 16 | wall clock                  |
//! | 3088   | `arch` (`struct arch_shared_info`) | 48     | PV p2m info                          |
//!
//! `struct vcpu_info` (64 bytes): `evtchn_upcall_pending: u8` at 0, `evtchn_upcall_mask: u8` at 1,
//! `evtchn_pending_sel: u64` at 8 (bit `w` set: word `w` of `evtchn_pending` may have bits set),
//! `arch` (16 bytes) at 16, `time` (`struct pvclock_vcpu_time_info`, 32 bytes) at 32.
//!
//! Xen sets a port's pending bit, then (if unmasked) the word's bit in the target vCPU's
//! `evtchn_pending_sel`, then `evtchn_upcall_pending`, and raises the upcall. The guest clears them
//! in the opposite order: upcall flag, selector (atomic exchange with 0), then each pending bit
//! before handling the port ([`PendingPorts`]).
//!
//! Ports run from 1 to 4095 ([`EVTCHN_2L_NR_CHANNELS`] − 1); port 0 is never a valid channel.

use core::sync::atomic::{AtomicU64, AtomicU8, Ordering};

/// An event channel port (`evtchn_port_t`).
pub type Port = u32;
/// A domain id (`domid_t`).
pub type DomId = u16;

/// "This domain" for hypercall arguments (`DOMID_SELF`).
pub const DOMID_SELF: DomId = 0x7ff0;
/// Bits per bitmap word (`BITS_PER_EVTCHN_WORD`: `xen_ulong_t` is 64-bit on x86_64).
pub const BITS_PER_EVTCHN_WORD: u32 = 64;
/// Words in `evtchn_pending`/`evtchn_mask`: one per bit of `evtchn_pending_sel`.
pub const EVTCHN_2L_WORDS: usize = 64;
/// Ports of the 2-level ABI (`EVTCHN_2L_NR_CHANNELS`): 64 × 64 = 4096.
pub const EVTCHN_2L_NR_CHANNELS: u32 = BITS_PER_EVTCHN_WORD * EVTCHN_2L_WORDS as u32;
/// `vcpu_info` slots in the shared info page (`MAX_VIRT_CPUS`, x86).
pub const MAX_VIRT_CPUS: usize = 32;

/// `EVTCHNOP_*` sub-operations of `HYPERVISOR_event_channel_op`.
pub mod op {
    /// Bind to a port of a remote domain: [`super::EvtchnBindInterdomain`].
    pub const BIND_INTERDOMAIN: u32 = 0;
    /// Bind a virtual IRQ.
    pub const BIND_VIRQ: u32 = 1;
    /// Bind a physical IRQ.
    pub const BIND_PIRQ: u32 = 2;
    /// Close a port: [`super::EvtchnClose`].
    pub const CLOSE: u32 = 3;
    /// Notify the remote end: [`super::EvtchnSend`].
    pub const SEND: u32 = 4;
    /// Query a port's status.
    pub const STATUS: u32 = 5;
    /// Allocate a port a remote domain may bind to: [`super::EvtchnAllocUnbound`].
    pub const ALLOC_UNBOUND: u32 = 6;
    /// Bind an IPI.
    pub const BIND_IPI: u32 = 7;
    /// Deliver a port to another vCPU: [`super::EvtchnBindVcpu`].
    pub const BIND_VCPU: u32 = 8;
    /// Unmask a port, re-raising it if pending: [`super::EvtchnUnmask`].
    pub const UNMASK: u32 = 9;
    /// Close all ports of a domain.
    pub const RESET: u32 = 10;
    /// FIFO ABI: init control block.
    pub const INIT_CONTROL: u32 = 11;
    /// FIFO ABI: expand the event array.
    pub const EXPAND_ARRAY: u32 = 12;
    /// FIFO ABI: set priority.
    pub const SET_PRIORITY: u32 = 13;
}

/// `struct evtchn_alloc_unbound` (8 bytes): a port in `dom` that `remote_dom` may bind.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EvtchnAllocUnbound {
    /// IN: the allocating domain, [`DOMID_SELF`].
    pub dom: DomId,
    /// IN: the domain allowed to bind (the backend's).
    pub remote_dom: DomId,
    /// OUT: the new local port.
    pub port: Port,
}

/// `struct evtchn_bind_interdomain` (12 bytes).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EvtchnBindInterdomain {
    /// IN: remote domain.
    pub remote_dom: DomId,
    /// IN: its unbound port.
    pub remote_port: Port,
    /// OUT: the new local port.
    pub local_port: Port,
}

/// `struct evtchn_send` (4 bytes).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EvtchnSend {
    /// IN: local port to notify through.
    pub port: Port,
}

/// `struct evtchn_close` (4 bytes).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EvtchnClose {
    /// IN: local port to close.
    pub port: Port,
}

/// `struct evtchn_unmask` (4 bytes).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EvtchnUnmask {
    /// IN: local port to unmask.
    pub port: Port,
}

/// `struct evtchn_bind_vcpu` (8 bytes).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EvtchnBindVcpu {
    /// IN: local port.
    pub port: Port,
    /// IN: vCPU to notify.
    pub vcpu: u32,
}

/// An invalid port number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EvtchnError {
    /// Port 0 is reserved and never names a channel.
    PortZero,
    /// Beyond the 2-level ABI's 4096 ports.
    OutOfRange {
        /// The port given.
        port: u64,
    },
}

/// Validates a port number, e.g. one read from xenstore or an HVM parameter (both untrusted).
///
/// # Errors
/// [`EvtchnError::PortZero`] or [`EvtchnError::OutOfRange`] (≥ 4096).
pub const fn check_port(port: u64) -> Result<Port, EvtchnError> {
    if port == 0 {
        Err(EvtchnError::PortZero)
    } else if port >= EVTCHN_2L_NR_CHANNELS as u64 {
        Err(EvtchnError::OutOfRange { port })
    } else {
        Ok(port as Port)
    }
}

/// Word index and bit mask of `port` in the bitmaps (`port` must be < 4096).
pub const fn word_and_bit(port: Port) -> (usize, u64) {
    (
        (port / BITS_PER_EVTCHN_WORD) as usize,
        1 << (port % BITS_PER_EVTCHN_WORD),
    )
}

/// `struct vcpu_info` (64 bytes), as shared with Xen.
#[repr(C)]
#[derive(Debug, Default)]
pub struct VcpuInfo {
    /// Set by Xen when an upcall is due (`evtchn_upcall_pending`).
    pub evtchn_upcall_pending: AtomicU8,
    /// Upcalls disabled (PV only) (`evtchn_upcall_mask`).
    pub evtchn_upcall_mask: AtomicU8,
    _pad: [u8; 6],
    /// One bit per `evtchn_pending` word with pending ports (`evtchn_pending_sel`).
    pub evtchn_pending_sel: AtomicU64,
    /// `struct arch_vcpu_info` (cr2, pad).
    pub arch: [u64; 2],
    /// `struct pvclock_vcpu_time_info`, opaque here.
    pub time: [u32; 8],
}

impl VcpuInfo {
    /// Clears `evtchn_upcall_pending` and tells whether it was set. The upcall handler calls this
    /// before each scan and scans again while it returns true (`xen_evtchn_do_upcall` loop).
    pub fn take_upcall_pending(&self) -> bool {
        self.evtchn_upcall_pending.swap(0, Ordering::SeqCst) != 0
    }
}

/// The two event bitmaps of the shared info page, each 64 words of 64 bits.
#[derive(Clone, Copy, Debug)]
pub struct Bitmaps<'a> {
    /// `evtchn_pending`.
    pub pending: &'a [AtomicU64; EVTCHN_2L_WORDS],
    /// `evtchn_mask`.
    pub mask: &'a [AtomicU64; EVTCHN_2L_WORDS],
}

/// What [`Bitmaps::unmask_local`] leaves to the caller.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnmaskAction {
    /// Done: unmasked (and, if pending, the selector and upcall flag were set for a re-scan).
    Done,
    /// Issue `EVTCHNOP_unmask` for the port: Xen re-raises it (the port stays masked until then).
    Hypercall,
}

impl Bitmaps<'_> {
    /// Masks `port` (`evtchn_2l_mask`).
    pub fn mask(&self, port: Port) {
        let (w, b) = word_and_bit(port);
        self.mask[w].fetch_or(b, Ordering::SeqCst);
    }

    /// Masks `port`; returns whether it was masked already (`test_and_set_mask`).
    pub fn test_and_set_mask(&self, port: Port) -> bool {
        let (w, b) = word_and_bit(port);
        self.mask[w].fetch_or(b, Ordering::SeqCst) & b != 0
    }

    /// Whether `port` is masked.
    pub fn is_masked(&self, port: Port) -> bool {
        let (w, b) = word_and_bit(port);
        self.mask[w].load(Ordering::SeqCst) & b != 0
    }

    /// Whether `port` is pending (`evtchn_2l_is_pending`).
    pub fn is_pending(&self, port: Port) -> bool {
        let (w, b) = word_and_bit(port);
        self.pending[w].load(Ordering::SeqCst) & b != 0
    }

    /// Clears `port`'s pending bit (`evtchn_2l_clear_pending`); returns whether it was set.
    pub fn clear_pending(&self, port: Port) -> bool {
        let (w, b) = word_and_bit(port);
        self.pending[w].fetch_and(!b, Ordering::SeqCst) & b != 0
    }

    /// Sets `port`'s pending bit (`evtchn_2l_set_pending`, used to re-trigger after resume).
    pub fn set_pending(&self, port: Port) {
        let (w, b) = word_and_bit(port);
        self.pending[w].fetch_or(b, Ordering::SeqCst);
    }

    /// `evtchn_2l_unmask` for a port bound to the current vCPU (interrupts off): clears the mask
    /// bit and, if the port is pending, either re-raises it locally (`evtchn_pending_sel` and
    /// `evtchn_upcall_pending` of `vcpu`) or — in an HVM guest, which cannot re-inject the
    /// upcall itself — masks it again and asks for the `EVTCHNOP_unmask` hypercall.
    ///
    /// For a port bound to another vCPU, call the hypercall directly instead.
    pub fn unmask_local(&self, port: Port, vcpu: &VcpuInfo, hvm: bool) -> UnmaskAction {
        let (w, b) = word_and_bit(port);
        // Clear the mask before checking pending, to not miss an event arriving in between.
        self.mask[w].fetch_and(!b, Ordering::SeqCst);
        if self.pending[w].load(Ordering::SeqCst) & b == 0 {
            return UnmaskAction::Done;
        }
        if hvm {
            self.mask[w].fetch_or(b, Ordering::SeqCst);
            return UnmaskAction::Hypercall;
        }
        let sel_bit = 1u64 << w;
        if vcpu.evtchn_pending_sel.fetch_or(sel_bit, Ordering::SeqCst) & sel_bit == 0 {
            vcpu.evtchn_upcall_pending.store(1, Ordering::SeqCst);
        }
        UnmaskAction::Done
    }

    /// Pending, unmasked and locally-bound ports of word `w` (`active_evtchns`).
    fn active(&self, w: usize, local: Option<&[AtomicU64; EVTCHN_2L_WORDS]>) -> u64 {
        let local = local.map_or(!0, |l| l[w].load(Ordering::Relaxed));
        self.pending[w].load(Ordering::SeqCst) & local & !self.mask[w].load(Ordering::SeqCst)
    }

    /// Starts a scan for this vCPU (`evtchn_2l_handle_events`): atomically takes and clears
    /// `evtchn_pending_sel` and returns the ports to handle, starting after the last port the
    /// previous scan handled (`cursor`, per vCPU) for fairness.
    ///
    /// `local`, if given, is this vCPU's `cpu_evtchn_mask`: ports whose bit is clear there are
    /// bound to another vCPU and skipped. Masked ports are skipped. Each port's pending bit is
    /// cleared just before the port is returned, so an event arriving while it is handled is
    /// seen by the next scan. The caller clears `evtchn_upcall_pending` first
    /// ([`VcpuInfo::take_upcall_pending`]) and loops while it is set again.
    ///
    /// Linux additionally handles the timer VIRQ's port first; a caller wanting that can check
    /// it with [`Self::is_pending`]/[`Self::clear_pending`] before scanning.
    pub fn scan<'a>(
        &'a self,
        vcpu: &VcpuInfo,
        local: Option<&'a [AtomicU64; EVTCHN_2L_WORDS]>,
        cursor: &'a mut ScanCursor,
    ) -> PendingPorts<'a> {
        // Full barrier, after the caller cleared evtchn_upcall_pending (xchg_xen_ulong).
        let pending_words = vcpu.evtchn_pending_sel.swap(0, Ordering::SeqCst);
        PendingPorts::new(*self, local, cursor, pending_words)
    }
}

/// Where the next scan of a vCPU starts (Linux's per-CPU `current_word_idx`/`current_bit_idx`):
/// one past the last port handled.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ScanCursor {
    /// Word index, 0..64.
    pub word: u32,
    /// Bit index, 0..64.
    pub bit: u32,
}

/// `w` with its `i` least significant bits cleared (`MASK_LSBS`), `i < 64`.
const fn mask_lsbs(w: u64, i: u32) -> u64 {
    w & (!0u64 << i)
}

/// Iterator over the ports to handle, from [`Bitmaps::scan`]. Bounded: every selected word is
/// visited at most twice (the starting word twice, as in Linux, so bits below the start are not
/// starved), and every yielded port had its pending bit cleared by this iterator.
#[derive(Debug)]
pub struct PendingPorts<'a> {
    maps: Bitmaps<'a>,
    local: Option<&'a [AtomicU64; EVTCHN_2L_WORDS]>,
    cursor: &'a mut ScanCursor,
    pending_words: u64,
    start_word: u32,
    start_bit: u32,
    pass: u32,
    word_idx: u32,
    bit_idx: u32,
    /// Active bits of `word_idx`, read once when the word is entered; `None` between words.
    pending_bits: Option<u64>,
}

impl<'a> PendingPorts<'a> {
    fn new(
        maps: Bitmaps<'a>,
        local: Option<&'a [AtomicU64; EVTCHN_2L_WORDS]>,
        cursor: &'a mut ScanCursor,
        pending_words: u64,
    ) -> Self {
        // The cursor is ours, but clamp it anyway so that a corrupted one cannot cause a shift
        // overflow.
        let start_word = cursor.word % BITS_PER_EVTCHN_WORD;
        let start_bit = cursor.bit % BITS_PER_EVTCHN_WORD;
        Self {
            maps,
            local,
            cursor,
            pending_words,
            start_word,
            start_bit,
            pass: 0,
            word_idx: start_word,
            bit_idx: 0,
            pending_bits: None,
        }
    }

    /// Leaves the current word: forget it in the selector (except the starting word on the first
    /// pass) and move to the next.
    fn finish_word(&mut self) {
        self.pending_bits = None;
        if self.word_idx != self.start_word || self.pass != 0 {
            self.pending_words &= !(1u64 << self.word_idx);
        }
        self.word_idx = (self.word_idx + 1) % BITS_PER_EVTCHN_WORD;
        self.pass += 1;
    }
}

impl Iterator for PendingPorts<'_> {
    type Item = Port;

    fn next(&mut self) -> Option<Port> {
        loop {
            if let Some(snapshot) = self.pending_bits {
                let bits = mask_lsbs(snapshot, self.bit_idx);
                if bits == 0 {
                    self.finish_word();
                    continue;
                }
                let bit = bits.trailing_zeros();
                let word = self.word_idx;
                let port = word * BITS_PER_EVTCHN_WORD + bit;
                self.bit_idx = (bit + 1) % BITS_PER_EVTCHN_WORD;
                // The next scan starts at the port after this one.
                *self.cursor = ScanCursor {
                    word: if self.bit_idx != 0 {
                        word
                    } else {
                        (word + 1) % BITS_PER_EVTCHN_WORD
                    },
                    bit: self.bit_idx,
                };
                if self.bit_idx == 0 {
                    self.finish_word();
                }
                // Clear before handling: a new event for this port must stay visible.
                self.maps.clear_pending(port);
                return Some(port);
            }
            if self.pending_words == 0 {
                return None;
            }
            let words = mask_lsbs(self.pending_words, self.word_idx);
            if words == 0 {
                // Nothing at or above word_idx: wrap to the beginning.
                self.word_idx = 0;
                self.bit_idx = 0;
                self.pass += 1;
                continue;
            }
            self.word_idx = words.trailing_zeros();
            self.pending_bits = Some(self.maps.active(self.word_idx as usize, self.local));
            self.bit_idx = if self.word_idx == self.start_word && self.pass == 0 {
                self.start_bit
            } else {
                0
            };
        }
    }
}

/// `struct shared_info` (x86_64), as mapped from the hypervisor (`XENMAPSPACE_shared_info`).
/// Only the event channel parts are interpreted.
#[repr(C)]
#[derive(Debug)]
pub struct SharedInfo {
    /// Per-vCPU info for the first 32 vCPUs.
    pub vcpu_info: [VcpuInfo; MAX_VIRT_CPUS],
    /// `evtchn_pending`.
    pub evtchn_pending: [AtomicU64; EVTCHN_2L_WORDS],
    /// `evtchn_mask`.
    pub evtchn_mask: [AtomicU64; EVTCHN_2L_WORDS],
    /// `wc_version`, `wc_sec`, `wc_nsec`, `wc_sec_hi`.
    pub wc: [u32; 4],
    /// `struct arch_shared_info` (6 × `u64`).
    pub arch: [u64; 6],
}

impl SharedInfo {
    /// The event bitmaps.
    pub fn bitmaps(&self) -> Bitmaps<'_> {
        Bitmaps {
            pending: &self.evtchn_pending,
            mask: &self.evtchn_mask,
        }
    }
}

/// Consecutive spurious events (the handler found no work) after which EOIs are delayed
/// (Linux's default `spurious_threshold` of 1).
pub const LATEEOI_SPURIOUS_THRESHOLD: u8 = 1;

/// One late EOI of a port (Linux's `xen_irq_lateeoi_locked`, XSA-391): given the port's count
/// of consecutive spurious events and whether this event was spurious, returns the new count and
/// how long to keep the port masked before unmasking it, in jiffies (`hz` = jiffies per
/// second). A backend that floods a port with events carrying no work is throttled to at most
/// one event per second; a single real event resets the count.
pub const fn lateeoi_step(spurious_cnt: u8, spurious: bool, hz: u32) -> (u8, u32) {
    if !spurious {
        return (0, 0);
    }
    let mut cnt = spurious_cnt;
    // Stop counting once the delay would exceed 4 s (it is capped at 1 s anyway).
    if cnt < 63 && (1u64 << cnt) < (hz as u64) << 2 && cnt != u8::MAX {
        cnt += 1;
    }
    if cnt <= LATEEOI_SPURIOUS_THRESHOLD {
        return (cnt, 0);
    }
    let shift = cnt - 1 - LATEEOI_SPURIOUS_THRESHOLD;
    let delay = if shift >= 32 { u32::MAX } else { 1u32 << shift };
    (cnt, if delay > hz { hz } else { delay })
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use core::mem::{offset_of, size_of};
    use std::boxed::Box;
    use std::vec::Vec;

    fn zeroed() -> Box<SharedInfo> {
        Box::new(SharedInfo {
            vcpu_info: core::array::from_fn(|_| VcpuInfo::default()),
            evtchn_pending: core::array::from_fn(|_| AtomicU64::new(0)),
            evtchn_mask: core::array::from_fn(|_| AtomicU64::new(0)),
            wc: [0; 4],
            arch: [0; 6],
        })
    }

    /// What Xen does to raise `port` for `vcpu`.
    fn raise(s: &SharedInfo, vcpu: usize, port: Port) {
        let (w, b) = word_and_bit(port);
        s.evtchn_pending[w].fetch_or(b, Ordering::SeqCst);
        if s.evtchn_mask[w].load(Ordering::SeqCst) & b == 0 {
            s.vcpu_info[vcpu]
                .evtchn_pending_sel
                .fetch_or(1 << w, Ordering::SeqCst);
            s.vcpu_info[vcpu]
                .evtchn_upcall_pending
                .store(1, Ordering::SeqCst);
        }
    }

    fn drain(s: &SharedInfo, cursor: &mut ScanCursor) -> Vec<Port> {
        let maps = s.bitmaps();
        let mut out = Vec::new();
        while s.vcpu_info[0].take_upcall_pending() {
            out.extend(maps.scan(&s.vcpu_info[0], None, cursor));
        }
        out
    }

    #[test]
    fn layout_matches_xen_h() {
        assert_eq!(size_of::<VcpuInfo>(), 64);
        assert_eq!(offset_of!(VcpuInfo, evtchn_pending_sel), 8);
        assert_eq!(offset_of!(VcpuInfo, time), 32);
        assert_eq!(offset_of!(SharedInfo, evtchn_pending), 2048);
        assert_eq!(offset_of!(SharedInfo, evtchn_mask), 2560);
        assert_eq!(offset_of!(SharedInfo, wc), 3072);
        assert_eq!(size_of::<SharedInfo>(), 3136);
        assert_eq!(size_of::<EvtchnAllocUnbound>(), 8);
        assert_eq!(offset_of!(EvtchnAllocUnbound, port), 4);
        assert_eq!(size_of::<EvtchnBindInterdomain>(), 12);
        assert_eq!(offset_of!(EvtchnBindInterdomain, remote_port), 4);
        assert_eq!(offset_of!(EvtchnBindInterdomain, local_port), 8);
        assert_eq!(size_of::<EvtchnBindVcpu>(), 8);
        assert_eq!(size_of::<EvtchnSend>(), 4);
        assert_eq!(
            (
                op::BIND_INTERDOMAIN,
                op::CLOSE,
                op::SEND,
                op::ALLOC_UNBOUND,
                op::BIND_VCPU,
                op::UNMASK
            ),
            (0, 3, 4, 6, 8, 9)
        );
        assert_eq!(EVTCHN_2L_NR_CHANNELS, 4096);
    }

    #[test]
    fn port_validity() {
        assert_eq!(check_port(0), Err(EvtchnError::PortZero));
        assert_eq!(check_port(1), Ok(1));
        assert_eq!(check_port(4095), Ok(4095));
        assert_eq!(
            check_port(4096),
            Err(EvtchnError::OutOfRange { port: 4096 })
        );
        assert_eq!(
            check_port(u64::MAX),
            Err(EvtchnError::OutOfRange { port: u64::MAX })
        );
        assert_eq!(word_and_bit(0), (0, 1));
        assert_eq!(word_and_bit(65), (1, 2));
        assert_eq!(word_and_bit(4095), (63, 1 << 63));
    }

    #[test]
    fn scan_clears_and_skips_masked() {
        let s = zeroed();
        let maps = s.bitmaps();
        maps.mask(7);
        for p in [3, 7, 64, 4095] {
            raise(&s, 0, p);
        }
        // 7 was masked: pending but not selected; word 0 is selected through 3 anyway.
        let mut c = ScanCursor::default();
        assert_eq!(drain(&s, &mut c), [3, 64, 4095]);
        assert!(maps.is_pending(7));
        for p in [3, 64, 4095] {
            assert!(!maps.is_pending(p));
        }
        assert_eq!(s.vcpu_info[0].evtchn_pending_sel.load(Ordering::SeqCst), 0);
        // The cursor is one past the last port: 4095 + 1 wraps to word 0, bit 0.
        assert_eq!(c, ScanCursor { word: 0, bit: 0 });
        // Unmask in an HVM guest: pending → masked again and a hypercall is needed.
        assert_eq!(
            maps.unmask_local(7, &s.vcpu_info[0], true),
            UnmaskAction::Hypercall
        );
        assert!(maps.is_masked(7));
        // PV-style local re-raise: selector and upcall set, and the next scan finds it.
        assert_eq!(
            maps.unmask_local(7, &s.vcpu_info[0], false),
            UnmaskAction::Done
        );
        assert!(!maps.is_masked(7));
        assert_eq!(drain(&s, &mut c), [7]);
        // Unmasking a port that is not pending needs nothing.
        maps.mask(9);
        assert_eq!(
            maps.unmask_local(9, &s.vcpu_info[0], true),
            UnmaskAction::Done
        );
        assert!(!maps.is_masked(9));
    }

    #[test]
    fn scan_resumes_after_the_last_port_for_fairness() {
        let s = zeroed();
        let maps = s.bitmaps();
        for p in [1, 2, 70, 200] {
            raise(&s, 0, p);
        }
        let mut c = ScanCursor::default();
        s.vcpu_info[0].take_upcall_pending();
        {
            let mut it = maps.scan(&s.vcpu_info[0], None, &mut c);
            assert_eq!(it.next(), Some(1));
            assert_eq!(it.next(), Some(2));
        }
        // Stopped early (e.g. a handler budget): 70 and 200 are still pending but their selector
        // bits are gone; Xen re-raises nothing. Raise 1 again and a new port in word 1.
        assert_eq!(c, ScanCursor { word: 0, bit: 3 });
        raise(&s, 0, 1);
        raise(&s, 0, 65);
        let got: Vec<_> = maps.scan(&s.vcpu_info[0], None, &mut c).collect();
        // Starts at word 0 bit 3: nothing there, then word 1 (65, 70 — 70 is pending and active),
        // then wraps to word 0 for the bits below the start (1).
        assert_eq!(got, [65, 70, 1]);
        assert_eq!(c, ScanCursor { word: 0, bit: 2 });
        assert!(
            maps.is_pending(200),
            "word 3 was not selected, port stays pending"
        );
    }

    #[test]
    fn starting_word_is_scanned_twice_others_once() {
        let s = zeroed();
        let maps = s.bitmaps();
        let mut c = ScanCursor { word: 2, bit: 10 };
        for p in [2 * 64 + 5, 2 * 64 + 20, 3 * 64, 64] {
            raise(&s, 0, p);
        }
        s.vcpu_info[0].take_upcall_pending();
        let got: Vec<_> = maps.scan(&s.vcpu_info[0], None, &mut c).collect();
        assert_eq!(got, [2 * 64 + 20, 3 * 64, 64, 2 * 64 + 5]);
    }

    #[test]
    fn test_and_set_mask_reports_the_old_state() {
        let s = zeroed();
        let maps = s.bitmaps();
        assert!(!maps.test_and_set_mask(70));
        assert!(maps.is_masked(70));
        assert!(maps.test_and_set_mask(70));
        assert!(!maps.is_masked(71));
    }

    #[test]
    fn local_mask_skips_ports_of_other_vcpus() {
        let s = zeroed();
        let maps = s.bitmaps();
        let local: [AtomicU64; 64] = core::array::from_fn(|_| AtomicU64::new(!0));
        local[0].store(!(1 << 5), Ordering::SeqCst);
        raise(&s, 0, 5);
        raise(&s, 0, 6);
        let mut c = ScanCursor::default();
        let got: Vec<_> = maps.scan(&s.vcpu_info[0], Some(&local), &mut c).collect();
        assert_eq!(got, [6]);
        assert!(maps.is_pending(5));
    }

    #[test]
    fn hostile_selector_and_cursor_terminate() {
        let s = zeroed();
        let maps = s.bitmaps();
        // Every selector bit set but no pending port: terminates with nothing.
        s.vcpu_info[0]
            .evtchn_pending_sel
            .store(!0, Ordering::SeqCst);
        let mut c = ScanCursor {
            word: 1000,
            bit: 999,
        };
        assert_eq!(maps.scan(&s.vcpu_info[0], None, &mut c).count(), 0);
        // Everything pending and selected: each port exactly once.
        for w in &s.evtchn_pending {
            w.store(!0, Ordering::SeqCst);
        }
        s.vcpu_info[0]
            .evtchn_pending_sel
            .store(!0, Ordering::SeqCst);
        let mut c = ScanCursor { word: 17, bit: 33 };
        let mut got: Vec<_> = maps.scan(&s.vcpu_info[0], None, &mut c).collect();
        assert_eq!(got[0], 17 * 64 + 33);
        got.sort_unstable();
        assert_eq!(got, (0..4096).collect::<Vec<_>>());
        assert!(s
            .evtchn_pending
            .iter()
            .all(|w| w.load(Ordering::SeqCst) == 0));
    }

    #[test]
    fn lateeoi_throttles_spurious_storms() {
        // A real event: no delay, count reset.
        assert_eq!(lateeoi_step(7, false, 250), (0, 0));
        // First spurious event: counted, not delayed (threshold 1).
        assert_eq!(lateeoi_step(0, true, 250), (1, 0));
        // Then 1, 2, 4, ... jiffies, capped at HZ.
        let mut cnt = 1;
        let mut delays = Vec::new();
        for _ in 0..20 {
            let (c, d) = lateeoi_step(cnt, true, 250);
            cnt = c;
            delays.push(d);
        }
        assert_eq!(&delays[..4], [1, 2, 4, 8]);
        assert_eq!(*delays.last().unwrap(), 250);
        assert!(delays.windows(2).all(|w| w[0] <= w[1]));
        // The count saturates and never overflows.
        assert_eq!(lateeoi_step(u8::MAX, true, 1000).1, 1000);
        assert_eq!(lateeoi_step(62, true, u32::MAX).1, u32::MAX);
    }
}
