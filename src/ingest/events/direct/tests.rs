//! The direct reader against the general scan: on every file, odd ones included, both must
//! store the same events with the same codes, count the same bad, duplicate and fallback rows,
//! and fail the same way. The general scan is the reference.

use std::io::Write;

use proptest::prelude::*;

use super::super::{load_with, EventOptions, EventSource, Readers};
use crate::ingest::activity::Activity;
use crate::ingest::columns::EventColumns;
use crate::ingest::source::resolve;
use crate::progress::Progress;

/// Everything a load keeps, in words, for comparing two loads.
fn summary(activity: &Activity) -> String {
    let e = &activity.events;
    format!(
        "rows {} users {} accounts {:?} events {:?} members {:?}\nday {:?}\nmember {:?}\nevent {:?}\nvalue {:?}\ndays {}..{} account column {} skipped {} {:?} duplicates {} fallback {}",
        activity.events_rows,
        activity.users,
        activity.accounts.iter().collect::<Vec<_>>(),
        activity.event_names.iter().collect::<Vec<_>>(),
        activity.members,
        e.day,
        e.member,
        e.event,
        e.value,
        activity.first_day,
        activity.last_day,
        activity.has_account,
        activity.skipped_rows,
        activity.skipped_examples,
        activity.duplicate_rows,
        activity.user_fallback_rows,
    )
}

/// What loads of `text` give with the general scan and with the fastest readers (the summary,
/// or the error), from the same file.
fn load_text(text: &[u8], gzip: bool, options: &EventOptions) -> (String, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir
        .path()
        .join(if gzip { "events.csv.gz" } else { "events.csv" });
    let mut file = std::fs::File::create(&path).unwrap();
    if gzip {
        let mut encoder = flate2::write::GzEncoder::new(file, flate2::Compression::fast());
        encoder.write_all(text).unwrap();
        encoder.finish().unwrap();
    } else {
        file.write_all(text).unwrap();
    }
    let load = |readers| {
        let loaded = resolve(std::slice::from_ref(&path), "events").and_then(|files| {
            load_with(
                &EventSource::Files(files),
                options,
                &Progress::new(true),
                readers,
            )
        });
        match loaded {
            Ok(activity) => summary(&activity),
            Err(e) => format!("error: {e:#}"),
        }
    };
    (load(Readers::General), load(Readers::Fastest))
}

fn options(skip_bad_rows: bool) -> EventOptions {
    EventOptions {
        columns: EventColumns::default(),
        delimiter: b',',
        as_of: None,
        skip_bad_rows,
        timezone: None,
        format: None,
    }
}

/// Both readers agree on `text`; returns whether the direct reader read it itself.
fn agree(text: &str, options: &EventOptions) -> bool {
    let (general, fastest) = load_text(text.as_bytes(), false, options);
    assert_eq!(fastest, general, "on:\n{text}");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.csv");
    std::fs::write(&path, text).unwrap();
    let files = resolve(&[path], "events").unwrap();
    // A file its planning refuses is refused the same way by both (compared above).
    let Ok(plans) = super::super::plan::file_plans(&EventSource::Files(files), options) else {
        return false;
    };
    matches!(
        super::load(&plans, options, true, &crate::progress::Counter::hidden()),
        Ok(Ok(_))
    )
}

const HEADER: &str = "timestamp,user_id,account_id,event,value";

#[test]
fn a_plain_export_is_read_directly_and_the_same() {
    let text = format!(
        "{HEADER}\n2024-01-01T10:00:00Z,u1,a1,login,1.5\n2024-01-01T11:00:00Z,u2,a1,login,\n2024-01-02T00:00:00Z,u1,a1,page,2\n2024-01-02T00:00:00Z,u1,a1,page,2\n2024-02-01T00:00:00Z,u3,,login,0.25\n"
    );
    assert!(agree(&text, &options(false)));
    // The same with CRLF line ends, no final line end, gzip.
    let crlf = text.replace('\n', "\r\n");
    assert!(agree(&crlf, &options(false)));
    assert!(agree(text.trim_end(), &options(false)));
    let (general, fastest) = load_text(text.as_bytes(), true, &options(false));
    assert_eq!(fastest, general);
}

