//! The capture writer: a bounded buffer that the loop hands captured records
//! to, and a thread of its own that writes them to one file per connection.
//! It is [`LogSink`](crate::logsink::LogSink) again, with files: the loop
//! holds a lock for a copy, never for a system call, and what does not fit
//! is never waited for.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::fs;
use std::io::{self, Write};
use std::net::SocketAddr;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::Options;

/// Where capture files go: a directory ([`Dir`]), or memory in tests.
pub trait Store: Send + 'static {
    /// Opens the capture file called `name`: a new one when `new` (failing
    /// with [`io::ErrorKind::AlreadyExists`] if there is one), otherwise the
    /// existing one, to append to it.
    ///
    /// # Errors
    ///
    /// Whatever stops the file from being opened.
    fn open(&mut self, name: &str, new: bool) -> io::Result<Box<dyn Write + Send>>;
}

/// A directory of capture files.
#[derive(Debug, Clone)]
pub struct Dir(PathBuf);

/// A capture directory that cannot be used.
#[derive(Debug)]
pub struct DirError {
    /// The directory.
    pub path: PathBuf,
    /// What could not be done.
    pub what: &'static str,
    /// Why.
    pub error: io::Error,
}

impl fmt::Display for DirError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "capture directory {}: {}: {}",
            self.path.display(),
            self.what,
            self.error
        )
    }
}

impl std::error::Error for DirError {}

impl Dir {
    /// The directory `path`, created if it does not exist, and checked by
    /// writing a file into it (and removing it), so that a directory that
    /// cannot take captures is an error at start-up rather than at the
    /// first connection.
    ///
    /// # Errors
    ///
    /// [`DirError`] when it cannot be created, is not a directory, or
    /// cannot be written.
    pub fn new(path: impl Into<PathBuf>) -> Result<Dir, DirError> {
        let path = path.into();
        let fail = |what, error| DirError {
            path: path.clone(),
            what,
            error,
        };
        // A directory made here is its owner's only, as the files are.
        if !path.exists() {
            use std::os::unix::fs::DirBuilderExt;
            fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(&path)
                .map_err(|e| fail("cannot create it", e))?;
        }
        if !path.is_dir() {
            return Err(fail(
                "cannot use it",
                io::Error::from(io::ErrorKind::NotADirectory),
            ));
        }
        let probe = path.join(format!(".asynchat-capture-probe-{}", std::process::id()));
        let written = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&probe)
            .and_then(|mut f| f.write_all(b"probe\n"));
        let _ = fs::remove_file(&probe);
        written.map_err(|e| fail("cannot write in it", e))?;
        Ok(Dir(path))
    }

    /// The directory's path.
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Store for Dir {
    /// Files are made readable by their owner only: a capture holds
    /// whatever clients sent, cookies and passwords included.
    fn open(&mut self, name: &str, new: bool) -> io::Result<Box<dyn Write + Send>> {
        use std::os::unix::fs::OpenOptionsExt;
        let path = self.0.join(name);
        let file = if new {
            fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(path)?
        } else {
            fs::OpenOptions::new().append(true).open(path)?
        };
        Ok(Box::new(file))
    }
}

/// What a job does with its file.
enum Kind {
    /// Create the file with this name, and write the job's bytes (the
    /// header).
    Open(String),
    /// Append the job's bytes.
    Append,
    /// Append the job's bytes, and close the file for good.
    Close,
}

/// One piece of work for the writer thread: bytes of `State::buf` for the
/// file of connection `id`.
struct Job {
    id: u64,
    kind: Kind,
    bytes: Range<usize>,
}

#[derive(Default)]
struct State {
    /// The bytes of every job waiting.
    buf: Vec<u8>,
    jobs: Vec<Job>,
    /// The writer thread is writing a batch (it will look again after).
    writing: bool,
    /// No more jobs will come: write what is left and stop.
    closed: bool,
    /// The writer thread has stopped.
    exited: bool,
    /// Connections not captured since the writer last said so: their file
    /// did not fit in the buffer.
    skipped: u64,
}

struct Inner {
    state: Mutex<State>,
    work: Condvar,
    written: Condvar,
    options: Options,
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The capture writer, shared by every captured connection; cheap to clone.
///
/// Connections hand it their records ([`Connection::capture`] starts
/// that); a thread of its own writes them, one file per connection, named
/// by [`file_name`](super::format::file_name). The records waiting, of all
/// connections together, are bounded by [`Options::buffer`]: a connection
/// whose records do not fit is not waited for; its capture is marked
/// `truncated` at that point and records nothing more but its `end`.
///
/// [`Connection::capture`]: crate::Connection::capture
#[derive(Clone)]
pub struct Sink(Arc<Inner>);

impl fmt::Debug for Sink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sink")
            .field("options", &self.0.options)
            .finish()
    }
}

