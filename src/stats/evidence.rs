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

/// One outcome of the account line after the run's adjustment.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Tested {
    pub z: f64,
    /// One-sided p-value of the robust score test, `1 − Φ(z)`.
    pub p_value: f64,
    pub p_adjusted: Option<f64>,
}

/// A candidate's account line after the run's adjustment.
#[derive(Debug, Clone, PartialEq)]
pub struct AccountOutcome {
    pub evidence: Evidence,
    pub retention: Option<Tested>,
    pub expansion: Option<Tested>,
}

/// Scores below this say the opposite of a lead: accounts with more of the metric churn more,
/// or shrink (two-sided 5%, both outcomes).
pub const OPPOSITE_Z: f64 = -1.959_963_984_540_054;

impl AccountOutcome {
    /// The smaller of the two outcomes' adjusted p-values.
    pub fn p_adjusted(&self) -> Option<f64> {
        [self.retention, self.expansion]
            .into_iter()
            .flatten()
            .filter_map(|t| t.p_adjusted)
            .reduce(f64::min)
    }

    /// Whether either outcome is significantly the wrong way round.
    pub fn opposite(&self) -> bool {
        [self.retention, self.expansion]
            .into_iter()
            .flatten()
            .any(|t| t.z < OPPOSITE_Z)
    }

    pub fn has_test(&self) -> bool {
        self.retention.is_some() || self.expansion.is_some()
    }
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
    // Account tests: retention of every candidate, then expansion of every candidate.
    let mut lines = Vec::with_capacity(2 * m);
    lines.extend(accounts.iter().map(|e| e.as_ref().map(|e| &e.retention)));
    lines.extend(accounts.iter().map(|e| e.as_ref().map(|e| &e.expansion)));
    let (account_observed, account_null) = joint_null(&lines, draws, settings.seed);
    let mut observed: Vec<Option<f64>> = tested.iter().map(|(p, _)| p.statistic()).collect();
    observed.extend(account_observed.iter().copied());
    let mut all = NullDraws::new(3 * m);
    let account_draws = account_null.draws();
    for b in 0..draws {
        let mut row: Vec<f64> = tested.iter().map(|(_, n)| n.forward[b]).collect();
        if b < account_draws {
            row.extend(account_null.row(b));
        } else {
            row.extend(std::iter::repeat_n(f64::NEG_INFINITY, 2 * m));
        }
        all.push(&row);
    }
    let adjusted = family::adjust(&observed, &all);
    let level = family::critical_p(&observed, &all, settings.alpha);
    let candidates = observed[..m]
        .iter()
        .enumerate()
        .filter(|(j, o)| o.is_some() || observed[m + j].is_some() || observed[2 * m + j].is_some());
    let candidate_count = candidates.count();
    tested
        .into_iter()
        .zip(accounts)
        .enumerate()
        .map(|(j, ((prepared, maxima), evidence))| {
            let mut outcome = prepared.finish(&maxima, level.unwrap_or(0.0));
            outcome.p_adjusted = adjusted[j].map(|(_, p)| p);
            outcome.family_size = Some(candidate_count);
            // The candidate alone: its own tests adjusted among themselves.
            let own = [j, m + j, 2 * m + j];
            let own_observed: Vec<Option<f64>> = own.iter().map(|&k| observed[k]).collect();
            let mut own_null = NullDraws::new(3);
            for b in 0..all.draws() {
                own_null.push(&own.map(|k| all.get(b, k)));
            }
            outcome.p_alone = family::adjust(&own_observed, &own_null)
                .into_iter()
                .flatten()
                .map(|(_, p)| p)
                .reduce(f64::min);
            let account = evidence.map(|evidence| {
                let test = |k: usize| {
                    observed[k].map(|z| Tested {
                        z,
                        p_value: 1.0 - normal_cdf(z),
                        p_adjusted: adjusted[k].map(|(_, p)| p),
                    })
                };
                AccountOutcome {
                    retention: test(m + j),
                    expansion: test(2 * m + j),
                    evidence,
                }
            });
            (outcome, account)
        })
        .collect()
}

/// `Φ(z)` of the standard normal.
pub fn normal_cdf(z: f64) -> f64 {
    use statrs::distribution::{ContinuousCDF, Normal};
    Normal::standard().cdf(z)
}
