//! The lead test from every account: does an account's metric in period t predict whether it
//! still pays at t + h (retention) and how its revenue changes by then (expansion)?
//!
//! Design (landmarks): every period t in which a customer pays is a landmark for it; it is
//! followed h periods forward, for each horizon h whose outcome is known (t + h within the
//! data: later landmarks are right-censored and left out). The metric enters as its normal
//! score among the customers paying at t (Blom, mid-ranks for ties): within-period ranks, so
//! that common shocks and seasonality cancel and big accounts do not dominate. Both models
//! have period fixed effects (one intercept per landmark period) and adjust for the customer's
//! revenue at t (log, and its square) and tenure (log of one plus the periods since it first
//! paid, and whether it already paid when the revenue data start, as its tenure is then
//! unknown):
//!
//! - retention: logit of "still paying at t + h" (`statsmodels` `Logit` with `C(period)`);
//!   landmark periods in which every customer stayed (or none did) carry no information with a
//!   period effect and are left out;
//! - expansion: OLS of `ln(revenue(t + h) / revenue(t))` among the customers still paying.
//!
//! Inference is by accounts: a score (Rao) test of "no effect of the metric" with the
//! cluster-robust variance of the accounts' score contributions,
//! `z = Σ_a U_a / sqrt(Σ_a U_a²)`, `U_a = Σ_{i ∈ a} x̃_i r_i`, where `r` is the residual of the
//! model without the metric and `x̃` the metric residualised on that model's design (weighted
//! by `p(1 − p)` for the logit). The scores of all horizons are added per account into one
//! statistic per outcome. Its null draws come from the score wild cluster bootstrap with
//! Gaussian weights (Kline & Santos 2012), drawn exactly as `N(0, Σ)` with Σ the correlation of
//! the accounts' contributions across every candidate and outcome, so that the family-wise
//! adjustment sees these tests' dependence as it is ([`joint_null`]).
//!
//! Effect sizes: the metric's coefficient per standard deviation of its within-period score
//! at the display horizon (maximum likelihood for the logit, with its cluster-robust Wald
//! error, as statsmodels reports it), and in plain words the retention and net revenue
//! retention of the top quarter of accounts against the bottom quarter, with 95% intervals by
//! the delta method on the accounts' sums (a cluster-robust linearisation).

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

use super::family::NullDraws;
use super::series::inverse_normal;

/// Covariates of both models besides the period effects.
const COVARIATES: usize = 4;
/// Fewest landmark periods a horizon needs.
pub const MIN_LANDMARK_PERIODS: usize = 3;
/// Fewest accounts (and, for retention, churned landmarks) an outcome needs.
pub const MIN_ACCOUNTS: usize = 30;
pub const MIN_EVENTS: usize = 10;

/// Settings of the account line.
#[derive(Debug, Clone, PartialEq)]
pub struct AccountSettings {
    /// Horizons in periods, shortest first.
    pub horizons: Vec<usize>,
    /// The horizon the plain-words effect is given at.
    pub display: usize,
}

/// Each customer's revenue over the analysed periods, with where its tenure starts.
#[derive(Debug, Clone)]
pub struct CustomerHistory<'a> {
    pub revenue: &'a [f64],
    /// The period (index from the first analysed one; negative before it) it first paid.
    pub first_paid: i64,
    /// It already paid when the revenue data start: its tenure is a lower bound.
    pub left_censored: bool,
}

/// One model's fixed part: the rows it uses, their landmark period groups, the weights, the
/// covariates demeaned within period (weighted), and the inverse of their weighted cross
/// product, so that any metric can be residualised on the design (Frisch–Waugh–Lovell).
#[derive(Debug, Clone)]
struct Design {
    rows: Vec<usize>,
    group: Vec<usize>,
    groups: usize,
    weight: Vec<f64>,
    demeaned: Vec<[f64; COVARIATES]>,
    inverse: [[f64; COVARIATES]; COVARIATES],
    /// The null model's residual (y − p̂, or the OLS residual) per row.
    residual: Vec<f64>,
}

impl Design {
    fn new(
        rows: Vec<usize>,
        group: Vec<usize>,
        groups: usize,
        weight: Vec<f64>,
        covariates: &[[f64; COVARIATES]],
        residual: Vec<f64>,
    ) -> Design {
        let means = weighted_group_means(&group, groups, &weight, |k| covariates[rows[k]]);
        let demeaned: Vec<[f64; COVARIATES]> = (0..rows.len())
            .map(|k| {
                let c = covariates[rows[k]];
                std::array::from_fn(|j| c[j] - means[group[k]][j])
            })
            .collect();
        let mut cross = [[0.0; COVARIATES]; COVARIATES];
        for (d, w) in demeaned.iter().zip(&weight) {
            for a in 0..COVARIATES {
                for b in 0..COVARIATES {
                    cross[a][b] += w * d[a] * d[b];
                }
            }
        }
        Design {
            rows,
            group,
            groups,
            weight,
            demeaned,
            inverse: pseudo_inverse(cross),
            residual,
        }
    }

    /// `x` (one value per row of the design) without its projection on the design: weighted
    /// within-period demeaning, then the weighted regression on the demeaned covariates.
    fn residualise(&self, x: &[f64]) -> Vec<f64> {
        let means = weighted_group_means(&self.group, self.groups, &self.weight, |k| [x[k]]);
        let centred: Vec<f64> = (0..x.len())
            .map(|k| x[k] - means[self.group[k]][0])
            .collect();
        let mut cx = [0.0; COVARIATES];
        for ((w, d), x) in self.weight.iter().zip(&self.demeaned).zip(&centred) {
            for (c, dj) in cx.iter_mut().zip(d) {
                *c += w * dj * x;
            }
        }
        let delta: [f64; COVARIATES] =
            std::array::from_fn(|a| (0..COVARIATES).map(|b| self.inverse[a][b] * cx[b]).sum());
        (0..x.len())
            .map(|k| {
                let fitted: f64 = (0..COVARIATES)
                    .map(|j| self.demeaned[k][j] * delta[j])
                    .sum();
                centred[k] - fitted
            })
            .collect()
    }
}

