//! Outputs of `nsm check`, one module each behind [`Render`]: the text or JSON on stdout, the
//! JUnit XML file and the GitHub Actions annotations.

pub mod annotations;
pub mod json;
pub mod junit;
pub mod text;

use crate::gate::GateReport;
use crate::render::Render;

/// Output of `nsm check` on stdout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum CheckFormat {
    /// One line per check and the verdict.
    Text,
    /// The checks as JSON.
    Json,
}

pub fn renderer(format: CheckFormat) -> Box<dyn Render<GateReport>> {
    match format {
        CheckFormat::Text => Box::new(text::Text),
        CheckFormat::Json => Box::new(json::Json),
    }
}
