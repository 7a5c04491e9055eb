//! The HTTP channel, in memory, over a small document root: arbitrary bytes
//! cut into arbitrary reads, with sends in between and arbitrary
//! back-pressure limits. The properties are those of
//! `tests/channel_check/mod.rs` (shared with `tests/channel_properties.rs`):
//! no panic, bounded input and output, well-framed output, no more
//! responses than complete heads, the same output as one read with the
//! default limits, nothing from outside the root.
//!
//! Input layout:
//!
//! ```text
//! byte 0      low 4 bits: k, the number of read-control bytes;
//!             bits 4-6: w, work_per_event = 1 + 6 w;
//!             bit 7: default limits (bytes 1 to 3 and w ignored)
//! byte 1      max_queued   = 1 + b % 64
//! byte 2      max_queued_bytes = 1 + b * 64
//! byte 3      write_budget = 1 + b * 64
//! 4 .. 4+k    one read each, cycled: bits 0-5 n, bit 6 long (1 + 37 n
//!             bytes) or short (1 + n bytes), bit 7 send after it
//! the rest    the bytes the client sends
//! ```
//!
//! With fewer than four bytes, the whole input is one read.

#![no_main]

use std::sync::OnceLock;

use asynchat::Limits;
use libfuzzer_sys::fuzz_target;

#[path = "../../tests/channel_check/mod.rs"]
mod channel_check;

use channel_check::{Plan, Read, Site, check};

static SITE: OnceLock<Site> = OnceLock::new();

fn decode(data: &[u8]) -> (Plan, &[u8]) {
    let [flags, queued, buffered, budget, rest @ ..] = data else {
        return (Plan::one_read(), data);
    };
    let limits = if flags & 0x80 != 0 {
        Limits::default()
    } else {
        Limits {
            max_queued: 1 + usize::from(*queued) % 64,
            max_queued_bytes: 1 + u64::from(*buffered) * 64,
            write_budget: 1 + u64::from(*budget) * 64,
            work_per_event: 1 + u64::from((flags >> 4) & 7) * 6,
        }
    };
    let k = usize::from(flags & 0x0f).min(rest.len());
    let (controls, input) = rest.split_at(k);
    let reads = controls
        .iter()
        .map(|&c| {
            let n = usize::from(c & 0x3f);
            Read {
                len: if c & 0x40 != 0 { 1 + 37 * n } else { 1 + n },
                send_after: c & 0x80 != 0,
            }
        })
        .collect();
    (Plan { reads, limits }, input)
}

fuzz_target!(|data: &[u8]| {
    let site = SITE.get_or_init(|| Site::new("fuzz-site"));
    let (plan, input) = decode(data);
    check(&site.root, input, &plan);
});
