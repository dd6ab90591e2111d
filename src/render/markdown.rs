use anyhow::Result;

use super::{ranking_cells, Render, RANKING_COLUMNS, RANKING_NUMERIC};
use crate::evaluation::Evaluation;

pub(crate) struct Markdown;

/// Escape the characters that would break a table cell.
pub(crate) fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

impl Render<Evaluation> for Markdown {
    fn render(&self, evaluation: &Evaluation) -> Result<String> {
        let data = &evaluation.data;
        let mut out = String::from("# North Star candidates\n\n");
        out.push_str(&format!("**{}**\n\n", cell(&evaluation.recommendation)));
        out.push_str(&format!(
            "Data: {} to {} ({} {}s), {} events, churn from {}.\n\n",
            data.first_period,
            data.last_period,
            data.n_periods,
            evaluation.settings.period,
            data.events_rows,
            data.churn_source
        ));
        out.push_str(&ranking_table(evaluation));
        out.push_str("\n## Why\n\n");
        for c in evaluation.ranked() {
            out.push_str(&format!(
                "- **{}** ({}): {}\n",
                cell(&c.name),
                c.verdict.name(),
                cell(&c.explanation)
            ));
        }
        if !data.notes.is_empty() {
            out.push_str("\n## Notes\n\n");
            for note in &data.notes {
                out.push_str(&format!("- {}\n", cell(note)));
            }
        }
        Ok(out)
    }
}

/// The ranking as a Markdown table, one row per candidate.
pub(crate) fn ranking_table(evaluation: &Evaluation) -> String {
    let mut out = format!("| {} |\n|", RANKING_COLUMNS.join(" | "));
    for i in 0..RANKING_COLUMNS.len() {
        out.push_str(if RANKING_NUMERIC.contains(&i) {
            "--:|"
        } else {
            "---|"
        });
    }
    out.push('\n');
    for c in evaluation.ranked() {
        let cells: Vec<String> = ranking_cells(c).iter().map(|t| cell(t)).collect();
        out.push_str(&format!("| {} |\n", cells.join(" | ")));
    }
    out
}
