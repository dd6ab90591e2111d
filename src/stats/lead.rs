//! The lead test: does revenue follow the metric by `lag_min..=lag_max` periods?
//!
//! 1. Both series become growth ([`growth`]); on request and with at least three full years,
//!    a fixed seasonal pattern is removed from each ([`seasonal_adjust`]).
//! 2. Each growth series is standardised ([`standardise`]): without its linear trend, its
//!    steady change of volatility and its distribution (normal scores). Spiky, heavy-tailed
//!    and calming growth then looks like the Gaussian, stationary series a Fourier null
//!    describes, and one coincident spike cannot carry a correlation.
//! 3. The metric's series gets an AR(p) model (order by AIC); both series are filtered with it
//!    (Box–Jenkins prewhitening), so the metric's own persistence cannot manufacture a
//!    cross-correlation.
//! 4. `r(k)` = the cross-correlation of `statsmodels.tsa.stattools.ccf(e_revenue, e_metric)`
//!    at lag k (revenue at t + k against the metric at t), and its studentised form
//!    `t(k) = r(k) · sqrt(n − k)` (r(k) rests on n − k pairs, so its null spread grows with
//!    k; the raw r would make the maximum favour long lags). The best lag maximises `t(k)`.
//! 5. Significance of the maximum over the whole range against `surrogates` phase-randomised
//!    surrogates of revenue alone (Theiler et al. 1992), each standardised again and run
//!    through the same filtering against the observed metric: `p = (1 + #{max* ≥ max}) /
//!    (1 + surrogates)`. The same surrogates serve every candidate of a run ([`RevenueNull`]),
//!    so that the family-wise adjustment ([`super::family`]) sees the candidates' dependence
//!    exactly as it is: the metrics are never resampled.
//! 6. The reverse direction (revenue leading the metric) is measured the same way with the
//!    revenue's AR model (refitted on each surrogate). Granger F-tests (metric → revenue and
//!    back, on the growth series) are reported beside.
//! 7. Stability: the correlation at the best lag over pairs ending in the latest
//!    `RECENT_MONTHS` months against the earlier pairs; a lead that was significant before and
//!    fell significantly is `outgrown`.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use statrs::distribution::{ContinuousCDF, Normal};

use super::family::raw_p;
use super::series::{
    ccf_at, ccf_at_into, fit_ar, granger, growth, pearson, seasonal_adjust, standardise, ArModel,
    CcfScratch, Granger, PhaseSurrogates,
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
/// A faded lead is one whose recent correlation is below this...
pub const OUTGROWN_RECENT_R: f64 = 0.2;

/// Fewest overlapping pairs a correlation at the longest lag may rest on.
pub const MIN_PAIRS: usize = 12;
/// Highest AR order tried when prewhitening.
pub const MAX_AR_ORDER: usize = 4;
/// Growth correlation at lag 0 from which a metric is revenue in disguise.
pub const REVENUE_R: f64 = 0.95;
/// Fewest residual degrees of freedom the Granger regression must keep.
pub const GRANGER_MIN_DF: usize = 10;

/// The best lag of a scan: its lag, its correlation and its studentised statistic.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Best {
    pub lag: usize,
    pub r: f64,
    pub t: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct LeadScan {
    /// `(lag, r)` for every lag in the range, metric leading.
    pub forward: Vec<(usize, f64)>,
    /// `(lag, r)`, revenue leading.
    pub reverse: Vec<(usize, f64)>,
    /// Pairs behind r at lag 0 (the filtered series' length).
    pub pairs: usize,
}

impl LeadScan {
    pub fn best_forward(&self) -> Option<Best> {
        best(self.forward.iter().copied(), self.pairs)
    }
    pub fn best_reverse(&self) -> Option<Best> {
        best(self.reverse.iter().copied(), self.pairs)
    }
}

/// The lag with the highest studentised correlation `r · sqrt(n − k)`; ties go to the shortest.
fn best(rs: impl IntoIterator<Item = (usize, f64)>, pairs: usize) -> Option<Best> {
    rs.into_iter().fold(None, |acc: Option<Best>, (lag, r)| {
        let t = r * ((pairs.saturating_sub(lag)) as f64).sqrt();
        match acc {
            Some(b) if b.t >= t => acc,
            _ => Some(Best { lag, r, t }),
        }
    })
}

/// Cross-correlations `ccf(follower, leader)[k]` for k in the range: the follower at t + k
/// against the leader at t.
fn scan_filtered(follower: &[f64], leader: &[f64], settings: &LeadSettings) -> Vec<(usize, f64)> {
    let lags = settings.lag_min..settings.lag_max + 1;
    finite_lags(&ccf_at(follower, leader, lags.clone()), lags).collect()
}

/// `(lag, r)` of the finite correlations `rs` of the lags `lags`.
fn finite_lags(
    rs: &[f64],
    lags: std::ops::Range<usize>,
) -> impl Iterator<Item = (usize, f64)> + '_ {
    rs.iter()
        .zip(lags)
        .filter(|(r, _)| r.is_finite())
        .map(|(&r, k)| (k, r))
}

