//! The analysis frame: which periods are analysed, revenue per period, and every customer's
//! status per period (paying, about to churn, churned), from per-customer revenue or, without
//! it, from activity.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::Result;

use crate::error::InputError;
use crate::ingest::activity::Activity;
use crate::ingest::revenue::{Revenue, RevenueShape, Start};
use crate::period::{self, PeriodKind};

/// A paying customer in its last `CHURN_HORIZON` periods before churning is a "churner".
pub(crate) const CHURN_HORIZON: usize = 3;

/// A customer's state in one period; the code indexes the per-status parts of a candidate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Status {
    /// Never paid up to this period (free users, prospects).
    NonCustomer = 0,
    /// Paying, and not churning within the horizon (or not yet known).
    Paying = 1,
    /// Paying, and churns within the next `CHURN_HORIZON` periods.
    PreChurn = 2,
    /// Paid before, not paying now.
    Churned = 3,
}

pub(crate) const STATUS_COUNT: usize = 4;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ChurnSource {
    /// Exact: per-customer revenue.
    Revenue,
    /// Fallback: an account active in one period and silent in the next.
    Activity,
}

impl ChurnSource {
    pub(crate) fn name(self) -> &'static str {
        match self {
            ChurnSource::Revenue => "revenue",
            ChurnSource::Activity => "activity",
        }
    }
}

/// Customer counts per analysed period.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct CustomerCounts {
    pub(crate) paying: Vec<f64>,
    pub(crate) churned: Vec<f64>,
    pub(crate) new: Vec<f64>,
    pub(crate) reactivated: Vec<f64>,
    /// Paying customers that churn within the next `CHURN_HORIZON` periods.
    pub(crate) pre_churn: Vec<f64>,
}

impl CustomerCounts {
    /// churned(t) / paying(t-1); `None` where nobody was paying before.
    pub(crate) fn churn_rate(&self) -> Vec<Option<f64>> {
        (0..self.paying.len())
            .map(|t| {
                (t > 0 && self.paying[t - 1] > 0.0).then(|| self.churned[t] / self.paying[t - 1])
            })
            .collect()
    }
}

/// Every customer's status over the analysed periods.
#[derive(Debug, Clone)]
pub(crate) struct CustomerPanel {
    pub(crate) source: ChurnSource,
    /// customer id -> status per analysed period.
    pub(crate) statuses: BTreeMap<String, Vec<Status>>,
    pub(crate) counts: CustomerCounts,
}

pub(crate) struct Dataset {
    pub(crate) kind: PeriodKind,
    /// First and last analysed period (inclusive).
    pub(crate) first: i32,
    pub(crate) last: i32,
    pub(crate) revenue: Vec<f64>,
    pub(crate) panel: CustomerPanel,
    /// Each paying customer's revenue per analysed period, from per-customer revenue.
    pub(crate) customer_revenue: Option<CustomerRevenue>,
    pub(crate) notes: Vec<String>,
}

/// Each customer's spread revenue over the analysed periods, and the first period it paid in
/// the whole revenue file (its tenure's start; the first period of the file when it was
/// already paying then).
#[derive(Debug, Clone, Default)]
pub(crate) struct CustomerRevenue {
    pub(crate) amounts: BTreeMap<String, Vec<f64>>,
    pub(crate) first_paid: BTreeMap<String, i32>,
    /// The first period of the revenue file: a customer first paying then may have paid before.
    pub(crate) data_start: i32,
}

impl Dataset {
    pub(crate) fn len(&self) -> usize {
        (self.last - self.first + 1) as usize
    }

    pub(crate) fn periods(&self) -> impl Iterator<Item = i32> {
        self.first..=self.last
    }

    pub(crate) fn labels(&self) -> Vec<String> {
        self.periods().map(|p| self.kind.label(p)).collect()
    }

    pub(crate) fn index_of(&self, period: i32) -> Option<usize> {
        (self.first..=self.last)
            .contains(&period)
            .then(|| (period - self.first) as usize)
    }
}

