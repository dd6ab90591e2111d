//! Building blocks over time series: growth, correlation, AR prewhitening, surrogates and the
//! Granger F-test.

use rand::Rng;
use statrs::distribution::{ContinuousCDF, FisherSnedecor};

use super::linalg::{ols, Qr};

/// How a level series was turned into growth.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GrowthKind {
    /// `ln(v_t) - ln(v_{t-1})`, when every value is positive.
    LogDiff,
    /// `v_t - v_{t-1}`, where some value is zero or negative.
    Diff,
}

/// Period-over-period growth: difference of logs, or plain differences where a value is ≤ 0.
pub fn growth(levels: &[f64]) -> (Vec<f64>, GrowthKind) {
    if levels.iter().all(|v| *v > 0.0) {
        let logs: Vec<f64> = levels.iter().map(|v| v.ln()).collect();
        (diff(&logs), GrowthKind::LogDiff)
    } else {
        (diff(levels), GrowthKind::Diff)
    }
}

pub fn diff(values: &[f64]) -> Vec<f64> {
    values.windows(2).map(|w| w[1] - w[0]).collect()
}

pub fn mean(values: &[f64]) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    values.iter().sum::<f64>() / values.len() as f64
}

/// Population variance (divisor n).
pub fn variance(values: &[f64]) -> f64 {
    let m = mean(values);
    values.iter().map(|v| (v - m) * (v - m)).sum::<f64>() / values.len() as f64
}

/// Pearson correlation; `None` when either side is constant or shorter than 3.
pub fn pearson(x: &[f64], y: &[f64]) -> Option<f64> {
    let n = x.len().min(y.len());
    if n < 3 {
        return None;
    }
    let (x, y) = (&x[..n], &y[..n]);
    let (mx, my) = (mean(x), mean(y));
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (a, b) in x.iter().zip(y) {
        sxy += (a - mx) * (b - my);
        sxx += (a - mx) * (a - mx);
        syy += (b - my) * (b - my);
    }
    let denom = (sxx * syy).sqrt();
    if denom <= f64::EPSILON * (sxx + syy).max(f64::MIN_POSITIVE) || !denom.is_finite() {
        return None;
    }
    Some((sxy / denom).clamp(-1.0, 1.0))
}

/// Cross-correlation as `statsmodels.tsa.stattools.ccf(x, y, adjusted=True)` computes it:
/// `ccf[k] = (1 / (n - k)) Σ_t (x_{t+k} - x̄)(y_t - ȳ) / (σ_x σ_y)` for `k = 0..nlags`, with
/// full-sample means and population standard deviations. `ccf[k]` relates `x` at `t + k` to `y`
/// at `t`: x after y.
pub fn ccf(x: &[f64], y: &[f64], nlags: usize) -> Vec<f64> {
    ccf_at(x, y, 0..nlags)
}

/// [`ccf`]'s values at the lags `lags` only (those below the series' length): `ccf_at(x, y,
/// a..b)[i]` is `ccf(x, y, b)[a + i]`, bit for bit. A scan of lags 3 to 12 under every draw
/// of a null need not compute lags 0 to 2.
pub fn ccf_at(x: &[f64], y: &[f64], lags: std::ops::Range<usize>) -> Vec<f64> {
    let mut scratch = CcfScratch::default();
    ccf_at_into(x, y, lags, &mut scratch);
    scratch.out
}

/// The room [`ccf_at_into`] works in, kept between calls (a null of thousands of draws scans
/// each one without allocating).
#[derive(Debug, Default)]
pub struct CcfScratch {
    x: Vec<f64>,
    y: Vec<f64>,
    out: Vec<f64>,
}

/// [`ccf_at`] into `scratch`: the same values, bit for bit, returned as a slice of it.
pub fn ccf_at_into<'s>(
    x: &[f64],
    y: &[f64],
    lags: std::ops::Range<usize>,
    scratch: &'s mut CcfScratch,
) -> &'s [f64] {
    let CcfScratch { x: cx, y: cy, out } = scratch;
    out.clear();
    let n = x.len().min(y.len());
    if n == 0 {
        return out;
    }
    let (x, y) = (&x[..n], &y[..n]);
    let (mx, my) = (mean(x), mean(y));
    let scale = (variance(x) * variance(y)).sqrt();
    cx.clear();
    cx.extend(x.iter().map(|v| v - mx));
    cy.clear();
    cy.extend(y.iter().map(|v| v - my));
    let (x, y) = (&cx[..], &cy[..]);
    let lags = lags.start.min(n)..lags.end.min(n);
    // Eight lags at a time, then four, then one: the group's running sums side by side (the
    // processor overlaps them) over the terms all of them have, then each sum's own last
    // terms. Each sum adds its terms in the order of `t`, from -0.0 as `f64::sum` does, so the
    // grouping does not change a bit.
    let mut k = lags.start;
    while k < lags.end {
        let left = lags.end - k;
        k += if left >= 8 {
            lag_group::<8>(x, y, k, scale, out)
        } else if left >= 4 {
            lag_group::<4>(x, y, k, scale, out)
        } else {
            lag_group::<1>(x, y, k, scale, out)
        };
    }
    out
}

