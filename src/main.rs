// mimalloc (the allocator polars recommends) serves large allocations from transparent huge
// pages and reuses freed ones: loading stores tens of millions of events in columns, and with
// the system allocator a quarter of the time went to page faults (BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc's `mi_option_purge_delay` (its `mimalloc.h`, v3): how long freed memory stays with
/// the process before it is returned to the system, in milliseconds.
const PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// 1 s, mimalloc's own default (was 100 ms): a Parquet row group's decoded columns are freed a
/// little more than 100 ms before the next one's are allocated, and with the shorter delay each
/// row group came from fresh pages. The peak is kept down where it matters by giving freed
/// memory back explicitly (after the duplicate count, before the merge of the events).
const PURGE_DELAY_MS: std::ffi::c_long = 1000;

/// The allocator's settings, as defaults: `MIMALLOC_PURGE_DELAY` in the environment still sets
/// the purge delay. Call before any thread is started.
fn configure_allocator() {
    // SAFETY: sets one option value; no other thread runs yet.
    unsafe { libmimalloc_sys::mi_option_set_default(PURGE_DELAY, PURGE_DELAY_MS) };
}

/// No transparent huge pages for this process: each first touch of a huge page has the kernel
/// zero 2 MiB, and on the measured machine (a virtual machine, whose fresh memory is slow to
/// touch) a 10M-event Parquet run spent a median 0.85 s of system time with them against
/// 0.54 s without, for 8 % more wall time (BENCHMARKS.md). mimalloc's own switch
/// (`MIMALLOC_ALLOW_THP=0`) is read before `main` runs, so the process asks the kernel itself.
fn no_huge_pages() {
    // SAFETY: a prctl with integer arguments; on failure (an old kernel) nothing changes.
    unsafe { libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0) };
}

fn main() -> std::process::ExitCode {
    configure_allocator();
    no_huge_pages();
    nsm::cmd::main().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_purge_delay_option_is_the_one_set() {
        // SAFETY: reads option values (fails when MIMALLOC_PURGE_DELAY is set in the test's
        // environment: the default is then not mimalloc's).
        let before = unsafe { libmimalloc_sys::mi_option_get(PURGE_DELAY) };
        // The option at this index has mimalloc's documented default for the purge delay.
        assert_eq!(before, 1000, "not mimalloc's purge delay");
        configure_allocator();
        assert_eq!(unsafe { libmimalloc_sys::mi_option_get(PURGE_DELAY) }, 1000);
    }
}
