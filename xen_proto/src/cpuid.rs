// SPDX-License-Identifier: GPL-2.0
//! Detecting Xen from the CPUID hypervisor leaves, as defined by Xen's
//! `arch-x86/cpuid.h` (Linux: `arch/x86/include/asm/xen/cpuid.h`).
//!
//! Xen's leaves start at `0x40000000` or, when it also presents another hypervisor's interface
//! (e.g. Viridian for Windows guests), at a higher multiple of `0x100` up to `0x4000ff00`:
//!
//! | leaf      | register | meaning                                                     |
//! |-----------|----------|-------------------------------------------------------------|
//! | base + 0  | eax      | largest Xen leaf                                            |
//! |           | ebx..edx | signature `"XenVMMXenVMM"`                                  |
//! | base + 1  | eax      | version: major in bits 31..16, minor in bits 15..0          |
//! | base + 2  | eax, ebx | hypercall transfer pages, MSR base (unused here: XSA-466)   |
//! | base + 4  | eax      | HVM feature flags (`XEN_HVM_CPUID_*`)                       |
//! |           | ebx      | vCPU id if `XEN_HVM_CPUID_VCPU_ID_PRESENT`                  |
//! |           | ecx      | domid if `XEN_HVM_CPUID_DOMID_PRESENT`                      |
//!
//! The decoding takes a `cpuid(leaf) -> [eax, ebx, ecx, edx]` function so that it runs unchanged
//! in the kernel (the real instruction) and in host tests (a table).

/// First leaf probed for the Xen signature (`XEN_CPUID_FIRST_LEAF`).
pub const XEN_CPUID_FIRST_LEAF: u32 = 0x4000_0000;
/// Leaf stride and one past the last base probed (as Linux's `hypervisor_cpuid_base`).
pub const XEN_CPUID_BASE_STEP: u32 = 0x100;
/// One past the last base probed.
pub const XEN_CPUID_BASE_END: u32 = 0x4001_0000;
/// `"XenV"`, `"MMXe"`, `"nVMM"`: the signature in ebx, ecx, edx.
pub const XEN_CPUID_SIGNATURE: [u32; 3] = [0x566e_6558, 0x6558_4d4d, 0x4d4d_566e];
/// CPUID.1:ECX bit 31: "running under a hypervisor".
pub const CPUID1_ECX_HYPERVISOR: u32 = 1 << 31;

/// HVM feature flags of leaf base+4, eax (`XEN_HVM_CPUID_*`).
pub mod hvm_flags {
    /// Virtualized APIC registers.
    pub const APIC_ACCESS_VIRT: u32 = 1 << 0;
    /// Virtualized x2APIC accesses.
    pub const X2APIC_VIRT: u32 = 1 << 1;
    /// Memory mapped from other domains has valid IOMMU entries.
    pub const IOMMU_MAPPINGS: u32 = 1 << 2;
    /// ebx holds the vCPU id.
    pub const VCPU_ID_PRESENT: u32 = 1 << 3;
    /// ecx holds the domid.
    pub const DOMID_PRESENT: u32 = 1 << 4;
    /// Extended destination ID for IO-APIC/MSI.
    pub const EXT_DEST_ID: u32 = 1 << 5;
    /// Per-vCPU event channel upcall vectors work (`HVMOP_set_evtchn_upcall_vector`).
    pub const UPCALL_VECTOR: u32 = 1 << 6;
}

/// What CPUID says about the Xen host.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct XenCpuid {
    /// Leaf holding the signature (`0x40000000` + n × `0x100`).
    pub base: u32,
    /// Largest Xen leaf supported.
    pub max_leaf: u32,
    /// Xen major version.
    pub major: u16,
    /// Xen minor version.
    pub minor: u16,
    /// HVM feature flags ([`hvm_flags`]); 0 if leaf base+4 is not provided.
    pub hvm_features: u32,
    /// This vCPU's id, when Xen reports it.
    pub vcpu_id: Option<u32>,
    /// This domain's id, when Xen reports it.
    pub domid: Option<u16>,
}

impl XenCpuid {
    /// Whether `flag` (one of [`hvm_flags`]) is set.
    pub const fn has(&self, flag: u32) -> bool {
        self.hvm_features & flag != 0
    }
}

/// Why Xen was not found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CpuidError {
    /// CPUID.1:ECX.hypervisor is clear: bare metal, or a hypervisor that hides itself.
    NoHypervisor,
    /// A hypervisor is present but no leaf range carries the Xen signature with the leaves needed.
    NotXen {
        /// The signature at `0x40000000` (12 bytes of ebx, ecx, edx), to name the hypervisor found.
        signature: [u8; 12],
    },
}

fn signature_bytes(regs: [u32; 4]) -> [u8; 12] {
    let mut s = [0u8; 12];
    for (i, r) in regs[1..].iter().enumerate() {
        s[i * 4..i * 4 + 4].copy_from_slice(&r.to_le_bytes());
    }
    s
}