/// The highest studentised correlation of a scan, `-inf` when there is none: [`best`] of
/// [`scan_filtered`], worked out in `scratch`.
fn max_statistic(
    follower: &[f64],
    leader: &[f64],
    settings: &LeadSettings,
    scratch: &mut CcfScratch,
) -> f64 {
    let lags = settings.lag_min..settings.lag_max + 1;
    let rs = ccf_at_into(follower, leader, lags.clone(), scratch);
    best(finite_lags(rs, lags), follower.len().min(leader.len())).map_or(f64::NEG_INFINITY, |b| b.t)
}

#[derive(Debug, Clone, PartialEq)]
pub struct LeadOutcome {
    pub n_periods: usize,
    /// Periods still needed for the longest lag, when there are too few.
    pub needs_more_periods: Option<usize>,
    pub scan: LeadScan,
    pub best_lag: Option<usize>,
    pub r: Option<f64>,
    /// Studentised statistic of the best lag.
    pub statistic: Option<f64>,
    /// p-value of this candidate tested alone (a pre-specified hypothesis).
    pub p_value: Option<f64>,
    /// Adjusted over the run's family of tests (set by the run; `None` when tested alone).
    pub p_adjusted: Option<f64>,
    /// The candidate's own tests (aggregate and, with accounts, the account line) adjusted
    /// among themselves only: the candidate as one pre-specified hypothesis.
    pub p_alone: Option<f64>,
    /// How many candidates the adjustment is over.
    pub family_size: Option<usize>,
    /// The correlation the best lag must exceed for `p <= alpha` under the null (the band of
    /// the cross-correlation chart); in a run, the family-wise one.
    pub null_r: Option<f64>,
    /// The best lag's r less the median best-of-range r of unrelated series: the lead's
    /// strength without the scan's inflation.
    pub excess_r: Option<f64>,
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
#[derive(Debug, Clone)]
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

/// Revenue's side of the test, computed once per run.
#[derive(Debug, Clone)]
pub struct RevenueSide {
    n_periods: usize,
    /// Raw growth (for Granger and the same-period correlation).
    growth: Vec<f64>,
    adjust: Adjustment,
    /// Standardised (and seasonally adjusted) growth.
    z: Vec<f64>,
    seasonally_adjusted: bool,
}

impl RevenueSide {
    pub fn new(revenue: &[f64], settings: &LeadSettings) -> RevenueSide {
        let n_periods = revenue.len();
        let (raw, _) = growth(revenue);
        let seasonal = settings
            .seasons
            .filter(|s| s.period > 1 && n_periods >= SEASONAL_MIN_YEARS * s.period);
        let adjust = Adjustment::new(seasonal, raw.len());
        let z = adjust.apply(&standardise(&raw));
        RevenueSide {
            n_periods,
            growth: raw,
            adjust,
            z,
            seasonally_adjusted: seasonal.is_some(),
        }
    }
}

/// One surrogate of revenue, as the test sees it.
#[derive(Debug, Clone)]
struct RevenueDraw {
    z: Vec<f64>,
    /// Its own AR model and its own filtered series (the reverse direction).
    model: ArModel,
    own: Vec<f64>,
}

/// The null of a run: surrogates of revenue shared by every candidate, drawn from the run's
/// seed (so the same input and seed give the same draws whatever the candidates).
#[derive(Debug, Clone)]
pub struct RevenueNull {
    draws: Vec<RevenueDraw>,
}

impl RevenueNull {
    /// `settings.surrogates` surrogates of the standardised revenue growth, each standardised
    /// again (its distribution back to exact normal scores, its trend removed) and adjusted as
    /// the data were.
    pub fn new(revenue: &RevenueSide, settings: &LeadSettings) -> RevenueNull {
        use rayon::prelude::*;
        let mut rng = ChaCha8Rng::seed_from_u64(settings.seed ^ NULL_SEED);
        let generator = PhaseSurrogates::new(&revenue.z);
        // The surrogates in the order of the one random stream, then each one's standardising
        // and AR fit on any thread: the same draws whatever the thread count.
        let surrogates: Vec<Vec<f64>> = (0..settings.surrogates)
            .map(|_| generator.generate(&mut rng))
            .collect();
        let draws = surrogates
            .into_par_iter()
            .map(|surrogate| {
                let z = revenue.adjust.apply(&standardise(&surrogate));
                let model = fit_ar(&z, MAX_AR_ORDER);
                let own = model.filter(&z);
                RevenueDraw { z, model, own }
            })
            .collect();
        RevenueNull { draws }
    }

