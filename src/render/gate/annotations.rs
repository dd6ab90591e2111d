//! The gate's failures as GitHub Actions workflow commands.

use anyhow::Result;

use crate::gate::GateReport;
use crate::render::Render;

/// GitHub Actions workflow commands for the failed checks (`::error title=...::message`).
/// Data escapes `%`, CR and LF; a property also `:` and `,` (GitHub's toolkit rules).
pub(crate) struct Annotations;

impl Render<GateReport> for Annotations {
    fn render(&self, report: &GateReport) -> Result<String> {
        Ok(github_annotations(report))
    }
}

fn github_annotations(report: &GateReport) -> String {
    let data = |text: &str| {
        text.replace('%', "%25")
            .replace('\r', "%0D")
            .replace('\n', "%0A")
    };
    let property = |text: &str| data(text).replace(':', "%3A").replace(',', "%2C");
    report
        .checks
        .iter()
        .filter(|c| !c.passed)
        .map(|c| {
            format!(
                "::error title={}::{}\n",
                property(&format!("nsm check: {}", c.name)),
                data(&c.message)
            )
        })
        .collect()
}
