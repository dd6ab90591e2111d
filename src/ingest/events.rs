//! Events: every input file becomes one lazy scan and all scans one streaming plan that parses
//! timestamps and values; its batches are stored as compact integer columns
//! ([`Activity`]). Every candidate series is computed from those, so the raw events are read
//! exactly once.

use std::hash::BuildHasher;
use std::sync::{Arc, Mutex};

use anyhow::Result;
use polars::prelude::*;

pub use super::activity::Activity;
use super::activity::{hasher, head, Events, Member, Names, HEAD_BYTES, NO_VALUE};
use super::source::{
    csv_header, delimiter_hint, for_each_record, record_line, FileFormat, InputFile, Visit,
};
use super::timestamp::{epoch_seconds_to_day, fast_day_expr, fast_format, TimestampFamily};
use crate::candidates::config::EventColumns;
use crate::error::InputError;
use crate::output::{Counter, Progress};

/// Value sums are kept in integer millionths so that they do not depend on summation order
/// (and so on thread scheduling): same input, same bytes.
pub const VALUE_SCALE: f64 = 1e6;

/// Internal column names of the scan.
pub mod col_names {
    pub const ACCOUNT: &str = "account";
    pub const USER: &str = "user";
    pub const EVENT: &str = "event";
}
use col_names as c;

/// Where events come from: files, or an in-memory frame with the default column names and
/// string values (the demo), which goes through exactly the same parsing as a CSV file.
pub enum EventSource {
    Files(Vec<InputFile>),
    Frame { name: String, frame: DataFrame },
}

#[derive(Debug, Clone)]
pub struct EventOptions {
    pub columns: EventColumns,
    pub delimiter: u8,
    /// Ignore events after this UTC day.
    pub as_of: Option<i32>,
    pub skip_bad_rows: bool,
}

/// A row that could not be read.
#[derive(Debug, Clone, PartialEq)]
pub struct BadRow {
    pub file: String,
    pub line: Option<u64>,
    pub column: String,
    pub value: String,
    pub reason: String,
}

impl BadRow {
    pub fn to_error(&self) -> InputError {
        InputError::at(
            &self.file,
            self.line,
            Some(&self.column),
            Some(&self.value),
            &self.reason,
        )
    }
}

/// A typed file (Parquet) has no lines; its rows are numbered from 1 instead.
fn row_label(file: &str, row: u64) -> String {
    format!("{file} (row {row})")
}

/// What one file contributes: its columns and how to read its timestamps.
struct FilePlan {
    label: String,
    frame: LazyFrame,
    timestamp: TimestampKind,
    has_account: bool,
    has_value: bool,
    csv: Option<InputFile>,
}

