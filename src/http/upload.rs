//! Uploads (`--upload`): a request body that the terminators deliver goes
//! to a file instead of being dropped.
//!
//! The body arrives exactly as a discarded one does (a `Count(n)` for a
//! Content-Length, the chunked walk otherwise); each piece that
//! `collect_incoming_data` is handed is written to a [`Pending`] file at
//! once, so that a connection never holds more of a body than one read.
//!
//! The rules that make an upload safe, each at one place here:
//!
//! - **Atomic.** The body goes to a temporary file in the target's own
//!   directory (so the rename cannot cross file systems), named
//!   `.upload-<32 hex digits>` and a DEL byte (0x7f): a control byte, which
//!   no request can name and no listing shows. Only when the whole body
//!   has arrived and matched its framing is the file `fsync`ed and renamed
//!   over the target, so a reader sees the old file or the new one, never
//!   part of one; concurrent uploads of one name end with one of the
//!   bodies whole.
//! - **Nothing half-done left behind.** A [`Pending`] file that is not
//!   renamed into place is removed when it is dropped: when the client
//!   disconnects, times out or breaks the framing mid-body, when writing
//!   fails, and when the server stops (after the graceful shutdown's grace,
//!   the connections still uploading are dropped).
//! - **Disk errors are answers.** `ENOSPC`, `EDQUOT` and `EFBIG` give 507,
//!   `EACCES`, `EPERM` and `EROFS` 403; the temporary file is removed at
//!   once, the rest of the body is read and discarded, so the connection
//!   stays in step.
//! - **No lost updates.** `If-None-Match: *` stores only a file that does
//!   not exist, by `renameat2(RENAME_NOREPLACE)`, which the kernel makes
//!   atomic; `If-Match` stores only over the version it names, checked
//!   again just before the rename.
//! - **The containment of reads.** The directory is resolved beneath the
//!   root as a request for it would be ([`Root::dir`]); a hidden name is
//!   refused unless hidden files are served; a name with a control byte, or
//!   longer than 255 bytes, is 400. The final name is never followed: a
//!   symlink there is replaced by the file, its target left alone.

use std::ffi::{CStr, CString};
use std::fs::File;
use std::io::{self, Write as _};
use std::os::fd::OwnedFd;
use std::rc::Rc;
use std::sync::{Mutex, MutexGuard};

use rustix::fs::{AtFlags, FileType, Mode, OFlags, RenameFlags};
use rustix::io::Errno;

use super::beneath::{OpenError, Root};
use super::error::HttpError;
use super::head::{Framing, Method, Request};
use super::monitor::UploadProgress;
use super::path::{self, Resolved};
use super::response::Reply;
use super::{Config, Shared, byteranges, conditional};
use crate::channel::{AsyncChat, Channel, Limits};
use crate::producer::FileStamp;
use crate::terminator::Terminator;
use crate::trace;
use crate::trace::Trace;

/// The longest file name stored, in bytes (most file systems' bound).
pub const NAME_MAX: usize = 255;

/// How much of an upload is written between flushes: once this much more
/// has been written, the kernel is told to start writing it to the disk,
/// and the loop waits for the span before it (started one span earlier,
/// so mostly on the disk already). The dirty data of an upload stays near
/// two spans, so neither the final `fsync` nor the kernel's throttling of
/// writers ever holds the loop for long: a 1 GiB upload costs its
/// `fsync` a few milliseconds rather than half a second, and a disk slower
/// than the network slows the uploader, a span at a time.
pub const FLUSH_SPAN: u64 = 1 << 20;

/// Starting and awaiting the writeback of a file's range, where the kernel
/// offers it (`sync_file_range`, Linux); elsewhere nothing, and the final
/// `fsync` does it all.
mod writeback {
    use std::os::fd::{AsRawFd, BorrowedFd};

    #[cfg(target_os = "linux")]
    fn sync_file_range(fd: BorrowedFd<'_>, offset: u64, len: u64, flags: u32) {
        // SAFETY: sync_file_range takes no pointers; a bad descriptor or
        // range is an error return (ignored: the final fsync reports what
        // matters), never undefined behaviour.
        #[allow(unsafe_code)]
        unsafe extern "C" {
            safe fn sync_file_range(
                fd: std::ffi::c_int,
                offset: i64,
                nbytes: i64,
                flags: std::ffi::c_uint,
            ) -> std::ffi::c_int;
        }
        let to_i64 = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
        sync_file_range(fd.as_raw_fd(), to_i64(offset), to_i64(len), flags);
    }