fn weighted_group_means<const N: usize>(
    group: &[usize],
    groups: usize,
    weight: &[f64],
    value: impl Fn(usize) -> [f64; N],
) -> Vec<[f64; N]> {
    let mut sums = vec![[0.0; N]; groups];
    let mut totals = vec![0.0; groups];
    for k in 0..group.len() {
        let v = value(k);
        for j in 0..N {
            sums[group[k]][j] += weight[k] * v[j];
        }
        totals[group[k]] += weight[k];
    }
    sums.iter()
        .zip(&totals)
        .map(|(s, t)| std::array::from_fn(|j| if *t > 0.0 { s[j] / t } else { 0.0 }))
        .collect()
}

/// Inverse of a small symmetric positive semi-definite matrix by Gauss–Jordan elimination with
/// pivoting; directions with no variance (a covariate constant within every period) get 0.
fn pseudo_inverse<const N: usize>(matrix: [[f64; N]; N]) -> [[f64; N]; N] {
    let mut a = matrix;
    let mut inv = [[0.0; N]; N];
    for (i, row) in inv.iter_mut().enumerate() {
        row[i] = 1.0;
    }
    let scale = (0..N)
        .map(|i| a[i][i].abs())
        .fold(0.0, f64::max)
        .max(1e-300);
    let mut usable = [true; N];
    for col in 0..N {
        let pivot = (col..N)
            .filter(|r| usable[*r] || *r == col)
            .max_by(|x, y| a[*x][col].abs().total_cmp(&a[*y][col].abs()))
            .unwrap_or(col);
        if a[pivot][col].abs() <= 1e-10 * scale {
            usable[col] = false;
            continue;
        }
        a.swap(col, pivot);
        inv.swap(col, pivot);
        let p = a[col][col];
        for j in 0..N {
            a[col][j] /= p;
            inv[col][j] /= p;
        }
        for r in 0..N {
            if r != col {
                let f = a[r][col];
                if f != 0.0 {
                    for j in 0..N {
                        a[r][j] -= f * a[col][j];
                        inv[r][j] -= f * inv[col][j];
                    }
                }
            }
        }
    }
    for (i, ok) in usable.iter().enumerate() {
        if !ok {
            inv[i] = [0.0; N];
            for row in inv.iter_mut() {
                row[i] = 0.0;
            }
        }
    }
    inv
}

/// The landmarks of one horizon and both null models.
#[derive(Debug, Clone)]
struct Horizon {
    horizon: usize,
    /// `(customer, t)` of every landmark: paying at t, t + h inside the data.
    landmarks: Vec<(u32, u32)>,
    retained: Vec<bool>,
    covariates: Vec<[f64; COVARIATES]>,
    retention: Option<Design>,
    expansion: Option<Design>,
}

/// What every candidate's account line shares: the customers' paying flags and revenue, and
/// per horizon the landmarks and the null models.
#[derive(Debug, Clone)]
pub struct Panel {
    customers: usize,
    periods: usize,
    paying: Vec<bool>,
    revenue: Vec<f64>,
    horizons: Vec<Horizon>,
    display: usize,
}

/// Paying in a period: spread revenue above this.
const PAYING_ABOVE: f64 = 1e-9;

impl Panel {
    /// The panel of the run; `None` when no horizon has enough landmarks.
    pub fn new(customers: &[CustomerHistory], settings: &AccountSettings) -> Option<Panel> {
        let periods = customers.first().map_or(0, |c| c.revenue.len());
        let n = customers.len();
        let mut paying = vec![false; n * periods];
        let mut revenue = vec![0.0; n * periods];
        for (c, history) in customers.iter().enumerate() {
            for t in 0..periods {
                let amount = history.revenue.get(t).copied().unwrap_or(0.0);
                revenue[c * periods + t] = amount;
                paying[c * periods + t] = amount > PAYING_ABOVE;
            }
        }
        let horizons: Vec<Horizon> = settings
            .horizons
            .iter()
            .filter_map(|&h| horizon(customers, &paying, &revenue, periods, h))
            .collect();
        if horizons.is_empty() {
            return None;
        }
        let display = horizons
            .iter()
            .map(|h| h.horizon)
            .min_by_key(|h| (h.abs_diff(settings.display), std::cmp::Reverse(*h)))
            .unwrap_or(settings.display);
        Some(Panel {
            customers: n,
            periods,
            paying,
            revenue,
            horizons,
            display,
        })
    }

    pub fn customers(&self) -> usize {
        self.customers
    }

    pub fn horizons(&self) -> Vec<usize> {
        self.horizons.iter().map(|h| h.horizon).collect()
    }
}

/// Covariates of a landmark: log revenue (centred on 0 at the median of a typical account is
/// left to the period effects), its square, log(1 + tenure), and left-censored tenure.
fn covariates_of(history: &CustomerHistory, revenue: f64, t: usize) -> [f64; COVARIATES] {
    let log_revenue = revenue.max(PAYING_ABOVE).ln();
    let tenure = (t as i64 - history.first_paid).max(0) as f64;
    [
        log_revenue,
        log_revenue * log_revenue,
        tenure.ln_1p(),
        f64::from(u8::from(history.left_censored)),
    ]
}

