//! First contact with an export whose columns are not named `timestamp,user_id,...`: propose
//! the `[events]` mapping from the header and the first rows, saying how each column was
//! chosen, and refuse to guess where two columns fit equally well.

use anyhow::Result;
use polars::prelude::*;

use super::columns::{ColumnMap, EventColumns};
use super::source::{csv_header, for_each_record, FileFormat, InputFile, Visit};
use super::timestamp::TimestampFamily;
use crate::error::InputError;

/// Rows read to judge the columns.
const SAMPLE_ROWS: usize = 1000;

/// Names that say what a column holds, best first (compared without case, `-`, `_`, spaces).
const TIMESTAMP_NAMES: &[&str] = &[
    "timestamp",
    "eventtime",
    "occurredat",
    "time",
    "ts",
    "datetime",
    "eventtimestamp",
    "originaltimestamp",
    "createdat",
    "receivedat",
    "sentat",
    "date",
];
const USER_NAMES: &[&str] = &[
    "userid",
    "user",
    "member",
    "memberid",
    "distinctid",
    "personid",
    "actor",
    "actorid",
    "uid",
    "contactid",
    "visitorid",
    "anonymousid",
    "deviceid",
];
const ACCOUNT_NAMES: &[&str] = &[
    "accountid",
    "account",
    "workspace",
    "workspaceid",
    "organization",
    "organizationid",
    "org",
    "orgid",
    "team",
    "teamid",
    "company",
    "companyid",
    "groupid",
    "tenant",
    "tenantid",
    "customerid",
    "customer",
];
const EVENT_NAMES: &[&str] = &[
    "event",
    "eventname",
    "eventtype",
    "action",
    "activity",
    "name",
    "type",
];
const VALUE_NAMES: &[&str] = &[
    "value", "amount", "revenue", "price", "total", "quantity", "qty", "duration", "minutes",
    "seconds",
];

/// What a column's sampled values look like.
#[derive(Debug, Clone, Default)]
struct Profile {
    name: String,
    non_empty: usize,
    /// Every non-empty value reads as a date-time or date (typed, or ISO text).
    dates: bool,
    /// Every non-empty value is a number.
    numbers: bool,
    /// Every non-empty value is an integer.
    integers: bool,
    distinct: usize,
}

impl Profile {
    fn new(name: &str, values: &[Option<String>], typed_date: bool) -> Self {
        let present: Vec<&str> = values
            .iter()
            .flatten()
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
            .collect();
        let mut distinct: Vec<&str> = present.clone();
        distinct.sort_unstable();
        distinct.dedup();
        let numbers = !present.is_empty() && present.iter().all(|v| v.parse::<f64>().is_ok());
        Self {
            name: name.to_string(),
            non_empty: present.len(),
            dates: typed_date
                || (!present.is_empty()
                    && present
                        .iter()
                        .all(|v| TimestampFamily::detect(v) == Some(TimestampFamily::Iso))),
            numbers,
            integers: numbers && present.iter().all(|v| v.parse::<i64>().is_ok()),
            distinct: distinct.len(),
        }
    }

    /// Epoch numbers: integers of 9 to 19 digits that read as times (a column named like a
    /// time holding them is a timestamp; an id column of small integers is not).
    fn epoch_like(&self, values: &[Option<String>]) -> bool {
        self.integers
            && values.iter().flatten().all(|v| {
                let v = v.trim();
                v.is_empty()
                    || (v.len() >= 9
                        && v.len() <= 19
                        && TimestampFamily::detect(v) == Some(TimestampFamily::Epoch))
            })
    }
}

/// The reason of a column given with `--map`.
pub const GIVEN: &str = "given with --map";

/// How one role's column was chosen.
#[derive(Debug, Clone, PartialEq)]
pub struct Choice {
    pub role: &'static str,
    pub column: String,
    pub reason: String,
}

/// A proposed mapping: the columns, and a line per role saying why.
#[derive(Debug, Clone)]
pub struct Proposal {
    pub columns: EventColumns,
    pub choices: Vec<Choice>,
    /// Text columns left unmapped when no column is named like an account: one of them may be
    /// it.
    pub account_suspects: Vec<String>,
}

