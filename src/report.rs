//! `nsm report`: the review document. One model (the evaluation, what changed since a saved one,
//! the featured candidates and their chart data) and two renderings: Markdown for a wiki or pull
//! request, and one self-contained HTML file with inline SVG charts and CSS.

use std::fmt::Write;

use serde_json::Value;

use crate::evaluation::{CandidateOut, Evaluation};
use crate::render::markdown::{self, cell};
use crate::render::svg::{bar_chart, line_chart, scatter, Line, Rule};
use crate::render::{
    fixed, ranking_cells, rose_cell, xml_escape, RANKING_COLUMNS, RANKING_NUMERIC,
};

/// One candidate then and now; `None` where it was or is not evaluated.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub name: String,
    pub rank: (Option<usize>, Option<usize>),
    pub score: (Option<f64>, Option<f64>),
    pub verdict: (Option<String>, Option<String>),
    pub lead: (Option<String>, Option<String>),
    pub churn: (Option<String>, Option<String>),
}

impl Change {
    pub fn is_new(&self) -> bool {
        self.rank.0.is_none() && self.verdict.0.is_none()
    }

    pub fn is_gone(&self) -> bool {
        self.rank.1.is_none() && self.verdict.1.is_none()
    }

    fn flipped(&self) -> bool {
        !self.is_new() && !self.is_gone() && self.verdict.0 != self.verdict.1
    }
}

/// What changed since a saved evaluation.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    pub source: String,
    pub previous_first: String,
    pub previous_last: String,
    pub previous_recommended: Option<String>,
    /// Current candidates in rank order, then the ones no longer evaluated.
    pub changes: Vec<Change>,
}

fn text_of(value: &Value) -> Option<String> {
    value.as_str().map(str::to_string)
}

pub fn compare(now: &Evaluation, before: &Value, source: &str) -> Comparison {
    let previous: Vec<&Value> = before["candidates"]
        .as_array()
        .map(|a| a.iter().filter(|c| c["kind"] != "revenue").collect())
        .unwrap_or_default();
    let find = |name: &str| previous.iter().find(|c| c["name"] == name).copied();
    let mut changes: Vec<Change> = now
        .ranked()
        .map(|c| {
            let old = find(&c.name);
            let then = |f: &dyn Fn(&Value) -> Option<String>| old.and_then(f);
            Change {
                name: c.name.clone(),
                rank: (
                    old.and_then(|o| o["rank"].as_u64()).map(|r| r as usize),
                    c.rank,
                ),
                score: (old.and_then(|o| o["score"].as_f64()), c.score),
                verdict: (
                    then(&|o| text_of(&o["verdict"])),
                    Some(c.verdict.name().to_string()),
                ),
                lead: (
                    then(&|o| text_of(&o["lead"]["verdict"])),
                    c.lead.as_ref().map(|l| l.verdict.name().to_string()),
                ),
                churn: (
                    then(&|o| text_of(&o["churn"]["verdict"])),
                    c.churn.as_ref().map(|ch| ch.verdict.name().to_string()),
                ),
            }
        })
        .collect();
    for old in &previous {
        let name = old["name"].as_str().unwrap_or_default();
        if now.candidate(name).is_none() {
            changes.push(Change {
                name: name.to_string(),
                rank: (old["rank"].as_u64().map(|r| r as usize), None),
                score: (old["score"].as_f64(), None),
                verdict: (text_of(&old["verdict"]), None),
                lead: (text_of(&old["lead"]["verdict"]), None),
                churn: (text_of(&old["churn"]["verdict"]), None),
            });
        }
    }
    Comparison {
        source: source.to_string(),
        previous_first: text_of(&before["data"]["first_period"]).unwrap_or_default(),
        previous_last: text_of(&before["data"]["last_period"]).unwrap_or_default(),
        previous_recommended: text_of(&before["recommended"]),
        changes,
    }
}