fn horizon(
    customers: &[CustomerHistory],
    paying: &[bool],
    revenue: &[f64],
    periods: usize,
    h: usize,
) -> Option<Horizon> {
    if h == 0 || periods <= h {
        return None;
    }
    let landmark_periods = periods - h;
    if landmark_periods < MIN_LANDMARK_PERIODS {
        return None;
    }
    let mut landmarks = Vec::new();
    let mut retained = Vec::new();
    let mut covariates = Vec::new();
    for (c, history) in customers.iter().enumerate() {
        for t in 0..landmark_periods {
            if !paying[c * periods + t] {
                continue;
            }
            landmarks.push((c as u32, t as u32));
            retained.push(paying[c * periods + t + h]);
            covariates.push(covariates_of(history, revenue[c * periods + t], t));
        }
    }
    // Retention: landmark periods with both outcomes.
    let mut stayed = vec![0usize; landmark_periods];
    let mut total = vec![0usize; landmark_periods];
    for ((_, t), kept) in landmarks.iter().zip(&retained) {
        total[*t as usize] += 1;
        stayed[*t as usize] += usize::from(*kept);
    }
    let informative: Vec<bool> = (0..landmark_periods)
        .map(|t| stayed[t] > 0 && stayed[t] < total[t])
        .collect();
    let rows: Vec<usize> = (0..landmarks.len())
        .filter(|&k| informative[landmarks[k].1 as usize])
        .collect();
    let churned = rows.iter().filter(|&&k| !retained[k]).count();
    let retention = (churned >= MIN_EVENTS).then(|| {
        let (group, groups) = groups_of(&rows, &landmarks);
        let y: Vec<f64> = rows
            .iter()
            .map(|&k| f64::from(u8::from(retained[k])))
            .collect();
        let x: Vec<[f64; COVARIATES]> = rows.iter().map(|&k| covariates[k]).collect();
        let fit = fe_logit(&group, groups, &y, &x, None);
        let weight: Vec<f64> = fit.p.iter().map(|p| p * (1.0 - p)).collect();
        let residual: Vec<f64> = y.iter().zip(&fit.p).map(|(y, p)| y - p).collect();
        Design::new(rows.clone(), group, groups, weight, &covariates, residual)
    });
    // Expansion: landmarks still paying at t + h.
    let rows: Vec<usize> = (0..landmarks.len()).filter(|&k| retained[k]).collect();
    let growth: Vec<f64> = rows
        .iter()
        .map(|&k| {
            let (c, t) = (landmarks[k].0 as usize, landmarks[k].1 as usize);
            (revenue[c * periods + t + h] / revenue[c * periods + t]).ln()
        })
        .collect();
    let expansion = (rows.len() >= MIN_ACCOUNTS).then(|| {
        let (group, groups) = groups_of(&rows, &landmarks);
        let weight = vec![1.0; rows.len()];
        let design = Design::new(rows.clone(), group, groups, weight, &covariates, Vec::new());
        let residual = design.residualise(&growth);
        Design { residual, ..design }
    });
    Some(Horizon {
        horizon: h,
        landmarks,
        retained,
        covariates,
        retention,
        expansion,
    })
}

/// Dense group numbers of the landmark periods of `rows`.
fn groups_of(rows: &[usize], landmarks: &[(u32, u32)]) -> (Vec<usize>, usize) {
    let mut ids: Vec<u32> = rows.iter().map(|&k| landmarks[k].1).collect();
    ids.sort_unstable();
    ids.dedup();
    let group = rows
        .iter()
        .map(|&k| ids.binary_search(&landmarks[k].1).unwrap_or(0))
        .collect();
    (group, ids.len())
}

/// A logit with one intercept per group and `k` covariates, by Newton–Raphson (the group
/// intercepts eliminated through the Schur complement); `start` a coefficient vector to begin
/// from.
struct FeLogit<const K: usize> {
    beta: [f64; K],
    p: Vec<f64>,
    /// The inverse of the covariates' block of the Hessian, after the intercepts are eliminated.
    covariance: [[f64; K]; K],
    converged: bool,
}

