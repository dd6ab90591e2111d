//! Allocation helpers: zeroed tables for the per-customer grids; freed memory given back.

/// `len` zeros, written rather than mapped from the kernel's zero page.
///
/// `vec![0.0; len]` asks the allocator for zeroed memory, which for large tables is fresh
/// pages that all map the shared zero page: the first `+=` into each page then faults twice
/// (read, then copy on write) and the copy flushes the TLB of every core. Tables filled by
/// scattered `+=` (a customer × period grid, visited in time order) spend more time in those
/// faults than in the additions; writing the zeros first costs one fault per page.
pub(crate) fn zeros<T: Copy + Default>(len: usize) -> Vec<T> {
    let mut values = Vec::with_capacity(len);
    // Opaque to the optimiser, which would otherwise turn the fill back into a zeroed
    // allocation.
    values.resize(len, std::hint::black_box(T::default()));
    values
}

/// Give the memory freed so far back to the system now, not after the allocator's purge delay:
/// mimalloc (the binary's allocator) keeps each thread's freed pages until that thread
/// collects them, so every thread of the pool collects, and a forced collection also purges
/// the freed ranges of the whole process. Called where a large structure has just been freed
/// in small pieces and large new columns come next, which cannot reuse those pieces.
///
/// Harmless under another global allocator (the library's tests): mimalloc's own heaps are
/// then empty.
pub(crate) fn release_freed() {
    // SAFETY: `mi_collect` only returns free memory; it may be called from any thread at any
    // time.
    rayon::broadcast(|_| unsafe { libmimalloc_sys::mi_collect(true) });
    unsafe { libmimalloc_sys::mi_collect(true) };
}
