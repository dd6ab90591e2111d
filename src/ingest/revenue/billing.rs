//! Billing exports read as per-customer revenue: Stripe invoice line items and ChartMogul
//! activities, recognised by their header or named with `--revenue-format`.
//!
//! - Stripe: one row per invoice line item (the API's list, Sigma's `invoice_line_items`
//!   joined with its invoice, Data Pipeline tables). Amounts are in the currency's smallest
//!   unit (cents; whole yen for zero-decimal currencies; fils for three-decimal ones). Only
//!   lines of paid invoices count; each is spread over its own service period
//!   (`period_start`..`period_end`), day by day, not over the invoice's date. Credits and
//!   proration credits are negative lines, subtracted in their period; `amount_refunded`,
//!   where present, is subtracted from its line.
//! - ChartMogul: one row per activity; a customer's MRR is the running sum of
//!   `activity-mrr-movement`, taken at each month end, and carried to the month of the
//!   export's latest activity (or `--as-of`).

use std::collections::BTreeMap;

use anyhow::Result;

use super::entry::{cell_error, RevenueEntry, Span, Start};
use crate::error::InputError;
use crate::ingest::timestamp::{parse_epoch_day, parse_iso_day};
use crate::period::{self, PeriodKind};

/// How the revenue file is laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum RevenueFormat {
    /// nsm's own tables: `period,revenue` or `date,customer_id,amount[,months]`.
    Table,
    /// Stripe invoice line items: customer, amount (smallest currency unit), currency,
    /// invoice status, period_start, period_end.
    Stripe,
    /// ChartMogul activities: customer-external-id (or customer-uuid), date,
    /// activity-mrr-movement, currency.
    Chartmogul,
}

impl RevenueFormat {
    pub fn describe(self) -> &'static str {
        match self {
            RevenueFormat::Table => "a revenue table",
            RevenueFormat::Stripe => "Stripe invoice line items",
            RevenueFormat::Chartmogul => "ChartMogul activities",
        }
    }
}

/// What a billing export gives: entries, the currency of each, and what to say about them.
pub(super) struct Billing {
    pub entries: Vec<RevenueEntry>,
    pub codes: Vec<String>,
    pub notes: Vec<String>,
}

/// The columns of a format: each role with the header names it goes by (first found wins),
/// and whether the file must have it.
struct Role {
    name: &'static str,
    aliases: &'static [&'static str],
    required: bool,
}

const STRIPE: [Role; 7] = [
    Role {
        name: "customer",
        aliases: &["customer", "customer_id"],
        required: true,
    },
    Role {
        name: "amount",
        aliases: &["amount"],
        required: true,
    },
    Role {
        name: "currency",
        aliases: &["currency"],
        required: true,
    },
    Role {
        name: "period_start",
        aliases: &["period_start"],
        required: true,
    },
    Role {
        name: "period_end",
        aliases: &["period_end"],
        required: true,
    },
    Role {
        name: "status",
        aliases: &["status", "invoice_status"],
        required: false,
    },
    Role {
        name: "amount_refunded",
        aliases: &["amount_refunded"],
        required: false,
    },
];

const CHARTMOGUL: [Role; 4] = [
    Role {
        name: "customer-external-id",
        aliases: &["customer_external_id", "customer_uuid"],
        required: true,
    },
    Role {
        name: "date",
        aliases: &["date"],
        required: true,
    },
    Role {
        name: "activity-mrr-movement",
        aliases: &["activity_mrr_movement"],
        required: true,
    },
    Role {
        name: "currency",
        aliases: &["currency"],
        required: true,
    },
];

/// A header name as the formats are matched: lower case, with `-`, `.` and spaces as `_`.
fn normalise(name: &str) -> String {
    name.trim()
        .to_ascii_lowercase()
        .chars()
        .map(|c| if matches!(c, '-' | '.' | ' ') { '_' } else { c })
        .collect()
}

