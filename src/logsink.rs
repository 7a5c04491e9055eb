//! A log writer that never blocks its caller.
//!
//! (An output that cannot stall, a regular file or `/dev/null`, is written
//! by the caller itself when it hands lines over, with no thread at all:
//! see [`LogSink::for_output`]. What follows is about the others.)
//!
//! An event loop that writes its log with blocking calls is at the mercy of
//! whoever reads the log: a pipe nobody reads fills in 64 KiB, and then the
//! next write stops the loop and every connection with it. [`LogSink`] takes
//! lines into a bounded buffer (a lock held for a copy, never for a system
//! call), and a thread of its own writes them out, blocking as long as the
//! output needs. When the buffer is full, lines are dropped, whole, and
//! counted, and once the output drains again the count is written too:
//! `asynchat-httpd: 1234 log lines dropped: the log's reader did not keep up`.
//! Nothing is lost silently.
//!
//! Lines leave in batches: at most [`LINGER`] after the first line of a
//! batch, or sooner when the loop, which calls [`LogSink::flush_now`] before
//! it waits, has a [`BATCH`] of them.

use std::io::{self, Write};
use std::os::fd::AsFd;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Lines are written in batches of about this many bytes under load...
pub const BATCH: usize = 64 * 1024;
/// ... and at most this long after the first line of a batch was taken.
pub const LINGER: Duration = Duration::from_millis(50);

/// What the writer thread and the writers share.
#[derive(Default)]
struct State {
    /// Lines waiting to be written.
    buf: Vec<u8>,
    /// Lines dropped since the last report.
    dropped: u64,
    /// Lines dropped in all.
    dropped_total: u64,
    /// The writer thread is writing a batch (it will look again after).
    writing: bool,
    /// No more lines will come: write what is left and stop.
    closed: bool,
    /// The writer thread has stopped.
    exited: bool,
}

struct Inner {
    state: Mutex<State>,
    /// Where the loop itself writes, for an output that cannot block for
    /// long (a regular file, `/dev/null`); `None`: the writer thread writes.
    direct: Option<Mutex<Box<dyn Write + Send>>>,
    /// Wakes the writer thread.
    work: Condvar,
    /// Tells [`LogSink::finish`] that a batch was written.
    written: Condvar,
    capacity: usize,
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A bounded, non-blocking writer of log lines; cheap to clone (every clone
/// writes to the same buffer).
#[derive(Clone)]
pub struct LogSink(Arc<Inner>);

impl LogSink {
    /// Starts a writer thread that writes to `out`, with room for
    /// `capacity` bytes of lines waiting.
    ///
    /// # Errors
    ///
    /// The error from starting the thread.
    pub fn spawn(out: impl Write + Send + 'static, capacity: usize) -> io::Result<LogSink> {
        let inner = Arc::new(Inner {
            state: Mutex::new(State::default()),
            direct: None,
            work: Condvar::new(),
            written: Condvar::new(),
            capacity,
        });
        let shared = Arc::clone(&inner);
        std::thread::Builder::new()
            .name("log".into())
            .spawn(move || write_out(&shared, out))?;
        Ok(LogSink(inner))
    }

    /// A sink for `out` that suits what it is: written by the loop itself
    /// when it is a regular file or a device other than a terminal (such as
    /// `/dev/null`), which take a write at once, so that the loop pays no
    /// thread switches for its log; with a writer thread ([`LogSink::spawn`])
    /// for a pipe, a socket or a terminal, which can stop taking writes for
    /// as long as their reader likes.
    ///
    /// # Errors
    ///
    /// The error from starting the thread.
    pub fn for_output(
        out: impl Write + AsFd + Send + 'static,
        capacity: usize,
    ) -> io::Result<LogSink> {
        let never_stalls = rustix::fs::fstat(&out).is_ok_and(|st| {
            match rustix::fs::FileType::from_raw_mode(st.st_mode) {
                rustix::fs::FileType::RegularFile => true,
                rustix::fs::FileType::CharacterDevice => !rustix::termios::isatty(&out),
                _ => false,
            }
        });
        if !never_stalls {
            return LogSink::spawn(out, capacity);
        }
        Ok(LogSink(Arc::new(Inner {
            state: Mutex::new(State::default()),
            direct: Some(Mutex::new(Box::new(out))),
            work: Condvar::new(),
            written: Condvar::new(),
            capacity,
        })))
    }

    /// Hands the lines taken so far to the writer thread at once when they
    /// make a batch ([`BATCH`]); smaller amounts it writes by itself, within
    /// [`LINGER`] of the first line. Never blocks. For an output the loop
    /// writes itself ([`LogSink::for_output`]), writes them now.
    pub fn flush_now(&self) {
        if let Some(direct) = &self.0.direct {
            // The output first, then the lines: two threads flushing (two
            // workers) write their batches in the order they were taken.
            let mut out = direct.lock().unwrap_or_else(|e| e.into_inner());
            let (batch, dropped) = {
                let mut st = self.0.lock();
                (std::mem::take(&mut st.buf), std::mem::take(&mut st.dropped))
            };
            write_batch(&mut *out, &batch, dropped);
            let mut st = self.0.lock();
            if st.buf.is_empty() {
                // Keep the allocation for the next turn.
                st.buf = batch;
                st.buf.clear();
            }
            return;
        }
        let st = self.0.lock();
        if !st.writing && st.buf.len() >= BATCH {
            self.0.work.notify_one();
        }
    }

    /// How many lines have been dropped since the sink started.
    pub fn lines_dropped(&self) -> u64 {
        self.0.lock().dropped_total
    }

    /// Writes out what is waiting and stops the writer thread, waiting for
    /// it at most `patience` (a log nobody reads must not keep the process
    /// from exiting). Lines taken after this are dropped.
    pub fn finish(&self, patience: Duration) {
        if self.0.direct.is_some() {
            self.flush_now();
            self.0.lock().closed = true;
            return;
        }
        let deadline = Instant::now() + patience;
        let mut st = self.0.lock();
        st.closed = true;
        self.0.work.notify_one();
        while !st.exited {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return;
            }
            st = match self.0.written.wait_timeout(st, left) {
                Ok((st, _)) => st,
                Err(e) => e.into_inner().0,
            };
        }
    }
}

impl Write for LogSink {
    /// Takes `buf` whole (a log record), or drops it whole when the lines
    /// waiting would exceed the capacity; either way it reports success, so
    /// the logger never retries or blocks.
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.take(buf);
        Ok(buf.len())
    }

