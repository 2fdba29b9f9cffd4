// SPDX-License-Identifier: GPL-2.0
//! Virtual block device numbers (`virtual-device` in xenstore) and the disk names and minors
//! Linux's blkfront derives from them (`xen_translate_vdev`, `xlvbd_alloc_gendisk`,
//! `encode_disk_name` in `drivers/block/xen-blkfront.c`; Xen's `docs/misc/vbd-interface.txt`).
//!
//! Encodings of the 32-bit `virtual-device` value:
//!
//! | bits                         | kind  | disk                         | partition   |
//! |------------------------------|-------|------------------------------|-------------|
//! | `1 << 28 \| disk << 8 \| p`  | xvd, extended | `(v >> 8) & 0xfffff` | `v & 0xff`  |
//! | `202 << 8 \| disk << 4 \| p` | xvd   | 0..15                        | 0..15       |
//! | `8 << 8 \| disk << 4 \| p` (and majors 65–71, 128–135) | sd | +16 per major | 0..15 |
//! | `3 << 8 \| disk << 6 \| p`   | hd    | 0..1 (hda, hdb)              | 0..63       |
//! | `22 << 8 \| disk << 6 \| p`  | hd    | 2..3 (hdc, hdd)              | 0..63       |
//! | `>= 2 << 28`                 | —     | reserved: error              |             |
//!
//! Every disk appears as `xvd<letters>` under major [`XENVBD_MAJOR`], 16 minors per disk
//! (256 for the extended encoding), named with Linux's bijective base-26 letters: `xvda`..`xvdz`,
//! `xvdaa`, ….
//!
//! Linux 6.12 only translates the IDE majors 3 and 22; the other Linux IDE majors (33, 34, 56, 57,
//! 88–91) are recognised here ([`VdevError::UnsupportedIdeMajor`]) but refused like Linux does
//! (`-ENODEV`, "please use an xvd device instead").
//!
//! Note a Linux quirk kept here: an hd vdev always maps to the whole disk (the partition bits are
//! dropped), so `hda1` becomes `xvda`.

use core::fmt;

/// Major of Xen virtual disks (`XENVBD_MAJOR`).
pub const XENVBD_MAJOR: u32 = 202;
/// Minors per disk in the compact encodings (`PARTS_PER_DISK`).
pub const PARTS_PER_DISK: u32 = 16;
/// Minors per disk in the extended encoding (`PARTS_PER_EXT_DISK`).
pub const PARTS_PER_EXT_DISK: u32 = 256;
/// Shift of the extended flag (`EXT_SHIFT`).
pub const EXT_SHIFT: u32 = 28;
/// The extended-encoding flag (`EXTENDED`).
pub const EXTENDED: u32 = 1 << EXT_SHIFT;
/// Bits of a Linux minor number (`MINORBITS`).
pub const MINORBITS: u32 = 20;
/// Length of a gendisk name buffer, NUL included (`DISK_NAME_LEN`).
pub const DISK_NAME_LEN: usize = 32;
/// Linux's IDE majors, `IDE0_MAJOR`..`IDE9_MAJOR`.
pub const IDE_MAJORS: [u32; 10] = [3, 22, 33, 34, 56, 57, 88, 89, 90, 91];
/// Linux's SCSI disk majors, `SCSI_DISK0_MAJOR`..`SCSI_DISK15_MAJOR`.
pub const SCSI_MAJORS: [u32; 16] = [
    8, 65, 66, 67, 68, 69, 70, 71, 128, 129, 130, 131, 132, 133, 134, 135,
];

/// Which encoding a vdev uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VdevKind {
    /// Major 202, 16 minors per disk.
    Xvd,
    /// `1 << 28` extended encoding, 256 minors per disk.
    Extended,
    /// Emulated IDE (majors 3, 22).
    Hd,
    /// Emulated SCSI (majors 8, 65–71, 128–135).
    Sd,
}

/// Why a vdev is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VdevError {
    /// At or above `2 << 28`: reserved ("above the extended range").
    AboveExtendedRange(u32),
    /// A major that is neither xvd, hd nor sd ("please use an xvd device instead").
    UnknownMajor(u32),
    /// One of Linux's IDE majors 33, 34, 56, 57, 88–91, which blkfront does not translate.
    UnsupportedIdeMajor(u32),
    /// The resulting minor does not fit in 20 bits (extended disk numbers ≥ 4096).
    MinorOutOfRange {
        /// The vdev.
        vdev: u32,
        /// The minor it maps to.
        minor: u32,
    },
}

