//! Verdicts, labels, the 0–100 score and the one-sentence explanation.
//!
//! Score = 100 × (0.5 · lead + 0.4 · churn + 0.1 · actionability), each component in [0, 1]:
//! - lead: pass → 0.6 + 0.4·e; fail as `lagging` or `revenue` → 0; other fail →
//!   0.5·e·(1 − p_adjusted); inconclusive → 0; e the excess r (the best lag's r less the
//!   median best-of-range r of unrelated series), not the raw maximum, which the scan inflates.
//! - churn: c = (1 − excess rises) · 1 / (1 + churner weight) · (1 − residual), 0 when
//!   monotone by construction, the excess rises being the share of rises in churn periods above
//!   the share in the others; pass → 0.5 + 0.5·c; inconclusive → 0.5·c; fail → 0.4·c.
//! - actionability: from the variance ratio of the log levels over six months (Lo & MacKinlay
//!   1988): `0.5 + ln VR / (2 ln q)` clamped to [0, 1], so a random walk scores 0.5, white
//!   noise 0 and a series whose changes build on each other (a trend, momentum) up to 1.

use serde::{Deserialize, Serialize};

use super::churn::{ChurnOutcome, ChurnPeriods, GAMEABLE_SHARE};
use super::evidence::AccountOutcome;
use super::lead::{LeadOutcome, LeadSettings, RECENT_MONTHS, REVENUE_R};

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Pass,
    #[default]
    Inconclusive,
    Fail,
}

impl Verdict {
    pub fn name(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Inconclusive => "inconclusive",
            Verdict::Fail => "fail",
        }
    }

    /// Both tests combined: any fail fails, else any inconclusive is inconclusive.
    pub fn and(self, other: Verdict) -> Verdict {
        self.max(other)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum Label {
    Vanity,
    Lagging,
    NotLeading,
    Revenue,
    Gameable,
    Noisy,
    Outgrown,
}

impl Label {
    pub const ALL: [Label; 7] = [
        Label::Vanity,
        Label::Lagging,
        Label::NotLeading,
        Label::Revenue,
        Label::Gameable,
        Label::Noisy,
        Label::Outgrown,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Label::Vanity => "vanity",
            Label::Lagging => "lagging",
            Label::NotLeading => "not_leading",
            Label::Revenue => "revenue",
            Label::Gameable => "gameable",
            Label::Noisy => "noisy",
            Label::Outgrown => "outgrown",
        }
    }
}

/// Churner weight above which a metric is carried by customers on their way out.
pub const CHURNER_WEIGHT_FAIL: f64 = 1.2;
/// Share of the metric still produced by churned customers that fails the churn test.
pub const RESIDUAL_FAIL: f64 = 0.25;
/// Actionability under which a metric is labelled `noisy`.
pub const NOISY_BELOW: f64 = 0.25;

pub const WEIGHT_LEAD: f64 = 0.5;
pub const WEIGHT_CHURN: f64 = 0.4;
pub const WEIGHT_ACTIONABILITY: f64 = 0.1;

/// The horizon of the variance ratio, in months: a quarter is too short to see a push
/// through, a year too long for 24–48 months of data.
pub const ACTIONABILITY_MONTHS: usize = 6;

