//! Both lines of lead evidence of a run, tested as one family.
//!
//! Every candidate has up to three tests: the aggregate lead test (does revenue follow the
//! metric's series?) and, where per-customer revenue and the candidate's per-account parts
//! exist, the account line's retention and expansion tests. Their null draws are made once
//! per run and shared by every candidate (surrogates of revenue for the aggregate line, the
//! score wild bootstrap for the account line), and all the tests of all candidates form one
//! family for the Westfall–Young step-down minP adjustment. The two lines' draws are
//! independent of each other; positive dependence between the lines (the likelier kind: both
//! see the same customers) makes the minimum over them less extreme than independence
//! assumes, so the adjustment errs on the safe side.
//!
//! A candidate's `p_adjusted` on each line is its test's adjusted p-value in that family; its
//! `p_alone` is its own tests adjusted among themselves only (one pre-specified hypothesis,
//! as `nsm check` judges a declared star).

use rayon::prelude::*;

use super::accounts::{joint_null, Evidence};
use super::family::{self, NullDraws};
use super::lead::{null_maxima, prepare, LeadOutcome, LeadSettings, RevenueNull, RevenueSide};
use super::series::inverse_normal;

/// One account-level test after the run's adjustment.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Tested {
    pub horizon: usize,
    pub z: f64,
    /// One-sided p-value of the robust score test, `1 − Φ(z)`.
    pub p_value: f64,
    pub p_adjusted: Option<f64>,
}

/// A candidate's account line after the run's adjustment: a test per outcome and horizon.
#[derive(Debug, Clone, PartialEq)]
pub struct AccountOutcome {
    pub evidence: Evidence,
    pub retention: Vec<Tested>,
    pub expansion: Vec<Tested>,
}

/// Two-sided 5% over a candidate's account tests (Bonferroni): a score below `−Φ⁻¹(1 −
/// 0.025 / k)` on any of its k tests says the opposite of a lead.
pub fn opposite_z(tests: usize) -> f64 {
    -inverse_normal(1.0 - 0.025 / tests.max(1) as f64)
}

impl AccountOutcome {
    fn all(&self) -> impl Iterator<Item = &Tested> {
        self.retention.iter().chain(&self.expansion)
    }

    /// The smallest adjusted p-value of its tests.
    pub fn p_adjusted(&self) -> Option<f64> {
        self.all().filter_map(|t| t.p_adjusted).reduce(f64::min)
    }

    /// The test of one outcome with the smallest adjusted p-value (the raw one on ties).
    pub fn best(tests: &[Tested]) -> Option<&Tested> {
        tests.iter().min_by(|a, b| {
            let key = |t: &Tested| (t.p_adjusted.unwrap_or(1.0), t.p_value);
            key(a)
                .partial_cmp(&key(b))
                .unwrap_or(std::cmp::Ordering::Equal)
        })
    }

    /// The test that says the opposite of a lead, if one does: accounts with more of the metric
    /// churn or shrink more.
    pub fn opposite(&self) -> Option<(&'static str, f64)> {
        let threshold = opposite_z(self.all().count());
        let worst = |tests: &[Tested]| tests.iter().map(|t| t.z).fold(f64::INFINITY, f64::min);
        let (retention, expansion) = (worst(&self.retention), worst(&self.expansion));
        if retention < threshold && retention <= expansion {
            Some(("churn more", retention))
        } else if expansion < threshold {
            Some(("shrink more", expansion))
        } else {
            None
        }
    }

    pub fn has_test(&self) -> bool {
        self.all().next().is_some()
    }
}

/// What a column of the run's family tests.
#[derive(Clone, Copy)]
enum Column {
    Aggregate,
    Account { retention: bool, index: usize },
}

