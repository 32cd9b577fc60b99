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

/// Drops the pages of the files this process maps read-only and shared (polars maps its
/// input files so) from its resident set. Reading an input through its mapping leaves every
/// page read resident until the mapping goes: the whole file by the end of the pass, 1.1 GB at
/// 100 M transactions. The pages stay in the page cache, and a page touched again comes back
/// from there. Only shared mappings without write access are touched: their contents are
/// always the file's, so dropping their pages cannot lose anything.
pub fn release_mapped_files() {
    #[cfg(target_os = "linux")]
    {
        let Ok(maps) = std::fs::read_to_string("/proc/self/maps") else {
            return;
        };
        for (start, end) in maps.lines().filter_map(read_only_shared) {
            // SAFETY: the range is a whole mapping of a file, shared and not writable: after
            // MADV_DONTNEED its pages are read from the file again on the next touch, with
            // the same contents. Failure only leaves the pages resident.
            unsafe {
                libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_DONTNEED);
            }
        }
    }
}

/// The address range of a `/proc/self/maps` line of a read-only shared mapping.
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
fn read_only_shared(line: &str) -> Option<(usize, usize)> {
    let mut fields = line.split_ascii_whitespace();
    let (range, perms) = (fields.next()?, fields.next()?);
    if perms != "r--s" {
        return None;
    }
    let (start, end) = range.split_once('-')?;
    let (start, end) = (
        usize::from_str_radix(start, 16).ok()?,
        usize::from_str_radix(end, 16).ok()?,
    );
    (end > start).then_some((start, end))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_read_only_shared_mappings_are_picked() {
        let line = |perms: &str| {
            format!("7f6359400000-7f639fe82000 {perms} 00000000 fe:00 10044213   /data/tx.parquet")
        };
        assert_eq!(
            read_only_shared(&line("r--s")),
            Some((0x7f63_5940_0000, 0x7f63_9fe8_2000))
        );
        for perms in ["r--p", "rw-s", "rw-p", "r-xp", "---p"] {
            assert_eq!(read_only_shared(&line(perms)), None, "{perms}");
        }
        assert_eq!(read_only_shared(""), None);
        assert_eq!(read_only_shared("zz-10 r--s 0 0:0 0"), None);
    }

    #[cfg(target_os = "linux")]
    /// The resident KiB of this process's mapping that starts at `start`.
    fn resident_kib(start: usize) -> Option<u64> {
        let smaps = std::fs::read_to_string("/proc/self/smaps").ok()?;
        let head = format!("{start:x}-");
        let mut lines = smaps.lines().skip_while(|l| !l.starts_with(&head));
        lines.next()?;
        let rss = lines.find(|l| l.starts_with("Rss:"))?;
        rss.split_whitespace().nth(1)?.parse().ok()
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_released_mapping_reads_the_file_again() {
        use std::io::Write;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("data.bin");
        let bytes: Vec<u8> = (0..1 << 20).map(|i| (i % 251) as u8).collect();
        std::fs::File::create(&path)
            .unwrap()
            .write_all(&bytes)
            .unwrap();
        let file = std::fs::File::open(&path).unwrap();
        // SAFETY: the file is ours and nothing writes to it while mapped.
        let map = unsafe { memmap2::Mmap::map(&file) }.unwrap();
        assert_eq!(&map[..], &bytes[..]);
        let start = map.as_ptr() as usize;
        assert_eq!(
            resident_kib(start),
            Some(1024),
            "every page read is resident"
        );
        release_mapped_files();
        assert_eq!(resident_kib(start), Some(0), "released");
        assert_eq!(&map[..], &bytes[..], "the same bytes, read again");
        assert_eq!(resident_kib(start), Some(1024));
    }
}
