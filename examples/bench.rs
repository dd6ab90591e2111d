//! The performance benchmark: nsm against DuckDB and polars (Python) on the same seeded events.
//!
//! ```sh
//! cargo build --release --locked
//! cargo run --release --locked --example bench -- --rows 10000000
//! ```
//!
//! Generates (once per size and seed, under `target/bench/`) an events file as CSV and as
//! Parquet, per-customer revenue and a 12-candidate `nsm.toml`; then, for each format, runs
//! `nsm evaluate`, DuckDB (the SQL of `nsm sql --dialect duckdb` over the file) and one lazy
//! polars plan computing the same series, each `--runs N` times (default 3, the engines taking
//! turns), checks that all three give the same series (counts exact, sums within 1e-9), and
//! prints the median wall time and its range, peak RSS and peak anonymous memory (RssAnon: the
//! file mappings of a CSV scan are page cache, not allocations) of each, with the ratios.
//!
//! Needs `python3` with the `duckdb` and `polars` packages (`--python PATH`, default
//! `.venv/bin/python`), and Linux (memory is read from /proc). Not part of the test suite.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use polars::prelude::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const USERS: u64 = 200_000;
const USERS_PER_ACCOUNT: u64 = 4;
const MONTHS: u32 = 36;
const EVENTS: [&str; 12] = [
    "meeting_booked",
    "page_viewed",
    "signed_up",
    "report_exported",
    "settings_changed",
    "file_uploaded",
    "comment_added",
    "invite_sent",
    "search_run",
    "dashboard_viewed",
    "export_scheduled",
    "integration_added",
];

const CONFIG: &str = r#"# The 12 candidates of the benchmark.
[[candidate]]
name = "events"
kind = "event_count"

[[candidate]]
name = "meetings"
kind = "event_count"
event = "meeting_booked"

[[candidate]]
name = "page_views"
kind = "event_count"
event = "page_viewed"

[[candidate]]
name = "signups"
kind = "event_count"
event = "signed_up"

[[candidate]]
name = "active_users"
kind = "active_entities"
entity = "user"

[[candidate]]
name = "active_accounts"
kind = "active_entities"
entity = "account"

[[candidate]]
name = "meeting_minutes"
kind = "value_sum"
event = "meeting_booked"

[[candidate]]
name = "value_total"
kind = "value_sum"

[[candidate]]
name = "new_users"
kind = "new_entities"
entity = "user"

[[candidate]]
name = "registered_users"
kind = "cumulative_entities"
entity = "user"

[[candidate]]
name = "accounts_5plus_meetings"
kind = "threshold_entities"
entity = "account"
event = "meeting_booked"
window = "week"
min_count = 5
rollup = "mean"

[[candidate]]
name = "weekly_active_users"
kind = "active_entities"
entity = "user"
window = "week"
rollup = "mean"
"#;

struct Args {
    rows: u64,
    seed: u64,
    dir: PathBuf,
    python: PathBuf,
    formats: Vec<String>,
    /// Stop a run whose peak RSS passes this (the machine must survive the largest sizes).
    max_rss_gib: f64,
    /// Runs of each engine; the median wall time is reported.
    runs: usize,
}

fn parse_args() -> Result<Args> {
    let mut args = Args {
        rows: 1_000_000,
        seed: 1,
        dir: PathBuf::from("target/bench"),
        python: PathBuf::from(".venv/bin/python"),
        formats: vec!["csv".into(), "parquet".into()],
        max_rss_gib: 16.0,
        runs: 3,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().context(format!("{flag} needs a value"));
        match flag.as_str() {
            "--rows" => args.rows = value()?.replace('_', "").parse()?,
            "--seed" => args.seed = value()?.parse()?,
            "--dir" => args.dir = value()?.into(),
            "--python" => args.python = value()?.into(),
            "--format" => args.formats = vec![value()?],
            "--max-rss-gib" => args.max_rss_gib = value()?.parse()?,
            "--runs" => args.runs = value()?.parse::<usize>()?.max(1),
            _ => bail!(
                "usage: bench [--rows N] [--seed N] [--dir DIR] [--python PATH] [--format csv|parquet] [--max-rss-gib G] [--runs N]"
            ),
        }
    }
    Ok(args)
}