    #[cfg(not(target_os = "linux"))]
    fn sync_file_range(_: BorrowedFd<'_>, _: u64, _: u64, _: u32) {}

    const WAIT_BEFORE: u32 = 1;
    const WRITE: u32 = 2;
    const WAIT_AFTER: u32 = 4;

    /// Starts writing `len` bytes at `offset` to the disk, without waiting.
    pub fn start(fd: BorrowedFd<'_>, offset: u64, len: u64) {
        sync_file_range(fd, offset, len, WRITE);
    }

    /// Waits until `len` bytes at `offset` are on the disk.
    pub fn wait(fd: BorrowedFd<'_>, offset: u64, len: u64) {
        if len > 0 {
            sync_file_range(fd, offset, len, WAIT_BEFORE | WRITE | WAIT_AFTER);
        }
    }
}

/// Which version of the target an upload may replace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Condition {
    /// Any, or none.
    Any,
    /// None: the file must not exist (`If-None-Match: *`).
    Absent,
    /// The version an `If-Match` value names (`*`: any that exists).
    Matches(String),
    /// None of the versions an `If-None-Match` list names.
    MatchesNone(String),
}

impl Condition {
    /// The condition `req` puts on its upload.
    pub fn of(req: &Request<'_>) -> Condition {
        if let Some(value) = req.if_match.as_deref() {
            Condition::Matches(value.to_string())
        } else if let Some(value) = req.if_none_match.as_deref() {
            if value.trim() == "*" {
                Condition::Absent
            } else {
                Condition::MatchesNone(value.to_string())
            }
        } else {
            Condition::Any
        }
    }

    /// Whether a target whose tag is `etag` (`None`: there is none) may be
    /// replaced.
    fn allows(&self, etag: Option<&str>) -> bool {
        match self {
            Condition::Any => true,
            Condition::Absent => etag.is_none(),
            Condition::Matches(value) => conditional::if_match_matches(value, etag),
            Condition::MatchesNone(value) => {
                etag.is_none_or(|etag| !conditional::if_none_match_matches(value, etag))
            }
        }
    }
}

/// What is at an upload's target now: nothing, or a file (or symlink, which
/// is replaced, not followed) with its tag. A directory or anything else
/// is refused.
fn target_tag(dir: &OwnedFd, name: &str) -> Result<Option<String>, HttpError> {
    match rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW) {
        Ok(stat) => match FileType::from_raw_mode(stat.st_mode) {
            FileType::Directory => Err(HttpError::UploadIsDirectory),
            FileType::RegularFile => Ok(Some(conditional::etag(&FileStamp::from(&stat)))),
            // A link has no tag of its own here: only `*` matches it.
            FileType::Symlink => Ok(Some("\"link\"".to_string())),
            _ => Err(HttpError::UploadNotAFile),
        },
        Err(Errno::NOENT) => Ok(None),
        Err(e) => Err(storage_error(&e.into())),
    }
}

/// A file this large that an upload replaces is freed off the loop: the
/// last reference to a file going frees its blocks in the call that drops
/// it, which takes a quarter of a second for 1 GiB on ext4 here.
const FREE_ELSEWHERE: u64 = 16 << 20;

/// Held from an upload's check of its target to its rename, so that the
/// two are one step for every other thread: two workers (`--workers`)
/// cannot both find the version an `If-Match` names and both replace it,
/// any more than two connections of one worker can, between whose events
/// nothing runs. Held for a `statx` and a rename; never taken where the
/// kernel checks as it renames (`RENAME_NOREPLACE`).
static CHECK_AND_RENAME: Mutex<()> = Mutex::new(());

/// [`CHECK_AND_RENAME`], taken. It guards nothing but the step, so a
/// thread that panicked holding it left nothing to repair.
fn check_and_rename() -> MutexGuard<'static, ()> {
    CHECK_AND_RENAME.lock().unwrap_or_else(|e| e.into_inner())
}

/// The file at `name`, held open when it is a regular file of at least
/// [`FREE_ELSEWHERE`] bytes, so that replacing it does not free it.
fn hold_if_large(dir: &OwnedFd, name: &str) -> Option<OwnedFd> {
    let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC;
    let fd = rustix::fs::openat(dir, name, flags, Mode::empty()).ok()?;
    let stat = rustix::fs::fstat(&fd).ok()?;
    let big = FileType::from_raw_mode(stat.st_mode) == FileType::RegularFile
        && stat.st_size as u64 >= FREE_ELSEWHERE;
    big.then_some(fd)
}

/// Closes `old`, the last reference to a replaced file, on a thread of its
/// own (or here, if no thread can be had).
fn free_elsewhere(old: OwnedFd) {
    let spawned = std::thread::Builder::new()
        .name("free-replaced".into())
        .spawn(move || drop(old));
    if let Err(e) = spawned {
        log::debug!("freeing a replaced file on the loop: {e}");
    }
}

/// The answer to a file system error while storing.
pub fn storage_error(e: &io::Error) -> HttpError {
    match Errno::from_io_error(e) {
        Some(Errno::NOSPC | Errno::DQUOT | Errno::FBIG) => HttpError::InsufficientStorage,
        Some(Errno::ACCESS | Errno::PERM | Errno::ROFS) => HttpError::UploadForbidden,
        Some(Errno::NOENT | Errno::NOTDIR) => HttpError::UploadParentMissing,
        _ => {
            log::warn!("cannot store an upload: {e}");
            HttpError::Unavailable
        }
    }
}

