//! Locating and explaining bad rows: only when the one pass has found some, the files are read
//! again to name the first ones by file, line, column and value.

use anyhow::Result;
use polars::prelude::*;

use super::options::EventOptions;
use super::plan::{col_names as c, normalize, FilePlan, TimestampKind, BAD, DAY, RAW_TS};
use crate::error::InputError;
use crate::ingest::bad_row::BadRow;
use crate::ingest::columns::EventColumns;
use crate::ingest::source::{csv_header, for_each_record, record_line, InputFile, Visit};
use crate::ingest::timestamp::{TimestampFamily, NOT_A_TIMESTAMP};

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

/// What is wrong with a row: each reason's text is written here once, for every source.
enum Problem {
    EmptyTimestamp,
    /// A timestamp of another family than the file's first rows (ISO text among epochs).
    OtherFormat(TimestampFamily),
    NotTimestamp,
    EmptyUser,
    EmptyEvent,
    NotNumber,
}

impl Problem {
    /// The mapped column at fault.
    fn column(&self, cols: &EventColumns) -> String {
        match self {
            Problem::EmptyTimestamp | Problem::OtherFormat(_) | Problem::NotTimestamp => {
                cols.timestamp.clone()
            }
            Problem::EmptyUser => cols.user_id.clone(),
            Problem::EmptyEvent => cols.event.clone(),
            Problem::NotNumber => cols.value.clone(),
        }
    }

    fn reason(&self) -> String {
        match self {
            Problem::EmptyTimestamp => "timestamp is empty".into(),
            Problem::OtherFormat(family) => format!(
                "timestamp is in a different format from the file's first rows ({})",
                family.describe()
            ),
            Problem::NotTimestamp => NOT_A_TIMESTAMP.into(),
            Problem::EmptyUser => "user id is empty".into(),
            Problem::EmptyEvent => "event name is empty".into(),
            Problem::NotNumber => "not a finite number".into(),
        }
    }

    fn bad_row(&self, file: String, line: Option<u64>, value: &str, cols: &EventColumns) -> BadRow {
        BadRow {
            file,
            line,
            column: self.column(cols),
            value: value.to_string(),
            reason: self.reason(),
        }
    }
}

/// The first problem of a CSV row, with the value at fault.
fn check_fields<'a>(
    family: TimestampFamily,
    timestamp: Option<&'a str>,
    user: Option<&'a str>,
    event: Option<&'a str>,
    value: Option<&'a str>,
) -> Option<(Problem, &'a str)> {
    let ts = timestamp.unwrap_or("").trim();
    if family.parse_day(ts).is_none() {
        let problem = if ts.is_empty() {
            Problem::EmptyTimestamp
        } else if TimestampFamily::detect(ts).is_some() {
            Problem::OtherFormat(family)
        } else {
            Problem::NotTimestamp
        };
        return Some((problem, ts));
    }
    if user.unwrap_or("").is_empty() {
        return Some((Problem::EmptyUser, ""));
    }
    if event.unwrap_or("").is_empty() {
        return Some((Problem::EmptyEvent, ""));
    }
    if let Some(text) = value.filter(|v| !v.is_empty()) {
        let ok = text
            .trim()
            .parse::<f64>()
            .map(f64::is_finite)
            .unwrap_or(false);
        if !ok {
            return Some((Problem::NotNumber, text));
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
    let user_columns: Vec<Option<usize>> = cols.user_id_columns().map(index).collect();
    for_each_record(file, options.delimiter, |record| {
        let get = |i: Option<usize>| i.and_then(|i| record.get(i));
        // The first non-empty of the user id and its fallbacks.
        let user = user_columns
            .iter()
            .map(|&i| get(i))
            .find(|u| !u.unwrap_or("").is_empty())
            .unwrap_or(get(user_i));
        if let Some((problem, value)) =
            check_fields(family, get(ts_i), user, get(event_i), get(value_i))
        {
            found.push(problem.bad_row(label.clone(), record_line(record), value, cols));
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
            col(c::USER).cast(DataType::String),
            col(c::EVENT),
        ])
        .collect()
        .map_err(|e| InputError::new(format!("events {}: cannot be read: {e}", plan.label)))?;
    let rows = bad.column("__row")?.idx()?;
    let ts = bad.column(RAW_TS)?.str()?;
    let days = bad.column(DAY)?.i32()?;
    let users = bad.column(c::USER)?.str()?;
    let events = bad.column(c::EVENT)?.str()?;
    let cols = &options.columns;
    for i in 0..bad.height() {
        let (problem, value) = if days.get(i).is_none() {
            (Problem::NotTimestamp, ts.get(i).unwrap_or(""))
        } else if users.get(i).is_none() {
            (Problem::EmptyUser, "")
        } else if events.get(i).is_none() {
            (Problem::EmptyEvent, "")
        } else {
            (Problem::NotNumber, "")
        };
        let file = row_label(&plan.label, u64::from(rows.get(i).unwrap_or(0)));
        found.push(problem.bad_row(file, None, value, cols));
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
