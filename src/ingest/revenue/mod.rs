//! Revenue: aggregate (`period,revenue`), per customer (`date,customer_id,amount[,months]`),
//! or a billing export (Stripe invoice line items, ChartMogul activities), detected from the
//! header. Amounts covering several months are spread evenly over them.

mod billing;
mod entry;

pub use billing::RevenueFormat;
use entry::{cell_error, Rows};
pub use entry::{RevenueEntry, Span, Start};

use std::collections::BTreeMap;

use anyhow::Result;
use polars::prelude::*;

use super::source::{
    csv_header, delimiter_hint, for_each_record, record_line, FileFormat, InputFile, Visit,
};
use super::timestamp::TimestampFamily;
use crate::error::InputError;
use crate::period::{self, PeriodKind};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RevenueShape {
    Aggregate,
    PerCustomer,
}

#[derive(Debug, Clone)]
pub struct Revenue {
    pub shape: RevenueShape,
    pub rows: u64,
    pub entries: Vec<RevenueEntry>,
    pub source: String,
    /// What the output should say about the file (its currency, rows left out or converted).
    pub notes: Vec<String>,
}

/// How to read a revenue file: its format, and what to do with a `currency` column (amounts
/// in several currencies are never summed as they stand).
#[derive(Debug, Clone, Default)]
pub struct RevenueOptions {
    /// `--revenue-format`: the file's layout [default: detected from the header].
    pub format: Option<RevenueFormat>,
    /// `--currency`: keep the rows in this currency, leave the others out (counted).
    pub keep: Option<String>,
    /// `--fx`: convert every row to the reporting currency at these rates.
    pub fx: Option<FxRates>,
    /// Only checking the file (`nsm init`): several currencies are not an error.
    pub only_checking: bool,
}

/// Conversion rates to the reporting currency: one per currency, or per currency and month.
#[derive(Debug, Clone, Default)]
pub struct FxRates {
    source: String,
    /// (currency, month or `None` for every month) -> rate.
    rates: BTreeMap<(String, Option<i32>), f64>,
}

const CURRENCY_COLUMN: &str = "currency";

impl FxRates {
    /// Read `currency,rate` or `month,currency,rate` (CSV): an amount in the currency times
    /// the rate is the amount in the reporting currency.
    pub fn load(file: &InputFile, delimiter: u8) -> Result<FxRates> {
        let label = file.display();
        let (header, rows) = read_csv_rows(file, delimiter)?;
        let find = |name: &str| {
            header
                .iter()
                .position(|h| h.trim().eq_ignore_ascii_case(name))
        };
        let (Some(currency), Some(rate)) = (find("currency"), find("rate")) else {
            return Err(InputError::new(format!(
                "fx file {label}: unrecognised header ({}); expected 'currency,rate' or 'month,currency,rate'",
                header.join(", ")
            ))
            .into());
        };
        let month = find("month");
        let mut rates = BTreeMap::new();
        for (line, fields) in &rows {
            let field = |i: usize| fields.get(i).map(|s| s.trim()).unwrap_or("");
            let at = |column: usize, value: &str, what: &str| {
                cell_error(&label, *line, &header, column, value, what)
            };
            let code = field(currency).to_ascii_uppercase();
            if code.is_empty() {
                return Err(at(currency, "", "currency is empty"));
            }
            let value = match field(rate).parse::<f64>() {
                Ok(v) if v.is_finite() && v > 0.0 => v,
                _ => return Err(at(rate, field(rate), "not a positive number")),
            };
            let when = match month {
                None => None,
                Some(m) => Some(
                    period::parse_month_label(field(m))
                        .ok_or_else(|| at(m, field(m), "not a month (2024-03)"))?,
                ),
            };
            if rates.insert((code.clone(), when), value).is_some() {
                return Err(at(
                    currency,
                    &code,
                    "a second rate for the same currency and month",
                ));
            }
        }
        Ok(FxRates {
            source: label,
            rates,
        })
    }

    /// The rate of `currency` in `month` (a month's own rate, else the currency's only one).
    fn rate(&self, currency: &str, month: i32) -> Option<f64> {
        self.rates
            .get(&(currency.to_string(), Some(month)))
            .or_else(|| self.rates.get(&(currency.to_string(), None)))
            .copied()
    }
}