#[test]
fn quoted_fields_bad_rows_and_other_shapes_agree() {
    let cases = [
        // Quoted fields, a delimiter and a line feed inside quotes, an unmapped escaped quote.
        "timestamp,user_id,account_id,event,value,props\n\"2024-01-01T10:00:00Z\",\"u,1\",a1,login,1,\"{\"\"a\"\": 1}\"\n2024-01-01 10:00:00,u2,a1,\"log\nin\",,x\n",
        // Quoted empty text is text, not null: an empty account, a bad value.
        "timestamp,user_id,account_id,event,value\n2024-01-01T00:00:00Z,u1,\"\",e,\n2024-01-02T00:00:00Z,u1,,e,\n2024-01-03T00:00:00Z,u2,\"\",e,\"\"\n",
        // Bad rows of every kind, and offsets, epochs among ISO times, trimmed times.
        "timestamp,user_id,account_id,event,value\n2024-01-01T23:30:00-02:00,u1,a,e,1\n,u1,a,e,1\n2024-13-01,u1,a,e,1\n1704067200,u1,a,e,1\n 2024-01-05 ,u1,a,e,1\n2024-01-01,,a,e,1\n2024-01-01,u1,a,,1\n2024-01-01,u1,a,e,abc\n2024-01-01,u1,a,e,inf\n2024-01-01,u1,a,e,1e3\n2024-01-01,u1,a,e,+2\n2024-01-01,u1,a,e,.5\n2024-01-01,u1,a,e, 7\n",
        // Epoch milliseconds, and an ISO time among them.
        "timestamp,user_id,event\n1704067200000,u1,e\n1704153600000.5,u2,e\n2024-01-01,u3,e\n",
        // Columns in another order, a repeated and an unnamed column, a BOM.
        "\u{feff}event,value,x,timestamp,x,user_id,\nlogin,3,p,2024-03-01T00:00:00.123Z,q,u1,\nlogin,,p,2024-03-02T00:00:00.123Z,q,u2,z\n",
        // Ragged lines, a blank line, a stray quote, a lone carriage return.
        "timestamp,user_id,account_id,event,value\n2024-01-01,u1,a,e,1\n2024-01-01,u1,a,e\n",
        "timestamp,user_id,account_id,event,value\n2024-01-01,u1,a,e,1,9\n",
        "timestamp,user_id,account_id,event,value\n2024-01-01,u1,a,e,1\n\n2024-01-02,u1,a,e,1\n",
        "timestamp,user_id,account_id,event,value\n2024-01-01,u\"1,a,e,1\n",
        "timestamp,user_id,account_id,event,value\n2024-01-01,u1\r,a,e,1\n",
        "timestamp,user_id,account_id,event,value\n2024-01-01,\"u\"\"1\",a,e,1\n",
        // Not UTF-8 in a mapped field.
        "timestamp,user_id,account_id,event,value\n2024-01-01,u\u{fffd},a,e,1\n",
        // No rows, a header only.
        "timestamp,user_id,account_id,event,value\n",
    ];
    for text in cases {
        for skip in [false, true] {
            agree(text, &options(skip));
        }
    }
    // Invalid UTF-8 bytes.
    let mut bytes = b"timestamp,user_id,event\n2024-01-01,u".to_vec();
    bytes.extend_from_slice(&[0xff, 0xfe]);
    bytes.extend_from_slice(b",e\n2024-01-02,u2,e\n");
    for skip in [false, true] {
        let (general, fastest) = load_text(&bytes, false, &options(skip));
        assert_eq!(fastest, general);
    }
}

#[test]
fn fallbacks_as_of_zones_and_delimiters_agree() {
    let text = "timestamp,user_id,anonymous_id,account_id,event,value\n2024-01-01 23:30:00,u1,x1,a,e,1\n2024-01-02 00:30:00,,x1,a,e,1\n2024-01-03 00:30:00,,,a,e,1\n2024-01-04 00:30:00,\"\",x2,,e,1\n2024-03-31 02:30:00,u2,,a,e,2\n";
    let mut with_fallback = options(true);
    with_fallback.columns.user_id_fallbacks = vec!["anonymous_id".into()];
    assert!(agree(text, &with_fallback));
    let mut zoned = with_fallback.clone();
    zoned.timezone = Some(chrono_tz::Europe::Berlin);
    zoned.as_of = Some(crate::period::day_of_date(
        chrono::NaiveDate::from_ymd_opt(2024, 1, 3).unwrap(),
    ));
    assert!(agree(text, &zoned));
    let mut semicolons = options(false);
    semicolons.delimiter = b';';
    assert!(agree(
        "timestamp;user_id;event;value\n2024-01-01T00:00:00Z;u1;e;1,5\n2024-01-01T00:00:00Z;u1;e;2\n",
        &semicolons
    ));
}

