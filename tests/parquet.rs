//! The Parquet matrix: tests/data/tiny_events.csv written in every physical type exporters
//! use (tests/fixtures/parquet/make_parquet.py, run by hand, wrote the files), each read to
//! the same series as the CSV.

use std::path::{Path, PathBuf};

use crate::common::{data, input_error_of};
use crate::kinds::{check_all, evaluate_tiny};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/parquet")
        .join(name)
}

fn reads_like_the_csv(name: &str) {
    let json = evaluate_tiny(&fixture(name), &data("tiny_revenue_customers.csv"));
    check_all(&json);
    assert_eq!(json["data"]["events_rows"], 11, "{name}");
}

#[test]
fn timestamps_of_every_unit_with_and_without_a_zone() {
    for unit in ["ms", "us", "ns"] {
        reads_like_the_csv(&format!("ts_{unit}_utc.parquet"));
        reads_like_the_csv(&format!("ts_{unit}_naive.parquet"));
    }
}

#[test]
fn zoned_timestamps_are_instants() {
    // The same instants shown in New York, at +02:00, in Berlin (pandas) and in DuckDB's
    // TIMESTAMPTZ: the zone changes how they print, not the UTC day.
    for name in [
        "ts_us_new_york.parquet",
        "ts_ms_offset.parquet",
        "pandas_tz_category.parquet",
        "duckdb_timestamptz.parquet",
    ] {
        reads_like_the_csv(name);
    }
}

#[test]
fn int96_dates_epochs_and_text() {
    for name in [
        "ts_int96.parquet",
        // Written by Spark itself (parquet-mr, outputTimestampType = INT96).
        "spark_int96.parquet",
        "ts_date32.parquet",
        "ts_epoch_seconds.parquet",
        "ts_epoch_millis.parquet",
        "ts_iso_text.parquet",
        "ts_iso_large_text.parquet",
    ] {
        reads_like_the_csv(name);
    }
}

#[test]
fn ids_as_large_text_dictionaries_and_integers() {
    reads_like_the_csv("ids_large_text.parquet");
    reads_like_the_csv("ids_dictionary.parquet");
    let json = evaluate_tiny(&fixture("int_ids.parquet"), &fixture("int_ids_revenue.csv"));
    check_all(&json);
}

#[test]
fn values_of_every_numeric_type() {
    for name in [
        "value_float32.parquet",
        "value_int32.parquet",
        "value_int64.parquet",
        "value_decimal.parquet",
    ] {
        reads_like_the_csv(name);
    }
}

#[test]
fn a_zoned_timestamp_is_not_shifted_by_the_timezone_flag() {
    // --timezone says where zone-less times were written; a zoned column is already exact.
    let json = crate::common::evaluate_json(
        &fixture("ts_us_new_york.parquet"),
        &data("tiny_revenue_customers.csv"),
        &data("tiny_nsm.toml"),
        &["--timezone", "Asia/Tokyo"],
    );
    check_all(&json);
}

#[test]
fn an_unusable_type_names_the_column_its_type_and_what_is_accepted() {
    let stderr = input_error_of(
        &fixture("unusable_types.parquet"),
        &data("tiny_revenue_customers.csv"),
        Some(&data("tiny_nsm.toml")),
        &[],
    );
    assert!(stderr.contains("unusable_types.parquet"), "{stderr}");
    assert!(stderr.contains("column 'timestamp'"), "{stderr}");
    assert!(stderr.contains("time"), "{stderr}");
    assert!(stderr.contains("expected"), "{stderr}");
}

#[test]
fn a_column_of_a_type_nsm_cannot_hold_is_named_even_when_unmapped() {
    let stderr = input_error_of(
        &fixture("unusable_column.parquet"),
        &data("tiny_revenue_customers.csv"),
        None,
        &[],
    );
    assert!(
        stderr.contains("column 'ratio'") && stderr.contains("Float16"),
        "{stderr}"
    );
}

#[test]
fn a_naive_timestamp_is_wall_time_in_the_timezone_flag() {
    // 2024-02-01 01:30 as Tokyo wall time is 2024-01-31 16:30 UTC: one meeting moves from
    // February to January; the zoned file of the same rows keeps it in February (above).
    for name in [
        "ts_ms_naive.parquet",
        "ts_ns_naive.parquet",
        "ts_int96.parquet",
    ] {
        let json = crate::common::evaluate_json(
            &fixture(name),
            &data("tiny_revenue_customers.csv"),
            &data("tiny_nsm.toml"),
            &["--timezone", "Asia/Tokyo"],
        );
        assert_eq!(
            crate::common::series(&json, "meetings"),
            [5.0, 2.0, 2.0],
            "{name}"
        );
    }
}
