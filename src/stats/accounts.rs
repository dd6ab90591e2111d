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
//! by `p(1 − p)` for the logit). Each outcome and horizon is one test, its z referred to
//! Student's t with the variance's Satterthwaite degrees of freedom (few accounts, or a few
//! carrying most of the contributions, make it wider). The null draws come from the score wild
//! cluster bootstrap with Gaussian weights (Kline & Santos 2012), drawn exactly as `N(0, Σ)`
//! with Σ the correlation of the accounts' contributions across every candidate, outcome and
//! horizon, so that the family-wise
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
use super::linalg::cholesky;
use super::series::{inverse_normal, standard_normal};

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

/// One model's fixed part: the rows it uses (landmark indexes), their landmark period groups,
/// the weights, the covariates' weighted means within each period and the inverse of their
/// weighted within-period cross product, so that any metric can be residualised on the design
/// (Frisch–Waugh–Lovell). Covariates are read from the horizon, not copied.
#[derive(Debug, Clone)]
struct Design {
    rows: Vec<u32>,
    group: Vec<u32>,
    groups: usize,
    weight: Vec<f64>,
    means: Vec<[f64; COVARIATES]>,
    inverse: [[f64; COVARIATES]; COVARIATES],
    /// The null model's residual (y − p̂, or the OLS residual) per row.
    residual: Vec<f64>,
    /// Each period group's total weight.
    totals: Vec<f64>,
    /// Per customer, `Σ d_k r_k` over its rows (`d` the demeaned covariates, `r` the
    /// residual): the design's share of every metric's score contributions
    /// ([`Design::contributions`]), the same for all candidates.
    moments: Vec<[f64; COVARIATES]>,
    /// The null logit's intercepts and coefficients (a warm start for the full model).
    start: Option<(Vec<f64>, [f64; COVARIATES])>,
    /// The accounts with a row in the design.
    accounts: usize,
}

impl Design {
    fn new(
        rows: Vec<u32>,
        group: Vec<u32>,
        groups: usize,
        weight: Vec<f64>,
        covariates: &[[f64; COVARIATES]],
        landmarks: &[(u32, u32)],
    ) -> Design {
        let means = weighted_group_means(&group, groups, &weight, |k| covariates[rows[k] as usize]);
        let accounts = accounts_in(&rows, landmarks);
        let mut totals = vec![0.0; groups];
        for (g, w) in group.iter().zip(&weight) {
            totals[*g as usize] += w;
        }
        let mut design = Design {
            rows,
            group,
            groups,
            weight,
            means,
            inverse: [[0.0; COVARIATES]; COVARIATES],
            residual: Vec::new(),
            totals,
            moments: Vec::new(),
            start: None,
            accounts,
        };
        let mut cross = [[0.0; COVARIATES]; COVARIATES];
        for k in 0..design.rows.len() {
            let d = design.demeaned(k, covariates);
            let w = design.weight[k];
            for a in 0..COVARIATES {
                for b in 0..COVARIATES {
                    cross[a][b] += w * d[a] * d[b];
                }
            }
        }
        design.inverse = pseudo_inverse(cross);
        design
    }

    /// Row k's covariates less their period's weighted mean.
    fn demeaned(&self, k: usize, covariates: &[[f64; COVARIATES]]) -> [f64; COVARIATES] {
        let c = covariates[self.rows[k] as usize];
        let m = self.means[self.group[k] as usize];
        std::array::from_fn(|j| c[j] - m[j])
    }

    /// `x` (one value per row of the design) without its projection on the design: weighted
    /// within-period demeaning, then the weighted regression on the demeaned covariates.
    fn residualise(&self, x: &[f64], covariates: &[[f64; COVARIATES]]) -> Vec<f64> {
        let means = weighted_group_means(&self.group, self.groups, &self.weight, |k| [x[k]]);
        let centred: Vec<f64> = (0..x.len())
            .map(|k| x[k] - means[self.group[k] as usize][0])
            .collect();
        let mut cx = [0.0; COVARIATES];
        for (k, x) in centred.iter().enumerate() {
            let d = self.demeaned(k, covariates);
            for (c, dj) in cx.iter_mut().zip(d) {
                *c += self.weight[k] * dj * x;
            }
        }
        let delta: [f64; COVARIATES] =
            std::array::from_fn(|a| (0..COVARIATES).map(|b| self.inverse[a][b] * cx[b]).sum());
        (0..x.len())
            .map(|k| {
                let d = self.demeaned(k, covariates);
                let fitted: f64 = (0..COVARIATES).map(|j| d[j] * delta[j]).sum();
                centred[k] - fitted
            })
            .collect()
    }

