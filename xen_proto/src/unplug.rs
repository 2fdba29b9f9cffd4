// SPDX-License-Identifier: GPL-2.0
//! Unplugging QEMU's emulated disks and NICs so that the PV frontends own the devices, as Linux's
//! `arch/x86/xen/platform-pci-unplug.c` and `include/xen/platform_pci.h` do it, following Xen's
//! `docs/misc/hvm-emulated-unplug.pandoc`.
//!
//! The protocol lives on two fixed I/O ports of the Xen platform device (QEMU, not PCI BARs):
//!
//! | step | access                    | port   | value                                             |
//! |------|---------------------------|--------|---------------------------------------------------|
//! | 1    | read 2 bytes              | `0x10` | magic: must be `0x49d2` ([`XEN_IOPORT_MAGIC_VAL`]) |
//! | 2    | read 1 byte               | `0x12` | protocol version; 0 → skip to 6                   |
//! | 3    | write 2 bytes             | `0x12` | product number (Linux: 3)                         |
//! | 4    | write 4 bytes             | `0x10` | build number (Linux: 1)                           |
//! | 5    | read 2 bytes              | `0x10` | magic again: changed (`0xd249`) → blacklisted     |
//! | 6    | write 2 bytes             | `0x10` | unplug mask ([`XEN_UNPLUG_ALL_IDE_DISKS`], …)      |
//!
//! Linux is stricter than the document at step 2: it only accepts version 1 and gives up on
//! anything else, version 0 included ([`PlatformError::Protocol`]). This module does the same.
//!
//! The kernel command line option `xen_emul_unplug=` chooses what to unplug; [`parse_emul_unplug`]
//! and [`tokens`] parse it and [`unplug_decision`] is `xen_unplug_emulated_devices()` as a pure
//! function. Port accesses go through the [`PlatformIo`] trait so the whole sequence
//! ([`check_platform_magic`]) is host-testable.

/// Expected value of the 2-byte magic at [`XEN_IOPORT_MAGIC`] (`XEN_IOPORT_MAGIC_VAL`).
pub const XEN_IOPORT_MAGIC_VAL: u16 = 0x49d2;
/// What the magic reads as once the host has blacklisted the driver (byte-swapped magic; the
/// hvm-emulated-unplug document). Linux treats any value other than the magic as blacklisted.
pub const XEN_IOPORT_MAGIC_BLACKLISTED: u16 = 0xd249;
/// Product number Linux announces (`XEN_IOPORT_LINUX_PRODNUM`).
pub const XEN_IOPORT_LINUX_PRODNUM: u16 = 0x0003;
/// Build number Linux announces (`XEN_IOPORT_LINUX_DRVVER`).
pub const XEN_IOPORT_LINUX_DRVVER: u32 = 0x0001;
/// The only unplug protocol version Linux speaks.
pub const XEN_UNPLUG_PROTOCOL_VERSION: u8 = 1;

/// First port of the platform device's fixed I/O range (`XEN_IOPORT_BASE`).
pub const XEN_IOPORT_BASE: u16 = 0x10;
/// Platform flags, 1-byte read/write (`XEN_IOPORT_PLATFLAGS`).
pub const XEN_IOPORT_PLATFLAGS: u16 = XEN_IOPORT_BASE;
/// Magic, 2-byte read (`XEN_IOPORT_MAGIC`).
pub const XEN_IOPORT_MAGIC: u16 = XEN_IOPORT_BASE;
/// Unplug mask, 2-byte write (`XEN_IOPORT_UNPLUG`).
pub const XEN_IOPORT_UNPLUG: u16 = XEN_IOPORT_BASE;
/// Driver build number, 4-byte write (`XEN_IOPORT_DRVVER`).
pub const XEN_IOPORT_DRVVER: u16 = XEN_IOPORT_BASE;
/// Log bytes to QEMU, 1-byte write (`XEN_IOPORT_SYSLOG`).
pub const XEN_IOPORT_SYSLOG: u16 = XEN_IOPORT_BASE + 2;
/// Protocol version, 1-byte read (`XEN_IOPORT_PROTOVER`).
pub const XEN_IOPORT_PROTOVER: u16 = XEN_IOPORT_BASE + 2;
/// Product number, 2-byte write (`XEN_IOPORT_PRODNUM`).
pub const XEN_IOPORT_PRODNUM: u16 = XEN_IOPORT_BASE + 2;