#[test]
fn a_file_over_many_blocks_is_read_in_order() {
    // More than two blocks, with a quoted field (the field splitter) in one block only.
    let mut text = String::from(HEADER);
    text.push('\n');
    let mut i = 0u64;
    while text.len() < 3 * super::BLOCK_BYTES {
        let user = i.wrapping_mul(2654435761) % 5000;
        let event = ["login", "page_viewed", "meeting_booked"][(i % 3) as usize];
        let value = if i.is_multiple_of(2) {
            format!("{}.5", i % 100)
        } else {
            String::new()
        };
        let day = 1 + (i / 40_000) % 28;
        if i == 100_000 {
            text.push_str(&format!(
                "2024-01-{day:02}T00:00:00Z,\"u{user}\",a{},{event},{value}\n",
                user / 4
            ));
        } else {
            text.push_str(&format!(
                "2024-01-{day:02}T00:00:00Z,u{user},a{},{event},{value}\n",
                user / 4
            ));
        }
        i += 1;
    }
    assert!(agree(&text, &options(false)));
}

/// A cell of a generated file: plain, empty, or odd.
fn cell() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => prop::sample::select(vec!["u1", "u2", "user-with-a-long-name-01", "a1", "e", "0", "007"]).prop_map(str::to_string),
        1 => Just(String::new()),
        1 => Just("\"\"".to_string()),
        1 => prop::sample::select(vec!["\"q,1\"", "\"x\ny\"", " sp ", "ü", "\"a\"\"b\""]).prop_map(str::to_string),
    ]
}

fn timestamp() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => (0u32..60, 0u32..24).prop_map(|(d, h)| format!("2024-{:02}-{:02}T{h:02}:15:00Z", 1 + d / 28, 1 + d % 28)),
        2 => (0u32..60).prop_map(|d| format!("2024-02-{:02} 23:59:59+05:30", 1 + d % 28)),
        1 => prop::sample::select(vec!["", "\"\"", "2024-02-30", "1704067200", " 2024-01-01", "2024-01-01T24:00:00Z", "\"2024-01-01\""]).prop_map(str::to_string),
    ]
}

fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => (0u32..100_000).prop_map(|v| format!("{}.{:02}", v / 100, v % 100)),
        2 => Just(String::new()),
        1 => prop::sample::select(vec!["abc", "1e3", "-0", "NaN", "inf", "+1", ".5", "5.", "1_0", "\"\"", "\"2\"", "0x10"]).prop_map(str::to_string),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn generated_files_load_the_same_both_ways(
        rows in prop::collection::vec((timestamp(), cell(), cell(), cell(), value()), 0..40),
        crlf in any::<bool>(),
        final_newline in any::<bool>(),
        skip in any::<bool>(),
    ) {
        let end = if crlf { "\r\n" } else { "\n" };
        let mut text = format!("{HEADER}{end}");
        for (i, (ts, user, account, event, value)) in rows.iter().enumerate() {
            text.push_str(&format!("{ts},{user},{account},{event},{value}"));
            if i + 1 < rows.len() || final_newline {
                text.push_str(end);
            }
        }
        agree(&text, &options(skip));
    }
}