#[derive(Debug, Clone, Copy)]
enum TimestampKind {
    Text(TimestampFamily),
    /// Text whose sampled values all have one exact shape, read with a fixed format; when any
    /// row does not parse that way, the events are read again as `Text`.
    TextFormat(&'static str),
    /// A typed column: days since epoch = physical / per_day (datetime), or already days (date).
    Datetime {
        per_day: i64,
    },
    Date,
    EpochNumber,
}

const RAW_TS: &str = "__ts";
const RAW_VALUE: &str = "__value";
const PARSED_VALUE: &str = "__value_parsed";
const DAY: &str = "__day";
const BAD: &str = "__bad";

/// Read all events into memory in one pass (two when a file read with a fixed timestamp
/// format has rows that need the general parser).
///
/// `progress` shows the rows read so far on a terminal.
pub fn load_activity(
    source: &EventSource,
    options: &EventOptions,
    progress: &Progress,
) -> Result<Activity> {
    let mut plans = file_plans(source, options)?;
    let has_account = plans.iter().any(|p| p.has_account);
    let has_value = plans.iter().any(|p| p.has_value);
    let counter = || progress.counter("reading events", "rows", None);
    let mut loaded = read_batches(&plans, options, has_value, counter())?;
    let fixed = plans
        .iter()
        .any(|p| matches!(p.timestamp, TimestampKind::TextFormat(_)));
    if fixed && loaded.bad_rows > 0 {
        for plan in &mut plans {
            if let TimestampKind::TextFormat(_) = plan.timestamp {
                plan.timestamp = TimestampKind::Text(TimestampFamily::Iso);
            }
        }
        drop(loaded);
        loaded = read_batches(&plans, options, has_value, counter())?;
    }
    finish(loaded, &plans, options, has_account, has_value)
}

/// Run the plan, storing each batch as it arrives.
fn read_batches(
    plans: &[FilePlan],
    options: &EventOptions,
    has_value: bool,
    counter: Counter,
) -> Result<Loader> {
    let loader = Arc::new(Mutex::new(Loader::new(has_value)));
    let sink = Arc::clone(&loader);
    one_plan(plans, options)?
        .sink_batches(
            PlanCallback::new(move |batch: DataFrame| {
                let mut loader = sink
                    .lock()
                    .map_err(|_| polars_err!(ComputeError: "poisoned"))?;
                loader.add(&batch)?;
                counter.add(batch.height() as u64);
                Ok(loader.failure.is_some())
            }),
            true,
            None,
        )?
        .collect_with_engine(Engine::Streaming)
        .map_err(|e| explain_scan_failure(plans, options, e))?;
    let loader = Arc::try_unwrap(loader)
        .map_err(|_| anyhow::anyhow!("the scan still holds the events"))?
        .into_inner()
        .map_err(|_| anyhow::anyhow!("reading the events failed"))?;
    if let Some(failure) = &loader.failure {
        return Err(failure.to_error(plans, options).into());
    }
    Ok(loader)
}

/// A limit of the codes passed while storing events, with the value that passed it.
#[derive(Debug, Clone)]
enum Failure {
    Ids(String),
    EventNames(String),
}

impl Failure {
    fn to_error(&self, plans: &[FilePlan], options: &EventOptions) -> InputError {
        let files: Vec<&str> = plans.iter().map(|p| p.label.as_str()).collect();
        let what = match self {
            Failure::Ids(value) => format!(
                "column '{}', value '{value}': more than 4,294,967,294 distinct ids",
                options.columns.user_id
            ),
            Failure::EventNames(value) => format!(
                "column '{}', value '{value}': more than {MAX_EVENT_NAMES} distinct event names; nsm compares metrics over a catalog of events, not free text: map `event` to a column of event names",
                options.columns.event
            ),
        };
        InputError::new(format!("events {}: {what}", files.join(", ")))
    }
}

/// At most this many distinct event names (codes are 16 bits).
const MAX_EVENT_NAMES: usize = 1 << 16;

/// The events of the batches read so far, in two shards by user (each shard's rows are those
/// of the users whose id hashes to it), filled on two threads.
struct Loader {
    shards: [Shard; 2],
    bad_rows: u64,
    failure: Option<Failure>,
}

/// The events of one shard's users, with codes of its own until [`Loader::merge`].
struct Shard {
    events: Events,
    ids: Ids,
    event_names: Names,
    /// One per stored event: a hash of everything read from its row, for counting exact
    /// duplicates (which always share a user, and so a shard).
    fingerprints: Vec<u64>,
    first_day: i32,
    last_day: i32,
    has_value: bool,
    failure: Option<Failure>,
}

/// Users, accounts and the members they form.
struct Ids {
    users: Names<LastAccount>,
    accounts: Names,
    members: Vec<Member>,
    member_codes: hashbrown::HashMap<u64, u32, foldhash::fast::FixedState>,
}

/// Codes stay below this (`u32::MAX` marks "none" in [`LastAccount`]).
const FULL: u32 = u32::MAX - 1;

/// One good row of a batch, with the hash of its user id.
struct Row<'a> {
    user: &'a str,
    user_hash: u64,
    account: &'a str,
    event: &'a str,
    day: i32,
    value: Option<f64>,
    /// Hash of the raw timestamp and value text.
    raw: u64,
}

