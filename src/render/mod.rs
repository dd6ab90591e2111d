//! Output formats, one module each behind [`Render`]: adding a format touches one file.

pub mod csv;
pub mod json;
pub mod markdown;
pub mod table;

use anyhow::Result;

use crate::evaluation::Evaluation;

/// Turns an evaluation into the bytes of one output format.
pub trait Render {
    fn render(&self, evaluation: &Evaluation) -> Result<String>;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// A table for the terminal, with the explanations below it.
    Table,
    /// The full result, schema_version 1 (see the README).
    Json,
    /// One row per candidate.
    Csv,
    /// A table and explanations for a pull request or wiki page.
    Markdown,
}

pub fn renderer(format: Format) -> Box<dyn Render> {
    match format {
        Format::Table => Box::new(table::Table),
        Format::Json => Box::new(json::Json),
        Format::Csv => Box::new(csv::Csv),
        Format::Markdown => Box::new(markdown::Markdown),
    }
}

/// Fixed formatting shared by the text formats: `-` for a missing figure.
pub fn fixed(value: Option<f64>, decimals: usize) -> String {
    value.map_or_else(|| "-".to_string(), |v| format!("{v:.decimals$}"))
}

pub fn p_value(value: Option<f64>) -> String {
    match value {
        Some(p) if p < 0.001 => "<0.001".to_string(),
        other => fixed(other, 3),
    }
}

pub fn labels(names: &[crate::stats::score::Label]) -> String {
    names.iter().map(|l| l.name()).collect::<Vec<_>>().join(",")
}

/// "rose in / churn periods", or `-` when there were none.
pub fn rose_cell(churn: Option<&crate::evaluation::ChurnOut>) -> String {
    churn.filter(|ch| ch.churn_periods > 0).map_or_else(
        || "-".to_string(),
        |ch| format!("{}/{}", ch.rose_in, ch.churn_periods),
    )
}
