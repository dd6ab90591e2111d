//! How often does a whole `nsm evaluate` run name a north star where there is none?
//!
//!     cargo build --release --locked
//!     cargo run --release --locked --example calibrate_runs -- [--datasets 200] [--seed 1] [--nsm target/release/nsm]
//!     cargo run --release --locked --example calibrate_runs -- --effect 0.3 --on metric --accounts 300 --months 48
//!
//! With `--effect E` the same companies are built with one planted truth: each account's use
//! moves (an AR(1) of its log, stationary SD 0.7, shared by all its events); `event_0` is then
//! the product's core task, about three a user-month, so that its count measures use (with
//! Poisson noise); the other events follow use too, at their own, often low, rates. The churn
//! hazard falls by E log-odds per SD of
//!
//! - `--on metric`: the account's core-task count three months earlier itself (its
//!   `log(1 + count)`, standardised among accounts in that month): the effect an analyst's
//!   logit of churn on the metric reports (`examples/support/planted_effect.py` fits it on
//!   datasets kept with `--keep`);
//! - `--on use` (the default): the latent use three months earlier, which the count measures
//!   with noise (the number of users and Poisson counts), so that about 0.7 of the effect
//!   reaches any metric.
//!
//! Power is how often a north star is recommended (any candidate counting use) and how often
//! the account line of candidates passes.
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
//!
//! With `--command discover` each dataset goes through `nsm discover --format json` instead,
//! and the tally reports how often the threshold search's family-wise p was at or below 0.05
//! and how often a threshold was confirmed on the held-out accounts:
//!
//!     cargo run --release --locked --example calibrate_runs -- --command discover --datasets 200 --seed 1

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
    /// Whether churn depends on the measured task count itself (`--on metric`) rather than on
    /// the latent use it measures with noise (`--on use`, the default).
    on_metric: bool,
    accounts: Option<usize>,
    months: Option<usize>,
    seed: u64,
    nsm: PathBuf,
    dir: PathBuf,
    /// Keep each dataset's CSV files (in `dir/run-<i>`) instead of removing them.
    keep: bool,
    /// `evaluate` (the default) or `discover`.
    command: String,
    extra: Vec<String>,
}