/// Whether a metric's changes build on each other or cancel out, in [0, 1], from the variance
/// ratio `VR(q) = mean((y_t − y_{t−q})²) / (q · mean((y_t − y_{t−1})²))` of its log levels
/// (levels when some value is ≤ 0), uncentred so that a steady trend counts as movement (Lo &
/// MacKinlay 1988): `0.5 + ln VR / (2 ln q)`. A random walk (VR = 1) scores 0.5, the
/// neutral point: nothing in a single series says whether anyone moves it. White noise
/// (VR = 1/q) scores 0: what moves this month is undone the next. Changes that
/// persist and add up (VR → q) score up to 1. `q` is `periods` (six months of periods),
/// at most a quarter of the series.
pub fn actionability(values: &[f64], periods: usize) -> f64 {
    let n = values.len();
    let q = periods.min(n / 4);
    if q < 2 {
        return 0.0;
    }
    let levels: Vec<f64> = if values.iter().all(|v| *v > 0.0) {
        values.iter().map(|v| v.ln()).collect()
    } else {
        values.to_vec()
    };
    let mean_square = |step: usize| -> f64 {
        let d: Vec<f64> = (step..n).map(|t| levels[t] - levels[t - step]).collect();
        d.iter().map(|x| x * x).sum::<f64>() / d.len() as f64
    };
    let (one, many) = (mean_square(1), mean_square(q));
    if one.is_nan() || one <= 0.0 || !many.is_finite() {
        return 0.0;
    }
    let ratio = many / (q as f64 * one);
    if ratio <= 0.0 {
        return 0.0;
    }
    (0.5 + ratio.ln() / (2.0 * (q as f64).ln())).clamp(0.0, 1.0)
}

/// Which p-value a lead verdict rests on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Basis {
    /// The candidate tested on its own: a pre-specified hypothesis (`nsm check`'s star).
    Alone,
    /// Adjusted over every candidate of the run (the ranking and the recommendation).
    Family,
}

/// The lead verdict and its labels from both lines of evidence, on the p-values of `basis`
/// (STATISTICS.md, "Combining the two lines"):
///
/// 1. the metric moves with revenue in the same period: `revenue`, fail;
/// 2. revenue significantly leads it, more than it leads revenue: `lagging`, fail;
/// 3. its accounts say the opposite (those with more of it churn or shrink more): fail;
/// 4. either line significant (the aggregate with r > 0): pass;
/// 5. no test could run (too short a history, no account line): inconclusive;
/// 6. otherwise `not_leading`, fail.
pub fn lead_verdict(
    lead: &LeadOutcome,
    accounts: Option<&AccountOutcome>,
    basis: Basis,
    settings: &LeadSettings,
) -> (Verdict, Vec<Label>) {
    if lead.same_period_r.is_some_and(|r| r >= REVENUE_R) {
        return (Verdict::Fail, vec![Label::Revenue]);
    }
    let significant = |p: Option<f64>| p.is_some_and(|p| p <= settings.alpha);
    let aggregate = lead.needs_more_periods.is_none() && lead.r.is_some();
    let forward_r = lead.r.unwrap_or(0.0);
    if aggregate && significant(lead.reverse_p_value) && lead.reverse_r.unwrap_or(0.0) > forward_r {
        return (Verdict::Fail, vec![Label::Lagging]);
    }
    let accounts = accounts.filter(|a| a.has_test());
    if accounts.is_some_and(|a| a.opposite().is_some()) {
        return (Verdict::Fail, vec![Label::NotLeading]);
    }
    let passes = match basis {
        Basis::Alone => significant(lead.p_alone) && (forward_r > 0.0 || accounts.is_some()),
        Basis::Family => {
            (aggregate && significant(lead.p_adjusted) && forward_r > 0.0)
                || significant(accounts.and_then(AccountOutcome::p_adjusted))
        }
    };
    if passes {
        (Verdict::Pass, vec![])
    } else if !aggregate && accounts.is_none() {
        (Verdict::Inconclusive, vec![])
    } else {
        (Verdict::Fail, vec![Label::NotLeading])
    }
}

/// The churn verdict and its labels.
pub(crate) fn churn_verdict(churn: &ChurnOutcome, alpha: f64) -> (Verdict, Vec<Label>) {
    // Rising more often in churn periods than in the others: the metric's own baseline, so a
    // growing metric is not condemned for growing.
    let diverges = churn.divergence_p.is_some_and(|p| p <= alpha);
    // Carried by leaving customers: a weight above the threshold whose bootstrap interval
    // lies wholly above 1 (when there is one).
    let churner_heavy = churn
        .churner_weight
        .is_some_and(|w| w > CHURNER_WEIGHT_FAIL)
        && churn
            .churner_weight_interval
            .is_none_or(|(low, _)| low > 1.0);
    let counts_the_gone = churn.residual.is_some_and(|r| r > RESIDUAL_FAIL);
    if churn.structural_monotone || diverges || churner_heavy || counts_the_gone {
        return (Verdict::Fail, vec![Label::Vanity]);
    }
    if churn.divergence_p.is_none() && churn.churner_weight.is_none() {
        return (Verdict::Inconclusive, vec![]);
    }
    (Verdict::Pass, vec![])
}