/// Checks a file name an upload would store (the last segment of a PUT's
/// path, a form's file name reduced to its last component).
///
/// # Errors
///
/// [`HttpError::UploadNameInvalid`] for a name no request could name or
/// longer than [`NAME_MAX`]; [`HttpError::UploadForbidden`] for a hidden
/// one unless `hidden`.
pub fn check_name(name: &str, hidden: bool) -> Result<(), HttpError> {
    if !path::is_servable_name(name) || name.len() > NAME_MAX {
        return Err(HttpError::UploadNameInvalid);
    }
    if !hidden && name.starts_with('.') {
        return Err(HttpError::UploadForbidden);
    }
    Ok(())
}

/// The directory `segments` name, for writing in.
///
/// # Errors
///
/// 409 when it does not exist (or a component is a file), 403 when it is
/// hidden, leaves the root or may not be read.
pub fn open_dir(root: &Root, segments: &[String]) -> Result<Rc<OwnedFd>, HttpError> {
    match root.dir(segments) {
        Ok(dir) => Ok(Rc::new(dir)),
        Err(OpenError::NotFound | OpenError::TooManyLinks) => Err(HttpError::UploadParentMissing),
        Err(OpenError::Escapes | OpenError::Hidden | OpenError::Forbidden) => {
            Err(HttpError::UploadForbidden)
        }
        Err(OpenError::Io(e)) => Err(storage_error(&e)),
    }
}

/// A file being stored: a temporary file in the target's directory, renamed
/// over the target by [`Pending::commit`] once complete, removed when
/// dropped otherwise.
pub struct Pending {
    dir: Rc<OwnedFd>,
    /// The name it will have.
    name: String,
    /// The temporary file's name, while the temporary file exists.
    temp: Option<CString>,
    file: Option<File>,
    /// Bytes written so far.
    written: u64,
    /// Bytes handed to it so far, written or (after a failure) not.
    received: u64,
    /// Bytes whose writeback has been started, and bytes waited for
    /// ([`FLUSH_SPAN`]).
    started: u64,
    waited: u64,
    /// Why writing stopped, if it did: the rest is discarded.
    failed: Option<HttpError>,
}

impl Pending {
    /// Creates the temporary file for `name` in `dir`.
    ///
    /// # Errors
    ///
    /// [`storage_error`] of the failure to create it.
    pub fn create(dir: Rc<OwnedFd>, name: &str) -> Result<Pending, HttpError> {
        let flags = OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW;
        let flags = flags | OFlags::CLOEXEC;
        // A fresh boundary's 32 digits are as unpredictable as a name needs.
        let digits = byteranges::boundary().replace("asynchat-", "");
        let temp = CString::new(format!(".upload-{digits}\x7f")).expect("no NUL in the name");
        let fd = rustix::fs::openat(&*dir, temp.as_c_str(), flags, Mode::from_raw_mode(0o644))
            .map_err(|e| storage_error(&e.into()))?;
        Ok(Pending {
            dir,
            name: name.to_string(),
            temp: Some(temp),
            file: Some(File::from(fd)),
            written: 0,
            received: 0,
            started: 0,
            waited: 0,
            failed: None,
        })
    }

    /// The temporary file's name, for the trace (escaped there).
    pub fn temp_name(&self) -> String {
        self.temp
            .as_deref()
            .map_or_else(String::new, |t| t.to_string_lossy().into_owned())
    }

    /// The name the file will have.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Bytes written so far.
    pub fn written(&self) -> u64 {
        self.written
    }

    /// Bytes handed to it so far, written or not.
    pub fn received(&self) -> u64 {
        self.received
    }

    /// Why writing stopped, if it did.
    pub fn failed(&self) -> Option<HttpError> {
        self.failed
    }

    /// Writes `data`, one piece of the body as it arrived. After a failure
    /// (the temporary file is then removed) pieces are discarded.
    pub fn write(&mut self, data: &[u8]) {
        self.received += data.len() as u64;
        let Some(file) = self.file.as_mut() else {
            return;
        };
        match file.write_all(data) {
            Ok(()) => self.written += data.len() as u64,
            Err(e) => return self.fail(storage_error(&e)),
        }
        if self.written - self.started >= FLUSH_SPAN {
            use std::os::fd::AsFd;
            writeback::start(file.as_fd(), self.started, self.written - self.started);
            writeback::wait(file.as_fd(), self.waited, self.started - self.waited);
            (self.waited, self.started) = (self.started, self.written);
        }
    }

    /// Stops writing for `why`, and removes the temporary file now.
    pub fn fail(&mut self, why: HttpError) {
        self.failed.get_or_insert(why);
        self.remove();
        self.file = None;
    }