/// A decoded vdev: where it lives under major 202 and what it is called.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Vdev {
    /// The raw `virtual-device` value.
    pub raw: u32,
    /// Its encoding.
    pub kind: VdevKind,
    /// Disk index: the name offset (`xvda` is 0, `xvdaa` is 26).
    pub disk: u32,
    /// Partition, 0 for a whole disk.
    pub partition: u32,
    /// First minor under [`XENVBD_MAJOR`] (`gd->first_minor`).
    pub minor: u32,
    /// Minors per disk for this encoding: 16 or 256.
    pub parts_per_disk: u32,
}

impl Vdev {
    /// Decodes `virtual-device` as `xlvbd_alloc_gendisk`/`xen_translate_vdev` do.
    ///
    /// # Errors
    /// [`VdevError`] for the values Linux refuses with `-ENODEV`.
    pub const fn decode(raw: u32) -> Result<Self, VdevError> {
        if raw >> EXT_SHIFT > 1 {
            return Err(VdevError::AboveExtendedRange(raw));
        }
        let (kind, disk, minor, parts_per_disk) = if raw & EXTENDED != 0 {
            let minor = raw & !EXTENDED;
            (
                VdevKind::Extended,
                minor / PARTS_PER_EXT_DISK,
                minor,
                PARTS_PER_EXT_DISK,
            )
        } else {
            let major = raw >> 8;
            let m = raw & 0xff;
            let (kind, disk, minor) = match major {
                XENVBD_MAJOR => (VdevKind::Xvd, m / PARTS_PER_DISK, m),
                3 => (VdevKind::Hd, m / 64, (m / 64) * PARTS_PER_DISK),
                22 => (VdevKind::Hd, m / 64 + 2, (m / 64 + 2) * PARTS_PER_DISK),
                8 => (VdevKind::Sd, m / PARTS_PER_DISK, m),
                65..=71 => {
                    let n = major - 65 + 1;
                    (
                        VdevKind::Sd,
                        m / PARTS_PER_DISK + n * 16,
                        m + n * 16 * PARTS_PER_DISK,
                    )
                }
                128..=135 => {
                    let n = major - 128 + 8;
                    (
                        VdevKind::Sd,
                        m / PARTS_PER_DISK + n * 16,
                        m + n * 16 * PARTS_PER_DISK,
                    )
                }
                33 | 34 | 56 | 57 | 88..=91 => return Err(VdevError::UnsupportedIdeMajor(major)),
                _ => return Err(VdevError::UnknownMajor(major)),
            };
            (kind, disk, minor, PARTS_PER_DISK)
        };
        if minor >> MINORBITS != 0 {
            return Err(VdevError::MinorOutOfRange { vdev: raw, minor });
        }
        Ok(Self {
            raw,
            kind,
            disk,
            partition: minor % parts_per_disk,
            minor,
            parts_per_disk,
        })
    }

    /// Whether this is a whole disk (and gets `parts_per_disk` minors) or a single partition
    /// (one minor).
    pub const fn is_whole_disk(&self) -> bool {
        self.partition == 0
    }

    /// Minors to reserve (`nr_minors`): all of the disk's for a whole disk, else 1.
    pub const fn nr_minors(&self) -> u32 {
        if self.is_whole_disk() {
            self.parts_per_disk
        } else {
            1
        }
    }

    /// Whether this device's minors (`minor .. minor + nr_minors`) overlap `other`'s: two such
    /// devices cannot both be added (Linux's `xlbd_reserve_minors` refuses the second with
    /// `-EBUSY`). `sdb` and `xvdb`, or `hdc` and `xvdc`, are the same minors: the names of the
    /// emulated disks map onto the xvd minors (`xen_translate_vdev`).
    pub const fn minors_overlap(&self, other: &Vdev) -> bool {
        let (a0, b0) = (self.minor as u64, other.minor as u64);
        let (a1, b1) = (a0 + self.nr_minors() as u64, b0 + other.nr_minors() as u64);
        a0 < b1 && b0 < a1
    }

    /// Whether the vdev names a PV-only disk (major 202 or extended). With
    /// `xen_emul_unplug=unnecessary` (emulated disks still present) blkfront refuses the others,
    /// which would be the same disk twice.
    pub const fn is_pv_only(&self) -> bool {
        matches!(self.kind, VdevKind::Xvd | VdevKind::Extended)
    }

    /// Whether Linux warns that this extended vdev may clash with emulated IDE disks in an HVM
    /// guest (extended disk index below 4: xvda–xvdd).
    pub const fn might_conflict_with_emulated_ide(&self) -> bool {
        matches!(self.kind, VdevKind::Extended) && self.disk < 4
    }

