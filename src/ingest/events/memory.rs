//! Whether the events will fit: nsm keeps every event in memory and does not spill to disk, so
//! before reading an export that the machine cannot hold it says so, and names the route that
//! needs no memory here (the warehouse aggregates, nsm reads the series).

use std::io::Read;
use std::path::Path;

use super::plan::FilePlan;
use crate::ingest::source::FileFormat;

/// Bytes held per event while reading: 18 stored (day 4, member 4, event code 2, value 8) and
/// an 8-byte fingerprint of the row for counting duplicates, freed once they are counted.
pub(super) const BYTES_PER_EVENT: u64 = 26;

/// What a run needs besides the events (the program, the scan's batches in flight, the id
/// tables of a large export), in bytes.
const OVERHEAD: u64 = 512 << 20;

/// The rows `plans` will read, as far as can be told before reading them: Parquet's metadata
/// counts them; a plain CSV file's are its size over the mean length of its first lines;
/// gzip files are not counted (a lower bound, then).
pub(super) fn expected_rows(plans: &[FilePlan]) -> u64 {
    plans
        .iter()
        .map(|plan| match (&plan.rows, &plan.csv) {
            (Some(rows), _) => *rows as u64,
            (None, Some(file)) if file.format == FileFormat::Csv => csv_rows(&file.path),
            _ => 0,
        })
        .sum()
}

/// About how many lines a CSV file has: its size times the lines per byte of its first MiB.
fn csv_rows(path: &Path) -> u64 {
    let (Ok(file), Ok(meta)) = (std::fs::File::open(path), std::fs::metadata(path)) else {
        return 0;
    };
    let mut head = Vec::with_capacity(1 << 20);
    if file.take(1 << 20).read_to_end(&mut head).is_err() || head.is_empty() {
        return 0;
    }
    let lines = memchr::memchr_iter(b'\n', &head).count() as u64;
    if head.len() as u64 >= meta.len() {
        return lines;
    }
    (meta.len() as f64 * lines as f64 / head.len() as f64) as u64
}

/// The memory this process may still use, in bytes: the kernel's estimate of what is available
/// without swapping, or less when the process's control group has a lower limit. `None` where
/// neither can be read (not Linux).
pub(super) fn available() -> Option<u64> {
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok()?;
    let available = meminfo
        .lines()
        .find_map(|line| line.strip_prefix("MemAvailable:"))
        .and_then(|rest| {
            rest.trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<u64>()
                .ok()
        })?
        * 1024;
    Some(available.min(group_headroom().unwrap_or(u64::MAX)))
}

/// What the process's control group still allows (its limit less its use), from cgroup v2
/// (`memory.max`) or v1 (`memory.limit_in_bytes`); `None` without a limit that can be read.
fn group_headroom() -> Option<u64> {
    let number = |path: &Path| {
        std::fs::read_to_string(path)
            .ok()
            .and_then(|text| text.trim().parse::<u64>().ok())
    };
    let groups = std::fs::read_to_string("/proc/self/cgroup").ok()?;
    groups
        .lines()
        .filter_map(|line| {
            let mut parts = line.splitn(3, ':');
            let (_, controllers, path) = (parts.next()?, parts.next()?, parts.next()?);
            let path = path.trim().trim_start_matches('/');
            let (dir, max, current) = if controllers.is_empty() {
                (
                    Path::new("/sys/fs/cgroup").join(path),
                    "memory.max",
                    "memory.current",
                )
            } else if controllers.split(',').any(|c| c == "memory") {
                let dir = Path::new("/sys/fs/cgroup/memory").join(path);
                (dir, "memory.limit_in_bytes", "memory.usage_in_bytes")
            } else {
                return None;
            };
            Some(number(&dir.join(max))?.saturating_sub(number(&dir.join(current))?))
        })
        .min()
}

/// The warning for `rows` events when `available` bytes are left, if they would not fit.
pub(super) fn warning(rows: u64, available: u64) -> Option<String> {
    let need = rows
        .saturating_mul(BYTES_PER_EVENT)
        .saturating_add(OVERHEAD);
    if need <= available {
        return None;
    }
    let gib = |bytes: u64| bytes as f64 / (1u64 << 30) as f64;
    Some(format!(
        "the events hold about {rows} rows: reading them needs about {:.1} GiB of memory and \
         {:.1} GiB is available (nsm keeps {BYTES_PER_EVENT} bytes per event while reading and \
         does not spill to disk). If the run is stopped for memory, let the warehouse aggregate: \
         `nsm sql` writes the query, `nsm evaluate --series` reads its result (README, \
         \"Running on your warehouse\")",
        gib(need),
        gib(available),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_warning_only_when_the_events_would_not_fit() {
        let gib = 1u64 << 30;
        // 50M events: 1.2 GiB of events and the overhead.
        assert_eq!(warning(50_000_000, 4 * gib), None);
        let text = warning(500_000_000, 8 * gib).expect("500M events do not fit in 8 GiB");
        assert!(text.contains("about 500000000 rows"), "{text}");
        assert!(
            text.contains("12.6 GiB of memory and 8.0 GiB is available"),
            "{text}"
        );
        assert!(text.contains("nsm sql"), "{text}");
        // The overhead alone.
        assert!(warning(0, 256 << 20).is_some());
    }

    #[test]
    fn a_csv_file_s_rows_are_estimated_from_its_first_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("events.csv");
        let line = "2024-01-01T00:00:00Z,12345,678,page_viewed,1.5\n";
        // 3 MiB of equal lines: the first MiB's lines per byte hold for the whole file.
        let lines = 3 * (1 << 20) / line.len();
        std::fs::write(&path, line.repeat(lines)).unwrap();
        let estimate = csv_rows(&path);
        assert!(
            estimate.abs_diff(lines as u64) <= 1,
            "{estimate} vs {lines}"
        );
        // A small file is counted whole; an empty or missing one is not counted.
        std::fs::write(&path, line.repeat(10)).unwrap();
        assert_eq!(csv_rows(&path), 10);
        std::fs::write(&path, "").unwrap();
        assert_eq!(csv_rows(&path), 0);
        assert_eq!(csv_rows(&dir.path().join("missing.csv")), 0);
    }

    #[test]
    fn the_memory_available_is_known_on_linux() {
        if cfg!(target_os = "linux") {
            let bytes = available().expect("/proc/meminfo");
            assert!(bytes > 0);
        }
    }
}