/// Unplug bit 0: all emulated IDE and SCSI disks, not CD drives (`XEN_UNPLUG_ALL_IDE_DISKS`).
pub const XEN_UNPLUG_ALL_IDE_DISKS: u32 = 1 << 0;
/// Unplug bit 1: all emulated NICs (`XEN_UNPLUG_ALL_NICS`).
pub const XEN_UNPLUG_ALL_NICS: u32 = 1 << 1;
/// Unplug bit 2: all IDE disks but the primary master (`XEN_UNPLUG_AUX_IDE_DISKS`); overridden
/// by bit 0.
pub const XEN_UNPLUG_AUX_IDE_DISKS: u32 = 1 << 2;
/// Unplug bit 3: all emulated NVMe disks (hvm-emulated-unplug document only; Linux never sets it).
pub const XEN_UNPLUG_NVME_DISKS: u32 = 1 << 3;
/// The three bits `xen_emul_unplug=all` sets (`XEN_UNPLUG_ALL`).
pub const XEN_UNPLUG_ALL: u32 =
    XEN_UNPLUG_ALL_IDE_DISKS | XEN_UNPLUG_ALL_NICS | XEN_UNPLUG_AUX_IDE_DISKS;
/// Kernel-only flag, never written to the port: the PV drivers may run next to the emulated
/// devices, nothing is unplugged (`XEN_UNPLUG_UNNECESSARY`).
pub const XEN_UNPLUG_UNNECESSARY: u32 = 1 << 16;
/// Kernel-only flag: do not even look at the platform device (`XEN_UNPLUG_NEVER`).
pub const XEN_UNPLUG_NEVER: u32 = 1 << 17;

/// The keywords of `xen_emul_unplug=`, in the order Linux tries them, with their bits.
pub const EMUL_UNPLUG_KEYWORDS: [(&str, u32); 6] = [
    ("all", XEN_UNPLUG_ALL),
    ("ide-disks", XEN_UNPLUG_ALL_IDE_DISKS),
    ("aux-ide-disks", XEN_UNPLUG_AUX_IDE_DISKS),
    ("nics", XEN_UNPLUG_ALL_NICS),
    ("unnecessary", XEN_UNPLUG_UNNECESSARY),
    ("never", XEN_UNPLUG_NEVER),
];

/// A `xen_emul_unplug=` token that is none of the keywords.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UnknownToken<'a> {
    /// The offending token (without the separating commas), for `pr_err`.
    pub token: &'a [u8],
}

/// Iterator over the comma-separated tokens of a `xen_emul_unplug=` value: each item is the mask
/// bits of one token, or the token itself when it is unknown. See [`tokens`].
#[derive(Clone, Debug)]
pub struct Tokens<'a> {
    rest: Option<&'a [u8]>,
}

impl<'a> Iterator for Tokens<'a> {
    type Item = Result<u32, UnknownToken<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        let s = self.rest?;
        let token = match s.iter().position(|&b| b == b',') {
            Some(i) => {
                self.rest = Some(&s[i + 1..]);
                &s[..i]
            }
            None => {
                self.rest = None;
                s
            }
        };
        Some(token_mask(token).ok_or(UnknownToken { token }))
    }
}

/// The bits of one token. Linux compares with `strncmp(p, keyword, token_len)`, so a token matches
/// the first keyword it is a prefix of: `"nic"` is `nics`, `"a"` is `all`, and the empty token
/// (as in `xen_emul_unplug=` or a trailing comma) is `all`.
fn token_mask(token: &[u8]) -> Option<u32> {
    EMUL_UNPLUG_KEYWORDS
        .iter()
        .find(|(kw, _)| kw.as_bytes().starts_with(token))
        .map(|&(_, bits)| bits)
}

/// Splits a `xen_emul_unplug=` value into tokens as `parse_xen_emul_unplug()` does.
///
/// `arg` is the text after `=`, or `None` when the option is given without `=` (Linux then sets
/// nothing). The value ends at the first NUL byte, if any (it is a C string in the kernel).
pub fn tokens(arg: Option<&[u8]>) -> Tokens<'_> {
    let rest = arg.map(|a| match a.iter().position(|&b| b == 0) {
        Some(n) => &a[..n],
        None => a,
    });
    Tokens { rest }
}

/// Parses `xen_emul_unplug=` into an unplug mask (`xen_emul_unplug` in Linux), strictly.
///
/// Returns 0 when the option is absent (`None`): [`unplug_decision`] then applies the default.
/// Tokens are matched as Linux does (see [`tokens`]; prefixes and the empty token count).
///
/// # Errors
/// [`UnknownToken`] for the first token that matches no keyword. Linux warns and ignores such a
/// token but keeps the others; this function rejects the whole value so the caller can `pr_err`
/// the token and fall back to the default (mask 0). Use [`parse_emul_unplug_lenient`] for Linux's
/// exact behaviour.
pub fn parse_emul_unplug(arg: Option<&[u8]>) -> Result<u32, UnknownToken<'_>> {
    tokens(arg).try_fold(0, |mask, t| t.map(|bits| mask | bits))
}

