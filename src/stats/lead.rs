//! The lead test: does revenue follow the metric by `lag_min..=lag_max` periods?
//!
//! 1. Both series become growth ([`growth`]); on request and with at least three full years,
//!    a fixed seasonal pattern is removed from each ([`seasonal_adjust`]).
//! 2. The metric's growth gets an AR(p) model (order by AIC); both growth series are filtered
//!    with it (Box–Jenkins prewhitening), so the metric's own persistence cannot manufacture a
//!    cross-correlation.
//! 3. `r(k)` = the cross-correlation of `statsmodels.tsa.stattools.ccf(e_revenue, e_metric)`
//!    at lag k (revenue at t + k against the metric at t) for every lag k in the range; the
//!    best lag maximises r.
//! 4. Significance of the maximum over the whole range: the same statistic on `surrogates`
//!    pairs of independent phase-randomised surrogates of the two growth series (each keeps its
//!    own autocorrelation and seasonality, their relation is destroyed), each run through the
//!    same prewhitening; `p = (1 + #{max* ≥ max}) / (1 + surrogates)`. Scanning many lags
//!    therefore does not manufacture significance. Phase randomisation (Theiler et al. 1992)
//!    rather than an AR-sieve bootstrap: it keeps each series' whole periodogram, seasonal
//!    peaks included, without assuming an AR order is right.
//! 5. The reverse direction (revenue leading the metric) is measured the same way with the
//!    revenue's AR model. Granger F-tests (metric → revenue and back) are reported beside.
//! 6. Stability: the correlation at the best lag over pairs ending in the latest
//!    `RECENT_MONTHS` months against the earlier pairs; a lead that has faded is `outgrown`.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::series::{
    ccf, fit_ar, granger, growth, pearson, seasonal_adjust, Granger, PhaseSurrogates,
};

/// Where the level series sit in the year: `period` seasons a year, the first level value in
/// season `first`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Seasons {
    pub period: usize,
    pub first: usize,
}

/// Settings of the lead test, lags in periods.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LeadSettings {
    pub lag_min: usize,
    pub lag_max: usize,
    pub alpha: f64,
    pub surrogates: usize,
    pub seed: u64,
    /// Seasonal adjustment (`--seasonal on`), applied when the data hold at least three full
    /// years.
    pub seasons: Option<Seasons>,
    /// Length of the "recent" window of the stability check, in periods.
    pub recent: usize,
}

/// Full years of data needed before seasonal adjustment is applied.
pub const SEASONAL_MIN_YEARS: usize = 3;
/// The stability check's recent window, in months.
pub const RECENT_MONTHS: u32 = 24;
/// Fewest pairs on each side of the stability split.
pub const STABILITY_MIN_PAIRS: usize = 8;
/// A lead is outgrown when the earlier correlation was at least this strong...
pub const OUTGROWN_EARLIER_R: f64 = 0.3;
/// ...and the recent one fell by at least this much, to below `OUTGROWN_RECENT_R`.
pub const OUTGROWN_DROP: f64 = 0.3;
pub const OUTGROWN_RECENT_R: f64 = 0.2;

/// Fewest overlapping pairs a correlation at the longest lag may rest on.
pub const MIN_PAIRS: usize = 12;
/// Highest AR order tried when prewhitening.
pub const MAX_AR_ORDER: usize = 4;
/// Growth correlation at lag 0 from which a metric is revenue in disguise.
pub const REVENUE_R: f64 = 0.95;
/// Fewest residual degrees of freedom the Granger regression must keep.
pub const GRANGER_MIN_DF: usize = 10;

#[derive(Debug, Clone, PartialEq)]
pub struct LeadScan {
    /// `(lag, r)` for every lag in the range, metric leading.
    pub forward: Vec<(usize, f64)>,
    /// `(lag, r)`, revenue leading.
    pub reverse: Vec<(usize, f64)>,
}

impl LeadScan {
    pub fn best_forward(&self) -> Option<(usize, f64)> {
        best(&self.forward)
    }
    pub fn best_reverse(&self) -> Option<(usize, f64)> {
        best(&self.reverse)
    }
}

/// The highest r; ties go to the shortest lag.
fn best(rs: &[(usize, f64)]) -> Option<(usize, f64)> {
    rs.iter().copied().fold(None, |acc, (k, r)| match acc {
        Some((_, best_r)) if best_r >= r => acc,
        _ => Some((k, r)),
    })
}

/// Both growth series filtered with the AR model of `leader` (Box–Jenkins prewhitening).
fn prewhiten(leader: &[f64], follower: &[f64]) -> (Vec<f64>, Vec<f64>) {
    let model = fit_ar(leader, MAX_AR_ORDER);
    (model.filter(leader), model.filter(follower))
}

