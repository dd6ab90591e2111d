//! Allocation helpers for the large per-customer tables.

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
