//! Vendor event exports read as they are written: Amplitude, Mixpanel, Segment and PostHog
//! JSON lines (plain, gzip, or Amplitude's ZIP of gzipped files) and PostHog's Parquet batch
//! export. Each record is parsed by serde_json and its parts taken where the vendor keeps
//! them ([`fields`]); events repeating an insert id are dropped, the vendor's bookkeeping
//! events too, and the rest stored by the same loader as CSV rows, in batches, so memory is
//! that of the stored events. Lines are parsed on every core, in order.

mod fields;
mod prune;

use std::collections::BTreeMap;
use std::hash::BuildHasher;
use std::io::{BufRead, BufReader};

use anyhow::Result;
use polars::prelude::*;
use rayon::prelude::*;
use serde_json::{Map, Value};

pub use fields::Vendor;
use fields::{Group, Parts, Time, Wanted};

use super::options::EventOptions;
use super::plan::{col_names as c, BAD, DAY, PARSED_VALUE, RAW_TS, RAW_VALUE};
use super::store::Loader;
use crate::error::{shorten, InputError};
use crate::ingest::bad_row::BadRow;
use crate::ingest::columns::DEFAULT_VALUE;
use crate::ingest::source::{FileFormat, InputFile, Visit};
use crate::ingest::timestamp::{
    day_of_micros, epoch_micros, local_to_utc_micros, parse_epoch_micros, parse_iso_micros_in,
    NOT_A_TIMESTAMP,
};
use crate::progress::Counter;

/// Lines parsed together (on all cores) and stored as one batch.
const CHUNK_LINES: usize = 64 * 1024;
/// Bad rows kept as examples.
const EXAMPLES: usize = 5;

/// The vendor whose export the files are, and how that was decided; `None` for tables.
pub(super) fn detect(
    files: &[InputFile],
    options: &EventOptions,
) -> Result<Option<(Vendor, String)>> {
    if let Some(vendor) = options.format {
        for file in files {
            let fits = file.format.is_json()
                || (vendor == Vendor::Posthog && file.format == FileFormat::Parquet);
            if !fits {
                let posthog = if vendor == Vendor::Posthog {
                    " (or PostHog's Parquet batch export)"
                } else {
                    ""
                };
                return Err(InputError::new(format!(
                    "events file {}: is {}; the {} format reads JSON lines exports{posthog}: drop the format setting to read it as a table",
                    file.display(),
                    file.format.describe(),
                    vendor.key()
                ))
                .into());
            }
        }
        return Ok(Some((vendor, format!("events format '{}'", vendor.key()))));
    }
    let mut found: Option<(Vendor, String)> = None;
    let mut table: Option<&InputFile> = None;
    for file in files {
        let vendor = if file.format.is_json() {
            Some(detect_json(file)?)
        } else if file.format == FileFormat::Parquet && is_posthog_parquet(file, options)? {
            Some(Vendor::Posthog)
        } else {
            table = table.or(Some(file));
            None
        };
        if let Some(vendor) = vendor {
            match &found {
                Some((known, first)) if *known != vendor => {
                    return Err(InputError::new(format!(
                        "events file {}: looks like a {} export, but {first} is a {} one; read one vendor's export per run",
                        file.display(),
                        vendor.name(),
                        known.name()
                    ))
                    .into())
                }
                Some(_) => {}
                None => found = Some((vendor, file.display())),
            }
        }
    }
    match (found, table) {
        (Some((vendor, first)), Some(table)) => Err(InputError::new(format!(
            "events file {}: is a table ({}), but {first} is a {} export; read them in separate runs, or convert one to the other",
            table.display(),
            table.format.describe(),
            vendor.name()
        ))
        .into()),
        (Some((vendor, first)), None) => Ok(Some((
            vendor,
            format!("detected from the first record of {first}"),
        ))),
        (None, _) => Ok(None),
    }
}