/// Parses `xen_emul_unplug=` exactly as Linux does: unknown tokens are skipped. Returns the mask
/// and the first unknown token, if any, for a warning.
pub fn parse_emul_unplug_lenient(arg: Option<&[u8]>) -> (u32, Option<UnknownToken<'_>>) {
    let mut mask = 0;
    let mut first_bad = None;
    for t in tokens(arg) {
        match t {
            Ok(bits) => mask |= bits,
            Err(bad) => {
                first_bad.get_or_insert(bad);
            }
        }
    }
    (mask, first_bad)
}

/// The value of a module parameter given on the kernel command line (`module.param=value`, which
/// `modprobe` would pass to the module and busybox `insmod` does not), read as the kernel's
/// `param_set_uint` and `param_set_bool` (`kstrtobool`) read it: decimal digits, or `y`/`Y`/`on`
/// (1) and `n`/`N`/`off` (0). `None` for anything else: empty, signed, not a number, over
/// `u32::MAX`.
pub fn module_param_value(v: &[u8]) -> Option<u32> {
    match v {
        b"y" | b"Y" | b"on" => return Some(1),
        b"n" | b"N" | b"off" => return Some(0),
        [] => return None,
        _ => {}
    }
    let mut x = 0u32;
    for &b in v {
        if !b.is_ascii_digit() {
            return None;
        }
        x = x.checked_mul(10)?.checked_add(u32::from(b - b'0'))?;
    }
    Some(x)
}

/// The values of every `key=value` (or bare `key`: `None`) option on a kernel command line, in
/// order. Options are separated by spaces; a value in double quotes may contain spaces (the
/// quotes are removed, as Linux's `next_arg`). Parsing stops at a NUL byte or at `--` (arguments
/// for init).
pub fn cmdline_values<'a>(
    cmdline: &'a [u8],
    key: &'a [u8],
) -> impl Iterator<Item = Option<&'a [u8]>> + 'a {
    let end = cmdline
        .iter()
        .position(|&b| b == 0)
        .unwrap_or(cmdline.len());
    let mut rest = &cmdline[..end];
    core::iter::from_fn(move || loop {
        while let [b' ' | b'\t' | b'\n', tail @ ..] = rest {
            rest = tail;
        }
        if rest.is_empty() {
            return None;
        }
        // One argument: up to a space outside quotes.
        let mut in_quotes = false;
        let mut len = rest.len();
        for (i, &b) in rest.iter().enumerate() {
            if b == b'"' {
                in_quotes = !in_quotes;
            } else if !in_quotes && matches!(b, b' ' | b'\t' | b'\n') {
                len = i;
                break;
            }
        }
        let arg = &rest[..len];
        rest = &rest[len..];
        if arg == b"--" {
            rest = &[];
            return None;
        }
        let (name, value) = match arg.iter().position(|&b| b == b'=') {
            Some(i) => (&arg[..i], Some(&arg[i + 1..])),
            None => (arg, None),
        };
        let name = name.strip_prefix(b"\"").unwrap_or(name);
        if name != key {
            continue;
        }
        let value = value.map(|v| {
            let v = v.strip_prefix(b"\"").unwrap_or(v);
            v.strip_suffix(b"\"").unwrap_or(v)
        });
        return Some(value);
    })
}

/// `xen_emul_unplug` from a kernel command line: every occurrence ORed, as Linux's early_param
/// does. `Ok(None)` when absent (the default applies).
///
/// # Errors
/// The first unknown token: the caller reports it and uses the default (mask 0).
pub fn emul_unplug_from_cmdline(cmdline: &[u8]) -> Result<Option<u32>, UnknownToken<'_>> {
    let mut found = None;
    for v in cmdline_values(cmdline, b"xen_emul_unplug") {
        let m = parse_emul_unplug(v)?;
        found = Some(found.unwrap_or(0) | m);
    }
    Ok(found)
}

/// Emulated device classes that already have a driver bound in the guest.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BoundEmulated {
    /// An emulated NIC (PCI class 0x0200) is driven (e.g. by e1000).
    pub nics: bool,
    /// The emulated IDE controller (PCI class 0x0101) is driven (e.g. by ata_piix).
    pub disks: bool,
}

