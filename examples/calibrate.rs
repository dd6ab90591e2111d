//! Calibration of the lead test: how often does it pass series that have no lead at all?
//!
//!     cargo run --release --example calibrate -- --pairs 1000 [--seasonal]
//!
//! Scenario `random-walks`: pairs of independent geometric random walks (monthly log growth
//! N(0.01, 0.05²)). Scenario `shared-season`: each series is an independent geometric random
//! walk times the same 12-month seasonal pattern (±15%), so they share nothing but the
//! calendar. A calibrated test passes at most about alpha of them. Each pair has its own seed,
//! so the figures do not depend on the thread count.

use std::thread;

use nsm::stats::lead::{lead_test, LeadSettings, Seasons};
use nsm::stats::score::{lead_verdict, Verdict};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

struct Args {
    pairs: usize,
    months: usize,
    surrogates: usize,
    seed: u64,
    threads: usize,
    seasonal: bool,
}

fn parse_args() -> Args {
    let mut args = Args {
        pairs: 1000,
        months: 48,
        surrogates: 999,
        seed: 1,
        threads: thread::available_parallelism().map_or(1, |n| n.get()),
        seasonal: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        if flag == "--seasonal" {
            args.seasonal = true;
            continue;
        }
        let mut value = || -> usize {
            it.next()
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| panic!("{flag} needs a number"))
        };
        match flag.as_str() {
            "--pairs" => args.pairs = value(),
            "--months" => args.months = value(),
            "--surrogates" => args.surrogates = value(),
            "--seed" => args.seed = value() as u64,
            "--threads" => args.threads = value().max(1),
            other => panic!(
                "unknown flag {other}; flags: --pairs --months --surrogates --seed --threads --seasonal"
            ),
        }
    }
    args
}

fn normal(rng: &mut ChaCha8Rng) -> f64 {
    let u: f64 = 1.0 - rng.random::<f64>();
    let v: f64 = rng.random::<f64>();
    (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
}

fn random_walk(rng: &mut ChaCha8Rng, months: usize) -> Vec<f64> {
    let mut level: f64 = 100.0;
    (0..months)
        .map(|_| {
            level *= (0.01 + 0.05 * normal(rng)).exp();
            level
        })
        .collect()
}

fn seasonal(months: usize) -> Vec<f64> {
    (0..months)
        .map(|t| (0.15 * (std::f64::consts::TAU * t as f64 / 12.0).sin()).exp())
        .collect()
}

/// Share of pairs whose lead test passes.
fn false_pass_rate(args: &Args, scenario: &str) -> (usize, usize) {
    let settings = LeadSettings {
        lag_min: 3,
        lag_max: 12,
        alpha: 0.05,
        surrogates: args.surrogates,
        seed: 0,
        seasons: args.seasonal.then_some(Seasons {
            period: 12,
            first: 0,
        }),
        recent: 24,
    };
    let season = seasonal(args.months);
    let passes: usize = thread::scope(|scope| {
        let workers: Vec<_> = (0..args.threads)
            .map(|w| {
                let season = &season;
                scope.spawn(move || {
                    let mut passed = 0;
                    for pair in (w..args.pairs).step_by(args.threads) {
                        let mut rng = ChaCha8Rng::seed_from_u64(
                            args.seed.wrapping_mul(1_000_003) + pair as u64,
                        );
                        let mut metric = random_walk(&mut rng, args.months);
                        let mut revenue = random_walk(&mut rng, args.months);
                        if scenario == "shared-season" {
                            for (t, s) in season.iter().enumerate() {
                                metric[t] *= s;
                                revenue[t] *= s;
                            }
                        }
                        let mut s = settings;
                        s.seed = pair as u64;
                        let outcome = lead_test(&metric, &revenue, &s);
                        if lead_verdict(&outcome, &s).0 == Verdict::Pass {
                            passed += 1;
                        }
                    }
                    passed
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().expect("worker")).sum()
    });
    (passes, args.pairs)
}

fn main() {
    let args = parse_args();
    println!(
        "lead test calibration: {} pairs of {} months, {} surrogates, alpha 0.05, lags 3..12, seasonal adjustment {}, seed {}",
        args.pairs,
        args.months,
        args.surrogates,
        if args.seasonal { "on" } else { "off" },
        args.seed
    );
    for scenario in ["random-walks", "shared-season"] {
        let start = std::time::Instant::now();
        let (passed, pairs) = false_pass_rate(&args, scenario);
        println!(
            "{scenario:>14}: {passed} of {pairs} passed, false pass rate {:.3} ({:.1} s)",
            passed as f64 / pairs as f64,
            start.elapsed().as_secs_f64()
        );
    }
}
