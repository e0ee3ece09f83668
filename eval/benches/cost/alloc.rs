//! A counting global allocator: live bytes of the whole process, and allocations and bytes
//! made by one thread while it says so.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicIsize, Ordering};

/// The system allocator, counting.
pub(crate) struct Counting;

/// Bytes allocated and not yet freed, by every thread.
static LIVE: AtomicIsize = AtomicIsize::new(0);
/// Print a backtrace of every counted allocation (`CONNIE_COST_BACKTRACE=1`).
static TRACE: AtomicBool = AtomicBool::new(false);

thread_local! {
    /// Whether this thread's allocations are being counted.
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    /// Allocations (`alloc`, `alloc_zeroed`, `realloc`) counted on this thread.
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
    /// Bytes requested by them (a `realloc` counts its new size).
    static BYTES: Cell<u64> = const { Cell::new(0) };
}

/// What one thread allocated while counting.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Allocated {
    pub(crate) allocations: u64,
    pub(crate) bytes: u64,
}

/// Counts the allocations made on this thread by `f` (and by what it awaits, when `f` is
/// a poll on a current-thread runtime).
pub(crate) async fn count<F: std::future::Future>(f: F) -> (F::Output, Allocated) {
    let before = totals();
    COUNTING.with(|c| c.set(true));
    let out = f.await;
    COUNTING.with(|c| c.set(false));
    let after = totals();
    let counted = Allocated {
        allocations: after.allocations - before.allocations,
        bytes: after.bytes - before.bytes,
    };
    (out, counted)
}

fn totals() -> Allocated {
    Allocated {
        allocations: ALLOCATIONS.with(Cell::get),
        bytes: BYTES.with(Cell::get),
    }
}

/// Bytes allocated and not yet freed, by the whole process.
pub(crate) fn live() -> isize {
    LIVE.load(Ordering::Relaxed)
}

/// Prints a backtrace of each allocation counted from now on (to stderr).
pub(crate) fn trace(on: bool) {
    TRACE.store(on, Ordering::Relaxed);
}

fn counted(size: usize) {
    let counting = COUNTING.try_with(Cell::get).unwrap_or(false);
    if !counting {
        return;
    }
    ALLOCATIONS.with(|c| c.set(c.get() + 1));
    BYTES.with(|c| c.set(c.get() + size as u64));
    if TRACE.load(Ordering::Relaxed) {
        // The backtrace allocates: not counted, and not traced.
        COUNTING.with(|c| c.set(false));
        let trace = std::backtrace::Backtrace::force_capture();
        eprintln!("=== allocation of {size} B\n{trace}");
        COUNTING.with(|c| c.set(true));
    }
}

// SAFETY: every call is passed on to `System` unchanged; the counters are atomics or
// thread-locals that never allocate.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        counted(layout.size());
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: the caller's contract, passed on.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        counted(layout.size());
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: the caller's contract, passed on.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: the caller's contract, passed on.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        counted(new_size);
        LIVE.fetch_add(
            new_size as isize - layout.size() as isize,
            Ordering::Relaxed,
        );
        // SAFETY: the caller's contract, passed on.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}
