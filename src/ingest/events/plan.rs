//! Per-file planning: every input file becomes one lazy scan of the mapped columns, and all
//! scans one union that parses timestamps and values and flags bad rows.

use std::sync::Arc;

use anyhow::Result;
use polars::prelude::*;

use super::options::{EventOptions, EventSource};
use crate::error::InputError;
use crate::ingest::columns::EventColumns;
use crate::ingest::source::{
    csv_header, delimiter_hint, for_each_record, record_line, FileFormat, InputFile, Visit,
};
use crate::ingest::timestamp::{
    epoch_seconds_to_day, fast_day_expr, fast_format, is_naive, local_datetime_day_expr,
    TimestampFamily, NOT_A_TIMESTAMP,
};

/// Internal column names of the scan.
pub(super) mod col_names {
    pub const ACCOUNT: &str = "account";
    pub const USER: &str = "user";
    pub const EVENT: &str = "event";
}
use col_names as c;

/// What one file contributes: its columns and how to read its timestamps.
pub(super) struct FilePlan {
    pub(super) label: String,
    pub(super) frame: LazyFrame,
    pub(super) timestamp: TimestampKind,
    pub(super) has_account: bool,
    pub(super) has_value: bool,
    /// The ids are integers, kept as such by the scan (the loader writes their text).
    pub(super) integer_ids: bool,
    /// Rows in the file, when its metadata says (Parquet).
    pub(super) rows: Option<usize>,
    pub(super) csv: Option<InputFile>,
}