/// PostHog's Parquet batch export: its columns, and not the mapped user id column.
fn is_posthog_parquet(file: &InputFile, options: &EventOptions) -> Result<bool> {
    let names = parquet_columns(file)?;
    let has = |name: &str| names.iter().any(|n| n == name);
    Ok(["event", "distinct_id", "timestamp", "properties"]
        .iter()
        .all(|n| has(n))
        && !has(&options.columns.user_id))
}

fn parquet_columns(file: &InputFile) -> Result<Vec<String>> {
    use polars::io::parquet::read::ParquetReader;
    let unreadable = |e: &dyn std::fmt::Display| -> anyhow::Error {
        InputError::new(format!(
            "events file {}: not a readable Parquet file: {e}",
            file.display()
        ))
        .into()
    };
    let handle = std::fs::File::open(&file.path).map_err(|e| unreadable(&e))?;
    let schema = ParquetReader::new(handle)
        .schema()
        .map_err(|e| unreadable(&e))?;
    Ok(schema.iter_names().map(|n| n.to_string()).collect())
}

/// The vendor of a JSON-lines file, from its first record.
fn detect_json(file: &InputFile) -> Result<Vendor> {
    let mut first: Option<(String, u64, String)> = None;
    for_each_line(file, &mut |label, line, text| {
        first = Some((label.to_string(), line, text.to_string()));
        Ok(Visit::Stop)
    })?;
    let Some((label, line, text)) = first else {
        return Err(
            InputError::new(format!("events file {}: has no records", file.display())).into(),
        );
    };
    let record = parse_object(&text)
        .map_err(|reason| InputError::at(&label, Some(line), None, Some(&text), reason))?;
    match Vendor::detect(&record).as_slice() {
        [one] => Ok(*one),
        [] => {
            let keys: Vec<&str> = record.keys().map(String::as_str).take(12).collect();
            Err(InputError::at(
                &label,
                Some(line),
                None,
                None,
                format!(
                    "a JSON record nsm does not recognise (keys: {}); nsm reads the event exports of Amplitude, Mixpanel, Segment and PostHog: if this is one of them, give --events-format; otherwise convert it to CSV",
                    keys.join(", ")
                ),
            )
            .into())
        }
        several => {
            let names: Vec<&str> = several.iter().map(|v| v.key()).collect();
            Err(InputError::at(
                &label,
                Some(line),
                None,
                None,
                format!(
                    "the first record fits the exports of {}; say which with --events-format",
                    names.join(" and ")
                ),
            )
            .into())
        }
    }
}

/// A JSON object, or why the text is not one.
fn parse_object(text: &str) -> Result<Map<String, Value>, String> {
    object_of(serde_json::from_str::<Value>(text))
}

/// A parsed record as an object, or what is wrong with it.
fn object_of(parsed: serde_json::Result<Value>) -> Result<Map<String, Value>, String> {
    match parsed {
        Ok(Value::Object(map)) => Ok(map),
        Ok(Value::Array(_)) => Err(
            "is a JSON array; nsm reads JSON lines (one event object per line), as the vendors' exports write them"
                .into(),
        ),
        Ok(_) => Err("is not a JSON object".into()),
        Err(e) => Err(format!("is not valid JSON ({e})")),
    }
}