/// The declared star first, then the `top` best-ranked other candidates.
pub fn featured(evaluation: &Evaluation, top: usize) -> Vec<&CandidateOut> {
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
struct ChartData {
    periods: Vec<String>,
    metric: Vec<Option<f64>>,
    revenue_later: Vec<Option<f64>>,
    lag: Option<usize>,
    /// `(metric growth %, churn rate %, period)` for periods with both.
    growth_vs_churn: Vec<(f64, f64, String)>,
}

/// Each value over the series mean, times 100: two series of different units on one axis.
fn indexed(values: &[f64]) -> Vec<Option<f64>> {
    let finite: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    let mean = finite.iter().sum::<f64>() / finite.len().max(1) as f64;
    values
        .iter()
        .map(|v| (mean.abs() > 0.0 && v.is_finite()).then(|| v / mean * 100.0))
        .collect()
}

fn chart_data(evaluation: &Evaluation, candidate: &CandidateOut) -> ChartData {
    let periods: Vec<String> = candidate.series.iter().map(|p| p.period.clone()).collect();
    let values: Vec<f64> = candidate.series.iter().map(|p| p.value).collect();
    let revenue: Vec<f64> = evaluation
        .candidates
        .iter()
        .find(|c| c.kind == "revenue")
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

fn unit(evaluation: &Evaluation) -> &'static str {
    evaluation.settings.period
}

fn revenue_caption(evaluation: &Evaluation, lag: Option<usize>) -> String {
    match lag {
        Some(k) => format!("revenue {k} {}s later", unit(evaluation)),
        None => "revenue, same period".to_string(),
    }
}

fn summary_line(evaluation: &Evaluation) -> String {
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
fn group_digits(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

fn star_status(evaluation: &Evaluation) -> String {
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

fn arrow(before: Option<usize>, now: Option<usize>) -> String {
    match (before, now) {
        (Some(b), Some(n)) if b == n => format!("{n} (=)"),
        (Some(b), Some(n)) if n < b => format!("{b} → {n} (up {})", b - n),
        (Some(b), Some(n)) => format!("{b} → {n} (down {})", n - b),
        (None, Some(n)) => format!("new → {n}"),
        (Some(b), None) => format!("{b} → gone"),
        (None, None) => "-".to_string(),
    }
}

fn score_change(before: Option<f64>, now: Option<f64>) -> String {
    match (before, now) {
        (Some(b), Some(n)) => format!("{b:.1} → {n:.1} ({:+.1})", n - b),
        (None, Some(n)) => format!("{n:.1}"),
        (Some(b), None) => format!("{b:.1} → -"),
        (None, None) => "-".to_string(),
    }
}

fn verdict_change(pair: &(Option<String>, Option<String>)) -> String {
    match pair {
        (Some(b), Some(n)) if b == n => n.clone(),
        (Some(b), Some(n)) => format!("{b} → {n}"),
        (None, Some(n)) => n.clone(),
        (Some(b), None) => format!("{b} → -"),
        (None, None) => "-".to_string(),
    }
}

/// A sentence on the changes that matter: the recommendation, flips, new and dropped ones.
fn change_summary(evaluation: &Evaluation, comparison: &Comparison) -> Vec<String> {
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

const SPARKS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

fn sparkline(values: &[Option<f64>]) -> String {
    let Some((lo, hi)) = values
        .iter()
        .flatten()
        .fold(None, |acc: Option<(f64, f64)>, v| {
            Some(acc.map_or((*v, *v), |(l, h)| (l.min(*v), h.max(*v))))
        })
    else {
        return String::new();
    };
    values
        .iter()
        .map(|v| match v {
            None => ' ',
            Some(v) if hi > lo => SPARKS[(((v - lo) / (hi - lo)) * 7.0).round() as usize],
            Some(_) => SPARKS[3],
        })
        .collect()
}

pub fn markdown(evaluation: &Evaluation, comparison: Option<&Comparison>, top: usize) -> String {
    let mut out = String::new();
    let data = &evaluation.data;
    let _ = writeln!(
        out,
        "# North Star review: {} to {}\n\n{}\n",
        data.first_period,
        data.last_period,
        summary_line(evaluation)
    );
    let _ = writeln!(
        out,
        "**{}**\n\n{}\n",
        cell(&evaluation.recommendation),
        cell(&star_status(evaluation))
    );
    if let Some(comparison) = comparison {
        let _ = writeln!(
            out,
            "## What changed since the review of {} to {} ({})\n",
            comparison.previous_first,
            comparison.previous_last,
            cell(&comparison.source)
        );
        for sentence in change_summary(evaluation, comparison) {
            let _ = writeln!(out, "- {}", cell(&sentence));
        }
        out.push_str(
            "\n| candidate | rank | score | verdict | lead | churn |\n|---|---|---|---|---|---|\n",
        );
        for c in &comparison.changes {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} |",
                cell(&c.name),
                arrow(c.rank.0, c.rank.1),
                score_change(c.score.0, c.score.1),
                verdict_change(&c.verdict),
                verdict_change(&c.lead),
                verdict_change(&c.churn)
            );
        }
        out.push('\n');
    }
    out.push_str("## Ranking\n\n");
    out.push_str(&markdown::ranking_table(evaluation));
    for candidate in featured(evaluation, top) {
        let charts = chart_data(evaluation, candidate);
        let _ = writeln!(
            out,
            "\n## {}\n\n{}\n\nMetric and revenue ({} to {}, each over its own range):\n\n| series | trend |\n|---|---|\n| {} | `{}` |\n| {} | `{}` |\n",
            cell(&candidate.name),
            cell(&candidate.explanation),
            data.first_period,
            data.last_period,
            cell(&candidate.name),
            sparkline(&charts.metric),
            revenue_caption(evaluation, charts.lag),
            sparkline(&charts.revenue_later),
        );
        if let Some(lead) = &candidate.lead {
            if !lead.by_lag.is_empty() {
                let cells: Vec<String> = lead
                    .by_lag
                    .iter()
                    .map(|(k, r)| {
                        let mark = if Some(*k) == lead.best_lag { "**" } else { "" };
                        format!("{mark}{k}: {r:.2}{mark}")
                    })
                    .collect();
                let band = lead
                    .null_r
                    .map(|b| format!("; p ≤ {} needs r above {b:.2}", evaluation.settings.alpha))
                    .unwrap_or_default();
                let _ = writeln!(
                    out,
                    "Cross-correlation by lag ({}s, metric leading): {}{band}.\n",
                    unit(evaluation),
                    cells.join(", ")
                );
            }
        }
        if let Some(churn) = &candidate.churn {
            let _ = writeln!(
                out,
                "Growth against churn: rose in {} periods when paying customers fell; correlation of growth with the churn rate {}.\n",
                rose_cell(Some(churn)),
                fixed(churn.churn_corr, 2)
            );
        }
    }
    out.push_str("\n## Every verdict\n\n");
    for c in evaluation.ranked() {
        let _ = writeln!(
            out,
            "- **{}** ({}): {}",
            cell(&c.name),
            c.verdict.name(),
            cell(&c.explanation)
        );
    }
    out.push_str("\n## Data notes\n\n");
    let _ = writeln!(
        out,
        "- churn measured from {}; {} event row(s) skipped",
        data.churn_source, data.skipped_rows
    );
    for note in &data.notes {
        let _ = writeln!(out, "- {}", cell(note));
    }
    // Sections end with a blank line and begin after one: never two in a row.
    while out.contains("\n\n\n") {
        out = out.replace("\n\n\n", "\n\n");
    }
    out
}

const STYLE: &str = "body{font-family:-apple-system,'Segoe UI',Helvetica,Arial,sans-serif;color:#222;margin:0;background:#fff}\
main{max-width:980px;margin:0 auto;padding:24px}\
h1{font-size:26px;margin:0 0 4px}h2{font-size:19px;margin:28px 0 8px;border-bottom:1px solid #ddd;padding-bottom:4px}\
.meta{color:#666;font-size:13px}.lead-box{background:#f4f7fb;border-left:4px solid #1f4e79;padding:10px 14px;margin:16px 0}\
table{border-collapse:collapse;font-size:13px;width:100%}th,td{border-bottom:1px solid #e5e5e5;padding:4px 6px;text-align:left}\
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}\
.pass{color:#1e7b34;font-weight:600}.fail{color:#b03a2e;font-weight:600}.inconclusive{color:#7a7a7a;font-weight:600}\
.charts{display:flex;flex-wrap:wrap;gap:8px}figure{margin:0}svg{max-width:100%;height:auto}figcaption{font-size:12px;color:#555}\
li{margin:3px 0}\
@media print{main{max-width:none;padding:0}section.candidate,figure,table{page-break-inside:avoid}.lead-box{border:1px solid #1f4e79}}";

fn h(text: &str) -> String {
    xml_escape(text)
}

fn verdict_span(name: &str) -> String {
    let class = match name {
        "pass" | "fail" | "inconclusive" => name,
        _ => "",
    };
    format!("<span class=\"{class}\">{}</span>", h(name))
}

fn ranking_html(evaluation: &Evaluation) -> String {
    let class = |i: usize| {
        if RANKING_NUMERIC.contains(&i) {
            " class=\"num\""
        } else {
            ""
        }
    };
    let mut out = String::from("<table>\n<tr>");
    for (i, name) in RANKING_COLUMNS.iter().enumerate() {
        let _ = write!(out, "<th{}>{}</th>", class(i), h(name));
    }
    out.push_str("</tr>\n");
    for c in evaluation.ranked() {
        out.push_str("<tr>");
        for (i, text) in ranking_cells(c).iter().enumerate() {
            let shown = if i == 3 { verdict_span(text) } else { h(text) };
            let _ = write!(out, "<td{}>{shown}</td>", class(i));
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</table>\n");
    out
}

fn candidate_html(evaluation: &Evaluation, candidate: &CandidateOut) -> String {
    let charts = chart_data(evaluation, candidate);
    let mut out = format!(
        "<section class=\"candidate\">\n<h2>{} {}</h2>\n<p>{}</p>\n<div class=\"charts\">\n",
        h(&candidate.name),
        verdict_span(candidate.verdict.name()),
        h(&candidate.explanation)
    );
    let revenue_name = revenue_caption(evaluation, charts.lag);
    let lines = [
        Line {
            name: &candidate.name,
            values: &charts.metric,
            color: "#1f4e79",
            dashed: false,
        },
        Line {
            name: &revenue_name,
            values: &charts.revenue_later,
            color: "#c0792b",
            dashed: true,
        },
    ];
    let _ = writeln!(
        out,
        "<figure>{}<figcaption>Each series over its own mean (= 100); revenue is drawn at the period its lead starts, so the two lines move together when the metric leads.</figcaption></figure>",
        line_chart(
            &format!("{} and {revenue_name}", candidate.name),
            &charts.periods,
            &lines,
            "index (mean = 100)"
        )
    );
    if let Some(lead) = candidate.lead.as_ref().filter(|l| !l.by_lag.is_empty()) {
        let categories: Vec<String> = lead.by_lag.iter().map(|(k, _)| k.to_string()).collect();
        let values: Vec<f64> = lead.by_lag.iter().map(|(_, r)| *r).collect();
        let highlight = lead
            .best_lag
            .and_then(|b| lead.by_lag.iter().position(|(k, _)| *k == b));
        let label = format!("null band, p = {}", evaluation.settings.alpha);
        let rule = lead.null_r.map(|value| Rule {
            value,
            label: &label,
        });
        let _ = writeln!(
            out,
            "<figure>{}<figcaption>Cross-correlation of prewhitened growth by lag; the best lag must clear the dashed line (the surrogate null's maximum over all lags) to pass.</figcaption></figure>",
            bar_chart(
                "cross-correlation by lag (metric leading)",
                &categories,
                &values,
                highlight,
                rule,
                &format!("lag ({}s)", unit(evaluation)),
                "r"
            )
        );
    }
    if !charts.growth_vs_churn.is_empty() {
        let _ = writeln!(
            out,
            "<figure>{}<figcaption>Each point is a period: a vanity metric keeps growing in periods of high churn.</figcaption></figure>",
            scatter(
                &format!("{} growth against churn rate", candidate.name),
                &charts.growth_vs_churn,
                &format!("{} growth (% on the previous {})", candidate.name, unit(evaluation)),
                "churn rate (%)"
            )
        );
    }
    out.push_str("</div>\n</section>\n");
    out
}

pub fn html(evaluation: &Evaluation, comparison: Option<&Comparison>, top: usize) -> String {
    let data = &evaluation.data;
    let title = format!(
        "North Star review: {} to {}",
        data.first_period, data.last_period
    );
    let mut out = format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<main>\n<h1>{}</h1>\n<p class=\"meta\">{}</p>\n<div class=\"lead-box\"><p><strong>{}</strong></p><p>{}</p></div>\n",
        h(&title),
        h(&title),
        h(&summary_line(evaluation)),
        h(&evaluation.recommendation),
        h(&star_status(evaluation))
    );
    if let Some(comparison) = comparison {
        let _ = writeln!(
            out,
            "<section>\n<h2>What changed since the review of {} to {}</h2>\n<p class=\"meta\">compared with {}</p>\n<ul>",
            h(&comparison.previous_first),
            h(&comparison.previous_last),
            h(&comparison.source)
        );
        for sentence in change_summary(evaluation, comparison) {
            let _ = writeln!(out, "<li>{}</li>", h(&sentence));
        }
        out.push_str("</ul>\n<table>\n<tr><th>candidate</th><th>rank</th><th>score</th><th>verdict</th><th>lead</th><th>churn</th></tr>\n");
        for c in &comparison.changes {
            let _ = writeln!(
                out,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                h(&c.name),
                h(&arrow(c.rank.0, c.rank.1)),
                h(&score_change(c.score.0, c.score.1)),
                h(&verdict_change(&c.verdict)),
                h(&verdict_change(&c.lead)),
                h(&verdict_change(&c.churn))
            );
        }
        out.push_str("</table>\n</section>\n");
    }
    out.push_str("<section>\n<h2>Ranking</h2>\n");
    out.push_str(&ranking_html(evaluation));
    out.push_str("</section>\n");
    for candidate in featured(evaluation, top) {
        out.push_str(&candidate_html(evaluation, candidate));
    }
    out.push_str("<section>\n<h2>Every verdict</h2>\n<ul>\n");
    for c in evaluation.ranked() {
        let _ = writeln!(
            out,
            "<li><strong>{}</strong> {}: {}</li>",
            h(&c.name),
            verdict_span(c.verdict.name()),
            h(&c.explanation)
        );
    }
    out.push_str("</ul>\n</section>\n<section>\n<h2>Data notes</h2>\n<ul>\n");
    let _ = writeln!(
        out,
        "<li>churn measured from {}; {} event row(s) skipped</li>",
        h(data.churn_source),
        data.skipped_rows
    );
    for note in &data.notes {
        let _ = writeln!(out, "<li>{}</li>", h(note));
    }
    out.push_str("</ul>\n</section>\n</main>\n</body>\n</html>\n");
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

    #[test]
    fn sparklines_span_the_range_and_keep_gaps() {
        assert_eq!(sparkline(&[Some(0.0), Some(7.0), None, Some(3.5)]), "▁█ ▅");
        assert_eq!(sparkline(&[Some(2.0), Some(2.0)]), "▄▄");
        assert_eq!(sparkline(&[None]), "");
    }
}