/// Finds Xen's CPUID leaves (`xen_cpuid_base()`: signature and at least leaves base..=base+2) and
/// decodes version and HVM features.
///
/// # Errors
/// [`CpuidError`] when not running on Xen; the error says what was found instead.
pub fn detect(mut cpuid: impl FnMut(u32) -> [u32; 4]) -> Result<XenCpuid, CpuidError> {
    if cpuid(1)[2] & CPUID1_ECX_HYPERVISOR == 0 {
        return Err(CpuidError::NoHypervisor);
    }
    let first = cpuid(XEN_CPUID_FIRST_LEAF);
    let mut base = XEN_CPUID_FIRST_LEAF;
    while base < XEN_CPUID_BASE_END {
        let r = if base == XEN_CPUID_FIRST_LEAF {
            first
        } else {
            cpuid(base)
        };
        if r[1..] == XEN_CPUID_SIGNATURE && r[0].wrapping_sub(base) >= 2 && r[0] >= base {
            return Ok(decode(base, r[0], &mut cpuid));
        }
        base += XEN_CPUID_BASE_STEP;
    }
    Err(CpuidError::NotXen {
        signature: signature_bytes(first),
    })
}

fn decode(base: u32, max_leaf: u32, cpuid: &mut impl FnMut(u32) -> [u32; 4]) -> XenCpuid {
    let version = cpuid(base + 1)[0];
    let mut info = XenCpuid {
        base,
        max_leaf,
        major: (version >> 16) as u16,
        minor: version as u16,
        hvm_features: 0,
        vcpu_id: None,
        domid: None,
    };
    if max_leaf >= base + 4 {
        let r = cpuid(base + 4);
        info.hvm_features = r[0];
        if r[0] & hvm_flags::VCPU_ID_PRESENT != 0 {
            info.vcpu_id = Some(r[1]);
        }
        if r[0] & hvm_flags::DOMID_PRESENT != 0 {
            // domid_t is 16 bits; Xen puts it in the low half of ecx.
            info.domid = Some(r[2] as u16);
        }
    }
    info
}

#[cfg(test)]
mod tests {
    use super::*;

    fn xen_at(base: u32, max_off: u32) -> impl FnMut(u32) -> [u32; 4] {
        move |leaf| match leaf {
            1 => [0, 0, CPUID1_ECX_HYPERVISOR, 0],
            0x4000_0000 if base != 0x4000_0000 => {
                // Viridian ("Microsoft Hv") in front of Xen.
                [0x4000_0006, 0x7263_694d, 0x666f_736f, 0x7648_2074]
            }
            l if l == base => [
                base + max_off,
                XEN_CPUID_SIGNATURE[0],
                XEN_CPUID_SIGNATURE[1],
                XEN_CPUID_SIGNATURE[2],
            ],
            l if l == base + 1 => [(4 << 16) | 17, 0, 0, 0],
            l if l == base + 4 => [
                hvm_flags::VCPU_ID_PRESENT | hvm_flags::DOMID_PRESENT | hvm_flags::UPCALL_VECTOR,
                0,
                0x0001_0007,
                0,
            ],
            _ => [0; 4],
        }
    }

    #[test]
    fn xen_417_at_the_first_leaf() {
        let x = detect(xen_at(0x4000_0000, 5)).unwrap();
        assert_eq!((x.base, x.major, x.minor), (0x4000_0000, 4, 17));
        assert_eq!(x.vcpu_id, Some(0));
        assert_eq!(x.domid, Some(7));
        assert!(x.has(hvm_flags::UPCALL_VECTOR));
        assert!(!x.has(hvm_flags::X2APIC_VIRT));
    }

    #[test]
    fn xen_behind_viridian() {
        let x = detect(xen_at(0x4000_0100, 5)).unwrap();
        assert_eq!(x.base, 0x4000_0100);
        assert_eq!(x.max_leaf, 0x4000_0105);
    }

    #[test]
    fn old_xen_without_hvm_leaf() {
        let x = detect(xen_at(0x4000_0000, 2)).unwrap();
        assert_eq!(x.hvm_features, 0);
        assert_eq!(x.domid, None);
    }

    #[test]
    fn too_few_leaves_is_not_xen() {
        assert!(matches!(
            detect(xen_at(0x4000_0000, 1)),
            Err(CpuidError::NotXen { .. })
        ));
    }

    #[test]
    fn bare_metal_and_other_hypervisors() {
        assert_eq!(detect(|_| [0; 4]), Err(CpuidError::NoHypervisor));
        let kvm = |leaf| match leaf {
            1 => [0, 0, CPUID1_ECX_HYPERVISOR, 0],
            0x4000_0000 => [0x4000_0001, 0x4b4d_564b, 0x564b_4d56, 0x0000_004d],
            _ => [0; 4],
        };
        assert_eq!(
            detect(kvm),
            Err(CpuidError::NotXen {
                signature: *b"KVMKVMKVM\0\0\0"
            })
        );
    }
}
