//! Churn divergence: can the metric rise while customers churn?
//!
//! - divergence: among "churn periods" (paying customers fell; when fewer than
//!   `MIN_CHURN_PERIODS` such periods exist, periods with churn rate above its median), the
//!   share in which the metric still rose, with a one-sided binomial test against a coin
//!   (`P(X ≥ rises | n, 1/2)`), so two rises in three periods condemn nothing;
//! - churn_corr: Pearson correlation of metric growth with the churn rate of the same period;
//! - churner weight: the share of the metric (among paying customers) produced by customers in
//!   their last `CHURN_HORIZON` periods before churning, divided by their share of paying
//!   customer-periods; the last `CHURN_HORIZON` periods are right-censored and left out;
//! - residual: the share of the metric still produced by customers after they churned;
//! - monotone: never fell in the data, or cannot fall by construction (structural).

use statrs::distribution::{Binomial, DiscreteCDF};

use super::series::{growth, pearson};
use crate::ingest::dataset::{CustomerCounts, Status, CHURN_HORIZON, STATUS_COUNT};

/// Fewest periods of falling paying customers before the churn-rate median is used instead.
pub const MIN_CHURN_PERIODS: usize = 3;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChurnPeriods {
    /// Periods where the number of paying customers fell.
    PayingFell,
    /// Periods where the churn rate was above its median.
    ChurnAboveMedian,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ChurnOutcome {
    pub basis: ChurnPeriods,
    /// Churn periods considered, and those in which the metric rose.
    pub churn_periods: usize,
    pub rose_in: usize,
    pub divergence_rate: Option<f64>,
    pub divergence_p: Option<f64>,
    pub churn_corr: Option<f64>,
    pub churner_weight: Option<f64>,
    /// Why `churner_weight` is missing, when it is.
    pub churner_weight_note: Option<String>,
    pub residual: Option<f64>,
    pub monotone: bool,
    pub structural_monotone: bool,
    /// 95% bootstrap interval of the churner weight, over customers.
    pub churner_weight_interval: Option<(f64, f64)>,
    /// Share of the metric from the top 1% of accounts.
    pub top_share: Option<f64>,
}

/// Share of rises among churn periods and its binomial p-value against 1/2.
fn divergence(values: &[f64], counts: &CustomerCounts) -> (ChurnPeriods, usize, usize) {
    let n = values.len();
    let fell: Vec<usize> = (1..n)
        .filter(|&t| counts.paying[t] < counts.paying[t - 1])
        .collect();
    let (basis, periods) = if fell.len() >= MIN_CHURN_PERIODS {
        (ChurnPeriods::PayingFell, fell)
    } else {
        let rates: Vec<(usize, f64)> = counts
            .churn_rate()
            .into_iter()
            .enumerate()
            .filter_map(|(t, r)| r.map(|r| (t, r)))
            .collect();
        let mut sorted: Vec<f64> = rates.iter().map(|(_, r)| *r).collect();
        sorted.sort_by(f64::total_cmp);
        let median = if sorted.is_empty() {
            f64::INFINITY
        } else if sorted.len() % 2 == 1 {
            sorted[sorted.len() / 2]
        } else {
            (sorted[sorted.len() / 2 - 1] + sorted[sorted.len() / 2]) / 2.0
        };
        let above = rates
            .iter()
            .filter(|(_, r)| *r > median)
            .map(|(t, _)| *t)
            .collect();
        (ChurnPeriods::ChurnAboveMedian, above)
    };
    let rose = periods
        .iter()
        .filter(|&&t| values[t] > values[t - 1])
        .count();
    (basis, periods.len(), rose)
}

/// `P(X ≥ k)` for `X ~ Binomial(n, 1/2)`.
pub fn binomial_upper_tail(k: usize, n: usize) -> f64 {
    if k == 0 {
        return 1.0;
    }
    match Binomial::new(0.5, n as u64) {
        Ok(dist) => 1.0 - dist.cdf(k as u64 - 1),
        Err(_) => 1.0,
    }
}

/// The churner weight over uncensored periods, or the reason it is undefined.
fn churner_weight(
    by_status: &[Vec<f64>; STATUS_COUNT],
    counts: &CustomerCounts,
) -> Result<f64, String> {
    let n = counts.paying.len();
    if n <= CHURN_HORIZON {
        return Err(format!("needs more than {CHURN_HORIZON} periods"));
    }
    let uncensored = 0..n - CHURN_HORIZON;
    let sum = |v: &[f64]| -> f64 { v[uncensored.clone()].iter().sum() };
    let churner_metric = sum(&by_status[Status::PreChurn as usize]);
    let paying_metric = churner_metric + sum(&by_status[Status::Paying as usize]);
    let churner_customers = sum(&counts.pre_churn);
    let paying_customers = sum(&counts.paying);
    if churner_customers == 0.0 {
        return Err("no paying customer churned in the uncensored periods".into());
    }
    if paying_metric <= 0.0 {
        return Err("paying customers produced none of this metric".into());
    }
    Ok((churner_metric / paying_metric) / (churner_customers / paying_customers))
}

/// Every churn figure of one candidate.
pub fn churn_test(
    values: &[f64],
    by_status: Option<&[Vec<f64>; STATUS_COUNT]>,
    why_no_parts: &str,
    counts: &CustomerCounts,
    structural_monotone: bool,
) -> ChurnOutcome {
    let (basis, churn_periods, rose_in) = divergence(values, counts);
    let divergence_rate = (churn_periods > 0).then(|| rose_in as f64 / churn_periods as f64);
    let divergence_p = (churn_periods > 0).then(|| binomial_upper_tail(rose_in, churn_periods));
    let (metric_growth, _) = growth(values);
    let (pairs_growth, pairs_rate): (Vec<f64>, Vec<f64>) = counts
        .churn_rate()
        .into_iter()
        .enumerate()
        .skip(1)
        .filter_map(|(t, rate)| rate.map(|r| (metric_growth[t - 1], r)))
        .unzip();
    let churn_corr = pearson(&pairs_growth, &pairs_rate);
    let (weight, note) = match by_status {
        Some(parts) => match churner_weight(parts, counts) {
            Ok(w) => (Some(w), None),
            Err(why) => (None, Some(why)),
        },
        None => (None, Some(why_no_parts.to_string())),
    };
    let residual = by_status.and_then(|parts| {
        let total: f64 = parts.iter().flat_map(|v| v.iter()).sum();
        (total > 0.0).then(|| parts[Status::Churned as usize].iter().sum::<f64>() / total)
    });
    let never_fell = values.windows(2).all(|w| w[1] >= w[0]);
    ChurnOutcome {
        basis,
        churn_periods,
        rose_in,
        divergence_rate,
        divergence_p,
        churn_corr,
        churner_weight: weight,
        churner_weight_note: note,
        residual,
        monotone: structural_monotone || never_fell,
        structural_monotone,
        churner_weight_interval: None,
        top_share: None,
    }
}

/// One paying customer's part of the churner weight, over the uncensored periods.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct CustomerShare {
    /// Metric produced while in its last `CHURN_HORIZON` periods before churning.
    pub churner_metric: f64,
    /// Metric produced while paying otherwise.
    pub paying_metric: f64,
    /// Periods in each of those two states.
    pub churner_periods: f64,
    pub paying_periods: f64,
}

