//! Spare buffers, kept per thread for the next channel that needs one.
//!
//! A channel between requests needs no buffer at all: its head is parsed,
//! its responses are written, nothing is held back. So it gives its
//! buffers back ([`give`]) the moment they are empty, and takes one
//! ([`take`]) when it next needs it. Keeping a few spares means that this
//! costs no allocation on the hot path (a connection that answers request
//! after request takes back the buffer it gave), and that ten thousand
//! idle keep-alive connections hold no buffers, only the spares do: at
//! most [`SPARES`] of each kind per thread.

use std::cell::RefCell;
use std::thread::LocalKey;

/// The most spare buffers of one kind a thread keeps.
pub const SPARES: usize = 16;

thread_local! {
    /// Spare byte buffers: channels' input buffers and HTTP heads.
    pub static BYTES: RefCell<Vec<Vec<u8>>> = const { RefCell::new(Vec::new()) };
}

/// The largest byte buffer kept as a spare (a read's worth).
pub const BYTES_LARGEST: usize = 64 * 1024;

/// A buffer that can be kept as a spare.
pub trait Spare {
    /// Its capacity in bytes (or elements), which decides whether it is
    /// worth keeping.
    fn capacity(&self) -> usize;
    /// Empties it, keeping its capacity.
    fn clear(&mut self);
}

impl Spare for Vec<u8> {
    fn capacity(&self) -> usize {
        Vec::capacity(self)
    }

    fn clear(&mut self) {
        Vec::clear(self);
    }
}

impl<T> Spare for std::collections::VecDeque<T> {
    fn capacity(&self) -> usize {
        std::collections::VecDeque::capacity(self)
    }

    fn clear(&mut self) {
        std::collections::VecDeque::clear(self);
    }
}

/// A thread's spares of one kind.
pub type Spares<T> = LocalKey<RefCell<Vec<T>>>;

/// A spare from `spares`, or a new, empty buffer when there is none.
pub fn take<T: Spare + Default>(spares: &'static Spares<T>) -> T {
    pop(spares).unwrap_or_default()
}

/// A spare from `spares`, if the thread has one.
pub fn pop<T: Spare>(spares: &'static Spares<T>) -> Option<T> {
    spares.try_with(|s| s.borrow_mut().pop()).ok().flatten()
}

/// Gives `buf` back to `spares`, emptied, unless it has no capacity, more
/// than `largest`, or the spares are full (then it is freed).
pub fn give<T: Spare>(spares: &'static Spares<T>, mut buf: T, largest: usize) {
    let capacity = buf.capacity();
    if capacity == 0 || capacity > largest {
        return;
    }
    buf.clear();
    let _ = spares.try_with(|s| {
        let mut s = s.borrow_mut();
        if s.len() < SPARES {
            if s.capacity() == 0 {
                s.reserve_exact(SPARES);
            }
            s.push(buf);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    thread_local! {
        static BUFS: RefCell<Vec<Vec<u8>>> = const { RefCell::new(Vec::new()) };
    }

    #[test]
    fn a_buffer_given_back_is_taken_again_and_the_spares_are_bounded() {
        let mut buf = take(&BUFS);
        assert_eq!(buf.capacity(), 0, "none spare yet: a new, empty one");
        buf.extend_from_slice(b"hello");
        let ptr = buf.as_ptr();
        give(&BUFS, buf, 1024);
        let again = take(&BUFS);
        assert_eq!(again.as_ptr(), ptr, "the same buffer, emptied");
        assert!(again.is_empty());
        // Too large, or empty: not kept.
        give(&BUFS, vec![0; 2048], 1024);
        give(&BUFS, Vec::new(), 1024);
        assert_eq!(BUFS.with_borrow(Vec::len), 0);
        for _ in 0..SPARES + 5 {
            give(&BUFS, vec![0; 8], 1024);
        }
        assert_eq!(BUFS.with_borrow(Vec::len), SPARES);
    }
}