fn fe_logit<const K: usize>(
    group: &[usize],
    groups: usize,
    y: &[f64],
    x: &[[f64; K]],
    start: Option<[f64; K]>,
) -> FeLogit<K> {
    let n = y.len();
    let mut beta = start.unwrap_or([0.0; K]);
    // Intercepts from each group's share, then Newton on everything.
    let mut alpha: Vec<f64> = {
        let (mut s, mut t) = (vec![0.0; groups], vec![0.0; groups]);
        for k in 0..n {
            s[group[k]] += y[k];
            t[group[k]] += 1.0;
        }
        (0..groups)
            .map(|g| {
                let share = ((s[g] + 0.5) / (t[g] + 1.0)).clamp(1e-6, 1.0 - 1e-6);
                (share / (1.0 - share)).ln()
            })
            .collect()
    };
    let mut p = vec![0.5; n];
    let mut covariance = [[0.0; K]; K];
    let mut converged = false;
    let predict = |alpha: &[f64], beta: &[f64; K], p: &mut [f64]| -> f64 {
        let mut loglik = 0.0;
        for k in 0..n {
            let eta = alpha[group[k]] + (0..K).map(|j| beta[j] * x[k][j]).sum::<f64>();
            let q = 1.0 / (1.0 + (-eta).exp());
            p[k] = q.clamp(1e-12, 1.0 - 1e-12);
            loglik += y[k] * p[k].ln() + (1.0 - y[k]) * (1.0 - p[k]).ln();
        }
        loglik
    };
    let mut loglik = predict(&alpha, &beta, &mut p);
    for _ in 0..50 {
        // Gradient and Hessian blocks.
        let mut g_alpha = vec![0.0; groups];
        let mut h_alpha = vec![0.0; groups];
        let mut h_ab = vec![[0.0; K]; groups];
        let mut g_beta = [0.0; K];
        let mut h_bb = [[0.0; K]; K];
        for k in 0..n {
            let r = y[k] - p[k];
            let w = p[k] * (1.0 - p[k]);
            let g = group[k];
            g_alpha[g] += r;
            h_alpha[g] += w;
            for a in 0..K {
                g_beta[a] += r * x[k][a];
                h_ab[g][a] += w * x[k][a];
                for b in 0..K {
                    h_bb[a][b] += w * x[k][a] * x[k][b];
                }
            }
        }
        // Schur complement: (H_bb − H_ba H_aa⁻¹ H_ab) Δβ = g_b − H_ba H_aa⁻¹ g_a.
        let mut schur = h_bb;
        let mut rhs = g_beta;
        for g in 0..groups {
            if h_alpha[g] <= 0.0 {
                continue;
            }
            for a in 0..K {
                rhs[a] -= h_ab[g][a] * g_alpha[g] / h_alpha[g];
                for b in 0..K {
                    schur[a][b] -= h_ab[g][a] * h_ab[g][b] / h_alpha[g];
                }
            }
        }
        covariance = pseudo_inverse(schur);
        let d_beta: [f64; K] =
            std::array::from_fn(|a| (0..K).map(|b| covariance[a][b] * rhs[b]).sum());
        let d_alpha: Vec<f64> = (0..groups)
            .map(|g| {
                if h_alpha[g] <= 0.0 {
                    0.0
                } else {
                    (g_alpha[g] - (0..K).map(|a| h_ab[g][a] * d_beta[a]).sum::<f64>()) / h_alpha[g]
                }
            })
            .collect();
        // Step halving keeps the likelihood from falling.
        let mut step = 1.0;
        let mut accepted = false;
        for _ in 0..20 {
            let trial_alpha: Vec<f64> = alpha
                .iter()
                .zip(&d_alpha)
                .map(|(a, d)| a + step * d)
                .collect();
            let trial_beta: [f64; K] = std::array::from_fn(|j| beta[j] + step * d_beta[j]);
            let mut trial_p = vec![0.0; n];
            let trial = predict(&trial_alpha, &trial_beta, &mut trial_p);
            if trial >= loglik - 1e-12 * loglik.abs().max(1.0) {
                alpha = trial_alpha;
                beta = trial_beta;
                p = trial_p;
                let change = (trial - loglik).abs();
                loglik = trial;
                accepted = true;
                let largest = d_beta
                    .iter()
                    .chain(&d_alpha)
                    .fold(0.0f64, |m, d| m.max((step * d).abs()));
                if largest < 1e-9 || change < 1e-12 * loglik.abs().max(1.0) {
                    converged = true;
                }
                break;
            }
            step /= 2.0;
        }
        if !accepted || converged {
            converged = true;
            break;
        }
    }
    FeLogit {
        beta,
        p,
        covariance,
        converged,
    }
}

/// One outcome of one candidate: a test at each horizon.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Line {
    pub by_horizon: Vec<HorizonFigures>,
}

impl Line {
    /// The horizons with enough accounts for a test.
    pub fn tests(&self) -> impl Iterator<Item = &HorizonFigures> {
        self.by_horizon.iter().filter(|f| !f.scores.is_empty())
    }
}

/// One outcome at one horizon.
#[derive(Debug, Clone, PartialEq)]
pub struct HorizonFigures {
    pub horizon: usize,
    /// The robust score statistic `Σ_a U_a / sqrt(Σ_a U_a²)`.
    pub z: f64,
    /// Each customer's score contribution over `sqrt(Σ U²)`, for the joint null; empty when
    /// too few accounts carry the test.
    scores: Vec<f32>,
    /// The metric's coefficient per standard deviation of its within-period score.
    pub coefficient: Option<f64>,
    /// Its cluster-robust standard error (statsmodels' `cov_type="cluster"`, small-sample
    /// corrected).
    pub standard_error: Option<f64>,
    pub landmarks: usize,
    pub accounts: usize,
}

/// The plain-words effect at the display horizon: the top quarter of accounts by the metric
/// (within each landmark period) against the bottom quarter.
#[derive(Debug, Clone, PartialEq)]
pub struct Effect {
    pub horizon: usize,
    pub retention_top: f64,
    pub retention_bottom: f64,
    /// 95% intervals of the two retention rates (delta method on the log, by account).
    pub retention_top_ci: Option<(f64, f64)>,
    pub retention_bottom_ci: Option<(f64, f64)>,
    pub retention_ratio: Option<f64>,
    pub retention_ratio_ci: Option<(f64, f64)>,
    pub nrr_top: Option<f64>,
    pub nrr_bottom: Option<f64>,
    pub nrr_top_ci: Option<(f64, f64)>,
    pub nrr_bottom_ci: Option<(f64, f64)>,
    /// Whether the groups are quarters, or (many tied values) the accounts with the lowest or
    /// highest value.
    pub by_ties: bool,
}

/// One candidate's account-level evidence.
#[derive(Debug, Clone, PartialEq)]
pub struct Evidence {
    pub retention: Line,
    pub expansion: Line,
    pub effect: Option<Effect>,
    pub accounts: usize,
    pub account_periods: usize,
}