impl Sink {
    /// Starts a writer thread that writes captures to `store`.
    ///
    /// # Errors
    ///
    /// The error from starting the thread.
    pub fn spawn(options: Options, store: impl Store) -> io::Result<Sink> {
        let inner = Arc::new(Inner {
            state: Mutex::new(State::default()),
            work: Condvar::new(),
            written: Condvar::new(),
            options,
        });
        let shared = Arc::clone(&inner);
        std::thread::Builder::new()
            .name("capture".into())
            .spawn(move || write_out(&shared, Box::new(store)))?;
        Ok(Sink(inner))
    }

    /// The options every capture is made with.
    pub fn options(&self) -> &Options {
        &self.0.options
    }

    /// Whether the connection `id` from `peer` is to be captured: it
    /// passes one of the filters, or there are none.
    pub fn wants(&self, id: u64, peer: Option<SocketAddr>) -> bool {
        let filters = &self.0.options.filters;
        filters.is_empty() || filters.iter().any(|f| f.matches(id, peer))
    }

    fn submit(&self, id: u64, kind: Kind, bytes: &[u8], bounded: bool) -> bool {
        let mut st = self.0.lock();
        if st.closed || (bounded && st.buf.len() + bytes.len() > self.0.options.buffer) {
            return false;
        }
        let start = st.buf.len();
        st.buf.extend_from_slice(bytes);
        let end = st.buf.len();
        st.jobs.push(Job {
            id,
            kind,
            bytes: start..end,
        });
        true
    }

    /// Creates the file of connection `id` and writes `header` to it, or
    /// returns false when the header does not fit in the buffer: then the
    /// connection is not captured at all (a flood of connections must not
    /// grow the buffer without bound), and the writer logs how many were
    /// not.
    pub(crate) fn open(&self, id: u64, name: String, header: &[u8]) -> bool {
        if self.submit(id, Kind::Open(name), header, true) {
            return true;
        }
        self.0.lock().skipped += 1;
        false
    }

    /// Appends `records`, or returns false (and takes nothing) when they do
    /// not fit in the buffer.
    pub(crate) fn append(&self, id: u64, records: &[u8]) -> bool {
        self.submit(id, Kind::Append, records, true)
    }

    /// Appends a record that must not be lost (`truncated`), whether or not
    /// it fits: a connection sends at most one, so these, like the `end`
    /// records, are bounded by the connections open.
    pub(crate) fn append_always(&self, id: u64, record: &[u8]) {
        self.submit(id, Kind::Append, record, false);
    }

    /// Appends the last records and closes the file. Not bounded (one per
    /// connection): the `end` record is what tells a complete capture from
    /// a cut one.
    pub(crate) fn close(&self, id: u64, records: &[u8]) {
        self.submit(id, Kind::Close, records, false);
    }

    /// Hands the records taken so far to the writer thread, unless it is
    /// busy writing (it takes them when it is done). Never blocks; the loop
    /// calls it before it waits.
    pub fn flush_now(&self) {
        let st = self.0.lock();
        if !st.writing && (!st.jobs.is_empty() || st.skipped > 0) {
            self.0.work.notify_one();
        }
    }