/// Churner weight from per-customer shares: `(Σ churner metric / Σ paying metric) /
/// (Σ churner periods / Σ paying periods)`, "paying" including the churner periods.
pub fn weight_of(customers: &[CustomerShare]) -> Option<f64> {
    weight_of_sums(customers.iter().fold(CustomerShare::default(), add_share))
}

/// Field-wise sum, in order (the bootstrap adds its draws the same way, so its sums are the
/// ones `weight_of` would compute on the drawn sample).
fn add_share(total: CustomerShare, c: &CustomerShare) -> CustomerShare {
    CustomerShare {
        churner_metric: total.churner_metric + c.churner_metric,
        paying_metric: total.paying_metric + c.paying_metric,
        churner_periods: total.churner_periods + c.churner_periods,
        paying_periods: total.paying_periods + c.paying_periods,
    }
}

fn weight_of_sums(sums: CustomerShare) -> Option<f64> {
    let (cm, pm) = (sums.churner_metric, sums.paying_metric);
    let (cp, pp) = (sums.churner_periods, sums.paying_periods);
    (cp > 0.0 && cm + pm > 0.0).then(|| (cm / (cm + pm)) / (cp / (cp + pp)))
}

/// SplitMix64 (Steele, Lea & Flood 2014): a small, fast generator for the bootstrap's millions
/// of index draws, with the same sequence on every platform.
struct SplitMix64(u64);