/// The cross-correlations at lags `k..k + W` (all below `x.len()`, which `y` shares) of
/// centred series, pushed onto `out`; returns `W`.
#[inline(always)]
fn lag_group<const W: usize>(
    x: &[f64],
    y: &[f64],
    k: usize,
    scale: f64,
    out: &mut Vec<f64>,
) -> usize {
    let n = x.len();
    let mut sums = [-0.0f64; W];
    let common = n - (k + W - 1);
    for (t, &yt) in y[..common].iter().enumerate() {
        let xs: &[f64; W] = x[t + k..t + k + W].try_into().expect("W values");
        for (sum, xv) in sums.iter_mut().zip(xs) {
            *sum += xv * yt;
        }
    }
    for (j, sum) in sums.iter_mut().enumerate() {
        for t in common..n - (k + j) {
            *sum += x[t + k + j] * y[t];
        }
        out.push(*sum / (n - k - j) as f64 / scale);
    }
    W
}

/// Remove a fixed seasonal pattern: subtract from each value the mean of all values in the
/// same season (`season[i]` in `0..period`), then add back the overall mean. The classical
/// seasonal-dummy adjustment.
pub fn seasonal_adjust(values: &[f64], season: &[usize], period: usize) -> Vec<f64> {
    let mut sums = vec![0.0; period];
    let mut counts = vec![0usize; period];
    for (v, s) in values.iter().zip(season) {
        sums[*s % period] += v;
        counts[*s % period] += 1;
    }
    let overall = mean(values);
    values
        .iter()
        .zip(season)
        .map(|(v, s)| {
            let s = *s % period;
            v - sums[s] / counts[s].max(1) as f64 + overall
        })
        .collect()
}

/// Residuals of an OLS line through `(t, x_t)`: the series without its linear trend.
pub fn detrend(values: &[f64]) -> Vec<f64> {
    let n = values.len();
    if n < 3 {
        return values.iter().map(|v| v - mean(values)).collect();
    }
    let t_mean = (n - 1) as f64 / 2.0;
    let x_mean = mean(values);
    let (mut stt, mut stx) = (0.0, 0.0);
    for (t, x) in values.iter().enumerate() {
        let dt = t as f64 - t_mean;
        stt += dt * dt;
        stx += dt * (x - x_mean);
    }
    let slope = stx / stt;
    values
        .iter()
        .enumerate()
        .map(|(t, x)| x - x_mean - slope * (t as f64 - t_mean))
        .collect()
}

/// Normal scores (Blom 1958): `Φ⁻¹((rank − 3/8) / (n + 1/4))`, ties given their mean rank.
/// The series keeps its order and loses its distribution: spikes and heavy tails become the
/// ordinary extremes of a Gaussian sample, so a Gaussian null fits it and a single coincident
/// spike cannot carry a correlation.
pub fn normal_scores(values: &[f64]) -> Vec<f64> {
    let n = values.len();
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|a, b| values[*a].total_cmp(&values[*b]).then(a.cmp(b)));
    let mut ranks = vec![0.0; n];
    let mut i = 0;
    while i < n {
        let mut j = i;
        while j + 1 < n && values[order[j + 1]] == values[order[i]] {
            j += 1;
        }
        // Ranks i+1 ..= j+1 share their mean.
        let rank = (i + j) as f64 / 2.0 + 1.0;
        for k in i..=j {
            ranks[order[k]] = rank;
        }
        i = j + 1;
    }
    ranks
        .iter()
        .map(|r| inverse_normal((r - 0.375) / (n as f64 + 0.25)))
        .collect()
}

