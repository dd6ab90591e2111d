//! Churn divergence: can the metric rise while customers churn?
//!
//! - divergence: among "churn periods" — periods in which gross churn was unusually high (the
//!   churn rate above its median by more than two robust standard deviations; gross, because
//!   new customers can hide churn in the net paying count and a slow month of sales can fake
//!   it) — the share in which the metric still rose, against its share of rises in the others,
//!   by Fisher's exact test (one-sided: more rises in churn periods than in the others). A
//!   growing metric rises in most periods whatever churn does, so the baseline is the metric's
//!   own, not a coin's. With fewer than `MIN_CHURN_PERIODS` such periods, the periods with
//!   churn above its median are compared with the rest the same way;
//! - churn_corr: Pearson correlation of metric growth with the churn rate of the same period;
//! - churner weight: the share of the metric (among paying customers) produced by customers in
//!   their last `CHURN_HORIZON` periods before churning, divided by their share of paying
//!   customer-periods; the last `CHURN_HORIZON` periods are right-censored and left out;
//! - residual: the share of the metric still produced by customers after they churned;
//! - monotone: never fell in the data, or cannot fall by construction (structural).

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::series::{growth, pearson};
use crate::ingest::dataset::{CustomerCounts, Status, CHURN_HORIZON, STATUS_COUNT};