    fn remove(&mut self) {
        if self.written >= FREE_ELSEWHERE {
            // Held open across the unlink, whatever closed it before.
            self.reopen();
        }
        if let Some(temp) = self.temp.take() {
            let _ = rustix::fs::unlinkat(&*self.dir, temp.as_c_str(), AtFlags::empty());
            // Its blocks are freed when the last descriptor goes: for a
            // large file, off the loop.
            if self.written >= FREE_ELSEWHERE
                && let Some(file) = self.file.take()
            {
                free_elsewhere(file.into());
            }
        }
    }

    /// Opens the temporary file again if [`Pending::close_written`] closed
    /// it: to flush it, or to hold it while it is removed.
    fn reopen(&mut self) {
        if self.file.is_some() {
            return;
        }
        let Some(temp) = &self.temp else { return };
        let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        if let Ok(fd) = rustix::fs::openat(&*self.dir, temp.as_c_str(), flags, Mode::empty()) {
            self.file = Some(File::from(fd));
        }
    }

    /// Done writing, the file to be stored later with others (a form's
    /// parts): the rest of its writeback is started and its descriptor
    /// closed, so that a form of many files holds none open;
    /// [`Pending::commit`] opens it again to flush it.
    pub fn close_written(&mut self) {
        if let Some(file) = self.file.take() {
            use std::os::fd::AsFd;
            writeback::start(file.as_fd(), self.started, self.written - self.started);
        }
    }

    /// The whole body has arrived: flushes it to the disk, checks
    /// `condition` against the target as it is now, and renames the file
    /// over it. Returns true when the file is new (201), false when it
    /// replaced one (204).
    ///
    /// # Errors
    ///
    /// The failure that stopped writing, 412 when `condition` no longer
    /// holds, or the error of `fsync` or `rename`. The temporary file is
    /// removed in every case.
    pub fn commit(mut self, condition: &Condition) -> Result<bool, HttpError> {
        if let Some(why) = self.failed {
            return Err(why);
        }
        let Some(temp) = self.temp.clone() else {
            return Err(HttpError::Unavailable);
        };
        // Kept open until it is renamed: a large file removed after a
        // failure is then freed off the loop. Only this file is flushed
        // (a `syncfs` would wait for every file on the file system).
        self.reopen();
        let Some(file) = &self.file else {
            return Err(HttpError::Unavailable);
        };
        file.sync_all().map_err(|e| storage_error(&e))?;
        let temp: &CStr = temp.as_c_str();
        let dir = Rc::clone(&self.dir);
        let rename =
            |flags| rustix::fs::renameat_with(&*dir, temp, &*dir, self.name.as_str(), flags);
        let created = match condition {
            // The kernel checks that the name is free as it renames.
            Condition::Absent => match rename(RenameFlags::NOREPLACE) {
                Ok(()) => true,
                Err(Errno::EXIST) => return Err(HttpError::PreconditionFailed),
                // A file system without RENAME_NOREPLACE (some network
                // ones): checked just before the rename instead.
                Err(Errno::INVAL | Errno::NOSYS) => {
                    let _step = check_and_rename();
                    if target_tag(&self.dir, &self.name)?.is_some() {
                        return Err(HttpError::PreconditionFailed);
                    }
                    rename(RenameFlags::empty()).map_err(|e| storage_error(&e.into()))?;
                    true
                }
                Err(e) => return Err(storage_error(&e.into())),
            },
            _ => {
                let step = check_and_rename();
                let tag = target_tag(&self.dir, &self.name)?;
                if !condition.allows(tag.as_deref()) {
                    return Err(HttpError::PreconditionFailed);
                }
                let old = hold_if_large(&self.dir, &self.name);
                rename(RenameFlags::empty()).map_err(|e| storage_error(&e.into()))?;
                drop(step);
                if let Some(old) = old {
                    free_elsewhere(old);
                }
                tag.is_none()
            }
        };
        // Renamed: there is no temporary file left to remove.
        self.temp = None;
        Ok(created)
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        self.remove();
    }
}

/// A PUT being stored.
pub struct Put {
    file: Pending,
    condition: Condition,
    /// The target's path, encoded: its `Location`, and the file cache's
    /// key for it.
    location: String,
    /// The body's Content-Length, if it has one.
    announced: Option<u64>,
}

impl Put {
    /// Checks a PUT of `req` and opens its temporary file.
    ///
    /// # Errors
    ///
    /// 400 for a target that is no file name, 403 where uploads may not
    /// go, 405 for a directory, 409 when its directory is missing, 412 when
    /// its condition fails already, 507 when the disk is full.
    pub fn begin(cfg: &Config, root: &Root, req: &Request<'_>) -> Result<Put, HttpError> {
        let resolved: Resolved = path::resolve(req.target).map_err(HttpError::BadPath)?;
        let Some((name, parents)) = resolved.segments.split_last() else {
            return Err(HttpError::UploadIsDirectory);
        };
        if resolved.trailing_slash {
            return Err(HttpError::UploadIsDirectory);
        }
        check_name(name, cfg.hidden)?;
        if !cfg.hidden && path::is_hidden(parents) {
            return Err(HttpError::UploadForbidden);
        }
        let dir = open_dir(root, parents)?;
        let condition = Condition::of(req);
        let tag = target_tag(&dir, name)?;
        if !condition.allows(tag.as_deref()) {
            return Err(HttpError::PreconditionFailed);
        }
        Ok(Put {
            file: Pending::create(dir, name)?,
            condition,
            location: path::encode_path(&resolved.segments, false),
            announced: announced(req),
        })
    }