/// Guards the *default* decision of a late unplug (a module loaded after the built-in drivers of
/// the emulated devices bound them, which Linux's boot-time unplug never meets): device classes
/// whose emulated device is in use are not pulled from under their driver. What is skipped is
/// returned as second value; then [`XEN_UNPLUG_UNNECESSARY`] is added, so PV drivers may still
/// bind but blkfront takes only the vbds without an emulated twin
/// ([`has_pv_and_legacy_disk_devices`]). An explicit `xen_emul_unplug=` (`explicit`) is
/// applied as given.
pub const fn guard_late_unplug(
    d: UnplugDecision,
    explicit: bool,
    bound: BoundEmulated,
) -> (UnplugDecision, u32) {
    let Some(w) = d.write else {
        return (d, 0);
    };
    if explicit {
        return (d, 0);
    }
    let mut skip = 0u32;
    if bound.nics {
        skip |= XEN_UNPLUG_ALL_NICS;
    }
    if bound.disks {
        skip |= XEN_UNPLUG_ALL_IDE_DISKS | XEN_UNPLUG_AUX_IDE_DISKS;
    }
    let skipped = w as u32 & skip;
    if skipped == 0 {
        return (d, 0);
    }
    let left = w as u32 & !skip;
    (
        UnplugDecision {
            write: if left == 0 { None } else { Some(left as u16) },
            platform_pci_unplug: (d.platform_pci_unplug & !skipped) | XEN_UNPLUG_UNNECESSARY,
        },
        skipped,
    )
}

/// Why the platform device refused the unplug handshake (`XEN_PLATFORM_ERR_*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PlatformError {
    /// Port `0x10` did not read as [`XEN_IOPORT_MAGIC_VAL`]: no unplug protocol
    /// (`XEN_PLATFORM_ERR_MAGIC`, -1).
    Magic {
        /// What was read instead.
        read: u16,
    },
    /// The protocol version is not 1 (`XEN_PLATFORM_ERR_PROTOCOL`, -2).
    Protocol {
        /// Version read from port `0x12`.
        version: u8,
    },
    /// The magic changed after announcing product and build number: the host blacklisted this
    /// driver (`XEN_PLATFORM_ERR_BLACKLIST`, -3).
    Blacklisted {
        /// What the magic read as the second time.
        read: u16,
    },
}

impl PlatformError {
    /// Linux's `XEN_PLATFORM_ERR_*` code (-1, -2, -3).
    pub const fn code(&self) -> i32 {
        match self {
            Self::Magic { .. } => -1,
            Self::Protocol { .. } => -2,
            Self::Blacklisted { .. } => -3,
        }
    }
}

/// Step 1: checks the magic read from [`XEN_IOPORT_MAGIC`].
///
/// # Errors
/// [`PlatformError::Magic`] if it is not [`XEN_IOPORT_MAGIC_VAL`].
pub const fn check_magic(read: u16) -> Result<(), PlatformError> {
    if read == XEN_IOPORT_MAGIC_VAL {
        Ok(())
    } else {
        Err(PlatformError::Magic { read })
    }
}

/// Step 2: checks the protocol version read from [`XEN_IOPORT_PROTOVER`].
///
/// # Errors
/// [`PlatformError::Protocol`] for anything but 1 (Linux's `switch`, version 0 included).
pub const fn check_protocol(version: u8) -> Result<(), PlatformError> {
    if version == XEN_UNPLUG_PROTOCOL_VERSION {
        Ok(())
    } else {
        Err(PlatformError::Protocol { version })
    }
}

/// Step 5: checks the magic read again after announcing product and build number.
///
/// # Errors
/// [`PlatformError::Blacklisted`] if it changed.
pub const fn check_not_blacklisted(read: u16) -> Result<(), PlatformError> {
    if read == XEN_IOPORT_MAGIC_VAL {
        Ok(())
    } else {
        Err(PlatformError::Blacklisted { read })
    }
}

/// Port I/O on the platform device (x86 `inb`/`inw`/`outw`/`outl`).
pub trait PlatformIo {
    /// Reads one byte from `port`.
    fn inb(&mut self, port: u16) -> u8;
    /// Reads two bytes from `port`.
    fn inw(&mut self, port: u16) -> u16;
    /// Writes two bytes to `port`.
    fn outw(&mut self, port: u16, value: u16);
    /// Writes four bytes to `port`.
    fn outl(&mut self, port: u16, value: u32);
}

/// The handshake of steps 1–5 (`check_platform_magic()`): reads the magic and version, announces
/// Linux's product and build number, and re-checks the magic.
///
/// # Errors
/// [`PlatformError`] saying which step failed; nothing is written unless the magic and version
/// were right.
pub fn check_platform_magic(io: &mut impl PlatformIo) -> Result<(), PlatformError> {
    check_magic(io.inw(XEN_IOPORT_MAGIC))?;
    check_protocol(io.inb(XEN_IOPORT_PROTOVER))?;
    io.outw(XEN_IOPORT_PRODNUM, XEN_IOPORT_LINUX_PRODNUM);
    io.outl(XEN_IOPORT_DRVVER, XEN_IOPORT_LINUX_DRVVER);
    check_not_blacklisted(io.inw(XEN_IOPORT_MAGIC))
}