/// Every candidate's two lines, adjusted as one family. `metrics[j]` is candidate j's series,
/// `accounts[j]` its account-level evidence where it has one.
pub fn test_all(
    metrics: &[&[f64]],
    revenue: &[f64],
    accounts: Vec<Option<Evidence>>,
    settings: &LeadSettings,
) -> Vec<(LeadOutcome, Option<AccountOutcome>)> {
    let m = metrics.len();
    let side = RevenueSide::new(revenue, settings);
    let null = RevenueNull::new(&side, settings);
    let draws = null.len();
    let tested: Vec<_> = metrics
        .par_iter()
        .map(|metric| {
            let prepared = prepare(metric, &side, settings);
            let maxima = null_maxima(&prepared, &null, settings);
            (prepared, maxima)
        })
        .collect();
    // Columns: every aggregate test, then every account test, candidate by candidate.
    let mut owner: Vec<(usize, Column)> = (0..m).map(|j| (j, Column::Aggregate)).collect();
    let mut account_tests = Vec::new();
    for (j, evidence) in accounts.iter().enumerate() {
        let Some(e) = evidence else { continue };
        for (retention, line) in [(true, &e.retention), (false, &e.expansion)] {
            for (index, f) in line.by_horizon.iter().enumerate() {
                if line.tests().any(|t| std::ptr::eq(t, f)) {
                    owner.push((j, Column::Account { retention, index }));
                    account_tests.push(f);
                }
            }
        }
    }
    let account_null = joint_null(&account_tests, draws, settings.seed);
    let mut observed: Vec<Option<f64>> = tested.iter().map(|(p, _)| p.statistic()).collect();
    observed.extend(account_tests.iter().map(|f| Some(f.statistic)));
    let columns = owner.len();
    let mut all = NullDraws::new(columns);
    for b in 0..draws {
        let mut row: Vec<f64> = tested.iter().map(|(_, n)| n.forward[b]).collect();
        if account_tests.is_empty() {
            all.push(&row);
            continue;
        }
        row.extend_from_slice(account_null.row(b));
        all.push(&row);
    }
    // Every test's null p-values once, for the run's family and each candidate's own tests.
    let nulls = family::TestNulls::new(&observed, &all);
    let adjusted = nulls.adjust(&(0..columns).collect::<Vec<_>>());
    let level = nulls.critical_p(settings.alpha);
    let candidate_count = (0..m)
        .filter(|&j| (0..columns).any(|k| owner[k].0 == j && observed[k].is_some()))
        .count();
    let mut accounts: Vec<Option<AccountOutcome>> = accounts
        .into_iter()
        .map(|e| {
            e.map(|evidence| AccountOutcome {
                evidence,
                retention: Vec::new(),
                expansion: Vec::new(),
            })
        })
        .collect();
    for (k, &(j, column)) in owner.iter().enumerate() {
        let Column::Account { retention, index } = column else {
            continue;
        };
        let Some(outcome) = accounts[j].as_mut() else {
            continue;
        };
        let line = if retention {
            &outcome.evidence.retention
        } else {
            &outcome.evidence.expansion
        };
        let f = &line.by_horizon[index];
        let test = Tested {
            horizon: f.horizon,
            z: f.z,
            p_value: 1.0 - normal_cdf(f.statistic),
            p_adjusted: adjusted[k].map(|(_, p)| p),
        };
        if retention {
            outcome.retention.push(test);
        } else {
            outcome.expansion.push(test);
        }
    }
    tested
        .into_par_iter()
        .zip(accounts)
        .enumerate()
        .map(|(j, ((prepared, maxima), account))| {
            let mut outcome = prepared.finish(&maxima, level.unwrap_or(0.0));
            outcome.p_adjusted = adjusted[j].map(|(_, p)| p);
            outcome.family_size = Some(candidate_count);
            // The candidate alone: its own tests adjusted among themselves.
            let own: Vec<usize> = (0..columns).filter(|&k| owner[k].0 == j).collect();
            outcome.p_alone = nulls
                .adjust(&own)
                .into_iter()
                .flatten()
                .map(|(_, p)| p)
                .reduce(f64::min);
            (outcome, account)
        })
        .collect()
}

