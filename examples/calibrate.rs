//! Size and power of the lead test and of the churn divergence test, by simulation.
//!
//!     cargo run --release --example calibrate -- pairs [--pairs 1000] [--seed 1] [--seasonal]
//!     cargo run --release --example calibrate -- family [--trials 200] [--nulls 30] [--seed 1]
//!     cargo run --release --example calibrate -- divergence [--trials 2000] [--seed 1]
//!
//! `pairs`: the false pass rate of one candidate tested alone (its raw p) on pairs of unrelated
//! series, for five kinds of growth: Gaussian random walks; spiky growth (calm months and rare
//! ±15–40% jumps, as when a big customer lands or leaves); Student-t(2.5) growth; volatility
//! falling as the company grows; independent walks sharing a 12-month season.
//!
//! `family`: a run of `--nulls` unrelated candidates plus one that revenue follows six months
//! later, tested as nsm tests a run (one shared null, step-down minP adjustment): how often the
//! planted lead passes and is the best passing candidate (power), how often any unrelated one
//! passes after adjustment (the family-wise false positive rate), and how often a metric that
//! follows revenue by three months passes. Each trial draws its own series.
//!
//! `divergence`: the churn divergence test on a metric unrelated to churn that rises in about
//! 75% of months (how often it fails: its size), and on signups pushed up through a churn wave
//! (how often they fail: its power).
//!
//! Every trial has its own seed, so the figures do not depend on the thread count. Not part
//! of the test suite; the figures are in STATISTICS.md.

use std::thread;

use nsm::stats::evidence::test_all;
use nsm::stats::lead::{lead_test, LeadOutcome, LeadSettings, Seasons};
use nsm::stats::score::{lead_verdict, Basis, Verdict};
use rand::{Rng, SeedableRng};

#[path = "support/random.rs"]
mod random;
use rand_chacha::ChaCha8Rng;
use random::*;

struct Args {
    mode: String,
    trials: usize,
    months: usize,
    nulls: usize,
    surrogates: usize,
    seed: u64,
    threads: usize,
    seasonal: bool,
    signal: f64,
}

fn parse_args() -> Args {
    let mut it = std::env::args().skip(1);
    let mode = it.next().unwrap_or_else(|| "pairs".into());
    let mut args = Args {
        mode,
        trials: 0,
        months: 48,
        nulls: 30,
        surrogates: 0,
        seed: 1,
        threads: thread::available_parallelism().map_or(1, |n| n.get()),
        seasonal: false,
        signal: 0.6,
    };
    while let Some(flag) = it.next() {
        if flag == "--seasonal" {
            args.seasonal = true;
            continue;
        }
        let value = it.next().unwrap_or_else(|| panic!("{flag} needs a value"));
        let number = || -> f64 {
            value
                .parse()
                .unwrap_or_else(|_| panic!("{flag} needs a number"))
        };
        match flag.as_str() {
            "--pairs" | "--trials" => args.trials = number() as usize,
            "--months" => args.months = number() as usize,
            "--nulls" => args.nulls = number() as usize,
            "--surrogates" => args.surrogates = number() as usize,
            "--seed" => args.seed = number() as u64,
            "--threads" => args.threads = (number() as usize).max(1),
            "--signal" => args.signal = number(),
            other => panic!(
                "unknown flag {other}; modes pairs|family|divergence, flags: --pairs/--trials --months --nulls --surrogates --seed --threads --signal --seasonal"
            ),
        }
    }
    args
}

#[derive(Clone, Copy)]
enum Growth {
    Gaussian,
    Spiky,
    HeavyTailed,
    FallingVolatility,
    /// Growth slowing from 5% to 0% a month as the company matures, Gaussian noise around it.
    Slowing,
}