    /// The gendisk name: `xvd` + [`encode_disk_name`] + the partition number for a partition.
    pub fn name(&self) -> DiskName {
        let mut n = DiskName {
            buf: [0; DISK_NAME_LEN],
            len: 0,
        };
        n.push(b"xvd");
        let mut letters = [0u8; 8];
        let k = encode_disk_name(self.disk, &mut letters);
        n.push(&letters[..k]);
        if !self.is_whole_disk() {
            let mut digits = [0u8; 10];
            let mut p = self.partition;
            let mut i = digits.len();
            loop {
                i -= 1;
                digits[i] = b'0' + (p % 10) as u8;
                p /= 10;
                if p == 0 {
                    break;
                }
            }
            n.push(&digits[i..]);
        }
        n
    }
}

/// Writes Linux's disk letters for disk index `n` (bijective base 26: 0 → `a`, 25 → `z`,
/// 26 → `aa`, 701 → `zz`, 702 → `aaa`) into `out`; returns the number of letters. `out` holds
/// the 7 letters any `u32` needs.
pub fn encode_disk_name(n: u32, out: &mut [u8; 8]) -> usize {
    // Build from the last letter backwards, as the recursion in encode_disk_name() unwinds.
    let mut tmp = [0u8; 8];
    let mut i = tmp.len();
    let mut n = u64::from(n);
    loop {
        i -= 1;
        tmp[i] = b'a' + (n % 26) as u8;
        if n < 26 {
            break;
        }
        n = n / 26 - 1;
    }
    let len = tmp.len() - i;
    out[..len].copy_from_slice(&tmp[i..]);
    len
}

/// A disk name, at most [`DISK_NAME_LEN`] − 1 ASCII bytes.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct DiskName {
    buf: [u8; DISK_NAME_LEN],
    len: usize,
}

impl DiskName {
    fn push(&mut self, s: &[u8]) {
        // Names are at most "xvd" + 7 letters + 3 digits: always fits.
        let end = (self.len + s.len()).min(DISK_NAME_LEN - 1);
        let n = end - self.len;
        self.buf[self.len..end].copy_from_slice(&s[..n]);
        self.len = end;
    }

    /// The name's bytes (no NUL).
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    /// The name, NUL-terminated, for C (`gd->disk_name`).
    pub fn as_bytes_with_nul(&self) -> &[u8] {
        &self.buf[..self.len + 1]
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        // Only ASCII letters and digits are ever pushed.
        core::str::from_utf8(self.as_bytes()).unwrap_or("")
    }
}