/// The mask used when `xen_emul_unplug=` set nothing: unplug the NICs if netfront is available,
/// the IDE disks if blkfront is (`xen_must_unplug_nics()`/`xen_must_unplug_disks()`).
pub const fn default_mask(have_netfront: bool, have_blkfront: bool) -> u32 {
    let mut mask = 0;
    if have_netfront {
        mask |= XEN_UNPLUG_ALL_NICS;
    }
    if have_blkfront {
        mask |= XEN_UNPLUG_ALL_IDE_DISKS;
    }
    mask
}

/// What `xen_unplug_emulated_devices()` ends up doing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UnplugDecision {
    /// Value to write to [`XEN_IOPORT_UNPLUG`] (2 bytes), or `None` for no write.
    pub write: Option<u16>,
    /// The resulting `xen_platform_pci_unplug`, input of [`has_pv_devices`] and friends. 0 means
    /// the PV drivers must not bind (nothing was unplugged).
    pub platform_pci_unplug: u32,
}

/// `xen_unplug_emulated_devices()` for an HVM guest, as a pure function.
///
/// - `emul_unplug`: the parsed `xen_emul_unplug` mask (0 when absent).
/// - `platform`: the result of [`check_platform_magic`]; it is not looked at (and the caller
///   should not even run it) when `emul_unplug` has [`XEN_UNPLUG_NEVER`] — see
///   [`should_check_platform`].
/// - `have_netfront`, `have_blkfront`: which PV frontends exist, for [`default_mask`].
pub const fn unplug_decision(
    emul_unplug: u32,
    platform: Result<(), PlatformError>,
    have_netfront: bool,
    have_blkfront: bool,
) -> UnplugDecision {
    const SKIP: UnplugDecision = UnplugDecision {
        write: None,
        platform_pci_unplug: 0,
    };
    if !should_check_platform(emul_unplug) {
        return SKIP;
    }
    match platform {
        Ok(()) => {}
        // No unplug protocol, but the user said unplugging is unnecessary: go ahead.
        Err(PlatformError::Magic { .. }) if emul_unplug & XEN_UNPLUG_UNNECESSARY != 0 => {}
        Err(_) => return SKIP,
    }
    let mask = if emul_unplug == 0 {
        default_mask(have_netfront, have_blkfront)
    } else {
        emul_unplug
    };
    let write = if mask & XEN_UNPLUG_UNNECESSARY != 0 {
        None
    } else {
        // NEVER returned above and UNNECESSARY is excluded: only port bits remain.
        Some(mask as u16)
    };
    UnplugDecision {
        write,
        platform_pci_unplug: mask,
    }
}

/// Whether the platform ports should be probed at all: not with `xen_emul_unplug=never`.
pub const fn should_check_platform(emul_unplug: u32) -> bool {
    emul_unplug & XEN_UNPLUG_NEVER == 0
}

/// `xen_has_pv_devices()` for an HVM guest, given `xen_platform_pci_unplug`.
pub const fn has_pv_devices(platform_pci_unplug: u32) -> bool {
    if platform_pci_unplug == 0 || platform_pci_unplug & XEN_UNPLUG_NEVER != 0 {
        return false;
    }
    platform_pci_unplug & (XEN_UNPLUG_ALL | XEN_UNPLUG_UNNECESSARY) != 0
}

/// `xen_has_pv_nic_devices()` for an HVM guest: may netfront bind?
pub const fn has_pv_nic_devices(platform_pci_unplug: u32) -> bool {
    platform_pci_unplug & (XEN_UNPLUG_ALL_NICS | XEN_UNPLUG_ALL) != 0
        || has_pv_devices(platform_pci_unplug)
}

/// `xen_has_pv_disk_devices()` for an HVM guest: may blkfront bind?
pub const fn has_pv_disk_devices(platform_pci_unplug: u32) -> bool {
    platform_pci_unplug & (XEN_UNPLUG_ALL_IDE_DISKS | XEN_UNPLUG_AUX_IDE_DISKS | XEN_UNPLUG_ALL)
        != 0
        || has_pv_devices(platform_pci_unplug)
}

/// `xen_has_pv_and_legacy_disk_devices()` for an HVM guest: emulated disks are still there, so
/// blkfront must only take PV-only vbds (see `vdev.rs`, `Vdev::is_pv_only`).
pub const fn has_pv_and_legacy_disk_devices(platform_pci_unplug: u32) -> bool {
    platform_pci_unplug & XEN_UNPLUG_UNNECESSARY != 0
}

