use anyhow::Result;
use comfy_table::{CellAlignment, ColumnConstraint, ContentArrangement};

use super::{ranking_cells, Render, RANKING_COLUMNS, RANKING_NUMERIC};
use crate::evaluation::Evaluation;

pub(crate) struct Table;

/// Terminal width the table is laid out for.
pub(crate) const WIDTH: u16 = 100;

/// Rules above and below the table and under the header; no vertical lines, no row lines
/// (comfy-table's 19 style positions).
const STYLE: &str = "  ── ──      ──    ";

impl Render<Evaluation> for Table {
    fn render(&self, evaluation: &Evaluation) -> Result<String> {
        let mut table = comfy_table::Table::new();
        table
            .load_preset(STYLE)
            .set_content_arrangement(ContentArrangement::Dynamic)
            .set_width(WIDTH)
            .set_header(RANKING_COLUMNS);
        for c in evaluation.ranked() {
            let mut cells = ranking_cells(c);
            cells[9] = cells[9].replace(',', " ");
            table.add_row(cells);
        }
        for column in table.column_iter_mut() {
            column.set_padding((0, 1));
        }
        for index in RANKING_NUMERIC {
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