fn lead_component(
    verdict: Verdict,
    labels: &[Label],
    lead: &LeadOutcome,
    accounts: Option<&AccountOutcome>,
) -> f64 {
    let excess = lead
        .excess_r
        .unwrap_or(0.0)
        .max(accounts.map_or(0.0, |a| a.evidence.strength()))
        .clamp(0.0, 1.0);
    let p = [
        lead.p_adjusted,
        accounts.and_then(AccountOutcome::p_adjusted),
    ]
    .into_iter()
    .flatten()
    .reduce(f64::min);
    match verdict {
        Verdict::Pass => 0.6 + 0.4 * excess,
        Verdict::Fail
            if labels
                .iter()
                .any(|l| matches!(l, Label::Lagging | Label::Revenue)) =>
        {
            0.0
        }
        Verdict::Fail => 0.5 * excess * (1.0 - p.unwrap_or(1.0)),
        Verdict::Inconclusive => 0.0,
    }
}

fn churn_component(verdict: Verdict, churn: &ChurnOutcome) -> f64 {
    if churn.structural_monotone {
        return 0.0;
    }
    let baseline =
        (churn.other_periods > 0).then(|| churn.rose_in_other as f64 / churn.other_periods as f64);
    let divergence = match (churn.divergence_rate, baseline) {
        (Some(rate), Some(base)) => (rate - base).max(0.0),
        _ => 0.0,
    };
    // A metric produced mostly by customers who stay (weight near 0) beats one produced evenly
    // (weight 1: 0.5); one carried by leaving customers tends to 0.
    let weight = churn
        .churner_weight
        .map_or(0.5, |w| 1.0 / (1.0 + w.max(0.0)));
    let residual = churn.residual.unwrap_or(0.0);
    let c = (1.0 - divergence) * weight * (1.0 - residual);
    match verdict {
        Verdict::Pass => 0.5 + 0.5 * c,
        Verdict::Inconclusive => 0.5 * c,
        Verdict::Fail => 0.4 * c,
    }
}

/// Score in [0, 100], one decimal.
pub(crate) fn score(
    lead_verdict: Verdict,
    lead_labels: &[Label],
    lead: &LeadOutcome,
    accounts: Option<&AccountOutcome>,
    churn_verdict: Verdict,
    churn: &ChurnOutcome,
    actionability: f64,
) -> f64 {
    let total = WEIGHT_LEAD * lead_component(lead_verdict, lead_labels, lead, accounts)
        + WEIGHT_CHURN * churn_component(churn_verdict, churn)
        + WEIGHT_ACTIONABILITY * actionability;
    (total * 1000.0).round() / 10.0
}

/// Everything decided about one candidate from its two test outcomes: the verdicts, the
/// labels (every label rule lives here), the score and the explanation.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Judgement {
    /// The lead verdict on the family-wise adjusted p (ranking, recommendation).
    pub lead: Verdict,
    /// The lead verdict of this candidate tested alone (a declared star in `nsm check`).
    pub lead_alone: Verdict,
    pub churn: Verdict,
    pub labels: Vec<Label>,
    pub actionability: f64,
    pub score: f64,
    pub lead_explanation: String,
    pub churn_explanation: String,
}

impl Judgement {
    /// Both tests combined.
    pub fn verdict(&self) -> Verdict {
        self.lead.and(self.churn)
    }

    /// The one sentence shown for the candidate.
    pub fn explanation(&self) -> String {
        capitalise(&format!(
            "{}; {}.",
            self.lead_explanation, self.churn_explanation
        ))
    }
}