#[cfg(test)]
mod tests {
    #[test]
    fn module_param_values() {
        assert_eq!(module_param_value(b"1"), Some(1));
        assert_eq!(module_param_value(b"0"), Some(0));
        assert_eq!(module_param_value(b"Y"), Some(1));
        assert_eq!(module_param_value(b"n"), Some(0));
        assert_eq!(module_param_value(b"on"), Some(1));
        assert_eq!(module_param_value(b"off"), Some(0));
        assert_eq!(module_param_value(b"4294967295"), Some(u32::MAX));
        for bad in [
            &b""[..],
            b"4294967296",
            b"-1",
            b"+1",
            b"1x",
            b"yes",
            b" 1",
            b"0x10",
        ] {
            assert_eq!(module_param_value(bad), None, "{:?}", bad);
        }
        let line = b"quiet xen_netfront.trusted=1 xen_netfront.max_queues=2";
        let v = cmdline_values(line, b"xen_netfront.trusted")
            .last()
            .flatten();
        assert_eq!(v.and_then(module_param_value), Some(1));
    }

    extern crate std;
    use super::*;
    use std::vec::Vec;

    fn p(s: &str) -> Result<u32, UnknownToken<'_>> {
        parse_emul_unplug(Some(s.as_bytes()))
    }

    #[test]
    fn header_values() {
        assert_eq!(XEN_IOPORT_MAGIC_VAL, 0x49d2);
        assert_eq!((XEN_IOPORT_MAGIC, XEN_IOPORT_PROTOVER), (0x10, 0x12));
        assert_eq!(
            (XEN_IOPORT_UNPLUG, XEN_IOPORT_PRODNUM, XEN_IOPORT_DRVVER),
            (0x10, 0x12, 0x10)
        );
        assert_eq!(XEN_UNPLUG_ALL_IDE_DISKS, 1);
        assert_eq!(XEN_UNPLUG_ALL_NICS, 2);
        assert_eq!(XEN_UNPLUG_AUX_IDE_DISKS, 4);
        assert_eq!(XEN_UNPLUG_ALL, 7);
        assert_eq!(XEN_UNPLUG_UNNECESSARY, 0x1_0000);
        assert_eq!(XEN_UNPLUG_NEVER, 0x2_0000);
        assert_eq!(XEN_IOPORT_LINUX_PRODNUM, 3);
    }

    #[test]
    fn keywords() {
        assert_eq!(p("all"), Ok(7));
        assert_eq!(p("ide-disks"), Ok(1));
        assert_eq!(p("aux-ide-disks"), Ok(4));
        assert_eq!(p("nics"), Ok(2));
        assert_eq!(p("unnecessary"), Ok(1 << 16));
        assert_eq!(p("never"), Ok(1 << 17));
        assert_eq!(p("ide-disks,nics"), Ok(3));
        assert_eq!(p("nics,never,unnecessary"), Ok(2 | 3 << 16));
        assert_eq!(parse_emul_unplug(None), Ok(0));
    }

    #[test]
    fn linux_prefix_quirks() {
        // strncmp(token, keyword, strlen(token)): any prefix of a keyword matches the first one.
        assert_eq!(p("a"), Ok(XEN_UNPLUG_ALL));
        assert_eq!(p("au"), Ok(XEN_UNPLUG_AUX_IDE_DISKS));
        assert_eq!(p("n"), Ok(XEN_UNPLUG_ALL_NICS));
        assert_eq!(p("ne"), Ok(XEN_UNPLUG_NEVER));
        assert_eq!(p("ide"), Ok(XEN_UNPLUG_ALL_IDE_DISKS));
        // The empty token is a prefix of "all".
        assert_eq!(p(""), Ok(XEN_UNPLUG_ALL));
        assert_eq!(p("nics,"), Ok(XEN_UNPLUG_ALL));
        // A NUL ends the C string.
        assert_eq!(parse_emul_unplug(Some(b"nics\0,bogus")), Ok(2));
    }

    #[test]
    fn unknown_tokens() {
        assert_eq!(p("bogus"), Err(UnknownToken { token: b"bogus" }));
        // Longer than the keyword is not a prefix.
        assert_eq!(p("nics2"), Err(UnknownToken { token: b"nics2" }));
        assert_eq!(p("ALL"), Err(UnknownToken { token: b"ALL" }));
        assert_eq!(p("nics,xx,all"), Err(UnknownToken { token: b"xx" }));
        let (mask, bad) = parse_emul_unplug_lenient(Some(b"nics,xx,ide-disks,yy"));
        assert_eq!(mask, 3);
        assert_eq!(bad, Some(UnknownToken { token: b"xx" }));
        assert_eq!(
            parse_emul_unplug_lenient(Some(b"never")),
            (XEN_UNPLUG_NEVER, None)
        );
        let all: Vec<_> = tokens(Some(b"nics,zz")).collect();
        assert_eq!(all, [Ok(2), Err(UnknownToken { token: b"zz" })]);
        assert_eq!(tokens(None).count(), 0);
    }

    #[derive(Default)]
    struct Qemu {
        magic: [u16; 2],
        version: u8,
        reads: usize,
        writes: Vec<(u16, u32)>,
    }

    impl PlatformIo for Qemu {
        fn inb(&mut self, port: u16) -> u8 {
            assert_eq!(port, XEN_IOPORT_PROTOVER);
            self.version
        }
        fn inw(&mut self, port: u16) -> u16 {
            assert_eq!(port, XEN_IOPORT_MAGIC);
            let m = self.magic[self.reads.min(1)];
            self.reads += 1;
            m
        }
        fn outw(&mut self, port: u16, value: u16) {
            self.writes.push((port, value.into()));
        }
        fn outl(&mut self, port: u16, value: u32) {
            self.writes.push((port, value));
        }
    }

    #[test]
    fn handshake() {
        let mut q = Qemu {
            magic: [0x49d2; 2],
            version: 1,
            ..Default::default()
        };
        assert_eq!(check_platform_magic(&mut q), Ok(()));
        assert_eq!(q.writes, [(0x12, 3), (0x10, 1)]);

        let mut q = Qemu {
            magic: [0xffff; 2],
            version: 1,
            ..Default::default()
        };
        assert_eq!(
            check_platform_magic(&mut q),
            Err(PlatformError::Magic { read: 0xffff })
        );
        assert!(q.writes.is_empty());

        for version in [0, 2, 0xff] {
            let mut q = Qemu {
                magic: [0x49d2; 2],
                version,
                ..Default::default()
            };
            assert_eq!(
                check_platform_magic(&mut q),
                Err(PlatformError::Protocol { version })
            );
            assert!(q.writes.is_empty());
        }

        let mut q = Qemu {
            magic: [0x49d2, 0xd249],
            version: 1,
            ..Default::default()
        };
        let e = check_platform_magic(&mut q).unwrap_err();
        assert_eq!(
            e,
            PlatformError::Blacklisted {
                read: XEN_IOPORT_MAGIC_BLACKLISTED
            }
        );
        assert_eq!(e.code(), -3);
        assert_eq!(q.writes.len(), 2);
    }

    #[test]
    fn decisions() {
        let ok = Ok(());
        let no_magic = Err(PlatformError::Magic { read: 0 });
        // Default: both frontends present → NICs and IDE disks.
        assert_eq!(
            unplug_decision(0, ok, true, true),
            UnplugDecision {
                write: Some(3),
                platform_pci_unplug: 3
            }
        );
        assert_eq!(unplug_decision(0, ok, false, true).write, Some(1));
        assert_eq!(unplug_decision(0, ok, true, false).write, Some(2));
        assert_eq!(unplug_decision(0, ok, false, false).write, Some(0));
        // Explicit mask wins over the default.
        assert_eq!(
            unplug_decision(XEN_UNPLUG_ALL, ok, false, false).write,
            Some(7)
        );
        // never: nothing, even with a working platform.
        assert!(!should_check_platform(XEN_UNPLUG_NEVER | XEN_UNPLUG_ALL));
        assert_eq!(
            unplug_decision(XEN_UNPLUG_NEVER | XEN_UNPLUG_ALL, ok, true, true),
            UnplugDecision {
                write: None,
                platform_pci_unplug: 0
            }
        );
        // Handshake failures skip everything...
        for e in [
            no_magic,
            Err(PlatformError::Protocol { version: 0 }),
            Err(PlatformError::Blacklisted { read: 0xd249 }),
        ] {
            assert_eq!(unplug_decision(0, e, true, true).platform_pci_unplug, 0);
        }
        // ...except a missing magic with "unnecessary": PV drivers run, nothing is written.
        let d = unplug_decision(XEN_UNPLUG_UNNECESSARY, no_magic, true, true);
        assert_eq!(d.write, None);
        assert_eq!(d.platform_pci_unplug, XEN_UNPLUG_UNNECESSARY);
        assert_eq!(
            unplug_decision(
                XEN_UNPLUG_UNNECESSARY,
                Err(PlatformError::Blacklisted { read: 1 }),
                true,
                true
            )
            .platform_pci_unplug,
            0
        );
        // unnecessary with a working platform: no write either.
        assert_eq!(
            unplug_decision(XEN_UNPLUG_UNNECESSARY | 2, ok, true, true).write,
            None
        );
    }

    #[test]
    fn command_line() {
        let c = b"console=ttyS0 xen_emul_unplug=nics quiet xen_emul_unplug=ide-disks";
        assert_eq!(emul_unplug_from_cmdline(c), Ok(Some(3)));
        assert_eq!(emul_unplug_from_cmdline(b"quiet root=/dev/xvda1"), Ok(None));
        assert_eq!(emul_unplug_from_cmdline(b""), Ok(None));
        assert_eq!(
            emul_unplug_from_cmdline(b"a xen_emul_unplug=never\n"),
            Ok(Some(XEN_UNPLUG_NEVER))
        );
        // Bare option: Linux's handler gets NULL and sets nothing.
        assert_eq!(emul_unplug_from_cmdline(b"xen_emul_unplug"), Ok(Some(0)));
        assert_eq!(
            emul_unplug_from_cmdline(b"xen_emul_unplug=nics,bogus"),
            Err(UnknownToken { token: b"bogus" })
        );
        // Not a prefix match on the key; quotes removed; `--` ends kernel options.
        assert_eq!(
            emul_unplug_from_cmdline(b"xen_emul_unplugged=all"),
            Ok(None)
        );
        assert_eq!(
            emul_unplug_from_cmdline(b"x=\"a b\" xen_emul_unplug=\"all\""),
            Ok(Some(7))
        );
        assert_eq!(
            emul_unplug_from_cmdline(b"quiet -- xen_emul_unplug=all"),
            Ok(None)
        );
        assert_eq!(
            emul_unplug_from_cmdline(b"xen_emul_unplug=nics\0xen_emul_unplug=all"),
            Ok(Some(2))
        );
        let v: Vec<_> = cmdline_values(b"k=1  k  k=", b"k").collect();
        assert_eq!(v, [Some(&b"1"[..]), None, Some(&b""[..])]);
    }

    #[test]
    fn late_unplug_guard() {
        let d = unplug_decision(0, Ok(()), true, true);
        let none = BoundEmulated::default();
        assert_eq!(guard_late_unplug(d, false, none), (d, 0));
        // e1000 bound: NICs kept, disks unplugged, PV drivers told about the leftover NIC.
        let (g, skipped) = guard_late_unplug(
            d,
            false,
            BoundEmulated {
                nics: true,
                disks: false,
            },
        );
        assert_eq!(skipped, XEN_UNPLUG_ALL_NICS);
        assert_eq!(g.write, Some(1));
        assert_eq!(g.platform_pci_unplug, 1 | XEN_UNPLUG_UNNECESSARY);
        assert!(has_pv_nic_devices(g.platform_pci_unplug));
        // Both bound: nothing written; PV drivers may bind, blkfront only PV-only vbds.
        let both = BoundEmulated {
            nics: true,
            disks: true,
        };
        let (g, skipped) = guard_late_unplug(d, false, both);
        assert_eq!(skipped, 3);
        assert_eq!(g.write, None);
        assert_eq!(g.platform_pci_unplug, XEN_UNPLUG_UNNECESSARY);
        assert!(has_pv_and_legacy_disk_devices(g.platform_pci_unplug));
        // Explicit choice: applied as given.
        let d = unplug_decision(XEN_UNPLUG_ALL, Ok(()), true, true);
        assert_eq!(guard_late_unplug(d, true, both), (d, 0));
        // Nothing to write: unchanged.
        let d = unplug_decision(XEN_UNPLUG_NEVER, Ok(()), true, true);
        assert_eq!(guard_late_unplug(d, false, both), (d, 0));
    }

    #[test]
    fn who_may_bind() {
        assert!(!has_pv_devices(0));
        assert!(!has_pv_nic_devices(0));
        assert!(!has_pv_disk_devices(0));
        assert!(has_pv_devices(XEN_UNPLUG_ALL));
        assert!(has_pv_devices(XEN_UNPLUG_UNNECESSARY));
        // Linux tests `& XEN_UNPLUG_ALL`: any one of the three bits counts, so unplugging only the
        // NICs still lets blkfront bind (through the xen_has_pv_devices() fallback).
        assert!(has_pv_devices(XEN_UNPLUG_ALL_NICS));
        assert!(has_pv_nic_devices(XEN_UNPLUG_ALL_NICS));
        assert!(has_pv_disk_devices(XEN_UNPLUG_ALL_NICS));
        assert!(!has_pv_devices(XEN_UNPLUG_NEVER));
        assert!(!has_pv_nic_devices(XEN_UNPLUG_NEVER));
        assert!(has_pv_disk_devices(XEN_UNPLUG_AUX_IDE_DISKS));
        assert!(has_pv_disk_devices(XEN_UNPLUG_ALL_IDE_DISKS));
        assert!(has_pv_nic_devices(XEN_UNPLUG_ALL_IDE_DISKS));
        // Bits outside the three and the flags: nothing.
        assert!(!has_pv_devices(XEN_UNPLUG_NVME_DISKS));
        assert!(has_pv_and_legacy_disk_devices(XEN_UNPLUG_UNNECESSARY));
        assert!(!has_pv_and_legacy_disk_devices(XEN_UNPLUG_ALL));
        // The default decision lets both frontends bind.
        let d = unplug_decision(0, Ok(()), true, true);
        assert!(has_pv_nic_devices(d.platform_pci_unplug));
        assert!(has_pv_disk_devices(d.platform_pci_unplug));
        assert!(!has_pv_and_legacy_disk_devices(d.platform_pci_unplug));
    }
}
