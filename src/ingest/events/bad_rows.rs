//! Locating and explaining bad rows: only when the one pass has found some, the files are read
//! again to name the first ones by file, line, column and value.

use anyhow::Result;
use polars::prelude::*;

use super::plan::{col_names as c, normalize, FilePlan, TimestampKind, BAD, DAY, RAW_TS};
use super::EventOptions;
use crate::error::InputError;
use crate::ingest::bad_row::BadRow;
use crate::ingest::columns::EventColumns;
use crate::ingest::source::{csv_header, for_each_record, record_line, InputFile, Visit};
use crate::ingest::timestamp::TimestampFamily;

/// A typed file (Parquet) has no lines; its rows are numbered from 1 instead.
fn row_label(file: &str, row: u64) -> String {
    format!("{file} (row {row})")
}

/// Find the first `limit` bad rows, with file lines, by reading the files again. Only runs when
/// the one pass has found bad rows, so it costs nothing on clean data.
pub(super) fn locate_bad_rows(
    plans: &[FilePlan],
    options: &EventOptions,
    limit: usize,
) -> Result<Vec<BadRow>> {
    let mut found = Vec::new();
    for plan in plans {
        if found.len() >= limit {
            break;
        }
        match (&plan.csv, plan.timestamp) {
            (Some(file), TimestampKind::Text(family)) => {
                locate_in_csv(file, family, options, limit - found.len(), &mut found)?
            }
            _ => locate_in_frame(plan, options, limit - found.len(), &mut found)?,
        }
    }
    Ok(found)
}

fn check_fields(
    family: TimestampFamily,
    timestamp: Option<&str>,
    user: Option<&str>,
    event: Option<&str>,
    value: Option<&str>,
    cols: &EventColumns,
) -> Option<(String, String, String)> {
    let ts = timestamp.unwrap_or("").trim();
    if family.parse_day(ts).is_none() {
        let reason = if ts.is_empty() {
            "timestamp is empty".to_string()
        } else if TimestampFamily::detect(ts).is_some() {
            format!(
                "timestamp is in a different format from the file's first rows ({})",
                family.describe()
            )
        } else {
            "not a timestamp nsm can read (ISO 8601 such as 2024-03-01T12:00:00Z, a date, or epoch seconds/milliseconds)".to_string()
        };
        return Some((cols.timestamp.clone(), ts.to_string(), reason));
    }
    if user.unwrap_or("").is_empty() {
        return Some((
            cols.user_id.clone(),
            String::new(),
            "user id is empty".into(),
        ));
    }
    if event.unwrap_or("").is_empty() {
        return Some((
            cols.event.clone(),
            String::new(),
            "event name is empty".into(),
        ));
    }
    if let Some(text) = value.filter(|v| !v.is_empty()) {
        let ok = text
            .trim()
            .parse::<f64>()
            .map(f64::is_finite)
            .unwrap_or(false);
        if !ok {
            return Some((
                cols.value.clone(),
                text.to_string(),
                "not a finite number".into(),
            ));
        }
    }
    None
}

fn locate_in_csv(
    file: &InputFile,
    family: TimestampFamily,
    options: &EventOptions,
    limit: usize,
    found: &mut Vec<BadRow>,
) -> Result<()> {
    let label = file.display();
    let header = csv_header(file, options.delimiter)?;
    let cols = &options.columns;
    let index = |name: &str| header.iter().position(|h| h == name);
    let (ts_i, user_i, event_i) = (
        index(&cols.timestamp),
        index(&cols.user_id),
        index(&cols.event),
    );
    let value_i = index(&cols.value);
    for_each_record(file, options.delimiter, |record| {
        let get = |i: Option<usize>| i.and_then(|i| record.get(i));
        if let Some((column, value, reason)) = check_fields(
            family,
            get(ts_i),
            get(user_i),
            get(event_i),
            get(value_i),
            cols,
        ) {
            found.push(BadRow {
                file: label.clone(),
                line: record_line(record),
                column,
                value,
                reason,
            });
        }
        Ok(if found.len() >= limit {
            Visit::Stop
        } else {
            Visit::Continue
        })
    })
}

/// Bad rows of a typed source (Parquet, in-memory): row numbers instead of lines.
fn locate_in_frame(
    plan: &FilePlan,
    options: &EventOptions,
    limit: usize,
    found: &mut Vec<BadRow>,
) -> Result<()> {
    let bad = normalize(plan, options)
        .with_row_index("__row", Some(1))
        .filter(col(BAD))
        .limit(limit as u32)
        .select([
            col("__row"),
            col(RAW_TS).cast(DataType::String),
            col(DAY),
            col(c::USER),
            col(c::EVENT),
        ])
        .collect()?;
    let rows = bad.column("__row")?.idx()?;
    let ts = bad.column(RAW_TS)?.str()?;
    let days = bad.column(DAY)?.i32()?;
    let users = bad.column(c::USER)?.str()?;
    let events = bad.column(c::EVENT)?.str()?;
    let cols = &options.columns;
    for i in 0..bad.height() {
        let (column, value, reason) = if days.get(i).is_none() {
            (
                cols.timestamp.clone(),
                ts.get(i).unwrap_or("").to_string(),
                "not a readable timestamp".to_string(),
            )
        } else if users.get(i).is_none() {
            (
                cols.user_id.clone(),
                String::new(),
                "user id is empty".to_string(),
            )
        } else if events.get(i).is_none() {
            (
                cols.event.clone(),
                String::new(),
                "event name is empty".to_string(),
            )
        } else {
            (
                cols.value.clone(),
                String::new(),
                "not a finite number".to_string(),
            )
        };
        found.push(BadRow {
            file: row_label(&plan.label, u64::from(rows.get(i).unwrap_or(0))),
            line: None,
            column,
            value,
            reason,
        });
    }
    Ok(())
}

/// Turn a failure of the one pass into a located input error when a file is at fault.
pub(super) fn explain_scan_failure(
    plans: &[FilePlan],
    options: &EventOptions,
    error: PolarsError,
) -> anyhow::Error {
    for plan in plans {
        if let Some(file) = &plan.csv {
            // Read the whole file with the strict CSV reader: it names the line at fault.
            if let Err(located) = for_each_record(file, options.delimiter, |_| Ok(Visit::Continue))
            {
                return located;
            }
        }
    }
    let files: Vec<&str> = plans.iter().map(|p| p.label.as_str()).collect();
    InputError::new(format!(
        "events {}: cannot be read: {error}",
        files.join(", ")
    ))
    .into()
}
