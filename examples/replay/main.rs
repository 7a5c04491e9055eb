//! Replays a captured byte stream through the HTTP channel, offline, and
//! prints every callback of the terminator machinery and the responses.
//!
//! ```text
//! cargo run --example replay -- examples/captures/post-then-get.http
//! cargo run --example replay -- --chunk 7 examples/captures/chunked-post-trailers.http
//! cargo run --example replay -- --random 42 examples/captures/pipelined-gets.http
//! cargo run --example replay -- --check examples/captures/*.http
//! ```
//!
//! The input is fed in reads of the chosen size (`--chunk N`), of random
//! sizes (`--random SEED`), or in one read; the lines printed are the ones
//! `asynchat-httpd --trace` prints for a real connection, without the
//! connection tag. The responses do not depend on how the input was split:
//! `--check` replays each capture in one read, in reads of every size from 1
//! to 64 bytes and with 64 random splits, and says whether every replay
//! answered byte for byte the same.

use std::io::{self, Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use asynchat::Channel;
use asynchat::http::Config;
use asynchat::http::Shared;
use asynchat::http::conn::HttpChannel;
use asynchat::trace::{Shown, Trace};
use clap::Parser;

/// Replay a captured HTTP byte stream through the HTTP channel.
#[derive(Parser)]
#[command(name = "replay")]
struct Args {
    /// Captured client bytes (`-` for standard input).
    #[arg(required = true)]
    captures: Vec<PathBuf>,
    /// Feed the input in reads of this many bytes.
    #[arg(long, value_name = "N", conflicts_with = "random",
          value_parser = clap::value_parser!(u64).range(1..))]
    chunk: Option<u64>,
    /// Feed the input in reads of random sizes (1 to 32 bytes) from this seed.
    #[arg(long, value_name = "SEED")]
    random: Option<u64>,
    /// The directory the requests are served from.
    #[arg(long, value_name = "DIR", default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/www"))]
    root: PathBuf,
    /// Print no trace, only whether the responses are the same for many
    /// splits of the input.
    #[arg(long, conflicts_with_all = ["chunk", "random"])]
    check: bool,
}

/// How the input is cut into reads.
#[derive(Clone, Copy)]
enum Split {
    Whole,
    Chunk(usize),
    Random(u64),
}

impl Split {
    /// The read sizes for `len` bytes of input.
    fn sizes(self, len: usize) -> Vec<usize> {
        let mut sizes = Vec::new();
        let mut left = len;
        let mut state = match self {
            Split::Random(seed) => seed ^ 0x9e37_79b9_7f4a_7c15,
            _ => 0,
        };
        while left > 0 {
            let n = match self {
                Split::Whole => left,
                Split::Chunk(n) => n,
                Split::Random(_) => {
                    // xorshift64*: small, fast and the same everywhere.
                    state ^= state >> 12;
                    state ^= state << 25;
                    state ^= state >> 27;
                    let r = state.wrapping_mul(0x2545_f491_4f6c_dd1d);
                    (r >> 59) as usize + 1
                }
            };
            let n = n.min(left);
            sizes.push(n);
            left -= n;
        }
        sizes
    }
}

/// Feeds `input` through a fresh HTTP channel in reads of `split`, and
/// returns the trace lines and the bytes the channel wrote.
fn replay(config: &Config, input: &[u8], split: Split, traced: bool) -> (Vec<String>, Vec<u8>) {
    let mut handler = HttpChannel::new(Shared::new(config.clone()).expect("the root opens"));
    let mut chan = Channel::new(HttpChannel::initial_terminator());
    let (trace, lines) = Trace::collect("");
    if traced {
        chan.set_trace(Some(trace.clone()));
    }
    let mut out = Vec::new();
    let mut at = 0;
    for n in split.sizes(input.len()) {
        if chan.is_done() {
            break;
        }
        let data = &input[at..at + n];
        at += n;
        if traced {
            trace.event(format_args!("read {n} bytes {}", Shown(data)));
        }
        chan.feed(&mut handler, data);
        // A reactor would write as soon as the socket can take more; the
        // memory transport always can.
        chan.send(&mut handler, &mut out)
            .expect("memory never fails");
    }
    if !chan.is_done() {
        if traced {
            trace.event(format_args!("read: end of stream"));
        }
        chan.feed_eof(&mut handler);
        chan.send(&mut handler, &mut out)
            .expect("memory never fails");
    }
    if traced && chan.is_done() {
        trace.event(format_args!("close: done"));
    }
    let lines = lines.borrow().clone();
    (lines, out)
}

fn read_capture(path: &PathBuf) -> io::Result<Vec<u8>> {
    if path.as_os_str() == "-" {
        let mut input = Vec::new();
        io::stdin().read_to_end(&mut input)?;
        Ok(input)
    } else {
        std::fs::read(path)
    }
}

/// The output with each `Date` value blanked: the clock may tick between
/// two replays.
fn without_dates(out: &[u8]) -> Vec<u8> {
    let mut result = Vec::with_capacity(out.len());
    let mut rest = out;
    while let Some(i) = memchr::memmem::find(rest, b"\r\nDate: ") {
        let start = i + b"\r\nDate: ".len();
        result.extend_from_slice(&rest[..start]);
        let end = rest[start..]
            .iter()
            .position(|&b| b == b'\r')
            .map_or(rest.len(), |e| start + e);
        rest = &rest[end..];
    }
    result.extend_from_slice(rest);
    result
}

fn main() -> ExitCode {
    let args = Args::parse();
    let config = match Config::new(&args.root) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("replay: {e}");
            return ExitCode::FAILURE;
        }
    };
    let split = match (args.chunk, args.random) {
        (Some(n), _) => Split::Chunk(usize::try_from(n).unwrap_or(usize::MAX)),
        (_, Some(seed)) => Split::Random(seed),
        _ => Split::Whole,
    };
    let mut stdout = io::stdout().lock();
    let mut all_same = true;
    for path in &args.captures {
        let input = match read_capture(path) {
            Ok(input) => input,
            Err(e) => {
                eprintln!("replay: {}: {e}", path.display());
                return ExitCode::FAILURE;
            }
        };
        if args.check {
            let (_, whole) = replay(&config, &input, Split::Whole, false);
            let whole = without_dates(&whole);
            let splits = (1..=64).map(Split::Chunk).chain((0..64).map(Split::Random));
            let mut tried = 1;
            let mut differ = 0;
            for split in splits {
                tried += 1;
                if without_dates(&replay(&config, &input, split, false).1) != whole {
                    differ += 1;
                }
            }
            let verdict = if differ == 0 {
                "the same responses".to_string()
            } else {
                all_same = false;
                format!("DIFFERENT responses in {differ}")
            };
            let _ = writeln!(
                stdout,
                "{}: {} bytes in, {} bytes out; {verdict} for {tried} splits",
                path.display(),
                input.len(),
                whole.len()
            );
            continue;
        }
        let (lines, out) = replay(&config, &input, split, true);
        for line in &lines {
            let _ = writeln!(stdout, "{line}");
        }
        let _ = writeln!(stdout, "--- {} bytes out:", out.len());
        let _ = stdout.write_all(&out);
        let _ = writeln!(stdout);
    }
    if all_same {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