impl Evidence {
    /// The larger of the two outcomes' effect strengths, in [0, 1]: one less the bottom
    /// quarter's retention (or net revenue retention) over the top quarter's. For ranking.
    pub fn strength(&self) -> f64 {
        let Some(e) = &self.effect else {
            return 0.0;
        };
        let ratio = |top: f64, bottom: f64| {
            if top > 0.0 {
                (1.0 - bottom / top).clamp(0.0, 1.0)
            } else {
                0.0
            }
        };
        let retention = ratio(e.retention_top, e.retention_bottom);
        let nrr = match (e.nrr_top, e.nrr_bottom) {
            (Some(t), Some(b)) => ratio(t, b),
            _ => 0.0,
        };
        retention.max(nrr)
    }
}

/// Within-period normal scores and percentiles of a candidate's values among the customers
/// paying in each period (`NaN` where a customer does not pay).
fn scores_of(panel: &Panel, values: &[f64]) -> (Vec<f64>, Vec<f64>) {
    let (n, periods) = (panel.customers, panel.periods);
    let mut score = vec![f64::NAN; n * periods];
    let mut percentile = vec![f64::NAN; n * periods];
    let mut at_risk: Vec<(f64, usize)> = Vec::new();
    for t in 0..periods {
        at_risk.clear();
        at_risk.extend(
            (0..n)
                .filter(|c| panel.paying[c * periods + t])
                .map(|c| (values.get(c * periods + t).copied().unwrap_or(0.0), c)),
        );
        at_risk.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        let m = at_risk.len();
        let mut i = 0;
        while i < m {
            let mut j = i;
            while j + 1 < m && at_risk[j + 1].0 == at_risk[i].0 {
                j += 1;
            }
            let rank = (i + j) as f64 / 2.0 + 1.0;
            let z = inverse_normal((rank - 0.375) / (m as f64 + 0.25));
            let pct = (rank - 0.5) / m as f64;
            for &(_, c) in &at_risk[i..=j] {
                score[c * periods + t] = z;
                percentile[c * periods + t] = pct;
            }
            i = j + 1;
        }
    }
    (score, percentile)
}

/// Score contributions of one design for a metric: per customer `Σ x̃ r`, the total, and the
/// information `Σ w x̃²`.
fn contributions(
    design: &Design,
    horizon: &Horizon,
    score: &[f64],
    periods: usize,
    customers: usize,
) -> (Vec<f64>, Vec<f64>) {
    let x: Vec<f64> = design
        .rows
        .iter()
        .map(|&k| {
            let (c, t) = horizon.landmarks[k];
            score[c as usize * periods + t as usize]
        })
        .collect();
    let tilde = design.residualise(&x);
    let mut per_customer = vec![0.0; customers];
    for (k, &row) in design.rows.iter().enumerate() {
        per_customer[horizon.landmarks[row].0 as usize] += tilde[k] * design.residual[k];
    }
    (per_customer, tilde)
}

fn robust_z(per_customer: &[f64]) -> Option<f64> {
    let total: f64 = per_customer.iter().sum();
    let variance: f64 = per_customer.iter().map(|u| u * u).sum();
    (variance > 0.0).then(|| total / variance.sqrt())
}

fn accounts_in(design: &Design, horizon: &Horizon) -> usize {
    let mut ids: Vec<u32> = design
        .rows
        .iter()
        .map(|&k| horizon.landmarks[k].0)
        .collect();
    ids.sort_unstable();
    ids.dedup();
    ids.len()
}

/// statsmodels' small-sample factor of `cov_type="cluster"`: `G/(G−1) · (N−1)/(N−K)`.
fn cluster_correction(groups: usize, rows: usize, params: usize) -> f64 {
    if groups < 2 || rows <= params {
        return 1.0;
    }
    groups as f64 / (groups - 1) as f64 * (rows - 1) as f64 / (rows - params) as f64
}

/// The account-level evidence of one candidate, from its value for each customer in each
/// period (`values[c * periods + t]`).
pub fn evidence(panel: &Panel, values: &[f64]) -> Evidence {
    let (n, periods) = (panel.customers, panel.periods);
    let (score, percentile) = scores_of(panel, values);
    let mut lines = [Vec::new(), Vec::new()];
    let mut account_periods = 0;
    let mut accounts = 0;
    for h in &panel.horizons {
        for (o, design) in [&h.retention, &h.expansion].into_iter().enumerate() {
            let Some(design) = design else { continue };
            let (per_customer, tilde) = contributions(design, h, &score, periods, n);
            let Some(z) = robust_z(&per_customer) else {
                continue;
            };
            let landmarks = design.rows.len();
            let in_design = accounts_in(design, h);
            if o == 0 {
                account_periods = account_periods.max(landmarks);
                accounts = accounts.max(in_design);
            }
            let (coefficient, standard_error) = if h.horizon == panel.display {
                if o == 0 {
                    logit_coefficient(design, h, &score, periods, n)
                } else {
                    ols_coefficient(design, h, &tilde, n)
                }
            } else {
                (None, None)
            };
            let scale = per_customer.iter().map(|u| u * u).sum::<f64>().sqrt();
            let scores = if in_design >= MIN_ACCOUNTS {
                per_customer.iter().map(|u| (u / scale) as f32).collect()
            } else {
                Vec::new()
            };
            lines[o].push(HorizonFigures {
                horizon: h.horizon,
                z,
                scores,
                coefficient,
                standard_error,
                landmarks,
                accounts: in_design,
            });
        }
    }
    let [retention, expansion] = lines;
    Evidence {
        retention: Line {
            by_horizon: retention,
        },
        expansion: Line {
            by_horizon: expansion,
        },
        effect: effect(panel, &percentile, values),
        accounts,
        account_periods,
    }
}