fn normalized(name: &str) -> String {
    name.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

/// The rank of a column's name in a role's list (0 best), if it is there.
fn name_rank(name: &str, names: &[&str]) -> Option<usize> {
    let key = normalized(name);
    names.iter().position(|n| *n == key)
}

/// The first rows of a file, column by column, as text (typed Parquet columns: whether each
/// is a date or date-time, and its values printed).
fn sample(file: &InputFile, delimiter: u8) -> Result<Vec<(Profile, Vec<Option<String>>)>> {
    let label = file.display();
    if file.format.is_json() {
        return Err(InputError::new(format!(
            "events file {label}: is {} but not an export nsm recognises; give --events-format, or convert it to CSV",
            file.format.describe()
        ))
        .into());
    }
    match file.format {
        FileFormat::Csv | FileFormat::GzipCsv => {
            let header = csv_header(file, delimiter)?;
            let mut values: Vec<Vec<Option<String>>> = vec![Vec::new(); header.len()];
            let mut rows = 0;
            for_each_record(file, delimiter, |record| {
                for (i, column) in values.iter_mut().enumerate() {
                    column.push(record.get(i).map(str::to_string));
                }
                rows += 1;
                Ok(if rows >= SAMPLE_ROWS {
                    Visit::Stop
                } else {
                    Visit::Continue
                })
            })?;
            Ok(header
                .iter()
                .zip(values)
                .map(|(name, column)| (Profile::new(name, &column, false), column))
                .collect())
        }
        _ => {
            let read_error = |e: PolarsError| {
                InputError::new(format!(
                    "events file {label}: not a readable Parquet file: {e}"
                ))
            };
            let frame = LazyFrame::scan_parquet(
                PlRefPath::from(file.path.to_string_lossy().as_ref()),
                ScanArgsParquet::default(),
            )
            .and_then(|scan| scan.limit(SAMPLE_ROWS as IdxSize).collect())
            .map_err(read_error)?;
            let mut out = Vec::new();
            for column in frame.columns() {
                let typed_date = matches!(column.dtype(), DataType::Datetime(..) | DataType::Date);
                let text: Vec<Option<String>> =
                    if column.dtype().is_primitive_numeric() || column.dtype().is_string() {
                        let strings = column.cast(&DataType::String).map_err(read_error)?;
                        let strings = strings.str().map_err(read_error)?;
                        strings.iter().map(|v| v.map(str::to_string)).collect()
                    } else {
                        // Dates, categories and the rest: their printed form is enough here.
                        (0..column.len())
                            .map(|i| column.get(i).ok().map(|v| v.to_string()))
                            .collect()
                    };
                out.push((
                    Profile::new(column.name().as_str(), &text, typed_date),
                    text,
                ));
            }
            Ok(out)
        }
    }
}

/// Pick one column for a role among `fits`: by the name list first; without a name that says
/// so, by `fallback` when it singles one out. Two equally good columns are an error naming
/// both (and the `--map` that settles it).
fn pick<'a>(
    role: &'static str,
    label: &str,
    fits: &[&'a Profile],
    names: &[&str],
    fallback: impl Fn(&[&'a Profile]) -> Option<(&'a Profile, String)>,
) -> Result<Option<Choice>> {
    let mut named: Vec<(usize, &Profile)> = fits
        .iter()
        .filter_map(|p| name_rank(&p.name, names).map(|rank| (rank, *p)))
        .collect();
    named.sort_by_key(|(rank, _)| *rank);
    if let Some((rank, best)) = named.first() {
        let others: Vec<&str> = named[1..]
            .iter()
            .filter(|(r, _)| r == rank)
            .map(|(_, p)| p.name.as_str())
            .collect();
        if !others.is_empty() {
            return Err(ambiguous(role, label, &best.name, &others));
        }
        return Ok(Some(Choice {
            role,
            column: best.name.clone(),
            reason: format!("its name says {}", describe(role)),
        }));
    }
    Ok(fallback(fits).map(|(profile, reason)| Choice {
        role,
        column: profile.name.clone(),
        reason,
    }))
}

fn describe(role: &str) -> &'static str {
    match role {
        "timestamp" => "when the event happened",
        "user_id" => "who did it",
        "account_id" => "which account (workspace, organization, team) it belongs to",
        "event" => "what was done",
        _ => "a number to sum",
    }
}

fn ambiguous(role: &str, label: &str, first: &str, others: &[&str]) -> anyhow::Error {
    let mut all = vec![first];
    all.extend_from_slice(others);
    InputError::new(format!(
        "events file {label}: cannot tell which column holds {role} ({}): candidates {}; choose one with --map {role}=<column>",
        describe(role),
        all.iter().map(|c| format!("'{c}'")).collect::<Vec<_>>().join(", ")
    ))
    .into()
}

fn unfound(role: &str, label: &str, profiles: &[Profile], what: &str) -> anyhow::Error {
    let names: Vec<&str> = profiles.iter().map(|p| p.name.as_str()).collect();
    InputError::new(format!(
        "events file {label}: no column looks like {role} ({}: {what}); columns found: {}; choose one with --map {role}=<column>",
        describe(role),
        names.join(", ")
    ))
    .into()
}

/// The `[events]` mapping for a file: the defaults where the file has them, `given` (from
/// `--map`) where set, and for the rest the column whose name and values fit the role.
pub fn propose_columns(file: &InputFile, delimiter: u8, given: &ColumnMap) -> Result<Proposal> {
    let label = file.display();
    let sampled = sample(file, delimiter)?;
    let profiles: Vec<Profile> = sampled.iter().map(|(p, _)| p.clone()).collect();
    let mut taken: Vec<String> = given.entries().map(|(_, c)| c.to_string()).collect();
    let mut choices: Vec<Choice> = given
        .entries()
        .map(|(role, column)| Choice {
            role,
            column: column.to_string(),
            reason: GIVEN.into(),
        })
        .collect();
    let free = |taken: &[String]| -> Vec<&Profile> {
        profiles
            .iter()
            .filter(|p| p.non_empty > 0 && !taken.contains(&p.name))
            .collect()
    };
    let is_given = |role: &str| given.entries().any(|(r, _)| r == role);

    // The timestamp: a column of dates or date-times, or of epoch numbers named like a time.
    if !is_given("timestamp") {
        let fits: Vec<&Profile> = free(&taken)
            .into_iter()
            .filter(|p| {
                p.dates
                    || (name_rank(&p.name, TIMESTAMP_NAMES).is_some()
                        && sampled
                            .iter()
                            .find(|(q, _)| q.name == p.name)
                            .is_some_and(|(q, values)| q.epoch_like(values)))
            })
            .collect();
        let choice = pick(
            "timestamp",
            &label,
            &fits,
            TIMESTAMP_NAMES,
            |fits| match fits {
                [only] => Some((*only, "the only column of dates and times".to_string())),
                _ => None,
            },
        )?;
        let choice = match choice {
            Some(c) => c,
            None if fits.len() > 1 => {
                let names: Vec<&str> = fits[1..].iter().map(|p| p.name.as_str()).collect();
                return Err(ambiguous("timestamp", &label, &fits[0].name, &names));
            }
            None => {
                return Err(unfound(
                    "timestamp",
                    &label,
                    &profiles,
                    "no column of ISO dates, date-times or epoch times",
                ))
            }
        };
        taken.push(choice.column.clone());
        choices.push(choice);
    }

    // The event: text with few distinct values.
    if !is_given("event") {
        let fits: Vec<&Profile> = free(&taken)
            .into_iter()
            .filter(|p| !p.numbers && !p.dates)
            .collect();
        let choice = pick("event", &label, &fits, EVENT_NAMES, |fits| {
            let names: Vec<&&Profile> = fits
                .iter()
                .filter(|p| p.distinct >= 1 && p.distinct <= 200.max(p.non_empty / 20))
                .collect();
            let fewest = names.iter().map(|p| p.distinct).min()?;
            let best: Vec<&&&Profile> = names.iter().filter(|p| p.distinct == fewest).collect();
            match best.as_slice() {
                [only] => Some((
                    **only,
                    format!(
                        "the text column with the fewest distinct values ({fewest} in the first rows)"
                    ),
                )),
                _ => None,
            }
        })?;
        let Some(choice) = choice else {
            return Err(unfound(
                "event",
                &label,
                &profiles,
                "no text column with few distinct values",
            ));
        };
        taken.push(choice.column.clone());
        choices.push(choice);
    }

    // The account: only by its name (a guess here would split or merge customers).
    if !is_given("account_id") {
        let fits: Vec<&Profile> = free(&taken).into_iter().filter(|p| !p.dates).collect();
        if let Some(choice) = pick("account_id", &label, &fits, ACCOUNT_NAMES, |_| None)? {
            taken.push(choice.column.clone());
            choices.push(choice);
        }
    }

    // The user: an id column, by name, else the one with the most distinct values.
    if !is_given("user_id") {
        let fits: Vec<&Profile> = free(&taken)
            .into_iter()
            .filter(|p| !p.dates && (!p.numbers || p.integers))
            .collect();
        let choice = pick("user_id", &label, &fits, USER_NAMES, |fits| {
            // Text ids before integer ones (an integer column may as well be a value).
            let text: Vec<&Profile> = fits.iter().copied().filter(|p| !p.numbers).collect();
            let pool = if text.is_empty() { fits } else { &text[..] };
            let most = pool.iter().map(|p| p.distinct).max()?;
            let best: Vec<&&Profile> = pool.iter().filter(|p| p.distinct == most).collect();
            match best.as_slice() {
                [only] if !only.numbers || pool.len() == 1 => Some((
                    **only,
                    format!(
                        "the id-like column with the most distinct values ({most} in the first rows)"
                    ),
                )),
                _ => None,
            }
        })?;
        let Some(choice) = choice else {
            let names: Vec<&str> = fits.iter().map(|p| p.name.as_str()).collect();
            return Err(match names.as_slice() {
                [first, rest @ ..] if !rest.is_empty() => ambiguous("user_id", &label, first, rest),
                _ => unfound("user_id", &label, &profiles, "no id-like column left"),
            });
        };
        taken.push(choice.column.clone());
        choices.push(choice);
    }

    // The value: a numeric column, by name, else the only numeric one left.
    if !is_given("value") {
        let fits: Vec<&Profile> = free(&taken)
            .into_iter()
            .filter(|p| p.numbers && !p.dates)
            .collect();
        let choice = pick("value", &label, &fits, VALUE_NAMES, |fits| match fits {
            [only] => Some((*only, "the only numeric column left".to_string())),
            _ => None,
        })?;
        if let Some(choice) = choice {
            choices.push(choice);
        }
    }

    let has_account = choices.iter().any(|c| c.role == "account_id");
    let account_suspects = if has_account {
        Vec::new()
    } else {
        free(&taken)
            .into_iter()
            .filter(|p| !p.numbers && !p.dates)
            .map(|p| p.name.clone())
            .collect()
    };
    let mut columns = EventColumns::default();
    for choice in &choices {
        columns.set(choice.role, &choice.column);
    }
    // SPEC order, so that the written file reads the same way every time.
    let order = ["timestamp", "user_id", "account_id", "event", "value"];
    choices.sort_by_key(|c| order.iter().position(|r| *r == c.role));
    Ok(Proposal {
        columns,
        choices,
        account_suspects,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_compare_without_case_or_separators() {
        assert_eq!(name_rank("Occurred-At", TIMESTAMP_NAMES), Some(2));
        assert_eq!(name_rank("workspace_id", ACCOUNT_NAMES), Some(3));
        assert_eq!(name_rank("colour", ACCOUNT_NAMES), None);
    }
}
