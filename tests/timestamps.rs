//! Timestamps as warehouses and exporters write them: the same instants in other shapes give
//! the same series, at the edges of the data, by month and by week.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};

use crate::common::{data, evaluate_json, input_error_of, periods, series};
use crate::kinds::{check_all, evaluate_tiny};

/// tests/data/tiny_events.csv with two instants moved next to a period edge, so that a
/// misread offset would move them across it: u1's view at 2024-01-31 22:30 UTC (January; a
/// misread `+02` puts it in February, where u1 is otherwise not active) and the last meeting
/// at 2024-03-31 22:30 UTC (Sunday, the last week of March; misread, Monday 1 April). Neither
/// changes the hand-computed series of `kinds.rs`.
fn edge_rows() -> Vec<(DateTime<Utc>, String)> {
    let text = std::fs::read_to_string(data("tiny_events.csv")).unwrap();
    let mut rows: Vec<(DateTime<Utc>, String)> = text
        .lines()
        .skip(1)
        .map(|line| {
            let (ts, rest) = line.split_once(',').unwrap();
            let ts = ts.replace("2024-03-31T22:00:00Z", "2024-03-31T22:30:00Z");
            let instant = DateTime::parse_from_rfc3339(&ts).unwrap().to_utc();
            (instant, rest.to_string())
        })
        .collect();
    rows.push((
        DateTime::parse_from_rfc3339("2024-01-31T22:30:00Z")
            .unwrap()
            .to_utc(),
        "u1,a1,view,".into(),
    ));
    rows
}

pub(crate) fn write_events(
    dir: &Path,
    name: &str,
    render: impl Fn(usize, DateTime<Utc>) -> String,
) -> PathBuf {
    let mut out = String::from("timestamp,user_id,account_id,event,value\n");
    for (i, (instant, rest)) in edge_rows().into_iter().enumerate() {
        out.push_str(&format!("{},{rest}\n", render(i, instant)));
    }
    let path = dir.join(name);
    std::fs::write(&path, out).unwrap();
    path
}

/// PostgreSQL's text for a `timestamptz` in a session at +02: `2024-02-01 00:30:00+02`, every
/// other row with microseconds.
pub(crate) fn postgres_plus_two(i: usize, instant: DateTime<Utc>) -> String {
    let local = instant.with_timezone(&chrono::FixedOffset::east_opt(2 * 3600).unwrap());
    if i.is_multiple_of(2) {
        local.format("%Y-%m-%d %H:%M:%S+02").to_string()
    } else {
        local.format("%Y-%m-%d %H:%M:%S.000000+02").to_string()
    }
}