fn parse_args() -> Args {
    let mut args = Args {
        datasets: 200,
        effect: 0.0,
        on_metric: false,
        accounts: None,
        months: None,
        seed: 1,
        nsm: PathBuf::from("target/release/nsm"),
        dir: std::env::temp_dir().join("nsm-calibrate-runs"),
        keep: false,
        command: "evaluate".into(),
        extra: Vec::new(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        if flag == "--" {
            args.extra = it.by_ref().collect();
            break;
        }
        if flag == "--keep" {
            args.keep = true;
            continue;
        }
        let value = it.next().unwrap_or_else(|| panic!("{flag} needs a value"));
        match flag.as_str() {
            "--datasets" => args.datasets = value.parse().expect("a number"),
            "--effect" => args.effect = value.parse().expect("a number"),
            "--on" => {
                args.on_metric = match value.as_str() {
                    "metric" => true,
                    "use" => false,
                    other => panic!("--on takes metric or use, not {other}"),
                }
            }
            "--accounts" => args.accounts = Some(value.parse().expect("a number")),
            "--months" => args.months = Some(value.parse().expect("a number")),
            "--seed" => args.seed = value.parse().expect("a number"),
            "--nsm" => args.nsm = value.into(),
            "--dir" => args.dir = value.into(),
            "--command" => {
                assert!(
                    value == "evaluate" || value == "discover",
                    "--command takes evaluate or discover, not {value}"
                );
                args.command = value;
            }
            other => panic!(
                "unknown flag {other}; flags: --datasets N --seed N --effect E --on metric|use --accounts N --months N --command evaluate|discover --nsm PATH --dir DIR --keep [-- extra nsm flags]"
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
fn generate(
    seed: u64,
    accounts: usize,
    months: usize,
    kind: Steps,
    effect: f64,
    on_metric: bool,
) -> Dataset {
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
    // With the effect on the measured task count: each period's mean and SD of log(1 + an
    // account's count) over the stationary mix of accounts, so that the hazard moves by
    // `effect` per SD of the metric itself (drawn apart, so the datasets of `--on use` stay).
    let task_scale: Vec<(f64, f64)> = if effect > 0.0 && on_metric {
        let mut pilot = ChaCha8Rng::seed_from_u64(seed ^ 0x5eed_7a5c);
        (0..months)
            .map(|t| {
                let draws: Vec<f64> = (0..4000)
                    .map(|_| {
                        let users = 1 + poisson(&mut pilot, 1.5).min(5);
                        let level = (0.7 * normal(&mut pilot) + walks[0][t]).exp();
                        f64::from(poisson(&mut pilot, f64::from(users) * base[0] * level)).ln_1p()
                    })
                    .collect();
                let mean = draws.iter().sum::<f64>() / draws.len() as f64;
                let var = draws.iter().map(|d| (d - mean).powi(2)).sum::<f64>()
                    / (draws.len() - 1) as f64;
                (mean, var.sqrt().max(1e-9))
            })
            .collect()
    } else {
        Vec::new()
    };
    struct Account {
        users: u32,
        /// With the effect on the metric: each user's task count in each period from `start`.
        tasks: Vec<Vec<u32>>,
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
        let on_tasks = !task_scale.is_empty();
        let users = on_tasks.then(|| 1 + poisson(rng, 1.5).min(5));
        let mut tasks: Vec<Vec<u32>> = Vec::new();
        for (t, level) in shock.iter().enumerate().skip(start) {
            if let Some(users) = users {
                let rate = base[0] * log_use[t].exp() * walks[0][t].exp();
                tasks.push((0..users).map(|_| poisson(rng, rate)).collect());
            }
            let base = 0.02 * level.exp();
            let hazard = if effect > 0.0 {
                let lagged = t.saturating_sub(3).max(start);
                let usage = if on_tasks {
                    let count: u32 = tasks[lagged - start].iter().sum();
                    let (mean, sd) = task_scale[lagged];
                    (f64::from(count).ln_1p() - mean) / sd
                } else {
                    log_use[lagged] / 0.7
                };
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
            users: users.unwrap_or_else(|| 1 + poisson(rng, 1.5).min(5)),
            tasks,
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
                    let n = match account.tasks.get(t - account.start) {
                        Some(tasks) if e == 0 => tasks[u as usize],
                        _ => poisson(&mut rng, base[e] * account.use_level[t] * walk[t].exp()),
                    };
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
    /// `discover`: datasets whose search has a family-wise p, and those at or below 0.05.
    search_tested: usize,
    search_significant: usize,
}

fn evaluate(args: &Args, dir: &Path) -> Option<serde_json::Value> {
    let output = Command::new(&args.nsm)
        .args([
            args.command.as_str(),
            "--format",
            "json",
            "--quiet",
            "--events",
        ])
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
        let data = generate(seed, accounts, months, kind, args.effect, args.on_metric);
        let dir = args.dir.join(format!("run-{i}"));
        std::fs::create_dir_all(&dir).expect("a dataset directory");
        std::fs::write(dir.join("events.csv"), &data.events).expect("events written");
        std::fs::write(dir.join("revenue.csv"), &data.revenue).expect("revenue written");
        let Some(json) = evaluate(&args, &dir) else {
            tally.failed_runs += 1;
            continue;
        };
        if !args.keep {
            let _ = std::fs::remove_dir_all(&dir);
        }
        tally.runs += 1;
        if args.command == "discover" {
            let t = &json["thresholds"];
            let significant = t["family_p"].as_f64().is_some_and(|p| p <= 0.05);
            tally.search_significant += usize::from(significant);
            tally.search_tested += usize::from(t["family_p"].is_number());
            if let Some(name) = t["found"].as_str() {
                tally.recommended += 1;
                eprintln!(
                    "dataset {i} ({accounts} accounts, {months} months, {kind:?} steps): confirmed {name}"
                );
            }
            continue;
        }
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
    let discover = args.command == "discover";
    let (stopped, what) = if discover {
        (
            "stopped with an input error, e.g. too few accounts for a horizon in both halves",
            "a threshold confirmed",
        )
    } else {
        ("failed to evaluate", "a north star recommended")
    };
    println!(
        "{} datasets (seed {}; {} {stopped}): {what} in {} ({:.3})",
        tally.runs,
        args.seed,
        tally.failed_runs,
        tally.recommended,
        rate(tally.recommended, tally.runs)
    );
    if discover {
        println!(
            "the search's family-wise p <= 0.05 in {} of {} datasets with a test ({:.3})",
            tally.search_significant,
            tally.search_tested,
            rate(tally.search_significant, tally.search_tested)
        );
        return;
    }
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