    /// Sets the null model's residual and the per-customer moments that depend on it.
    fn set_residual(
        &mut self,
        residual: Vec<f64>,
        covariates: &[[f64; COVARIATES]],
        landmarks: &[(u32, u32)],
        customers: usize,
    ) {
        let mut moments = vec![[0.0; COVARIATES]; customers];
        for (k, r) in residual.iter().enumerate() {
            let d = self.demeaned(k, covariates);
            let slot = &mut moments[landmarks[self.rows[k] as usize].0 as usize];
            for j in 0..COVARIATES {
                slot[j] += d[j] * r;
            }
        }
        self.residual = residual;
        self.moments = moments;
    }

    /// A metric's score contributions per customer, `U_a = Σ_{k ∈ a} x̃_k r_k` with `x̃` the
    /// metric residualised on the design, in two passes over the rows and without `x̃`:
    /// `x̃_k = x_k − m_g − d_k·δ` with `m_g` the period's weighted mean of `x` and
    /// `δ = (Σ w d dᵀ)⁻¹ Σ w d x` (the centring drops out of `Σ w d x`, as `Σ_{k ∈ g} w d = 0`),
    /// so `U_a = Σ_{k ∈ a} (x_k − m_g) r_k − δ·moments_a`.
    fn contributions(
        &self,
        x: impl Fn(usize) -> f64,
        covariates: &[[f64; COVARIATES]],
        landmarks: &[(u32, u32)],
    ) -> Vec<f64> {
        let mut sums = vec![0.0; self.groups];
        let mut cx = [0.0; COVARIATES];
        for k in 0..self.rows.len() {
            let (xk, w) = (x(k), self.weight[k]);
            sums[self.group[k] as usize] += w * xk;
            let d = self.demeaned(k, covariates);
            for j in 0..COVARIATES {
                cx[j] += w * d[j] * xk;
            }
        }
        let means: Vec<f64> = sums
            .iter()
            .zip(&self.totals)
            .map(|(s, t)| if *t > 0.0 { s / t } else { 0.0 })
            .collect();
        let delta: [f64; COVARIATES] =
            std::array::from_fn(|a| (0..COVARIATES).map(|b| self.inverse[a][b] * cx[b]).sum());
        let mut per_customer = vec![0.0; self.moments.len()];
        for k in 0..self.rows.len() {
            let c = landmarks[self.rows[k] as usize].0 as usize;
            per_customer[c] += (x(k) - means[self.group[k] as usize]) * self.residual[k];
        }
        // Customers without rows have no moments and keep their exact 0.
        for (u, m) in per_customer.iter_mut().zip(&self.moments) {
            if m.iter().any(|v| *v != 0.0) {
                *u -= (0..COVARIATES).map(|j| delta[j] * m[j]).sum::<f64>();
            }
        }
        per_customer
    }
}