fn utc(_: usize, instant: DateTime<Utc>) -> String {
    instant.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

const CANDIDATES: &[&str] = &[
    "meetings",
    "active_users",
    "accounts_2plus_weekly",
    "teams_2plus",
    "new_users",
];

#[test]
fn a_whole_hour_offset_keeps_events_in_their_utc_month_and_week() {
    let dir = tempfile::tempdir().unwrap();
    let shifted = write_events(dir.path(), "plus_two.csv", postgres_plus_two);
    let text = std::fs::read_to_string(&shifted).unwrap();
    assert!(text.contains("2024-02-01 00:30:00"), "{text}");
    assert!(text.contains("2024-04-01 00:30:00"), "{text}");
    let revenue = data("tiny_revenue_customers.csv");
    // By month: the hand-computed series.
    check_all(&evaluate_tiny(&shifted, &revenue));
    // By week: the same series as the same instants written in UTC.
    let plain = write_events(dir.path(), "utc.csv", utc);
    // A weekly payment from two accounts, so that revenue covers every week of the events.
    let yearly = dir.path().join("weekly_revenue.csv");
    let mut rows = String::from("date,customer_id,amount\n");
    for week in 0..13 {
        let monday =
            chrono::NaiveDate::from_ymd_opt(2024, 1, 1).unwrap() + chrono::Days::new(7 * week);
        rows.push_str(&format!("{monday},a1,25\n{monday},a2,10\n"));
    }
    std::fs::write(&yearly, rows).unwrap();
    let weekly = |events: &Path| {
        evaluate_json(
            events,
            &yearly,
            &data("tiny_nsm.toml"),
            &["--period", "week"],
        )
    };
    let (a, b) = (weekly(&shifted), weekly(&plain));
    for name in CANDIDATES {
        assert_eq!(periods(&a, name), periods(&b, name), "{name}");
        assert_eq!(series(&a, name), series(&b, name), "{name}");
    }
    // The last week is that of Monday 25 March (ISO week 13), with both of its meetings.
    assert_eq!(periods(&a, "meetings").last().unwrap(), "2024-W13");
    assert_eq!(series(&a, "meetings").last(), Some(&2.0));
}

/// Berlin wall time without a zone, as an Excel sheet or a legacy Mixpanel project writes it.
fn berlin_wall_time(_: usize, instant: DateTime<Utc>) -> String {
    instant
        .with_timezone(&chrono_tz::Europe::Berlin)
        .format("%Y-%m-%d %H:%M:%S")
        .to_string()
}

#[test]
fn naive_times_are_read_in_the_zone_given() {
    let dir = tempfile::tempdir().unwrap();
    let events = write_events(dir.path(), "berlin.csv", berlin_wall_time);
    let text = std::fs::read_to_string(&events).unwrap();
    // 22:30 UTC on 31 March is 00:30 summer time in Berlin (the clocks changed that morning).
    assert!(text.contains("2024-04-01 00:30:00"), "{text}");
    assert!(text.contains("2024-01-31 23:30:00"), "{text}");
    let revenue = data("tiny_revenue_customers.csv");
    let config = data("tiny_nsm.toml");
    check_all(&evaluate_json(
        &events,
        &revenue,
        &config,
        &["--timezone", "Europe/Berlin"],
    ));
    // The same from `[events] timezone`.
    let zoned = dir.path().join("zoned.toml");
    let toml = std::fs::read_to_string(&config).unwrap();
    std::fs::write(
        &zoned,
        format!("[events]\ntimezone = \"Europe/Berlin\"\n\n{toml}"),
    )
    .unwrap();
    check_all(&evaluate_json(&events, &revenue, &zoned, &[]));
    // Read as UTC, the last meeting falls in April: a different March.
    let as_utc = evaluate_json(&events, &revenue, &config, &[]);
    let march = periods(&as_utc, "meetings")
        .iter()
        .position(|p| p == "2024-03")
        .expect("March");
    assert_eq!(series(&as_utc, "meetings")[march], 1.0);
}

#[test]
fn an_unknown_zone_is_an_input_error() {
    let (events, revenue) = (data("tiny_events.csv"), data("tiny_revenue_customers.csv"));
    let stderr = input_error_of(&events, &revenue, None, &["--timezone", "Europe/Atlantis"]);
    assert!(
        stderr.contains("'Europe/Atlantis' is not an IANA time zone"),
        "{stderr}"
    );
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("nsm.toml");
    std::fs::write(&config, "[events]\ntimezone = \"CET+1\"\n").unwrap();
    let stderr = input_error_of(&events, &revenue, Some(&config), &[]);
    assert!(stderr.contains("[events] timezone"), "{stderr}");
    assert!(stderr.contains("CET+1"), "{stderr}");
}

#[test]
fn a_zone_name_in_the_text_is_refused_with_the_shapes_accepted() {
    let dir = tempfile::tempdir().unwrap();
    let events = dir.path().join("events.csv");
    std::fs::write(
        &events,
        "timestamp,user_id,account_id,event,value\n2024-01-01T09:00:00Z,u1,a1,meeting,30\n2024-01-03 10:00:00 CET,u1,a1,meeting,30\n",
    )
    .unwrap();
    let stderr = input_error_of(&events, &data("tiny_revenue_customers.csv"), None, &[]);
    assert!(stderr.contains("line 3"), "{stderr}");
    assert!(stderr.contains("2024-01-03 10:00:00 CET"), "{stderr}");
    assert!(stderr.contains("+02:00"), "{stderr}");
}