/// Revenue per period after spreading, in total and per customer.
#[derive(Debug, Clone, Default)]
pub struct SpreadRevenue {
    pub total: BTreeMap<i32, f64>,
    /// customer -> period -> amount; only for per-customer revenue.
    pub per_customer: Option<BTreeMap<String, BTreeMap<i32, f64>>>,
}

const AGGREGATE_COLUMNS: [&str; 2] = ["period", "revenue"];
const CUSTOMER_COLUMNS: [&str; 3] = ["date", "customer_id", "amount"];
const MONTHS_COLUMN: &str = "months";

/// The column positions of one of the two shapes.
enum Layout {
    Aggregate {
        period: usize,
        revenue: usize,
    },
    PerCustomer {
        date: usize,
        customer: usize,
        amount: usize,
        months: Option<usize>,
    },
}

fn detect_layout(header: &[String], label: &str) -> Result<Layout> {
    let find = |name: &str| header.iter().position(|h| h.eq_ignore_ascii_case(name));
    if let (Some(period), Some(revenue)) = (find("period"), find("revenue")) {
        return Ok(Layout::Aggregate { period, revenue });
    }
    if let (Some(date), Some(customer), Some(amount)) =
        (find("date"), find("customer_id"), find("amount"))
    {
        return Ok(Layout::PerCustomer {
            date,
            customer,
            amount,
            months: find(MONTHS_COLUMN),
        });
    }
    let hint = delimiter_hint(header);
    Err(InputError::new(format!(
        "revenue file {label}: unrecognised header ({}); expected either '{}' (aggregate) or '{}[,{MONTHS_COLUMN}]' (per customer), or a billing export: Stripe invoice line items (customer, amount, currency, status, period_start, period_end) or ChartMogul activities (customer-external-id, date, activity-mrr-movement, currency){hint}",
        header.join(", "),
        AGGREGATE_COLUMNS.join(","),
        CUSTOMER_COLUMNS.join(","),
    ))
    .into())
}

/// Read a revenue file (CSV, gzip CSV or Parquet): one of nsm's tables or a billing export.
/// Rows after `as_of` are left out; a `currency` column is handled as `options` say.
pub fn load_revenue(
    file: &InputFile,
    delimiter: u8,
    as_of: Option<i32>,
    options: &RevenueOptions,
) -> Result<Revenue> {
    let label = file.display();
    let (header, rows) = match file.format {
        FileFormat::Csv | FileFormat::GzipCsv => read_csv_rows(file, delimiter)?,
        FileFormat::Parquet => read_parquet_rows(file)?,
        other => {
            return Err(InputError::new(format!(
                "revenue file {label}: is {}; revenue is read from CSV (plain or gzip) or Parquet",
                other.describe()
            ))
            .into())
        }
    };
    let format = options
        .format
        .or_else(|| billing::detect(&header))
        .unwrap_or(RevenueFormat::Table);
    let (shape, read) = match format {
        RevenueFormat::Table => table_entries(&header, &rows, &label, as_of)?,
        RevenueFormat::Stripe => (
            RevenueShape::PerCustomer,
            billing::stripe(&header, &rows, &label, as_of)?,
        ),
        RevenueFormat::Chartmogul => (
            RevenueShape::PerCustomer,
            billing::chartmogul(&header, &rows, &label, as_of)?,
        ),
    };
    let billing::Billing {
        mut entries,
        codes,
        mut notes,
    } = read;
    if !codes.is_empty() {
        notes.extend(one_currency(&mut entries, &codes, options, &label)?);
    }
    if entries.is_empty() {
        let what = if rows.is_empty() {
            "has no data rows"
        } else if format == RevenueFormat::Table {
            "has no rows on or before --as-of"
        } else {
            "has no paid amounts on or before --as-of"
        };
        return Err(InputError::new(format!("revenue file {label}: {what}")).into());
    }
    Ok(Revenue {
        shape,
        rows: rows.len() as u64,
        entries,
        source: label,
        notes,
    })
}

