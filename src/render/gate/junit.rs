//! The gate as JUnit XML, for CI dashboards.

use anyhow::Result;

use crate::gate::GateReport;
use crate::render::{xml_escape, Render};

/// A JUnit XML report: one test case per check.
pub(crate) struct Junit;

impl Render<GateReport> for Junit {
    fn render(&self, report: &GateReport) -> Result<String> {
        Ok(junit_xml(report))
    }
}

fn junit_xml(report: &GateReport) -> String {
    let failures = report.checks.iter().filter(|c| !c.passed).count();
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    out.push_str(&format!(
        "<testsuites name=\"nsm check\" tests=\"{}\" failures=\"{failures}\">\n",
        report.checks.len()
    ));
    out.push_str(&format!(
        "  <testsuite name=\"nsm check {}\" tests=\"{}\" failures=\"{failures}\" errors=\"0\">\n",
        xml_escape(&report.north_star),
        report.checks.len()
    ));
    for check in &report.checks {
        let classname = format!("nsm.{}", report.north_star);
        out.push_str(&format!(
            "    <testcase classname=\"{}\" name=\"{}\"",
            xml_escape(&classname),
            xml_escape(&check.name)
        ));
        if check.passed {
            out.push_str(&format!(
                ">\n      <system-out>{}</system-out>\n    </testcase>\n",
                xml_escape(&check.message)
            ));
        } else {
            out.push_str(&format!(
                ">\n      <failure message=\"{}\">{}</failure>\n    </testcase>\n",
                xml_escape(&check.message),
                xml_escape(&check.message)
            ));
        }
    }
    out.push_str("  </testsuite>\n</testsuites>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xml_is_escaped() {
        assert_eq!(xml_escape("a<b & \"c\""), "a&lt;b &amp; &quot;c&quot;");
    }
}