/// The logit's maximum-likelihood coefficient of the metric and its cluster-robust error.
fn logit_coefficient(
    design: &Design,
    h: &Horizon,
    score: &[f64],
    periods: usize,
    customers: usize,
) -> (Option<f64>, Option<f64>) {
    let rows = &design.rows;
    let y: Vec<f64> = rows
        .iter()
        .map(|&k| f64::from(u8::from(h.retained[k])))
        .collect();
    let x: Vec<[f64; 5]> = rows
        .iter()
        .map(|&k| {
            let c = h.covariates[k];
            let (a, t) = h.landmarks[k];
            [
                c[0],
                c[1],
                c[2],
                c[3],
                score[a as usize * periods + t as usize],
            ]
        })
        .collect();
    let fit = fe_logit(&design.group, design.groups, &y, &x, None);
    if !fit.converged {
        return (None, None);
    }
    // Sandwich over accounts: the scores of (γ, β) with the intercepts partialled out.
    let weight: Vec<f64> = fit.p.iter().map(|p| p * (1.0 - p)).collect();
    let means = weighted_group_means(&design.group, design.groups, &weight, |k| x[k]);
    let mut meat_by_customer = vec![[0.0f64; 5]; customers];
    for (k, &row) in rows.iter().enumerate() {
        let r = y[k] - fit.p[k];
        let c = h.landmarks[row].0 as usize;
        for j in 0..5 {
            meat_by_customer[c][j] += (x[k][j] - means[design.group[k]][j]) * r;
        }
    }
    let mut meat = [[0.0; 5]; 5];
    let mut clusters = 0;
    for s in &meat_by_customer {
        if s.iter().any(|v| *v != 0.0) {
            clusters += 1;
        }
        for a in 0..5 {
            for b in 0..5 {
                meat[a][b] += s[a] * s[b];
            }
        }
    }
    let v = fit.covariance;
    let robust: f64 = (0..5)
        .map(|a| (0..5).map(|b| v[4][a] * meat[a][b] * v[b][4]).sum::<f64>())
        .sum();
    let params = 5 + design.groups;
    let se = (robust * cluster_correction(clusters, rows.len(), params)).sqrt();
    (Some(fit.beta[4]), se.is_finite().then_some(se))
}

/// The OLS coefficient of the metric (exact, by Frisch–Waugh–Lovell) and its cluster-robust
/// error.
fn ols_coefficient(
    design: &Design,
    h: &Horizon,
    tilde: &[f64],
    customers: usize,
) -> (Option<f64>, Option<f64>) {
    let information: f64 = tilde.iter().map(|x| x * x).sum();
    if information <= 0.0 {
        return (None, None);
    }
    let coefficient = tilde
        .iter()
        .zip(&design.residual)
        .map(|(x, e)| x * e)
        .sum::<f64>()
        / information;
    let mut per_customer = vec![0.0; customers];
    for (k, &row) in design.rows.iter().enumerate() {
        let residual = design.residual[k] - coefficient * tilde[k];
        per_customer[h.landmarks[row].0 as usize] += tilde[k] * residual;
    }
    let clusters = per_customer.iter().filter(|u| **u != 0.0).count();
    let meat: f64 = per_customer.iter().map(|u| u * u).sum();
    let params = COVARIATES + 1 + design.groups;
    let se = (meat / (information * information)
        * cluster_correction(clusters, design.rows.len(), params))
    .sqrt();
    (Some(coefficient), se.is_finite().then_some(se))
}

/// Top and bottom quarters' retention and net revenue retention at the display horizon.
fn effect(panel: &Panel, percentile: &[f64], values: &[f64]) -> Option<Effect> {
    let h = panel.horizons.iter().find(|h| h.horizon == panel.display)?;
    let periods = panel.periods;
    let mut groups: [Vec<usize>; 2] = [Vec::new(), Vec::new()];
    let mut by_ties = false;
    for (k, &(c, t)) in h.landmarks.iter().enumerate() {
        let pct = percentile[c as usize * periods + t as usize];
        if pct > 0.75 {
            groups[0].push(k);
        } else if pct < 0.25 {
            groups[1].push(k);
        }
    }
    // Many tied values (accounts with none of the metric): the lowest value stands for the
    // bottom quarter, the highest for the top.
    for (g, lowest) in [(1usize, true), (0usize, false)] {
        if !groups[g].is_empty() {
            continue;
        }
        by_ties = true;
        let value = |k: usize| {
            let (c, t) = h.landmarks[k];
            values[c as usize * periods + t as usize]
        };
        // Per landmark period, the customers at its extreme value.
        let mut extreme: std::collections::BTreeMap<u32, f64> = std::collections::BTreeMap::new();
        for (k, &(_, t)) in h.landmarks.iter().enumerate() {
            let v = value(k);
            let slot = extreme.entry(t).or_insert(v);
            *slot = if lowest { slot.min(v) } else { slot.max(v) };
        }
        groups[g] = (0..h.landmarks.len())
            .filter(|&k| value(k) == extreme[&h.landmarks[k].1])
            .collect();
    }
    if groups.iter().any(Vec::is_empty) {
        return None;
    }
    let rate =
        |rows: &[usize]| rows.iter().filter(|&&k| h.retained[k]).count() as f64 / rows.len() as f64;
    let (top, bottom) = (rate(&groups[0]), rate(&groups[1]));
    let revenue = |k: usize, later: bool| {
        let (c, t) = h.landmarks[k];
        let t = t as usize + if later { h.horizon } else { 0 };
        panel.revenue[c as usize * periods + t]
    };
    let nrr = |rows: &[usize]| -> (Option<f64>, Option<(f64, f64)>) {
        let ratio = RatioOfSums::new(
            rows.iter()
                .map(|&k| (h.landmarks[k].0, revenue(k, true), revenue(k, false))),
        );
        (ratio.estimate(), ratio.interval())
    };
    let (nrr_top, nrr_top_ci) = nrr(&groups[0]);
    let (nrr_bottom, nrr_bottom_ci) = nrr(&groups[1]);
    let (retention_ratio, retention_ratio_ci) = rate_ratio(h, &groups[0], &groups[1]);
    let rate_ci = |rows: &[usize]| {
        RatioOfSums::new(
            rows.iter()
                .map(|&k| (h.landmarks[k].0, f64::from(u8::from(h.retained[k])), 1.0)),
        )
        .interval()
        .map(|(lo, hi)| (lo, hi.min(1.0)))
    };
    Some(Effect {
        horizon: h.horizon,
        retention_top: top,
        retention_bottom: bottom,
        retention_top_ci: rate_ci(&groups[0]),
        retention_bottom_ci: rate_ci(&groups[1]),
        retention_ratio,
        retention_ratio_ci,
        nrr_top,
        nrr_bottom,
        nrr_top_ci,
        nrr_bottom_ci,
        by_ties,
    })
}