/// The entries of one of nsm's own tables, with the currency of each where the file has a
/// `currency` column.
fn table_entries(
    header: &[String],
    rows: &Rows,
    label: &str,
    as_of: Option<i32>,
) -> Result<(RevenueShape, billing::Billing)> {
    let layout = detect_layout(header, label)?;
    let currency_column = header
        .iter()
        .position(|h| h.trim().eq_ignore_ascii_case(CURRENCY_COLUMN));
    let mut codes: Vec<String> = Vec::with_capacity(rows.len());
    let mut entries = Vec::with_capacity(rows.len());
    for (line, fields) in rows {
        let at = |column: usize, value: &str, what: &str| {
            cell_error(label, *line, header, column, value, what)
        };
        let field = |i: usize| fields.get(i).map(|s| s.trim()).unwrap_or("");
        let amount_of = |i: usize| -> Result<f64> {
            let text = field(i);
            match text.parse::<f64>() {
                Ok(v) if v.is_finite() => Ok(v),
                _ => Err(at(i, text, "not a finite number")),
            }
        };
        let entry = match layout {
            Layout::Aggregate { period, revenue } => {
                let text = field(period);
                let start = parse_start(text).ok_or_else(|| {
                    at(
                        period,
                        text,
                        "not a period (2024-03) or a date (2024-03-15)",
                    )
                })?;
                RevenueEntry {
                    customer: None,
                    start,
                    span: Span::Months(1),
                    amount: amount_of(revenue)?,
                }
            }
            Layout::PerCustomer {
                date,
                customer,
                amount,
                months,
            } => {
                let text = field(date);
                let start = parse_start(text).ok_or_else(|| {
                    at(date, text, "not a date (2024-03-15) or a month (2024-03)")
                })?;
                let id = field(customer);
                if id.is_empty() {
                    return Err(at(customer, id, "customer id is empty"));
                }
                let months = match months.map(field).filter(|t| !t.is_empty()) {
                    None => 1,
                    Some(text) => match text.parse::<i64>() {
                        Ok(n) if (1..=1200).contains(&n) => n as u32,
                        _ => {
                            return Err(at(
                                months.unwrap_or(0),
                                text,
                                "months must be a whole number from 1 to 1200 (the months the amount covers)",
                            ))
                        }
                    },
                };
                RevenueEntry {
                    customer: Some(id.to_string()),
                    start,
                    span: Span::Months(months),
                    amount: amount_of(amount)?,
                }
            }
        };
        let first_day = match entry.start {
            Start::Month(m) => period::month_first_day(m),
            Start::Day(d) => d,
        };
        if as_of.is_none_or(|limit| first_day <= limit) {
            if let Some(column) = currency_column {
                let code = field(column).to_ascii_uppercase();
                if code.is_empty() {
                    return Err(at(column, "", "currency is empty"));
                }
                codes.push(code);
            }
            entries.push(entry);
        }
    }
    let shape = match layout {
        Layout::Aggregate { .. } => RevenueShape::Aggregate,
        Layout::PerCustomer { .. } => RevenueShape::PerCustomer,
    };
    Ok((
        shape,
        billing::Billing {
            entries,
            codes,
            notes: Vec::new(),
        },
    ))
}