    /// Writes one piece of the body.
    pub fn write(&mut self, chan: &Channel, data: &[u8]) {
        self.file.write(data);
        match self.file.failed() {
            None => trace!(
                chan.tracer(),
                "upload: {} bytes to the temporary file, {} in all",
                data.len(),
                self.file.written()
            ),
            Some(why) => trace!(
                chan.tracer(),
                "upload: writing failed ({why}): temporary file removed, the rest of the body is discarded"
            ),
        }
    }

    /// The body is complete: stores the file, and answers 201 or 204, or
    /// the error that kept it from being stored.
    pub fn finish(self, chan: &mut Channel, shared: &Shared) -> Reply {
        let (written, temp) = (self.file.written(), self.file.temp_name());
        let received = self.file.received();
        let dir = Rc::clone(&self.file.dir);
        let started = std::time::Instant::now();
        let result = self.file.commit(&self.condition);
        charge_storing(chan, started);
        // Whatever the file cache held for this path, or listed in its
        // directory, is another file now.
        forget_cached(shared, &dir, &[self.location.as_str()]);
        match result {
            Ok(created) => {
                trace!(
                    chan.tracer(),
                    "upload: {written} bytes fsynced, {} renamed to {}",
                    trace::Escaped(&temp),
                    trace::Escaped(&self.location)
                );
                let mut reply = if created {
                    Reply::created(&self.location)
                } else {
                    Reply::no_content()
                };
                reply.received = Some(received);
                reply
            }
            Err(e) => {
                trace!(
                    chan.tracer(),
                    "upload: not stored ({e}); temporary file removed"
                );
                let mut reply = Reply::from_error(e);
                reply.received = Some(received);
                reply
            }
        }
    }
}

/// The body length `req` announced, if any.
fn announced(req: &Request<'_>) -> Option<u64> {
    match req.framing {
        Framing::Length(n) => Some(n),
        Framing::None => Some(0),
        Framing::Chunked => None,
    }
}

/// Charges `chan` for storing what it stored since `started`: an eighth of
/// the turn's work at least (an `fsync` is dear), or a unit per
/// microsecond it took, so that pipelined uploads on a slow disk wait for
/// later turns as much as on a fast one.
fn charge_storing(chan: &mut Channel, started: std::time::Instant) {
    let took = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
    chan.charge(took.max(chan.limits().work_per_event / 8));
}

/// Forgets what the file cache holds of the files at `paths` and of the
/// listing of `dir`, which an upload changed.
fn forget_cached(shared: &Shared, dir: &OwnedFd, paths: &[&str]) {
    let mut cache = shared.cache.borrow_mut();
    if let Ok(stat) = rustix::fs::fstat(dir) {
        cache.forget_listing((stat.st_dev, stat.st_ino));
    }
    for path in paths {
        cache.remove(path);
    }
}

/// The most files one form stores: each costs the loop a file's creation
/// and, when the form ends, an `fsync` and a rename, so a form of
/// thousands of tiny parts cannot hold the loop.
pub const FORM_FILES_MAX: usize = 100;

/// The longest line of a part's head in a form, and the most lines.
const PART_LINE_MAX: usize = 8 * 1024;
const PART_LINES_MAX: usize = 64;

/// The boundary of a `multipart/form-data` Content-Type (RFC 7578 §4.1,
/// RFC 2046 §5.1.1: 1 to 70 characters, quoted or a token).
pub fn form_boundary(content_type: Option<&str>) -> Option<String> {
    let mut params = content_type?.split(';');
    let kind = params.next()?.trim();
    if !kind.eq_ignore_ascii_case("multipart/form-data") {
        return None;
    }
    params.find_map(|p| {
        let (name, value) = p.split_once('=')?;
        if !name.trim().eq_ignore_ascii_case("boundary") {
            return None;
        }
        let value = value.trim();
        let value = value
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .unwrap_or(value);
        let ok = (1..=70).contains(&value.len())
            && value.bytes().all(|b| b.is_ascii_graphic() || b == b' ');
        ok.then(|| value.to_string())
    })
}

