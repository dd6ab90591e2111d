//! How often does a whole `nsm evaluate` run name a north star where there is none?
//!
//!     cargo build --release --locked
//!     cargo run --release --locked --example calibrate_runs -- [--datasets 200] [--seed 1] [--nsm target/release/nsm]
//!     cargo run --release --locked --example calibrate_runs -- --effect 0.3 --accounts 300 --months 48
//!
//! With `--effect E` the same companies are built with one planted truth: each account's use
//! moves (an AR(1) of its log, stationary SD 0.7, shared by all its events), and its churn
//! hazard falls by E log-odds per SD of its use three months earlier; `event_0` is then the
//! product's core task, about three a user-month, so that its count measures use (with Poisson
//! noise); the other events follow use too, at their own, often low, rates. Power is how often
//! a north star is recommended (any candidate counting use) and how often the account line of
//! candidates passes.
//!
//! Each dataset is a seeded B2B company in which revenue is independent of every event metric:
//! ten events whose rates are independent random walks (Gaussian, spiky or Student-t(2.5)
//! monthly steps, by dataset), accounts of one to six users each with its own level of use,
//! and revenue from a process of its own: each paying account's MRR walks on its own, accounts
//! arrive at a rate of their own and churn with a hazard that moves with a common shock, none
//! of which depends on use. Accounts use the product only while they pay (so the churn test
//! sees what a real product shows: usage stops when customers leave), but how much they use it
//! says nothing about whether they stay or what they pay. Datasets cycle through 100, 300 and
//! 1,000 starting accounts and 24, 36 and 48 months.
//!
//! Every dataset is written as CSV, evaluated with the automatic catalog (`nsm evaluate
//! --format json`, default settings), and the tally reports how often a north star was
//! recommended, how often each label was given, and how often candidates passed the lead test
//! alone and after the family-wise adjustment. Not part of the test suite; the figures are in
//! STATISTICS.md.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use rand::{Rng, SeedableRng};

#[path = "support/random.rs"]
mod random;
use rand_chacha::ChaCha8Rng;
use random::*;

struct Args {
    datasets: usize,
    /// Log-odds of churn per SD of an account's use three months earlier (0: the null).
    effect: f64,
    accounts: Option<usize>,
    months: Option<usize>,
    seed: u64,
    nsm: PathBuf,
    dir: PathBuf,
    extra: Vec<String>,
}

