//! First contact with an export whose columns have other names: `nsm init` proposes the
//! mapping from the header and the first rows, `--map` maps them for one run.

use std::path::{Path, PathBuf};

use predicates::prelude::*;

use crate::common::{data, evaluate_json, input_error_of, nsm};
use crate::kinds::check_all;

/// tests/data/tiny_events.csv with its header replaced.
fn renamed(dir: &Path, header: &str) -> PathBuf {
    let text = std::fs::read_to_string(data("tiny_events.csv")).unwrap();
    let body = text.split_once('\n').unwrap().1;
    let path = dir.join("export.csv");
    std::fs::write(&path, format!("{header}\n{body}")).unwrap();
    path
}

/// `nsm init` on these events; returns the written config's text and stderr.
fn init(events: &Path, config: &Path, extra: &[&str]) -> (String, String) {
    let output = nsm()
        .args(["init", "--events"])
        .arg(events)
        .arg("--output")
        .arg(config)
        .args(extra)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(output.status.success(), "{stderr}");
    (std::fs::read_to_string(config).unwrap(), stderr)
}

#[test]
fn init_proposes_the_mapping_and_says_how() {
    let dir = tempfile::tempdir().unwrap();
    let events = renamed(dir.path(), "occurred_at,member,workspace,action,amount");
    let config = dir.path().join("nsm.toml");
    let (text, stderr) = init(&events, &config, &[]);
    for line in [
        "timestamp = \"occurred_at\"",
        "user_id = \"member\"",
        "account_id = \"workspace\"",
        "event = \"action\"",
        "value = \"amount\"",
    ] {
        assert!(text.contains(line), "{line} in\n{text}");
    }
    assert!(
        text.contains("# 'occurred_at': its name says when the event happened (nsm init)"),
        "{text}"
    );
    assert!(stderr.contains("timestamp = 'occurred_at'"), "{stderr}");
    assert!(stderr.contains("account_id = 'workspace'"), "{stderr}");
    // The written config reads the export as the CSV with nsm's names is read.
    let json = evaluate_json(&events, &data("tiny_revenue_customers.csv"), &config, &[]);
    assert_eq!(
        crate::common::series(&json, "meeting_count"),
        [4.0, 3.0, 2.0]
    );
}

#[test]
fn init_reads_the_values_when_the_names_say_nothing() {
    // No name says what these are: the dates are the only column of dates, the event the text
    // column with the fewest distinct values, the user the id column with the most, the value
    // the only numeric column. The account is taken only by its name: here there is none.
    let dir = tempfile::tempdir().unwrap();
    let events = renamed(dir.path(), "col_a,col_b,col_c,col_d,col_e");
    let config = dir.path().join("nsm.toml");
    let (text, stderr) = init(&events, &config, &[]);
    assert!(text.contains("timestamp = \"col_a\""), "{text}");
    assert!(text.contains("event = \"col_d\""), "{text}");
    assert!(text.contains("user_id = \"col_b\""), "{text}");
    assert!(text.contains("value = \"col_e\""), "{text}");
    assert!(text.contains("account_id = \"account_id\""), "{text}");
    assert!(
        stderr.contains("the only column of dates and times"),
        "{stderr}"
    );
    assert!(stderr.contains("fewest distinct values"), "{stderr}");
    assert!(stderr.contains("if 'col_c' holds the account"), "{stderr}");
}

#[test]
fn init_names_the_candidates_when_two_columns_fit() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(data("tiny_events.csv")).unwrap();
    let mut out = String::from("started,finished,user_id,account_id,event,value\n");
    for line in text.lines().skip(1) {
        let (ts, rest) = line.split_once(',').unwrap();
        out.push_str(&format!("{ts},{ts},{rest}\n"));
    }
    let events = dir.path().join("two_times.csv");
    std::fs::write(&events, out).unwrap();
    let config = dir.path().join("nsm.toml");
    let output = nsm()
        .args(["init", "--events"])
        .arg(&events)
        .arg("--output")
        .arg(&config)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("candidates 'started', 'finished'")
            && stderr.contains("--map timestamp=<column>"),
        "{stderr}"
    );
    assert!(!config.exists());
    // --map settles it, and says so in the file.
    let (text, _) = init(&events, &config, &["--map", "timestamp=finished"]);
    assert!(text.contains("timestamp = \"finished\""), "{text}");
    assert!(text.contains("given with --map"), "{text}");
}

#[test]
fn map_reads_an_export_for_one_run() {
    let dir = tempfile::tempdir().unwrap();
    let events = renamed(dir.path(), "occurred_at,member,workspace,action,amount");
    let json = evaluate_json(
        &events,
        &data("tiny_revenue_customers.csv"),
        &data("tiny_nsm.toml"),
        &[
            "--map",
            "timestamp=occurred_at,user_id=member,account_id=workspace,event=action,value=amount",
        ],
    );
    check_all(&json);
}

#[test]
fn a_bad_map_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let events = renamed(dir.path(), "occurred_at,member,workspace,action,amount");
    nsm()
        .args(["evaluate", "--events"])
        .arg(&events)
        .arg("--revenue")
        .arg(data("tiny_revenue_customers.csv"))
        .args(["--map", "when=occurred_at"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("unknown column role 'when'"));
    // A mapped column the file does not have names the mapping.
    let stderr = input_error_of(
        &events,
        &data("tiny_revenue_customers.csv"),
        None,
        &["--map", "timestamp=created"],
    );
    assert!(stderr.contains("missing column 'created'"), "{stderr}");
}

#[test]
fn init_maps_a_typed_parquet_export() {
    use polars::prelude::*;
    let dir = tempfile::tempdir().unwrap();
    let csv = renamed(dir.path(), "occurred_at,member,workspace,action,amount");
    let mut frame = CsvReadOptions::default()
        .with_has_header(true)
        .try_into_reader_with_file_path(Some(csv))
        .unwrap()
        .finish()
        .unwrap();
    let path = dir.path().join("export.parquet");
    ParquetWriter::new(std::fs::File::create(&path).unwrap())
        .finish(&mut frame)
        .unwrap();
    let config = dir.path().join("nsm.toml");
    let (text, _) = init(&path, &config, &[]);
    assert!(text.contains("timestamp = \"occurred_at\""), "{text}");
    assert!(text.contains("value = \"amount\""), "{text}");
    let json = evaluate_json(&path, &data("tiny_revenue_customers.csv"), &config, &[]);
    assert_eq!(
        crate::common::series(&json, "meeting_count"),
        [4.0, 3.0, 2.0]
    );
}

#[test]
fn init_writes_the_zone_of_local_times() {
    let dir = tempfile::tempdir().unwrap();
    let events =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/parquet/ts_us_naive.parquet");
    let config = dir.path().join("nsm.toml");
    let (text, _) = init(&events, &config, &["--timezone", "Asia/Tokyo"]);
    assert!(text.contains("timezone = \"Asia/Tokyo\""), "{text}");
    // Later runs read the zone-less times as Tokyo wall time without the flag: 2024-02-01
    // 01:30 there is still January in UTC.
    let json = evaluate_json(&events, &data("tiny_revenue_customers.csv"), &config, &[]);
    assert_eq!(
        crate::common::series(&json, "meeting_count"),
        [5.0, 2.0, 2.0]
    );
}
