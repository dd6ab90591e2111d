//! Pre-aggregated input: series (and optionally each account's part) computed in a warehouse by
//! the queries of `nsm sql`, read instead of raw events and handed straight to the assembly.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Result;

use super::assemble::{assemble, CandidateSeries, Collected, CustomerValues};
use super::config::Config;
use super::{Kind, Window};
use crate::error::InputError;
use crate::ingest::activity::{Activity, Names};
use crate::ingest::dataset::Dataset;
use crate::ingest::source::{csv_header, for_each_record, record_line, resolve, InputFile, Visit};
use crate::period::{self, PeriodKind};

/// Reserved rows of the series query: the first and last event day, and the event count.
pub(crate) const FIRST_EVENT: &str = "_first_event";
pub(crate) const LAST_EVENT: &str = "_last_event";

/// What the two files hold.
pub(crate) struct Preaggregated {
    /// Event range and accounts, standing in for the events.
    pub(crate) activity: Activity,
    /// candidate -> period -> value.
    pub(crate) totals: BTreeMap<String, BTreeMap<i32, f64>>,
    /// Per candidate in config order, its per-account rows (`None` for ratios), when a
    /// customers file was given; account codes are those of `activity.accounts`.
    parts: Option<Vec<Option<Collected>>>,
}

/// A day from `2024-03-01` (also with a time), `2024-03` or `2024-W09`.
fn parse_day(text: &str) -> Option<i32> {
    let text = text.trim();
    if let Some(day) = crate::ingest::timestamp::parse_iso_day(text) {
        return Some(day);
    }
    if let Some(month) = period::parse_month_label(text) {
        return Some(period::month_first_day(month));
    }
    let (year, week) = text.split_once("-W")?;
    let date = chrono::NaiveDate::from_isoywd_opt(
        year.parse().ok()?,
        week.parse().ok()?,
        chrono::Weekday::Mon,
    )?;
    Some(period::day_of_date(date))
}

fn header_of(file: &InputFile, delimiter: u8, wanted: &[&str]) -> Result<Vec<usize>> {
    let header = csv_header(file, delimiter)?;
    wanted
        .iter()
        .map(|name| {
            header.iter().position(|h| h == name).ok_or_else(|| {
                InputError::new(format!(
                    "{}: missing column '{name}'; columns found: {}; expected {} (as `nsm sql` writes it)",
                    file.display(),
                    header.join(", "),
                    wanted.join(",")
                ))
                .into()
            })
        })
        .collect()
}

struct Row<'a> {
    line: Option<u64>,
    fields: Vec<&'a str>,
}

/// Every record of a CSV file with the wanted columns, in order.
fn read_rows(
    file: &InputFile,
    delimiter: u8,
    wanted: &[&str],
    mut visit: impl FnMut(Row) -> Result<()>,
) -> Result<()> {
    let positions = header_of(file, delimiter, wanted)?;
    for_each_record(file, delimiter, |record| {
        let fields = positions
            .iter()
            .map(|p| record.get(*p).unwrap_or(""))
            .collect();
        visit(Row {
            line: record_line(record),
            fields,
        })?;
        Ok(Visit::Continue)
    })
}

fn bad(
    file: &InputFile,
    line: Option<u64>,
    column: &str,
    value: &str,
    what: &str,
) -> anyhow::Error {
    InputError::at(
        &file.display(),
        line,
        Some(column),
        Some(value),
        what.to_string(),
    )
    .into()
}

fn unknown_candidate(file: &InputFile, line: Option<u64>, name: &str) -> anyhow::Error {
    bad(
        file,
        line,
        "candidate",
        name,
        "not a candidate of the config; generate the SQL and evaluate with the same nsm.toml",
    )
}

fn number(file: &InputFile, line: Option<u64>, text: &str) -> Result<f64> {
    text.trim()
        .parse::<f64>()
        .ok()
        .filter(|v| v.is_finite())
        .ok_or_else(|| bad(file, line, "value", text, "not a finite number"))
}