    pub fn len(&self) -> usize {
        self.draws.len()
    }

    pub fn is_empty(&self) -> bool {
        self.draws.is_empty()
    }
}

/// Mixed into the run's seed for the revenue surrogates.
const NULL_SEED: u64 = 0x5eed_0f00_d0d0_0001;

/// One candidate, ready to be tested against the run's null.
#[derive(Debug, Clone)]
pub struct Prepared {
    outcome: LeadOutcome,
    /// The metric's AR model, its filtered series, and its standardised growth.
    model: ArModel,
    e_metric: Vec<f64>,
    z_metric: Vec<f64>,
    forward: Option<Best>,
    reverse: Option<Best>,
}

/// Everything of the test that does not need the null: the scans, the direction, Granger,
/// stability.
pub fn prepare(metric: &[f64], revenue: &RevenueSide, settings: &LeadSettings) -> Prepared {
    let n_periods = metric.len().min(revenue.n_periods);
    let (raw_mg, _) = growth(&metric[..n_periods]);
    let rg = &revenue.growth[..raw_mg.len().min(revenue.growth.len())];
    let needed = periods_needed(settings);
    let mut outcome = LeadOutcome {
        n_periods,
        needs_more_periods: (n_periods < needed).then(|| needed - n_periods),
        scan: LeadScan {
            forward: Vec::new(),
            reverse: Vec::new(),
            pairs: 0,
        },
        best_lag: None,
        r: None,
        statistic: None,
        p_value: None,
        p_adjusted: None,
        p_alone: None,
        family_size: None,
        null_r: None,
        excess_r: None,
        reverse_best_lag: None,
        reverse_r: None,
        reverse_p_value: None,
        same_period_r: pearson(&raw_mg, rg),
        granger: None,
        reverse_granger: None,
        seasonally_adjusted: revenue.seasonally_adjusted,
        recent_r: None,
        earlier_r: None,
        outgrown: false,
    };
    let z_metric = revenue.adjust.apply(&standardise(&raw_mg));
    let model = fit_ar(&z_metric, MAX_AR_ORDER);
    let e_metric = model.filter(&z_metric);
    let mut prepared = Prepared {
        outcome,
        model,
        e_metric,
        z_metric,
        forward: None,
        reverse: None,
    };
    if prepared.outcome.needs_more_periods.is_some() {
        return prepared;
    }
    outcome = prepared.outcome.clone();
    let e_revenue = prepared.model.filter(&revenue.z);
    let revenue_model = fit_ar(&revenue.z, MAX_AR_ORDER);
    let (e_rev_own, e_metric_rev) = (
        revenue_model.filter(&revenue.z),
        revenue_model.filter(&prepared.z_metric),
    );
    let scan = LeadScan {
        forward: scan_filtered(&e_revenue, &prepared.e_metric, settings),
        reverse: scan_filtered(&e_metric_rev, &e_rev_own, settings),
        pairs: prepared.e_metric.len(),
    };
    let forward = scan.best_forward();
    let reverse = best(scan.reverse.iter().copied(), e_rev_own.len());
    let granger_lags = granger_order(raw_mg.len(), settings.lag_max);
    outcome.best_lag = forward.map(|b| b.lag);
    outcome.r = forward.map(|b| b.r);
    outcome.statistic = forward.map(|b| b.t);
    outcome.reverse_best_lag = reverse.map(|b| b.lag);
    outcome.reverse_r = reverse.map(|b| b.r);
    outcome.granger = granger_lags.and_then(|p| granger(rg, &raw_mg, p));
    outcome.reverse_granger = granger_lags.and_then(|p| granger(&raw_mg, rg, p));
    if let Some(b) = forward {
        let (earlier, recent) = stability(&prepared.e_metric, &e_revenue, b.lag, settings.recent);
        outcome.earlier_r = earlier.map(|(r, _)| r);
        outcome.recent_r = recent.map(|(r, _)| r);
        outcome.outgrown = faded(earlier, recent, settings);
    }
    outcome.scan = scan;
    prepared.outcome = outcome;
    prepared.forward = forward;
    prepared.reverse = reverse;
    prepared
}

/// The candidate's forward and reverse maxima under every draw of the null (`-inf` where the
/// candidate has no statistic).
pub fn null_maxima(prepared: &Prepared, null: &RevenueNull, settings: &LeadSettings) -> NullMaxima {
    if prepared.forward.is_none() && prepared.reverse.is_none() {
        return NullMaxima {
            forward: vec![f64::NEG_INFINITY; null.len()],
            reverse: vec![f64::NEG_INFINITY; null.len()],
        };
    }
    let mut forward = Vec::with_capacity(null.len());
    let mut reverse = Vec::with_capacity(null.len());
    let (mut filtered, mut scratch) = (Vec::new(), CcfScratch::default());
    for draw in &null.draws {
        prepared.model.filter_into(&draw.z, &mut filtered);
        forward.push(max_statistic(
            &filtered,
            &prepared.e_metric,
            settings,
            &mut scratch,
        ));
        draw.model.filter_into(&prepared.z_metric, &mut filtered);
        reverse.push(max_statistic(&filtered, &draw.own, settings, &mut scratch));
    }
    NullMaxima { forward, reverse }
}

/// A candidate's maxima in every null draw.
#[derive(Debug, Clone, PartialEq)]
pub struct NullMaxima {
    pub forward: Vec<f64>,
    pub reverse: Vec<f64>,
}

impl Prepared {
    /// The observed forward statistic, for the family-wise adjustment.
    pub fn statistic(&self) -> Option<f64> {
        self.forward.map(|b| b.t)
    }

