//! Verdicts, labels, the 0–100 score and the one-sentence explanation.
//!
//! Score = 100 × (0.5 · lead + 0.4 · churn + 0.1 · actionability), each component in [0, 1]:
//! - lead: pass → 0.6 + 0.4·r; fail as `lagging` or `revenue` → 0; other fail →
//!   0.5·max(r, 0)·(1 − p); inconclusive → 0.3·max(r, 0).
//! - churn: c = (1 − divergence rate) · min(1, 1 / churner weight) · (1 − residual), 0 when
//!   monotone by construction; pass → 0.5 + 0.5·c; inconclusive → 0.5·c; fail → 0.4·c.
//! - actionability: 1 − η/2 clamped to [0, 1], with η the von Neumann ratio
//!   `Σ(Δx)² / Σ(x − x̄)²` (≈ 2 for pure noise, ≈ 0 for a series that moves with purpose).

use serde::{Deserialize, Serialize};

use super::churn::{ChurnOutcome, ChurnPeriods, GAMEABLE_SHARE};
use super::lead::{LeadOutcome, LeadSettings, RECENT_MONTHS, REVENUE_R};
use super::series::mean;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Pass,
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

/// Signal versus period-to-period noise, in [0, 1] (see the module docs).
pub fn actionability(values: &[f64]) -> f64 {
    if values.len() < 3 {
        return 0.0;
    }
    let m = mean(values);
    let spread: f64 = values.iter().map(|v| (v - m) * (v - m)).sum();
    if spread <= 0.0 {
        return 0.0;
    }
    let jitter: f64 = values
        .windows(2)
        .map(|w| (w[1] - w[0]) * (w[1] - w[0]))
        .sum();
    (1.0 - jitter / spread / 2.0).clamp(0.0, 1.0)
}

/// The lead verdict and its labels.
pub fn lead_verdict(lead: &LeadOutcome, settings: &LeadSettings) -> (Verdict, Vec<Label>) {
    if lead.same_period_r.is_some_and(|r| r >= REVENUE_R) {
        return (Verdict::Fail, vec![Label::Revenue]);
    }
    if lead.needs_more_periods.is_some() || lead.r.is_none() {
        return (Verdict::Inconclusive, vec![]);
    }
    let significant = |p: Option<f64>| p.is_some_and(|p| p <= settings.alpha);
    let forward_r = lead.r.unwrap_or(0.0);
    let reverse_stronger =
        significant(lead.reverse_p_value) && lead.reverse_r.unwrap_or(0.0) > forward_r;
    if reverse_stronger {
        return (Verdict::Fail, vec![Label::Lagging]);
    }
    if significant(lead.p_value) && forward_r > 0.0 {
        (Verdict::Pass, vec![])
    } else {
        (Verdict::Fail, vec![Label::NotLeading])
    }
}

/// The churn verdict and its labels.
pub(crate) fn churn_verdict(churn: &ChurnOutcome, alpha: f64) -> (Verdict, Vec<Label>) {
    // Only months in which paying customers really fell can show a metric rising while
    // customers leave; the churn-above-median fallback is reported, not judged, because in a
    // growing company most metrics rise in most months whatever churn does.
    let diverges = churn.basis == ChurnPeriods::PayingFell
        && churn.divergence_rate.is_some_and(|r| r > 0.5)
        && churn.divergence_p.is_some_and(|p| p <= alpha);
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
    if churn.basis != ChurnPeriods::PayingFell && churn.churner_weight.is_none() {
        return (Verdict::Inconclusive, vec![]);
    }
    (Verdict::Pass, vec![])
}

fn lead_component(verdict: Verdict, labels: &[Label], lead: &LeadOutcome) -> f64 {
    let r = lead.r.unwrap_or(0.0).max(0.0);
    match verdict {
        Verdict::Pass => 0.6 + 0.4 * r,
        Verdict::Fail
            if labels
                .iter()
                .any(|l| matches!(l, Label::Lagging | Label::Revenue)) =>
        {
            0.0
        }
        Verdict::Fail => 0.5 * r * (1.0 - lead.p_value.unwrap_or(1.0)),
        Verdict::Inconclusive => 0.3 * r,
    }
}

fn churn_component(verdict: Verdict, churn: &ChurnOutcome) -> f64 {
    if churn.structural_monotone {
        return 0.0;
    }
    let divergence = churn.divergence_rate.unwrap_or(0.5);
    let weight = churn
        .churner_weight
        .map_or(1.0, |w| if w > 0.0 { (1.0 / w).min(1.0) } else { 1.0 });
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
    churn_verdict: Verdict,
    churn: &ChurnOutcome,
    actionability: f64,
) -> f64 {
    let total = WEIGHT_LEAD * lead_component(lead_verdict, lead_labels, lead)
        + WEIGHT_CHURN * churn_component(churn_verdict, churn)
        + WEIGHT_ACTIONABILITY * actionability;
    (total * 1000.0).round() / 10.0
}

/// Everything decided about one candidate from its two test outcomes: the verdicts, the
/// labels (every label rule lives here), the score and the explanation.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Judgement {
    pub lead: Verdict,
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

/// Judge one candidate: `values` is its series, `unit` the period's name ("month").
pub(crate) fn judge(
    lead: &LeadOutcome,
    churn: &ChurnOutcome,
    values: &[f64],
    settings: &LeadSettings,
    unit: &str,
) -> Judgement {
    let (lead_verdict, mut labels) = lead_verdict(lead, settings);
    let (churn_verdict, churn_labels) = churn_verdict(churn, settings.alpha);
    labels.extend(churn_labels);
    let actionability = actionability(values);
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
        churn_verdict,
        churn,
        actionability,
    );
    Judgement {
        lead: lead_verdict,
        churn: churn_verdict,
        lead_explanation: explain_lead(lead_verdict, &labels, lead, unit),
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

/// One sentence on the lead test.
pub fn explain_lead(verdict: Verdict, labels: &[Label], lead: &LeadOutcome, unit: &str) -> String {
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
    match verdict {
        Verdict::Pass => format!(
            "revenue follows it by {k} {} (r = {r:.2}, {}){faded}",
            plural(k),
            fmt_p(p)
        ),
        _ => format!(
            "revenue does not reliably follow it (best lag {k} {}: r = {r:.2}, {})",
            plural(k),
            fmt_p(p)
        ),
    }
}

/// One sentence on the churn test.
pub(crate) fn explain_churn(churn: &ChurnOutcome, unit: &str) -> String {
    if churn.structural_monotone {
        return "it can never fall (it counts everyone ever seen), so it rises while customers churn".into();
    }
    let mut parts = Vec::new();
    if let Some(p) = churn.divergence_p {
        let basis = match churn.basis {
            ChurnPeriods::PayingFell => "paying customers fell",
            ChurnPeriods::ChurnAboveMedian => "churn was above its median",
        };
        parts.push(format!(
            "rose in {} of {} {unit}s when {basis} ({})",
            churn.rose_in,
            churn.churn_periods,
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
    fn actionability_separates_noise_from_signal() {
        // Alternating noise: every step is large against the spread.
        let noise = [1.0, 3.0, 1.0, 3.0, 1.0, 3.0];
        assert_eq!(actionability(&noise), 0.0);
        // A straight line: Σ(Δx)² = 5, Σ(x - x̄)² = 17.5 -> 1 - 5/35 = 6/7.
        let line = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
        assert!((actionability(&line) - 6.0 / 7.0).abs() < 1e-12);
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
