//! Valid but odd exports must give the same series as the plain fixture, and
//! `--skip-bad-rows` must skip, count and show the bad rows.

use crate::common::{data, evaluate_json, series};

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
    let output = crate::common::nsm()
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

#[test]
fn exact_duplicate_rows_are_kept_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    // Two rows repeated exactly; a third differs from its twin only in the value, so it is
    // not a duplicate.
    let text = tiny()
        + "2024-01-03T10:00:00Z,u1,a1,meeting,30\n\
           2024-03-27T10:00:00Z,u5,a3,meeting,20\n\
           2024-03-31T22:00:00Z,u5,a3,meeting,21\n";
    let json = evaluate(&write(&dir, "events.csv", text.as_bytes()), &[]);
    assert_eq!(json["data"]["events_rows"], 14);
    assert_eq!(series(&json, "meetings"), [5.0, 3.0, 4.0]);
    let notes = json["data"]["notes"].as_array().unwrap();
    assert!(
        notes
            .iter()
            .any(|n| n.as_str().unwrap().starts_with("2 event row(s) repeat")),
        "{notes:?}"
    );
    // Without duplicates there is no such note.
    let plain = evaluate(&data("tiny_events.csv"), &[]);
    assert!(!plain["data"]["notes"]
        .as_array()
        .unwrap()
        .iter()
        .any(|n| n.as_str().unwrap().contains("repeat")));
}

#[test]
fn many_users_doing_the_same_thing_at_the_same_second_are_not_duplicates() {
    // Users are read in two shards with codes of their own: rows of different users that
    // share timestamp, event and value stay distinct even where the two shards give them the
    // same codes (as here, where each shard's first rows are these).
    let dir = tempfile::tempdir().unwrap();
    let tiny = tiny();
    let (header, rows) = tiny.split_once('\n').unwrap();
    let mut text = format!("{header}\n");
    for i in 0..2000 {
        text.push_str(&format!("2024-02-01T09:00:00Z,crowd{i},a9,login,\n"));
    }
    text.push_str(rows);
    let json = evaluate(&write(&dir, "events.csv", text.as_bytes()), &[]);
    assert_eq!(json["data"]["events_rows"], 2011);
    assert!(!json["data"]["notes"]
        .as_array()
        .unwrap()
        .iter()
        .any(|n| n.as_str().unwrap().contains("repeat")));
}

#[test]
fn very_long_ids_and_event_names() {
    let dir = tempfile::tempdir().unwrap();
    let long_user = "u".repeat(20_000);
    let long_account = "ä".repeat(5_000);
    let text = tiny()
        .replace(",u1,", &format!(",{long_user},"))
        .replace(",a1,", &format!(",{long_account},"))
        .replace(",u3,a2,view,", &format!(",u3,a2,{},", "v".repeat(10_000)));
    let revenue = std::fs::read_to_string(data("tiny_revenue_customers.csv"))
        .unwrap()
        .replace(",a1,", &format!(",{long_account},"));
    let json = evaluate_with(
        &write(&dir, "events.csv", text.as_bytes()),
        &write(&dir, "revenue.csv", revenue.as_bytes()),
        &[],
    );
    assert_tiny_series(&json);
    assert_eq!(json["data"]["customers"][0]["paying"], 2.0);
}

#[test]
fn events_before_the_first_revenue_period_are_not_analysed() {
    let dir = tempfile::tempdir().unwrap();
    let revenue = write(
        &dir,
        "revenue.csv",
        b"period,revenue\n2024-02,150\n2024-03,180\n",
    );
    let json = evaluate_with(&data("tiny_events.csv"), &revenue, &[]);
    assert_eq!(
        crate::common::periods(&json, "meetings"),
        ["2024-02", "2024-03"]
    );
    assert_eq!(series(&json, "meetings"), [3.0, 2.0]);
    assert!(json["data"]["notes"]
        .as_array()
        .unwrap()
        .iter()
        .any(|n| n == "revenue starts in 2024-02; earlier event periods are not analysed"));
}

