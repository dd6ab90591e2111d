//! The gate as text: one line per check, then the verdict.

use anyhow::Result;

use crate::gate::GateReport;
use crate::render::Render;

pub(crate) struct Text;

impl Render<GateReport> for Text {
    fn render(&self, report: &GateReport) -> Result<String> {
        let mut out = String::new();
        for check in &report.checks {
            out.push_str(&format!(
                "{} {}\n",
                if check.passed { "ok  " } else { "FAIL" },
                check.message
            ));
        }
        out.push_str(&format!(
            "nsm check: {} {}\n",
            report.north_star,
            if report.passed { "passed" } else { "FAILED" }
        ));
        Ok(out)
    }
}
