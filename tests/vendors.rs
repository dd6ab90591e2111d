//! Vendor event exports read directly: the 11 events of tests/data/tiny_events.csv as
//! Amplitude, Mixpanel, Segment and PostHog export them (tests/fixtures/vendors/make_vendors.py,
//! run by hand, wrote the files), each evaluated to the same series as the CSV.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::common::{data, evaluate_json, input_error_of, nsm};
use crate::kinds::{check_all, evaluate_tiny};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/vendors")
        .join(name)
}

const MAP: &[&str] = &["--map", "account_id=company,value=duration"];

/// The fixture evaluated with the group type `company` and the property `duration`.
fn evaluate_export(name: &str, extra: &[&str]) -> serde_json::Value {
    let mut args = MAP.to_vec();
    args.extend(extra);
    evaluate_json(
        &fixture(name),
        &data("tiny_revenue_customers.csv"),
        &data("tiny_nsm.toml"),
        &args,
    )
}

fn notes(json: &serde_json::Value) -> Vec<String> {
    json["data"]["notes"]
        .as_array()
        .expect("notes")
        .iter()
        .map(|n| n.as_str().expect("text").to_string())
        .collect()
}

fn has_note(json: &serde_json::Value, words: &[&str]) {
    let notes = notes(json);
    assert!(
        notes.iter().any(|n| words.iter().all(|w| n.contains(w))),
        "no note with {words:?} in {notes:#?}"
    );
}

/// Every candidate's series equal to those of the CSV, plus the hand-computed ones.
fn reads_like_the_csv(name: &str, extra: &[&str]) -> serde_json::Value {
    let json = evaluate_export(name, extra);
    check_all(&json);
    assert_eq!(json["data"]["events_rows"], 11, "{name}");
    let csv = evaluate_tiny(
        &data("tiny_events.csv"),
        &data("tiny_revenue_customers.csv"),
    );
    assert_eq!(json["candidates"], csv["candidates"], "{name}");
    // One record sent twice, the vendor's bookkeeping events, one null user id.
    has_note(&json, &["1 event(s) repeated", "were dropped"]);
    has_note(&json, &["bookkeeping event(s)"]);
    has_note(&json, &["1 event(s) had no", "were counted under"]);
    json
}

#[test]
fn amplitude_zip_of_gzipped_json_lines() {
    let json = reads_like_the_csv("amplitude_export.zip", &[]);
    has_note(
        &json,
        &[
            "Amplitude's export format",
            "detected from the first record",
        ],
    );
    has_note(&json, &["device and $insert_id"]);
    has_note(&json, &["$identify (1), session_start (1)"]);
    has_note(&json, &["no user_id", "device_id"]);
}

#[test]
fn mixpanel_legacy_project_times_are_read_in_its_zone() {
    let json = reads_like_the_csv(
        "mixpanel_export.json",
        &["--timezone", "America/Los_Angeles"],
    );
    has_note(&json, &["Mixpanel's export format"]);
    has_note(&json, &["$identify (1), $merge (1)"]);
    // Read as UTC, the legacy times put the meeting of 2024-02-01 01:30 UTC (17:30 on Jan 31
    // in Los Angeles) in January.
    let as_utc = evaluate_export("mixpanel_export.json", &[]);
    assert_eq!(
        crate::common::series(&as_utc, "meetings"),
        vec![5.0, 2.0, 2.0]
    );
}

#[test]
fn segment_gzipped_json_lines() {
    let json = reads_like_the_csv("segment_export.json.gz", &[]);
    has_note(&json, &["messageId"]);
    has_note(&json, &["group (1), identify (1)"]);
    has_note(&json, &["no userId", "anonymousId"]);
}

#[test]
fn posthog_json_lines_and_parquet() {
    for name in ["posthog_export.jsonl", "posthog_export.parquet"] {
        let json = reads_like_the_csv(name, &[]);
        has_note(&json, &["PostHog's export format"]);
        has_note(
            &json,
            &["$feature_flag_called (1), $groupidentify (1), $set (1)"],
        );
    }
}

#[test]
fn the_format_can_be_named_and_is_checked() {
    let json = reads_like_the_csv("segment_export.json.gz", &["--events-format", "segment"]);
    has_note(&json, &["events format 'segment'"]);
    // A table named as a vendor export.
    let stderr = input_error_of(
        &data("tiny_events.csv"),
        &data("tiny_revenue_customers.csv"),
        None,
        &["--events-format", "amplitude"],
    );
    assert!(stderr.contains("tiny_events.csv: is CSV"), "{stderr}");
    assert!(
        stderr.contains("the amplitude format reads JSON lines"),
        "{stderr}"
    );
}