    /// Lines are written by the writer thread when the loop hands them over
    /// ([`LogSink::flush_now`]); a logger's flush after every record does
    /// nothing.
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl LogSink {
    /// Takes `buf` (whole lines) into the buffer, or drops and counts them
    /// when the lines waiting would exceed the capacity. Never blocks.
    pub fn take(&self, buf: &[u8]) {
        let mut st = self.0.lock();
        if self.0.direct.is_some() && !st.closed && st.buf.len() + buf.len() > self.0.capacity {
            // An output that cannot stall is written now rather than
            // dropping lines: the loop pays for one write.
            drop(st);
            self.flush_now();
            st = self.0.lock();
        }
        let was_idle = st.buf.is_empty() && st.dropped == 0;
        if st.closed || st.buf.len() + buf.len() > self.0.capacity {
            let lines = buf.iter().filter(|&&b| b == b'\n').count().max(1) as u64;
            st.dropped += lines;
            st.dropped_total += lines;
        } else {
            st.buf.extend_from_slice(buf);
        }
        // The first line of a batch wakes the writer, which then lingers a
        // little for more: one wake-up per batch, not per line or per turn
        // of the loop, whose thread (pinned with the writer to one core,
        // say) pays for every switch.
        if was_idle && self.0.direct.is_none() {
            self.0.work.notify_one();
        }
    }
}

/// The writer thread: takes the waiting lines in one batch, writes them
/// (blocking as long as `out` needs), reports drops, and goes back for more.
fn write_out(inner: &Inner, mut out: impl Write) {
    let mut batch = Vec::new();
    loop {
        let dropped = {
            let mut st = inner.lock();
            while st.buf.is_empty() && st.dropped == 0 && !st.closed {
                st = match inner.work.wait(st) {
                    Ok(st) => st,
                    Err(e) => e.into_inner(),
                };
            }
            if !st.closed && st.buf.len() < BATCH {
                // Let a batch gather (the loop wakes us sooner when it has).
                st = match inner.work.wait_timeout(st, LINGER) {
                    Ok((st, _)) => st,
                    Err(e) => e.into_inner().0,
                };
            }
            if st.buf.is_empty() && st.dropped == 0 {
                st.exited = true;
                inner.written.notify_all();
                return;
            }
            std::mem::swap(&mut st.buf, &mut batch);
            st.writing = true;
            std::mem::take(&mut st.dropped)
        };
        write_batch(&mut out, &batch, dropped);
        batch.clear();
        let mut st = inner.lock();
        st.writing = false;
        inner.written.notify_all();
    }
}

/// Writes a batch of lines, then the count of lines dropped before it.
/// A log that cannot be written (a closed pipe, a full disk) loses its
/// lines; the loop never learns of it and never waits for it.
fn write_batch(out: &mut dyn Write, batch: &[u8], dropped: u64) {
    let _ = out.write_all(batch);
    if dropped > 0 {
        let _ = writeln!(
            out,
            "asynchat-httpd: {dropped} log lines dropped: the log's reader did not keep up"
        );
    }
    let _ = out.flush();
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn a_log_nobody_reads_never_blocks_and_reports_what_it_dropped() {
        let (reader, writer) = rustix::pipe::pipe().unwrap();
        let mut sink = LogSink::spawn(std::fs::File::from(writer), 64 * 1024).unwrap();
        // Far more than the pipe (64 KiB) and the buffer hold: none of it
        // may block, and the test would hang here if it did.
        let mut line = vec![b'x'; 99];
        line.push(b'\n');
        for _ in 0..20_000 {
            sink.write_all(&line).unwrap();
            sink.flush_now();
        }
        let dropped = sink.lines_dropped();
        assert!(dropped > 10_000, "{dropped} lines dropped");
        // Now read: what was kept arrives, then the count of what was not.
        let reading = std::thread::spawn(move || {
            let mut all = Vec::new();
            std::fs::File::from(reader).read_to_end(&mut all).unwrap();
            all
        });
        sink.write_all(b"after\n").unwrap();
        sink.finish(Duration::from_secs(10));
        drop(sink);
        let all = String::from_utf8(reading.join().unwrap()).unwrap();
        let kept = all.lines().filter(|l| l.len() == 99).count() as u64;
        assert!(kept > 0, "no line kept");
        let reports: u64 = all
            .lines()
            .filter_map(|l| l.strip_prefix("asynchat-httpd: "))
            .filter_map(|l| l.split_whitespace().next()?.parse::<u64>().ok())
            .sum();
        assert_eq!(
            reports,
            dropped,
            "{}",
            &all[all.len().saturating_sub(300)..]
        );
        assert_eq!(kept + dropped, 20_000, "every line written or counted");
        assert!(all.contains("after\n"), "a line taken once the log drained");
    }

    /// A regular file cannot stall, so nothing written to it is dropped,
    /// however many lines come in one turn of the loop (before: those
    /// past the 1 MiB buffer were, 1,088 of 16,000 in the attack).
    #[test]
    fn a_regular_file_log_drops_nothing() {
        let dir = std::env::temp_dir().join(format!("logsink-file-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("log");
        let mut sink = LogSink::for_output(std::fs::File::create(&path).unwrap(), 4096).unwrap();
        let line = [vec![b'y'; 99], vec![b'\n']].concat();
        for _ in 0..16_000 {
            sink.write_all(&line).unwrap();
        }
        sink.finish(Duration::from_secs(10));
        assert_eq!(sink.lines_dropped(), 0);
        let all = std::fs::read_to_string(&path).unwrap();
        assert_eq!(all.lines().filter(|l| l.len() == 99).count(), 16_000);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// Threads (workers) that each write lines and flush them
    /// before their loops wait: each thread's lines come out in its order.
    /// (Before: one thread could take a batch and another take and write
    /// the next before the first wrote its own.)
    #[test]
    fn threads_flushing_a_file_log_keep_their_lines_in_order() {
        let dir = std::env::temp_dir().join(format!("logsink-order-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("log");
        let sink = LogSink::for_output(std::fs::File::create(&path).unwrap(), 1 << 20).unwrap();
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let mut sink = sink.clone();
                std::thread::spawn(move || {
                    for i in 0..20_000 {
                        // One write for each line, as the logger makes.
                        sink.write_all(format!("{t} {i}\n").as_bytes()).unwrap();
                        sink.flush_now();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        sink.finish(Duration::from_secs(10));
        let all = std::fs::read_to_string(&path).unwrap();
        let mut next = [0; 4];
        for line in all.lines() {
            let (t, i) = line.split_once(' ').unwrap();
            let (t, i): (usize, u32) = (t.parse().unwrap(), i.parse().unwrap());
            assert_eq!(i, next[t], "thread {t}'s lines out of order");
            next[t] += 1;
        }
        assert_eq!(next, [20_000; 4]);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