/// Seeded events, sorted by time: uniform users (four per account), twelve event names, a
/// value on about 54% of rows.
fn generate(args: &Args, dir: &Path) -> Result<()> {
    let done = dir.join("complete");
    if done.exists() {
        return Ok(());
    }
    std::fs::create_dir_all(dir)?;
    let mut rng = ChaCha8Rng::seed_from_u64(args.seed);
    let start = nsm::period::day_of_date(chrono::NaiveDate::from_ymd_opt(2022, 1, 1).unwrap());
    let span = i64::from(MONTHS) * 30 * 86_400;
    let mut seconds: Vec<u32> = (0..args.rows)
        .map(|_| rng.random_range(0..span) as u32)
        .collect();
    seconds.sort_unstable();
    let mut csv = BufWriter::with_capacity(1 << 20, File::create(dir.join("events.csv"))?);
    writeln!(csv, "timestamp,user_id,account_id,event,value")?;
    let chunk = 5_000_000usize;
    let mut writer = None;
    for block in seconds.chunks(chunk) {
        let mut ts = Vec::with_capacity(block.len());
        let mut users = Vec::with_capacity(block.len());
        let mut accounts = Vec::with_capacity(block.len());
        let mut events = Vec::with_capacity(block.len());
        let mut values = Vec::with_capacity(block.len());
        for &s in block {
            let user = rng.random_range(0..USERS);
            let event = EVENTS[rng.random_range(0..EVENTS.len())];
            let value = (rng.random::<f64>() < 0.54)
                .then(|| (rng.random::<f64>() * 10_000.0).round() / 100.0);
            let epoch = i64::from(start) * 86_400 + i64::from(s);
            let time = chrono::DateTime::from_timestamp(epoch, 0).unwrap();
            let user_id = format!("u{user}");
            let account_id = format!("a{}", user / USERS_PER_ACCOUNT);
            match value {
                Some(v) => writeln!(
                    csv,
                    "{},{user_id},{account_id},{event},{v}",
                    time.format("%Y-%m-%dT%H:%M:%SZ")
                )?,
                None => writeln!(
                    csv,
                    "{},{user_id},{account_id},{event},",
                    time.format("%Y-%m-%dT%H:%M:%SZ")
                )?,
            }
            ts.push(epoch * 1000);
            users.push(user_id);
            accounts.push(account_id);
            events.push(event);
            values.push(value);
        }
        let ts = Series::new("timestamp".into(), ts).cast(&DataType::Datetime(
            TimeUnit::Milliseconds,
            Some(TimeZone::UTC),
        ))?;
        let frame = DataFrame::new_infer_height(vec![
            ts.into(),
            Column::new("user_id".into(), users),
            Column::new("account_id".into(), accounts),
            Column::new("event".into(), events),
            Column::new("value".into(), values),
        ])?;
        let batched = match &mut writer {
            Some(w) => w,
            None => writer.insert(
                ParquetWriter::new(File::create(dir.join("events.parquet"))?)
                    .batched(frame.schema())?,
            ),
        };
        batched.write_batch(&frame)?;
    }
    if let Some(w) = writer {
        w.finish()?;
    }
    csv.flush()?;
    // Every tenth account pays 100-160 a month from a random month for 3-40 months.
    let mut revenue = BufWriter::new(File::create(dir.join("revenue.csv"))?);
    writeln!(revenue, "date,customer_id,amount")?;
    for account in (0..USERS / USERS_PER_ACCOUNT).step_by(10) {
        let first = rng.random_range(0..MONTHS - 6);
        let last = (first + rng.random_range(3..40)).min(MONTHS);
        for m in first..last {
            writeln!(
                revenue,
                "{:04}-{:02}-05,a{account},{}",
                2022 + m / 12,
                m % 12 + 1,
                100 + account % 7 * 10
            )?;
        }
    }
    revenue.flush()?;
    std::fs::write(dir.join("nsm.toml"), CONFIG)?;
    File::create(done)?;
    Ok(())
}

struct Measure {
    wall: f64,
    peak_rss: u64,
    peak_anon: u64,
    /// Stopped for passing the memory limit.
    stopped: bool,
}