/// The good rows of `batch` for each shard (by the hash of the user id), and the number of bad
/// rows.
fn split_rows(batch: &DataFrame) -> PolarsResult<([Vec<Row<'_>>; 2], u64)> {
    let fingerprint = fingerprint_hasher();
    let raw = raw_hashes(batch.column(RAW_TS)?)?
        .into_iter()
        .zip(raw_hashes(batch.column(RAW_VALUE)?)?)
        .map(|pair| fingerprint.hash_one(pair));
    let state = hasher();
    let mut shards: [Vec<Row>; 2] = [Vec::new(), Vec::new()];
    let mut bad_rows = 0;
    let rows = batch
        .column(BAD)?
        .bool()?
        .iter()
        .zip(batch.column(DAY)?.i32()?.iter())
        .zip(batch.column(c::USER)?.str()?.iter())
        .zip(batch.column(c::ACCOUNT)?.str()?.iter())
        .zip(batch.column(c::EVENT)?.str()?.iter())
        .zip(batch.column(PARSED_VALUE)?.f64()?.iter())
        .zip(raw);
    for ((((((bad, day), user), account), event), value), raw) in rows {
        let (Some(false), Some(day), Some(user), Some(account), Some(event)) =
            (bad, day, user, account, event)
        else {
            bad_rows += 1;
            continue;
        };
        let user_hash = state.hash_one(user);
        shards[((user_hash >> 32) & 1) as usize].push(Row {
            user,
            user_hash,
            account,
            event,
            day,
            value,
            raw,
        });
    }
    Ok((shards, bad_rows))
}

/// How far ahead a shard prefetches the table slot of a user id.
const PREFETCH_ROWS: usize = 8;

impl Loader {
    fn new(has_value: bool) -> Loader {
        Loader {
            shards: [Shard::new(has_value), Shard::new(has_value)],
            bad_rows: 0,
            failure: None,
        }
    }

    /// Store one batch: its good rows are split by user between the two shards (each half of
    /// the batch on its own thread), and the shards store theirs on two threads.
    fn add(&mut self, batch: &DataFrame) -> PolarsResult<()> {
        let half = batch.height() / 2;
        let (early, late) = (batch.slice(0, half), batch.slice(half as i64, usize::MAX));
        let (early, late) = rayon::join(|| split_rows(&early), || split_rows(&late));
        let ((early, early_bad), (late, late_bad)) = (early?, late?);
        self.bad_rows += early_bad + late_bad;
        let [first, second] = &mut self.shards;
        let [early_first, early_second] = &early;
        let [late_first, late_second] = &late;
        rayon::join(
            || {
                first.add(early_first, 0);
                first.add(late_first, 0);
            },
            || {
                second.add(early_second, 1);
                second.add(late_second, 1);
            },
        );
        self.failure = first.failure.clone().or_else(|| second.failure.clone());
        Ok(())
    }

    /// One set of codes: the second shard's users, members, accounts and event names renumbered
    /// after the first's, its events appended. Also returns the number of distinct users. The
    /// two shards' event names together may pass the limit each one kept.
    fn merge(self) -> Result<(Shard, usize), Failure> {
        let [mut out, other] = self.shards;
        let users = out.ids.users.len() as u32;
        let members = out.ids.members.len() as u32;
        let accounts: Vec<u32> = other
            .ids
            .accounts
            .iter()
            .map(|name| out.ids.accounts.code(name, usize::MAX).expect("no limit"))
            .collect();
        let event_codes: Vec<u16> = other
            .event_names
            .iter()
            .map(|name| {
                let code = out.event_names.code(name, MAX_EVENT_NAMES);
                code.map(|c| c as u16)
                    .ok_or_else(|| Failure::EventNames(name.to_string()))
            })
            .collect::<Result<_, _>>()?;
        out.ids
            .members
            .extend(other.ids.members.iter().map(|m| Member {
                user: m.user + users,
                account: accounts[m.account as usize],
            }));
        let user_count = users as usize + other.ids.users.len();
        // Each of the second shard's columns is freed as soon as it is copied, so that the
        // copy never holds more than one extra column.
        let events = other.events;
        out.events.day.extend_from_slice(&events.day);
        drop(events.day);
        out.events
            .member
            .extend(events.member.iter().map(|m| m + members));
        drop(events.member);
        out.events
            .event
            .extend(events.event.iter().map(|e| event_codes[*e as usize]));
        drop(events.event);
        out.events.value.extend_from_slice(&events.value);
        drop(events.value);
        out.fingerprints.extend_from_slice(&other.fingerprints);
        drop(other.fingerprints);
        out.first_day = out.first_day.min(other.first_day);
        out.last_day = out.last_day.max(other.last_day);
        Ok((out, user_count))
    }
}

impl Shard {
    fn new(has_value: bool) -> Shard {
        Shard {
            events: Events::default(),
            ids: Ids {
                users: Names::default(),
                accounts: Names::default(),
                members: Vec::new(),
                member_codes: hashbrown::HashMap::with_hasher(hasher()),
            },
            event_names: Names::default(),
            fingerprints: Vec::new(),
            first_day: i32::MAX,
            last_day: i32::MIN,
            has_value,
            failure: None,
        }
    }

    /// Store the rows of this shard's users.
    fn add(&mut self, rows: &[Row], shard: u64) {
        // Codes are the shard's own: the shard is part of the fingerprint.
        let quality = fingerprint_hasher();
        for (i, row) in rows.iter().enumerate() {
            if let Some(ahead) = rows.get(i + PREFETCH_ROWS) {
                self.ids.users.prefetch(ahead.user_hash);
            }
            let Some(member) = self.ids.member(row.user, row.user_hash, row.account) else {
                self.failure = Some(Failure::Ids(row.user.to_string()));
                break;
            };
            let Some(event) = self.event_names.code(row.event, MAX_EVENT_NAMES) else {
                self.failure = Some(Failure::EventNames(row.event.to_string()));
                break;
            };
            self.first_day = self.first_day.min(row.day);
            self.last_day = self.last_day.max(row.day);
            self.events.day.push(row.day);
            self.events.member.push(member);
            self.events.event.push(event as u16);
            if self.has_value {
                self.events.value.push(
                    row.value
                        .map_or(NO_VALUE, |v| (v * VALUE_SCALE + 0.5).floor() as i64),
                );
            }
            self.fingerprints
                .push(quality.hash_one((row.raw, shard, member, event)));
        }
    }
}

/// Kept with each user: the member it was last seen as and that account's text, to skip the
/// account and pair lookups while a user stays in one account (the usual case).
#[derive(Clone, Copy)]
struct LastAccount {
    member: u32,
    len: u32,
    head: u64,
}

impl Default for LastAccount {
    fn default() -> Self {
        LastAccount {
            member: u32::MAX,
            len: 0,
            head: 0,
        }
    }
}

impl Ids {
    /// The member code of a user in an account; `None` past `FULL` distinct ids.
    #[inline]
    fn member(&mut self, user: &str, user_hash: u64, account: &str) -> Option<u32> {
        let limit = FULL as usize;
        let (user, last) = self.users.code_and_payload(user, user_hash, limit)?;
        if last.member != u32::MAX
            && last.len as usize == account.len()
            && last.head == head(account)
            && (account.len() <= HEAD_BYTES
                || self
                    .accounts
                    .get(self.members[last.member as usize].account)
                    == account)
        {
            return Some(last.member);
        }
        let account_code = self.accounts.code(account, limit)?;
        let key = (u64::from(user) << 32) | u64::from(account_code);
        let next = self.members.len() as u32;
        if next == FULL {
            return None;
        }
        let member = *self.member_codes.entry(key).or_insert(next);
        if member == next {
            self.members.push(Member {
                user,
                account: account_code,
            });
        }
        *last = LastAccount {
            member,
            len: account.len() as u32,
            head: head(account),
        };
        Some(member)
    }
}

/// The hasher of row fingerprints: a fixed seed and full mixing, as two different rows share a
/// fingerprint with a chance of about 2^-64 per pair (on the order of 1e-4 for 50M rows).
fn fingerprint_hasher() -> foldhash::quality::FixedState {
    foldhash::quality::FixedState::with_seed(0x6475_706c_6963_6174)
}

/// A hash of each row's raw value in `column` (text as read, or the typed value).
fn raw_hashes(column: &Column) -> PolarsResult<Vec<u64>> {
    const NULL: u64 = 0x9e37_79b9_7f4a_7c15;
    let state = fingerprint_hasher();
    Ok(match column.dtype() {
        DataType::String => column
            .str()?
            .iter()
            .map(|v| v.map_or(NULL, |s| state.hash_one(s)))
            .collect(),
        DataType::Null => vec![NULL; column.len()],
        t if t.is_float() => column
            .cast(&DataType::Float64)?
            .f64()?
            .iter()
            .map(|v| v.map_or(NULL, |x| state.hash_one(x.to_bits())))
            .collect(),
        _ => column
            .to_physical_repr()
            .cast(&DataType::Int64)?
            .i64()?
            .iter()
            .map(|v| v.map_or(NULL, |x| state.hash_one(x)))
            .collect(),
    })
}

/// The one lazy plan over all files, for `--explain`-style inspection in tests.
pub fn activity_plan(source: &EventSource, options: &EventOptions) -> Result<LazyFrame> {
    one_plan(&file_plans(source, options)?, options)
}

fn file_plans(source: &EventSource, options: &EventOptions) -> Result<Vec<FilePlan>> {
    match source {
        EventSource::Files(files) => files.iter().map(|file| plan_file(file, options)).collect(),
        EventSource::Frame { name, frame } => Ok(vec![plan_frame(name, frame, options)?]),
    }
}

/// Every file's scan, normalised, in one union.
fn one_plan(plans: &[FilePlan], options: &EventOptions) -> Result<LazyFrame> {
    let normalized: Vec<LazyFrame> = plans
        .iter()
        .map(|p| {
            normalize(p, options).select([
                col(BAD),
                col(DAY),
                col(c::USER),
                col(c::ACCOUNT),
                col(c::EVENT),
                col(PARSED_VALUE),
                col(RAW_TS),
                col(RAW_VALUE),
            ])
        })
        .collect();
    Ok(concat(normalized, UnionArgs::default())?)
}

fn missing_column_error(label: &str, role: &str, mapped: &str, found: &[String]) -> anyhow::Error {
    let hint = if mapped == role {
        format!(
            "if another column holds it, map it in nsm.toml: [events] {role} = \"<your column>\""
        )
    } else {
        format!("nsm.toml maps {role} to '{mapped}'; fix the mapping under [events]")
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
            for (role, mapped) in [
                ("timestamp", &cols.timestamp),
                ("user_id", &cols.user_id),
                ("event", &cols.event),
            ] {
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
                frame: select_columns(scan, cols, has_account, has_value, DataType::String),
                label,
                timestamp,
                has_account,
                has_value,
                csv: Some(file.clone()),
            })
        }
        FileFormat::Parquet => {
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
            plan_typed(label, scan, &schema, options)
        }
    }
}