#[test]
fn the_group_type_not_found_says_which_exist() {
    let json = evaluate_json(
        &fixture("amplitude_export.zip"),
        &data("tiny_revenue_aggregate.csv"),
        &data("tiny_nsm.toml"),
        &["--map", "value=duration"],
    );
    has_note(
        &json,
        &[
            "no event has the group type 'account_id'",
            "company, team",
            "--map account_id=<type>",
        ],
    );
    // Each user is its own account: u1 and u2 of a1 no longer make a team.
    assert_eq!(
        crate::common::series(&json, "teams_2plus"),
        vec![0.0, 0.0, 0.0]
    );
}

#[test]
fn segment_page_and_screen_calls_are_events() {
    let dir = tempfile::tempdir().unwrap();
    let events = dir.path().join("segment.jsonl");
    std::fs::write(
        &events,
        concat!(
            r#"{"type":"page","name":"Pricing","userId":"u1","messageId":"m1","timestamp":"2024-01-01T00:00:00Z","context":{"groupId":"a1"}}"#,
            "\n",
            r#"{"type":"screen","name":"Home","userId":"u1","messageId":"m2","timestamp":"2024-02-02T10:00:00Z","context":{"groupId":"a1"}}"#,
            "\n",
            r#"{"type":"page","userId":"u2","messageId":"m3","timestamp":"2024-03-31T23:00:00Z","context":{"groupId":"a1"}}"#,
            "\n",
        ),
    )
    .unwrap();
    let config = dir.path().join("nsm.toml");
    std::fs::write(
        &config,
        "[[candidate]]\nname = \"pages\"\nkind = \"event_count\"\nevent = \"page\"\n\n\
         [[candidate]]\nname = \"screens\"\nkind = \"event_count\"\nevent = \"screen\"\n",
    )
    .unwrap();
    let json = evaluate_json(
        &events,
        &data("tiny_revenue_customers.csv"),
        &config,
        &["--map", "account_id=company"],
    );
    assert_eq!(crate::common::series(&json, "pages"), vec![1.0, 0.0, 1.0]);
    assert_eq!(crate::common::series(&json, "screens"), vec![0.0, 1.0, 0.0]);
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::File::create(&path)
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    path
}

const POSTHOG_LINE: &str = r#"{"uuid":"e1","event":"meeting","distinct_id":"u1","timestamp":"2024-01-02T10:00:00Z","properties":{"$groups":{"company":"a1"}}}"#;

#[test]
fn json_that_is_no_known_export_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let revenue = data("tiny_revenue_customers.csv");
    let unknown = write(dir.path(), "unknown.jsonl", "{\"when\":1,\"who\":\"u1\"}\n");
    let stderr = input_error_of(&unknown, &revenue, None, &[]);
    assert!(stderr.contains("unknown.jsonl, line 1"), "{stderr}");
    assert!(stderr.contains("keys: when, who"), "{stderr}");
    assert!(stderr.contains("--events-format"), "{stderr}");
    let array = write(dir.path(), "array.json", &format!("[{POSTHOG_LINE}]\n"));
    let stderr = input_error_of(&array, &revenue, None, &[]);
    assert!(stderr.contains("array.json, line 1"), "{stderr}");
    assert!(
        stderr.contains("is a JSON array; nsm reads JSON lines"),
        "{stderr}"
    );
    let empty = write(dir.path(), "empty.jsonl", "\n\n");
    let stderr = input_error_of(&empty, &revenue, None, &[]);
    assert!(stderr.contains("empty.jsonl: has no records"), "{stderr}");
}

