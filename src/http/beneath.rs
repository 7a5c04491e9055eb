//! Opening files beneath the document root, so that the file checked is the
//! file opened.
//!
//! A path that was canonicalised and checked, then opened again by name, can
//! be redirected between the two steps: swap a directory of the path for a
//! symlink to one outside the root and the open follows it. So nothing here
//! opens a path from the top. Every open is relative to a descriptor of the
//! root directory, taken once at start-up, and no step of the resolution
//! may leave it:
//!
//! 1. A path without symlinks, the common case, is one `openat2` with
//!    `RESOLVE_BENEATH` (no component may climb above the root, absolute
//!    paths are refused), `RESOLVE_NO_MAGICLINKS` (no `/proc/self/fd/N`
//!    tricks) and `RESOLVE_NO_SYMLINKS`. The kernel checks containment
//!    atomically, in one system call.
//! 2. A path through a symlink (`ELOOP` above), and every path on a kernel
//!    without `openat2` (before Linux 5.6, or one whose filter refuses it:
//!    probed once, at start-up), is a walk that does in user space what
//!    `RESOLVE_BENEATH` does in the kernel, as nginx's `disable_symlinks`
//!    does: each component is opened with `O_NOFOLLOW` relative to the
//!    directory descriptor of the one before, so a component swapped for a
//!    symlink is seen as a symlink; a symlink is read from a descriptor of
//!    the link itself and its target resolved component by component in the
//!    same way; `..` pops the stack of open directories and may never pop
//!    the root. An absolute symlink is followed only when it names a path
//!    under the root's canonical path, and is resolved from the root's
//!    descriptor. Unless hidden files are served, a component whose name
//!    starts with a dot is refused at every step, the components of symlink
//!    targets included, so a link to `.git` is as hidden as `.git`.
//! 3. The walk takes at most [`MAX_STEPS`] components and [`MAX_LINKS`]
//!    symlinks, so a chain of links built to be slow (`d/../d/../...` in
//!    each) costs a bounded amount of work: the kernel, which knows no such
//!    bound, is never asked to follow a link.
//!
//! Symlinks that stay inside the root therefore keep working, whatever they
//! point at inside it, while a symlink whose resolution passes outside the
//! root at any step is refused, even if it would come back.

use std::cell::Cell;
use std::collections::VecDeque;
use std::ffi::OsStr;
use std::fmt;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use rustix::fs::{FileType, Mode, OFlags, ResolveFlags, Stat};
use rustix::io::Errno;

/// The most symlinks followed while resolving one path (Linux's own limit).
pub const MAX_LINKS: usize = 40;

/// The most components the walk opens for one path, symlinks' targets
/// included: far more than any real path takes, and few enough that a chain
/// of links written to be slow (`d/../d/../...` in each) stays cheap.
pub const MAX_STEPS: usize = 256;

/// Why a path cannot be opened beneath the root.
#[derive(Debug)]
pub enum OpenError {
    /// Nothing by that name, a component that is not a directory, or
    /// something that is neither a file nor a directory (a socket).
    NotFound,
    /// A step of the resolution would leave the root.
    Escapes,
    /// A component (of the path or of a symlink's target) is hidden.
    Hidden,
    /// More than [`MAX_LINKS`] symlinks, more than [`MAX_STEPS`]
    /// components, or a loop.
    TooManyLinks,
    /// The file system refused access to a component or the file.
    Forbidden,
    /// Anything else: out of descriptors or memory, an I/O error.
    Io(io::Error),
}