/// One standard normal draw (Box–Muller, the cosine half).
pub(crate) fn standard_normal<R: Rng>(rng: &mut R) -> f64 {
    let u: f64 = 1.0 - rng.random::<f64>();
    let v: f64 = rng.random::<f64>();
    (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
}

/// `Φ⁻¹(p)` of the standard normal (statrs).
pub fn inverse_normal(p: f64) -> f64 {
    use statrs::distribution::{ContinuousCDF, Normal};
    Normal::standard().inverse_cdf(p.clamp(1e-12, 1.0 - 1e-12))
}

/// The transform every growth series goes through before the lead test: normal scores, their
/// linear trend removed, normal scores again.
///
/// - Ranks first: spikes and heavy tails become the ordinary extremes of a Gaussian sample, so
///   the Gaussian (phase-randomised) null fits, a single coincident spike cannot carry a
///   correlation, and volatility that calms as a company grows no longer concentrates the
///   evidence in a few wild months.
/// - Then the trend: growth that slows as a company matures is a trend every metric shares;
///   left in, it correlates any two series at every lag, and its end-point mismatch leaks into
///   every Fourier frequency of a surrogate. Removing it after ranking, not before: a line
///   fitted to spiky growth is tilted by its spikes, and the calm months' ranks would then
///   follow that line (a trend made by the detrending).
/// - Normal scores once more, so that the series and each surrogate have exactly the same
///   distribution.
///
/// Measured choice: `examples/calibrate.rs pairs` (STATISTICS.md).
pub fn standardise(growth: &[f64]) -> Vec<f64> {
    normal_scores(&detrend(&normal_scores(growth)))
}

/// An AR(p) model with mean, fitted by OLS: `x_t - μ = Σ φ_i (x_{t-i} - μ) + e_t`.
#[derive(Debug, Clone, PartialEq)]
pub struct ArModel {
    pub mean: f64,
    pub phi: Vec<f64>,
}

impl ArModel {
    /// Residuals `e_t` for `t ≥ p`, applying this model's filter to any series (Box–Jenkins
    /// prewhitening filters both series with the model of one). The series is centred on its
    /// own mean.
    pub fn filter(&self, values: &[f64]) -> Vec<f64> {
        let mut out = Vec::new();
        self.filter_into(values, &mut out);
        out
    }

    /// [`filter`](Self::filter) into `out` (cleared first): the same values, bit for bit.
    pub fn filter_into(&self, values: &[f64], out: &mut Vec<f64>) {
        let p = self.phi.len();
        let m = mean(values);
        out.clear();
        out.extend((p..values.len()).map(|t| {
            let ar: f64 = self
                .phi
                .iter()
                .enumerate()
                .map(|(i, phi)| phi * (values[t - 1 - i] - m))
                .sum();
            values[t] - m - ar
        }));
    }
}

/// Fit AR(p) for p in 0..=max_order on a common sample and keep the lowest AIC
/// (`n ln(RSS/n) + 2(p+1)`), as `statsmodels.tsa.ar_model.ar_select_order(ic="aic")` does.
pub fn fit_ar(values: &[f64], max_order: usize) -> ArModel {
    let n = values.len();
    let max_order = max_order.min(n.saturating_sub(3) / 2);
    let m = mean(values);
    let mut best = ArModel {
        mean: m,
        phi: Vec::new(),
    };
    let mut best_aic = f64::INFINITY;
    let start = max_order;
    let n_eff = (n - start) as f64;
    let y = &values[start..];
    let rows = y.len();
    // Columns: a constant, then the values 1..=max_order periods earlier; AR(p) is the model
    // on the first p + 1 of them, so one factorisation gives every order's fit.
    let mut qr = Qr::default();
    qr.a.resize(rows, 1.0);
    for i in 1..=max_order {
        qr.a.extend((start..n).map(|t| values[t - i]));
    }
    let rss = qr.factor(rows, max_order + 1, y);
    let mut best_order = None;
    for (p, rss) in rss.iter().enumerate() {
        let aic = n_eff * (rss.max(1e-300) / n_eff).ln() + 2.0 * (p as f64 + 1.0);
        if aic < best_aic - 1e-12 {
            best_aic = aic;
            best_order = Some(p);
        }
    }
    if let Some(p) = best_order {
        best.phi = qr.coefficients(rows, p + 1)[1..].to_vec();
    }
    best
}

/// Phase-randomised surrogates (Theiler et al. 1992): the same periodogram, hence the same
/// autocorrelation and seasonality, with random Fourier phases, so any relation to another
/// series is destroyed. The transform of the original is computed once.
#[derive(Debug, Clone)]
pub struct PhaseSurrogates {
    mean: f64,
    /// Amplitude of frequency k = 1..=n/2, and the fixed phase of the Nyquist term.
    amplitudes: Vec<f64>,
    nyquist_phase: Option<f64>,
    cos: Vec<f64>,
    sin: Vec<f64>,
    n: usize,
}

impl PhaseSurrogates {
    pub fn new(values: &[f64]) -> Self {
        let n = values.len();
        let m = mean(values);
        let tau = std::f64::consts::TAU;
        let cos: Vec<f64> = (0..n.max(1))
            .map(|j| (tau * j as f64 / n as f64).cos())
            .collect();
        let sin: Vec<f64> = (0..n.max(1))
            .map(|j| (tau * j as f64 / n as f64).sin())
            .collect();
        let half = n / 2;
        let mut amplitudes = Vec::with_capacity(half);
        let mut nyquist_phase = None;
        for k in 1..=half {
            let (mut re, mut im) = (0.0, 0.0);
            for (t, v) in values.iter().enumerate() {
                let j = (k * t) % n;
                re += (v - m) * cos[j];
                im -= (v - m) * sin[j];
            }
            amplitudes.push((re * re + im * im).sqrt());
            if n.is_multiple_of(2) && k == half {
                nyquist_phase = Some(im.atan2(re));
            }
        }
        Self {
            mean: m,
            amplitudes,
            nyquist_phase,
            cos,
            sin,
            n,
        }
    }

    /// One surrogate series.
    pub fn generate<R: Rng>(&self, rng: &mut R) -> Vec<f64> {
        let n = self.n;
        let mut out = vec![self.mean; n];
        if n < 3 {
            return out;
        }
        let half = n / 2;
        for (idx, amplitude) in self.amplitudes.iter().enumerate() {
            let k = idx + 1;
            // The Nyquist term must stay real: keep its phase.
            let (phase, weight) = match self.nyquist_phase {
                Some(phase) if k == half => (phase, 1.0),
                _ => (rng.random::<f64>() * std::f64::consts::TAU, 2.0),
            };
            let (pc, ps) = (phase.cos(), phase.sin());
            let scale = weight * amplitude / n as f64;
            for (t, slot) in out.iter_mut().enumerate() {
                let j = (k * t) % n;
                // cos(a + phase) = cos a cos phase - sin a sin phase
                *slot += scale * (self.cos[j] * pc - self.sin[j] * ps);
            }
        }
        out
    }
}

/// Granger causality F-test, `x` → `y` with `p` lags: OLS of `y_t` on a constant and
/// `y_{t-1..t-p}` (restricted) against the same plus `x_{t-1..t-p}` (unrestricted);
/// `F = ((RSS_r - RSS_u) / p) / (RSS_u / (n - p - 2p - 1))`. Matches the `ssr_ftest` of
/// `statsmodels.tsa.stattools.grangercausalitytests(np.column_stack([y, x]), [p])`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Granger {
    pub f: f64,
    pub p_value: f64,
    pub lags: usize,
    pub df_num: usize,
    pub df_den: usize,
}