/// `Φ(z)` of the standard normal.
pub fn normal_cdf(z: f64) -> f64 {
    use statrs::distribution::{ContinuousCDF, Normal};
    Normal::standard().cdf(z)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    fn settings(surrogates: usize, seed: u64) -> LeadSettings {
        LeadSettings {
            lag_min: 3,
            lag_max: 12,
            alpha: 0.05,
            surrogates,
            seed,
            seasons: None,
            recent: 24,
        }
    }

    fn walk(rng: &mut ChaCha8Rng, months: usize, spiky: bool) -> Vec<f64> {
        let mut level: f64 = 100.0;
        (0..months)
            .map(|_| {
                let normal =
                    (rng.random::<f64>() + rng.random::<f64>() + rng.random::<f64>() - 1.5) * 2.0;
                let step = if spiky && rng.random::<f64>() < 0.08 {
                    0.3 * if rng.random::<bool>() { 1.0 } else { -1.0 }
                } else if spiky {
                    0.01 * normal
                } else {
                    0.05 * normal
                };
                level *= (0.01 + step).exp();
                level
            })
            .collect()
    }

    /// A fast version of `examples/calibrate.rs family` (STATISTICS.md has the full figures):
    /// runs of unrelated candidates rarely pass anything, and a planted lead among them is
    /// found. Loose bounds, so that only a broken method fails.
    #[test]
    fn the_family_holds_its_level_and_finds_a_planted_lead() {
        let (trials, nulls) = (40, 10);
        let (mut any_null, mut planted) = (0, 0);
        for trial in 0..trials {
            let mut rng = ChaCha8Rng::seed_from_u64(900 + trial);
            let revenue = walk(&mut rng, 48, trial % 2 == 0);
            let mut metrics: Vec<Vec<f64>> = (0..nulls)
                .map(|_| walk(&mut rng, 48, trial % 2 == 0))
                .collect();
            // Revenue follows the planted metric six months later.
            let mut lead = vec![100.0];
            let growth: Vec<f64> = revenue.windows(2).map(|w| (w[1] / w[0]).ln()).collect();
            for t in 1..48 {
                let later = growth.get(t + 5).copied().unwrap_or(0.0);
                let noise = 0.02 * (rng.random::<f64>() - 0.5);
                lead.push(lead[t - 1] * (later + noise).exp());
            }
            metrics.push(lead);
            let refs: Vec<&[f64]> = metrics.iter().map(Vec::as_slice).collect();
            let s = settings(199, trial);
            let out = test_all(&refs, &revenue, vec![None; refs.len()], &s);
            let pass = |o: &LeadOutcome| o.p_adjusted.is_some_and(|p| p <= 0.05);
            any_null += usize::from(out[..nulls].iter().any(|(o, _)| pass(o)));
            planted += usize::from(pass(&out[nulls].0));
        }
        eprintln!(
            "family: {any_null} runs with an unrelated pass, {planted} planted passes, of {trials}"
        );
        assert!(
            any_null <= 6,
            "{any_null} of {trials} runs passed an unrelated candidate"
        );
        assert!(
            planted >= 34,
            "the planted lead passed in {planted} of {trials}"
        );
    }

    /// A fast version of `examples/calibrate.rs pairs` on Gaussian and spiky growth.
    #[test]
    fn one_candidate_alone_holds_its_level_on_spiky_growth() {
        let trials = 200;
        let mut passed = 0;
        for trial in 0..trials {
            let mut rng = ChaCha8Rng::seed_from_u64(5_000 + trial);
            let spiky = trial % 2 == 0;
            let (metric, revenue) = (walk(&mut rng, 48, spiky), walk(&mut rng, 48, spiky));
            let outcome = crate::stats::lead::lead_test(&metric, &revenue, &settings(99, trial));
            passed += usize::from(outcome.p_value.is_some_and(|p| p <= 0.05));
        }
        eprintln!("alone: {passed} of {trials} unrelated pairs passed");
        // 10 expected; a stationary Gaussian null on raw spiky growth passed about 34.
        assert!(passed <= 20, "{passed} of {trials} unrelated pairs passed");
    }
}