/// Judge one candidate: `values` is its series, `unit` the period's name ("month"),
/// `horizon` the periods in [`ACTIONABILITY_MONTHS`].
pub(crate) fn judge(
    lead: &LeadOutcome,
    accounts: Option<&AccountOutcome>,
    churn: &ChurnOutcome,
    values: &[f64],
    settings: &LeadSettings,
    unit: &str,
    horizon: usize,
) -> Judgement {
    let (lead_alone, _) = lead_verdict(lead, accounts, Basis::Alone, settings);
    let (lead_verdict, mut labels) = lead_verdict(lead, accounts, Basis::Family, settings);
    let (churn_verdict, churn_labels) = churn_verdict(churn, settings.alpha);
    labels.extend(churn_labels);
    let actionability = actionability(values, horizon);
    if churn.top_share.is_some_and(|share| share > GAMEABLE_SHARE) {
        labels.push(Label::Gameable);
    }
    if actionability < NOISY_BELOW {
        labels.push(Label::Noisy);
    }
    // Only a lead can fade: a lagging echo or revenue itself is not outgrown.
    let echo = labels
        .iter()
        .any(|l| matches!(l, Label::Lagging | Label::Revenue));
    if lead.outgrown && !echo {
        labels.push(Label::Outgrown);
    }
    labels.sort();
    labels.dedup();
    let score = score(
        lead_verdict,
        &labels,
        lead,
        accounts,
        churn_verdict,
        churn,
        actionability,
    );
    Judgement {
        lead: lead_verdict,
        lead_alone,
        churn: churn_verdict,
        lead_explanation: explain_lead(&labels, lead, accounts, settings, unit),
        churn_explanation: explain_churn(churn, unit),
        labels,
        actionability,
        score,
    }
}

fn capitalise(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().collect::<String>() + chars.as_str(),
        None => String::new(),
    }
}

fn fmt_p(p: f64) -> String {
    if p < 0.001 {
        "p < 0.001".to_string()
    } else {
        format!("p = {p:.3}")
    }
}

/// `p = 0.012, 0.094 adjusted for 12 candidates`, or only the raw p outside a family.
fn fmt_p_family(lead: &LeadOutcome, p: f64) -> String {
    match (lead.p_adjusted, lead.family_size) {
        (Some(adjusted), Some(m)) if m > 1 => {
            let shown = if adjusted < 0.001 {
                "< 0.001".to_string()
            } else {
                format!("{adjusted:.3}")
            };
            format!("{}, {shown} adjusted for {m} candidates", fmt_p(p))
        }
        _ => fmt_p(p),
    }
}

/// One sentence on the lead test.
pub fn explain_lead(
    labels: &[Label],
    lead: &LeadOutcome,
    accounts: Option<&AccountOutcome>,
    settings: &LeadSettings,
    unit: &str,
) -> String {
    let aggregate = explain_aggregate(labels, lead, settings, unit);
    match accounts.and_then(|a| explain_accounts(a, settings, unit)) {
        Some(line)
            if !labels
                .iter()
                .any(|l| matches!(l, Label::Revenue | Label::Lagging)) =>
        {
            format!("{aggregate}; {line}")
        }
        _ => aggregate,
    }
}