/// The key of a period date for a candidate: the period, or the ISO week for week windows,
/// checking that the date starts it.
fn key_of(
    file: &InputFile,
    line: Option<u64>,
    text: &str,
    kind: PeriodKind,
    window: Window,
) -> Result<i32> {
    let day = parse_day(text).ok_or_else(|| {
        bad(
            file,
            line,
            "period",
            text,
            "not a date such as 2024-03-01 (or 2024-03, 2024-W09)",
        )
    })?;
    let unit = match window {
        Window::Week => PeriodKind::Week,
        Window::Period => kind,
    };
    let key = unit.of_day(day);
    if unit.first_day(key) != day {
        return Err(bad(
            file,
            line,
            "period",
            text,
            &format!(
                "not the first day of a {}; were the queries written with the same --period?",
                unit.name()
            ),
        ));
    }
    Ok(key)
}

pub(crate) fn load(
    series: &Path,
    customers: Option<&Path>,
    config: &Config,
    kind: PeriodKind,
    delimiter: u8,
    as_of: Option<i32>,
) -> Result<Preaggregated> {
    let file = one_file(series, "series")?;
    let known: BTreeMap<&str, &Kind> = config
        .candidates
        .iter()
        .map(|c| (c.name.as_str(), &c.kind))
        .collect();
    let mut totals: BTreeMap<String, BTreeMap<i32, f64>> = BTreeMap::new();
    let (mut first_day, mut last_day, mut events) = (None, None, 0u64);
    read_rows(&file, delimiter, &["period", "candidate", "value"], |row| {
        let (period_text, name, value) = (row.fields[0], row.fields[1], row.fields[2]);
        if name == FIRST_EVENT || name == LAST_EVENT {
            let day = parse_day(period_text)
                .ok_or_else(|| bad(&file, row.line, "period", period_text, "not a date"))?;
            if name == FIRST_EVENT {
                first_day = Some(day);
                events = number(&file, row.line, value)?.max(0.0) as u64;
            } else {
                last_day = Some(day);
            }
            return Ok(());
        }
        if !known.contains_key(name) {
            return Err(unknown_candidate(&file, row.line, name));
        }
        let key = key_of(&file, row.line, period_text, kind, Window::Period)?;
        let value = number(&file, row.line, value)?;
        if as_of.is_some_and(|a| period::PeriodKind::first_day(kind, key) > a) {
            return Ok(());
        }
        if totals
            .entry(name.to_string())
            .or_default()
            .insert(key, value)
            .is_some()
        {
            return Err(bad(
                &file,
                row.line,
                "period",
                period_text,
                &format!("a second value for candidate '{name}' in this period"),
            ));
        }
        Ok(())
    })?;
    let missing: Vec<&str> = known
        .keys()
        .filter(|name| !totals.contains_key(**name))
        .copied()
        .collect();
    if !missing.is_empty() {
        return Err(InputError::new(format!(
            "series file {}: no rows for candidate(s) {}; generate the SQL and evaluate with the same nsm.toml",
            file.display(),
            missing.join(", ")
        ))
        .into());
    }
    // Without the reserved rows, the periods present are taken as complete.
    let periods = totals.values().flat_map(|t| t.keys().copied());
    let (lo, hi) = (periods.clone().min(), periods.max());
    let (Some(lo), Some(hi)) = (lo, hi) else {
        return Err(InputError::new(format!("series file {}: no rows", file.display())).into());
    };
    let first_day = first_day.unwrap_or_else(|| kind.first_day(lo));
    let mut last_day = last_day.unwrap_or_else(|| kind.last_day(hi));
    if let Some(a) = as_of {
        last_day = last_day.min(a);
    }
    let mut accounts = Names::default();
    let parts = customers
        .map(|path| load_parts(path, config, kind, delimiter, as_of, &mut accounts))
        .transpose()?;
    Ok(Preaggregated {
        activity: Activity::accounts_only(accounts, events, first_day, last_day),
        totals,
        parts,
    })
}