/// Decide the analysed periods and build revenue and customer statuses.
pub(crate) fn build(
    kind: PeriodKind,
    activity: &Activity,
    revenue: &Revenue,
    as_of: Option<i32>,
) -> Result<Dataset> {
    let mut notes = activity.source_notes.clone();
    notes.extend(revenue.notes.iter().cloned());
    if activity.user_fallback_rows > 0 {
        notes.push(format!(
            "{} event row(s) had an empty user id and took it from a fallback column of [events] user_id (anonymous visitors)",
            activity.user_fallback_rows
        ));
    }
    if activity.duplicate_rows > 0 {
        notes.push(format!(
            "{} event row(s) repeat another row exactly (same timestamp, user, account, event and value); they are kept and counted as events",
            activity.duplicate_rows
        ));
    }
    // Events: drop a first or last period the data does not cover completely.
    let mut first = kind.of_day(activity.first_day);
    let mut last = kind.of_day(activity.last_day);
    if activity.first_day != kind.first_day(first) {
        notes.push(format!(
            "dropped the first {} {} because events start on {}, after it began",
            kind.name(),
            kind.label(first),
            period::format_day(activity.first_day)
        ));
        first += 1;
    }
    let end_day = as_of.map_or(activity.last_day, |a| a.max(activity.last_day));
    if end_day != kind.last_day(last) {
        let why = match as_of {
            Some(a) if a < kind.last_day(last) => {
                format!("--as-of {} falls inside it", period::format_day(a))
            }
            _ => format!(
                "events end on {}, before it ended",
                period::format_day(activity.last_day)
            ),
        };
        notes.push(format!(
            "dropped the last {} {} because {why}",
            kind.name(),
            kind.label(last)
        ));
        last -= 1;
    }
    let spread = revenue.spread(kind);
    let revenue_first = *spread.total.keys().next().unwrap_or(&i32::MAX);
    // Amounts spread into the future (annual contracts) do not extend the revenue data: it ends
    // with the period of the latest row.
    let revenue_last = revenue
        .entries
        .iter()
        .map(|e| match (kind, e.start) {
            (PeriodKind::Month, Start::Month(m)) => m,
            (PeriodKind::Week, Start::Month(m)) => {
                period::week_of_day(period::month_first_day(m + 1) - 1)
            }
            (_, Start::Day(d)) => kind.of_day(d),
        })
        .max()
        .unwrap_or(i32::MIN);
    if revenue_first > first {
        notes.push(format!(
            "revenue starts in {}; earlier event periods are not analysed",
            kind.label(revenue_first)
        ));
        first = revenue_first;
    }
    if revenue_last < last {
        notes.push(format!(
            "revenue ends in {}; later event periods are not analysed",
            kind.label(revenue_last)
        ));
        last = revenue_last;
    }
    if last < first {
        return Err(InputError::new(format!(
            "events ({} to {}) and revenue ({} to {}) have no complete {} in common",
            period::format_day(activity.first_day),
            period::format_day(activity.last_day),
            kind.label(revenue_first),
            kind.label(revenue_last),
            kind.name()
        ))
        .into());
    }
    let revenue_series: Vec<f64> = (first..=last)
        .map(|p| spread.total.get(&p).copied().unwrap_or(0.0))
        .collect();
    let mut customer_revenue = None;
    let panel = match (&spread.per_customer, revenue.shape) {
        (Some(per_customer), RevenueShape::PerCustomer) => {
            customer_revenue = Some(customer_amounts(per_customer, first, last));
            let panel = panel_from_amounts(per_customer, first, last, ChurnSource::Revenue);
            // Pre-aggregated series without per-account parts name no accounts to compare.
            let matched = if activity.accounts.is_empty() {
                notes.push(
                    "customer ids were not compared with event accounts (no per-account parts given)"
                        .to_string(),
                );
                1.0
            } else {
                matched_share(activity, per_customer.keys())
            };
            if matched == 0.0 {
                return Err(InputError::new(format!(
                    "revenue file {}: no customer_id matches an account of the events (compared with {}); check that customer ids and account ids are the same identifiers",
                    revenue.source,
                    if activity.has_account { "account_id" } else { "user_id, as the events have no account_id" }
                ))
                .into());
            }
            if matched < 0.9 {
                notes.push(format!(
                    "only {:.0}% of revenue customers match an account in the events; churner figures cover the matched ones",
                    matched * 100.0
                ));
            }
            panel
        }
        _ => {
            notes.push(
                "churn is measured from activity (an account active in one period and silent in the next), as the revenue has no per-customer rows".to_string(),
            );
            activity_panel(activity, kind, first, last)
        }
    };
    Ok(Dataset {
        kind,
        first,
        last,
        revenue: revenue_series,
        panel,
        customer_revenue,
        notes,
    })
}

/// Paying = spread revenue above a cent's fraction in the period.
const PAYING_ABOVE: f64 = 1e-9;

fn customer_amounts(
    per_customer: &BTreeMap<String, BTreeMap<i32, f64>>,
    first: i32,
    last: i32,
) -> CustomerRevenue {
    let mut out = CustomerRevenue {
        data_start: i32::MAX,
        ..CustomerRevenue::default()
    };
    for (id, amounts) in per_customer {
        let Some(&first_paid) = amounts
            .iter()
            .find(|(_, a)| **a > PAYING_ABOVE)
            .map(|(p, _)| p)
        else {
            continue;
        };
        out.data_start = out.data_start.min(first_paid);
        out.first_paid.insert(id.clone(), first_paid);
        let row = (first..=last)
            .map(|p| amounts.get(&p).copied().unwrap_or(0.0))
            .collect();
        out.amounts.insert(id.clone(), row);
    }
    out
}

/// The share of revenue customers found among the event accounts.
fn matched_share<'a>(activity: &Activity, customers: impl Iterator<Item = &'a String>) -> f64 {
    let known: BTreeSet<&str> = activity.accounts.iter().collect();
    let (mut total, mut matched) = (0usize, 0usize);
    for customer in customers {
        total += 1;
        matched += usize::from(known.contains(customer.as_str()));
    }
    if total == 0 {
        0.0
    } else {
        matched as f64 / total as f64
    }
}

