//! Outputs of `nsm check`, one module each behind [`Render`]: the text or JSON on stdout, the
//! JUnit XML file and the GitHub Actions annotations.

pub(crate) mod annotations;
pub(crate) mod json;
pub(crate) mod junit;
pub(crate) mod text;

use crate::gate::GateReport;
use crate::render::Render;

/// Output of `nsm check` on stdout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum CheckFormat {
    /// One line per check and the verdict.
    Text,
    /// The checks as JSON.
    Json,
}

pub(crate) fn renderer(format: CheckFormat) -> Box<dyn Render<GateReport>> {
    match format {
        CheckFormat::Text => Box::new(text::Text),
        CheckFormat::Json => Box::new(json::Json),
    }
}