impl fmt::Display for DiskName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for DiskName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn overlapping_minors() {
        let d = |raw| Vdev::decode(raw).unwrap();
        let xvdb = d(202 << 8 | 1 << 4);
        let sdb = d(8 << 8 | 1 << 4);
        let hdc = d(22 << 8);
        let xvdc = d(202 << 8 | 2 << 4);
        let xvdb1 = d(202 << 8 | 1 << 4 | 1);
        let xvdaa = d(1 << 28 | 26 << 8);
        assert!(sdb.minors_overlap(&xvdb) && xvdb.minors_overlap(&sdb));
        assert!(hdc.minors_overlap(&xvdc));
        assert!(xvdb1.minors_overlap(&xvdb));
        assert!(!xvdb.minors_overlap(&xvdc));
        assert!(!xvdaa.minors_overlap(&xvdb) && !xvdaa.minors_overlap(&hdc));
        // Extended disk 0 covers the minors of the compact xvda..xvdp.
        assert!(d(1 << 28).minors_overlap(&xvdc));
    }

    extern crate std;
    use super::*;

    fn name(raw: u32) -> DiskName {
        Vdev::decode(raw).unwrap().name()
    }

    #[test]
    fn xvd_major_202() {
        let v = Vdev::decode(202 << 8).unwrap();
        assert_eq!(
            v,
            Vdev {
                raw: 51712,
                kind: VdevKind::Xvd,
                disk: 0,
                partition: 0,
                minor: 0,
                parts_per_disk: 16
            }
        );
        assert_eq!(v.name().as_str(), "xvda");
        assert_eq!(v.nr_minors(), 16);
        assert!(v.is_pv_only());
        // xvdb1 = 202:17.
        let v = Vdev::decode((202 << 8) | 17).unwrap();
        assert_eq!((v.disk, v.partition, v.minor, v.nr_minors()), (1, 1, 17, 1));
        assert_eq!(v.name().as_str(), "xvdb1");
        assert_eq!(name((202 << 8) | 255).as_str(), "xvdp15");
        assert_eq!(v.name().as_bytes_with_nul(), b"xvdb1\0");
    }

    #[test]
    fn extended_encoding() {
        let v = Vdev::decode(EXTENDED | (26 << 8)).unwrap();
        assert_eq!(v.kind, VdevKind::Extended);
        assert_eq!((v.disk, v.partition, v.minor), (26, 0, 26 * 256));
        assert_eq!(v.nr_minors(), 256);
        assert_eq!(v.name().as_str(), "xvdaa");
        assert!(v.is_pv_only());
        assert!(!v.might_conflict_with_emulated_ide());
        let v = Vdev::decode(EXTENDED | (4095 << 8) | 200).unwrap();
        assert_eq!((v.disk, v.partition), (4095, 200));
        assert_eq!(v.name().as_str(), "xvdfan200");
        assert!(Vdev::decode(EXTENDED | (2 << 8))
            .unwrap()
            .might_conflict_with_emulated_ide());
        // disk 4096 → minor 2^20: out of range.
        assert_eq!(
            Vdev::decode(EXTENDED | (4096 << 8)),
            Err(VdevError::MinorOutOfRange {
                vdev: EXTENDED | (4096 << 8),
                minor: 1 << 20
            })
        );
        for bad in [2 << 28, 3 << 28, u32::MAX, 0x8000_0000] {
            assert_eq!(Vdev::decode(bad), Err(VdevError::AboveExtendedRange(bad)));
        }
    }

    #[test]
    fn emulated_ide() {
        // hda = 3:0 → xvda, hdb = 3:64 → xvdb, hdc = 22:0 → xvdc, hdd = 22:64 → xvdd.
        let cases = [
            (3 << 8, "xvda", 0),
            ((3 << 8) | 64, "xvdb", 16),
            (22 << 8, "xvdc", 32),
            ((22 << 8) | 64, "xvdd", 48),
        ];
        for (raw, n, minor) in cases {
            let v = Vdev::decode(raw).unwrap();
            assert_eq!(v.kind, VdevKind::Hd);
            assert_eq!(v.name().as_str(), n);
            assert_eq!(v.minor, minor);
            assert!(!v.is_pv_only());
        }
        // hda1: partition bits dropped, whole disk, like Linux.
        let v = Vdev::decode((3 << 8) | 1).unwrap();
        assert_eq!((v.minor, v.partition, v.nr_minors()), (0, 0, 16));
        assert_eq!(v.name().as_str(), "xvda");
        // 3:128 is hdc's minor range under major 3: Linux maps it to disk 2.
        assert_eq!(Vdev::decode((3 << 8) | 128).unwrap().disk, 2);
        for major in [33, 34, 56, 57, 88, 89, 90, 91] {
            assert_eq!(
                Vdev::decode(major << 8),
                Err(VdevError::UnsupportedIdeMajor(major))
            );
        }
    }

    #[test]
    fn emulated_scsi() {
        let v = Vdev::decode(8 << 8).unwrap();
        assert_eq!((v.kind, v.name().as_str()), (VdevKind::Sd, "xvda"));
        let v = Vdev::decode((8 << 8) | 18).unwrap();
        assert_eq!(v.name().as_str(), "xvdb2");
        assert!(!v.is_pv_only());
        // sdq = 65:0 → disk 16, minor 256.
        let v = Vdev::decode(65 << 8).unwrap();
        assert_eq!((v.disk, v.minor), (16, 256));
        assert_eq!(v.name().as_str(), "xvdq");
        // 71:240 → disk 7*16+15 = 127.
        assert_eq!(Vdev::decode((71 << 8) | 240).unwrap().disk, 127);
        // 128:0 → disk 128, minor 2048 ("xvddy").
        let v = Vdev::decode(128 << 8).unwrap();
        assert_eq!((v.disk, v.minor), (128, 2048));
        assert_eq!(v.name().as_str(), "xvddy");
        // 135:255 → disk 255, minor 4095.
        let v = Vdev::decode((135 << 8) | 255).unwrap();
        assert_eq!((v.disk, v.minor, v.partition), (255, 4095, 15));
    }

    #[test]
    fn unknown_majors() {
        for major in [0, 1, 7, 9, 64, 72, 127, 136, 201, 203, 0xfffff] {
            assert_eq!(
                Vdev::decode(major << 8),
                Err(VdevError::UnknownMajor(major))
            );
        }
        assert_eq!(Vdev::decode(0), Err(VdevError::UnknownMajor(0)));
    }

    #[test]
    fn letters_are_bijective_base_26() {
        let mut out = [0u8; 8];
        let cases: [(u32, &str); 8] = [
            (0, "a"),
            (25, "z"),
            (26, "aa"),
            (27, "ab"),
            (51, "az"),
            (52, "ba"),
            (701, "zz"),
            (702, "aaa"),
        ];
        for (n, want) in cases {
            let k = encode_disk_name(n, &mut out);
            assert_eq!(&out[..k], want.as_bytes(), "{n}");
        }
        let k = encode_disk_name(u32::MAX, &mut out);
        assert_eq!(k, 7);
        assert!(out[..k].iter().all(u8::is_ascii_lowercase));
        assert_eq!(
            std::format!("{} {:?}", name(202 << 8), name(202 << 8)),
            "xvda \"xvda\""
        );
    }
}