fn status_kib(pid: u32, field: &str) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = text.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Run a command, sampling its memory every 10 ms until it exits (or passes `max_rss` bytes,
/// when it is stopped).
fn measure(command: &mut Command, stdout: Option<&Path>, max_rss: u64) -> Result<Measure> {
    let started = Instant::now();
    let out = match stdout {
        Some(path) => Stdio::from(File::create(path)?),
        None => Stdio::null(),
    };
    let mut child = command.stdout(out).stderr(Stdio::inherit()).spawn()?;
    let pid = child.id();
    let (mut peak_rss, mut peak_anon) = (0, 0);
    let mut stopped = false;
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        peak_rss = peak_rss.max(status_kib(pid, "VmHWM:").unwrap_or(0));
        peak_anon = peak_anon.max(status_kib(pid, "RssAnon:").unwrap_or(0));
        if peak_rss * 1024 > max_rss && !stopped {
            stopped = true;
            child.kill()?;
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    if !status.success() && !stopped {
        bail!("{command:?} failed: {status}");
    }
    Ok(Measure {
        wall: started.elapsed().as_secs_f64(),
        peak_rss: peak_rss * 1024,
        peak_anon: peak_anon * 1024,
        stopped,
    })
}

/// The runs of one engine: median wall time, its range, and the largest peaks.
struct Summary {
    wall: f64,
    fastest: f64,
    slowest: f64,
    peak_rss: u64,
    peak_anon: u64,
    stopped: bool,
}

impl Summary {
    fn of(runs: &[Measure]) -> Summary {
        let mut walls: Vec<f64> = runs.iter().map(|m| m.wall).collect();
        walls.sort_by(f64::total_cmp);
        let n = walls.len();
        let median = if n % 2 == 1 {
            walls[n / 2]
        } else {
            (walls[n / 2 - 1] + walls[n / 2]) / 2.0
        };
        Summary {
            wall: median,
            fastest: walls[0],
            slowest: walls[n - 1],
            peak_rss: runs.iter().map(|m| m.peak_rss).max().unwrap_or(0),
            peak_anon: runs.iter().map(|m| m.peak_anon).max().unwrap_or(0),
            stopped: runs.iter().any(|m| m.stopped),
        }
    }
}

fn gib(bytes: u64) -> String {
    format!("{:.2} GiB", bytes as f64 / (1u64 << 30) as f64)
}

fn main() -> Result<()> {
    let args = parse_args()?;
    let nsm = PathBuf::from("target/release/nsm");
    if !nsm.exists() {
        bail!("build nsm first: cargo build --release --locked");
    }
    let dir = args
        .dir
        .join(format!("rows-{}-seed-{}", args.rows, args.seed));
    eprintln!("bench: data in {}", dir.display());
    generate(&args, &dir)?;
    let scripts = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/bench");
    let compare = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/warehouse/compare.py");
    let sql = dir.join("series.sql");
    let written = Command::new(&nsm)
        .args([
            "sql",
            "--dialect",
            "duckdb",
            "--table",
            "events",
            "--config",
        ])
        .arg(dir.join("nsm.toml"))
        .arg("--output")
        .arg(&sql)
        .status()?;
    if !written.success() {
        bail!("nsm sql failed");
    }
    println!(
        "| rows | format | engine | wall (s), median of {} | wall range (s) | peak RSS | peak RssAnon | nsm / engine (wall) |",
        args.runs
    );
    println!("|---|---|---|---|---|---|---|---|");
    let max_rss = (args.max_rss_gib * (1u64 << 30) as f64) as u64;
    for format in &args.formats {
        let events = dir.join(format!("events.{format}"));
        let nsm_json = dir.join(format!("nsm-{format}.json"));
        let engines = [
            ("nsm", None),
            ("DuckDB", Some("duckdb_series.py")),
            ("polars", Some("polars_series.py")),
        ];
        // The engines take turns, run after run, so that a slow spell of the machine does not
        // fall on one engine only.
        let mut runs: Vec<Vec<Measure>> = engines.iter().map(|_| Vec::new()).collect();
        for _ in 0..args.runs {
            for ((engine, script), measured) in engines.iter().zip(runs.iter_mut()) {
                let m = match script {
                    None => measure(
                        Command::new(&nsm)
                            .args(["evaluate", "--quiet", "--format", "json", "--events"])
                            .arg(&events)
                            .arg("--revenue")
                            .arg(dir.join("revenue.csv"))
                            .arg("--config")
                            .arg(dir.join("nsm.toml")),
                        Some(&nsm_json),
                        max_rss,
                    )?,
                    Some(script) => measure(
                        Command::new(&args.python)
                            .arg(scripts.join(script))
                            .arg(&events)
                            .arg(&sql)
                            .arg(dir.join(format!("{engine}-{format}.csv"))),
                        None,
                        max_rss,
                    )?,
                };
                measured.push(m);
            }
        }
        let summary: Vec<Summary> = runs.iter().map(|r| Summary::of(r)).collect();
        let nsm_stopped = summary[0].stopped;
        for ((engine, script), m) in engines.iter().zip(&summary) {
            if m.stopped {
                println!(
                    "| {} | {format} | {engine} | stopped at the {:.0} GiB limit | | {} | {} | |",
                    args.rows,
                    args.max_rss_gib,
                    gib(m.peak_rss),
                    gib(m.peak_anon)
                );
                continue;
            }
            if script.is_some() && !nsm_stopped {
                let out = dir.join(format!("{engine}-{format}.csv"));
                let same = Command::new(&args.python)
                    .arg(&compare)
                    .arg(&out)
                    .arg(&nsm_json)
                    .stdout(Stdio::null())
                    .status()?;
                if !same.success() {
                    bail!("{engine} and nsm disagree on {}", out.display());
                }
            }
            let ratio = if script.is_none() || nsm_stopped {
                String::new()
            } else {
                format!("{:.2}", summary[0].wall / m.wall)
            };
            println!(
                "| {} | {format} | {engine} | {:.2} | {:.2}–{:.2} | {} | {} | {ratio} |",
                args.rows,
                m.wall,
                m.fastest,
                m.slowest,
                gib(m.peak_rss),
                gib(m.peak_anon)
            );
        }
    }
    println!("\nEvery engine's series that finished equal nsm's (counts exact, sums within 1e-9).");
    Ok(())
}
