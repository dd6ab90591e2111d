// mimalloc (the allocator polars recommends) reuses freed memory: loading stores tens of
// millions of events in columns, and with the system allocator a quarter of the time went to
// page faults (BENCHMARKS.md). Freed memory stays with the process for mimalloc's default 1 s
// (`MIMALLOC_PURGE_DELAY`): a Parquet row group's decoded columns are freed a little over
// 100 ms before the next one's are allocated, and a shorter delay made each come from fresh
// pages. The peak is kept down by giving memory back where large structures are freed
// (`nsm`'s `memory::release_freed`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// No transparent huge pages for this process: each first touch of a huge page has the kernel
/// zero 2 MiB, and on the measured machine (a virtual machine, whose fresh memory is slow to
/// touch) a 10M-event Parquet run spent a median 0.85 s of system time with them against
/// 0.54 s without, and 16% more wall time (medians of eight paired runs; BENCHMARKS.md).
/// mimalloc's own switch (`MIMALLOC_ALLOW_THP=0`) is read before `main` runs, so the process
/// asks the kernel itself.
fn no_huge_pages() {
    // SAFETY: a prctl with integer arguments; on failure (an old kernel) nothing changes.
    unsafe { libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0) };
}

fn main() -> std::process::ExitCode {
    no_huge_pages();
    nsm::cmd::main().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn huge_pages_are_turned_off_for_the_process() {
        no_huge_pages();
        // SAFETY: reads the process's flag.
        assert_eq!(
            unsafe { libc::prctl(libc::PR_GET_THP_DISABLE, 0, 0, 0, 0) },
            1
        );
    }
}
