//! `nsm report`: the review document. One model ([`Review`]: the evaluation, what changed since
//! a saved one, the featured candidates and their chart data) and two renderings behind
//! [`Render`]: Markdown for a wiki or pull request ([`markdown`]), and one self-contained HTML
//! file with inline SVG charts and CSS ([`html`], [`svg`]).

pub(crate) mod format;
pub(crate) mod html;
pub(crate) mod markdown;
pub(crate) mod svg;

use crate::discovery::model::TreeOut;
use crate::evaluation::{CandidateOut, Evaluation};
use crate::render::fixed;
use crate::stats::score::Verdict;

/// What a review document shows: the evaluation, what changed since a saved one, and how many
/// candidates besides the declared star get charts.
pub(crate) struct Review<'a> {
    pub(crate) evaluation: &'a Evaluation,
    pub(crate) comparison: Option<Comparison>,
    pub(crate) top: usize,
    /// The declared star's input tree (from events; not with `--series`).
    pub(crate) tree: Option<&'a TreeOut>,
}

/// The tree's sentences: what it is made of, or why it is not decomposed, and each span.
pub(crate) fn tree_sentences(tree: &TreeOut) -> Vec<String> {
    let mut out = Vec::new();
    match (&tree.identity, &tree.note) {
        (Some(identity), _) => out.push(format!(
            "{identity}: the drivers' product is the star (exact)."
        )),
        (None, Some(note)) => out.push(format!("No decomposition: {note}.")),
        _ => {}
    }
    for c in &tree.changes {
        let parts: Vec<String> = tree
            .drivers
            .iter()
            .zip(&c.parts)
            .map(|(d, p)| format!("{} {}", d.name, fixed(p.contribution, 2)))
            .collect();
        out.push(format!(
            "Last {} ({} to {}): {} → {} ({:+.2}); parts: {}.",
            c.span,
            c.from,
            c.to,
            fixed(Some(c.star_from), 2),
            fixed(Some(c.star_to), 2),
            c.change,
            parts.join(", ")
        ));
    }
    out.push(
        "Which candidates lead the star itself, and thresholds worth adding: `nsm discover`."
            .into(),
    );
    out
}

/// One candidate then and now; `None` where it was or is not evaluated.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Change {
    pub(crate) name: String,
    pub(crate) rank: (Option<usize>, Option<usize>),
    pub(crate) score: (Option<f64>, Option<f64>),
    pub(crate) verdict: (Option<Verdict>, Option<Verdict>),
    pub(crate) lead: (Option<Verdict>, Option<Verdict>),
    pub(crate) churn: (Option<Verdict>, Option<Verdict>),
}

impl Change {
    pub(crate) fn is_new(&self) -> bool {
        self.rank.0.is_none() && self.verdict.0.is_none()
    }

    pub(crate) fn is_gone(&self) -> bool {
        self.rank.1.is_none() && self.verdict.1.is_none()
    }

    pub(super) fn flipped(&self) -> bool {
        !self.is_new() && !self.is_gone() && self.verdict.0 != self.verdict.1
    }
}

/// What changed since a saved evaluation.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Comparison {
    pub(crate) source: String,
    pub(crate) previous_first: String,
    pub(crate) previous_last: String,
    pub(crate) previous_recommended: Option<String>,
    /// Current candidates in rank order, then the ones no longer evaluated.
    pub(crate) changes: Vec<Change>,
}

/// Each candidate then and now, matched by name.
pub(crate) fn compare(now: &Evaluation, before: &Evaluation, source: &str) -> Comparison {
    let change = |name: &str, old: Option<&CandidateOut>, new: Option<&CandidateOut>| Change {
        name: name.to_string(),
        rank: (old.and_then(|o| o.rank), new.and_then(|c| c.rank)),
        score: (old.and_then(|o| o.score), new.and_then(|c| c.score)),
        verdict: (old.map(|o| o.verdict), new.map(|c| c.verdict)),
        lead: (
            old.and_then(|o| o.lead.as_ref()).map(|l| l.verdict),
            new.and_then(|c| c.lead.as_ref()).map(|l| l.verdict),
        ),
        churn: (
            old.and_then(|o| o.churn.as_ref()).map(|ch| ch.verdict),
            new.and_then(|c| c.churn.as_ref()).map(|ch| ch.verdict),
        ),
    };
    let previous = |name: &str| before.candidates.iter().find(|c| c.name == name);
    let mut changes: Vec<Change> = now
        .ranked()
        .map(|c| {
            change(
                &c.name,
                previous(&c.name).filter(|o| o.kind != crate::candidates::KindName::Revenue),
                Some(c),
            )
        })
        .collect();
    for old in before
        .candidates
        .iter()
        .filter(|o| o.kind != crate::candidates::KindName::Revenue)
    {
        if now.candidate(&old.name).is_none() {
            changes.push(change(&old.name, Some(old), None));
        }
    }
    Comparison {
        source: source.to_string(),
        previous_first: before.data.first_period.clone(),
        previous_last: before.data.last_period.clone(),
        previous_recommended: before.recommended.clone(),
        changes,
    }
}