fn one_file(path: &Path, role: &str) -> Result<InputFile> {
    resolve(std::slice::from_ref(&path.to_path_buf()), role)?
        .into_iter()
        .next()
        .ok_or_else(|| InputError::new(format!("no {role} file given")).into())
}

fn load_parts(
    path: &Path,
    config: &Config,
    kind: PeriodKind,
    delimiter: u8,
    as_of: Option<i32>,
    accounts: &mut Names,
) -> Result<Vec<Option<Collected>>> {
    let file = one_file(path, "customers")?;
    let index: BTreeMap<&str, usize> = config
        .candidates
        .iter()
        .enumerate()
        .map(|(i, c)| (c.name.as_str(), i))
        .collect();
    let mut parts: Vec<Option<Collected>> = config
        .candidates
        .iter()
        .map(|c| {
            (!matches!(c.kind, Kind::Ratio { .. })).then(|| Collected {
                rows: Vec::new(),
                total: None,
                window: c.kind.window().0,
            })
        })
        .collect();
    read_rows(
        &file,
        delimiter,
        &["period", "candidate", "account", "value"],
        |row| {
            let (period_text, name, account, value) =
                (row.fields[0], row.fields[1], row.fields[2], row.fields[3]);
            let slot = match index.get(name) {
                Some(i) if parts[*i].is_some() => *i,
                Some(_) => {
                    return Err(bad(
                        &file,
                        row.line,
                        "candidate",
                        name,
                        "a ratio has no per-account part",
                    ))
                }
                None => return Err(unknown_candidate(&file, row.line, name)),
            };
            let window = parts[slot].as_ref().map_or(Window::Period, |p| p.window);
            let key = key_of(&file, row.line, period_text, kind, window)?;
            let unit = if window == Window::Week {
                PeriodKind::Week
            } else {
                kind
            };
            if as_of.is_some_and(|a| unit.first_day(key) > a) {
                return Ok(());
            }
            if account.is_empty() {
                return Err(bad(&file, row.line, "account", account, "empty account"));
            }
            let value = number(&file, row.line, value)?;
            let code = accounts.code(account, u32::MAX as usize).ok_or_else(|| {
                bad(
                    &file,
                    row.line,
                    "account",
                    account,
                    "more than 4,294,967,295 distinct accounts",
                )
            })?;
            if let Some(part) = &mut parts[slot] {
                part.rows.push((key, code, value));
            }
            Ok(())
        },
    )?;
    Ok(parts)
}

impl Preaggregated {
    /// Every candidate's series over the dataset's periods: the exact totals of the series file
    /// (distinct users are not a sum over accounts), with the per-account parts of the
    /// customers file where one was given.
    pub(crate) fn series<T: Send>(
        &self,
        config: &Config,
        dataset: &Dataset,
        per_customer: &(dyn Fn(usize, &CustomerValues) -> T + Sync),
    ) -> Result<Vec<(CandidateSeries, Option<T>)>> {
        let candidates = &config.candidates;
        let mut series = match &self.parts {
            Some(parts) => assemble(
                candidates,
                dataset,
                1.0,
                &self.activity.accounts,
                &[],
                |i| Ok(parts[i].clone()),
                per_customer,
            )?,
            None => candidates
                .iter()
                .map(|_| {
                    let series = CandidateSeries {
                        values: Vec::new(),
                        by_status: None,
                        per_account: None,
                    };
                    (series, None)
                })
                .collect(),
        };
        for ((s, _), candidate) in series.iter_mut().zip(candidates) {
            s.values = self.values(&candidate.name, dataset.periods());
        }
        Ok(series)
    }

    /// A candidate's values over the given periods (0 where the file has none).
    fn values(&self, name: &str, periods: impl Iterator<Item = i32>) -> Vec<f64> {
        let empty = BTreeMap::new();
        let totals = self.totals.get(name).unwrap_or(&empty);
        periods
            .map(|p| totals.get(&p).copied().unwrap_or(0.0))
            .collect()
    }
}