/// Every non-blank line of a JSON-lines file (plain, gzip, or each JSON file of a ZIP archive
/// in name order), with the label of the file it is in (`archive.zip:inner.json.gz`) and its
/// line number, until `visit` says stop.
fn for_each_line(
    file: &InputFile,
    visit: &mut dyn FnMut(&str, u64, &str) -> Result<Visit>,
) -> Result<()> {
    let label = file.display();
    let open_error =
        |e: std::io::Error| InputError::new(format!("events file {label}: cannot open: {e}"));
    let handle = std::fs::File::open(&file.path).map_err(open_error)?;
    match file.format {
        FileFormat::Zip => {
            let mut archive = ::zip::ZipArchive::new(BufReader::new(handle)).map_err(|e| {
                InputError::new(format!(
                    "events file {label}: not a readable ZIP archive: {e}"
                ))
            })?;
            let mut names: Vec<String> = archive
                .file_names()
                .filter(|n| !n.ends_with('/'))
                .map(str::to_string)
                .collect();
            names.sort();
            if names.is_empty() {
                return Err(InputError::new(format!(
                    "events file {label}: the ZIP archive is empty"
                ))
                .into());
            }
            for name in names {
                let entry = archive.by_name(&name).map_err(|e| {
                    InputError::new(format!(
                        "events file {label}: cannot read {name} in the archive: {e}"
                    ))
                })?;
                let inner = format!("{label}:{name}");
                let mut reader = BufReader::new(entry);
                let gzip = reader
                    .fill_buf()
                    .map(|b| b.starts_with(&[0x1f, 0x8b]))
                    .unwrap_or(false);
                let reader: Box<dyn BufRead> = if gzip {
                    Box::new(BufReader::new(flate2::bufread::MultiGzDecoder::new(reader)))
                } else {
                    Box::new(reader)
                };
                if let Visit::Stop = read_lines(reader, &inner, visit)? {
                    return Ok(());
                }
            }
            Ok(())
        }
        FileFormat::GzipJsonLines => {
            let reader = BufReader::new(flate2::read::MultiGzDecoder::new(BufReader::new(handle)));
            read_lines(reader, &label, visit).map(|_| ())
        }
        _ => read_lines(BufReader::new(handle), &label, visit).map(|_| ()),
    }
}

fn read_lines(
    mut reader: impl BufRead,
    label: &str,
    visit: &mut dyn FnMut(&str, u64, &str) -> Result<Visit>,
) -> Result<Visit> {
    let mut text = String::new();
    let mut line = 0u64;
    loop {
        text.clear();
        let read = reader.read_line(&mut text).map_err(|e| {
            let what = if e.kind() == std::io::ErrorKind::InvalidData {
                "the text is not valid UTF-8".to_string()
            } else {
                format!("read failed ({e}); is the file complete?")
            };
            InputError::at(label, Some(line + 1), None, None, what)
        })?;
        if read == 0 {
            return Ok(Visit::Continue);
        }
        line += 1;
        let trimmed = text.trim_end_matches(['\n', '\r']);
        let trimmed = if line == 1 {
            trimmed.trim_start_matches('\u{feff}')
        } else {
            trimmed
        };
        if trimmed.trim().is_empty() {
            continue;
        }
        if let Visit::Stop = visit(label, line, trimmed)? {
            return Ok(Visit::Stop);
        }
    }
}

/// One record, before it is parsed: a line of text, or a row of a Parquet export.
enum Raw {
    Line(String),
    Row(Map<String, Value>),
}

/// Where a record is: its file's label (an index) and line or row.
struct At {
    label: usize,
    line: u64,
}

/// What one record became.
enum Outcome {
    Event(Event),
    /// A bookkeeping event, by name.
    Internal(String),
    Bad(Bad),
}

struct Bad {
    column: String,
    value: String,
    reason: String,
}

struct Event {
    day: i32,
    user: String,
    fallback: bool,
    account: Option<String>,
    several: bool,
    event: String,
    value: Option<f64>,
    raw_value: Option<String>,
    raw_ts: String,
    key: Option<u64>,
    /// Group types the event has, kept only while the mapped one has never been found.
    group_types: Vec<String>,
}

/// How to read the records: the vendor, what to look for, the zone of zone-less times.
struct Reading<'a> {
    vendor: Vendor,
    wanted: Wanted<'a>,
    /// The fields of a record that are read; the rest is skipped as it is parsed.
    keep: prune::Keep,
    account_path: String,
    value_path: String,
    zone: Option<chrono_tz::Tz>,
}