/// Bring every entry to one currency (`codes[i]` is entry i's): keep one, convert all, or
/// refuse to sum several. Returns the notes saying what was done.
fn one_currency(
    entries: &mut Vec<RevenueEntry>,
    codes: &[String],
    options: &RevenueOptions,
    label: &str,
) -> Result<Vec<String>> {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for code in codes {
        *counts.entry(code).or_default() += 1;
    }
    let listed = |counts: &BTreeMap<&str, usize>| {
        counts
            .iter()
            .map(|(code, n)| format!("{code} ({n} row{})", if *n == 1 { "" } else { "s" }))
            .collect::<Vec<_>>()
            .join(", ")
    };
    if let Some(fx) = &options.fx {
        let mut converted = 0;
        for (entry, code) in entries.iter_mut().zip(codes) {
            let month = match entry.start {
                Start::Month(m) => m,
                Start::Day(d) => period::month_of_day(d),
            };
            let rate = fx.rate(code, month).ok_or_else(|| {
                InputError::new(format!(
                    "revenue file {label}: fx file {} has no rate for {code} in {}",
                    fx.source,
                    PeriodKind::Month.label(month)
                ))
            })?;
            entry.amount *= rate;
            converted += 1;
        }
        return Ok(vec![format!(
            "revenue in {}: {converted} row(s) converted to the reporting currency at the rates of {}",
            listed(&counts),
            fx.source
        )]);
    }
    if let Some(keep) = &options.keep {
        let keep = keep.to_ascii_uppercase();
        if !counts.contains_key(keep.as_str()) {
            return Err(InputError::new(format!(
                "revenue file {label}: no rows in {keep} (--currency); currencies found: {}",
                listed(&counts)
            ))
            .into());
        }
        let mut index = 0;
        entries.retain(|_| {
            index += 1;
            codes[index - 1] == keep
        });
        let dropped: BTreeMap<&str, usize> = counts
            .iter()
            .filter(|(code, _)| **code != keep)
            .map(|(code, n)| (*code, *n))
            .collect();
        return Ok(vec![if dropped.is_empty() {
            format!("revenue in {keep}")
        } else {
            format!(
                "revenue in {keep} only (--currency): left out {}",
                listed(&dropped)
            )
        }]);
    }
    match counts.len() {
        0 => Ok(Vec::new()),
        _ if options.only_checking => Ok(Vec::new()),
        1 => Ok(vec![format!(
            "revenue in {}",
            counts.keys().next().expect("one currency")
        )]),
        n => Err(InputError::new(format!(
            "revenue file {label}: amounts in {n} currencies, {}; they cannot be summed as they stand: keep one with --currency {} (the others are left out and counted), or convert them with --fx rates.csv ('currency,rate' or 'month,currency,rate': an amount times its rate is the amount in your reporting currency)",
            listed(&counts),
            counts.keys().next().expect("several currencies")
        ))
        .into()),
    }
}

/// `2024-03` is a month; anything else must be a date or date-time.
fn parse_start(text: &str) -> Option<Start> {
    if let Some(month) = period::parse_month_label(text) {
        return Some(Start::Month(month));
    }
    TimestampFamily::Iso.parse_day(text).map(Start::Day)
}

fn read_csv_rows(file: &InputFile, delimiter: u8) -> Result<(Vec<String>, Rows)> {
    let header = csv_header(file, delimiter)?;
    let mut rows = Vec::new();
    for_each_record(file, delimiter, |record| {
        let line = record_line(record).unwrap_or(0);
        rows.push((line, record.iter().map(str::to_string).collect()));
        Ok(Visit::Continue)
    })?;
    Ok((header, rows))
}

/// Parquet rows as text, numbered from 2 so that messages read like a CSV's lines.
fn read_parquet_rows(file: &InputFile) -> Result<(Vec<String>, Rows)> {
    let label = file.display();
    let frame = LazyFrame::scan_parquet(
        PlRefPath::from(file.path.to_string_lossy().as_ref()),
        ScanArgsParquet::default(),
    )
    .and_then(|scan| scan.collect())
    .map_err(|e| {
        InputError::new(format!(
            "revenue file {label}: not a readable Parquet file: {e}"
        ))
    })?;
    let header: Vec<String> = frame
        .get_column_names()
        .iter()
        .map(|n| n.to_string())
        .collect();
    let columns: Vec<StringChunked> = frame
        .columns()
        .iter()
        .map(|c| {
            // A zoned timestamp is an instant: its UTC wall time, as text.
            let text = match c.dtype() {
                DataType::Datetime(unit, Some(_)) => c.cast(&DataType::Datetime(*unit, None)),
                _ => Ok(c.clone()),
            };
            text.and_then(|c| c.cast(&DataType::String))
                .and_then(|c| c.str().cloned())
                .map_err(|_| {
                    InputError::at(
                        &label,
                        None,
                        Some(c.name().as_str()),
                        None,
                        format!(
                            "has type {}, which nsm cannot read as text or numbers",
                            c.dtype()
                        ),
                    )
                })
        })
        .collect::<Result<_, InputError>>()?;
    let rows = (0..frame.height())
        .map(|i| {
            let fields = columns
                .iter()
                .map(|c| c.get(i).unwrap_or("").to_string())
                .collect();
            (i as u64 + 2, fields)
        })
        .collect();
    Ok((header, rows))
}