/// Monthly log growth of each kind, mean 1% a month.
fn growth_of(kind: Growth, rng: &mut ChaCha8Rng, months: usize) -> Vec<f64> {
    (0..months)
        .map(|t| match kind {
            Growth::Gaussian => 0.01 + 0.05 * normal(rng),
            Growth::Spiky => {
                let calm = 0.01 + 0.01 * normal(rng);
                if rng.random::<f64>() < 0.08 {
                    let size = 0.15 + 0.25 * rng.random::<f64>();
                    let sign = if rng.random::<bool>() { 1.0 } else { -1.0 };
                    calm + sign * size
                } else {
                    calm
                }
            }
            Growth::HeavyTailed => 0.01 + 0.03 * student_t(rng, 2.5),
            Growth::FallingVolatility => {
                let share = t as f64 / (months.max(2) - 1) as f64;
                0.01 + (0.15 - 0.13 * share) * normal(rng)
            }
            Growth::Slowing => {
                let share = t as f64 / (months.max(2) - 1) as f64;
                0.05 * (1.0 - share) + 0.03 * normal(rng)
            }
        })
        .collect()
}

fn levels(growth: &[f64]) -> Vec<f64> {
    let mut level: f64 = 100.0;
    growth
        .iter()
        .map(|g| {
            level *= g.exp();
            level
        })
        .collect()
}

fn settings(args: &Args, surrogates: usize) -> LeadSettings {
    LeadSettings {
        lag_min: 3,
        lag_max: 12,
        alpha: 0.05,
        surrogates,
        seed: 0,
        seasons: args.seasonal.then_some(Seasons {
            period: 12,
            first: 0,
        }),
        recent: 24,
    }
}

/// Run `trial(i)` for every trial on `threads` threads and sum the counts it returns.
fn run<const N: usize>(
    args: &Args,
    trials: usize,
    trial: impl Fn(usize) -> [usize; N] + Sync,
) -> [usize; N] {
    thread::scope(|scope| {
        let workers: Vec<_> = (0..args.threads)
            .map(|w| {
                let trial = &trial;
                scope.spawn(move || {
                    let mut sums = [0usize; N];
                    for i in (w..trials).step_by(args.threads) {
                        for (s, v) in sums.iter_mut().zip(trial(i)) {
                            *s += v;
                        }
                    }
                    sums
                })
            })
            .collect();
        workers.into_iter().fold([0usize; N], |mut acc, w| {
            for (a, v) in acc.iter_mut().zip(w.join().expect("worker")) {
                *a += v;
            }
            acc
        })
    })
}

fn trial_rng(args: &Args, scenario: u64, trial: usize) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(
        args.seed
            .wrapping_mul(1_000_003)
            .wrapping_add(scenario.wrapping_mul(10_000_019))
            .wrapping_add(trial as u64),
    )
}

fn passes(outcome: &LeadOutcome, basis: Basis, settings: &LeadSettings) -> bool {
    lead_verdict(outcome, None, basis, settings).0 == Verdict::Pass
}

fn pairs(args: &Args) {
    let trials = if args.trials == 0 { 1000 } else { args.trials };
    let surrogates = if args.surrogates == 0 {
        999
    } else {
        args.surrogates
    };
    let s = settings(args, surrogates);
    println!(
        "lead test, one candidate alone: {trials} pairs of {} months, {surrogates} surrogates, alpha 0.05, lags 3..12, seasonal adjustment {}, seed {}",
        args.months,
        if args.seasonal { "on" } else { "off" },
        args.seed
    );
    let season: Vec<f64> = (0..args.months)
        .map(|t| 0.15 * (std::f64::consts::TAU * t as f64 / 12.0).sin())
        .collect();
    let scenarios: [(&str, Growth, bool); 6] = [
        ("gaussian walks", Growth::Gaussian, false),
        ("spiky growth", Growth::Spiky, false),
        ("t(2.5) growth", Growth::HeavyTailed, false),
        ("falling volatility", Growth::FallingVolatility, false),
        ("slowing growth", Growth::Slowing, false),
        ("shared season", Growth::Gaussian, true),
    ];
    for (index, (name, kind, seasonal)) in scenarios.into_iter().enumerate() {
        let start = std::time::Instant::now();
        let [passed, lag_counts] = run(args, trials, |i| {
            let mut rng = trial_rng(args, index as u64, i);
            let mut metric = levels(&growth_of(kind, &mut rng, args.months));
            let mut revenue = levels(&growth_of(kind, &mut rng, args.months));
            if seasonal {
                for (t, sft) in season.iter().enumerate() {
                    metric[t] *= sft.exp();
                    revenue[t] *= sft.exp();
                }
            }
            let mut s = s;
            s.seed = i as u64;
            let outcome = lead_test(&metric, &revenue, &s);
            let long = usize::from(outcome.best_lag == Some(12));
            [usize::from(passes(&outcome, Basis::Alone, &s)), long]
        });
        println!(
            "{name:>19}: {passed} of {trials} passed, false pass rate {:.3}; best lag 12 in {:.3} (1/10 expected) ({:.1} s)",
            passed as f64 / trials as f64,
            lag_counts as f64 / trials as f64,
            start.elapsed().as_secs_f64()
        );
    }
}

