//! Every candidate kind's series against values worked out by hand from
//! tests/data/tiny_events.csv (see the comments), through every input format.

use std::io::Write;

use std::path::Path;

use crate::common::{data, evaluate_json, periods, series};

/// Hand-computed expectations for Jan, Feb, Mar 2024.
///
/// The calendar months (UTC) hold: Jan rows 1–5 (four meetings, a view), Feb rows 6–8 (three
/// meetings; row 7 is 2024-01-31 23:30 at -02:00 = 2024-02-01 01:30 UTC), Mar rows 9–11 (a view,
/// two meetings). Weeks belong to the month of their Thursday: Jan has the weeks of Jan 4, 11,
/// 18, 25; Feb those of Feb 1, 8, 15, 22, 29; Mar those of Mar 7, 14, 21, 28. The week of
/// Mon Jan 29 – Sun Feb 4 straddles two months and belongs to February whole: a1 books two
/// meetings in it (Jan 29 and Feb 2), so it qualifies for "2+ a week" only if the week is kept
/// whole.
const EXPECTED: &[(&str, [f64; 3])] = &[
    ("meetings", [4.0, 3.0, 2.0]),
    ("meeting_minutes", [135.0, 70.0, 40.0]),
    ("active_users", [3.0, 3.0, 2.0]),
    ("meeting_accounts", [1.0, 2.0, 1.0]),
    // a1 in the week of Jan 1 (3 meetings), a1 in the straddling week (2), a3 in the week of
    // Mar 25 (2): one qualifying account-week in each month.
    ("accounts_2plus_weekly", [0.25, 0.2, 0.25]),
    ("accounts_2plus_weekly_sum", [1.0, 1.0, 1.0]),
    // Only March's qualifying week is its last week.
    ("accounts_2plus_weekly_last", [0.0, 0.0, 1.0]),
    // u1 and u2 of a1 book meetings in the week of Jan 1 and in the straddling week.
    ("teams_2plus", [1.0, 1.0, 0.0]),
    ("meetings_per_active_user", [4.0 / 3.0, 1.0, 1.0]),
    ("new_users", [3.0, 1.0, 1.0]),
    ("registered_users", [3.0, 4.0, 5.0]),
    // u1 has 30 + 30 + 60 minutes in January; nobody reaches 60 later.
    ("users_60_minutes", [1.0, 0.0, 0.0]),
];

pub(crate) fn check_all(json: &serde_json::Value) {
    for (name, expected) in EXPECTED {
        let got = series(json, name);
        assert_eq!(got.len(), 3, "{name}: {got:?}");
        for (g, e) in got.iter().zip(expected) {
            assert!(
                (g - e).abs() < 1e-9,
                "{name}: got {got:?}, expected {expected:?}"
            );
        }
    }
    assert_eq!(periods(json, "meetings"), ["2024-01", "2024-02", "2024-03"]);
    // Per-customer revenue: a1's annual 1200 spreads to 100 a month; a2 pays 50 in Jan and
    // Feb; a3 pays 80 in March.
    assert_eq!(series(json, "revenue"), vec![150.0, 150.0, 180.0]);
}

pub(crate) fn evaluate_tiny(events: &Path, revenue: &Path) -> serde_json::Value {
    evaluate_json(events, revenue, &data("tiny_nsm.toml"), &[])
}

#[test]
fn every_kind_from_csv() {
    let events = data("tiny_events.csv");
    let revenue = data("tiny_revenue_customers.csv");
    let json = evaluate_tiny(&events, &revenue);
    check_all(&json);
    assert_eq!(json["data"]["events_rows"], 11);
    assert_eq!(json["data"]["revenue_rows"], 4);
    assert_eq!(json["data"]["churn_source"], "revenue");
}