/// An in-memory frame (the demo) is read like a typed file.
fn plan_frame(name: &str, frame: &DataFrame, options: &EventOptions) -> Result<FilePlan> {
    let schema = frame.schema().clone();
    plan_typed(name.to_string(), frame.clone().lazy(), &schema, options)
}

fn plan_typed(
    label: String,
    scan: LazyFrame,
    schema: &Schema,
    options: &EventOptions,
) -> Result<FilePlan> {
    let cols = &options.columns;
    let found: Vec<String> = schema.iter_names().map(|n| n.to_string()).collect();
    for (role, mapped) in [
        ("timestamp", &cols.timestamp),
        ("user_id", &cols.user_id),
        ("event", &cols.event),
    ] {
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
            format!("has type {dtype}; expected {wanted}"),
        )
        .into()
    };
    let ts_type = schema
        .get(&cols.timestamp)
        .cloned()
        .unwrap_or(DataType::Null);
    let timestamp = match &ts_type {
        DataType::Datetime(unit, _) => TimestampKind::Datetime {
            per_day: match unit {
                TimeUnit::Milliseconds => 86_400_000,
                TimeUnit::Microseconds => 86_400_000_000,
                TimeUnit::Nanoseconds => 86_400_000_000_000,
            },
        },
        DataType::Date => TimestampKind::Date,
        t if t.is_integer() || t.is_float() => TimestampKind::EpochNumber,
        DataType::String => {
            let sample = scan
                .clone()
                .select([col(cols.timestamp.as_str())])
                .drop_nulls(None)
                .limit(1)
                .collect()?;
            let first = sample
                .column(&cols.timestamp)
                .ok()
                .and_then(|c| c.str().ok().and_then(|s| s.get(0).map(str::to_string)));
            match first {
                None => TimestampKind::Text(TimestampFamily::Iso),
                Some(text) => TimestampKind::Text(TimestampFamily::detect(&text).ok_or_else(|| {
                    InputError::at(&label, None, Some(&cols.timestamp), Some(&text),
                        "not a timestamp nsm can read (ISO 8601, a date, or epoch seconds/milliseconds)")
                })?),
            }
        }
        other => {
            return Err(type_error(
                &cols.timestamp,
                other,
                "a datetime, date, epoch number or text",
            ))
        }
    };
    for (column, required) in [
        (&cols.user_id, true),
        (&cols.event, true),
        (&cols.account_id, false),
    ] {
        match schema.get(column) {
            Some(t) if t.is_string() || t.is_integer() => {}
            Some(other) => return Err(type_error(column, other, "text or integer ids")),
            None if required => unreachable!("required columns were checked above"),
            None => {}
        }
    }
    if let Some(t) = schema.get(&cols.value) {
        if !(t.is_primitive_numeric() || t.is_string() || t.is_null()) {
            return Err(type_error(&cols.value, t, "a number"));
        }
    }
    let has_account = schema.get(&cols.account_id).is_some();
    let has_value = schema.get(&cols.value).is_some();
    let ts_dtype = match timestamp {
        TimestampKind::Text(_) | TimestampKind::TextFormat(_) => DataType::String,
        _ => ts_type.clone(),
    };
    Ok(FilePlan {
        frame: select_columns(scan, cols, has_account, has_value, ts_dtype),
        label,
        timestamp,
        has_account,
        has_value,
        csv: None,
    })
}