/// Prewhitened cross-correlations of `leader` growth against `follower` growth.
fn scan_direction(leader: &[f64], follower: &[f64], settings: &LeadSettings) -> Vec<(usize, f64)> {
    let (e_leader, e_follower) = prewhiten(leader, follower);
    let by_lag = ccf(&e_follower, &e_leader, settings.lag_max + 1);
    (settings.lag_min..=settings.lag_max)
        .filter_map(|k| {
            by_lag
                .get(k)
                .copied()
                .filter(|r| r.is_finite())
                .map(|r| (k, r))
        })
        .collect()
}

/// Both directions on growth series.
pub fn scan(metric_growth: &[f64], revenue_growth: &[f64], settings: &LeadSettings) -> LeadScan {
    LeadScan {
        forward: scan_direction(metric_growth, revenue_growth, settings),
        reverse: scan_direction(revenue_growth, metric_growth, settings),
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct LeadOutcome {
    pub n_periods: usize,
    /// Periods still needed for the longest lag, when there are too few.
    pub needs_more_periods: Option<usize>,
    pub scan: LeadScan,
    pub best_lag: Option<usize>,
    pub r: Option<f64>,
    pub p_value: Option<f64>,
    /// The correlation the best lag must exceed for `p <= alpha` under the surrogate null (the
    /// null band of the cross-correlation chart).
    pub null_r: Option<f64>,
    pub reverse_best_lag: Option<usize>,
    pub reverse_r: Option<f64>,
    pub reverse_p_value: Option<f64>,
    /// Correlation of the two growth series in the same period.
    pub same_period_r: Option<f64>,
    pub granger: Option<Granger>,
    pub reverse_granger: Option<Granger>,
    /// Whether a seasonal pattern was removed before testing.
    pub seasonally_adjusted: bool,
    /// Correlation at the best lag over the recent window and before it.
    pub recent_r: Option<f64>,
    pub earlier_r: Option<f64>,
    pub outgrown: bool,
}

/// The seasonal adjustment applied to growth series, or none.
struct Adjustment {
    seasons: Option<(Vec<usize>, usize)>,
}

impl Adjustment {
    fn new(seasons: Option<Seasons>, len: usize) -> Self {
        Self {
            seasons: seasons.map(|s| {
                // Growth value i belongs to level period i + 1.
                let season = (0..len).map(|i| (s.first + i + 1) % s.period).collect();
                (season, s.period)
            }),
        }
    }

    fn apply(&self, growth: &[f64]) -> Vec<f64> {
        match &self.seasons {
            Some((season, period)) => seasonal_adjust(growth, season, *period),
            None => growth.to_vec(),
        }
    }
}

/// Periods needed for the longest lag: growth loses one, the AR filter up to `MAX_AR_ORDER`.
pub fn periods_needed(settings: &LeadSettings) -> usize {
    settings.lag_max + MIN_PAIRS + 1 + MAX_AR_ORDER
}

/// The full lead test on two level series of equal length.
pub fn lead_test(metric: &[f64], revenue: &[f64], settings: &LeadSettings) -> LeadOutcome {
    let n_periods = metric.len().min(revenue.len());
    let (raw_mg, _) = growth(&metric[..n_periods]);
    let (raw_rg, _) = growth(&revenue[..n_periods]);
    let seasonal = settings
        .seasons
        .filter(|s| s.period > 1 && n_periods >= SEASONAL_MIN_YEARS * s.period);
    let adjust = Adjustment::new(seasonal, raw_mg.len());
    let (mg, rg) = (adjust.apply(&raw_mg), adjust.apply(&raw_rg));
    let needed = periods_needed(settings);
    let same_period_r = pearson(&mg, &rg);
    let mut outcome = LeadOutcome {
        n_periods,
        needs_more_periods: (n_periods < needed).then(|| needed - n_periods),
        scan: LeadScan {
            forward: Vec::new(),
            reverse: Vec::new(),
        },
        best_lag: None,
        r: None,
        p_value: None,
        null_r: None,
        reverse_best_lag: None,
        reverse_r: None,
        reverse_p_value: None,
        same_period_r,
        granger: None,
        reverse_granger: None,
        seasonally_adjusted: seasonal.is_some(),
        recent_r: None,
        earlier_r: None,
        outgrown: false,
    };
    if outcome.needs_more_periods.is_some() {
        return outcome;
    }
    let observed = scan(&mg, &rg, settings);
    let forward = observed.best_forward();
    let reverse = observed.best_reverse();
    let null = surrogate_p_values(&raw_mg, &raw_rg, &adjust, forward, reverse, settings);
    let granger_lags = granger_order(mg.len(), settings.lag_max);
    outcome.best_lag = forward.map(|(k, _)| k);
    outcome.r = forward.map(|(_, r)| r);
    outcome.p_value = null.forward_p;
    outcome.null_r = null.critical_r;
    outcome.reverse_best_lag = reverse.map(|(k, _)| k);
    outcome.reverse_r = reverse.map(|(_, r)| r);
    outcome.reverse_p_value = null.reverse_p;
    outcome.granger = granger_lags.and_then(|p| granger(&rg, &mg, p));
    outcome.reverse_granger = granger_lags.and_then(|p| granger(&mg, &rg, p));
    if let Some((lag, _)) = forward {
        let (earlier, recent) = stability(&mg, &rg, lag, settings.recent);
        outcome.recent_r = recent;
        outcome.earlier_r = earlier;
        outcome.outgrown = matches!((earlier, recent), (Some(e), Some(r))
            if e >= OUTGROWN_EARLIER_R && r <= e - OUTGROWN_DROP && r < OUTGROWN_RECENT_R);
    }
    outcome.scan = observed;
    outcome
}

/// Pearson correlation of the prewhitened series at `lag`, over the pairs whose revenue value
/// falls before the last `recent` growth periods, and over those within them.
fn stability(mg: &[f64], rg: &[f64], lag: usize, recent: usize) -> (Option<f64>, Option<f64>) {
    let (e_metric, e_revenue) = prewhiten(mg, rg);
    let n = e_metric.len().min(e_revenue.len());
    if lag >= n {
        return (None, None);
    }
    // Pair j: metric at j, revenue at j + lag.
    let pairs = n - lag;
    let split = (n.saturating_sub(recent)).saturating_sub(lag).min(pairs);
    let side = |range: std::ops::Range<usize>| -> Option<f64> {
        if range.len() < STABILITY_MIN_PAIRS {
            return None;
        }
        let xs: Vec<f64> = range.clone().map(|j| e_metric[j]).collect();
        let ys: Vec<f64> = range.map(|j| e_revenue[j + lag]).collect();
        pearson(&xs, &ys)
    };
    (side(0..split), side(split..pairs))
}

/// The Granger lag order the data can carry: the longest lag up to `lag_max` that leaves
/// `GRANGER_MIN_DF` residual degrees of freedom (`n - p - (2p + 1)`).
pub fn granger_order(n_growth: usize, lag_max: usize) -> Option<usize> {
    let p = n_growth.saturating_sub(1 + GRANGER_MIN_DF) / 3;
    let p = p.min(lag_max);
    (p >= 1).then_some(p)
}

/// What the surrogate null says of the observed scan.
struct NullResult {
    forward_p: Option<f64>,
    reverse_p: Option<f64>,
    critical_r: Option<f64>,
}

/// The smallest forward maximum that `p <= alpha` needs: with `S` surrogate maxima, `p = (1 +
/// #{max* >= r}) / (1 + S) <= alpha` holds when at most `m = floor(alpha (1 + S)) - 1` of them
/// reach `r`, that is when `r` exceeds the `(m + 1)`-th largest.
fn critical_r(mut maxima: Vec<f64>, alpha: f64) -> Option<f64> {
    let allowed = (alpha * (maxima.len() + 1) as f64 + 1e-9).floor() as usize;
    if allowed == 0 || allowed > maxima.len() {
        return None;
    }
    maxima.sort_by(|a, b| b.total_cmp(a));
    Some(maxima[allowed - 1]).filter(|r| r.is_finite())
}

/// Max-statistic p-values of the best forward and reverse correlations.
///
/// Surrogates are made from the unadjusted growth and go through the same seasonal adjustment
/// as the data: the null must see the whole pipeline (adjusting first and randomising after
/// inflates false passes, as the adjustment removes degrees of freedom the surrogates keep).
fn surrogate_p_values(
    mg: &[f64],
    rg: &[f64],
    adjust: &Adjustment,
    forward: Option<(usize, f64)>,
    reverse: Option<(usize, f64)>,
    settings: &LeadSettings,
) -> NullResult {
    if settings.surrogates == 0 {
        return NullResult {
            forward_p: None,
            reverse_p: None,
            critical_r: None,
        };
    }
    let mut rng = ChaCha8Rng::seed_from_u64(settings.seed);
    let metric_surrogates = PhaseSurrogates::new(mg);
    let revenue_surrogates = PhaseSurrogates::new(rg);
    let (mut beat_forward, mut beat_reverse) = (0usize, 0usize);
    let mut maxima = Vec::with_capacity(settings.surrogates);
    for _ in 0..settings.surrogates {
        let ms = adjust.apply(&metric_surrogates.generate(&mut rng));
        let rs = adjust.apply(&revenue_surrogates.generate(&mut rng));
        let s = scan(&ms, &rs, settings);
        let max_forward = s.best_forward().map_or(f64::NEG_INFINITY, |(_, r)| r);
        let max_reverse = s.best_reverse().map_or(f64::NEG_INFINITY, |(_, r)| r);
        maxima.push(max_forward);
        if let Some((_, r)) = forward {
            beat_forward += usize::from(max_forward >= r);
        }
        if let Some((_, r)) = reverse {
            beat_reverse += usize::from(max_reverse >= r);
        }
    }
    let p = |beaten: usize| (1 + beaten) as f64 / (1 + settings.surrogates) as f64;
    NullResult {
        forward_p: forward.map(|_| p(beat_forward)),
        reverse_p: reverse.map(|_| p(beat_reverse)),
        critical_r: critical_r(maxima, settings.alpha),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::Rng;

    fn settings() -> LeadSettings {
        LeadSettings {
            lag_min: 3,
            lag_max: 12,
            alpha: 0.05,
            surrogates: 199,
            seed: 0,
            seasons: None,
            recent: 24,
        }
    }

    #[test]
    fn critical_r_is_where_the_p_value_crosses_alpha() {
        let maxima: Vec<f64> = (1..=19).map(f64::from).collect();
        // 19 surrogates: only r above all of them reaches p = 1/20 = 0.05.
        assert_eq!(critical_r(maxima.clone(), 0.05), Some(19.0));
        // 999 surrogates at 0.05: at most 49 may reach r, so r must exceed the 50th largest.
        let maxima: Vec<f64> = (1..=999).map(f64::from).collect();
        assert_eq!(critical_r(maxima.clone(), 0.05), Some(950.0));
        assert_eq!(critical_r(maxima, 0.0005), None);
        // On data, the band and the p-value always agree.
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        for _ in 0..20 {
            let walk = |rng: &mut ChaCha8Rng| -> Vec<f64> {
                let mut level = 100.0;
                (0..48)
                    .map(|_| {
                        level *= 1.0 + 0.05 * (rng.random::<f64>() - 0.5);
                        level
                    })
                    .collect()
            };
            let (a, b) = (walk(&mut rng), walk(&mut rng));
            let outcome = lead_test(&a, &b, &settings());
            let (r, p, band) = (
                outcome.r.unwrap(),
                outcome.p_value.unwrap(),
                outcome.null_r.unwrap(),
            );
            assert_eq!(p <= 0.05, r > band, "r {r} band {band} p {p}");
        }
    }

    /// A planted truth: revenue growth is the metric's growth six periods earlier plus noise.
    #[test]
    fn finds_a_planted_six_period_lead() {
        let mut rng = ChaCha8Rng::seed_from_u64(42);
        let n = 48;
        let shocks: Vec<f64> = (0..n + 6).map(|_| rng.random::<f64>() - 0.5).collect();
        let mut metric = vec![100.0];
        let mut revenue = vec![1000.0];
        for t in 1..n {
            metric.push(metric[t - 1] * (1.0 + 0.1 * shocks[t + 6]));
            let noise = 0.02 * (rng.random::<f64>() - 0.5);
            revenue.push(revenue[t - 1] * (1.0 + 0.1 * shocks[t] + noise));
        }
        let outcome = lead_test(&metric, &revenue, &settings());
        assert_eq!(outcome.best_lag, Some(6));
        assert!(outcome.r.unwrap() > 0.8);
        assert!(outcome.p_value.unwrap() <= 0.01);
        assert!(outcome.granger.unwrap().p_value < 0.05);
    }

    #[test]
    fn too_short_is_inconclusive_with_the_shortfall() {
        let series: Vec<f64> = (1..=20).map(f64::from).collect();
        let outcome = lead_test(&series, &series, &settings());
        assert_eq!(
            outcome.needs_more_periods,
            Some(periods_needed(&settings()) - 20)
        );
        assert_eq!(outcome.best_lag, None);
    }

    #[test]
    fn granger_order_leaves_degrees_of_freedom() {
        assert_eq!(granger_order(35, 12), Some(8));
        assert_eq!(granger_order(100, 12), Some(12));
        assert_eq!(granger_order(12, 12), None);
    }
}
