use anyhow::Result;

use super::{fixed, labels, p_value, rose_cell, Render};
use crate::evaluation::Evaluation;

pub struct Markdown;

/// Escape the characters that would break a table cell.
fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

impl Render for Markdown {
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
        out.push_str("| # | candidate | score | verdict | best lag | lead r | p | rose/churn | churner weight | labels |\n");
        out.push_str("|--:|---|--:|---|--:|--:|--:|--:|--:|---|\n");
        for c in evaluation.ranked() {
            let lead = c.lead.as_ref();
            let churn = c.churn.as_ref();
            let rose = rose_cell(churn);
            out.push_str(&format!(
                "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |\n",
                c.rank.unwrap_or(0),
                cell(&c.name),
                fixed(c.score, 1),
                c.verdict.name(),
                lead.and_then(|l| l.best_lag)
                    .map_or_else(|| "-".into(), |k| k.to_string()),
                fixed(lead.and_then(|l| l.r), 2),
                p_value(lead.and_then(|l| l.p_value)),
                rose,
                fixed(churn.and_then(|ch| ch.churner_weight), 2),
                labels(&c.labels),
            ));
        }
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