/// Fewest churn periods before the churn-rate median is used instead.
pub const MIN_CHURN_PERIODS: usize = 3;
/// A period's gross churn rate is unusually high above its median by this many robust
/// standard deviations.
pub const CHURN_SPIKE_SD: f64 = 2.0;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChurnPeriods {
    /// Periods where gross churn spiked: the churn rate above its median by more than
    /// `CHURN_SPIKE_SD` robust standard deviations.
    ChurnSpiked,
    /// Periods where the churn rate was above its median.
    ChurnAboveMedian,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ChurnOutcome {
    pub basis: ChurnPeriods,
    /// Churn periods considered, and those in which the metric rose.
    pub churn_periods: usize,
    pub rose_in: usize,
    /// The other periods (with a previous one), and those in which the metric rose.
    pub other_periods: usize,
    pub rose_in_other: usize,
    pub divergence_rate: Option<f64>,
    /// Fisher's exact one-sided p-value: more rises in churn periods than in the others.
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

fn median(values: &mut [f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let n = values.len();
    Some(if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    })
}

/// The churn periods (`true` at index t ≥ 1) and their basis.
pub(crate) fn churn_periods(counts: &CustomerCounts) -> (ChurnPeriods, Vec<bool>) {
    let n = counts.paying.len();
    let rates = counts.churn_rate();
    let mut known: Vec<f64> = rates.iter().flatten().copied().collect();
    let mid = median(&mut known);
    let mut deviations: Vec<f64> = rates
        .iter()
        .flatten()
        .map(|r| (r - mid.unwrap_or(0.0)).abs())
        .collect();
    // A robust standard deviation: 1.4826 median absolute deviations, or, when more than half
    // the rates are equal (the median deviation is 0), 1.2533 mean absolute deviations.
    let mean_deviation = deviations.iter().sum::<f64>() / deviations.len().max(1) as f64;
    let spread = median(&mut deviations).map(|mad| {
        if mad > 0.0 {
            1.4826 * mad
        } else {
            1.2533 * mean_deviation
        }
    });
    let spike = |t: usize| match (rates[t], mid, spread) {
        (Some(r), Some(m), Some(sd)) => sd > 0.0 && r > m + CHURN_SPIKE_SD * sd,
        _ => false,
    };
    let elevated: Vec<bool> = (0..n).map(|t| t > 0 && spike(t)).collect();
    if elevated.iter().filter(|e| **e).count() >= MIN_CHURN_PERIODS {
        return (ChurnPeriods::ChurnSpiked, elevated);
    }
    let above = (0..n)
        .map(|t| matches!((rates[t], mid), (Some(r), Some(m)) if r > m))
        .collect();
    (ChurnPeriods::ChurnAboveMedian, above)
}

/// Rises of the metric in churn periods and in the others: `(churn, rose, other, rose)`.
fn divergence(values: &[f64], churn: &[bool]) -> (usize, usize, usize, usize) {
    let (mut churn_n, mut churn_rose, mut other_n, mut other_rose) = (0, 0, 0, 0);
    for t in 1..values.len().min(churn.len()) {
        let rose = usize::from(values[t] > values[t - 1]);
        if churn[t] {
            churn_n += 1;
            churn_rose += rose;
        } else {
            other_n += 1;
            other_rose += rose;
        }
    }
    (churn_n, churn_rose, other_n, other_rose)
}

/// The divergence test on bare counts of paying and churned customers per period: its
/// one-sided p-value (for simulations; the run uses [`churn_test`]).
pub fn divergence_p_of_counts(values: &[f64], paying: &[f64], churned: &[f64]) -> Option<f64> {
    let counts = CustomerCounts {
        paying: paying.to_vec(),
        churned: churned.to_vec(),
        ..CustomerCounts::default()
    };
    let (_, churn) = churn_periods(&counts);
    let (churn_n, rose, other_n, rose_other) = divergence(values, &churn);
    (churn_n > 0 && other_n > 0).then(|| fisher_greater(churn_n, rose, other_n, rose_other))
}

/// Fisher's exact test, one-sided: `P(X ≥ rose_churn)` for X hypergeometric, the rises spread
/// at random over the churn and other periods (`scipy.stats.fisher_exact(table,
/// alternative="greater")` on the 2×2 table).
pub fn fisher_greater(churn: usize, rose_churn: usize, other: usize, rose_other: usize) -> f64 {
    use statrs::distribution::{Discrete, Hypergeometric};
    let population = (churn + other) as u64;
    let rises = (rose_churn + rose_other) as u64;
    let Ok(dist) = Hypergeometric::new(population, rises, churn as u64) else {
        return 1.0;
    };
    let top = rises.min(churn as u64);
    let tail: f64 = (rose_churn as u64..=top).map(|x| dist.pmf(x)).sum();
    tail.clamp(0.0, 1.0)
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
pub(crate) fn churn_test(
    values: &[f64],
    by_status: Option<&[Vec<f64>; STATUS_COUNT]>,
    why_no_parts: &str,
    counts: &CustomerCounts,
    structural_monotone: bool,
) -> ChurnOutcome {
    let (basis, churn) = churn_periods(counts);
    let (churn_periods, rose_in, other_periods, rose_in_other) = divergence(values, &churn);
    let divergence_rate = (churn_periods > 0).then(|| rose_in as f64 / churn_periods as f64);
    let divergence_p = (churn_periods > 0 && other_periods > 0)
        .then(|| fisher_greater(churn_periods, rose_in, other_periods, rose_in_other));
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
        other_periods,
        rose_in_other,
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

/// Customers above which the bootstrap resamples random groups of customers instead.
pub const EXACT_BOOTSTRAP_MAX: usize = 20_000;

/// 95% percentile bootstrap interval of the churner weight, resampling customers with
/// replacement (Efron & Tibshirani 1993, ch. 13). Resamples without churners are skipped.
///
/// With more than [`EXACT_BOOTSTRAP_MAX`] customers, they are dealt at random (seeded) into
/// that many groups and the groups' sums are resampled: the groups' totals are independent
/// draws of the same law, so the resampled totals keep the mean, variance and skewness of
/// the customers' to first order, in `O(n + groups × resamples)` instead of
/// `O(n × resamples)` random reads.
pub fn churner_weight_interval(
    customers: &[CustomerShare],
    resamples: usize,
    seed: u64,
) -> Option<(f64, f64)> {
    if customers.len() < 2 || weight_of(customers).is_none() {
        return None;
    }
    let draws = if customers.len() > EXACT_BOOTSTRAP_MAX {
        exact_resamples(
            &grouped(customers, EXACT_BOOTSTRAP_MAX, seed),
            resamples,
            seed,
        )
    } else {
        exact_resamples(customers, resamples, seed)
    };
    percentile_interval(draws, resamples)
}

/// The customers' sums in `groups` groups of a seeded random partition (sizes within one).
fn grouped(customers: &[CustomerShare], groups: usize, seed: u64) -> Vec<CustomerShare> {
    let mut order: Vec<u32> = (0..customers.len() as u32).collect();
    order.shuffle(&mut ChaCha8Rng::seed_from_u64(seed));
    let mut sums = vec![CustomerShare::default(); groups];
    for (k, i) in order.into_iter().enumerate() {
        sums[k % groups] = add_share(sums[k % groups], &customers[i as usize]);
    }
    sums
}

/// Resample customers with replacement.
fn exact_resamples(customers: &[CustomerShare], resamples: usize, seed: u64) -> Vec<f64> {
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
    draws
}

/// The 2.5% and 97.5% points of the draws; `None` when fewer than half the resamples gave one.
fn percentile_interval(mut draws: Vec<f64>, resamples: usize) -> Option<(f64, f64)> {
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
    fn fisher_tail_by_hand() {
        // 8 rises in 8 churn periods, 19 in 33 others: P(X = 8) = C(27, 8) / C(41, 8).
        let exact = 2_220_075.0 / 95_548_245.0;
        assert!((fisher_greater(8, 8, 33, 19) - exact).abs() < 1e-12);
        // 2 of 3 against 1 of 3: P(X ≥ 2) with 3 rises in 6, 3 drawn = (9 + 1) / 20.
        assert!((fisher_greater(3, 2, 3, 1) - 0.5).abs() < 1e-12);
        assert!((fisher_greater(4, 0, 4, 4) - 1.0).abs() < 1e-12);
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
    fn a_metric_rising_in_every_churn_spike_diverges() {
        // 100 paying customers throughout; 1 churns a period, except 20 in periods 3, 6, 8, 10
        // (gross churn spikes, hidden from the net count by as many new customers).
        let spikes = [3, 6, 8, 10];
        let churned: Vec<f64> = (0..12)
            .map(|t| match t {
                0 => 0.0,
                t if spikes.contains(&t) => 20.0,
                _ => 1.0,
            })
            .collect();
        let c = counts(&[100.0; 12], &churned, &[0.0; 12]);
        let (basis, churn) = churn_periods(&c);
        assert_eq!(basis, ChurnPeriods::ChurnSpiked);
        let flagged: Vec<usize> = (0..12).filter(|t| churn[*t]).collect();
        assert_eq!(flagged, spikes);
        // Rises exactly in the spikes: P(X ≥ 4) with 4 rises in 11 periods, 4 drawn = 1/330.
        let mut level = 10.0;
        let values: Vec<f64> = (0..12)
            .map(|t| {
                level += if spikes.contains(&t) { 1.0 } else { -0.1 };
                level
            })
            .collect();
        let out = churn_test(&values, None, "", &c, false);
        assert_eq!((out.churn_periods, out.rose_in), (4, 4));
        assert_eq!((out.other_periods, out.rose_in_other), (7, 0));
        assert!((out.divergence_p.unwrap() - 1.0 / 330.0).abs() < 1e-12);
        // Rising in every period is no more often in churn periods than in the others.
        let rising: Vec<f64> = (0..12).map(f64::from).collect();
        let out = churn_test(&rising, None, "", &c, false);
        assert!((out.divergence_p.unwrap() - 1.0).abs() < 1e-12);
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

    /// Customers of a heavy-tailed metric, 4% of them churners producing 60% of a paying
    /// customer's rate.
    fn heavy_tailed_customers(n: usize, seed: u64) -> Vec<CustomerShare> {
        use crate::stats::series::standard_normal;
        use rand::Rng;
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        (0..n)
            .map(|_| {
                let rate = (1.5 * standard_normal(&mut rng)).exp();
                let periods = rng.random_range(1..=24) as f64;
                let churner = rng.random::<f64>() < 0.04;
                let churner_periods = if churner { 3.0_f64.min(periods) } else { 0.0 };
                CustomerShare {
                    churner_metric: 0.6 * rate * churner_periods,
                    paying_metric: rate * (periods - churner_periods),
                    churner_periods,
                    paying_periods: periods - churner_periods,
                }
            })
            .collect()
    }

    #[test]
    fn grouped_bootstrap_matches_the_exact_one() {
        // Resampling random groups gives the interval that resampling customers gives, to a
        // few percent of its width (both have Monte Carlo error with 999 resamples), here
        // with the heavy tail and rare churners that make the interval skewed.
        let customers = heavy_tailed_customers(3 * EXACT_BOOTSTRAP_MAX, 11);
        let point = weight_of(&customers).unwrap();
        let (elo, ehi) = percentile_interval(exact_resamples(&customers, 999, 3), 999).unwrap();
        let (nlo, nhi) = churner_weight_interval(&customers, 999, 3).unwrap();
        let width = ehi - elo;
        eprintln!("point {point:.4}: exact {elo:.4}..{ehi:.4}, grouped {nlo:.4}..{nhi:.4}");
        assert!(nlo < point && point < nhi);
        assert!(width > 0.01, "the check needs a real interval: {width}");
        assert!(
            (nlo - elo).abs() < 0.05 * width,
            "lower {nlo} against {elo}"
        );
        assert!(
            (nhi - ehi).abs() < 0.05 * width,
            "upper {nhi} against {ehi}"
        );
        assert_eq!(
            churner_weight_interval(&customers, 999, 3),
            Some((nlo, nhi)),
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

    /// A fast version of `examples/calibrate.rs divergence`: an unrelated metric rising in
    /// about three months of four rarely fails; signups pushed through a churn wave do.
    #[test]
    fn divergence_is_judged_against_the_metrics_own_rises() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(31);
        let normal = |rng: &mut rand_chacha::ChaCha8Rng| {
            (0..12).map(|_| rng.random::<f64>()).sum::<f64>() - 6.0
        };
        let (trials, months) = (300, 42);
        let (mut unrelated, mut pushed) = (0, 0);
        for _ in 0..trials {
            let mut paying: Vec<f64> = vec![400.0];
            let mut churned: Vec<f64> = vec![0.0];
            for t in 1..months {
                let rate: f64 = if (20..28).contains(&t) { 0.08 } else { 0.015 };
                let lost = (paying[t - 1] * rate).round();
                paying.push(paying[t - 1] - lost + (paying[t - 1] * 0.035).round());
                churned.push(lost);
            }
            let (mut a, mut b) = (100.0f64, 100.0f64);
            let mut steady = Vec::new();
            let mut signups = Vec::new();
            for t in 0..months {
                a *= (0.034 + 0.05 * normal(&mut rng)).exp();
                let push = if (20..28).contains(&t) { 0.15 } else { 0.0 };
                b *= (0.01 + push + 0.05 * normal(&mut rng)).exp();
                steady.push(a);
                signups.push(b);
            }
            let fails =
                |v: &[f64]| divergence_p_of_counts(v, &paying, &churned).is_some_and(|p| p <= 0.05);
            unrelated += usize::from(fails(&steady));
            pushed += usize::from(fails(&signups));
        }
        eprintln!("divergence: {unrelated} unrelated and {pushed} pushed of {trials} failed");
        assert!(
            unrelated <= 24,
            "{unrelated} of {trials} unrelated metrics failed"
        );
        assert!(pushed >= 150, "{pushed} of {trials} pushed signups failed");
    }
}