fn family(args: &Args) {
    let trials = if args.trials == 0 { 200 } else { args.trials };
    let surrogates = if args.surrogates == 0 {
        9999
    } else {
        args.surrogates
    };
    let s = settings(args, surrogates);
    let months = args.months;
    println!(
        "a run of {} unrelated candidates, one 6-month lead (signal share {:.2}) and one 3-month echo of revenue: {trials} trials of {months} months, {surrogates} surrogates, alpha 0.05, seed {}",
        args.nulls, args.signal, args.seed
    );
    let start = std::time::Instant::now();
    let [lead_passed, lead_recommended, any_null, echo_passed] = run(args, trials, |i| {
        let mut rng = trial_rng(args, 100, i);
        let lag = 6;
        let driver: Vec<f64> = (0..months + lag).map(|_| normal(&mut rng)).collect();
        let echo_lag = 3;
        // Revenue growth: the driver six months earlier plus its own noise, `signal` of its
        // variance from the driver.
        let revenue_growth: Vec<f64> = (0..months)
            .map(|t| {
                0.01 + 0.04
                    * (args.signal.sqrt() * driver[t]
                        + (1.0 - args.signal).sqrt() * normal(&mut rng))
            })
            .collect();
        let planted_growth: Vec<f64> = (0..months).map(|t| 0.01 + 0.05 * driver[t + lag]).collect();
        let echo_growth: Vec<f64> = (0..months)
            .map(|t| {
                let from = revenue_growth[t.saturating_sub(echo_lag)];
                0.01 + 0.7 * (from - 0.01) + 0.03 * normal(&mut rng)
            })
            .collect();
        let mut metrics: Vec<Vec<f64>> = vec![levels(&planted_growth), levels(&echo_growth)];
        for _ in 0..args.nulls {
            metrics.push(levels(&growth_of(Growth::Gaussian, &mut rng, months)));
        }
        let revenue = levels(&revenue_growth);
        let refs: Vec<&[f64]> = metrics.iter().map(Vec::as_slice).collect();
        let mut s = s;
        s.seed = i as u64;
        let outcomes: Vec<LeadOutcome> = test_all(&refs, &revenue, vec![None; refs.len()], &s)
            .into_iter()
            .map(|(lead, _)| lead)
            .collect();
        let pass: Vec<bool> = outcomes
            .iter()
            .map(|o| passes(o, Basis::Family, &s))
            .collect();
        let best_passing = (0..outcomes.len()).filter(|&j| pass[j]).max_by(|a, b| {
            let e = |j: usize| outcomes[j].excess_r.unwrap_or(0.0);
            e(*a).total_cmp(&e(*b))
        });
        [
            usize::from(pass[0]),
            usize::from(best_passing == Some(0)),
            usize::from(pass[2..].iter().any(|p| *p)),
            usize::from(pass[1]),
        ]
    });
    let rate = |n: usize| n as f64 / trials as f64;
    println!(
        "planted lead passes {:.3}, is the best passing candidate {:.3}; any unrelated candidate passes {:.3}; the 3-month echo passes {:.3} ({:.1} s)",
        rate(lead_passed),
        rate(lead_recommended),
        rate(any_null),
        rate(echo_passed),
        start.elapsed().as_secs_f64()
    );
}