/// Each role's column, or the names of the required ones missing.
fn locate(header: &[String], roles: &[Role]) -> Result<Vec<Option<usize>>, Vec<&'static str>> {
    let names: Vec<String> = header.iter().map(|h| normalise(h)).collect();
    let mut found = Vec::with_capacity(roles.len());
    let mut missing = Vec::new();
    for role in roles {
        let at = role
            .aliases
            .iter()
            .find_map(|alias| names.iter().position(|n| n == alias));
        if at.is_none() && role.required {
            missing.push(role.name);
        }
        found.push(at);
    }
    if missing.is_empty() {
        Ok(found)
    } else {
        Err(missing)
    }
}

/// The billing format a header is, when it is one.
pub(super) fn detect(header: &[String]) -> Option<RevenueFormat> {
    if locate(header, &STRIPE).is_ok() {
        Some(RevenueFormat::Stripe)
    } else if locate(header, &CHARTMOGUL).is_ok() {
        Some(RevenueFormat::Chartmogul)
    } else {
        None
    }
}

/// The columns of `format`, or an error naming those the header lacks.
fn columns(
    header: &[String],
    roles: &[Role],
    format: RevenueFormat,
    label: &str,
) -> Result<Vec<Option<usize>>> {
    locate(header, roles).map_err(|missing| {
        InputError::new(format!(
            "revenue file {label}: read as {} (--revenue-format), but it has no {} column{} (header: {})",
            format.describe(),
            missing.join(", "),
            if missing.len() == 1 { "" } else { "s" },
            header.join(", ")
        ))
        .into()
    })
}

/// Currencies whose smallest unit is the whole unit (Stripe's list; ISK, HUF and TWD are
/// written with two decimals there, so they are not here).
const ZERO_DECIMAL: [&str; 16] = [
    "BIF", "CLP", "DJF", "GNF", "JPY", "KMF", "KRW", "MGA", "PYG", "RWF", "UGX", "VND", "VUV",
    "XAF", "XOF", "XPF",
];
/// Currencies with three decimals.
const THREE_DECIMAL: [&str; 5] = ["BHD", "JOD", "KWD", "OMR", "TND"];

/// How many smallest units make one unit of `code` (upper case).
pub(super) fn minor_units(code: &str) -> f64 {
    if ZERO_DECIMAL.contains(&code) {
        1.0
    } else if THREE_DECIMAL.contains(&code) {
        1000.0
    } else {
        100.0
    }
}

/// The longest service period a line item may have (the tables' `months` stop at 1,200).
const MAX_SERVICE_DAYS: i32 = 36_525;