#[test]
fn integer_ids_of_a_parquet_file_are_the_ids_their_text_names_in_a_csv_file() {
    use polars::prelude::*;
    let dir = tempfile::tempdir().unwrap();
    let parquet = dir.path().join("a.parquet");
    let mut frame = df!(
        "timestamp" => ["2024-01-01T00:00:00Z", "2024-01-02T00:00:00Z", "2024-01-03T00:00:00Z"],
        "user_id" => [7i64, -3, 12],
        "account_id" => [70i64, 30, 70],
        "event" => ["e", "e", "f"],
        "value" => [Some(1.5), None, Some(2.0)],
    )
    .unwrap();
    ParquetWriter::new(std::fs::File::create(&parquet).unwrap())
        .finish(&mut frame)
        .unwrap();
    let csv = dir.path().join("b.csv");
    std::fs::write(
        &csv,
        format!("{HEADER}\n2024-01-04T00:00:00Z,7,70,e,1\n2024-01-05T00:00:00Z,-3,30,e,\n2024-01-06T00:00:00Z,007,70,e,\n"),
    )
    .unwrap();
    let load = |paths: &[std::path::PathBuf]| {
        let files = resolve(paths, "events").unwrap();
        load_with(
            &EventSource::Files(files),
            &options(false),
            &Progress::new(true),
            Readers::Fastest,
        )
        .unwrap()
    };
    let both = load(&[parquet.clone(), csv]);
    // 7, -3 and 12 from the Parquet file; 7 and -3 again from the CSV, and 007, another id.
    assert_eq!(both.users, 4);
    let mut accounts: Vec<&str> = both.accounts.iter().collect();
    accounts.sort_unstable();
    assert_eq!(accounts, ["30", "70"]);
    assert_eq!(both.events.len(), 6);
    // The Parquet file alone reads its integers as the same texts.
    let alone = load(&[parquet]);
    let mut accounts: Vec<&str> = alone.accounts.iter().collect();
    accounts.sort_unstable();
    assert_eq!(accounts, ["30", "70"]);
    assert_eq!(alone.users, 3);
}

#[test]
fn a_parquet_file_of_integer_ids_with_bad_and_duplicate_rows_is_read_as_its_csv_text() {
    use polars::prelude::*;
    let dir = tempfile::tempdir().unwrap();
    // A null user, an unreadable timestamp, an account left empty (its user's own), a missing
    // value, a repeated row, and a row that fails its value.
    let timestamps = [
        "2024-01-01T00:00:00Z",
        "2024-01-02T00:00:00Z",
        "not a time",
        "2024-01-03T00:00:00Z",
        "2024-01-03T00:00:00Z",
        "2024-02-04T00:00:00Z",
        "2024-02-05T00:00:00Z",
        "2024-03-06T00:00:00Z",
    ];
    let users = [
        Some(7i64),
        None,
        Some(8),
        Some(9),
        Some(9),
        Some(-3),
        Some(7),
        Some(12),
    ];
    let accounts = [
        Some(70i64),
        Some(70),
        Some(80),
        None,
        None,
        Some(30),
        Some(70),
        Some(70),
    ];
    let events = ["e", "e", "e", "f", "f", "e", "g", "f"];
    let values = ["1.5", "2", "3", "", "", "x", "0.25", "4"];
    let mut frame = df!(
        "timestamp" => timestamps,
        "user_id" => users,
        "account_id" => accounts,
        "event" => events,
        "value" => values.map(|v| (!v.is_empty()).then_some(v)),
    )
    .unwrap();
    let parquet = dir.path().join("a.parquet");
    ParquetWriter::new(std::fs::File::create(&parquet).unwrap())
        .finish(&mut frame)
        .unwrap();
    let mut text = format!("{HEADER}\n");
    for i in 0..timestamps.len() {
        let id = |v: Option<i64>| v.map(|v| v.to_string()).unwrap_or_default();
        text.push_str(&format!(
            "{},{},{},{},{}\n",
            timestamps[i],
            id(users[i]),
            id(accounts[i]),
            events[i],
            values[i]
        ));
    }
    let csv = dir.path().join("a.csv");
    std::fs::write(&csv, text).unwrap();
    let load = |path: &std::path::PathBuf| {
        let files = resolve(std::slice::from_ref(path), "events").unwrap();
        let mut activity = load_with(
            &EventSource::Files(files),
            &options(true),
            &Progress::new(true),
            Readers::Fastest,
        )
        .unwrap();
        // Where a skipped row was seen is said in each file's own terms (line or row).
        activity.skipped_examples.clear();
        (
            summary(&activity),
            activity.skipped_rows,
            activity.duplicate_rows,
        )
    };
    let (from_parquet, from_csv) = (load(&parquet), load(&csv));
    assert_eq!(from_parquet, from_csv);
    // Three rows skipped (no user, no time, a bad value), one duplicate.
    assert_eq!((from_parquet.1, from_parquet.2), (3, 1));
}
