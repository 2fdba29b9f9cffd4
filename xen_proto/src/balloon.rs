// SPDX-License-Identifier: GPL-2.0
//! Balloon arithmetic of `xen_balloon`, as Linux's `drivers/xen/balloon.c` and `xen-balloon.c`
//! do it: xenstore's memory values, the target in pages, the next step and the back-off.
//!
//! Units: xenstore's `memory/target` and `memory/static-max` are KiB (written by the toolstack,
//! libxl's `libxl__build_post` and `libxl_set_memory_target`); everything else here is 4 KiB
//! pages. Pure: no kernel, no Xen, unit-tested on the host.

/// KiB per page (`PAGE_SHIFT - 10` = 2).
pub const KIB_PER_PAGE: u64 = 4;

/// Xenstore node, relative to the domain's home, with the toolstack's target (KiB).
pub const TARGET_NODE: &[u8] = b"memory/target";
/// Xenstore node with the domain's maximum memory (KiB), libxl's `max_memkb`.
pub const STATIC_MAX_NODE: &[u8] = b"memory/static-max";

/// Parses a xenstore KiB value: ASCII decimal digits, optionally followed by NULs or a newline,
/// and nothing else. `None` for anything else (empty, sign, junk, overflow).
pub fn parse_kib(v: &[u8]) -> Option<u64> {
    let end = v
        .iter()
        .position(|&b| b == 0 || b == b'\n')
        .unwrap_or(v.len());
    if end == 0 || v[end..].iter().any(|&b| b != 0 && b != b'\n') {
        return None;
    }
    let mut n: u64 = 0;
    for &b in &v[..end] {
        if !b.is_ascii_digit() {
            return None;
        }
        n = n.checked_mul(10)?.checked_add(u64::from(b - b'0'))?;
    }
    Some(n)
}

/// KiB to whole pages (rounded down, as Linux's `>> (PAGE_SHIFT - 10)`).
pub const fn kib_to_pages(kib: u64) -> u64 {
    kib / KIB_PER_PAGE
}

/// Pages to KiB (saturating).
pub const fn pages_to_kib(pages: u64) -> u64 {
    pages.saturating_mul(KIB_PER_PAGE)
}

/// The pages of `memory/static-max` that the guest does not see as RAM (firmware holes, video
/// memory): Linux's `target_diff` for an HVM guest, fixed at the first target it reads, so that
/// a target equal to static-max means "every page the guest has".
///
/// `static_max_kib` is `None` when the node is missing or unreadable (then the difference is 0, as
/// Linux's `static_max = current_pages`); `current_pages` is the guest's RAM at load
/// (`get_num_physpages()`).
pub fn target_diff(static_max_kib: Option<u64>, current_pages: u64) -> u64 {
    static_max_kib.map_or(0, |kib| kib_to_pages(kib).saturating_sub(current_pages))
}

/// The balloon target in pages for a `memory/target` of `target_kib` (Linux's `watch_target`:
/// `new_target - target_diff`, here floored at 0).
pub fn target_pages(target_kib: u64, diff: u64) -> u64 {
    kib_to_pages(target_kib).saturating_sub(diff)
}

/// What the worker does next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// At the target: nothing to do.
    Idle,
    /// Take this many pages back from Xen (`XENMEM_populate_physmap`), at most one batch.
    Increase(usize),
    /// Give this many pages to Xen (`XENMEM_decrease_reservation`), at most one batch.
    Decrease(usize),
}

/// The next step from `current` to `target` pages, in batches of at most `batch` pages.
/// Growing is limited to the `ballooned` pages we hold (no memory hotplug): above that, the
/// target cannot be reached and [`Step::Idle`] is returned once they are all back.
pub fn next_step(current: u64, target: u64, ballooned: u64, batch: usize) -> Step {
    let b = batch as u64;
    if target > current {
        match (target - current).min(ballooned).min(b) {
            0 => Step::Idle,
            n => Step::Increase(n as usize),
        }
    } else if target < current {
        Step::Decrease((current - target).min(b) as usize)
    } else {
        Step::Idle
    }
}