pub fn granger(y: &[f64], x: &[f64], lags: usize) -> Option<Granger> {
    let n = y.len().min(x.len());
    if lags == 0 || n <= 3 * lags + 1 {
        return None;
    }
    let restricted_rows: Vec<Vec<f64>> = (lags..n)
        .map(|t| {
            let mut row: Vec<f64> = (1..=lags).map(|i| y[t - i]).collect();
            row.push(1.0);
            row
        })
        .collect();
    let unrestricted_rows: Vec<Vec<f64>> = (lags..n)
        .map(|t| {
            let mut row: Vec<f64> = (1..=lags).map(|i| y[t - i]).collect();
            row.extend((1..=lags).map(|i| x[t - i]));
            row.push(1.0);
            row
        })
        .collect();
    let target = &y[lags..n];
    let restricted = ols(&restricted_rows, target)?;
    let unrestricted = ols(&unrestricted_rows, target)?;
    let df_den = n - lags - (2 * lags + 1);
    if df_den == 0 || unrestricted.rss <= 0.0 {
        return None;
    }
    let f = (restricted.rss - unrestricted.rss) / unrestricted.rss / lags as f64 * df_den as f64;
    let dist = FisherSnedecor::new(lags as f64, df_den as f64).ok()?;
    let p_value = if f.is_finite() {
        1.0 - dist.cdf(f.max(0.0))
    } else {
        return None;
    };
    Some(Granger {
        f,
        p_value,
        lags,
        df_num: lags,
        df_den,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    /// statsmodels' formula written out term by term, as `ccf` computed it before its lags were
    /// summed side by side.
    fn ccf_by_formula(x: &[f64], y: &[f64], nlags: usize) -> Vec<f64> {
        let n = x.len().min(y.len());
        let (x, y) = (&x[..n], &y[..n]);
        let (mx, my) = (mean(x), mean(y));
        let scale = (variance(x) * variance(y)).sqrt();
        (0..nlags.min(n))
            .map(|k| {
                let sum: f64 = (0..n - k).map(|t| (x[t + k] - mx) * (y[t] - my)).sum();
                sum / (n - k) as f64 / scale
            })
            .collect()
    }

    #[test]
    fn lags_summed_side_by_side_are_the_formula_bit_for_bit() {
        use rand::Rng;
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        for n in [1, 2, 3, 4, 5, 7, 13, 24, 36, 61] {
            let x: Vec<f64> = (0..n).map(|_| rng.random::<f64>() * 100.0 - 50.0).collect();
            let y: Vec<f64> = (0..n + 2).map(|_| rng.random::<f64>().powi(3)).collect();
            // Zeros on one side make every term of some lags a signed zero.
            let zeros: Vec<f64> = (0..n).map(|t| if t % 2 == 0 { 0.0 } else { 1.0 }).collect();
            for (a, b) in [(&x, &y), (&y, &x), (&zeros, &x), (&x, &zeros)] {
                let want = ccf_by_formula(a, b, 16);
                let bits = |v: &[f64]| v.iter().map(|r| r.to_bits()).collect::<Vec<_>>();
                assert_eq!(bits(&ccf(a, b, 16)), bits(&want), "n = {n}");
                for first in 0..17 {
                    for last in first..17 {
                        let some = ccf_at(a, b, first..last);
                        let from = first.min(want.len());
                        let to = last.min(want.len());
                        assert_eq!(
                            bits(&some),
                            bits(&want[from..to]),
                            "n = {n}, {first}..{last}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn growth_uses_logs_only_when_positive() {
        let (g, kind) = growth(&[1.0, std::f64::consts::E, 1.0]);
        assert_eq!(kind, GrowthKind::LogDiff);
        assert!((g[0] - 1.0).abs() < 1e-12 && (g[1] + 1.0).abs() < 1e-12);
        let (g, kind) = growth(&[0.0, 2.0, 1.0]);
        assert_eq!(kind, GrowthKind::Diff);
        assert_eq!(g, vec![2.0, -1.0]);
    }

    #[test]
    fn pearson_by_hand() {
        // x = 1,2,3; y = 1,3,2: r = 0.5 (sxy = 1, sxx = syy = 2).
        assert!((pearson(&[1.0, 2.0, 3.0], &[1.0, 3.0, 2.0]).unwrap() - 0.5).abs() < 1e-12);
        assert_eq!(pearson(&[1.0, 1.0, 1.0], &[1.0, 2.0, 3.0]), None);
    }

    #[test]
    fn ccf_by_hand() {
        // x = y = 1,2,3,4: mean 2.5, variance 1.25. Lag 1: ((-0.5)(-1.5) + (0.5)(-0.5) +
        // (1.5)(0.5)) / 3 = 1.25 / 3, over 1.25 -> 1/3.
        let x = [1.0, 2.0, 3.0, 4.0];
        let r = ccf(&x, &x, 3);
        assert!((r[0] - 1.0).abs() < 1e-12);
        assert!((r[1] - 1.0 / 3.0).abs() < 1e-12);
        // Lag 2: ((0.5)(-1.5) + (1.5)(-0.5)) / 2 = -0.75, over 1.25 -> -0.6.
        assert!((r[2] + 0.6).abs() < 1e-12);
    }

    #[test]
    fn ar1_is_recovered_and_prewhitening_whitens() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let mut x = vec![0.0; 400];
        for t in 1..x.len() {
            x[t] = 0.7 * x[t - 1] + (rng.random::<f64>() - 0.5);
        }
        let model = fit_ar(&x, 4);
        assert!((model.phi[0] - 0.7).abs() < 0.1, "{:?}", model.phi);
        let e = model.filter(&x);
        assert!(ccf(&e, &e, 2)[1].abs() < 0.15);
    }

    #[test]
    fn surrogate_keeps_the_periodogram() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let x: Vec<f64> = (0..24)
            .map(|t| (t as f64 * 0.5).sin() + t as f64 * 0.1)
            .collect();
        let s = PhaseSurrogates::new(&x).generate(&mut rng);
        assert!((mean(&s) - mean(&x)).abs() < 1e-9);
        assert!((variance(&s) - variance(&x)).abs() < 1e-9);
        assert_ne!(s, x);
    }
}