/// The aggregate line's part of the lead sentence.
fn explain_aggregate(
    labels: &[Label],
    lead: &LeadOutcome,
    settings: &LeadSettings,
    unit: &str,
) -> String {
    let plural = |k: usize| {
        if k == 1 {
            unit.to_string()
        } else {
            format!("{unit}s")
        }
    };
    if labels.contains(&Label::Revenue) {
        return format!(
            "it moves with revenue in the same {unit} (r = {:.2}): it is revenue itself, not a leading indicator",
            lead.same_period_r.unwrap_or(0.0)
        );
    }
    if let Some(more) = lead.needs_more_periods {
        return format!(
            "too little data to test a lead ({} {}s; needs {more} more {})",
            lead.n_periods,
            unit,
            plural(more)
        );
    }
    let (Some(k), Some(r), Some(p)) = (lead.best_lag, lead.r, lead.p_value) else {
        return "no lagged correlation could be computed (a constant series?)".into();
    };
    if labels.contains(&Label::Lagging) {
        return format!(
            "it follows revenue by {} {} (r = {:.2}, {}) more than it leads it (r = {:.2}): a lagging echo of revenue",
            lead.reverse_best_lag.unwrap_or(0),
            plural(lead.reverse_best_lag.unwrap_or(0)),
            lead.reverse_r.unwrap_or(0.0),
            fmt_p(lead.reverse_p_value.unwrap_or(1.0)),
            r
        );
    }
    let faded = match (lead.outgrown, lead.recent_r, lead.earlier_r) {
        (true, Some(recent), Some(earlier)) => format!(
            ", but the lead has faded (r = {recent:.2} over the latest {RECENT_MONTHS} months against {earlier:.2} before): outgrown"
        ),
        _ => String::new(),
    };
    if lead.p_adjusted.is_some_and(|p| p <= settings.alpha) && r > 0.0 {
        format!(
            "revenue follows it by {k} {} (r = {r:.2}, {}){faded}",
            plural(k),
            fmt_p_family(lead, p)
        )
    } else {
        format!(
            "revenue does not reliably follow it (best lag {k} {}: r = {r:.2}, {}){faded}",
            plural(k),
            fmt_p_family(lead, p)
        )
    }
}

/// `p < 0.001` or `p = 0.012`, and the adjusted p beside it.
fn fmt_adjusted(p: f64, adjusted: Option<f64>) -> String {
    match adjusted {
        Some(a) if a < 0.001 => format!("{}, < 0.001 adjusted", fmt_p(p)),
        Some(a) => format!("{}, {a:.3} adjusted", fmt_p(p)),
        None => fmt_p(p),
    }
}

/// The account line's part of the lead sentence, when it has a test.
fn explain_accounts(
    accounts: &AccountOutcome,
    settings: &LeadSettings,
    unit: &str,
) -> Option<String> {
    if !accounts.has_test() {
        return None;
    }
    if let Some((what, z)) = accounts.opposite() {
        return Some(format!(
            "but accounts with more of it {what} (z = {z:.1}): not a leader"
        ));
    }
    let best = AccountOutcome::best(&accounts.retention)
        .into_iter()
        .chain(AccountOutcome::best(&accounts.expansion))
        .min_by(|a, b| {
            let key =
                |t: &&crate::stats::evidence::Tested| (t.p_adjusted.unwrap_or(1.0), t.p_value);
            key(a)
                .partial_cmp(&key(b))
                .unwrap_or(std::cmp::Ordering::Equal)
        })?;
    let evidence = if accounts.p_adjusted().is_some_and(|p| p <= settings.alpha) {
        "accounts show the lead"
    } else {
        "accounts do not show a lead reliably"
    };
    let Some(e) = &accounts.evidence.effect else {
        return Some(format!(
            "{evidence} ({})",
            fmt_adjusted(best.p_value, best.p_adjusted)
        ));
    };
    let plural = if e.horizon == 1 { "" } else { "s" };
    let (top, bottom) = if e.by_ties {
        ("with the most of it", "those with the least")
    } else {
        ("in its top quarter", "its bottom quarter")
    };
    let ratio = match (e.retention_ratio, e.retention_ratio_ci) {
        (Some(r), Some((lo, hi))) => {
            format!("{r:.2}× the rate of {bottom} (95% CI {lo:.2}–{hi:.2})")
        }
        (Some(r), None) => format!("{r:.2}× the rate of {bottom}"),
        _ => format!(
            "{:.0}% against {:.0}% of {bottom}",
            e.retention_top * 100.0,
            e.retention_bottom * 100.0
        ),
    };
    let nrr = match (e.nrr_top, e.nrr_bottom) {
        (Some(t), Some(b)) => format!(
            "; net revenue retention {:.0}% against {:.0}%",
            t * 100.0,
            b * 100.0
        ),
        _ => String::new(),
    };
    Some(format!(
        "{evidence}: accounts {top} still paid {} {unit}{plural} later at {ratio}{nrr} ({})",
        e.horizon,
        fmt_adjusted(best.p_value, best.p_adjusted)
    ))
}