impl Revenue {
    /// Spread every amount over the periods it covers.
    ///
    /// Months: an amount covering `m` months adds `amount / m` to each of them. Weeks: the
    /// amount is spread over the days it covers and summed per week; a whole-month aggregate
    /// row covers the days of its month, a dated aggregate row is the week holding the date.
    pub fn spread(&self, kind: PeriodKind) -> SpreadRevenue {
        let mut total = BTreeMap::new();
        let mut per_customer: BTreeMap<String, BTreeMap<i32, f64>> = BTreeMap::new();
        for entry in &self.entries {
            let mut add = |period: i32, amount: f64| {
                *total.entry(period).or_insert(0.0) += amount;
                if let Some(customer) = &entry.customer {
                    *per_customer
                        .entry(customer.clone())
                        .or_default()
                        .entry(period)
                        .or_insert(0.0) += amount;
                }
            };
            match (kind, entry.start, entry.span) {
                (PeriodKind::Month, start, Span::Months(months)) => {
                    let first = match start {
                        Start::Month(m) => m,
                        Start::Day(d) => period::month_of_day(d),
                    };
                    let share = entry.amount / f64::from(months);
                    for k in 0..months as i32 {
                        add(first + k, share);
                    }
                }
                (PeriodKind::Week, Start::Day(d), Span::Months(1)) if entry.customer.is_none() => {
                    add(period::week_of_day(d), entry.amount);
                }
                (_, start, span) => {
                    let first_day = match start {
                        Start::Month(m) => period::month_first_day(m),
                        Start::Day(d) => d,
                    };
                    let end_day = match (start, span) {
                        (_, Span::Days(end)) => end,
                        (Start::Month(m), Span::Months(n)) => period::month_first_day(m + n as i32),
                        (Start::Day(d), Span::Months(n)) => add_months(d, n),
                    };
                    spread_days(kind, first_day, end_day, entry.amount, &mut add);
                }
            }
        }
        SpreadRevenue {
            total,
            per_customer: (self.shape == RevenueShape::PerCustomer).then_some(per_customer),
        }
    }
}

/// `amount` spread evenly over the days `first..end` (at least the first day), summed per
/// period.
fn spread_days(
    kind: PeriodKind,
    first: i32,
    end: i32,
    amount: f64,
    add: &mut impl FnMut(i32, f64),
) {
    let end = end.max(first + 1);
    let per_day = amount / f64::from(end - first);
    let mut day = first;
    while day < end {
        let index = kind.of_day(day);
        let next = kind.first_day(index + 1).min(end);
        add(index, per_day * f64::from(next - day));
        day = next;
    }
}

/// The same day of the month `months` later (clamped to the month's end).
fn add_months(day: i32, months: u32) -> i32 {
    let date = period::date_of_day(day);
    date.checked_add_months(chrono::Months::new(months))
        .map(period::day_of_date)
        .unwrap_or(day + 30 * months as i32)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(customer: &str, start: Start, span: Span, amount: f64) -> RevenueEntry {
        RevenueEntry {
            customer: Some(customer.into()),
            start,
            span,
            amount,
        }
    }

    #[test]
    fn annual_contract_spreads_over_twelve_months() {
        let jan = period::parse_month_label("2024-01").unwrap();
        let revenue = Revenue {
            shape: RevenueShape::PerCustomer,
            rows: 1,
            entries: vec![entry(
                "a",
                Start::Day(period::parse_date("2024-01-15").unwrap()),
                Span::Months(12),
                1200.0,
            )],
            source: "test".into(),
            notes: Vec::new(),
        };
        let spread = revenue.spread(PeriodKind::Month);
        assert_eq!(spread.total.len(), 12);
        assert_eq!(spread.total.keys().next(), Some(&jan));
        assert!(spread.total.values().all(|v| (*v - 100.0).abs() < 1e-12));
        let weekly = revenue.spread(PeriodKind::Week);
        let sum: f64 = weekly.total.values().sum();
        assert!((sum - 1200.0).abs() < 1e-9, "{sum}");
    }
}