/// Retry delay after a step that could not complete (no free page in the guest, or Xen out of
/// memory), as Linux's `update_schedule`: 1 s after success, doubled after each failure up to
/// `max_delay_s` (Linux's `max_schedule_delay`, 32 s by default).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Backoff {
    /// Seconds until the next attempt after a failure (`schedule_delay`).
    pub delay_s: u32,
    /// Upper bound of `delay_s` (`max_schedule_delay`).
    pub max_delay_s: u32,
    /// Failed attempts in a row, plus one (`retry_count`).
    pub retries: u32,
}

/// Linux's default `max_schedule_delay` (s).
pub const MAX_SCHEDULE_DELAY_S: u32 = 32;

impl Default for Backoff {
    fn default() -> Self {
        Self {
            delay_s: 1,
            max_delay_s: MAX_SCHEDULE_DELAY_S,
            retries: 1,
        }
    }
}

impl Backoff {
    /// A step completed: back to the shortest delay.
    pub fn success(&mut self) {
        self.delay_s = 1;
        self.retries = 1;
    }

    /// A step failed: returns how long to wait (s) and lengthens the next wait.
    pub fn failure(&mut self) -> u32 {
        let wait = self.delay_s.min(self.max_delay_s.max(1));
        self.retries = self.retries.saturating_add(1);
        self.delay_s = self.delay_s.saturating_mul(2).min(self.max_delay_s.max(1));
        wait
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_kib_strictly() {
        assert_eq!(parse_kib(b"524288"), Some(524288));
        assert_eq!(parse_kib(b"524288\0"), Some(524288));
        assert_eq!(parse_kib(b"1\n"), Some(1));
        assert_eq!(parse_kib(b"0"), Some(0));
        for bad in [
            &b""[..],
            b"abc",
            b"-1",
            b"12a",
            b" 12",
            b"1 2",
            b"\0",
            b"99999999999999999999",
        ] {
            assert_eq!(parse_kib(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn target_follows_linux() {
        // memory = maxmem = 512 MiB: static-max 524288 KiB, the guest sees 504 MiB of RAM minus
        // holes (videoram 8 MiB, firmware): a target of static-max means "all we have".
        let current = 129_000;
        let diff = target_diff(Some(524_288), current);
        assert_eq!(diff, 131_072 - 129_000);
        assert_eq!(target_pages(524_288, diff), current);
        assert_eq!(target_pages(262_144, diff), 65_536 - diff);
        // Missing static-max: no correction.
        assert_eq!(target_diff(None, current), 0);
        // static-max below what we have (odd toolstack): no negative correction.
        assert_eq!(target_diff(Some(4), current), 0);
        // A target below the difference: floor at 0, no wrap.
        assert_eq!(target_pages(4, 10), 0);
        assert_eq!(pages_to_kib(3), 12);
        assert_eq!(pages_to_kib(u64::MAX), u64::MAX);
    }

    #[test]
    fn steps_in_batches_and_within_the_balloon() {
        assert_eq!(next_step(1000, 1000, 5, 512), Step::Idle);
        assert_eq!(next_step(1000, 100, 0, 512), Step::Decrease(512));
        assert_eq!(next_step(1000, 900, 0, 512), Step::Decrease(100));
        assert_eq!(next_step(100, 1000, 2000, 512), Step::Increase(512));
        assert_eq!(next_step(100, 150, 2000, 512), Step::Increase(50));
        // Cannot grow beyond what was ballooned.
        assert_eq!(next_step(100, 1000, 7, 512), Step::Increase(7));
        assert_eq!(next_step(100, 1000, 0, 512), Step::Idle);
    }

    #[test]
    fn backoff_doubles_to_the_cap_and_resets() {
        let mut b = Backoff::default();
        let waits: [u32; 8] = core::array::from_fn(|_| b.failure());
        assert_eq!(waits, [1, 2, 4, 8, 16, 32, 32, 32]);
        assert_eq!(b.retries, 9);
        b.success();
        assert_eq!(b, Backoff::default());
        let mut z = Backoff {
            max_delay_s: 0,
            ..Backoff::default()
        };
        assert_eq!(z.failure(), 1);
        assert_eq!(z.failure(), 1);
    }
}