/// The declared star first, then the `top` best-ranked other candidates.
pub(crate) fn featured(evaluation: &Evaluation, top: usize) -> Vec<&CandidateOut> {
    let mut out: Vec<&CandidateOut> = evaluation
        .north_star
        .as_deref()
        .and_then(|s| evaluation.candidate(s))
        .into_iter()
        .collect();
    let wanted = out.len() + top;
    for c in evaluation.ranked() {
        if out.len() >= wanted {
            break;
        }
        if !out.iter().any(|o| o.name == c.name) {
            out.push(c);
        }
    }
    out
}

/// Figures the charts of one candidate are drawn from.
pub(super) struct ChartData {
    pub(super) periods: Vec<String>,
    pub(super) metric: Vec<Option<f64>>,
    pub(super) revenue_later: Vec<Option<f64>>,
    pub(super) lag: Option<usize>,
    /// `(metric growth %, churn rate %, period)` for periods with both.
    pub(super) growth_vs_churn: Vec<(f64, f64, String)>,
}

/// Each value over the series mean, times 100: two series of different units on one axis.
pub(super) fn indexed(values: &[f64]) -> Vec<Option<f64>> {
    let finite: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    let mean = finite.iter().sum::<f64>() / finite.len().max(1) as f64;
    values
        .iter()
        .map(|v| (mean.abs() > 0.0 && v.is_finite()).then(|| v / mean * 100.0))
        .collect()
}

pub(super) fn chart_data(evaluation: &Evaluation, candidate: &CandidateOut) -> ChartData {
    let periods: Vec<String> = candidate.series.iter().map(|p| p.period.clone()).collect();
    let values: Vec<f64> = candidate.series.iter().map(|p| p.value).collect();
    let revenue: Vec<f64> = evaluation
        .revenue()
        .map(|c| c.series.iter().map(|p| p.value).collect())
        .unwrap_or_default();
    let lag = candidate.lead.as_ref().and_then(|l| l.best_lag);
    let shift = lag.unwrap_or(0);
    let revenue_index = indexed(&revenue);
    let revenue_later = (0..periods.len())
        .map(|t| revenue_index.get(t + shift).copied().flatten())
        .collect();
    let mut growth_vs_churn = Vec::new();
    for (t, customers) in evaluation.data.customers.iter().enumerate().skip(1) {
        let (Some(before), Some(now)) = (values.get(t.wrapping_sub(1)), values.get(t)) else {
            continue;
        };
        if let Some(rate) = customers.churn_rate {
            if *before > 0.0 {
                growth_vs_churn.push((
                    (now / before - 1.0) * 100.0,
                    rate * 100.0,
                    customers.period.clone(),
                ));
            }
        }
    }
    ChartData {
        periods,
        metric: indexed(&values),
        revenue_later,
        lag,
        growth_vs_churn,
    }
}

pub(super) fn unit(evaluation: &Evaluation) -> &str {
    &evaluation.settings.period
}

pub(super) fn revenue_caption(evaluation: &Evaluation, lag: Option<usize>) -> String {
    match lag {
        Some(k) => format!("revenue {k} {}s later", unit(evaluation)),
        None => "revenue, same period".to_string(),
    }
}