    /// The outcome with the raw p-values of this candidate against its null maxima, the null
    /// band (the statistic a raw p of `band_level` needs: alpha alone, the family-wise level in
    /// a run) and the lead's strength without the scan's inflation.
    pub fn finish(self, null: &NullMaxima, band_level: f64) -> LeadOutcome {
        let mut outcome = self.outcome;
        if null.forward.is_empty() {
            return outcome;
        }
        let pairs = outcome.scan.pairs;
        let at_best = |t: f64, lag: usize| t / ((pairs.saturating_sub(lag)) as f64).sqrt();
        if let Some(b) = self.forward {
            outcome.p_value = Some(raw_p(b.t, &null.forward));
            outcome.p_alone = outcome.p_value;
            outcome.null_r = critical(&null.forward, band_level).map(|t| at_best(t, b.lag));
            let median = quantile(&null.forward, 0.5);
            outcome.excess_r = median.map(|m| (b.r - at_best(m, b.lag)).max(0.0));
        }
        if let Some(b) = self.reverse {
            outcome.reverse_p_value = Some(raw_p(b.t, &null.reverse));
        }
        outcome
    }
}

/// The full lead test of one candidate on its own: its own null of `settings.surrogates`
/// revenue surrogates, raw p-values (no family). The run's pipeline prepares every candidate,
/// shares one null and adjusts; this is the same test for one pair (calibration, tests).
pub fn lead_test(metric: &[f64], revenue: &[f64], settings: &LeadSettings) -> LeadOutcome {
    let side = RevenueSide::new(revenue, settings);
    let prepared = prepare(metric, &side, settings);
    if prepared.outcome.needs_more_periods.is_some() || settings.surrogates == 0 {
        return prepared.outcome;
    }
    let null = RevenueNull::new(&side, settings);
    let maxima = null_maxima(&prepared, &null, settings);
    prepared.finish(&maxima, settings.alpha)
}

/// The smallest statistic that `p <= alpha` needs: with `S` null maxima, `p = (1 + #{max* >=
/// t}) / (1 + S) <= alpha` holds when at most `m = floor(alpha (1 + S)) - 1` of them reach `t`,
/// that is when `t` exceeds the `(m + 1)`-th largest.
pub fn critical(maxima: &[f64], alpha: f64) -> Option<f64> {
    let allowed = (alpha * (maxima.len() + 1) as f64 + 1e-9).floor() as usize;
    if allowed == 0 || allowed > maxima.len() {
        return None;
    }
    let mut sorted: Vec<f64> = maxima.to_vec();
    sorted.sort_by(|a, b| b.total_cmp(a));
    Some(sorted[allowed - 1]).filter(|t| t.is_finite())
}

fn quantile(values: &[f64], q: f64) -> Option<f64> {
    let mut finite: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    if finite.is_empty() {
        return None;
    }
    finite.sort_by(f64::total_cmp);
    Some(finite[((finite.len() - 1) as f64 * q).round() as usize])
}

/// Pearson correlation (and pair count) of the prewhitened series at `lag`, over the pairs
/// whose revenue value falls before the last `recent` growth periods, and over those within them.
type Side = Option<(f64, usize)>;

fn stability(e_metric: &[f64], e_revenue: &[f64], lag: usize, recent: usize) -> (Side, Side) {
    let n = e_metric.len().min(e_revenue.len());
    if lag >= n {
        return (None, None);
    }
    // Pair j: metric at j, revenue at j + lag.
    let pairs = n - lag;
    let split = (n.saturating_sub(recent)).saturating_sub(lag).min(pairs);
    let side = |range: std::ops::Range<usize>| -> Side {
        if range.len() < STABILITY_MIN_PAIRS {
            return None;
        }
        let xs: Vec<f64> = range.clone().map(|j| e_metric[j]).collect();
        let ys: Vec<f64> = range.clone().map(|j| e_revenue[j + lag]).collect();
        pearson(&xs, &ys).map(|r| (r, range.len()))
    };
    (side(0..split), side(split..pairs))
}

/// A lead has faded when the earlier pairs alone show it (Fisher's z, one-sided at alpha
/// divided by the lags scanned, as the lag was chosen on all pairs), the recent pairs show
/// significantly less (the two-sample Fisher z test, one-sided at alpha) and the recent
/// correlation is below `OUTGROWN_RECENT_R`.
fn faded(earlier: Side, recent: Side, settings: &LeadSettings) -> bool {
    let (Some((r_early, n_early)), Some((r_recent, n_recent))) = (earlier, recent) else {
        return false;
    };
    if n_early <= 3 || n_recent <= 3 || r_recent >= OUTGROWN_RECENT_R {
        return false;
    }
    let normal = Normal::standard();
    let fisher = |r: f64| r.clamp(-0.999_999, 0.999_999).atanh();
    let lags = (settings.lag_max - settings.lag_min + 1) as f64;
    let z_early = fisher(r_early) * ((n_early - 3) as f64).sqrt();
    let early_lead = 1.0 - normal.cdf(z_early) <= settings.alpha / lags;
    let spread = (1.0 / (n_early - 3) as f64 + 1.0 / (n_recent - 3) as f64).sqrt();
    let z_drop = (fisher(r_early) - fisher(r_recent)) / spread;
    let dropped = 1.0 - normal.cdf(z_drop) <= settings.alpha;
    early_lead && dropped
}

/// The Granger lag order the data can carry: the longest lag up to `lag_max` that leaves
/// `GRANGER_MIN_DF` residual degrees of freedom (`n - p - (2p + 1)`).
pub fn granger_order(n_growth: usize, lag_max: usize) -> Option<usize> {
    let p = n_growth.saturating_sub(1 + GRANGER_MIN_DF) / 3;
    let p = p.min(lag_max);
    (p >= 1).then_some(p)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::Rng;

    #[test]
    fn the_null_scan_in_scratch_is_the_best_of_the_filtered_scan() {
        let mut rng = ChaCha8Rng::seed_from_u64(21);
        let settings = settings();
        let mut scratch = CcfScratch::default();
        // Lengths around the lag range (lags past the series dropped), one constant series (no
        // finite correlation): the same scratch throughout.
        for (n_follower, n_leader) in [(30, 30), (40, 33), (14, 20), (12, 12), (25, 25)] {
            let follower: Vec<f64> = (0..n_follower).map(|_| rng.random::<f64>() - 0.5).collect();
            let leader: Vec<f64> = if n_follower == 25 {
                vec![1.0; n_leader]
            } else {
                (0..n_leader).map(|_| rng.random::<f64>() - 0.5).collect()
            };
            let pairs = n_follower.min(n_leader);
            let expected = best(scan_filtered(&follower, &leader, &settings), pairs)
                .map_or(f64::NEG_INFINITY, |b| b.t);
            let got = max_statistic(&follower, &leader, &settings, &mut scratch);
            assert_eq!(
                got.to_bits(),
                expected.to_bits(),
                "{n_follower} x {n_leader}"
            );
        }
        let model = fit_ar(&(0..40).map(|_| rng.random::<f64>()).collect::<Vec<_>>(), 3);
        let mut filtered = vec![9.0; 50];
        let z: Vec<f64> = (0..36).map(|_| rng.random::<f64>()).collect();
        model.filter_into(&z, &mut filtered);
        assert_eq!(filtered, model.filter(&z));
    }

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

    fn walk(rng: &mut ChaCha8Rng) -> Vec<f64> {
        let mut level = 100.0;
        (0..48)
            .map(|_| {
                level *= 1.0 + 0.05 * (rng.random::<f64>() - 0.5);
                level
            })
            .collect()
    }

    #[test]
    fn critical_is_where_the_p_value_crosses_alpha() {
        let maxima: Vec<f64> = (1..=19).map(f64::from).collect();
        // 19 draws: only t above all of them reaches p = 1/20 = 0.05.
        assert_eq!(critical(&maxima, 0.05), Some(19.0));
        // 999 draws at 0.05: at most 49 may reach t, so t must exceed the 50th largest.
        let maxima: Vec<f64> = (1..=999).map(f64::from).collect();
        assert_eq!(critical(&maxima, 0.05), Some(950.0));
        assert_eq!(critical(&maxima, 0.0005), None);
        // On data, the band and the p-value always agree.
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        for _ in 0..20 {
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
        assert!(outcome.excess_r.unwrap() > 0.4);
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

    #[test]
    fn studentising_weighs_lags_by_their_pairs() {
        // The same r at lag 3 and lag 12: lag 3 rests on more pairs and wins.
        let scan = [(3, 0.5), (12, 0.5)];
        let best = best(scan, 40).unwrap();
        assert_eq!(best.lag, 3);
        assert!((best.t - 0.5 * 37f64.sqrt()).abs() < 1e-12);
        // A clearly higher r at a long lag still wins.
        let best = super::best([(3, 0.3), (12, 0.5)], 40).unwrap();
        assert_eq!(best.lag, 12);
    }

    #[test]
    fn a_faded_lead_needs_evidence_on_both_sides() {
        let s = settings();
        // Strong before (30 pairs), gone after (20 pairs): faded.
        assert!(faded(Some((0.8, 30)), Some((0.0, 20)), &s));
        // Weak before: no evidence of a lead to fade.
        assert!(!faded(Some((0.35, 30)), Some((0.0, 20)), &s));
        // Still there recently.
        assert!(!faded(Some((0.8, 30)), Some((0.6, 20)), &s));
        assert!(!faded(None, Some((0.0, 20)), &s));
    }
}
