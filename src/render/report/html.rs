//! The review as one self-contained HTML file: inline CSS and SVG charts, no scripts, nothing
//! fetched, printable.

use std::fmt::Write;

use anyhow::Result;

use super::svg::{bar_chart, interval_bars, line_chart, scatter, tree_diagram, Line, Rule};
use super::{
    arrow, change_summary, chart_data, featured, revenue_caption, score_change, star_status,
    summary_line, tree_sentences, unit, verdict_change, Comparison, Review,
};
use crate::discovery::model::TreeOut;
use crate::evaluation::{CandidateOut, Evaluation};
use crate::render::{ranking_cells, xml_escape, Render, RANKING_COLUMNS, RANKING_NUMERIC};

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
    if let Some(figure) = retention_figure(evaluation, candidate) {
        out.push_str(&figure);
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

pub(crate) struct Html;

impl Render<Review<'_>> for Html {
    fn render(&self, review: &Review<'_>) -> Result<String> {
        Ok(html(
            review.evaluation,
            review.comparison.as_ref(),
            review.top,
            review.tree,
        ))
    }
}

fn html(
    evaluation: &Evaluation,
    comparison: Option<&Comparison>,
    top: usize,
    tree: Option<&TreeOut>,
) -> String {
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
    if let Some(tree) = tree {
        let _ = writeln!(
            out,
            "<section>\n<h2>Input tree of {}</h2>\n<figure>\n{}<figcaption>each driver's change over the last quarter and year; their product is the star</figcaption>\n</figure>\n<ul>",
            h(&tree.star),
            tree_diagram(tree)
        );
        for sentence in tree_sentences(tree) {
            let _ = writeln!(out, "<li>{}</li>", h(&sentence));
        }
        out.push_str("</ul>\n</section>\n");
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
        h(&data.churn_source),
        data.skipped_rows
    );
    for note in &data.notes {
        let _ = writeln!(out, "<li>{}</li>", h(note));
    }
    out.push_str("</ul>\n</section>\n</main>\n</body>\n</html>\n");
    out
}

/// Retention of the candidate's top and bottom accounts (the account line), with intervals.
fn retention_figure(evaluation: &Evaluation, candidate: &CandidateOut) -> Option<String> {
    let a = candidate.accounts.as_ref()?;
    let (top, bottom, horizon) = (a.retention_top?, a.retention_bottom?, a.horizon?);
    let ties = a.groups.as_deref() == Some("extremes");
    let categories = if ties {
        ["least of it", "most of it"]
    } else {
        ["bottom quarter", "top quarter"]
    }
    .map(String::from);
    let interval = |ci: Option<[f64; 2]>| ci.map(|[lo, hi]| (lo * 100.0, hi * 100.0));
    let chart = interval_bars(
        &format!(
            "accounts still paying {horizon} {}s later, by {}",
            unit(evaluation),
            candidate.name
        ),
        &categories,
        &[bottom * 100.0, top * 100.0],
        &[
            interval(a.retention_bottom_ci),
            interval(a.retention_top_ci),
        ],
        &format!("accounts by {} in each period", candidate.name),
        "still paying (%)",
    );
    Some(format!(
        "<figure>{chart}<figcaption>Each period's paying accounts ranked by the metric; the bars are the share of its top and bottom quarter still paying {horizon} {}s later, with 95% intervals by account. A leader's top quarter stays.</figcaption></figure>\n",
        unit(evaluation)
    ))
}
