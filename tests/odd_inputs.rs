//! Valid but odd exports must give the same series as the plain fixture, and
//! `--skip-bad-rows` must skip, count and show the bad rows.

mod common;

use common::{data, evaluate_json, series};

fn evaluate(events: &std::path::Path, extra: &[&str]) -> serde_json::Value {
    evaluate_with(events, &data("tiny_revenue_customers.csv"), extra)
}

fn evaluate_with(
    events: &std::path::Path,
    revenue: &std::path::Path,
    extra: &[&str],
) -> serde_json::Value {
    evaluate_json(events, revenue, &data("tiny_nsm.toml"), extra)
}

fn tiny() -> String {
    std::fs::read_to_string(data("tiny_events.csv")).unwrap()
}

/// The expected series of tests/kinds.rs, for the candidates checked here.
fn assert_tiny_series(json: &serde_json::Value) {
    assert_eq!(series(json, "meetings"), [4.0, 3.0, 2.0]);
    assert_eq!(series(json, "meeting_minutes"), [135.0, 70.0, 40.0]);
    assert_eq!(series(json, "active_users"), [3.0, 3.0, 2.0]);
    assert_eq!(series(json, "accounts_2plus_weekly_sum"), [1.0, 1.0, 1.0]);
}

fn write(dir: &tempfile::TempDir, name: &str, bytes: &[u8]) -> std::path::PathBuf {
    let path = dir.path().join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

#[test]
fn byte_order_mark_and_crlf() {
    let dir = tempfile::tempdir().unwrap();
    let text = format!("\u{feff}{}", tiny().replace('\n', "\r\n"));
    let path = write(&dir, "events.csv", text.as_bytes());
    assert_tiny_series(&evaluate(&path, &[]));
}

#[test]
fn semicolons_and_tabs_in_every_file() {
    let dir = tempfile::tempdir().unwrap();
    let revenue = std::fs::read_to_string(data("tiny_revenue_customers.csv")).unwrap();
    for (delimiter, flag) in [(";", ";"), ("\t", "tab")] {
        let events = write(
            &dir,
            "events.csv",
            tiny().replace(',', delimiter).as_bytes(),
        );
        let revenue = write(
            &dir,
            "revenue.csv",
            revenue.replace(',', delimiter).as_bytes(),
        );
        assert_tiny_series(&evaluate_with(&events, &revenue, &["--delimiter", flag]));
    }
}

#[test]
fn quoted_fields_with_delimiters_newlines_and_other_scripts() {
    let dir = tempfile::tempdir().unwrap();
    // Users get quoted, non-ASCII ids with a comma and a newline inside; the counts of
    // distinct users stay the same.
    let text = tiny()
        .replace(",u1,", ",\"usér, \"\"one\"\"\nline two\",")
        .replace(",u2,", ",\"用户二\",");
    let path = write(&dir, "events.csv", text.as_bytes());
    assert_tiny_series(&evaluate(&path, &[]));
}

#[test]
fn skip_bad_rows_skips_counts_and_shows_them() {
    let dir = tempfile::tempdir().unwrap();
    let text = tiny()
        .replacen(
            "2024-02-14T10:00:00Z,u4,a2,meeting,10\n",
            "2024-02-14T10:00:00Z,u4,a2,meeting,10\nnot a date,u9,a9,meeting,5\n",
            1,
        )
        .replacen(
            "2024-03-05T10:00:00Z,u1,a1,view,\n",
            "2024-03-05T10:00:00Z,u1,a1,view,\n2024-03-06T10:00:00Z,u9,a9,meeting,lots\n",
            1,
        );
    let path = write(&dir, "events.csv", text.as_bytes());
    let output = common::nsm()
        .args([
            "evaluate",
            "--format",
            "json",
            "--surrogates",
            "19",
            "--skip-bad-rows",
            "--events",
        ])
        .arg(&path)
        .arg("--revenue")
        .arg(data("tiny_revenue_customers.csv"))
        .arg("--config")
        .arg(data("tiny_nsm.toml"))
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("skipped 2 unreadable event row(s)"),
        "{stderr}"
    );
    assert!(
        stderr.contains("line 10") && stderr.contains("line 12"),
        "{stderr}"
    );
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(json["data"]["skipped_rows"], 2);
    assert_eq!(json["data"]["events_rows"], 11);
    assert_eq!(json["data"]["skipped_examples"][0]["line"], 10);
    assert_eq!(json["data"]["skipped_examples"][1]["value"], "lots");
    assert!(json["data"]["notes"]
        .as_array()
        .unwrap()
        .iter()
        .any(|n| n.as_str().unwrap().contains("skipped 2")));
    assert_tiny_series(&json);
}

#[test]
fn revenue_customers_partly_matching_the_events_are_noted() {
    let dir = tempfile::tempdir().unwrap();
    let revenue = std::fs::read_to_string(data("tiny_revenue_customers.csv")).unwrap()
        + "2024-02-05,zz-unknown,70,\n";
    let revenue = write(&dir, "revenue.csv", revenue.as_bytes());
    let json = evaluate_with(&data("tiny_events.csv"), &revenue, &[]);
    let notes = json["data"]["notes"].as_array().unwrap();
    // a1, a2 and a3 match; zz-unknown does not: 3 of 4.
    assert!(
        notes.iter().any(|n| n
            .as_str()
            .unwrap()
            .starts_with("only 75% of revenue customers match")),
        "{notes:?}"
    );
}
