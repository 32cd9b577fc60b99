//! The system allocator, asking Linux for transparent huge pages (2 MiB) on large blocks, and
//! handing freed memory back between stages.
//!
//! The per-customer state is read in random order: customer table, sums, grading vectors.
//! With 4 KiB pages nearly every such read also misses the TLB, and in a virtual machine a
//! TLB miss walks two page tables. With 2 MiB pages the same memory needs 512 times fewer
//! entries. Linux only gives huge pages where a program asks (`madvise`) on most
//! distributions, so blocks of at least [`HUGE_FROM`] bytes are marked when allocated.

use std::alloc::{GlobalAlloc, Layout, System};

/// Blocks this large get the advice: at 100 M transactions every per-customer vector is
/// (8.7 M customers x 8 bytes is 70 MB). Smaller ones gained nothing measurable at 10 M and
/// pay for zeroing 2 MiB at every first touch.
const HUGE_FROM: usize = 32 << 20;
const HUGE_PAGE: usize = 2 << 20;

/// Hands memory freed by the last stage back to the system. glibc's allocator keeps freed
/// blocks in per-thread arenas for reuse, so without this a stage's garbage would stay
/// resident under the next stage's peak.
pub fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only returns unused pages of the allocator's own heaps.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// [`System`], plus `madvise(MADV_HUGEPAGE)` on large blocks.
pub struct HugePageAlloc;

fn advise(ptr: *mut u8, len: usize) {
    #[cfg(target_os = "linux")]
    {
        let start = (ptr as usize).next_multiple_of(HUGE_PAGE);
        let end = (ptr as usize + len) / HUGE_PAGE * HUGE_PAGE;
        if end > start {
            // SAFETY: the range lies inside a block this allocator just handed out; the
            // advice changes how it is backed, never its contents. Failure is harmless.
            unsafe {
                libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_HUGEPAGE);
            }
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = (ptr, len);
}

// SAFETY: every call is forwarded to `System` with the same arguments; `advise` only adds
// a hint on memory `System` returned.
unsafe impl GlobalAlloc for HugePageAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = System.alloc(layout);
        if layout.size() >= HUGE_FROM && !p.is_null() {
            advise(p, layout.size());
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = System.alloc_zeroed(layout);
        if layout.size() >= HUGE_FROM && !p.is_null() {
            advise(p, layout.size());
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout)
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = System.realloc(ptr, layout, new_size);
        if new_size >= HUGE_FROM && !p.is_null() {
            advise(p, new_size);
        }
        p
    }
}
