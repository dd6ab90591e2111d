//! The formats of an evaluation (`--format`), each one module behind [`Render`].

use super::{csv, json, markdown, table, Render};
use crate::evaluation::Evaluation;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Format {
    /// A table for the terminal, with the explanations below it.
    Table,
    /// The full result, schema_version 1 (see the README).
    Json,
    /// One row per candidate.
    Csv,
    /// A table and explanations for a pull request or wiki page.
    Markdown,
}

/// The renderer of a format; `width` is the terminal's, for the table (text wraps there).
pub(crate) fn renderer(format: Format, width: usize) -> Box<dyn Render<Evaluation>> {
    match format {
        Format::Table => Box::new(table::Table { width }),
        Format::Json => Box::new(json::Json),
        Format::Csv => Box::new(csv::Csv),
        Format::Markdown => Box::new(markdown::Markdown),
    }
}
