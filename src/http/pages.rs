//! A page the operator chose to answer with (`--404 FILE`): read at
//! start-up, and read again when it changes, checked at most once a second.
//!
//! The file may lie anywhere (it is the operator's, named on the command
//! line, not a request's), and is read whole: it is meant to be a small
//! HTML page. If it becomes unreadable, the last version read is kept and a
//! warning logged once.

use std::borrow::Cow;
use std::path::PathBuf;
use std::rc::Rc;
use std::time::{Duration, Instant};

use super::mime;

/// How often, at most, the file is looked at again.
const RECHECK: Duration = Duration::from_secs(1);

/// A page read from a file, with what tells its version.
pub(crate) struct Page {
    path: PathBuf,
    content_type: Cow<'static, str>,
    bytes: Rc<[u8]>,
    /// Length and modification time when read.
    version: Option<(u64, std::time::SystemTime)>,
    checked: Option<Instant>,
    warned: bool,
}

impl Page {
    /// The page at `path`, not read yet (read on first use).
    pub(crate) fn new(path: PathBuf) -> Page {
        Page {
            content_type: mime::content_type(&path),
            path,
            bytes: Rc::from(Vec::new()),
            version: None,
            checked: None,
            warned: false,
        }
    }

    /// The page's bytes and Content-Type, read again if it changed since it
    /// was last looked at (at most once a second).
    pub(crate) fn current(&mut self, now: Instant) -> (Rc<[u8]>, Cow<'static, str>) {
        if self
            .checked
            .is_none_or(|t| now.duration_since(t) >= RECHECK)
        {
            self.checked = Some(now);
            self.refresh();
        }
        (Rc::clone(&self.bytes), self.content_type.clone())
    }

    fn refresh(&mut self) {
        let seen = std::fs::metadata(&self.path)
            .ok()
            .filter(|m| m.is_file())
            .map(|m| (m.len(), m.modified().unwrap_or(std::time::UNIX_EPOCH)));
        if seen.is_some() && seen == self.version {
            return;
        }
        match std::fs::read(&self.path) {
            Ok(bytes) => {
                self.bytes = Rc::from(bytes);
                self.version = seen;
                self.warned = false;
            }
            Err(e) if !self.warned => {
                log::warn!(
                    "404 page {}: {e}; the last version read is served",
                    self.path.display()
                );
                self.warned = true;
            }
            Err(_) => {}
        }
    }
}