impl fmt::Display for OpenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OpenError::NotFound => f.write_str("no such file"),
            OpenError::Escapes => f.write_str("the path leaves the root"),
            OpenError::Hidden => f.write_str("the path names a hidden file"),
            OpenError::TooManyLinks => f.write_str("too many symlinks"),
            OpenError::Forbidden => f.write_str("permission denied"),
            OpenError::Io(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for OpenError {}

impl From<Errno> for OpenError {
    fn from(e: Errno) -> OpenError {
        match e {
            // ENXIO: a socket (or a device without its driver); ENODEV,
            // EOPNOTSUPP: likewise nothing a file server serves.
            Errno::NOENT | Errno::NOTDIR | Errno::NXIO | Errno::NODEV | Errno::OPNOTSUPP => {
                OpenError::NotFound
            }
            Errno::ACCESS | Errno::PERM => OpenError::Forbidden,
            Errno::LOOP => OpenError::TooManyLinks,
            e => OpenError::Io(e.into()),
        }
    }
}

/// A file or directory opened beneath the root, with its status.
#[derive(Debug)]
pub struct Opened {
    /// Open for reading (a directory too), non-blocking, close-on-exec.
    pub fd: OwnedFd,
    /// `fstat` of `fd`.
    pub stat: Stat,
    /// The name of the last component actually opened: the request's last
    /// segment, or the target's if it was a symlink (for its Content-Type).
    pub name: Vec<u8>,
}

impl Opened {
    /// The kind of file opened.
    pub fn file_type(&self) -> FileType {
        FileType::from_raw_mode(self.stat.st_mode)
    }
}

/// The document root, held open.
#[derive(Debug)]
pub struct Root {
    dir: OwnedFd,
    /// The canonical path, for absolute symlinks and for reading back the
    /// path a file was reached by.
    path: PathBuf,
    hidden: bool,
    /// Whether `openat2` works here (probed at start-up).
    openat2: AtomicBool,
    /// Work done beneath the root so far: one unit per `openat2`, per
    /// component walked, and per entry of a directory read or listed
    /// ([`Root::charge`]). What a request cost is the difference across it
    /// ([`Root::work`]).
    work: Cell<u64>,
}

/// How the last component is opened: for reading, without blocking (a FIFO
/// must not hang the loop), never as a controlling terminal.
fn read_flags() -> OFlags {
    OFlags::RDONLY | OFlags::NONBLOCK | OFlags::CLOEXEC | OFlags::NOCTTY | OFlags::NOFOLLOW
}

/// `segments` joined by `/`, or `.` for none, as a path for `openat2`.
fn joined(segments: &[String]) -> Vec<u8> {
    let mut path = Vec::with_capacity(64);
    for s in segments {
        if !path.is_empty() {
            path.push(b'/');
        }
        path.extend_from_slice(s.as_bytes());
    }
    if path.is_empty() {
        path.push(b'.');
    }
    path
}

impl Root {
    /// Opens the directory at `path`, which must be canonical (absolute,
    /// with no symlinks), as the root; `hidden` says whether names starting
    /// with a dot may be opened. Whether `openat2` can be used is found out
    /// here, once: a kernel without it (`ENOSYS`) or a filter that refuses
    /// it (`EPERM`, as some container profiles do) gets the walk for every
    /// path, rather than errors.
    ///
    /// # Errors
    ///
    /// The error from opening the directory.
    pub fn new(path: &Path, hidden: bool) -> io::Result<Root> {
        let dir = rustix::fs::open(
            path,
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        let probe = rustix::fs::openat2(
            &dir,
            ".",
            read_flags() | OFlags::DIRECTORY,
            Mode::empty(),
            ResolveFlags::BENEATH | ResolveFlags::NO_MAGICLINKS | ResolveFlags::NO_SYMLINKS,
        );
        if let Err(e) = &probe {
            log::debug!("openat2 cannot be used here ({e}): every path is walked");
        }
        Ok(Root {
            dir,
            path: path.to_path_buf(),
            hidden,
            openat2: AtomicBool::new(probe.is_ok()),
            work: Cell::new(0),
        })
    }

    /// The canonical path of the root.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Work done so far, in all: one unit per `openat2`, per component
    /// walked, and what [`Root::charge`] added. A caller charges the difference across an
    /// open to whoever asked for it, so that paths built to be slow cost
    /// their sender a share of the loop ([`crate::Channel::charge`]).
    pub fn work(&self) -> u64 {
        self.work.get()
    }

    fn count_step(&self) {
        self.charge(1);
    }

    /// Counts `units` more of work done beneath the root for the request
    /// being answered: the entries of a directory read for its listing
    /// (a system call each), the rows rendered.
    pub fn charge(&self, units: u64) {
        self.work.set(self.work.get().saturating_add(units));
    }

    /// Opens what `segments` (decoded request path segments, none of them
    /// empty, `.` or `..`, none containing `/`) name beneath the root.
    ///
    /// # Errors
    ///
    /// [`OpenError`]: not found, escaping, hidden, forbidden, or an I/O
    /// error.
    pub fn open(&self, segments: &[String]) -> Result<Opened, OpenError> {
        if !self.hidden && super::path::is_hidden(segments) {
            return Err(OpenError::Hidden);
        }
        if self.openat2.load(Ordering::Relaxed) {
            self.count_step();
            match self.open_no_links(segments) {
                Ok(opened) => return Ok(opened),
                // A symlink on the path (or a rename the kernel saw racing
                // with the lookup): resolved step by step, with a bound.
                Err(Errno::LOOP | Errno::AGAIN | Errno::XDEV) => {}
                Err(e) => return Err(e.into()),
            }
        }
        self.walk(&[], components(segments), Last::Open)?.opened()
    }

    /// The directories from the root down to the one `segments` name, open
    /// (as `O_PATH` descriptors), to resolve many names in that directory
    /// with [`Root::open_in`] without walking to it again for each: a
    /// listing's symlinks.
    ///
    /// # Errors
    ///
    /// As [`Root::open`].
    pub fn dirs(&self, segments: &[String]) -> Result<Dirs, OpenError> {
        if !self.hidden && super::path::is_hidden(segments) {
            return Err(OpenError::Hidden);
        }
        match self.walk(&[], components(segments), Last::Dir)? {
            Walked::Dirs(dirs) => Ok(Dirs(dirs)),
            Walked::Opened(_) => Err(OpenError::NotFound),
        }
    }

    /// The directory `segments` name, open (as an `O_PATH` descriptor, which
    /// `openat`, `renameat` and `unlinkat` take), resolved exactly as a
    /// request for it would be: an upload's directory.
    ///
    /// # Errors
    ///
    /// As [`Root::open`].
    pub fn dir(&self, segments: &[String]) -> Result<OwnedFd, OpenError> {
        let mut dirs = self.dirs(segments)?.0;
        match dirs.pop() {
            Some(dir) => Ok(dir),
            None => Ok(self.dir.try_clone().map_err(OpenError::Io)?),
        }
    }

    /// Opens `name` in the directory `dirs` lead to, beneath the root, as
    /// [`Root::open`] would open the path to it.
    ///
    /// # Errors
    ///
    /// As [`Root::open`].
    pub fn open_in(&self, dirs: &Dirs, name: &str) -> Result<Opened, OpenError> {
        let name = VecDeque::from([name.as_bytes().to_vec()]);
        self.walk(&dirs.0, name, Last::Open)?.opened()
    }

    /// One `openat2` that allows no symlink and no step outside the root.
    fn open_no_links(&self, segments: &[String]) -> Result<Opened, Errno> {
        let fd = rustix::fs::openat2(
            &self.dir,
            OsStr::from_bytes(&joined(segments)),
            read_flags(),
            Mode::empty(),
            ResolveFlags::BENEATH | ResolveFlags::NO_MAGICLINKS | ResolveFlags::NO_SYMLINKS,
        )?;
        let stat = rustix::fs::fstat(&fd)?;
        let name = segments
            .last()
            .map_or_else(Vec::new, |s| s.as_bytes().to_vec());
        Ok(Opened { fd, stat, name })
    }

    /// Resolves `pending` one component at a time, each relative to the
    /// directory opened before it (starting from `base`, directories below
    /// the root), following symlinks only while they stay beneath the root,
    /// and at most [`MAX_STEPS`] components in all.
    fn walk(
        &self,
        base: &[OwnedFd],
        mut pending: VecDeque<Vec<u8>>,
        last: Last,
    ) -> Result<Walked, OpenError> {
        // The directories below the root, innermost last: those of `base`
        // (borrowed), then those this walk opened.
        let mut dirs: Vec<Level<'_>> = base.iter().map(|d| Level::Base(d.as_fd())).collect();
        let (mut links, mut steps) = (0, 0);
        loop {
            let here = dirs.last().map_or(self.dir.as_fd(), Level::as_fd);
            let Some(name) = pending.pop_front() else {
                return match last {
                    Last::Dir => Ok(Walked::Dirs(
                        dirs.into_iter()
                            .map(Level::into_owned)
                            .collect::<Result<_, _>>()?,
                    )),
                    // The path named the directory reached: open it to read.
                    Last::Open => {
                        let fd = rustix::fs::openat(here, ".", read_flags(), Mode::empty())?;
                        let stat = rustix::fs::fstat(&fd)?;
                        Ok(Walked::Opened(Opened {
                            fd,
                            stat,
                            name: Vec::new(),
                        }))
                    }
                };
            };
            steps += 1;
            self.count_step();
            if steps > MAX_STEPS {
                return Err(OpenError::TooManyLinks);
            }
            match name.as_slice() {
                b"" => continue,
                // A `.` after a name (from a link's `target/`) asks for a
                // directory: the name before it was opened as one.
                b"." => continue,
                b".." => {
                    dirs.pop().ok_or(OpenError::Escapes)?;
                    continue;
                }
                _ => {}
            }
            if !self.hidden && name.starts_with(b".") {
                return Err(OpenError::Hidden);
            }
            let step = if last == Last::Open && pending.iter().all(|c| c.is_empty()) {
                self.open_last(here, &name)?
            } else {
                open_dir(here, &name)?
            };
            match step {
                Step::Opened(opened) => return Ok(Walked::Opened(opened)),
                Step::Dir(fd) => dirs.push(Level::Own(fd)),
                Step::Link(target) => {
                    links += 1;
                    if links > MAX_LINKS {
                        return Err(OpenError::TooManyLinks);
                    }
                    let must_be_dir =
                        target.ends_with(b"/") || target.ends_with(b"/.") || target == b".";
                    let target = Path::new(OsStr::from_bytes(&target));
                    let relative = if target.is_absolute() {
                        // Only a path under the root's canonical path, and
                        // then from the root.
                        dirs.clear();
                        target
                            .strip_prefix(&self.path)
                            .map_err(|_| OpenError::Escapes)?
                    } else {
                        target
                    };
                    if must_be_dir {
                        pending.push_front(b".".to_vec());
                    }
                    for c in relative.components().rev() {
                        match c {
                            Component::Normal(n) => pending.push_front(n.as_bytes().to_vec()),
                            Component::ParentDir => pending.push_front(b"..".to_vec()),
                            Component::CurDir | Component::RootDir | Component::Prefix(_) => {}
                        }
                    }
                }
            }
        }
    }

    /// Opens the last component for reading, or reads it as a symlink.
    fn open_last(&self, here: BorrowedFd<'_>, name: &[u8]) -> Result<Step, OpenError> {
        match rustix::fs::openat(here, OsStr::from_bytes(name), read_flags(), Mode::empty()) {
            Ok(fd) => {
                let stat = rustix::fs::fstat(&fd)?;
                Ok(Step::Opened(Opened {
                    fd,
                    stat,
                    name: name.to_vec(),
                }))
            }
            // O_NOFOLLOW on a symlink.
            Err(Errno::LOOP) => read_link(here, name),
            Err(e) => Err(e.into()),
        }
    }
}

/// What a walk is for: to open what the path names, or to end in the
/// directory it names, with the stack of directories down to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Last {
    Open,
    Dir,
}

/// What a walk ended with.
enum Walked {
    Opened(Opened),
    Dirs(Vec<OwnedFd>),
}

impl Walked {
    /// What a walk to open opened (it never ends with directories).
    fn opened(self) -> Result<Opened, OpenError> {
        match self {
            Walked::Opened(opened) => Ok(opened),
            Walked::Dirs(_) => Err(OpenError::NotFound),
        }
    }
}

/// The directories from the root down to one below it, open: see
/// [`Root::dirs`].
pub struct Dirs(Vec<OwnedFd>);

/// A directory of a walk's stack: lent by the caller, or opened by the walk.
enum Level<'a> {
    Base(BorrowedFd<'a>),
    Own(OwnedFd),
}

impl Level<'_> {
    fn as_fd(&self) -> BorrowedFd<'_> {
        match self {
            Level::Base(fd) => *fd,
            Level::Own(fd) => fd.as_fd(),
        }
    }

    /// An owned descriptor of the directory (a lent one is duplicated).
    fn into_owned(self) -> Result<OwnedFd, OpenError> {
        match self {
            Level::Base(fd) => Ok(fd.try_clone_to_owned().map_err(OpenError::Io)?),
            Level::Own(fd) => Ok(fd),
        }
    }
}