#[derive(Debug, Clone, Copy)]
pub(super) enum TimestampKind {
    Text(TimestampFamily),
    /// Text whose sampled values all have one exact shape, read with a fixed format; when any
    /// row does not parse that way, the events are read again as `Text`.
    TextFormat(&'static str),
    /// A typed column: days since epoch = physical / per_day (datetime), or already days (date).
    Datetime {
        per_day: i64,
        /// The column has a zone (zone-less values are wall times: UTC, or `--timezone`).
        zoned: bool,
    },
    Date,
    EpochNumber,
}

pub(super) const RAW_TS: &str = "__ts";

pub(super) const RAW_VALUE: &str = "__value";

pub(super) const PARSED_VALUE: &str = "__value_parsed";

pub(super) const DAY: &str = "__day";

pub(super) const BAD: &str = "__bad";
/// The row's user id came from a fallback column (only with `user_id` fallbacks).
pub(super) const FALLBACK: &str = "__user_fallback";

pub(super) fn file_plans(source: &EventSource, options: &EventOptions) -> Result<Vec<FilePlan>> {
    match source {
        EventSource::Files(files) => files.iter().map(|file| plan_file(file, options)).collect(),
        EventSource::Frame { name, frame } => Ok(vec![plan_frame(name, frame, options)?]),
    }
}

/// Every file's scan, normalised, in one union.
pub(super) fn one_plan(plans: &[FilePlan], options: &EventOptions) -> Result<LazyFrame> {
    let all_integer = plans.iter().all(|p| p.integer_ids);
    let normalized: Vec<LazyFrame> = plans
        .iter()
        .map(|p| {
            let mut columns = vec![
                col(BAD),
                col(DAY),
                col(c::USER),
                col(c::ACCOUNT),
                col(c::EVENT),
                col(PARSED_VALUE),
                col(RAW_TS),
                col(RAW_VALUE),
            ];
            if !options.columns.user_id_fallbacks.is_empty() {
                columns.push(col(FALLBACK));
            }
            // Files of integer and of text ids together: all as text.
            if p.integer_ids && !all_integer {
                columns[2] = col(c::USER).cast(DataType::String);
                columns[3] = col(c::ACCOUNT).cast(DataType::String);
            }
            normalize(p, options).select(columns)
        })
        .collect();
    // Files of different kinds (a Parquet file and a CSV file) have raw timestamps and values
    // of different types: read together as their common type (text).
    let args = UnionArgs {
        to_supertypes: true,
        ..UnionArgs::default()
    };
    Ok(concat(normalized, args)?)
}

/// `(role, column)` of every column a file must have: the timestamp, the user id, the event,
/// then the user id's fallbacks.
fn required_columns(cols: &EventColumns) -> impl Iterator<Item = (&'static str, &str)> {
    [
        ("timestamp", cols.timestamp.as_str()),
        ("user_id", cols.user_id.as_str()),
        ("event", cols.event.as_str()),
    ]
    .into_iter()
    .chain(
        cols.user_id_fallbacks
            .iter()
            .map(|c| ("user_id", c.as_str())),
    )
}

fn missing_column_error(label: &str, role: &str, mapped: &str, found: &[String]) -> anyhow::Error {
    let hint = if mapped == role {
        format!(
            "if another column holds it, map it in nsm.toml: [events] {role} = \"<your column>\""
        )
    } else {
        format!(
            "{role} is mapped to '{mapped}' (by [events] in nsm.toml, or --map); fix the mapping"
        )
    };
    InputError::new(format!(
        "events file {label}: missing column '{mapped}' ({role}); columns found: {}; {hint}{}",
        found.join(", "),
        delimiter_hint(found)
    ))
    .into()
}

fn plan_file(file: &InputFile, options: &EventOptions) -> Result<FilePlan> {
    let label = file.display();
    let cols = &options.columns;
    match file.format {
        FileFormat::Csv | FileFormat::GzipCsv => {
            let header = csv_header(file, options.delimiter)?;
            for (role, mapped) in required_columns(cols) {
                if !header.iter().any(|h| h == mapped) {
                    return Err(missing_column_error(&label, role, mapped, &header));
                }
            }
            let timestamp = sample_csv_timestamps(file, options)?;
            let schema: Schema = header
                .iter()
                .enumerate()
                .map(|(i, name)| {
                    // Unnamed or repeated columns still need distinct names in the schema.
                    let unique = if name.is_empty() || header[..i].contains(name) {
                        format!("__column_{i}")
                    } else {
                        name.clone()
                    };
                    Field::new(unique.into(), DataType::String)
                })
                .collect();
            let scan = LazyCsvReader::new(PlRefPath::from(file.path.to_string_lossy().as_ref()))
                .with_has_header(true)
                .with_schema(Some(Arc::new(schema)))
                .with_separator(options.delimiter)
                .with_quote_char(Some(b'"'))
                .with_missing_is_null(true)
                .finish()
                .map_err(|e| InputError::new(format!("events file {label}: cannot scan: {e}")))?;
            let has_account = header.iter().any(|h| h == &cols.account_id);
            let has_value = header.iter().any(|h| h == &cols.value);
            Ok(FilePlan {
                frame: select_columns(scan, cols, has_account, has_value, DataType::String, false),
                label,
                timestamp,
                has_account,
                has_value,
                integer_ids: false,
                rows: None,
                csv: Some(file.clone()),
            })
        }
        FileFormat::Parquet => {
            let (file_types, rows) = check_parquet_types(file, cols)?;
            let mut scan = LazyFrame::scan_parquet(
                PlRefPath::from(file.path.to_string_lossy().as_ref()),
                ScanArgsParquet::default(),
            )
            .map_err(|e| {
                InputError::new(format!(
                    "events file {label}: not a readable Parquet file: {e}"
                ))
            })?;
            let schema = scan.collect_schema().map_err(|e| {
                InputError::new(format!(
                    "events file {label}: not a readable Parquet file: {e}"
                ))
            })?;
            let mut plan = plan_typed(label, scan, &schema, options, &file_types)?;
            plan.rows = rows;
            Ok(plan)
        }
        FileFormat::JsonLines | FileFormat::GzipJsonLines | FileFormat::Zip => {
            Err(InputError::new(format!(
                "events file {label}: is {}, which is read as a vendor event export (--events-format {}), not as a table",
                file.format.describe(),
                super::Vendor::keys().replace(", ", "|")
            ))
            .into())
        }
    }
}

/// Every column of a file with its type in words.
type FileTypes = Vec<(String, String)>;

/// The types accepted in each role, for errors.
const TIMESTAMP_TYPES: &str = "a timestamp (any unit, with a zone or none, INT96 too), a date, epoch seconds or milliseconds, or ISO 8601 text";
const ID_TYPES: &str = "text (plain, large or dictionary-encoded) or integer ids";
const VALUE_TYPES: &str = "a number (integer, float or decimal) or numeric text";

/// A Parquet column whose type polars cannot represent would stop the scan with a panic:
/// find it from the file's own schema first and say which column, its type, and what nsm reads.
/// Returns every column's file type in words, for the type errors of [`plan_typed`], and the
/// file's rows.
fn check_parquet_types(
    file: &InputFile,
    cols: &EventColumns,
) -> Result<(FileTypes, Option<usize>)> {
    use polars::io::parquet::read::ParquetReader;
    let label = file.display();
    let unreadable = |e: &dyn std::fmt::Display| -> anyhow::Error {
        InputError::new(format!(
            "events file {label}: not a readable Parquet file: {e}"
        ))
        .into()
    };
    let handle = std::fs::File::open(&file.path).map_err(|e| unreadable(&e))?;
    let mut reader = ParquetReader::new(handle);
    let schema = reader.schema().map_err(|e| unreadable(&e))?;
    let rows = reader.num_rows().ok();
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let failed = schema
        .iter_values()
        .find(|field| std::panic::catch_unwind(|| DataType::from_arrow_field(field)).is_err());
    std::panic::set_hook(previous);
    let Some(field) = failed else {
        let types = schema
            .iter_values()
            .map(|f| (f.name.to_string(), format!("{:?}", f.dtype)))
            .collect();
        return Ok((types, rows));
    };
    let name = field.name.as_str();
    let role = cols
        .pairs()
        .into_iter()
        .find(|(_, mapped)| *mapped == name)
        .map(|(role, _)| role);
    let wanted = match role {
        Some("timestamp") => format!("; expected {TIMESTAMP_TYPES}"),
        Some("value") => format!("; expected {VALUE_TYPES}"),
        Some(_) => format!("; expected {ID_TYPES}"),
        None => "; nsm reads only the mapped columns, but cannot open a file with this type in it: write the file without it (or cast it)".into(),
    };
    Err(InputError::at(
        &label,
        None,
        Some(name),
        None,
        format!(
            "has Parquet type {:?}, which nsm cannot read{wanted}",
            field.dtype
        ),
    )
    .into())
}

/// A typed column's type in words: nsm's reading of it, and the file's own type when known.
fn type_words(dtype: &DataType, file_type: Option<&str>) -> String {
    let read = match dtype {
        DataType::Time => "time (a time of day without a date)".to_string(),
        other => other.to_string(),
    };
    match file_type {
        Some(file_type) => format!("{read} (Parquet {file_type})"),
        None => read,
    }
}

/// An in-memory frame (the demo) is read like a typed file.
fn plan_frame(name: &str, frame: &DataFrame, options: &EventOptions) -> Result<FilePlan> {
    let schema = frame.schema().clone();
    plan_typed(
        name.to_string(),
        frame.clone().lazy(),
        &schema,
        options,
        &[],
    )
}

fn plan_typed(
    label: String,
    scan: LazyFrame,
    schema: &Schema,
    options: &EventOptions,
    file_types: &[(String, String)],
) -> Result<FilePlan> {
    let cols = &options.columns;
    let found: Vec<String> = schema.iter_names().map(|n| n.to_string()).collect();
    for (role, mapped) in required_columns(cols) {
        if schema.get(mapped).is_none() {
            return Err(missing_column_error(&label, role, mapped, &found));
        }
    }
    let type_error = |column: &str, dtype: &DataType, wanted: &str| -> anyhow::Error {
        InputError::at(
            &label,
            None,
            Some(column),
            None,
            format!(
                "has type {}; expected {wanted}",
                type_words(
                    dtype,
                    file_types
                        .iter()
                        .find(|(name, _)| name == column)
                        .map(|(_, t)| t.as_str())
                )
            ),
        )
        .into()
    };
    let ts_type = schema
        .get(&cols.timestamp)
        .cloned()
        .unwrap_or(DataType::Null);
    let timestamp = match &ts_type {
        DataType::Datetime(unit, zone) => TimestampKind::Datetime {
            zoned: zone.is_some(),
            per_day: match unit {
                TimeUnit::Milliseconds => 86_400_000,
                TimeUnit::Microseconds => 86_400_000_000,
                TimeUnit::Nanoseconds => 86_400_000_000_000,
            },
        },
        DataType::Date => TimestampKind::Date,
        t if t.is_integer() || t.is_float() || t.is_decimal() => TimestampKind::EpochNumber,
        DataType::String => {
            let sample = scan
                .clone()
                .select([col(cols.timestamp.as_str())])
                .drop_nulls(None)
                .limit(1)
                .collect()
                .map_err(|e| {
                    InputError::new(format!("events file {label}: cannot be read: {e}"))
                })?;
            let first = sample
                .column(&cols.timestamp)
                .ok()
                .and_then(|c| c.str().ok().and_then(|s| s.get(0).map(str::to_string)));
            match first {
                None => TimestampKind::Text(TimestampFamily::Iso),
                Some(text) => {
                    TimestampKind::Text(TimestampFamily::detect(&text).ok_or_else(|| {
                        InputError::at(
                            &label,
                            None,
                            Some(&cols.timestamp),
                            Some(&text),
                            NOT_A_TIMESTAMP,
                        )
                    })?)
                }
            }
        }
        other => return Err(type_error(&cols.timestamp, other, TIMESTAMP_TYPES)),
    };
    for (column, required) in [
        (&cols.user_id, true),
        (&cols.event, true),
        (&cols.account_id, false),
    ] {
        match schema.get(column) {
            Some(t) if t.is_string() || t.is_integer() || t.is_categorical() => {}
            Some(other) => return Err(type_error(column, other, ID_TYPES)),
            None if required => unreachable!("required columns were checked above"),
            None => {}
        }
    }
    if let Some(t) = schema.get(&cols.value) {
        if !(t.is_primitive_numeric() || t.is_decimal() || t.is_string() || t.is_null()) {
            return Err(type_error(&cols.value, t, VALUE_TYPES));
        }
    }
    let has_account = schema.get(&cols.account_id).is_some();
    let has_value = schema.get(&cols.value).is_some();
    let ts_dtype = match timestamp {
        TimestampKind::Text(_) | TimestampKind::TextFormat(_) => DataType::String,
        // Zoned or not, a datetime's physical value counts units since the epoch in UTC.
        TimestampKind::Datetime { .. } => DataType::Int64,
        _ => ts_type.clone(),
    };
    // Integer ids stay integers through the scan (text of every id would be built and dropped
    // there); with fallbacks the first non-empty id is chosen among texts.
    let integer = |column: &str| {
        schema
            .get(column)
            .is_some_and(|t| matches!(t, DataType::Int32 | DataType::Int64 | DataType::UInt32))
    };
    let integer_ids = cols.user_id_fallbacks.is_empty()
        && integer(&cols.user_id)
        && (!has_account || integer(&cols.account_id));
    Ok(FilePlan {
        frame: select_columns(scan, cols, has_account, has_value, ts_dtype, integer_ids),
        label,
        timestamp,
        has_account,
        has_value,
        integer_ids,
        rows: None,
        csv: None,
    })
}

/// Keep only the mapped columns, under internal names, with text ids (or 64-bit integer ids
/// when `integer_ids`).
fn select_columns(
    scan: LazyFrame,
    cols: &EventColumns,
    has_account: bool,
    has_value: bool,
    ts_dtype: DataType,
    integer_ids: bool,
) -> LazyFrame {
    let id_type = if integer_ids {
        DataType::Int64
    } else {
        DataType::String
    };
    let id = |name: &str| col(name).cast(id_type.clone());
    let present = |name: &str| id(name).is_not_null().and(id(name).neq(lit("")));
    // The first non-empty of the user id and its fallbacks, tried in order.
    let names: Vec<&str> = cols.user_id_columns().collect();
    let (last, earlier) = names.split_last().expect("the user id column");
    let mut user = id(last);
    for name in earlier.iter().rev() {
        user = when(present(name)).then(id(name)).otherwise(user);
    }
    let account = if has_account {
        id(cols.account_id.as_str())
    } else {
        user.clone()
    };
    let value = if has_value {
        col(cols.value.as_str())
    } else {
        lit(NULL).cast(DataType::String)
    };
    let mut columns = vec![
        col(cols.timestamp.as_str()).cast(ts_dtype).alias(RAW_TS),
        user.clone().alias(c::USER),
        // Events without an account belong to their user's own account.
        account.fill_null(user.clone()).alias(c::ACCOUNT),
        col(cols.event.as_str())
            .cast(DataType::String)
            .alias(c::EVENT),
        value.alias(RAW_VALUE),
    ];
    if !cols.user_id_fallbacks.is_empty() {
        columns.push(
            present(&cols.user_id)
                .not()
                .and(user.clone().is_not_null().and(user.neq(lit(""))))
                .alias(FALLBACK),
        );
    }
    scan.select(columns)
}

/// Parsed day, value and a bad-row flag, with `--as-of` applied.
pub(super) fn normalize(plan: &FilePlan, options: &EventOptions) -> LazyFrame {
    let raw = col(RAW_TS);
    let day = match plan.timestamp {
        TimestampKind::Text(family) => family.day_expr(raw, options.timezone),
        // The fixed formats read zone-less times as UTC: in another zone, the general parse.
        TimestampKind::TextFormat(format) if options.timezone.is_some() && is_naive(format) => {
            TimestampFamily::Iso.day_expr(raw, options.timezone)
        }
        TimestampKind::TextFormat(format) => fast_day_expr(raw, format),
        TimestampKind::Datetime {
            per_day,
            zoned: false,
        } if options.timezone.is_some() => {
            local_datetime_day_expr(raw, per_day, options.timezone.expect("checked"))
        }
        TimestampKind::Datetime { per_day, .. } => raw
            .cast(DataType::Int64)
            .floor_div(lit(per_day))
            .cast(DataType::Int32),
        TimestampKind::Date => raw.cast(DataType::Int32),
        TimestampKind::EpochNumber => epoch_seconds_to_day(raw.cast(DataType::Float64)),
    };
    let value = col(RAW_VALUE).cast(DataType::Float64);
    let bad_value = col(RAW_VALUE)
        .is_not_null()
        .and(value.clone().is_finite().fill_null(lit(false)).not());
    let bad = col(DAY)
        .is_null()
        .or(col(c::USER).is_null())
        .or(col(c::EVENT).is_null())
        .or(bad_value);
    let frame = plan
        .frame
        .clone()
        .with_columns([day.alias(DAY), value.alias(PARSED_VALUE)])
        .with_column(bad.alias(BAD));
    match options.as_of {
        Some(as_of) => frame.filter(col(BAD).or(col(DAY).lt_eq(lit(as_of)))),
        None => frame,
    }
}

/// How to read a CSV file's timestamps: the family of its first non-empty value, and a fixed
/// format when the first `SAMPLE_ROWS` non-empty values all share one (a file of empty
/// timestamps is left to the row checks).
fn sample_csv_timestamps(file: &InputFile, options: &EventOptions) -> Result<TimestampKind> {
    const SAMPLE_ROWS: usize = 1000;
    let header = csv_header(file, options.delimiter)?;
    let index = header
        .iter()
        .position(|h| h == &options.columns.timestamp)
        .unwrap_or(0);
    let mut family = None;
    // `Some(None)`: values of different shapes were seen.
    let mut format: Option<Option<&'static str>> = None;
    let mut seen = 0;
    for_each_record(file, options.delimiter, |record| {
        seen += 1;
        if seen > SAMPLE_ROWS {
            return Ok(Visit::Stop);
        }
        let Some(text) = record.get(index).filter(|t| !t.trim().is_empty()) else {
            return Ok(Visit::Continue);
        };
        if family.is_none() {
            let trimmed = text.trim();
            family = Some(TimestampFamily::detect(trimmed).ok_or_else(|| {
                InputError::at(
                    &file.display(),
                    record_line(record),
                    Some(&options.columns.timestamp),
                    Some(trimmed),
                    NOT_A_TIMESTAMP,
                )
            })?);
        }
        let shape = fast_format(text);
        format = match format {
            None => Some(shape),
            Some(known) if known == shape => Some(known),
            Some(_) => Some(None),
        };
        Ok(if format == Some(None) {
            Visit::Stop
        } else {
            Visit::Continue
        })
    })?;
    Ok(match (family, format) {
        (Some(TimestampFamily::Iso), Some(Some(format))) => TimestampKind::TextFormat(format),
        (family, _) => TimestampKind::Text(family.unwrap_or(TimestampFamily::Iso)),
    })
}
