//! Giving freed memory back to the system.
//!
//! glibc's allocator keeps the memory a burst of connections freed: it
//! returns only a free stretch at the top of its heap, and a few allocations
//! that live on above the freed ones (a grown slot table, a cache entry) pin
//! everything below them. A server that a flood of clients once made grow
//! would stay that size after they left. `malloc_trim(0)` returns every
//! whole free page, wherever it lies. The housekeeping calls it once
//! connections have closed, at most once a second.

/// Returns the allocator's free pages to the system, where the allocator
/// can (glibc); elsewhere, nothing.
pub fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: malloc_trim takes no pointers, is thread-safe, and only
        // changes which of the allocator's free pages are mapped, so it is
        // safe to call at any time.
        #[allow(unsafe_code)]
        unsafe extern "C" {
            safe fn malloc_trim(pad: usize) -> std::ffi::c_int;
        }
        malloc_trim(0);
    }
}