#[test]
fn zero_revenue_months_and_refunds() {
    let dir = tempfile::tempdir().unwrap();
    // Aggregate revenue with a month of zero.
    let zero = write(
        &dir,
        "zero.csv",
        b"period,revenue\n2024-01,150\n2024-02,0\n2024-03,180\n",
    );
    let json = evaluate_with(&data("tiny_events.csv"), &zero, &[]);
    assert_eq!(series(&json, "revenue"), [150.0, 0.0, 180.0]);
    assert_tiny_series(&json);
    // A refund: a negative per-customer amount lowers its month and does not make a payer.
    let refund = std::fs::read_to_string(data("tiny_revenue_customers.csv")).unwrap()
        + "2024-02-20,a3,-30,\n";
    let json = evaluate_with(
        &data("tiny_events.csv"),
        &write(&dir, "refund.csv", refund.as_bytes()),
        &[],
    );
    assert_eq!(series(&json, "revenue"), [150.0, 120.0, 180.0]);
    let paying: Vec<f64> = json["data"]["customers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["paying"].as_f64().unwrap())
        .collect();
    assert_eq!(paying, [2.0, 2.0, 2.0]);
}

#[test]
fn leap_day_and_an_offset_across_a_month_boundary() {
    let dir = tempfile::tempdir().unwrap();
    // 2024-02-29 is a day of February; 2024-03-01T01:00+02:00 is 2024-02-29T23:00Z.
    let text = tiny()
        + "2024-02-29T12:00:00Z,u9,a3,meeting,1\n\
           2024-03-01T01:00:00+02:00,u9,a3,meeting,1\n";
    let json = evaluate(&write(&dir, "events.csv", text.as_bytes()), &[]);
    assert_eq!(series(&json, "meetings"), [4.0, 5.0, 2.0]);
}

#[test]
fn iso_week_53_is_its_own_week() {
    let dir = tempfile::tempdir().unwrap();
    // 2020 has 53 ISO weeks: W53 runs from Monday 2020-12-28 to Sunday 2021-01-03.
    let mut events = String::from("timestamp,user_id,account_id,event,value\n");
    let mut revenue = String::from("date,customer_id,amount\n");
    for day in 0..28 {
        let date =
            chrono::NaiveDate::from_ymd_opt(2020, 12, 14).unwrap() + chrono::Duration::days(day);
        // One meeting a day, two on the days of week 53.
        let n = if (14..21).contains(&day) { 2 } else { 1 };
        for i in 0..n {
            events.push_str(&format!("{date}T1{i}:00:00Z,u{i},a1,meeting,1\n"));
        }
        revenue.push_str(&format!("{date},a1,10\n"));
    }
    let json = evaluate_with(
        &write(&dir, "events.csv", events.as_bytes()),
        &write(&dir, "revenue.csv", revenue.as_bytes()),
        &["--period", "week"],
    );
    assert_eq!(
        crate::common::periods(&json, "meetings"),
        ["2020-W51", "2020-W52", "2020-W53", "2021-W01"]
    );
    assert_eq!(series(&json, "meetings"), [7.0, 7.0, 14.0, 7.0]);
}

/// tests/data/tiny_events.csv as a Segment warehouse table: u5's rows (two meetings in March)
/// have an empty `user_id` and the id in `anonymous_id`.
pub(crate) fn segment_table(
    dir: &std::path::Path,
    blank_both_on: Option<usize>,
) -> std::path::PathBuf {
    let text = std::fs::read_to_string(crate::common::data("tiny_events.csv")).unwrap();
    let mut out = String::from("timestamp,user_id,anonymous_id,account_id,event,value\n");
    for (i, line) in text.lines().skip(1).enumerate() {
        let fields: Vec<&str> = line.split(',').collect();
        let (user, anonymous) = match fields[1] {
            _ if Some(i) == blank_both_on => ("", ""),
            "u5" => ("", "u5"),
            user => (user, "anon-x"),
        };
        out.push_str(&format!(
            "{},{user},{anonymous},{},{},{}\n",
            fields[0], fields[2], fields[3], fields[4]
        ));
    }
    let path = dir.join("segment.csv");
    std::fs::write(&path, out).unwrap();
    path
}

pub(crate) fn with_fallback_config(dir: &std::path::Path) -> std::path::PathBuf {
    let toml = std::fs::read_to_string(crate::common::data("tiny_nsm.toml")).unwrap();
    let path = dir.join("nsm.toml");
    std::fs::write(
        &path,
        format!("[events]\nuser_id = [\"user_id\", \"anonymous_id\"]\n\n{toml}"),
    )
    .unwrap();
    path
}

#[test]
fn empty_user_ids_fall_back_to_the_anonymous_id() {
    let dir = tempfile::tempdir().unwrap();
    let events = segment_table(dir.path(), None);
    let config = with_fallback_config(dir.path());
    let revenue = crate::common::data("tiny_revenue_customers.csv");
    let json = crate::common::evaluate_json(&events, &revenue, &config, &[]);
    crate::kinds::check_all(&json);
    let notes = json["data"]["notes"].to_string();
    assert!(
        notes.contains("2 event row(s) had an empty user id and took it from a fallback column"),
        "{notes}"
    );
    // Without the fallback, the same rows are bad rows.
    let plain = crate::common::data("tiny_nsm.toml");
    let stderr = crate::common::input_error_of(&events, &revenue, Some(&plain), &[]);
    assert!(stderr.contains("user id is empty"), "{stderr}");
}

#[test]
fn a_row_with_every_user_column_empty_is_still_a_bad_row() {
    let dir = tempfile::tempdir().unwrap();
    // Row 3 of the data (line 4): both ids empty.
    let events = segment_table(dir.path(), Some(2));
    let config = with_fallback_config(dir.path());
    let revenue = crate::common::data("tiny_revenue_customers.csv");
    let stderr = crate::common::input_error_of(&events, &revenue, Some(&config), &[]);
    assert!(stderr.contains("line 4"), "{stderr}");
    assert!(stderr.contains("user id is empty"), "{stderr}");
    // A fallback column the file lacks is named.
    let toml = dir.path().join("missing.toml");
    std::fs::write(&toml, "[events]\nuser_id = [\"user_id\", \"visitor\"]\n").unwrap();
    let stderr = crate::common::input_error_of(&events, &revenue, Some(&toml), &[]);
    assert!(stderr.contains("missing column 'visitor'"), "{stderr}");
}
