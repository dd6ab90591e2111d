//! The review as Markdown: tables, sparklines for the charts.

use std::fmt::Write;

use anyhow::Result;

use super::{
    arrow, change_summary, chart_data, featured, revenue_caption, score_change, star_status,
    summary_line, unit, verdict_change, Comparison, Review,
};
use crate::evaluation::Evaluation;
use crate::render::markdown::{cell, ranking_table};
use crate::render::{fixed, rose_cell, Render};

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

pub(crate) struct Markdown;

impl Render<Review<'_>> for Markdown {
    fn render(&self, review: &Review<'_>) -> Result<String> {
        Ok(markdown(
            review.evaluation,
            review.comparison.as_ref(),
            review.top,
            review.tree,
        ))
    }
}

fn markdown(
    evaluation: &Evaluation,
    comparison: Option<&Comparison>,
    top: usize,
    tree: Option<&crate::discovery::model::TreeOut>,
) -> String {
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
    out.push_str(&ranking_table(evaluation));
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
        if let Some(a) = &candidate.accounts {
            if let (Some(top), Some(bottom), Some(h)) =
                (a.retention_top, a.retention_bottom, a.horizon)
            {
                let ci = |c: Option<[f64; 2]>| {
                    c.map(|[lo, hi]| format!(" [{:.0}–{:.0}%]", lo * 100.0, hi * 100.0))
                        .unwrap_or_default()
                };
                let _ = writeln!(
                    out,
                    "Accounts still paying {h} {}s later: top quarter {:.0}%{}, bottom quarter {:.0}%{} (by {} in each period).\n",
                    unit(evaluation),
                    top * 100.0,
                    ci(a.retention_top_ci),
                    bottom * 100.0,
                    ci(a.retention_bottom_ci),
                    cell(&candidate.name)
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
    if let Some(tree) = tree {
        out.push_str(&tree_markdown(tree));
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

/// The declared star's input tree: its sentences and a table of the drivers.
fn tree_markdown(tree: &crate::discovery::model::TreeOut) -> String {
    let mut out = format!("\n## Input tree of {}\n\n", cell(&tree.star));
    for sentence in super::tree_sentences(tree) {
        let _ = writeln!(out, "- {}", cell(&sentence));
    }
    if !tree.drivers.is_empty() {
        out.push_str("\n| driver | role | last | trend |\n|---|---|--:|---|\n");
        for d in &tree.drivers {
            let values: Vec<Option<f64>> = d.series.iter().map(|p| Some(p.value)).collect();
            let _ = writeln!(
                out,
                "| {} | {} | {} | `{}` |",
                cell(&d.name),
                d.role,
                crate::render::fixed(d.last, 3),
                sparkline(&values)
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sparklines_span_the_range_and_keep_gaps() {
        assert_eq!(sparkline(&[Some(0.0), Some(7.0), None, Some(3.5)]), "▁█ ▅");
        assert_eq!(sparkline(&[Some(2.0), Some(2.0)]), "▄▄");
        assert_eq!(sparkline(&[None]), "");
    }
}
