// SPDX-License-Identifier: GPL-2.0
//! Kernel-only code shared by the frontends (xen_blkfront, xen_netfront); not part of the host
//! crate: it names the `kernel` crate. A frontend's crate root includes it, with its sibling
//! `unplug` (the command-line parser):
//!
//! ```ignore
//! #[path = "../xen_proto/src/kernel_frontend.rs"]
//! mod kernel_frontend;
//! ```

use kernel::prelude::*;

/// Applies `<module>.<param>=<value>` options of the kernel command line, as `modprobe` would
/// pass them (busybox `insmod` in an initramfs does not). `names` are the full option names
/// (`b"xen_blkfront.max_queues"`); `read_cmdline` fills a buffer with `/proc/cmdline` and returns
/// its length in bytes; `set(i, v)` sets the parameter `names[i]` to `v`. The last occurrence
/// of an option wins, as for built-in parameters. A value that is not a number (or `y`/`n`) is
/// reported with `pr_err` and the parameter keeps its value; a command line that cannot be
/// read leaves every parameter as it is.
pub(crate) fn params_from_cmdline(
    names: &[&[u8]],
    read_cmdline: impl FnOnce(&mut [u8]) -> Result<usize>,
    mut set: impl FnMut(usize, u32),
) {
    let Ok(mut buf) = KVec::from_elem(0u8, 4096, GFP_KERNEL) else {
        return;
    };
    let Ok(n) = read_cmdline(&mut buf) else {
        return;
    };
    let line = &buf[..n.min(buf.len())];
    for (which, name) in names.iter().enumerate() {
        let Some(Some(v)) = super::unplug::cmdline_values(line, name).last() else {
            continue;
        };
        let name = core::str::from_utf8(name).unwrap_or("?");
        match super::unplug::module_param_value(v) {
            Some(x) => {
                set(which, x);
                pr_info!("{}={} (kernel command line)\n", name, x);
            }
            None => pr_err!("ignoring {}: bad value on the kernel command line\n", name),
        }
    }
}
