use anyhow::Result;
use comfy_table::{CellAlignment, ColumnConstraint, ContentArrangement};

use super::{ranking_cells, Render, RANKING_COLUMNS, RANKING_NUMERIC};
use crate::evaluation::Evaluation;

/// The table, and the sentences under it wrapped at `width` columns.
pub(crate) struct Table {
    pub(crate) width: usize,
}

/// Greedy word wrap at `width` columns (counted in characters); lines after the first begin
/// with `indent`. A word longer than the line stays whole.
pub(crate) fn wrap(text: &str, width: usize, first: &str, indent: &str) -> String {
    let mut out = String::new();
    let mut line = first.to_string();
    for word in text.split_whitespace() {
        let mut separator = if line.trim().is_empty() { "" } else { " " };
        let length = line.chars().count() + separator.len() + word.chars().count();
        if length > width && !line.trim().is_empty() {
            out.push_str(line.trim_end());
            out.push('\n');
            line = indent.to_string();
            separator = "";
        }
        line.push_str(separator);
        line.push_str(word);
    }
    out.push_str(line.trim_end());
    out.push('\n');
    out
}

/// Rules above and below the table and under the header; no vertical lines, no row lines
/// (comfy-table's 19 style positions).
const STYLE: &str = "  ── ──      ──    ";

impl Render<Evaluation> for Table {
    fn render(&self, evaluation: &Evaluation) -> Result<String> {
        let mut table = comfy_table::Table::new();
        table
            .load_preset(STYLE)
            .set_content_arrangement(ContentArrangement::Dynamic)
            .set_width(self.width.min(u16::MAX as usize) as u16)
            .set_header(RANKING_COLUMNS);
        for c in evaluation.ranked() {
            let mut cells = ranking_cells(c);
            cells[10] = cells[10].replace(',', " ");
            table.add_row(cells);
        }
        for column in table.column_iter_mut() {
            column.set_padding((0, 1));
        }
        if let Some(last) = table.column_mut(RANKING_COLUMNS.len() - 1) {
            last.set_padding((0, 0));
        }
        for index in RANKING_NUMERIC {
            if let Some(column) = table.column_mut(index) {
                column.set_cell_alignment(CellAlignment::Right);
            }
        }
        // Every column but the labels as wide as its content; the labels take the rest.
        for index in 0..RANKING_COLUMNS.len() - 1 {
            if let Some(column) = table.column_mut(index) {
                column.set_constraint(ColumnConstraint::ContentWidth);
            }
        }
        // Labels wrap between words, never inside one.
        let longest = crate::stats::score::Label::ALL
            .iter()
            .map(|l| l.name().len())
            .max()
            .unwrap_or(0) as u16;
        if let Some(column) = table.column_mut(10) {
            column.set_constraint(ColumnConstraint::LowerBoundary(comfy_table::Width::Fixed(
                longest,
            )));
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
        // The labels column is padded to its width: no trailing blanks on a line.
        for line in table.to_string().lines() {
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out.push('\n');
        out.push_str(&wrap(&evaluation.recommendation, self.width, "", ""));
        out.push_str("\nWhy:\n");
        for c in evaluation.ranked() {
            let first = format!(
                "  {:<2} {} [{}]:",
                c.rank.unwrap_or(0),
                c.name,
                c.verdict.name()
            );
            out.push_str(&wrap(&c.explanation, self.width, &first, "     "));
        }
        if !data.notes.is_empty() {
            out.push_str("\nNotes:\n");
            for note in &data.notes {
                out.push_str(&wrap(note, self.width, "  -", "    "));
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::wrap;

    #[test]
    fn wraps_at_the_width_with_a_hanging_indent() {
        let text = "revenue follows it by 6 months (r = 0.64, p = 0.003)";
        let out = wrap(text, 24, "  1  star [pass]:", "     ");
        assert_eq!(
            out,
            "  1  star [pass]:\n     revenue follows it\n     by 6 months (r =\n     0.64, p = 0.003)\n"
        );
        for line in out.lines() {
            assert!(line.chars().count() <= 24, "{line}");
        }
        // A word longer than the width stays whole on its own line.
        assert_eq!(wrap("a verylongword b", 5, "", ""), "a\nverylongword\nb\n");
    }
}