fn parse_args() -> Args {
    let mut args = Args {
        datasets: 200,
        effect: 0.0,
        accounts: None,
        months: None,
        seed: 1,
        nsm: PathBuf::from("target/release/nsm"),
        dir: std::env::temp_dir().join("nsm-calibrate-runs"),
        extra: Vec::new(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        if flag == "--" {
            args.extra = it.by_ref().collect();
            break;
        }
        let value = it.next().unwrap_or_else(|| panic!("{flag} needs a value"));
        match flag.as_str() {
            "--datasets" => args.datasets = value.parse().expect("a number"),
            "--effect" => args.effect = value.parse().expect("a number"),
            "--accounts" => args.accounts = Some(value.parse().expect("a number")),
            "--months" => args.months = Some(value.parse().expect("a number")),
            "--seed" => args.seed = value.parse().expect("a number"),
            "--nsm" => args.nsm = value.into(),
            "--dir" => args.dir = value.into(),
            other => panic!(
                "unknown flag {other}; flags: --datasets N --seed N --effect E --accounts N --months N --nsm PATH --dir DIR [-- extra nsm flags]"
            ),
        }
    }
    args
}

#[derive(Clone, Copy, Debug)]
enum Steps {
    Gaussian,
    Spiky,
    HeavyTailed,
}

/// One monthly log step of a rate, by kind (about 6% a month).
fn step(kind: Steps, rng: &mut ChaCha8Rng) -> f64 {
    match kind {
        Steps::Gaussian => 0.06 * normal(rng),
        Steps::Spiky => {
            let calm = 0.015 * normal(rng);
            if rng.random::<f64>() < 0.08 {
                let size = 0.15 + 0.25 * rng.random::<f64>();
                calm + if rng.random::<bool>() { size } else { -size }
            } else {
                calm
            }
        }
        Steps::HeavyTailed => 0.035 * normal(rng) / (2.0 * gamma(rng, 1.25) / 2.5).sqrt(),
    }
}

struct Dataset {
    events: String,
    revenue: String,
}

const EVENTS: usize = 10;

fn first_day(month: usize) -> chrono::NaiveDate {
    let (y, m) = (2021 + (month / 12) as i32, (month % 12) as u32 + 1);
    chrono::NaiveDate::from_ymd_opt(y, m, 1).expect("valid month")
}

fn days_in(month: usize) -> i64 {
    (first_day(month + 1) - first_day(month)).num_days()
}

/// One null company: revenue independent of every event metric.
fn generate(seed: u64, accounts: usize, months: usize, kind: Steps, effect: f64) -> Dataset {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    // Event rates per user-month: a base rate and an independent walk per event.
    let mut base: Vec<f64> = (0..EVENTS)
        .map(|_| (rng.random::<f64>() * 3.5 - 2.5).exp())
        .collect();
    if effect > 0.0 {
        // The work the product is for: about three tasks a user-month, which measure use.
        base[0] = 3.0;
    }
    let mut walks = vec![vec![0.0f64; months]; EVENTS];
    for walk in &mut walks {
        for t in 1..months {
            walk[t] = walk[t - 1] + step(kind, &mut rng);
        }
    }
    // Revenue's own processes: arrivals and a churn shock, neither related to use.
    let mut arrival = vec![0.0f64; months];
    let mut shock = vec![0.0f64; months];
    for t in 1..months {
        arrival[t] = arrival[t - 1] + step(kind, &mut rng);
        shock[t] = 0.6 * shock[t - 1] + 0.3 * normal(&mut rng);
    }
    struct Account {
        users: u32,
        /// Use per period (constant without a planted effect).
        use_level: Vec<f64>,
        start: usize,
        end: usize,
        mrr: Vec<f64>,
    }
    let mut all = Vec::new();
    let add = |start: usize, rng: &mut ChaCha8Rng, all: &mut Vec<Account>| {
        let mut mrr = 50.0 * (0.6 * normal(rng)).exp();
        let mut end = months;
        let mut path = Vec::new();
        // Log use: constant without a planted effect; with one, an AR(1) per account
        // (stationary SD 0.7) on which churn depends three months later.
        let mut log_use = vec![0.7 * normal(rng); months];
        if effect > 0.0 {
            for t in 1..months {
                log_use[t] = 0.7 * log_use[t - 1] + 0.7 * 0.714 * normal(rng);
            }
        }
        for (t, level) in shock.iter().enumerate().skip(start) {
            let base = 0.02 * level.exp();
            let hazard = if effect > 0.0 {
                let usage = log_use[t.saturating_sub(3).max(start)] / 0.7;
                let logit = (base / (1.0 - base)).ln() - effect * usage;
                1.0 / (1.0 + (-logit).exp())
            } else {
                base
            };
            if t > start && rng.random::<f64>() < hazard {
                end = t;
                break;
            }
            mrr *= (0.04 * normal(rng)).exp();
            path.push(mrr);
        }
        all.push(Account {
            users: 1 + poisson(rng, 1.5).min(5),
            use_level: log_use.iter().map(|l| l.exp()).collect(),
            start,
            end,
            mrr: path,
        });
    };
    for _ in 0..accounts {
        add(0, &mut rng, &mut all);
    }
    for (t, level) in arrival.iter().enumerate().skip(1) {
        let arrivals = poisson(&mut rng, 0.02 * accounts as f64 * level.exp());
        for _ in 0..arrivals {
            add(t, &mut rng, &mut all);
        }
    }
    let mut events = String::from("timestamp,user_id,account_id,event\n");
    let mut revenue = String::from("date,customer_id,amount\n");
    for (a, account) in all.iter().enumerate() {
        for t in account.start..account.end {
            let day0 = first_day(t);
            let _ = writeln!(
                revenue,
                "{},a{a},{:.2}",
                day0.format("%Y-%m-%d"),
                account.mrr[t - account.start]
            );
            for u in 0..account.users {
                for (e, walk) in walks.iter().enumerate() {
                    let n = poisson(&mut rng, base[e] * account.use_level[t] * walk[t].exp());
                    for _ in 0..n {
                        let day = rng.random_range(0..days_in(t));
                        let second: u32 = rng.random_range(0..86_400);
                        let date = day0 + chrono::Duration::days(day);
                        let _ = writeln!(
                            events,
                            "{}T{:02}:{:02}:{:02}Z,a{a}-u{u},a{a},event_{e}",
                            date.format("%Y-%m-%d"),
                            second / 3600,
                            second / 60 % 60,
                            second % 60
                        );
                    }
                }
            }
        }
    }
    Dataset { events, revenue }
}

#[derive(Default)]
struct Tally {
    runs: usize,
    recommended: usize,
    candidates: usize,
    lead_alone: usize,
    lead_family: usize,
    /// Account-level tests (one per outcome and horizon), and those whose raw p-value was at
    /// most 0.05.
    with_accounts: usize,
    expansion_tests: usize,
    retention_raw: usize,
    expansion_raw: usize,
    /// Candidates passing on each line after the family-wise adjustment, and datasets in which
    /// some candidate did.
    aggregate_adjusted: usize,
    accounts_adjusted: usize,
    runs_aggregate: usize,
    runs_accounts: usize,
    labels: std::collections::BTreeMap<String, usize>,
    failed_runs: usize,
}

fn evaluate(args: &Args, dir: &Path) -> Option<serde_json::Value> {
    let output = Command::new(&args.nsm)
        .args(["evaluate", "--format", "json", "--quiet", "--events"])
        .arg(dir.join("events.csv"))
        .arg("--revenue")
        .arg(dir.join("revenue.csv"))
        .args(&args.extra)
        .output()
        .expect("the nsm binary runs (build it with cargo build --release)");
    if !output.status.success() {
        eprintln!(
            "{}: {}",
            dir.display(),
            String::from_utf8_lossy(&output.stderr).trim()
        );
        return None;
    }
    serde_json::from_slice(&output.stdout).ok()
}

fn main() {
    let args = parse_args();
    std::fs::create_dir_all(&args.dir).expect("a working directory");
    let mut tally = Tally::default();
    let started = std::time::Instant::now();
    for i in 0..args.datasets {
        let accounts = args.accounts.unwrap_or([100, 300, 1000][i % 3]);
        let months = args.months.unwrap_or([24, 36, 48][(i / 3) % 3]);
        let kind = [Steps::Gaussian, Steps::Spiky, Steps::HeavyTailed][(i / 9) % 3];
        let seed = args.seed.wrapping_mul(1_000_003).wrapping_add(i as u64);
        let data = generate(seed, accounts, months, kind, args.effect);
        let dir = args.dir.join(format!("run-{i}"));
        std::fs::create_dir_all(&dir).expect("a dataset directory");
        std::fs::write(dir.join("events.csv"), &data.events).expect("events written");
        std::fs::write(dir.join("revenue.csv"), &data.revenue).expect("revenue written");
        let Some(json) = evaluate(&args, &dir) else {
            tally.failed_runs += 1;
            continue;
        };
        let _ = std::fs::remove_dir_all(&dir);
        tally.runs += 1;
        if let Some(name) = json["recommended"].as_str() {
            tally.recommended += 1;
            eprintln!(
                "dataset {i} ({accounts} accounts, {months} months, {kind:?} steps): recommended {name}"
            );
        }
        let (mut aggregate_run, mut accounts_run) = (false, false);
        for c in json["candidates"].as_array().into_iter().flatten() {
            if c["kind"] == "revenue" {
                continue;
            }
            let adjusted = |v: &serde_json::Value| v.as_f64().is_some_and(|p| p <= 0.05);
            let aggregate = adjusted(&c["lead"]["p_adjusted"]);
            let on_accounts = adjusted(&c["accounts"]["p_adjusted"]);
            tally.aggregate_adjusted += usize::from(aggregate);
            tally.accounts_adjusted += usize::from(on_accounts);
            aggregate_run |= aggregate;
            accounts_run |= on_accounts;
            tally.candidates += 1;
            let lead = &c["lead"];
            tally.lead_family += usize::from(lead["verdict"] == "pass");
            tally.lead_alone += usize::from(lead["verdict_alone"] == "pass");
            let accounts = &c["accounts"];
            for test in accounts["by_horizon"].as_array().into_iter().flatten() {
                let Some(p) = test["p_value"].as_f64() else {
                    continue;
                };
                let raw = usize::from(p <= 0.05);
                if test["outcome"] == "retention" {
                    tally.with_accounts += 1;
                    tally.retention_raw += raw;
                } else {
                    tally.expansion_tests += 1;
                    tally.expansion_raw += raw;
                }
            }
            for label in c["labels"].as_array().into_iter().flatten() {
                *tally
                    .labels
                    .entry(label.as_str().unwrap_or("?").to_string())
                    .or_default() += 1;
            }
        }
        tally.runs_aggregate += usize::from(aggregate_run);
        tally.runs_accounts += usize::from(accounts_run);
        if (i + 1) % 20 == 0 {
            eprintln!(
                "{} datasets, {} recommended, {:.0} s",
                i + 1,
                tally.recommended,
                started.elapsed().as_secs_f64()
            );
        }
    }
    let rate = |n: usize, of: usize| n as f64 / of.max(1) as f64;
    println!(
        "{} datasets (seed {}; {} failed to evaluate): a north star recommended in {} ({:.3})",
        tally.runs,
        args.seed,
        tally.failed_runs,
        tally.recommended,
        rate(tally.recommended, tally.runs)
    );
    println!(
        "{} candidates (planted effect {}): lead test passed alone {:.3}, after the family-wise adjustment {:.3}",
        tally.candidates,
        args.effect,
        rate(tally.lead_alone, tally.candidates),
        rate(tally.lead_family, tally.candidates)
    );
    println!(
        "account-level tests with raw p <= 0.05: retention {:.3} of {}, expansion {:.3} of {}",
        rate(tally.retention_raw, tally.with_accounts),
        tally.with_accounts,
        rate(tally.expansion_raw, tally.expansion_tests),
        tally.expansion_tests
    );
    println!(
        "after the family-wise adjustment: the aggregate line passes {:.3} of candidates (in {:.3} of datasets), the account line {:.3} (in {:.3} of datasets)",
        rate(tally.aggregate_adjusted, tally.candidates),
        rate(tally.runs_aggregate, tally.runs),
        rate(tally.accounts_adjusted, tally.candidates),
        rate(tally.runs_accounts, tally.runs)
    );
    for (label, n) in &tally.labels {
        println!(
            "  label {label:<12} on {:.3} of candidates",
            rate(*n, tally.candidates)
        );
    }
}