/// A day from an epoch number (Stripe's unix seconds) or an ISO date or date-time.
fn day_of(text: &str) -> Option<i32> {
    parse_epoch_day(text).or_else(|| parse_iso_day(text))
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// Stripe invoice line items: the paid ones, each spread over its service period.
pub(super) fn stripe(
    header: &[String],
    rows: &[(u64, Vec<String>)],
    label: &str,
    as_of: Option<i32>,
) -> Result<Billing> {
    let at = columns(header, &STRIPE, RevenueFormat::Stripe, label)?;
    let need = |i: usize| at[i].expect("required column");
    let (customer, amount, currency, start, end) = (need(0), need(1), need(2), need(3), need(4));
    let (status, refunded) = (at[5], at[6]);
    let mut billing = Billing {
        entries: Vec::with_capacity(rows.len()),
        codes: Vec::with_capacity(rows.len()),
        notes: Vec::new(),
    };
    let mut left_out: BTreeMap<String, usize> = BTreeMap::new();
    let (mut credits, mut credit_total) = (0usize, 0.0);
    let (mut refunds, mut refund_total) = (0usize, 0.0);
    let mut spread_lines = 0usize;
    for (line, fields) in rows {
        let field = |i: usize| fields.get(i).map(|s| s.trim()).unwrap_or("");
        let error = |column: usize, what: &str| {
            cell_error(label, *line, header, column, field(column), what)
        };
        if let Some(column) = status {
            let state = field(column).to_ascii_lowercase();
            if state != "paid" {
                let state = if state.is_empty() {
                    "(no status)".to_string()
                } else {
                    state
                };
                *left_out.entry(state).or_default() += 1;
                continue;
            }
        }
        let first = day_of(field(start)).ok_or_else(|| {
            error(
                start,
                "not a time (unix seconds, or an ISO date or date-time)",
            )
        })?;
        let last = day_of(field(end)).ok_or_else(|| {
            error(
                end,
                "not a time (unix seconds, or an ISO date or date-time)",
            )
        })?;
        if last < first {
            return Err(error(end, "the line item's period ends before it starts"));
        }
        if last - first > MAX_SERVICE_DAYS {
            return Err(error(
                end,
                "the line item's period is longer than 100 years",
            ));
        }
        if as_of.is_some_and(|limit| first > limit) {
            continue;
        }
        let id = field(customer);
        if id.is_empty() {
            return Err(error(customer, "customer id is empty"));
        }
        let code = field(currency).to_ascii_uppercase();
        if code.is_empty() {
            return Err(error(currency, "currency is empty"));
        }
        let minor = |column: usize, what: &str| -> Result<i64> {
            let text = field(column);
            text.parse::<i64>().map_err(|_| {
                error(
                    column,
                    &format!(
                        "{what} must be a whole number in the currency's smallest unit (1999 for 19.99 USD, 500 for 500 JPY), as Stripe writes it"
                    ),
                )
            })
        };
        let mut cents = minor(amount, "amount")?;
        if let Some(column) = refunded.filter(|c| !field(*c).is_empty()) {
            let back = minor(column, "amount_refunded")?;
            if back < 0 {
                return Err(error(column, "a refund is not negative"));
            }
            if back > 0 {
                refunds += 1;
                refund_total += back as f64 / minor_units(&code);
                cents -= back;
            }
        }
        let value = cents as f64 / minor_units(&code);
        if value < 0.0 {
            credits += 1;
            credit_total += value;
        }
        // Stripe's period end is the instant the next period starts: the service days are
        // [start, end), and a line whose period is one instant is that day.
        let end_day = last.max(first + 1);
        if period::month_of_day(end_day - 1) != period::month_of_day(first) {
            spread_lines += 1;
        }
        billing.entries.push(RevenueEntry {
            customer: Some(id.to_string()),
            start: Start::Day(first),
            span: Span::Days(end_day),
            amount: value,
        });
        billing.codes.push(code);
    }
    let paid = billing.entries.len();
    let mut summary = format!(
        "revenue from Stripe invoice line items: {} of paid invoices, each spread day by day over its own service period ({} across more than one month)",
        plural(paid, "line", "lines"),
        spread_lines
    );
    if status.is_none() {
        summary.push_str("; the file has no status column, so every line is counted as paid");
    } else if !left_out.is_empty() {
        let listed: Vec<String> = left_out.iter().map(|(s, n)| format!("{n} {s}")).collect();
        summary.push_str(&format!(
            "; left out (invoice not paid): {}",
            listed.join(", ")
        ));
    }
    billing.notes.push(summary);
    if credits > 0 {
        billing.notes.push(format!(
            "{} with a negative amount (credit notes, proration credits), {:.2} in all, subtracted in their service periods",
            plural(credits, "line", "lines"),
            credit_total
        ));
    }
    if refunds > 0 {
        billing.notes.push(format!(
            "refunds on {} ({:.2} in all, amount_refunded) subtracted from them",
            plural(refunds, "line", "lines"),
            refund_total
        ));
    }
    let unusual: std::collections::BTreeSet<&str> = billing
        .codes
        .iter()
        .filter(|c| minor_units(c) != 100.0)
        .map(String::as_str)
        .collect();
    if !unusual.is_empty() {
        billing.notes.push(format!(
            "amounts in {} read in their own smallest unit (zero-decimal currencies whole, three-decimal ones in thousandths)",
            unusual.into_iter().collect::<Vec<_>>().join(", ")
        ));
    }
    Ok(billing)
}

/// One MRR movement of a customer in a currency: its day, its line (the order within a day)
/// and the change in whole units.
type Movement = (i32, u64, f64);

/// ChartMogul activities: each customer's MRR at each month end, from the running sum of its
/// MRR movements, carried to the month of the latest activity (or of `as_of`).
pub(super) fn chartmogul(
    header: &[String],
    rows: &[(u64, Vec<String>)],
    label: &str,
    as_of: Option<i32>,
) -> Result<Billing> {
    let at = columns(header, &CHARTMOGUL, RevenueFormat::Chartmogul, label)?;
    let need = |i: usize| at[i].expect("required column");
    let (customer, date, movement, currency) = (need(0), need(1), need(2), need(3));
    let mut moves: BTreeMap<(String, String), Vec<Movement>> = BTreeMap::new();
    let mut last_day = i32::MIN;
    let mut kept = 0usize;
    for (line, fields) in rows {
        let field = |i: usize| fields.get(i).map(|s| s.trim()).unwrap_or("");
        let error = |column: usize, what: &str| {
            cell_error(label, *line, header, column, field(column), what)
        };
        let day = day_of(field(date))
            .ok_or_else(|| error(date, "not a date or date-time (2024-03-15T10:00:00+00:00)"))?;
        if as_of.is_some_and(|limit| day > limit) {
            continue;
        }
        let id = field(customer);
        if id.is_empty() {
            return Err(error(customer, "customer id is empty"));
        }
        let code = field(currency).to_ascii_uppercase();
        if code.is_empty() {
            return Err(error(currency, "currency is empty"));
        }
        let cents = match field(movement).parse::<f64>() {
            Ok(v) if v.is_finite() => v,
            _ => {
                return Err(error(
                    movement,
                    "not a number (the MRR change in the currency's smallest unit, as ChartMogul writes it)",
                ))
            }
        };
        moves
            .entry((id.to_string(), code.clone()))
            .or_default()
            .push((day, *line, cents / minor_units(&code)));
        last_day = last_day.max(day);
        kept += 1;
    }
    let mut billing = Billing {
        entries: Vec::new(),
        codes: Vec::new(),
        notes: Vec::new(),
    };
    if kept == 0 {
        return Ok(billing);
    }
    let end_month = period::month_of_day(as_of.unwrap_or(last_day).max(last_day));
    let mut below_zero = 0usize;
    for ((id, code), mut list) in moves {
        list.sort_by_key(|&(day, line, _)| (day, line));
        let mut month = period::month_of_day(list[0].0);
        let mut mrr = 0.0;
        let mut next = 0;
        while month <= end_month {
            let month_end = PeriodKind::Month.last_day(month);
            while next < list.len() && list[next].0 <= month_end {
                mrr += list[next].2;
                next += 1;
            }
            // Sums of cents can leave a rounding residue where MRR went back to zero.
            if mrr < -1e-6 {
                below_zero += 1;
            }
            if mrr > 1e-6 {
                billing.entries.push(RevenueEntry {
                    customer: Some(id.clone()),
                    start: Start::Month(month),
                    span: Span::Months(1),
                    amount: mrr,
                });
                billing.codes.push(code.clone());
            }
            month += 1;
        }
    }
    let by = normalise(&header[customer]).replace('_', "-");
    billing.notes.push(format!(
        "revenue from ChartMogul activities: each customer's MRR at each month end, the running sum of {} activity-mrr-movement value(s), carried to {} (customers by {by})",
        kept,
        PeriodKind::Month.label(end_month)
    ));
    if below_zero > 0 {
        billing.notes.push(format!(
            "{} where a customer's running MRR is below zero (movements missing before the export's start?) read as not paying",
            plural(below_zero, "customer-month", "customer-months")
        ));
    }
    Ok(billing)
}
