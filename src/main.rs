// mimalloc (the allocator polars recommends) serves large allocations from transparent huge
// pages and reuses freed ones: loading stores tens of millions of events in columns, and with
// the system allocator a quarter of the time went to page faults (BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc's `mi_option_purge_delay` (its `mimalloc.h`, v3): how long freed memory stays with
/// the process before it is returned to the system, in milliseconds.
const PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// 100 ms instead of mimalloc's 1 s: the columns freed while the events are merged go back to
/// the system before the peak (50M events: 1.72 instead of 1.96 GiB), for no measured time.
const PURGE_DELAY_MS: std::ffi::c_long = 100;

fn main() -> std::process::ExitCode {
    // A default only: MIMALLOC_PURGE_DELAY in the environment still sets it.
    // SAFETY: sets one option value, before any thread is started.
    unsafe { libmimalloc_sys::mi_option_set_default(PURGE_DELAY, PURGE_DELAY_MS) };
    nsm::cmd::main().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_purge_delay_option_is_the_one_set() {
        // SAFETY: reads and sets option values; the test's only thread that does.
        let before = unsafe { libmimalloc_sys::mi_option_get(PURGE_DELAY) };
        // The option at this index has mimalloc's documented default for the purge delay.
        assert_eq!(before, 1000, "not mimalloc's purge delay");
        unsafe { libmimalloc_sys::mi_option_set_default(PURGE_DELAY, PURGE_DELAY_MS) };
        assert_eq!(unsafe { libmimalloc_sys::mi_option_get(PURGE_DELAY) }, 100);
    }
}