    /// Writes out what is waiting and stops the writer thread, waiting for
    /// it at most `patience`. Records taken after this are dropped.
    pub fn finish(&self, patience: Duration) {
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

/// The most capture files the writer keeps open; beyond them the least
/// recently written is closed, and opened again to append when it has
/// more, so that captures never cost the server more than this many
/// descriptors.
pub const OPEN_FILES: usize = 64;

/// One capture file as the writer thread knows it.
struct File {
    name: String,
    /// The open file, if it is open.
    out: Option<Box<dyn Write + Send>>,
    /// A write failed: the rest of this capture is dropped.
    failed: bool,
}

/// The writer thread's files.
struct Files {
    store: Box<dyn Store>,
    files: HashMap<u64, File>,
    /// The ids of the open files, least recently written first.
    open: VecDeque<u64>,
    /// Captures cut short since writing last worked.
    failing: u64,
}

impl Files {
    fn apply(&mut self, job: Job, bytes: &[u8]) {
        match job.kind {
            Kind::Open(name) => self.create(job.id, name, bytes),
            Kind::Append => self.append(job.id, bytes),
            Kind::Close => {
                self.append(job.id, bytes);
                self.files.remove(&job.id);
                self.open.retain(|&id| id != job.id);
            }
        }
    }

    fn create(&mut self, id: u64, name: String, header: &[u8]) {
        // A name already taken (a connection id of an earlier run, at the
        // same microsecond) gets a suffix.
        let mut result = self.store.open(&name, true).map(|out| (name.clone(), out));
        let mut n = 1;
        while matches!(&result, Err(e) if e.kind() == io::ErrorKind::AlreadyExists) && n < 100 {
            let other = format!("{}-{n}.cap", name.trim_end_matches(".cap"));
            result = self.store.open(&other, true).map(|out| (other, out));
            n += 1;
        }
        match result {
            Ok((name, out)) => {
                if self.failing > 0 {
                    log::warn!(
                        "capture: writing captures again; {} were cut short",
                        self.failing
                    );
                    self.failing = 0;
                }
                self.files.insert(
                    id,
                    File {
                        name,
                        out: Some(out),
                        failed: false,
                    },
                );
                self.opened(id);
                self.append(id, header);
            }
            Err(e) => {
                self.files.insert(
                    id,
                    File {
                        name: name.clone(),
                        out: None,
                        failed: true,
                    },
                );
                self.failed(&name, &e);
            }
        }
    }

    fn append(&mut self, id: u64, bytes: &[u8]) {
        let Some(file) = self.files.get_mut(&id) else {
            return;
        };
        if file.failed || bytes.is_empty() {
            return;
        }
        let mut reopened = false;
        if file.out.is_none() {
            match self.store.open(&file.name, false) {
                Ok(out) => {
                    file.out = Some(out);
                    reopened = true;
                }
                Err(e) => {
                    file.failed = true;
                    let name = file.name.clone();
                    return self.failed(&name, &e);
                }
            }
        }
        let written = file.out.as_mut().map(|out| out.write_all(bytes));
        if let Some(Err(e)) = written {
            file.failed = true;
            file.out = None;
            let name = file.name.clone();
            self.open.retain(|&i| i != id);
            return self.failed(&name, &e);
        }
        if reopened {
            self.opened(id);
        } else if self.open.back() != Some(&id) {
            self.open.retain(|&i| i != id);
            self.open.push_back(id);
        }
    }

    /// Counts `id` as open, closing the least recently written file if too
    /// many are.
    fn opened(&mut self, id: u64) {
        self.open.push_back(id);
        while self.open.len() > OPEN_FILES {
            if let Some(old) = self.open.pop_front()
                && let Some(f) = self.files.get_mut(&old)
            {
                f.out = None;
            }
        }
    }

    /// A capture that cannot be written: the first of a run is logged, the
    /// rest counted, so a full disk does not flood the log.
    fn failed(&mut self, name: &str, e: &io::Error) {
        if self.failing == 0 {
            log::warn!(
                "capture: cannot write {name}: {e}; captures are cut short until writing works again"
            );
        }
        self.failing += 1;
    }
}

/// The writer thread: takes the waiting jobs in one batch, writes them
/// (blocking as long as the files need), and goes back for more.
fn write_out(inner: &Inner, store: Box<dyn Store>) {
    let mut files = Files {
        store,
        files: HashMap::new(),
        open: VecDeque::new(),
        failing: 0,
    };
    let mut batch = Vec::new();
    loop {
        let jobs = {
            let mut st = inner.lock();
            while st.jobs.is_empty() && st.skipped == 0 && !st.closed {
                st = match inner.work.wait(st) {
                    Ok(st) => st,
                    Err(e) => e.into_inner(),
                };
            }
            let skipped = std::mem::take(&mut st.skipped);
            if skipped > 0 {
                log::warn!(
                    "capture: {skipped} connections were not captured: the capture writer did not keep up"
                );
            }
            if st.jobs.is_empty() && st.closed {
                st.exited = true;
                inner.written.notify_all();
                return;
            }
            std::mem::swap(&mut st.buf, &mut batch);
            st.writing = true;
            std::mem::take(&mut st.jobs)
        };
        for job in jobs {
            let range = job.bytes.clone();
            files.apply(job, &batch[range]);
        }
        batch.clear();
        let mut st = inner.lock();
        st.writing = false;
        inner.written.notify_all();
    }
}
