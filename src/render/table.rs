use anyhow::Result;
use comfy_table::{CellAlignment, ColumnConstraint, ContentArrangement};

use super::{fixed, labels, p_value, rose_cell, Render};
use crate::evaluation::Evaluation;

pub struct Table;

/// Terminal width the table is laid out for.
pub const WIDTH: u16 = 100;

/// Rules above and below the table and under the header; no vertical lines, no row lines
/// (comfy-table's 19 style positions).
const STYLE: &str = "  ── ──      ──    ";

impl Render for Table {
    fn render(&self, evaluation: &Evaluation) -> Result<String> {
        let mut table = comfy_table::Table::new();
        table
            .load_preset(STYLE)
            .set_content_arrangement(ContentArrangement::Dynamic)
            .set_width(WIDTH)
            .set_header([
                "#",
                "candidate",
                "score",
                "verdict",
                "lag",
                "r",
                "p",
                "rose",
                "churner",
                "labels",
            ]);
        for c in evaluation.ranked() {
            let lead = c.lead.as_ref();
            let churn = c.churn.as_ref();
            let rose = rose_cell(churn);
            table.add_row([
                c.rank.map(|r| r.to_string()).unwrap_or_default(),
                c.name.clone(),
                fixed(c.score, 1),
                c.verdict.name().to_string(),
                lead.and_then(|l| l.best_lag)
                    .map_or_else(|| "-".into(), |k| k.to_string()),
                fixed(lead.and_then(|l| l.r), 2),
                p_value(lead.and_then(|l| l.p_value)),
                rose,
                fixed(churn.and_then(|ch| ch.churner_weight), 2),
                labels(&c.labels).replace(',', " "),
            ]);
        }
        for column in table.column_iter_mut() {
            column.set_padding((0, 1));
        }
        for index in [0, 2, 4, 5, 6, 7, 8] {
            if let Some(column) = table.column_mut(index) {
                column.set_cell_alignment(CellAlignment::Right);
            }
        }
        if let Some(column) = table.column_mut(1) {
            column.set_constraint(ColumnConstraint::ContentWidth);
        }
        let data = &evaluation.data;
        let mut out = format!(
            "nsm: {} candidates, {} to {} ({} {}s), churn from {}\n\n",
            evaluation.ranked().count(),
            data.first_period,
            data.last_period,
            data.n_periods,
            evaluation.settings.period,
            data.churn_source
        );
        out.push_str(&table.to_string());
        out.push_str("\n\n");
        out.push_str(&evaluation.recommendation);
        out.push_str("\n\nWhy:\n");
        for c in evaluation.ranked() {
            out.push_str(&format!(
                "  {:<2} {} [{}]: {}\n",
                c.rank.unwrap_or(0),
                c.name,
                c.verdict.name(),
                c.explanation
            ));
        }
        if !data.notes.is_empty() {
            out.push_str("\nNotes:\n");
            for note in &data.notes {
                out.push_str(&format!("  - {note}\n"));
            }
        }
        Ok(out)
    }
}