impl Reading<'_> {
    fn outcome(&self, raw: Raw) -> Outcome {
        let mut record = match raw {
            Raw::Line(text) => match object_of(prune::parse(&text, &self.keep)) {
                Ok(map) => map,
                Err(reason) => {
                    return Outcome::Bad(Bad {
                        column: "(record)".into(),
                        value: shorten(&text),
                        reason,
                    })
                }
            },
            Raw::Row(map) => map,
        };
        // PostHog's Parquet (and some of its JSON) holds `properties` as JSON text.
        if let Some(Value::String(text)) = record.get("properties") {
            let keep = self.keep.child_of("properties");
            match prune::parse(text, keep) {
                Ok(properties @ Value::Object(_)) => {
                    record.insert("properties".into(), properties);
                }
                _ => {
                    return Outcome::Bad(Bad {
                        column: "properties".into(),
                        value: shorten(text),
                        reason: "is not a JSON object".into(),
                    })
                }
            }
        }
        let record = &record;
        let parts = self.vendor.parts(record, &self.wanted);
        self.event(record, parts).unwrap_or_else(Outcome::Bad)
    }

    fn event(&self, record: &Map<String, Value>, parts: Parts) -> Result<Outcome, Bad> {
        let paths = self.vendor.paths();
        let bad = |column: &str, value: &str, reason: &str| Bad {
            column: column.to_string(),
            value: value.to_string(),
            reason: reason.to_string(),
        };
        let Some(event) = parts.event else {
            return Err(bad(paths.event, "", "event name is empty"));
        };
        if parts.internal {
            return Ok(Outcome::Internal(event));
        }
        let Some(time) = parts.time else {
            let reason = if parts.time_text.is_empty() {
                "timestamp is empty"
            } else {
                NOT_A_TIMESTAMP
            };
            return Err(bad(paths.time, &parts.time_text, reason));
        };
        let micros = match time {
            Time::Text(text) => parse_iso_micros_in(text, self.zone)
                .or_else(|| parse_epoch_micros(text).and_then(|m| self.wall_to_utc(m))),
            Time::Epoch(number) => epoch_micros(number).and_then(|m| self.wall_to_utc(m)),
        };
        let Some(day) = micros.and_then(day_of_micros) else {
            return Err(bad(paths.time, &parts.time_text, NOT_A_TIMESTAMP));
        };
        let (user, fallback) = match (parts.user, parts.fallback) {
            (Some(user), _) => (user, false),
            (None, Some(device)) => (device, true),
            (None, None) => {
                return Err(bad(
                    paths.user,
                    "",
                    &format!("user id is empty, and so is {}", paths.fallback),
                ))
            }
        };
        let (value, raw_value) = match parts.value {
            None | Some(Value::Null) => (None, None),
            Some(Value::Number(n)) => (n.as_f64(), Some(n.to_string())),
            Some(Value::String(s)) if s.trim().is_empty() => (None, None),
            Some(Value::String(s)) => match s.trim().parse::<f64>() {
                Ok(v) if v.is_finite() => (Some(v), Some(s.clone())),
                _ => return Err(bad(&self.value_path, s, "not a finite number")),
            },
            Some(other) => {
                return Err(bad(
                    &self.value_path,
                    &other.to_string(),
                    "not a finite number",
                ))
            }
        };
        let (account, several) = match parts.account {
            Group::None => (None, false),
            Group::One(id) => (Some(id), false),
            Group::Several(first) => (Some(first), true),
        };
        let group_types = if account.is_none() {
            self.vendor.group_types(record)
        } else {
            Vec::new()
        };
        let key = parts.insert_id.map(|id| key_hasher().hash_one(id.as_str()));
        Ok(Outcome::Event(Event {
            day,
            user,
            fallback,
            account,
            several,
            event,
            value,
            raw_value,
            raw_ts: parts.time_text,
            key,
            group_types,
        }))
    }

    /// An epoch number read as wall time in the zone (legacy Mixpanel projects), or as UTC.
    fn wall_to_utc(&self, micros: i64) -> Option<i64> {
        match self.zone {
            Some(zone) => local_to_utc_micros(micros, zone),
            None => Some(micros),
        }
    }
}

fn key_hasher() -> foldhash::quality::FixedState {
    foldhash::quality::FixedState::with_seed(0x696e_7365_7274_6964)
}

/// What the pass counted, for the notes.
#[derive(Default)]
struct Tally {
    fallback: u64,
    duplicates: u64,
    internal: BTreeMap<String, u64>,
    without_account: u64,
    several: u64,
    with_value: u64,
    group_types: std::collections::BTreeSet<String>,
    bad: u64,
    examples: Vec<BadRow>,
}

