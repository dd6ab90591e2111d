// mimalloc (the allocator polars recommends) serves large allocations from transparent huge
// pages and reuses freed ones: loading stores tens of millions of events in columns, and with
// the system allocator a quarter of the time went to page faults (BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc's `mi_option_purge_delay` (its `mimalloc.h`, v3): how long freed memory stays with
/// the process before it is returned to the system, in milliseconds.
const PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// 100 ms instead of mimalloc's 1 s: the columns freed while the events are merged go back to
/// the system before the peak (50M integer-id CSV events: 1.68 instead of 1.92 GiB), for no
/// measured time.
const PURGE_DELAY_MS: std::ffi::c_long = 100;

/// The allocator's settings, as defaults: `MIMALLOC_PURGE_DELAY` in the environment still
/// sets the purge delay. Call before any thread is started.
fn configure_allocator() {
    // SAFETY: sets one option value; no other thread runs yet.
    unsafe { libmimalloc_sys::mi_option_set_default(PURGE_DELAY, PURGE_DELAY_MS) };
}

fn main() -> std::process::ExitCode {
    configure_allocator();
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
        assert_eq!(unsafe { libmimalloc_sys::mi_option_get(PURGE_DELAY) }, 100);
    }
}