pub(super) fn summary_line(evaluation: &Evaluation) -> String {
    let data = &evaluation.data;
    let as_of = evaluation
        .settings
        .as_of
        .as_ref()
        .map(|d| format!("as of {d}, "))
        .unwrap_or_default();
    format!(
        "{as_of}{} to {} ({} {}s), {} events, {} revenue rows, churn from {}; nsm {}, seed {}, {} surrogates",
        data.first_period,
        data.last_period,
        data.n_periods,
        unit(evaluation),
        group_digits(data.events_rows),
        group_digits(data.revenue_rows),
        data.churn_source,
        evaluation.tool.version,
        evaluation.settings.seed,
        evaluation.settings.surrogates,
    )
}

/// `1234567` as `1,234,567`.
pub(super) fn group_digits(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

pub(super) fn star_status(evaluation: &Evaluation) -> String {
    match evaluation.north_star.as_deref() {
        None => "No north star is declared in nsm.toml ([north_star] name = \"...\").".to_string(),
        Some(star) => match evaluation.candidate(star) {
            Some(c) => format!(
                "Declared north star {star}: {} (score {}, rank {}). {}",
                c.verdict.name(),
                fixed(c.score, 1),
                c.rank.map_or_else(|| "-".into(), |r| r.to_string()),
                c.explanation
            ),
            None => format!("Declared north star {star}: not among the evaluated candidates."),
        },
    }
}

pub(super) fn arrow(before: Option<usize>, now: Option<usize>) -> String {
    match (before, now) {
        (Some(b), Some(n)) if b == n => format!("{n} (=)"),
        (Some(b), Some(n)) if n < b => format!("{b} → {n} (up {})", b - n),
        (Some(b), Some(n)) => format!("{b} → {n} (down {})", n - b),
        (None, Some(n)) => format!("new → {n}"),
        (Some(b), None) => format!("{b} → gone"),
        (None, None) => "-".to_string(),
    }
}

pub(super) fn score_change(before: Option<f64>, now: Option<f64>) -> String {
    match (before, now) {
        (Some(b), Some(n)) => format!("{b:.1} → {n:.1} ({:+.1})", n - b),
        (None, Some(n)) => format!("{n:.1}"),
        (Some(b), None) => format!("{b:.1} → -"),
        (None, None) => "-".to_string(),
    }
}

pub(super) fn verdict_change(pair: &(Option<Verdict>, Option<Verdict>)) -> String {
    match pair {
        (Some(b), Some(n)) if b == n => n.name().to_string(),
        (Some(b), Some(n)) => format!("{} → {}", b.name(), n.name()),
        (None, Some(n)) => n.name().to_string(),
        (Some(b), None) => format!("{} → -", b.name()),
        (None, None) => "-".to_string(),
    }
}

/// A sentence on the changes that matter: the recommendation, flips, new and dropped ones.
pub(super) fn change_summary(evaluation: &Evaluation, comparison: &Comparison) -> Vec<String> {
    let mut out = Vec::new();
    let now = evaluation.recommended.as_deref();
    let before = comparison.previous_recommended.as_deref();
    out.push(match (before, now) {
        (Some(b), Some(n)) if b == n => format!("The recommendation is unchanged: {n}."),
        (b, n) => format!(
            "The recommendation changed: {} → {}.",
            b.unwrap_or("none"),
            n.unwrap_or("none")
        ),
    });
    let flips: Vec<String> = comparison
        .changes
        .iter()
        .filter(|c| c.flipped())
        .map(|c| format!("{} ({})", c.name, verdict_change(&c.verdict)))
        .collect();
    if !flips.is_empty() {
        out.push(format!("Verdicts changed: {}.", flips.join(", ")));
    }
    let new: Vec<&str> = comparison
        .changes
        .iter()
        .filter(|c| c.is_new())
        .map(|c| c.name.as_str())
        .collect();
    if !new.is_empty() {
        out.push(format!("New candidates: {}.", new.join(", ")));
    }
    let gone: Vec<&str> = comparison
        .changes
        .iter()
        .filter(|c| c.is_gone())
        .map(|c| c.name.as_str())
        .collect();
    if !gone.is_empty() {
        out.push(format!("No longer evaluated: {}.", gone.join(", ")));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digits_are_grouped() {
        assert_eq!(group_digits(0), "0");
        assert_eq!(group_digits(999), "999");
        assert_eq!(group_digits(1000), "1,000");
        assert_eq!(group_digits(566_681), "566,681");
        assert_eq!(group_digits(12_345_678), "12,345,678");
    }
}