impl SplitMix64 {
    #[inline]
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

/// Resamples of the churner weight's bootstrap interval.
pub const BOOTSTRAP_RESAMPLES: usize = 999;

/// 95% percentile bootstrap interval of the churner weight, resampling customers with
/// replacement (Efron & Tibshirani 1993, ch. 13). Resamples without churners are skipped.
pub fn churner_weight_interval(
    customers: &[CustomerShare],
    resamples: usize,
    seed: u64,
) -> Option<(f64, f64)> {
    if customers.len() < 2 || weight_of(customers).is_none() {
        return None;
    }
    let mut rng = SplitMix64(seed);
    let mut draws = Vec::with_capacity(resamples);
    let n = customers.len() as u64;
    for _ in 0..resamples {
        let (mut cm, mut pm, mut cp, mut pp) = (0.0, 0.0, 0.0, 0.0);
        let mut add = |bits: u64| {
            // Multiply-shift (Lemire 2019) on 32 random bits: bias at most n / 2^32 per index,
            // far below the bootstrap's own error.
            let c = &customers[(((bits & 0xffff_ffff) * n) >> 32) as usize];
            cm += c.churner_metric;
            pm += c.paying_metric;
            cp += c.churner_periods;
            pp += c.paying_periods;
        };
        for _ in 0..customers.len() / 2 {
            let bits = rng.next();
            add(bits);
            add(bits >> 32);
        }
        if customers.len() % 2 == 1 {
            add(rng.next());
        }
        let sums = CustomerShare {
            churner_metric: cm,
            paying_metric: pm,
            churner_periods: cp,
            paying_periods: pp,
        };
        if let Some(w) = weight_of_sums(sums) {
            draws.push(w);
        }
    }
    if draws.len() < resamples / 2 {
        return None;
    }
    draws.sort_by(f64::total_cmp);
    let at = |q: f64| draws[((draws.len() - 1) as f64 * q).round() as usize];
    Some((at(0.025), at(0.975)))
}

/// Fewest contributing entities for the concentration to be judged.
pub const CONCENTRATION_MIN_ENTITIES: usize = 100;
/// Share of the metric from the top 1% of entities above which it is `gameable`.
pub const GAMEABLE_SHARE: f64 = 0.5;

/// Share of the metric produced by the top 1% (at least one) of the entities producing any of
/// it; `None` with fewer than `CONCENTRATION_MIN_ENTITIES` of them.
pub fn top_share(totals: &[f64]) -> Option<f64> {
    let mut positive: Vec<f64> = totals.iter().copied().filter(|v| *v > 0.0).collect();
    if positive.len() < CONCENTRATION_MIN_ENTITIES {
        return None;
    }
    positive.sort_by(|a, b| b.total_cmp(a));
    let k = positive.len().div_ceil(100);
    let total: f64 = positive.iter().sum();
    Some(positive[..k].iter().sum::<f64>() / total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binomial_tail_by_hand() {
        // 5 or more of 6 fair coins: (6 + 1) / 64.
        assert!((binomial_upper_tail(5, 6) - 7.0 / 64.0).abs() < 1e-12);
        assert!((binomial_upper_tail(2, 3) - 0.5).abs() < 1e-12);
        assert_eq!(binomial_upper_tail(0, 4), 1.0);
    }

    fn counts(paying: &[f64], churned: &[f64], pre: &[f64]) -> CustomerCounts {
        CustomerCounts {
            paying: paying.to_vec(),
            churned: churned.to_vec(),
            new: vec![0.0; paying.len()],
            reactivated: vec![0.0; paying.len()],
            pre_churn: pre.to_vec(),
        }
    }

    #[test]
    fn a_metric_rising_through_every_drop_diverges() {
        let c = counts(
            &[10.0, 9.0, 8.0, 7.0, 6.0, 5.0, 5.0],
            &[0.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.0],
            &[0.0; 7],
        );
        let rising = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0];
        let out = churn_test(
            &rising,
            None,
            "not defined for a ratio of two candidates",
            &c,
            false,
        );
        assert_eq!(out.basis, ChurnPeriods::PayingFell);
        assert_eq!((out.churn_periods, out.rose_in), (5, 5));
        assert_eq!(out.divergence_rate, Some(1.0));
        assert!((out.divergence_p.unwrap() - 1.0 / 32.0).abs() < 1e-12);
        assert!(out.monotone && !out.structural_monotone);
    }

    #[test]
    fn weight_of_customers_by_hand_and_its_interval() {
        // Two churners (1 metric, 1 period each) among customers with 9 + 9 metric over
        // 3 + 3 periods: (2/20) / (2/8) = 0.4.
        let customers = [
            CustomerShare {
                churner_metric: 1.0,
                paying_metric: 0.0,
                churner_periods: 1.0,
                paying_periods: 0.0,
            },
            CustomerShare {
                churner_metric: 1.0,
                paying_metric: 0.0,
                churner_periods: 1.0,
                paying_periods: 0.0,
            },
            CustomerShare {
                churner_metric: 0.0,
                paying_metric: 9.0,
                churner_periods: 0.0,
                paying_periods: 3.0,
            },
            CustomerShare {
                churner_metric: 0.0,
                paying_metric: 9.0,
                churner_periods: 0.0,
                paying_periods: 3.0,
            },
        ];
        assert!((weight_of(&customers).unwrap() - 0.4).abs() < 1e-12);
        let (lo, hi) = churner_weight_interval(&customers, 999, 7).unwrap();
        assert!(lo <= 0.4 && 0.4 <= hi, "{lo} {hi}");
        assert_eq!(
            churner_weight_interval(&customers, 999, 7),
            Some((lo, hi)),
            "seeded"
        );
    }

    #[test]
    fn top_share_by_hand() {
        // 200 entities: two produce 100 each, 198 produce 1 each -> top 1% (2) = 200 / 398.
        let mut totals = vec![1.0; 198];
        totals.extend([100.0, 100.0]);
        assert!((top_share(&totals).unwrap() - 200.0 / 398.0).abs() < 1e-12);
        assert_eq!(top_share(&[1.0; 50]), None);
    }

    #[test]
    fn churner_weight_and_residual_by_hand() {
        // 5 periods; the last 3 are censored, so periods 0 and 1 count.
        // Paying customers 4 and 4; churners 1 and 1 -> customer share 2/8 = 0.25.
        // Metric from churners 1 + 1, from other payers 7 + 7 -> metric share 2/16 = 0.125.
        // Weight = 0.125 / 0.25 = 0.5.
        let c = counts(
            &[4.0, 4.0, 3.0, 3.0, 3.0],
            &[0.0, 0.0, 1.0, 0.0, 0.0],
            &[1.0, 1.0, 0.0, 0.0, 0.0],
        );
        let by_status = [
            vec![0.0, 0.0, 0.0, 0.0, 0.0],
            vec![7.0, 7.0, 6.0, 6.0, 6.0],
            vec![1.0, 1.0, 0.0, 0.0, 0.0],
            vec![0.0, 0.0, 2.0, 2.0, 2.0],
        ];
        let values: Vec<f64> = (0..5)
            .map(|i| by_status.iter().map(|v| v[i]).sum())
            .collect();
        let out = churn_test(&values, Some(&by_status), "", &c, false);
        assert!((out.churner_weight.unwrap() - 0.5).abs() < 1e-12);
        // Residual: 6 of 40.
        assert!((out.residual.unwrap() - 6.0 / 40.0).abs() < 1e-12);
    }
}