/// The rows of one batch for the loader.
#[derive(Default)]
struct Batch {
    day: Vec<i32>,
    user: Vec<String>,
    account: Vec<String>,
    event: Vec<String>,
    value: Vec<Option<f64>>,
    raw_ts: Vec<String>,
    raw_value: Vec<Option<String>>,
    fallback: Vec<bool>,
}

impl Batch {
    fn push(&mut self, e: Event) {
        self.day.push(e.day);
        // Events without an account belong to their user's own account, as in tables.
        self.account
            .push(e.account.unwrap_or_else(|| e.user.clone()));
        self.user.push(e.user);
        self.event.push(e.event);
        self.value.push(e.value);
        self.raw_ts.push(e.raw_ts);
        self.raw_value.push(e.raw_value);
        self.fallback.push(e.fallback);
    }

    fn store(&mut self, loader: &mut Loader) -> Result<()> {
        if self.day.is_empty() {
            return Ok(());
        }
        let batch = std::mem::take(self);
        let rows = batch.day.len();
        let frame = df!(
            BAD => vec![false; rows],
            DAY => batch.day,
            c::USER => batch.user,
            c::ACCOUNT => batch.account,
            c::EVENT => batch.event,
            PARSED_VALUE => batch.value,
            RAW_TS => batch.raw_ts,
            RAW_VALUE => batch.raw_value,
        )?;
        loader.add(&frame)?;
        Ok(())
    }
}

/// What a vendor pass leaves for [`super::finish`].
pub(super) struct Loaded {
    pub(super) loader: Loader,
    pub(super) labels: Vec<String>,
    pub(super) examples: Vec<BadRow>,
    pub(super) has_account: bool,
    pub(super) notes: Vec<String>,
}