/// The file name a part's `Content-Disposition` gives (RFC 7578 §4.2,
/// RFC 6266): `filename*` (`UTF-8''` and percent-encoded) over `filename`
/// (a quoted string or a token), reduced to its last path component, as a
/// browser's `C:\Users\me\a.txt` or a hostile `../../x` must be. `None`
/// for a part that is not a file: no file name, or an empty one (a form
/// whose picker was left empty). A name that cannot be one (`dir/`, which
/// is empty once cut, or a `filename*` that is not UTF-8) comes back as
/// `/`, which [`check_name`] refuses: it is never skipped in silence.
pub fn part_file_name(disposition: &str) -> Option<String> {
    const UNNAMEABLE: &str = "/";
    let (mut plain, mut extended) = (None, None);
    for (name, value) in disposition_params(disposition) {
        if name.eq_ignore_ascii_case("filename") {
            plain = Some(value);
        } else if name.eq_ignore_ascii_case("filename*") {
            let utf8 = value
                .split_once('\'')
                .filter(|(charset, _)| charset.eq_ignore_ascii_case("utf-8"))
                .and_then(|(_, rest)| rest.split_once('\''))
                .and_then(|(_language, encoded)| {
                    let bytes: Vec<u8> = percent_encoding::percent_decode_str(encoded).collect();
                    String::from_utf8(bytes).ok()
                });
            extended = Some(utf8.unwrap_or_else(|| UNNAMEABLE.to_string()));
        }
    }
    let name = extended.or(plain)?;
    if name.is_empty() {
        return None;
    }
    let last = name.rsplit(['/', '\\']).next().unwrap_or_default();
    Some(if last.is_empty() { UNNAMEABLE } else { last }.to_string())
}

/// The parameters of a `Content-Disposition` value, after its type: each
/// `name=value`, a quoted value unescaped. A `;` inside quotes does not end
/// a parameter.
fn disposition_params(value: &str) -> Vec<(String, String)> {
    let mut params = Vec::new();
    let mut rest = match value.split_once(';') {
        Some((_, rest)) => rest,
        None => return params,
    };
    loop {
        rest = rest.trim_start_matches([' ', '\t', ';']);
        let Some(eq) = rest.find('=') else { break };
        let name = rest[..eq].trim().to_string();
        rest = rest[eq + 1..].trim_start_matches([' ', '\t']);
        let mut out = String::new();
        if let Some(quoted) = rest.strip_prefix('"') {
            let mut chars = quoted.char_indices();
            let mut end = quoted.len();
            while let Some((i, c)) = chars.next() {
                match c {
                    '\\' => {
                        if let Some((_, next)) = chars.next() {
                            out.push(next);
                        }
                    }
                    '"' => {
                        end = i + 1;
                        break;
                    }
                    c => out.push(c),
                }
            }
            rest = &quoted[end..];
        } else {
            let end = rest.find(';').unwrap_or(rest.len());
            out = rest[..end].trim().to_string();
            rest = &rest[end..];
        }
        params.push((name, out));
    }
    params
}

/// Where in a `multipart/form-data` body the nested channel is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FormStep {
    /// Before the first boundary (terminator: the delimiter).
    Preamble,
    /// Just after a delimiter (terminator `"\r\n"`): nothing (another part
    /// follows) or `--` (the last).
    AfterDelimiter,
    /// A part's head lines (terminator `"\r\n"`), with their number.
    PartHead(usize),
    /// A part's content (terminator: the delimiter).
    Content,
    /// After the close delimiter: the epilogue, ignored (no terminator).
    Epilogue,
}

/// The records of a form's body, as the nested channel delivers them.
struct FormParts {
    /// `"\r\n--" + boundary`.
    delimiter: Vec<u8>,
    dir: Rc<OwnedFd>,
    hidden: bool,
    step: FormStep,
    /// The current line, or the current part's `Content-Disposition`.
    line: Vec<u8>,
    disposition: Option<String>,
    /// The file of the current part, when it is one.
    file: Option<Pending>,
    /// The files whose parts are complete, stored when the form ends.
    done: Vec<Pending>,
    /// The names stored.
    stored: Vec<String>,
    /// Why the form stopped being stored, if it did.
    failed: Option<HttpError>,
}

impl FormParts {
    fn delimiter(&self) -> Terminator {
        Terminator::Bytes(self.delimiter.clone().into())
    }

    fn fail(&mut self, chan: &mut Channel, why: HttpError) {
        trace!(chan.tracer(), "{why}; the rest of the body is discarded");
        self.failed.get_or_insert(why);
        self.file = None;
        self.step = FormStep::Epilogue;
        chan.set_terminator(Terminator::None);
        // What is left may be a file's bytes: shown by size alone.
        chan.hide_data(true);
    }

    /// A part's head is complete: a file part gets its temporary file.
    fn start_part(&mut self, chan: &mut Channel) {
        let name = self.disposition.take().as_deref().and_then(part_file_name);
        self.step = FormStep::Content;
        chan.set_terminator(self.delimiter());
        // A part's content, a file's or a field's, is traced by size.
        chan.hide_data(true);
        if name.is_some() && self.done.len() == FORM_FILES_MAX {
            return self.fail(chan, HttpError::FormTooManyFiles);
        }
        let Some(name) = name else {
            trace!(
                chan.tracer(),
                "a part that is not a file: its content is skipped"
            );
            return;
        };
        let file = check_name(&name, self.hidden)
            .and_then(|()| Pending::create(Rc::clone(&self.dir), &name));
        match file {
            Ok(file) => {
                trace!(
                    chan.tracer(),
                    "file {} goes to the temporary file {}",
                    trace::Escaped(&name),
                    trace::Escaped(&file.temp_name())
                );
                self.file = Some(file);
            }
            Err(e) => self.fail(chan, e),
        }
    }

