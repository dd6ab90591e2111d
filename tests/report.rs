//! `nsm report`: the Markdown document on the demo data (snapshot), the HTML file (charts,
//! self-contained, deterministic), `--as-of` and `--compare`.

use std::path::{Path, PathBuf};

use crate::common::{data, nsm};

fn saas(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples/saas")
        .join(name)
}

/// Run `nsm report` with the given inputs and flags; expect success, return stdout.
fn report(events: &Path, revenue: &Path, config: Option<&Path>, extra: &[&str]) -> String {
    let mut cmd = nsm();
    cmd.args(["report", "--quiet", "--events"])
        .arg(events)
        .arg("--revenue")
        .arg(revenue);
    if let Some(config) = config {
        cmd.arg("--config").arg(config);
    }
    let output = cmd.args(extra).output().unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

#[test]
fn markdown_report_on_the_demo_data() {
    let dir = tempfile::tempdir().unwrap();
    let (events, revenue, config) = crate::common::write_demo_data(dir.path());
    // Two quarters: the earlier one saved as JSON, the later one compared with it.
    let earlier = dir.path().join("q1.json");
    let earlier_arg = earlier.to_str().unwrap().to_string();
    report(
        &events,
        &revenue,
        Some(&config),
        &["--as-of", "2025-03-31", "--json", &earlier_arg],
    );
    let text = report(
        &events,
        &revenue,
        Some(&config),
        &["--compare", &earlier_arg],
    );
    // The compared file's path differs per run; the snapshot shows it as a placeholder.
    let text = text.replace(&earlier_arg, "[q1.json]");
    insta::assert_snapshot!("demo_markdown", text);
}

#[test]
fn html_report_is_self_contained_and_deterministic() {
    let dir = tempfile::tempdir().unwrap();
    let previous = dir.path().join("previous.json");
    let previous_arg = previous.to_str().unwrap().to_string();
    let (events, revenue, config) = (saas("events.csv.gz"), saas("revenue.csv"), saas("nsm.toml"));
    report(
        &events,
        &revenue,
        Some(&config),
        &["--as-of", "2024-12-31", "--json", &previous_arg],
    );
    let args = [
        "--format",
        "html",
        "--compare",
        previous_arg.as_str(),
        "--surrogates",
        "199",
    ];
    let first = report(&events, &revenue, Some(&config), &args);
    let second = report(&events, &revenue, Some(&config), &args);
    assert_eq!(first, second, "same input, same bytes");
    assert!(first.starts_with("<!DOCTYPE html>"));
    // The declared star and the top three: three charts each (over time, by lag, against
    // churn) and, with an account line, a fourth (retention of its top and bottom accounts),
    // every one an inline SVG.
    let sections = first.matches("<section class=\"candidate\">").count();
    assert!(sections >= 3, "{sections} candidate sections");
    let retention = first
        .matches("<figcaption>Each period's paying accounts ranked")
        .count();
    assert!(retention >= 1, "a retention chart");
    // And the declared star's input tree, drawn.
    assert!(first.contains("<h2>Input tree of "), "a tree section");
    assert!(first.contains("the drivers&apos; product is the star (exact)"));
    assert_eq!(first.matches("<svg").count(), 3 * sections + retention + 1);
    assert_eq!(
        first.matches("</svg>").count(),
        3 * sections + retention + 1
    );
    // Nothing is fetched: the only URLs are the SVG namespace.
    for scheme in ["http://", "https://"] {
        for (at, _) in first.match_indices(scheme) {
            assert!(
                first[at..].starts_with("http://www.w3.org/2000/svg"),
                "external reference: {}",
                &first[at..at + 60]
            );
        }
    }
    for tag in ["<script", "<link", "<img", "@import", "url("] {
        assert!(!first.contains(tag), "{tag} in the report");
    }
    assert!(first.contains("What changed since the review of"));
    assert!(first.contains("null band, p = 0.05"));
}

#[test]
fn as_of_excludes_later_data() {
    let dir = tempfile::tempdir().unwrap();
    // An event that only exists after the date, and more meetings after it too.
    let events = dir.path().join("events.csv");
    let text = std::fs::read_to_string(data("tiny_events.csv")).unwrap()
        + "2024-03-15T10:00:00Z,u1,a1,late_only,\n2024-03-16T10:00:00Z,u2,a1,meeting,5\n";
    std::fs::write(&events, text).unwrap();
    let revenue = data("tiny_revenue_customers.csv");
    let json_path = dir.path().join("as_of.json");
    let json_arg = json_path.to_str().unwrap().to_string();
    let full = report(&events, &revenue, None, &["--surrogates", "19"]);
    assert!(full.contains("late_only") && full.contains("2024-03"));
    let cut = report(
        &events,
        &revenue,
        None,
        &[
            "--surrogates",
            "19",
            "--as-of",
            "2024-02-29",
            "--json",
            &json_arg,
        ],
    );
    assert!(!cut.contains("late_only"), "{cut}");
    assert!(!cut.contains("2024-03"), "{cut}");
    assert!(cut.contains("as of 2024-02-29, 2024-01 to 2024-02 (2 months)"));
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json_path).unwrap()).unwrap();
    assert_eq!(
        crate::common::periods(&json, "revenue"),
        ["2024-01", "2024-02"]
    );
    assert_eq!(json["data"]["events_rows"], 8);
}

#[test]
fn compare_file_that_is_not_an_evaluation_is_an_input_error() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("previous.json");
    std::fs::write(&bad, "{\"hello\": 1}").unwrap();
    let output = dir.path().join("report.md");
    let result = nsm()
        .args(["report", "--events"])
        .arg(data("tiny_events.csv"))
        .arg("--revenue")
        .arg(data("tiny_revenue_customers.csv"))
        .arg("--compare")
        .arg(&bad)
        .arg("--output")
        .arg(&output)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&result.stderr);
    assert_eq!(result.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("--compare") && stderr.contains("not an nsm evaluation"),
        "{stderr}"
    );
    assert!(!output.exists());
}