/// Read every file as `vendor`'s export into the loader.
pub(super) fn load(
    files: &[InputFile],
    vendor: Vendor,
    how: &str,
    options: &EventOptions,
    counter: &Counter,
) -> Result<Loaded> {
    let wanted = Wanted {
        group: &options.columns.account_id,
        value: &options.columns.value,
    };
    let reading = Reading {
        vendor,
        keep: vendor.keep(&wanted),
        wanted,
        account_path: vendor.account_path(&options.columns.account_id),
        value_path: vendor.value_path(&options.columns.value),
        zone: if vendor == Vendor::Mixpanel {
            options.timezone
        } else {
            None
        },
    };
    let mut loader = Loader::new(true);
    let mut labels: Vec<String> = Vec::new();
    let mut parquet: Vec<usize> = Vec::new();
    let mut tally = Tally::default();
    let mut seen = hashbrown::HashSet::with_hasher(foldhash::fast::FixedState::default());
    let mut chunk: Vec<(At, Raw)> = Vec::with_capacity(CHUNK_LINES);
    let mut process = |chunk: &mut Vec<(At, Raw)>,
                       labels: &[String],
                       parquet: &[usize],
                       loader: &mut Loader|
     -> Result<()> {
        let outcomes: Vec<Outcome> = chunk
            .par_iter_mut()
            .map(|(_, raw)| reading.outcome(std::mem::replace(raw, Raw::Line(String::new()))))
            .collect();
        let mut batch = Batch::default();
        for ((at, _), outcome) in chunk.iter().zip(outcomes) {
            match outcome {
                Outcome::Internal(name) => *tally.internal.entry(name).or_default() += 1,
                Outcome::Bad(bad) => {
                    tally.bad += 1;
                    if tally.examples.len() < EXAMPLES {
                        // A Parquet file has rows, not lines.
                        let (file, line) = if parquet.contains(&at.label) {
                            (format!("{} (row {})", labels[at.label], at.line), None)
                        } else {
                            (labels[at.label].clone(), Some(at.line))
                        };
                        tally.examples.push(BadRow {
                            file,
                            line,
                            column: bad.column,
                            value: bad.value,
                            reason: bad.reason,
                        });
                    }
                }
                Outcome::Event(event) => {
                    if options.as_of.is_some_and(|as_of| event.day > as_of) {
                        continue;
                    }
                    if let Some(key) = event.key {
                        if !seen.insert(key) {
                            tally.duplicates += 1;
                            continue;
                        }
                    }
                    tally.fallback += u64::from(event.fallback);
                    tally.several += u64::from(event.several);
                    tally.with_value += u64::from(event.value.is_some());
                    if event.account.is_none() {
                        tally.without_account += 1;
                        if tally.group_types.len() < 20 {
                            tally.group_types.extend(event.group_types.iter().cloned());
                        }
                    }
                    batch.push(event);
                }
            }
        }
        counter.add(chunk.len() as u64);
        chunk.clear();
        batch.store(loader)?;
        if let Some(failure) = &loader.failure {
            return Err(failure.to_error(labels, options).into());
        }
        Ok(())
    };
    for file in files {
        if file.format == FileFormat::Parquet {
            if !chunk.is_empty() {
                process(&mut chunk, &labels, &parquet, &mut loader)?;
            }
            labels.push(file.display());
            let label = labels.len() - 1;
            parquet.push(label);
            for_each_parquet_row(file, &mut |row, record| {
                chunk.push((At { label, line: row }, Raw::Row(record)));
                if chunk.len() == CHUNK_LINES {
                    process(&mut chunk, &labels, &parquet, &mut loader)?;
                }
                Ok(())
            })?;
            continue;
        }
        for_each_line(file, &mut |label, line, text| {
            if labels.last().map(String::as_str) != Some(label) {
                if !chunk.is_empty() {
                    process(&mut chunk, &labels, &parquet, &mut loader)?;
                }
                labels.push(label.to_string());
            }
            chunk.push((
                At {
                    label: labels.len() - 1,
                    line,
                },
                Raw::Line(text.to_string()),
            ));
            if chunk.len() == CHUNK_LINES {
                process(&mut chunk, &labels, &parquet, &mut loader)?;
            }
            Ok(Visit::Continue)
        })?;
    }
    if !chunk.is_empty() {
        process(&mut chunk, &labels, &parquet, &mut loader)?;
    }
    let stored = loader
        .shards
        .iter()
        .map(|s| s.events.len() as u64)
        .sum::<u64>();
    let has_account = stored > tally.without_account;
    let notes = notes(&reading, how, options, &tally, has_account);
    loader.bad_rows = tally.bad;
    Ok(Loaded {
        loader,
        labels,
        examples: tally.examples,
        has_account,
        notes,
    })
}

fn notes(
    reading: &Reading,
    how: &str,
    options: &EventOptions,
    tally: &Tally,
    has_account: bool,
) -> Vec<String> {
    let vendor = reading.vendor;
    let paths = vendor.paths();
    let name = vendor.name();
    let mut notes = vec![format!("events read as {name}'s export format ({how})")];
    if tally.duplicates > 0 {
        let key = match vendor {
            Vendor::Mixpanel => "event, distinct_id, time and $insert_id".to_string(),
            Vendor::Amplitude => "device and $insert_id".to_string(),
            _ => paths.insert_id.to_string(),
        };
        notes.push(format!(
            "{} event(s) repeated an earlier event's {key} and were dropped, as {name} de-duplicates them",
            tally.duplicates
        ));
    }
    if !tally.internal.is_empty() {
        let total: u64 = tally.internal.values().sum();
        let list: Vec<String> = tally
            .internal
            .iter()
            .map(|(event, n)| format!("{event} ({n})"))
            .collect();
        notes.push(format!(
            "dropped {total} {name} bookkeeping event(s), which record no use of the product: {}",
            list.join(", ")
        ));
    }
    if tally.fallback > 0 {
        notes.push(format!(
            "{} event(s) had no {} and were counted under their {} (visitors not identified yet)",
            tally.fallback, paths.user, paths.fallback
        ));
    }
    let group = reading.wanted.group;
    if !has_account {
        let found = match vendor {
            Vendor::Segment => format!("no event has {}", reading.account_path),
            Vendor::Mixpanel => format!(
                "no event has the group key property {}; map account_id to yours ([events] account_id = \"company_id\" in nsm.toml, or --map account_id=company_id)",
                reading.account_path
            ),
            _ => {
                let seen = if tally.group_types.is_empty() {
                    "no event has any group".to_string()
                } else {
                    let types: Vec<&str> = tally.group_types.iter().map(String::as_str).collect();
                    format!("group types in the export: {}", types.join(", "))
                };
                format!(
                    "no event has the group type '{group}' ({}); {seen}; map account_id to the group type ([events] account_id = \"<type>\" in nsm.toml, or --map account_id=<type>)",
                    reading.account_path
                )
            }
        };
        notes.push(format!("{found}: each user counts as its own account"));
    } else if tally.without_account > 0 {
        notes.push(format!(
            "{} event(s) have no {}: each counts in its user's own account",
            tally.without_account, reading.account_path
        ));
    }
    if tally.several > 0 {
        notes.push(format!(
            "{} event(s) belong to several '{group}' groups; each is counted in the first listed",
            tally.several
        ));
    }
    if tally.with_value == 0 && reading.wanted.value != DEFAULT_VALUE {
        notes.push(format!(
            "no event has {}: value candidates have nothing to add up",
            reading.value_path
        ));
    }
    if options.timezone.is_some() && vendor != Vendor::Mixpanel {
        notes.push(format!(
            "the time zone setting does not apply to {name} exports: their times are UTC or carry their offset"
        ));
    }
    notes
}