/// Statuses from paying flags over all known periods, reported over `first..=last`.
fn panel_from_paying(
    paying: BTreeMap<String, BTreeSet<i32>>,
    first: i32,
    last: i32,
    source: ChurnSource,
) -> CustomerPanel {
    let n = (last - first + 1) as usize;
    let mut counts = CustomerCounts {
        paying: vec![0.0; n],
        churned: vec![0.0; n],
        new: vec![0.0; n],
        reactivated: vec![0.0; n],
        pre_churn: vec![0.0; n],
    };
    // Customers already paying when the revenue data starts are not new there: nobody knows
    // when they started.
    let data_start = paying
        .values()
        .filter_map(|p| p.iter().next())
        .min()
        .copied();
    let mut statuses = BTreeMap::new();
    for (id, periods) in paying {
        let Some(&first_paid) = periods.iter().next() else {
            continue;
        };
        let mut row = vec![Status::NonCustomer; n];
        for (i, p) in (first..=last).enumerate() {
            let now = periods.contains(&p);
            let before = periods.contains(&(p - 1));
            if now {
                counts.paying[i] += 1.0;
                if p == first_paid {
                    if Some(first_paid) != data_start {
                        counts.new[i] += 1.0;
                    }
                } else if !before {
                    counts.reactivated[i] += 1.0;
                }
                // Churns within the horizon: the first non-paying period after p is close and
                // inside the analysed range (beyond it nobody knows yet).
                let churns_soon = (1..=CHURN_HORIZON as i32)
                    .map(|k| p + k)
                    .take_while(|q| *q <= last)
                    .find(|q| !periods.contains(q))
                    .is_some();
                row[i] = if churns_soon {
                    counts.pre_churn[i] += 1.0;
                    Status::PreChurn
                } else {
                    Status::Paying
                };
            } else {
                if before {
                    counts.churned[i] += 1.0;
                }
                if p > first_paid {
                    row[i] = Status::Churned;
                }
            }
        }
        statuses.insert(id, row);
    }
    CustomerPanel {
        source,
        statuses,
        counts,
    }
}

/// Statuses from the periods in which each customer's spread revenue is above zero.
fn panel_from_amounts(
    per_customer: &BTreeMap<String, BTreeMap<i32, f64>>,
    first: i32,
    last: i32,
    source: ChurnSource,
) -> CustomerPanel {
    let paying = per_customer
        .iter()
        .map(|(id, amounts)| {
            let periods = amounts
                .iter()
                .filter(|(_, amount)| **amount > PAYING_ABOVE)
                .map(|(p, _)| *p)
                .collect();
            (id.clone(), periods)
        })
        .collect();
    panel_from_paying(paying, first, last, source)
}

/// Fallback: an account is "paying" in a period when it has any event in it.
fn activity_panel(activity: &Activity, kind: PeriodKind, first: i32, last: i32) -> CustomerPanel {
    panel_from_paying(
        activity.active_periods(kind),
        first,
        last,
        ChurnSource::Activity,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paying(rows: &[(&str, &[i32])]) -> BTreeMap<String, BTreeSet<i32>> {
        rows.iter()
            .map(|(id, ps)| (id.to_string(), ps.iter().copied().collect()))
            .collect()
    }

    #[test]
    fn statuses_and_counts_by_hand() {
        // Periods 0..=7. a: pays 0..=3, churns at 4 (so 1, 2 and 3 are its last three paying
        // periods). b: pays throughout. c: pays 1..=2, gone
        // at 3, back at 5 (reactivation), pays to the end.
        let panel = panel_from_paying(
            paying(&[
                ("a", &[0, 1, 2, 3]),
                ("b", &[0, 1, 2, 3, 4, 5, 6, 7]),
                ("c", &[1, 2, 5, 6, 7]),
            ]),
            0,
            7,
            ChurnSource::Revenue,
        );
        use Status::*;
        assert_eq!(
            panel.statuses["a"],
            vec![Paying, PreChurn, PreChurn, PreChurn, Churned, Churned, Churned, Churned]
        );
        assert_eq!(panel.statuses["b"], vec![Paying; 8]);
        assert_eq!(
            panel.statuses["c"],
            vec![
                NonCustomer,
                PreChurn,
                PreChurn,
                Churned,
                Churned,
                Paying,
                Paying,
                Paying
            ]
        );
        assert_eq!(
            panel.counts.paying,
            vec![2.0, 3.0, 3.0, 2.0, 1.0, 2.0, 2.0, 2.0]
        );
        assert_eq!(
            panel.counts.churned,
            vec![0.0, 0.0, 0.0, 1.0, 1.0, 0.0, 0.0, 0.0]
        );
        assert_eq!(
            panel.counts.new,
            vec![0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]
        );
        assert_eq!(
            panel.counts.reactivated,
            vec![0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0]
        );
        assert_eq!(
            panel.counts.pre_churn,
            vec![0.0, 2.0, 2.0, 1.0, 0.0, 0.0, 0.0, 0.0]
        );
        let rate = panel.counts.churn_rate();
        assert_eq!(rate[0], None);
        assert_eq!(rate[3], Some(1.0 / 3.0));
        assert_eq!(rate[4], Some(0.5));
    }
}
