//! The formats of the review document (`nsm report --format`).

use super::{html, markdown, Review};
use crate::render::Render;

/// Format of `nsm report`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum ReportFormat {
    /// Markdown for a wiki page or pull request (charts as text sparklines).
    Markdown,
    /// One self-contained HTML file with inline SVG charts, printable.
    Html,
}

pub(crate) fn renderer(format: ReportFormat) -> Box<dyn for<'a> Render<Review<'a>>> {
    match format {
        ReportFormat::Markdown => Box::new(markdown::Markdown),
        ReportFormat::Html => Box::new(html::Html),
    }
}