fn weighted_group_means<const N: usize>(
    group: &[u32],
    groups: usize,
    weight: &[f64],
    value: impl Fn(usize) -> [f64; N],
) -> Vec<[f64; N]> {
    let mut sums = vec![[0.0; N]; groups];
    let mut totals = vec![0.0; groups];
    for k in 0..group.len() {
        let v = value(k);
        let g = group[k] as usize;
        for j in 0..N {
            sums[g][j] += weight[k] * v[j];
        }
        totals[g] += weight[k];
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
    /// The customers paying in each period, ascending.
    by_period: Vec<Vec<u32>>,
    /// Per period, the normal score (Blom) of each whole rank `r = 1..=m` among its `m`
    /// paying customers: the same for every candidate, so computed once.
    blom: Vec<Vec<f64>>,
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
        let by_period: Vec<Vec<u32>> = (0..periods)
            .map(|t| {
                (0..n as u32)
                    .filter(|&c| paying[c as usize * periods + t])
                    .collect()
            })
            .collect();
        let blom = by_period
            .par_iter()
            .map(|paying| {
                let m = paying.len();
                (0..m).map(|r| blom_score(r as f64 + 1.0, m)).collect()
            })
            .collect();
        Some(Panel {
            customers: n,
            periods,
            by_period,
            blom,
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

    /// The horizon plain-words effects are given at (the one nearest the asked-for display).
    pub fn display(&self) -> usize {
        self.display
    }

    /// The share of the customers paying in period `t` whose value (`values[c * periods + t]`,
    /// as [`evidence`] reads them) is above zero; `None` when nobody pays then.
    pub fn reach(&self, values: &[f64], t: usize) -> Option<f64> {
        let paying = self.by_period.get(t)?;
        if paying.is_empty() {
            return None;
        }
        let above = paying
            .iter()
            .filter(|&&c| {
                values
                    .get(c as usize * self.periods + t)
                    .is_some_and(|v| *v > 0.0)
            })
            .count();
        Some(above as f64 / paying.len() as f64)
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
    let rows: Vec<u32> = (0..landmarks.len() as u32)
        .filter(|&k| informative[landmarks[k as usize].1 as usize])
        .collect();
    let churned = rows.iter().filter(|&&k| !retained[k as usize]).count();
    let retention = (churned >= MIN_EVENTS).then(|| {
        let (group, groups) = groups_of(&rows, &landmarks);
        let y = |k: usize| f64::from(u8::from(retained[rows[k] as usize]));
        let fit = fe_logit(&group, groups, y, |k| covariates[rows[k] as usize], None);
        let weight: Vec<f64> = fit.p.iter().map(|p| p * (1.0 - p)).collect();
        let residual: Vec<f64> = (0..rows.len()).map(|k| y(k) - fit.p[k]).collect();
        let mut design = Design::new(rows.clone(), group, groups, weight, &covariates, &landmarks);
        design.set_residual(residual, &covariates, &landmarks, customers.len());
        design.start = Some((fit.alpha, fit.beta));
        design
    });
    // Expansion: landmarks still paying at t + h.
    let rows: Vec<u32> = (0..landmarks.len() as u32)
        .filter(|&k| retained[k as usize])
        .collect();
    let growth: Vec<f64> = rows
        .iter()
        .map(|&k| {
            let (c, t) = landmarks[k as usize];
            let (c, t) = (c as usize, t as usize);
            (revenue[c * periods + t + h] / revenue[c * periods + t]).ln()
        })
        .collect();
    let expansion = (rows.len() >= MIN_ACCOUNTS).then(|| {
        let (group, groups) = groups_of(&rows, &landmarks);
        let weight = vec![1.0; rows.len()];
        let mut design = Design::new(rows.clone(), group, groups, weight, &covariates, &landmarks);
        let residual = design.residualise(&growth, &covariates);
        design.set_residual(residual, &covariates, &landmarks, customers.len());
        design
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
fn groups_of(rows: &[u32], landmarks: &[(u32, u32)]) -> (Vec<u32>, usize) {
    let mut ids: Vec<u32> = rows.iter().map(|&k| landmarks[k as usize].1).collect();
    ids.sort_unstable();
    ids.dedup();
    let group = rows
        .iter()
        .map(|&k| ids.binary_search(&landmarks[k as usize].1).unwrap_or(0) as u32)
        .collect();
    (group, ids.len())
}

/// A logit with one intercept per group and `K` covariates, by Newton–Raphson with the
/// intercepts eliminated through their Schur complement and step halving; `y(k)` and `x(k)`
/// give row k; `start` the intercepts and coefficients to begin from (the null model's, for
/// the full one: a few steps then suffice).
struct FeLogit<const K: usize> {
    alpha: Vec<f64>,
    beta: [f64; K],
    p: Vec<f64>,
    /// The inverse of the covariates' block of the Hessian, after the intercepts are eliminated.
    covariance: [[f64; K]; K],
    /// The gradient and Hessian at the estimate (`p`).
    blocks: Blocks<K>,
    converged: bool,
}

/// The gradient and Hessian of the fixed-effects logit, in blocks: per group (its intercept's
/// gradient and curvature, and its cross terms with the covariates) and the covariates'.
struct Blocks<const K: usize> {
    g_alpha: Vec<f64>,
    h_alpha: Vec<f64>,
    h_ab: Vec<[f64; K]>,
    g_beta: [f64; K],
    h_bb: [[f64; K]; K],
}

impl<const K: usize> Blocks<K> {
    fn new(groups: usize) -> Blocks<K> {
        Blocks {
            g_alpha: vec![0.0; groups],
            h_alpha: vec![0.0; groups],
            h_ab: vec![[0.0; K]; groups],
            g_beta: [0.0; K],
            h_bb: [[0.0; K]; K],
        }
    }

    /// The inverse of the covariates' block after the intercepts are eliminated (their Schur
    /// complement), and the Newton step of the covariates and of the intercepts:
    /// `(H_bb − H_ba H_aa⁻¹ H_ab) Δβ = g_b − H_ba H_aa⁻¹ g_a`, `Δα = H_aa⁻¹ (g_a − H_ab Δβ)`.
    fn newton_step(&self) -> ([[f64; K]; K], [f64; K], Vec<f64>) {
        let mut schur = self.h_bb;
        let mut rhs = self.g_beta;
        for g in 0..self.h_alpha.len() {
            let h = self.h_alpha[g];
            if h <= 0.0 {
                continue;
            }
            let cross = self.h_ab[g];
            for a in 0..K {
                rhs[a] -= cross[a] * self.g_alpha[g] / h;
                for b in 0..K {
                    schur[a][b] -= cross[a] * cross[b] / h;
                }
            }
        }
        let inverse = pseudo_inverse(schur);
        let d_beta: [f64; K] =
            std::array::from_fn(|a| (0..K).map(|b| inverse[a][b] * rhs[b]).sum());
        let d_alpha = (0..self.h_alpha.len())
            .map(|g| {
                let h = self.h_alpha[g];
                if h <= 0.0 {
                    0.0
                } else {
                    let cross = self.h_ab[g];
                    (self.g_alpha[g] - (0..K).map(|a| cross[a] * d_beta[a]).sum::<f64>()) / h
                }
            })
            .collect();
        (inverse, d_beta, d_alpha)
    }

    fn clear(&mut self) {
        self.g_alpha.fill(0.0);
        self.h_alpha.fill(0.0);
        self.h_ab.fill([0.0; K]);
        self.g_beta = [0.0; K];
        self.h_bb = [[0.0; K]; K];
    }
}

fn fe_logit<const K: usize>(
    group: &[u32],
    groups: usize,
    y: impl Fn(usize) -> f64,
    x: impl Fn(usize) -> [f64; K],
    start: Option<(Vec<f64>, [f64; K])>,
) -> FeLogit<K> {
    let n = group.len();
    let (mut alpha, mut beta) = start.unwrap_or_else(|| {
        // Intercepts from each group's share.
        let (mut s, mut t) = (vec![0.0; groups], vec![0.0; groups]);
        for k in 0..n {
            s[group[k] as usize] += y(k);
            t[group[k] as usize] += 1.0;
        }
        let alpha = (0..groups)
            .map(|g| {
                let share = ((s[g] + 0.5) / (t[g] + 1.0)).clamp(1e-6, 1.0 - 1e-6);
                (share / (1.0 - share)).ln()
            })
            .collect();
        (alpha, [0.0; K])
    });
    let mut p = vec![0.5; n];
    let mut covariance = [[0.0; K]; K];
    let mut converged = false;
    // One pass per trial point: the probabilities, the log-likelihood, and the gradient and
    // Hessian blocks there (used if the point is accepted).
    let predict = |alpha: &[f64], beta: &[f64; K], p: &mut [f64], blocks: &mut Blocks<K>| -> f64 {
        blocks.clear();
        let mut loglik = 0.0;
        for (k, slot) in p.iter_mut().enumerate() {
            let xk = x(k);
            let g = group[k] as usize;
            let eta = alpha[g] + (0..K).map(|j| beta[j] * xk[j]).sum::<f64>();
            let q = (1.0 / (1.0 + (-eta).exp())).clamp(1e-12, 1.0 - 1e-12);
            *slot = q;
            // One logarithm for a 0/1 outcome (the other term is exactly 0).
            let yk = y(k);
            if yk != 0.0 {
                loglik += yk * q.ln();
            }
            if yk != 1.0 {
                loglik += (1.0 - yk) * (1.0 - q).ln();
            }
            let r = yk - q;
            let w = q * (1.0 - q);
            blocks.g_alpha[g] += r;
            blocks.h_alpha[g] += w;
            for a in 0..K {
                let wa = w * xk[a];
                blocks.g_beta[a] += r * xk[a];
                blocks.h_ab[g][a] += wa;
                for (h, xb) in blocks.h_bb[a][a..].iter_mut().zip(&xk[a..]) {
                    *h += wa * xb;
                }
            }
        }
        for a in 0..K {
            for b in 0..a {
                blocks.h_bb[a][b] = blocks.h_bb[b][a];
            }
        }
        loglik
    };
    let mut blocks = Blocks::new(groups);
    let mut trial_blocks = Blocks::new(groups);
    let mut loglik = predict(&alpha, &beta, &mut p, &mut blocks);
    let mut trial_p = vec![0.0; n];
    for _ in 0..50 {
        let (inverse, d_beta, d_alpha) = blocks.newton_step();
        covariance = inverse;
        let largest = d_beta
            .iter()
            .chain(&d_alpha)
            .fold(0.0f64, |m, d| m.max(d.abs()));
        if largest < 1e-10 {
            converged = true;
            break;
        }
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
            let trial = predict(&trial_alpha, &trial_beta, &mut trial_p, &mut trial_blocks);
            if trial >= loglik - 1e-12 * loglik.abs().max(1.0) {
                alpha = trial_alpha;
                beta = trial_beta;
                std::mem::swap(&mut p, &mut trial_p);
                std::mem::swap(&mut blocks, &mut trial_blocks);
                let change = (trial - loglik).abs();
                loglik = trial;
                accepted = true;
                // Newton converges quadratically: after a full step of at most 1e-6 the
                // estimate is within about 1e-12, and the covariance is taken there.
                let full = step == 1.0 && largest < 1e-6;
                if full || step * largest < 1e-9 || change < 1e-12 * loglik.abs().max(1.0) {
                    converged = true;
                    covariance = blocks.newton_step().0;
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
        alpha,
        beta,
        p,
        covariance,
        blocks,
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
    /// Its variance's degrees of freedom ([`robust_df`]), and the statistic tested: the
    /// normal score with z's upper tail under Student's t with `df` (z itself with many
    /// accounts evenly spread, smaller when a few accounts carry the test).
    pub df: f64,
    pub statistic: f64,
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

impl HorizonFigures {
    /// Whether enough accounts carry it for a test (its contributions are kept).
    pub fn is_test(&self) -> bool {
        !self.scores.is_empty()
    }

    /// The figures without the accounts' contributions (kept only for a joint null).
    pub fn without_scores(mut self) -> HorizonFigures {
        self.scores = Vec::new();
        self
    }
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
    let mut at_risk: Vec<(u64, u32)> = Vec::new();
    let mut scratch: Vec<(u64, u32)> = Vec::new();
    for t in 0..periods {
        at_risk.clear();
        at_risk.extend(panel.by_period[t].iter().map(|&c| {
            let value = values.get(c as usize * periods + t).copied().unwrap_or(0.0);
            (order_key(value), c)
        }));
        // Equal values share their rank's score, so their order among themselves is free.
        radix_sort(&mut at_risk, &mut scratch);
        let m = at_risk.len();
        let mut i = 0;
        while i < m {
            let mut j = i;
            while j + 1 < m && at_risk[j + 1].0 == at_risk[i].0 {
                j += 1;
            }
            let rank = (i + j) as f64 / 2.0 + 1.0;
            // A whole rank is in the period's table; a mid-rank of an even run of ties is not.
            let z = if (i + j) % 2 == 0 {
                panel.blom[t][(i + j) / 2]
            } else {
                blom_score(rank, m)
            };
            let pct = (rank - 0.5) / m as f64;
            for &(_, c) in &at_risk[i..=j] {
                score[c as usize * periods + t] = z;
                percentile[c as usize * periods + t] = pct;
            }
            i = j + 1;
        }
    }
    (score, percentile)
}

/// Sorts by key, least significant 11 bits first (a stable counting sort per digit), skipping
/// the digits every key shares: whole counts stored as `f64` differ only in their top bits.
fn radix_sort(entries: &mut Vec<(u64, u32)>, scratch: &mut Vec<(u64, u32)>) {
    const BITS: u32 = 11;
    const BUCKETS: usize = 1 << BITS;
    let (mut all_or, mut all_and) = (0u64, u64::MAX);
    for e in entries.iter() {
        all_or |= e.0;
        all_and &= e.0;
    }
    let varying = all_or ^ all_and;
    scratch.clear();
    scratch.resize(entries.len(), (0, 0));
    let mut counts = [0usize; BUCKETS];
    let mut shift = 0;
    while shift < 64 {
        let mask = ((BUCKETS - 1) as u64) << shift;
        if varying & mask != 0 {
            counts.fill(0);
            for e in entries.iter() {
                counts[((e.0 >> shift) as usize) & (BUCKETS - 1)] += 1;
            }
            let mut total = 0;
            for c in counts.iter_mut() {
                let n = *c;
                *c = total;
                total += n;
            }
            for e in entries.iter() {
                let digit = ((e.0 >> shift) as usize) & (BUCKETS - 1);
                scratch[counts[digit]] = *e;
                counts[digit] += 1;
            }
            std::mem::swap(entries, scratch);
        }
        shift += BITS;
    }
}

/// A key whose unsigned order is the numeric order of `value` (−0 and 0 the same key).
fn order_key(value: f64) -> u64 {
    let bits = (value + 0.0).to_bits();
    if bits >> 63 == 1 {
        !bits
    } else {
        bits | 1 << 63
    }
}

/// Blom's normal score of rank `rank` (mid-ranks for ties) among `m`.
fn blom_score(rank: f64, m: usize) -> f64 {
    inverse_normal((rank - 0.375) / (m as f64 + 0.25))
}

/// A candidate's value at each row of a design: its within-period score at the landmark.
fn metric_at<'a>(
    design: &'a Design,
    horizon: &'a Horizon,
    score: &'a [f64],
    periods: usize,
) -> impl Fn(usize) -> f64 + 'a {
    move |k| {
        let (c, t) = horizon.landmarks[design.rows[k] as usize];
        score[c as usize * periods + t as usize]
    }
}

fn robust_z(per_customer: &[f64]) -> Option<f64> {
    let total: f64 = per_customer.iter().sum();
    let variance: f64 = per_customer.iter().map(|u| u * u).sum();
    (variance > 0.0).then(|| total / variance.sqrt())
}

/// Degrees of freedom of the cluster-robust variance `Σ U_a²` (Satterthwaite): for accounts
/// whose contributions are Gaussian with unequal spreads, `Var(Σ U²) = 2 Σ σ_a⁴` and
/// `E U⁴ = 3 σ⁴`, so `df ≈ 3 (Σ U²)² / Σ U⁴`, at most one less than the accounts. Few
/// accounts, or a few that carry most of the contributions, give few degrees of freedom.
fn robust_df(per_customer: &[f64]) -> f64 {
    let (mut s2, mut s4, mut accounts) = (0.0, 0.0, 0usize);
    for u in per_customer {
        let u2 = u * u;
        s2 += u2;
        s4 += u2 * u2;
        accounts += usize::from(*u != 0.0);
    }
    if s4 <= 0.0 {
        return 1.0;
    }
    (3.0 * s2 * s2 / s4).clamp(1.0, accounts.saturating_sub(1).max(1) as f64)
}

/// The standard normal score with the same upper tail as `z` under Student's t with `df`
/// degrees of freedom: the statistic the family compares with its Gaussian draws.
fn normal_equivalent(z: f64, df: f64) -> f64 {
    use statrs::distribution::{ContinuousCDF, StudentsT};
    let Ok(t) = StudentsT::new(0.0, 1.0, df) else {
        return z;
    };
    let upper = t.sf(z).clamp(1e-300, 1.0);
    -inverse_normal(upper)
}

/// The distinct accounts of `rows`.
fn accounts_in(rows: &[u32], landmarks: &[(u32, u32)]) -> usize {
    let mut ids: Vec<u32> = rows.iter().map(|&k| landmarks[k as usize].0).collect();
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
            let x = metric_at(design, h, &score, periods);
            let per_customer = design.contributions(&x, &h.covariates, &h.landmarks);
            let Some(z) = robust_z(&per_customer) else {
                continue;
            };
            let df = robust_df(&per_customer);
            let landmarks = design.rows.len();
            let in_design = design.accounts;
            if o == 0 {
                account_periods = account_periods.max(landmarks);
                accounts = accounts.max(in_design);
            }
            let (coefficient, standard_error) = if h.horizon == panel.display {
                if o == 0 {
                    logit_coefficient(design, h, &score, periods, n)
                } else {
                    let values: Vec<f64> = (0..design.rows.len()).map(&x).collect();
                    ols_coefficient(design, h, &design.residualise(&values, &h.covariates), n)
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
                df,
                statistic: normal_equivalent(z, df),
                scores,
                coefficient,
                standard_error,
                landmarks,
                accounts: in_design,
            });
        }
    }
    let [retention, expansion] = lines;
    let effect = effect(panel, &percentile, values);
    Evidence {
        retention: Line {
            by_horizon: retention,
        },
        expansion: Line {
            by_horizon: expansion,
        },
        effect,
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
    let y = |k: usize| f64::from(u8::from(h.retained[rows[k] as usize]));
    let x = |k: usize| -> [f64; 5] {
        let row = rows[k] as usize;
        let c = h.covariates[row];
        let (a, t) = h.landmarks[row];
        [
            c[0],
            c[1],
            c[2],
            c[3],
            score[a as usize * periods + t as usize],
        ]
    };
    // From the null model's fit, with the metric's coefficient at 0.
    let start = design
        .start
        .as_ref()
        .map(|(alpha, beta)| (alpha.clone(), [beta[0], beta[1], beta[2], beta[3], 0.0]));
    let fit = fe_logit(&design.group, design.groups, y, x, start);
    if !fit.converged {
        return (None, None);
    }
    // Sandwich over accounts: the scores of (γ, β) with the intercepts partialled out.
    // The covariates' means within each period, weighted by p(1 − p) at the estimate: the
    // Hessian's blocks hold their sums.
    let blocks = &fit.blocks;
    let means: Vec<[f64; 5]> = (0..design.groups)
        .map(|g| {
            let total = blocks.h_alpha[g];
            std::array::from_fn(|j| {
                if total > 0.0 {
                    blocks.h_ab[g][j] / total
                } else {
                    0.0
                }
            })
        })
        .collect();
    let mut meat_by_customer: Vec<[f64; 5]> = crate::memory::zeros(customers);
    for (k, &row) in rows.iter().enumerate() {
        let r = y(k) - fit.p[k];
        let c = h.landmarks[row as usize].0 as usize;
        let (xk, m) = (x(k), means[design.group[k] as usize]);
        for j in 0..5 {
            meat_by_customer[c][j] += (xk[j] - m[j]) * r;
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
        per_customer[h.landmarks[row as usize].0 as usize] += tilde[k] * residual;
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
        let start = if lowest {
            f64::INFINITY
        } else {
            f64::NEG_INFINITY
        };
        let mut extreme = vec![start; periods];
        for (k, &(_, t)) in h.landmarks.iter().enumerate() {
            let v = value(k);
            let slot = &mut extreme[t as usize];
            *slot = if lowest { slot.min(v) } else { slot.max(v) };
        }
        groups[g] = (0..h.landmarks.len())
            .filter(|&k| value(k) == extreme[h.landmarks[k].1 as usize])
            .collect();
    }
    group_effect(panel, h, &groups, by_ties)
}

/// Retention and net revenue retention at the display horizon of the landmarks whose value
/// `above` says yes to (as `retention_top`, `nrr_top`) against the others (`_bottom`): the
/// accounts at or above a threshold against those below it. `None` when either group is
/// empty.
pub fn split_effect(panel: &Panel, values: &[f64], above: impl Fn(f64) -> bool) -> Option<Effect> {
    let h = panel.horizons.iter().find(|h| h.horizon == panel.display)?;
    let periods = panel.periods;
    let mut groups: [Vec<usize>; 2] = [Vec::new(), Vec::new()];
    for (k, &(c, t)) in h.landmarks.iter().enumerate() {
        let value = values
            .get(c as usize * periods + t as usize)
            .copied()
            .unwrap_or(0.0);
        groups[usize::from(!above(value))].push(k);
    }
    group_effect(panel, h, &groups, false)
}

/// The figures of [`Effect`] for two groups of landmarks of `h` (top, bottom).
fn group_effect(
    panel: &Panel,
    h: &Horizon,
    groups: &[Vec<usize>; 2],
    by_ties: bool,
) -> Option<Effect> {
    let periods = panel.periods;
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
    /// `(account, numerator, denominator)`, one entry per account, by account.
    by_account: Vec<(u32, f64, f64)>,
}

impl RatioOfSums {
    fn new(rows: impl Iterator<Item = (u32, f64, f64)>) -> RatioOfSums {
        // Landmarks come account by account: summed as they come, sorted only if they do not.
        let mut by_account: Vec<(u32, f64, f64)> = Vec::new();
        let mut in_order = true;
        for (a, num, den) in rows {
            match by_account.last_mut() {
                Some(last) if last.0 == a => {
                    last.1 += num;
                    last.2 += den;
                }
                last => {
                    in_order &= last.is_none_or(|l| l.0 < a);
                    by_account.push((a, num, den));
                }
            }
        }
        if !in_order {
            by_account.sort_by_key(|r| r.0);
            by_account.dedup_by(|later, kept| {
                let same = later.0 == kept.0;
                if same {
                    kept.1 += later.1;
                    kept.2 += later.2;
                }
                same
            });
        }
        RatioOfSums { by_account }
    }

    fn sums(&self) -> (f64, f64) {
        self.by_account
            .iter()
            .fold((0.0, 0.0), |(n, d), (_, a, b)| (n + a, d + b))
    }

    fn estimate(&self) -> Option<f64> {
        let (n, d) = self.sums();
        (d > 0.0).then(|| n / d)
    }

    /// The log ratio's linearised deviations per account, by account: `(num_a − R den_a) / num`.
    fn deviations(&self) -> Option<Vec<(u32, f64)>> {
        let (n, d) = self.sums();
        if n <= 0.0 || d <= 0.0 {
            return None;
        }
        let r = n / d;
        Some(
            self.by_account
                .iter()
                .map(|(a, num, den)| (*a, (num - r * den) / n))
                .collect(),
        )
    }

    fn interval(&self) -> Option<(f64, f64)> {
        let r = self.estimate()?;
        let deviations = self.deviations()?;
        Some(log_interval(r, deviations.iter().map(|(_, v)| *v)))
    }
}

/// A 95% interval for a positive ratio from its log's linearised deviations per account
/// (with the small-sample factor `G / (G − 1)`).
fn log_interval(ratio: f64, deviations: impl Iterator<Item = f64>) -> (f64, f64) {
    let (mut squares, mut g) = (0.0, 0.0);
    for v in deviations {
        squares += v * v;
        g += 1.0;
    }
    let sd = (squares * g / (g - 1.0f64).max(1.0)).sqrt();
    (
        (ratio.ln() - 1.96 * sd).exp(),
        (ratio.ln() + 1.96 * sd).exp(),
    )
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
    // Accounts can be in both groups in different periods: combine their deviations (a merge
    // of the two lists, both by account).
    let mut combined: Vec<f64> = Vec::with_capacity(dt.len() + db.len());
    let (mut i, mut j) = (0, 0);
    while i < dt.len() || j < db.len() {
        match (dt.get(i), db.get(j)) {
            (Some(x), Some(y)) if x.0 == y.0 => {
                combined.push(x.1 - y.1);
                i += 1;
                j += 1;
            }
            (Some(x), Some(y)) if x.0 < y.0 => {
                combined.push(x.1);
                i += 1;
            }
            (Some(x), None) => {
                combined.push(x.1);
                i += 1;
            }
            (_, Some(y)) => {
                combined.push(-y.1);
                j += 1;
            }
            (None, None) => break,
        }
    }
    let ci = log_interval(ratio, combined.into_iter());
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
    fn contributions_equal_the_residualised_metric_times_the_residual() {
        // The two-pass contributions against the definition: Σ over each customer's rows of
        // the residualised metric times the null model's residual, for both outcomes.
        let (revenue, _) = simulated(0.3, 300, 24, 7);
        let panel = panel_of(&revenue);
        let mut checked = 0;
        for h in &panel.horizons {
            for design in [&h.retention, &h.expansion].into_iter().flatten() {
                let x: Vec<f64> = (0..design.rows.len())
                    .map(|k| {
                        ((k * 37 % 101) as f64 / 10.0).sin()
                            + h.covariates[design.rows[k] as usize][2]
                    })
                    .collect();
                let tilde = design.residualise(&x, &h.covariates);
                let mut expected = vec![0.0; panel.customers];
                for (k, &row) in design.rows.iter().enumerate() {
                    expected[h.landmarks[row as usize].0 as usize] += tilde[k] * design.residual[k];
                }
                let got = design.contributions(|k| x[k], &h.covariates, &h.landmarks);
                let scale = expected.iter().map(|u| u.abs()).fold(0.0, f64::max);
                assert!(scale > 0.0);
                for (e, g) in expected.iter().zip(&got) {
                    assert!((e - g).abs() <= 1e-9 * scale, "{e} against {g}");
                }
                checked += 1;
            }
        }
        assert!(checked >= 4, "{checked} designs");
    }

    #[test]
    fn the_radix_sort_sorts() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        for n in [0usize, 1, 2, 17, 5000] {
            let mut entries: Vec<(u64, u32)> = (0..n as u32)
                .map(|i| {
                    let v: f64 = match i % 3 {
                        0 => f64::from(rng.random_range(0..40u32)),
                        1 => standard_normal(&mut rng) * 1e3,
                        _ => 0.0,
                    };
                    (order_key(v), i)
                })
                .collect();
            let mut expected = entries.clone();
            expected.sort_by_key(|e| e.0);
            radix_sort(&mut entries, &mut Vec::new());
            assert_eq!(entries, expected, "{n} entries");
        }
    }

    #[test]
    fn order_keys_sort_as_the_numbers() {
        let mut values = [3.5, -0.0, 0.0, -2.0, 1e-300, -1e300, 7.0, -0.5];
        let mut keys: Vec<(u64, f64)> = values.iter().map(|v| (order_key(*v), *v)).collect();
        keys.sort_unstable_by_key(|k| k.0);
        values.sort_by(f64::total_cmp);
        let sorted: Vec<f64> = keys.iter().map(|k| k.1).collect();
        assert_eq!(
            sorted.iter().map(|v| v + 0.0).collect::<Vec<_>>(),
            values.iter().map(|v| v + 0.0).collect::<Vec<_>>()
        );
        assert_eq!(order_key(-0.0), order_key(0.0));
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
            .map(|(&k, &g)| 2.0 * h.covariates[k as usize][0] + f64::from(g))
            .collect();
        let tilde = design.residualise(&x, &h.covariates);
        assert!(tilde.iter().all(|v| v.abs() < 1e-8));
    }
}
