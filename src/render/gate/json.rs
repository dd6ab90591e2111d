//! The gate's checks as JSON, for machines.

use anyhow::Result;

use crate::gate::GateReport;
use crate::render::Render;

pub(crate) struct Json;

impl Render<GateReport> for Json {
    fn render(&self, report: &GateReport) -> Result<String> {
        Ok(serde_json::to_string_pretty(report)? + "\n")
    }
}