#[test]
fn a_vendor_export_and_a_table_are_not_mixed() {
    let dir = tempfile::tempdir().unwrap();
    let json = write(dir.path(), "posthog.jsonl", &format!("{POSTHOG_LINE}\n"));
    let mut command = nsm();
    let output = command
        .args(["evaluate", "--events"])
        .arg(&json)
        .arg(data("tiny_events.csv"))
        .arg("--revenue")
        .arg(data("tiny_revenue_customers.csv"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(output.stdout.is_empty());
    assert!(
        stderr.contains("tiny_events.csv: is a table") && stderr.contains("is a PostHog export"),
        "{stderr}"
    );
}

#[test]
fn a_bad_record_is_named_by_file_line_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let revenue = data("tiny_revenue_customers.csv");
    // The PostHog fixture with a record whose time is no time at line 2, and broken JSON at
    // line 3.
    let fixture_text = std::fs::read_to_string(fixture("posthog_export.jsonl")).unwrap();
    let mut lines: Vec<String> = fixture_text.lines().map(str::to_string).collect();
    let bad_time = POSTHOG_LINE
        .replace("e1", "bad-1")
        .replace("2024-01-02T10:00:00Z", "yesterday");
    lines.insert(1, bad_time);
    lines.insert(2, "{not json".to_string());
    let events = write(dir.path(), "posthog.jsonl", &(lines.join("\n") + "\n"));
    let map = ["--map", "account_id=company,value=duration"];
    let stderr = input_error_of(&events, &revenue, None, &map);
    assert!(
        stderr.contains("posthog.jsonl, line 2, column 'timestamp', value 'yesterday'"),
        "{stderr}"
    );
    // With --skip-bad-rows both bad lines are counted and the others read.
    let output = nsm()
        .args([
            "evaluate",
            "--format",
            "json",
            "--skip-bad-rows",
            "--events",
        ])
        .arg(&events)
        .arg("--revenue")
        .arg(&revenue)
        .args(map)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    let json: serde_json::Value = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|_| panic!("JSON on stdout; stderr: {stderr}"));
    assert_eq!(json["data"]["events_rows"], 11, "{stderr}");
    assert_eq!(json["data"]["skipped_rows"], 2, "{json:#}");
    assert!(stderr.contains("line 3"), "{stderr}");
    assert!(stderr.contains("is not valid JSON"), "{stderr}");
}

#[test]
fn a_value_that_is_not_a_number_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let line = POSTHOG_LINE.replace(r#""$groups""#, r#""duration":"long","$groups""#);
    let events = write(dir.path(), "posthog.jsonl", &format!("{line}\n"));
    let stderr = input_error_of(
        &events,
        &data("tiny_revenue_customers.csv"),
        None,
        &["--map", "value=duration"],
    );
    assert!(
        stderr.contains("line 1, column 'properties.duration', value 'long'"),
        "{stderr}"
    );
}

#[test]
fn revenue_is_not_read_from_json() {
    let stderr = input_error_of(
        &data("tiny_events.csv"),
        &fixture("posthog_export.jsonl"),
        None,
        &[],
    );
    assert!(stderr.contains("revenue file"), "{stderr}");
    assert!(stderr.contains("revenue is read from CSV"), "{stderr}");
}

#[test]
fn init_on_a_vendor_export_writes_its_format() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("nsm.toml");
    let output = nsm()
        .args(["init", "--events"])
        .arg(fixture("posthog_export.jsonl"))
        .args(["--map", "account_id=company,value=duration", "--output"])
        .arg(&config)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(
        stderr.contains("PostHog's export format (detected from the first record"),
        "{stderr}"
    );
    let text = std::fs::read_to_string(&config).unwrap();
    assert!(text.contains("format = \"posthog\""), "{text}");
    assert!(
        text.contains("# The account: properties.$groups.company."),
        "{text}"
    );
    // A vendor's fields are where it keeps them: no column names to write.
    assert!(!text.contains("timestamp ="), "{text}");
    assert!(text.contains("account_id = \"company\""), "{text}");
    assert!(text.contains("value = \"duration\""), "{text}");
    // The written config reads the export without flags.
    let json = evaluate_json(
        &fixture("posthog_export.jsonl"),
        &data("tiny_revenue_customers.csv"),
        &config,
        &[],
    );
    assert_eq!(json["data"]["events_rows"], 11);
    has_note(&json, &["events format 'posthog'"]);
}

#[test]
fn an_unknown_format_in_the_config_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let config = write(dir.path(), "nsm.toml", "[events]\nformat = \"heap\"\n");
    let stderr = input_error_of(
        &fixture("posthog_export.jsonl"),
        &data("tiny_revenue_customers.csv"),
        Some(&config),
        &[],
    );
    assert!(
        stderr.contains(
            "[events] format 'heap' is not one of: amplitude, mixpanel, segment, posthog"
        ),
        "{stderr}"
    );
}