/// Every row of PostHog's Parquet batch export as a record like its JSON lines (row numbers
/// from 1), timestamps as epoch microseconds.
fn for_each_parquet_row(
    file: &InputFile,
    visit: &mut dyn FnMut(u64, Map<String, Value>) -> Result<()>,
) -> Result<()> {
    let label = file.display();
    let unreadable = |e: PolarsError| {
        InputError::new(format!(
            "events file {label}: not a readable Parquet file: {e}"
        ))
    };
    let names = parquet_columns(file)?;
    let wanted = ["uuid", "event", "distinct_id", "timestamp", "properties"];
    let present: Vec<&str> = wanted
        .into_iter()
        .filter(|w| names.iter().any(|n| n == w))
        .collect();
    let mut scan = LazyFrame::scan_parquet(
        PlRefPath::from(file.path.to_string_lossy().as_ref()),
        ScanArgsParquet::default(),
    )
    .map_err(unreadable)?;
    let schema = scan.collect_schema().map_err(unreadable)?;
    let columns: Vec<Expr> = present
        .iter()
        .map(|name| match schema.get(name) {
            Some(DataType::Datetime(unit, _)) => {
                let per_micro = match unit {
                    TimeUnit::Milliseconds => -1_000,
                    TimeUnit::Microseconds => 1,
                    TimeUnit::Nanoseconds => 1_000,
                };
                let physical = col(*name).cast(DataType::Int64);
                if per_micro < 0 {
                    physical * lit(-per_micro)
                } else {
                    physical.floor_div(lit(per_micro))
                }
                .alias(*name)
            }
            Some(t) if t.is_primitive_numeric() => col(*name),
            _ => col(*name).cast(DataType::String),
        })
        .collect();
    let frame = scan.select(columns).collect().map_err(unreadable)?;
    let height = frame.height();
    let mut readers: Vec<(&str, &Column)> = Vec::new();
    for name in &present {
        readers.push((name, frame.column(name).map_err(unreadable)?));
    }
    for row in 0..height {
        let mut record = Map::new();
        for (name, column) in &readers {
            let value = match column.get(row).map_err(unreadable)? {
                AnyValue::Null => Value::Null,
                AnyValue::String(s) => Value::String(s.to_string()),
                AnyValue::StringOwned(s) => Value::String(s.to_string()),
                AnyValue::Int64(v) => Value::from(v),
                other => match other.extract::<f64>() {
                    Some(v) => serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number),
                    None => Value::String(other.to_string()),
                },
            };
            record.insert(name.to_string(), value);
        }
        visit(row as u64 + 1, record)?;
    }
    Ok(())
}