    /// A part's content is complete: its file is stored.
    fn end_part(&mut self, chan: &mut Channel) {
        self.step = FormStep::AfterDelimiter;
        chan.set_terminator(b"\r\n");
        chan.hide_data(false);
        let Some(mut file) = self.file.take() else {
            return;
        };
        file.close_written();
        trace!(
            chan.tracer(),
            "part complete: {} bytes for {}, stored when the form ends",
            file.written(),
            trace::Escaped(file.name())
        );
        self.done.push(file);
    }

    /// Stores the files of the parts that are complete, each flushed and
    /// renamed into place.
    fn store_done(&mut self, chan: &Channel) {
        if self.done.is_empty() {
            return;
        }
        let count = self.done.len();
        for file in self.done.drain(..) {
            let name = file.name().to_string();
            match file.commit(&Condition::Any) {
                Ok(_) => self.stored.push(name),
                Err(e) => {
                    self.failed.get_or_insert(e);
                }
            }
        }
        trace!(
            chan.tracer(),
            "upload: {count} files flushed to the disk, {} renamed into place",
            self.stored.len()
        );
    }
}

impl AsyncChat for FormParts {
    fn collect_incoming_data(&mut self, chan: &mut Channel, data: &[u8]) {
        match self.step {
            FormStep::Preamble | FormStep::Epilogue => {}
            FormStep::Content => {
                if let Some(file) = self.file.as_mut() {
                    file.write(data);
                    if let Some(why) = file.failed() {
                        self.fail(chan, why);
                    }
                }
            }
            FormStep::AfterDelimiter | FormStep::PartHead(_) => {
                self.line.extend_from_slice(data);
                if self.line.len() > PART_LINE_MAX {
                    self.fail(chan, HttpError::FormMalformed);
                }
            }
        }
    }

    fn found_terminator(&mut self, chan: &mut Channel) {
        let line = std::mem::take(&mut self.line);
        match self.step {
            FormStep::Preamble => {
                self.step = FormStep::AfterDelimiter;
                chan.set_terminator(b"\r\n");
                chan.hide_data(false);
            }
            FormStep::Content => self.end_part(chan),
            FormStep::AfterDelimiter => {
                // Transport padding may follow a delimiter (RFC 2046 §5.1.1).
                let line = line.trim_ascii_end();
                if line.is_empty() {
                    self.step = FormStep::PartHead(0);
                } else if line == b"--" {
                    trace!(chan.tracer(), "close delimiter; the rest is epilogue");
                    self.step = FormStep::Epilogue;
                    chan.set_terminator(Terminator::None);
                    chan.hide_data(true);
                } else {
                    self.fail(chan, HttpError::FormMalformed);
                }
            }
            FormStep::PartHead(_) if line.is_empty() => self.start_part(chan),
            FormStep::PartHead(lines) => {
                if lines + 1 > PART_LINES_MAX {
                    return self.fail(chan, HttpError::FormMalformed);
                }
                self.step = FormStep::PartHead(lines + 1);
                let line = String::from_utf8_lossy(&line);
                if let Some((name, value)) = line.split_once(':')
                    && name.trim().eq_ignore_ascii_case("content-disposition")
                {
                    self.disposition = Some(value.trim().to_string());
                }
            }
            FormStep::Epilogue => {}
        }
    }
}

/// A `multipart/form-data` POST being stored: its body is fed, record by
/// record as the outer channel delivers it, to a channel inside the
/// channel, whose terminator is the boundary's delimiter, switching to
/// `"\r\n"` for each part's head and back to the delimiter for its content.
pub struct Form {
    chan: Channel,
    parts: FormParts,
    /// The directory's path, encoded with its `/`: where the answer sends
    /// the browser back to.
    location: String,
    /// The body's Content-Length, if it has one.
    announced: Option<u64>,
    /// Body bytes received so far.
    received: u64,
}