/// `Σ numerator / Σ denominator` over rows clustered by account, with a 95% interval by the
/// delta method on the log (the linearised, cluster-robust variance).
struct RatioOfSums {
    by_account: std::collections::BTreeMap<u32, (f64, f64)>,
}

impl RatioOfSums {
    fn new(rows: impl Iterator<Item = (u32, f64, f64)>) -> RatioOfSums {
        let mut by_account = std::collections::BTreeMap::new();
        for (a, num, den) in rows {
            let slot: &mut (f64, f64) = by_account.entry(a).or_default();
            slot.0 += num;
            slot.1 += den;
        }
        RatioOfSums { by_account }
    }

    fn sums(&self) -> (f64, f64) {
        self.by_account
            .values()
            .fold((0.0, 0.0), |(n, d), (a, b)| (n + a, d + b))
    }

    fn estimate(&self) -> Option<f64> {
        let (n, d) = self.sums();
        (d > 0.0).then(|| n / d)
    }

    /// The log ratio's linearised deviations per account: `(num_a − R den_a) / num`.
    fn deviations(&self) -> Option<std::collections::BTreeMap<u32, f64>> {
        let (n, d) = self.sums();
        if n <= 0.0 || d <= 0.0 {
            return None;
        }
        let r = n / d;
        Some(
            self.by_account
                .iter()
                .map(|(a, (num, den))| (*a, (num - r * den) / n))
                .collect(),
        )
    }

    fn interval(&self) -> Option<(f64, f64)> {
        let r = self.estimate()?;
        let deviations = self.deviations()?;
        let g = deviations.len() as f64;
        let variance: f64 =
            deviations.values().map(|v| v * v).sum::<f64>() * g / (g - 1.0).max(1.0);
        let sd = variance.sqrt();
        Some(((r.ln() - 1.96 * sd).exp(), (r.ln() + 1.96 * sd).exp()))
    }
}

/// Retention of the top group over the bottom group, with a 95% interval (delta method on the
/// log ratio; accounts can be in both groups in different periods, so their deviations are
/// combined per account).
fn rate_ratio(h: &Horizon, top: &[usize], bottom: &[usize]) -> (Option<f64>, Option<(f64, f64)>) {
    let of = |rows: &[usize]| {
        RatioOfSums::new(
            rows.iter()
                .map(|&k| (h.landmarks[k].0, f64::from(u8::from(h.retained[k])), 1.0)),
        )
    };
    let (t, b) = (of(top), of(bottom));
    let (Some(rt), Some(rb)) = (t.estimate(), b.estimate()) else {
        return (None, None);
    };
    if rb <= 0.0 || rt <= 0.0 {
        return (None, None);
    }
    let ratio = rt / rb;
    let (Some(dt), Some(db)) = (t.deviations(), b.deviations()) else {
        return (Some(ratio), None);
    };
    let mut combined = dt;
    for (a, v) in db {
        *combined.entry(a).or_default() -= v;
    }
    let g = combined.len() as f64;
    let variance: f64 = combined.values().map(|v| v * v).sum::<f64>() * g / (g - 1.0).max(1.0);
    let sd = variance.sqrt();
    let ci = (
        (ratio.ln() - 1.96 * sd).exp(),
        (ratio.ln() + 1.96 * sd).exp(),
    );
    (Some(ratio), Some(ci))
}

/// Null draws of every account-level test of a run (`tests[j]`, one column each). Returns
/// `draws` draws from the score wild bootstrap with Gaussian weights shared by every test:
/// exactly `N(0, Σ)`, Σ the correlation of the tests' per-account contributions, seeded by
/// `seed`.
pub fn joint_null(tests: &[&HorizonFigures], draws: usize, seed: u64) -> NullDraws {
    let k = tests.len();
    let mut null = NullDraws::new(k);
    if k == 0 {
        return null;
    }
    // Σ = U'U of the scaled contributions (each column has unit norm).
    let sigma: Vec<Vec<f64>> = (0..k)
        .into_par_iter()
        .map(|a| {
            (0..=a)
                .map(|b| {
                    tests[a]
                        .scores
                        .iter()
                        .zip(&tests[b].scores)
                        .map(|(x, y)| f64::from(*x) * f64::from(*y))
                        .sum()
                })
                .collect()
        })
        .collect();
    let full: Vec<Vec<f64>> = (0..k)
        .map(|a| {
            (0..k)
                .map(|b| if b <= a { sigma[a][b] } else { sigma[b][a] })
                .collect()
        })
        .collect();
    let lower = cholesky(&full);
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ ACCOUNT_SEED);
    let mut row = vec![0.0; k];
    let mut xi = vec![0.0; k];
    for _ in 0..draws {
        for v in xi.iter_mut() {
            *v = standard_normal(&mut rng);
        }
        for (a, slot) in row.iter_mut().enumerate() {
            *slot = (0..=a).map(|b| lower[a][b] * xi[b]).sum();
        }
        null.push(&row);
    }
    null
}