#[test]
fn every_kind_from_gzip_csv() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.csv.gz");
    let mut encoder = flate2::write::GzEncoder::new(
        std::fs::File::create(&path).unwrap(),
        flate2::Compression::default(),
    );
    encoder
        .write_all(&std::fs::read(data("tiny_events.csv")).unwrap())
        .unwrap();
    encoder.finish().unwrap();
    let revenue = data("tiny_revenue_customers.csv");
    check_all(&evaluate_tiny(&path, &revenue));
}

#[test]
fn every_kind_from_parquet() {
    use polars::prelude::*;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.parquet");
    let mut frame = CsvReadOptions::default()
        .with_has_header(true)
        .with_infer_schema_length(Some(0))
        .try_into_reader_with_file_path(Some(data("tiny_events.csv")))
        .unwrap()
        .finish()
        .unwrap();
    ParquetWriter::new(std::fs::File::create(&path).unwrap())
        .finish(&mut frame)
        .unwrap();
    let revenue = data("tiny_revenue_customers.csv");
    check_all(&evaluate_tiny(&path, &revenue));
}

#[test]
fn every_kind_from_a_glob_of_daily_files() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(data("tiny_events.csv")).unwrap();
    let mut lines = text.lines();
    let header = lines.next().unwrap();
    let rows: Vec<&str> = lines.collect();
    // Split into three files; the second one has its columns in another order.
    for (i, chunk) in rows.chunks(4).enumerate() {
        let path = dir.path().join(format!("events-{i}.csv"));
        let mut out = String::new();
        if i == 1 {
            out.push_str("event,value,timestamp,user_id,account_id\n");
            for row in chunk {
                let f: Vec<&str> = row.split(',').collect();
                out.push_str(&format!("{},{},{},{},{}\n", f[3], f[4], f[0], f[1], f[2]));
            }
        } else {
            out.push_str(header);
            out.push('\n');
            for row in chunk {
                out.push_str(row);
                out.push('\n');
            }
        }
        std::fs::write(path, out).unwrap();
    }
    let pattern = dir.path().join("events-*.csv");
    let revenue = data("tiny_revenue_customers.csv");
    check_all(&evaluate_tiny(&pattern, &revenue));
}

#[test]
fn aggregate_revenue_gives_the_same_series_and_activity_churn() {
    let events = data("tiny_events.csv");
    let revenue = data("tiny_revenue_aggregate.csv");
    let json = evaluate_tiny(&events, &revenue);
    check_all(&json);
    assert_eq!(json["data"]["churn_source"], "activity");
    let notes = json["data"]["notes"].as_array().unwrap();
    assert!(
        notes.iter().any(|n| n
            .as_str()
            .unwrap()
            .contains("churn is measured from activity")),
        "{notes:?}"
    );
}

#[test]
fn remapped_columns_and_epoch_timestamps() {
    // The same events with other column names and epoch-second timestamps.
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(data("tiny_events.csv")).unwrap();
    let mut out = String::from("ts,uid,org,name,minutes\n");
    for row in text.lines().skip(1) {
        let f: Vec<&str> = row.split(',').collect();
        let day = nsm::ingest::timestamp::TimestampFamily::Iso
            .parse_day(f[0])
            .unwrap();
        // Noon of the UTC day keeps every event in its day.
        let epoch = i64::from(day) * 86_400 + 43_200;
        out.push_str(&format!("{epoch},{},{},{},{}\n", f[1], f[2], f[3], f[4]));
    }
    let events = dir.path().join("events.csv");
    std::fs::write(&events, out).unwrap();
    let config_text = std::fs::read_to_string(data("tiny_nsm.toml")).unwrap();
    let config = dir.path().join("nsm.toml");
    std::fs::write(
        &config,
        format!("[events]\ntimestamp = \"ts\"\nuser_id = \"uid\"\naccount_id = \"org\"\nevent = \"name\"\nvalue = \"minutes\"\n\n{config_text}"),
    )
    .unwrap();
    let json = evaluate_json(&events, &data("tiny_revenue_customers.csv"), &config, &[]);
    check_all(&json);
}