/// Request path segments as the walk's components.
fn components(segments: &[String]) -> VecDeque<Vec<u8>> {
    segments.iter().map(|s| s.as_bytes().to_vec()).collect()
}

/// What one step of the walk found.
enum Step {
    /// The last component, open.
    Opened(Opened),
    /// A directory to go on from.
    Dir(OwnedFd),
    /// A symlink, with its target.
    Link(Vec<u8>),
}

/// Opens an intermediate component, which must be a directory or a symlink.
fn open_dir(here: BorrowedFd<'_>, name: &[u8]) -> Result<Step, OpenError> {
    let flags = OFlags::PATH | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    match rustix::fs::openat(here, OsStr::from_bytes(name), flags, Mode::empty()) {
        Ok(fd) => Ok(Step::Dir(fd)),
        // A symlink is not a directory to O_NOFOLLOW | O_DIRECTORY.
        Err(Errno::NOTDIR | Errno::LOOP) => read_link(here, name),
        Err(e) => Err(e.into()),
    }
}

/// Reads `name` in `here` as a symlink, from a descriptor of the link
/// itself, so that the link read is the one looked at. Anything that is not
/// a symlink is not found (it is neither a directory nor what was asked).
fn read_link(here: BorrowedFd<'_>, name: &[u8]) -> Result<Step, OpenError> {
    let flags = OFlags::PATH | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    let link = rustix::fs::openat(here, OsStr::from_bytes(name), flags, Mode::empty())?;
    let stat = rustix::fs::fstat(&link)?;
    if FileType::from_raw_mode(stat.st_mode) != FileType::Symlink {
        return Err(OpenError::NotFound);
    }
    let target = rustix::fs::readlinkat(&link, "", Vec::new())?;
    Ok(Step::Link(target.into_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ops::Add;
    use std::os::unix::fs::symlink;

    /// A root with links that stay inside, leave, or come back, beside a
    /// secret; removed when dropped.
    struct Fixture(PathBuf);

    impl Fixture {
        fn new(tag: &str) -> Fixture {
            let dir =
                std::env::temp_dir().join(format!("asynchat-beneath-{tag}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(dir.join("root/sub/deep")).unwrap();
            std::fs::create_dir_all(dir.join("root/.git")).unwrap();
            std::fs::write(dir.join("secret.txt"), "secret").unwrap();
            std::fs::write(dir.join("root/a.txt"), "a").unwrap();
            std::fs::write(dir.join("root/sub/deep/b.txt"), "b").unwrap();
            std::fs::write(dir.join("root/.git/config"), "git").unwrap();
            let root = dir.join("root").canonicalize().unwrap();
            let link = |target: &Path, name: &str| symlink(target, root.join(name)).unwrap();
            link(Path::new("a.txt"), "in.txt");
            link(Path::new("sub/deep"), "deep");
            link(Path::new(".."), "sub/up");
            link(Path::new("../../secret.txt"), "sub/out.txt");
            link(&root.join("a.txt"), "abs-in.txt");
            link(&dir.join("secret.txt"), "abs-out.txt");
            link(Path::new(".git"), "git");
            link(Path::new("loop"), "loop");
            link(Path::new("sub/up/sub/up/in.txt"), "twice.txt");
            link(Path::new("a.txt/"), "slash.txt");
            link(Path::new("sub/deep/"), "slash-dir");
            std::os::unix::net::UnixListener::bind(root.join("socket")).unwrap();
            link(Path::new("socket"), "to-socket");
            // Built to be slow: 300 components, every one a step of a walk.
            link(Path::new(&"sub/..//".repeat(150).add("a.txt")), "slow.txt");
            Fixture(dir)
        }

        fn root(&self, hidden: bool, openat2: bool) -> Root {
            let root = Root::new(&self.0.join("root").canonicalize().unwrap(), hidden).unwrap();
            root.openat2.store(openat2, Ordering::Relaxed);
            root
        }
    }

    impl Drop for Fixture {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    /// What opening a path gives: the file's contents, "dir", or the error.
    fn outcome(root: &Root, path: &str) -> String {
        let segments: Vec<String> = path
            .split('/')
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect();
        match root.open(&segments) {
            Ok(o) if o.file_type() == FileType::Directory => "dir".into(),
            Ok(o) => std::fs::read_to_string(format!("/proc/self/fd/{}", {
                use std::os::fd::AsRawFd;
                o.fd.as_raw_fd()
            }))
            .unwrap(),
            Err(e) => format!("{e:?}"),
        }
    }

    /// A listing resolves its symlinks from the directories down to it,
    /// opened once, with the same outcome as a request.
    #[test]
    fn names_in_a_directory_resolve_as_requests_do() {
        let fx = Fixture::new("dirs");
        for openat2 in [true, false] {
            let root = fx.root(false, openat2);
            let sub = root.dirs(&["sub".to_string()]).unwrap();
            let deep = root.open_in(&sub, "deep").unwrap();
            assert_eq!(deep.file_type(), FileType::Directory);
            assert!(
                matches!(root.open_in(&sub, "up"), Ok(o) if o.file_type() == FileType::Directory)
            );
            assert!(matches!(
                root.open_in(&sub, "out.txt"),
                Err(OpenError::Escapes)
            ));
            let top = root.dirs(&[]).unwrap();
            for (name, want) in [
                ("in.txt", "a"),
                ("git", "Hidden"),
                ("slow.txt", "TooManyLinks"),
            ] {
                let got = match root.open_in(&top, name) {
                    Ok(o) => std::fs::read_to_string(format!("/proc/self/fd/{}", {
                        use std::os::fd::AsRawFd;
                        o.fd.as_raw_fd()
                    }))
                    .unwrap(),
                    Err(e) => format!("{e:?}"),
                };
                assert_eq!(got, want, "{name}, openat2 {openat2}");
            }
        }
    }

    #[test]
    fn the_walk_and_openat2_agree_on_every_path() {
        let fx = Fixture::new("table");
        // (path, without hidden files, with them)
        let cases = [
            ("", "dir", "dir"),
            ("a.txt", "a", "a"),
            ("sub/deep/b.txt", "b", "b"),
            ("in.txt", "a", "a"),
            ("deep/b.txt", "b", "b"),
            ("deep", "dir", "dir"),
            ("sub/up/a.txt", "a", "a"),
            ("twice.txt", "a", "a"),
            ("abs-in.txt", "a", "a"),
            ("sub/out.txt", "Escapes", "Escapes"),
            ("abs-out.txt", "Escapes", "Escapes"),
            ("sub/up/sub/up/sub/out.txt", "Escapes", "Escapes"),
            ("missing", "NotFound", "NotFound"),
            ("a.txt/x", "NotFound", "NotFound"),
            (".git/config", "Hidden", "git"),
            ("git/config", "Hidden", "git"),
            ("loop", "TooManyLinks", "TooManyLinks"),
            ("slash.txt", "NotFound", "NotFound"),
            ("slash-dir", "dir", "dir"),
            ("slash-dir/b.txt", "b", "b"),
            ("socket", "NotFound", "NotFound"),
            ("to-socket", "NotFound", "NotFound"),
            // The walk's bound: 300 components through one link.
            ("slow.txt", "TooManyLinks", "TooManyLinks"),
        ];
        for openat2 in [true, false] {
            for hidden in [false, true] {
                let root = fx.root(hidden, openat2);
                for (path, plain, with_hidden) in cases {
                    let want = if hidden { with_hidden } else { plain };
                    assert_eq!(
                        outcome(&root, path),
                        want,
                        "{path:?}, openat2 {openat2}, hidden {hidden}"
                    );
                }
            }
        }
    }
}