fn divergence(args: &Args) {
    use nsm::stats::churn::divergence_p_of_counts;
    let trials = if args.trials == 0 { 2000 } else { args.trials };
    let months = 42;
    println!(
        "churn divergence test, {trials} trials of {months} months, alpha 0.05, seed {}",
        args.seed
    );
    let [unrelated_failed, unrelated_ar_failed, signups_failed, leader_failed] =
        run(args, trials, |i| {
            let mut rng = trial_rng(args, 200, i);
            // Paying customers: steady growth with noise, and a churn wave in months 20..28
            // (higher churn, paying customers falling) in half of the trials.
            let wave = i % 2 == 0;
            let mut paying = vec![400.0];
            let mut churned = vec![0.0];
            for t in 1..months {
                let in_wave = wave && (20..28).contains(&t);
                let rate = if in_wave {
                    0.08
                } else {
                    0.015 + 0.005 * normal(&mut rng).abs()
                };
                let lost = (paying[t - 1] * rate).round();
                let gained = (paying[t - 1] * 0.035 * (1.0 + 0.3 * normal(&mut rng)))
                    .round()
                    .max(0.0);
                paying.push(paying[t - 1] - lost + gained);
                churned.push(lost);
            }
            // A metric unrelated to churn rising in about 75% of months: a walk with drift
            // (i.i.d. growth), and one whose growth is autocorrelated (AR(1), 0.5).
            let mut level: f64 = 100.0;
            let unrelated: Vec<f64> = (0..months)
                .map(|_| {
                    level *= (0.034 + 0.05 * normal(&mut rng)).exp();
                    level
                })
                .collect();
            let (mut level, mut g) = (100.0f64, 0.0f64);
            let unrelated_ar: Vec<f64> = (0..months)
                .map(|_| {
                    g = 0.5 * g + 0.05 * 0.866 * normal(&mut rng);
                    level *= (0.034 + g).exp();
                    level
                })
                .collect();
            // Signups pushed up by marketing through the wave; a leader that dips with the
            // wave and recovers before paying customers do (V-shaped).
            let (mut level, mut leader_level) = (100.0f64, 100.0f64);
            let mut signups = Vec::new();
            let mut leader = Vec::new();
            for t in 0..months {
                let push = if wave && (20..28).contains(&t) {
                    0.12
                } else {
                    0.0
                };
                level *= (0.01 + push + 0.06 * normal(&mut rng)).exp();
                signups.push(level);
                let dip = if wave && (18..22).contains(&t) {
                    -0.08
                } else if wave && (22..26).contains(&t) {
                    0.08
                } else {
                    0.0
                };
                leader_level *= (0.02 + dip + 0.03 * normal(&mut rng)).exp();
                leader.push(leader_level);
            }
            let fails = |values: &[f64]| {
                let p = divergence_p_of_counts(values, &paying, &churned);
                usize::from(p.is_some_and(|p| p <= 0.05))
            };
            // Power counts only trials with a wave.
            [
                fails(&unrelated),
                fails(&unrelated_ar),
                if wave { fails(&signups) } else { 0 },
                if wave { fails(&leader) } else { 0 },
            ]
        });
    let rate = |n: usize, of: usize| n as f64 / of as f64;
    println!(
        "unrelated metric rising in ~75% of months fails {:.3} (i.i.d. growth), {:.3} (AR(1) growth); signups pushed through a churn wave fail {:.3}; a V-shaped leader fails {:.3}",
        rate(unrelated_failed, trials),
        rate(unrelated_ar_failed, trials),
        rate(signups_failed, trials / 2),
        rate(leader_failed, trials / 2),
    );
}

fn main() {
    let args = parse_args();
    match args.mode.as_str() {
        "pairs" => pairs(&args),
        "family" => family(&args),
        "divergence" => divergence(&args),
        other => panic!("unknown mode {other}: pairs, family or divergence"),
    }
}