/// One sentence on the churn test.
pub(crate) fn explain_churn(churn: &ChurnOutcome, unit: &str) -> String {
    if churn.structural_monotone {
        return "it can never fall (it counts everyone ever seen), so it rises while customers churn".into();
    }
    let mut parts = Vec::new();
    if let Some(p) = churn.divergence_p {
        let basis = match churn.basis {
            ChurnPeriods::ChurnSpiked => "churn spiked",
            ChurnPeriods::ChurnAboveMedian => "churn was above its median",
        };
        parts.push(format!(
            "rose in {} of {} {unit}s when {basis}, against {} of {} other {unit}s ({})",
            churn.rose_in,
            churn.churn_periods,
            churn.rose_in_other,
            churn.other_periods,
            fmt_p(p)
        ));
    } else {
        parts.push(format!(
            "no {unit} with falling paying customers to test against"
        ));
    }
    if let Some(w) = churn.churner_weight {
        let interval = churn
            .churner_weight_interval
            .map(|(low, high)| format!(" (95% CI {low:.2}–{high:.2})"))
            .unwrap_or_default();
        parts.push(format!(
            "customers about to churn produced {w:.2}× their share{interval}"
        ));
    }
    if let Some(share) = churn.top_share.filter(|s| *s > GAMEABLE_SHARE) {
        parts.push(format!(
            "the top 1% of accounts produce {:.0}% of it (gameable)",
            share * 100.0
        ));
    }
    if let Some(r) = churn.residual.filter(|r| *r > 0.005) {
        parts.push(format!(
            "{:.0}% of it comes from customers who already left",
            r * 100.0
        ));
    }
    parts.join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actionability_by_hand_and_on_the_three_kinds_of_series() {
        // Levels 1, 2, 1, 2, ... (logs 0, ln 2, ...): one-step squares ln²2, two-step 0: VR 0.
        let flip: Vec<f64> = (0..12)
            .map(|t| if t % 2 == 0 { 1.0 } else { 2.0 })
            .collect();
        assert_eq!(actionability(&flip, 2), 0.0);
        // A straight line in logs: every q-step change is q one-step changes, VR = q -> 1.
        let line: Vec<f64> = (0..24).map(|t| (0.1 * t as f64).exp()).collect();
        assert!((actionability(&line, 6) - 1.0).abs() < 1e-9);
        // A step of e over 24 periods: one nonzero one-step change of 23 (mean 1/23), six of
        // the 18 six-step ones (mean 1/3): VR = (1/3) / (6/23) = 23/18.
        let step: Vec<f64> = (0..24)
            .map(|t| if t < 12 { 1.0 } else { 1f64.exp() })
            .collect();
        let expected = 0.5 + (23.0f64 / 18.0).ln() / (2.0 * 6f64.ln());
        assert!((actionability(&step, 6) - expected).abs() < 1e-12);
        // Random walks sit at 0.5, white noise near 0 (VR = 1/q), on average.
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        let (mut walks, mut noise) = (0.0, 0.0);
        for _ in 0..400 {
            let mut level = 0.0;
            let walk: Vec<f64> = (0..48)
                .map(|_| {
                    level += rng.random::<f64>() - 0.5;
                    level.exp()
                })
                .collect();
            let white: Vec<f64> = (0..48).map(|_| (rng.random::<f64>() - 0.5).exp()).collect();
            walks += actionability(&walk, 6) / 400.0;
            noise += actionability(&white, 6) / 400.0;
        }
        assert!((walks - 0.5).abs() < 0.06, "random walks {walks}");
        assert!(noise < 0.1, "white noise {noise}");
    }

    #[test]
    fn verdicts_combine_worst_first() {
        assert_eq!(
            Verdict::Pass.and(Verdict::Inconclusive),
            Verdict::Inconclusive
        );
        assert_eq!(Verdict::Inconclusive.and(Verdict::Fail), Verdict::Fail);
        assert_eq!(Verdict::Pass.and(Verdict::Pass), Verdict::Pass);
    }
}