/// Keep only the mapped columns, under internal names, as text ids.
fn select_columns(
    scan: LazyFrame,
    cols: &EventColumns,
    has_account: bool,
    has_value: bool,
    ts_dtype: DataType,
) -> LazyFrame {
    let user = col(cols.user_id.as_str()).cast(DataType::String);
    let account = if has_account {
        col(cols.account_id.as_str()).cast(DataType::String)
    } else {
        user.clone()
    };
    let value = if has_value {
        col(cols.value.as_str())
    } else {
        lit(NULL).cast(DataType::String)
    };
    scan.select([
        col(cols.timestamp.as_str()).cast(ts_dtype).alias(RAW_TS),
        user.clone().alias(c::USER),
        // Events without an account belong to their user's own account.
        account.fill_null(user).alias(c::ACCOUNT),
        col(cols.event.as_str())
            .cast(DataType::String)
            .alias(c::EVENT),
        value.alias(RAW_VALUE),
    ])
}

/// Parsed day, value and a bad-row flag, with `--as-of` applied.
fn normalize(plan: &FilePlan, options: &EventOptions) -> LazyFrame {
    let raw = col(RAW_TS);
    let day = match plan.timestamp {
        TimestampKind::Text(family) => family.day_expr(raw),
        TimestampKind::TextFormat(format) => fast_day_expr(raw, format),
        TimestampKind::Datetime { per_day } => raw
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

fn finish(
    loaded: Loader,
    plans: &[FilePlan],
    options: &EventOptions,
    has_account: bool,
    has_value: bool,
) -> Result<Activity> {
    let bad_rows = loaded.bad_rows;
    let (loaded, users) = loaded
        .merge()
        .map_err(|failure| failure.to_error(plans, options))?;
    let mut skipped_examples = Vec::new();
    if bad_rows > 0 {
        let examples = locate_bad_rows(plans, options, 5)?;
        if !options.skip_bad_rows {
            return Err(match examples.first() {
                Some(bad) => anyhow::Error::new(InputError::new(format!(
                    "{}; {} bad row(s) in all; fix them or pass --skip-bad-rows to skip and count them",
                    bad.to_error(),
                    bad_rows
                ))),
                None => InputError::new(format!(
                    "{bad_rows} event row(s) have an unreadable timestamp, an empty user or event, or a non-numeric value; pass --skip-bad-rows to skip and count them"
                ))
                .into(),
            });
        }
        skipped_examples = examples;
    }
    if loaded.events.is_empty() {
        let what = if options.as_of.is_some() {
            "no events on or before --as-of"
        } else {
            "no event rows"
        };
        let files: Vec<&str> = plans.iter().map(|p| p.label.as_str()).collect();
        return Err(InputError::new(format!("events {}: {what}", files.join(", "))).into());
    }
    let mut fingerprints = loaded.fingerprints;
    fingerprints.sort_unstable();
    let duplicate_rows = fingerprints.windows(2).filter(|w| w[0] == w[1]).count() as u64;
    drop(fingerprints);
    Ok(Activity {
        events_rows: loaded.events.len() as u64,
        events: loaded.events,
        users,
        accounts: loaded.ids.accounts,
        event_names: loaded.event_names,
        members: loaded.ids.members,
        first_day: loaded.first_day,
        last_day: loaded.last_day,
        has_account,
        has_value,
        skipped_rows: bad_rows,
        skipped_examples,
        duplicate_rows,
    })
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
                    "not a timestamp nsm can read (ISO 8601 such as 2024-03-01T12:00:00Z, a date, or epoch seconds/milliseconds)",
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

/// Find the first `limit` bad rows, with file lines, by reading the files again. Only runs when
/// the one pass has found bad rows, so it costs nothing on clean data.
fn locate_bad_rows(
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
fn explain_scan_failure(
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_user_in_two_accounts_is_two_members() {
        let mut ids = Ids {
            users: Names::default(),
            accounts: Names::default(),
            members: Vec::new(),
            member_codes: hashbrown::HashMap::with_hasher(hasher()),
        };
        let mut member =
            |user: &str, account: &str| ids.member(user, hasher().hash_one(user), account).unwrap();
        let long = "account-with-a-long-name-1";
        let long_too = "account-with-a-long-name-2";
        assert_eq!(member("u1", long), 0);
        assert_eq!(member("u1", long), 0);
        // Same length and first bytes as the account before: compared in full.
        assert_eq!(member("u1", long_too), 1);
        assert_eq!(member("u1", long), 0);
        assert_eq!(member("u2", "a"), 2);
        assert_eq!(member("u1", "a"), 3);
        assert_eq!(member("u2", "a"), 2);
        assert_eq!(
            ids.members,
            [
                Member {
                    user: 0,
                    account: 0
                },
                Member {
                    user: 0,
                    account: 1
                },
                Member {
                    user: 1,
                    account: 2
                },
                Member {
                    user: 0,
                    account: 2
                },
            ]
        );
    }
}