impl Form {
    /// Checks a form POST of `req` to a directory.
    ///
    /// # Errors
    ///
    /// 415 for a body that is not `multipart/form-data` with a boundary,
    /// 403 and 409 as for [`Put::begin`].
    pub fn begin(cfg: &Config, root: &Root, req: &Request<'_>) -> Result<Form, HttpError> {
        let boundary = form_boundary(req.content_type).ok_or(HttpError::FormNotMultipart)?;
        let resolved: Resolved = path::resolve(req.target).map_err(HttpError::BadPath)?;
        if !cfg.hidden && path::is_hidden(&resolved.segments) {
            return Err(HttpError::UploadForbidden);
        }
        let dir = open_dir(root, &resolved.segments)?;
        let delimiter = format!("\r\n--{boundary}").into_bytes();
        let mut chan = Channel::new(Terminator::Bytes(delimiter.clone().into()));
        // Every record of the body is delivered as it comes: the outer
        // channel's work bound already counts them.
        chan.set_limits(Limits {
            work_per_event: u64::MAX,
            ..Limits::default()
        });
        let mut parts = FormParts {
            delimiter,
            dir,
            hidden: cfg.hidden,
            step: FormStep::Preamble,
            line: Vec::new(),
            disposition: None,
            file: None,
            done: Vec::new(),
            stored: Vec::new(),
            failed: None,
        };
        // The first delimiter has no CRLF before it: one is fed first, so
        // every delimiter is the same terminator.
        // The preamble, like every part's content, is traced by size.
        chan.hide_data(true);
        chan.feed(&mut parts, b"\r\n");
        Ok(Form {
            chan,
            parts,
            location: path::encode_path(&resolved.segments, true),
            announced: announced(req),
            received: 0,
        })
    }

    /// Feeds one piece of the body to the nested channel.
    pub fn write(&mut self, data: &[u8]) {
        self.received += data.len() as u64;
        self.chan.feed(&mut self.parts, data);
    }

    /// The body is complete: 303 back to the listing when every file was
    /// stored, or the error, saying which files were stored before it.
    pub fn finish(mut self, chan: &mut Channel, shared: &Shared) -> Reply {
        if self.parts.failed.is_none() && self.parts.step != FormStep::Epilogue {
            self.parts.failed = Some(HttpError::FormMalformed);
        }
        // An unfinished part is removed; the complete ones are stored.
        self.parts.file = None;
        self.parts.store_done(chan);
        // A form's files cost a turn: pipelined requests wait for the next.
        chan.charge(chan.limits().work_per_event);
        let paths: Vec<String> = self
            .parts
            .stored
            .iter()
            .map(|name| format!("{}{}", self.location, path::encode_segment(name)))
            .collect();
        let paths: Vec<&str> = paths.iter().map(String::as_str).collect();
        forget_cached(shared, &self.parts.dir, &paths);
        let stored = match self.parts.stored.as_slice() {
            [] => "No file was stored.".to_string(),
            names => format!("Stored {}.", names.join(", ")),
        };
        trace!(
            chan.tracer(),
            "upload: form done: {}",
            trace::Escaped(&stored)
        );
        let mut reply = match self.parts.failed {
            None => Reply::see_other(&self.location, &stored),
            Some(e) => Reply::error_page(e, &format!("{e} {stored}")),
        };
        reply.received = Some(self.received);
        reply
    }
}

/// Where an upload's body goes.
pub enum Store {
    /// To one file (PUT).
    Put(Put),
    /// To the files of a form (POST), boxed: its nested channel is large.
    Form(Box<Form>),
}

impl Store {
    /// Checks the upload `req` asks for and gets ready to store its body.
    ///
    /// # Errors
    ///
    /// What keeps it from being stored, found before the body is read.
    pub fn begin(shared: &Shared, req: &Request<'_>) -> Result<Store, HttpError> {
        match req.method {
            Method::Put => Put::begin(&shared.config, &shared.root, req).map(Store::Put),
            _ => Form::begin(&shared.config, &shared.root, req).map(|f| Store::Form(Box::new(f))),
        }
    }

    /// Traces the upload under `trace`, the connection's (a form's nested
    /// channel under the same tag, marked `form`), and says where the body
    /// goes.
    pub fn trace_with(&mut self, trace: Option<&Trace>) {
        let Some(trace) = trace else { return };
        match self {
            Store::Put(put) => trace.event(format_args!(
                "upload: the body goes to the temporary file {}, renamed to {} when complete",
                trace::Escaped(&put.file.temp_name()),
                trace::Escaped(&put.location)
            )),
            Store::Form(form) => {
                trace.event(format_args!(
                    "upload: a form; its body goes to a channel inside this one, whose \
                     terminator is the boundary's delimiter {}",
                    trace::Escaped(&String::from_utf8_lossy(&form.parts.delimiter))
                ));
                form.chan.set_trace(Some(trace.nested("form")));
            }
        }
    }

    /// Takes one piece of the body, as it arrived.
    pub fn write(&mut self, chan: &Channel, data: &[u8]) {
        match self {
            Store::Put(put) => put.write(chan, data),
            Store::Form(form) => form.write(data),
        }
    }

    /// The body is complete: stores what it held and answers.
    pub fn finish(self, chan: &mut Channel, shared: &Shared) -> Reply {
        match self {
            Store::Put(put) => put.finish(chan, shared),
            Store::Form(form) => (*form).finish(chan, shared),
        }
    }

    /// How far it has come, for the status page.
    pub fn progress(&self) -> UploadProgress {
        let (target, received, announced) = match self {
            Store::Put(put) => (&put.location, put.file.received(), put.announced),
            Store::Form(form) => (&form.location, form.received, form.announced),
        };
        UploadProgress {
            target: target.clone(),
            received,
            announced,
        }
    }
}