/// Mixed into the run's seed for the account-level null.
const ACCOUNT_SEED: u64 = 0xacc0_0a7c_0000_0001;

fn standard_normal(rng: &mut ChaCha8Rng) -> f64 {
    use rand::Rng;
    let u: f64 = 1.0 - rng.random::<f64>();
    let v: f64 = rng.random::<f64>();
    (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
}

/// Lower Cholesky factor of a positive semi-definite matrix; a direction already spanned by
/// earlier ones (two candidates with the same contributions) gets a zero column.
fn cholesky(sigma: &[Vec<f64>]) -> Vec<Vec<f64>> {
    let k = sigma.len();
    let mut l = vec![vec![0.0; k]; k];
    for i in 0..k {
        for j in 0..=i {
            let s: f64 = (0..j).map(|m| l[i][m] * l[j][m]).sum();
            if i == j {
                let d = sigma[i][i] - s;
                l[i][i] = if d > 1e-12 { d.sqrt() } else { 0.0 };
            } else if l[j][j] > 0.0 {
                l[i][j] = (sigma[i][j] - s) / l[j][j];
            }
        }
    }
    l
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::Rng;

    /// A panel where retention depends on the metric (or not), for the checks below.
    fn simulated(
        effect: f64,
        customers: usize,
        periods: usize,
        seed: u64,
    ) -> (Vec<Vec<f64>>, Vec<f64>) {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut revenue = vec![vec![0.0; periods]; customers];
        let mut metric = vec![0.0; customers * periods];
        for c in 0..customers {
            let level: f64 = standard_normal(&mut rng);
            let mut paying = true;
            let mut mrr = 50.0 * (0.5 * standard_normal(&mut rng)).exp();
            for t in 0..periods {
                if !paying {
                    break;
                }
                revenue[c][t] = mrr;
                let usage = level + standard_normal(&mut rng);
                metric[c * periods + t] = (2.0 + usage).exp();
                let logit = -3.5 - effect * usage;
                if rng.random::<f64>() < 1.0 / (1.0 + (-logit).exp()) {
                    paying = false;
                }
                mrr *= (0.02 * standard_normal(&mut rng)).exp();
            }
        }
        (revenue, metric)
    }

    fn panel_of(revenue: &[Vec<f64>]) -> Panel {
        let histories: Vec<CustomerHistory> = revenue
            .iter()
            .map(|r| CustomerHistory {
                revenue: r,
                first_paid: 0,
                left_censored: true,
            })
            .collect();
        Panel::new(
            &histories,
            &AccountSettings {
                horizons: vec![3, 6],
                display: 6,
            },
        )
        .unwrap()
    }

    #[test]
    fn a_planted_effect_is_found_and_none_is_not() {
        let (revenue, metric) = simulated(0.5, 600, 24, 1);
        let panel = panel_of(&revenue);
        let found = evidence(&panel, &metric);
        let best = found
            .retention
            .tests()
            .map(|f| f.z)
            .fold(f64::MIN, f64::max);
        assert!(best > 5.0, "{best}");
        let effect = found.effect.unwrap();
        assert!(effect.retention_top > effect.retention_bottom);
        let (low, high) = effect.retention_ratio_ci.unwrap();
        assert!(low > 1.0 && high > low);
        // The logit's coefficient is negative for churn, so positive for retention.
        let six = found
            .retention
            .by_horizon
            .iter()
            .find(|f| f.horizon == 6)
            .unwrap();
        assert!(six.coefficient.unwrap() > 0.0);
        let (revenue, metric) = simulated(0.0, 600, 24, 2);
        let panel = panel_of(&revenue);
        let none = evidence(&panel, &metric);
        for f in none.retention.tests() {
            assert!(f.z.abs() < 3.5, "{}", f.z);
        }
    }

    #[test]
    fn the_joint_null_keeps_identical_tests_identical() {
        let (revenue, metric) = simulated(0.3, 300, 18, 3);
        let panel = panel_of(&revenue);
        let e = evidence(&panel, &metric);
        let first = e.retention.tests().next().unwrap();
        let other = e.expansion.tests().next().unwrap();
        let null = joint_null(&[first, first, other], 2000, 7);
        let (a, b) = (null.column(0), null.column(1));
        for (x, y) in a.iter().zip(&b) {
            assert!((x - y).abs() < 1e-9);
        }
        // Each column is a standard normal sample.
        let mean = a.iter().sum::<f64>() / a.len() as f64;
        let var = a.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / a.len() as f64;
        assert!(mean.abs() < 0.1 && (var - 1.0).abs() < 0.1, "{mean} {var}");
    }

    #[test]
    fn residualising_removes_the_design() {
        // A metric equal to a covariate plus a period shift is all design: nothing is left.
        let (revenue, _) = simulated(0.0, 200, 12, 4);
        let panel = panel_of(&revenue);
        let h = &panel.horizons[0];
        let design = h.retention.as_ref().unwrap();
        let x: Vec<f64> = design
            .rows
            .iter()
            .zip(&design.group)
            .map(|(&k, &g)| 2.0 * h.covariates[k][0] + g as f64)
            .collect();
        let tilde = design.residualise(&x);
        assert!(tilde.iter().all(|v| v.abs() < 1e-8));
    }
}
