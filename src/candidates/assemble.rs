//! Series from each candidate's `(key, account, value)` rows, wherever they were computed (from
//! the stored events, or read from a warehouse's per-account query).
//!
//! One pass over a candidate's rows gives the totals, the part produced by accounts in each
//! customer status (the churn test's entity-level figures) and each account's sums. Week
//! windows are rolled up into periods afterwards, ratios and running counts last.

use std::collections::BTreeMap;

use anyhow::Result;
use rayon::prelude::*;

use super::{Candidate, Kind, Rollup, Window};
use crate::ingest::activity::Names;
use crate::ingest::dataset::{Dataset, Status, CHURN_HORIZON, STATUS_COUNT};
use crate::period::{self, PeriodKind};

/// One candidate's computed series over the analysed periods.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct CandidateSeries {
    pub(crate) values: Vec<f64>,
    /// Per status (indexed by `Status as usize`), the part of each period's value produced by
    /// accounts in that status. `None` where it is not defined (ratios).
    pub(crate) by_status: Option<[Vec<f64>; STATUS_COUNT]>,
    /// Per account, the metric it produced in each status over the analysed periods:
    /// `[status][0]` before the right-censored tail, `[status][1]` within it.
    pub(crate) per_account: Option<Vec<AccountParts>>,
}

/// One candidate's value for each paying customer in each analysed period, row by row:
/// `values[c * periods + t]`, customers in the order of the per-customer revenue
/// (`Dataset::customer_revenue`), weeks rolled up into periods as the candidate's series are.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct CustomerValues {
    pub(crate) periods: usize,
    pub(crate) values: Vec<f64>,
}

/// Where each account's rows go in [`CustomerValues`]: the customer of each account code, and
/// for week windows the period, the share of the period's value and whether it is the last
/// week, of every week key.
struct CustomerSlots {
    customer_of: Vec<Option<u32>>,
    customers: usize,
    /// By week key from `first_week`: the period index, the week's share of a mean and whether
    /// it is the period's last week.
    first_week: i32,
    weeks: Vec<Option<(usize, f64, bool)>>,
}

impl CustomerSlots {
    fn new(dataset: &Dataset, accounts: &Names, weeks: &[Vec<i32>]) -> Option<CustomerSlots> {
        let revenue = dataset.customer_revenue.as_ref()?;
        let index: BTreeMap<&str, u32> = revenue
            .amounts
            .keys()
            .enumerate()
            .map(|(i, name)| (name.as_str(), i as u32))
            .collect();
        let customer_of = accounts
            .iter()
            .map(|name| index.get(name).copied())
            .collect();
        let first_week = weeks.iter().flatten().copied().min().unwrap_or(0);
        let last_week = weeks.iter().flatten().copied().max().unwrap_or(0);
        let mut by_week = vec![None; (last_week - first_week + 1).max(0) as usize];
        for (i, ws) in weeks.iter().enumerate() {
            for (k, w) in ws.iter().enumerate() {
                by_week[(w - first_week) as usize] =
                    Some((i, 1.0 / ws.len().max(1) as f64, k + 1 == ws.len()));
            }
        }
        Some(CustomerSlots {
            customer_of,
            customers: index.len(),
            first_week,
            weeks: by_week,
        })
    }

    /// Add one `(key, account, value)` row to `values` under the candidate's window and rollup.
    fn add(
        &self,
        values: &mut [f64],
        periods: usize,
        (window, rollup): (Window, Rollup),
        dataset: &Dataset,
        (key, account, value): (i32, u32, f64),
    ) {
        let Some(customer) = self.customer_of.get(account as usize).copied().flatten() else {
            return;
        };
        let (index, share) = match window {
            Window::Period => match dataset.index_of(key) {
                Some(i) => (i, 1.0),
                None => return,
            },
            Window::Week => {
                let slot = usize::try_from(key - self.first_week)
                    .ok()
                    .and_then(|i| self.weeks.get(i).copied().flatten());
                match (slot, rollup) {
                    (Some((i, _, _)), Rollup::Sum) => (i, 1.0),
                    (Some((i, share, _)), Rollup::Mean) => (i, share),
                    (Some((i, _, true)), Rollup::Last) => (i, 1.0),
                    _ => return,
                }
            }
        };
        values[customer as usize * periods + index] += value * share;
    }
}

/// One account's part of a candidate.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct AccountParts {
    pub(crate) account: String,
    pub(crate) by_status: [[f64; 2]; STATUS_COUNT],
}

impl AccountParts {
    pub(crate) fn total(&self) -> f64 {
        self.by_status.iter().flatten().sum()
    }
}

/// One candidate's contributions: `(key, account, value)` rows, and `(key, value)` totals where
/// they are not the sum of the rows (distinct users across accounts).
#[derive(Clone)]
pub(crate) struct Collected {
    pub(crate) rows: Vec<(i32, u32, f64)>,
    pub(crate) total: Option<Vec<(i32, f64)>>,
    pub(crate) window: Window,
}

/// Sums of one candidate by key: in total, per status, and per account and status.
struct Split {
    total: BTreeMap<i32, f64>,
    by_status: [BTreeMap<i32, f64>; STATUS_COUNT],
    /// account -> `[status][censored]`, over the analysed periods.
    accounts: Vec<(u32, [[f64; 2]; STATUS_COUNT])>,
    /// account -> `(first period, count)` rows, for cumulative counts.
    firsts: BTreeMap<String, Vec<(i32, f64)>>,
    by_customer: Option<CustomerValues>,
}

/// Sums by key over a dense range of keys.
struct ByKey {
    first: i32,
    sums: Vec<f64>,
}

impl ByKey {
    fn new(first: i32, last: i32) -> ByKey {
        ByKey {
            first,
            sums: vec![0.0; (i64::from(last) - i64::from(first) + 1).max(0) as usize],
        }
    }

    fn add(&mut self, key: i32, value: f64) {
        self.sums[(key - self.first) as usize] += value;
    }

    fn into_map(self) -> BTreeMap<i32, f64> {
        let first = self.first;
        self.sums
            .into_iter()
            .enumerate()
            .map(|(i, v)| (first + i as i32, v))
            .collect()
    }
}

/// Split one candidate's per-account rows by the status of each account in each period (the
/// period of a week is the month of its Thursday). Values are whole numbers here (counts, or
/// millionths), so the sums do not depend on the order of the rows.
fn split(
    collected: &Collected,
    kind: &Kind,
    dataset: &Dataset,
    accounts: &Names,
    statuses: &[Option<&Vec<Status>>],
    customers: Option<&CustomerSlots>,
) -> Split {
    let cumulative = matches!(kind, Kind::CumulativeEntities { .. });
    let n = dataset.len();
    // New entities have no per-customer outcome to follow; running counts are built later.
    let mut by_customer = customers
        .filter(|_| !cumulative && !matches!(kind, Kind::NewEntities { .. }))
        .map(|slots| (slots, crate::memory::zeros(slots.customers * n)));
    let censored_from = dataset.last - CHURN_HORIZON as i32 + 1;
    let keys = collected
        .rows
        .iter()
        .map(|r| r.0)
        .chain(collected.total.iter().flatten().map(|t| t.0));
    let (lo, hi) = keys.fold((i32::MAX, i32::MIN), |(lo, hi), k| (lo.min(k), hi.max(k)));
    let mut total = ByKey::new(lo, hi);
    let mut by_status: [ByKey; STATUS_COUNT] = std::array::from_fn(|_| ByKey::new(lo, hi));
    let mut per_account: Vec<Option<[[f64; 2]; STATUS_COUNT]>> = Vec::new();
    let mut firsts: BTreeMap<String, Vec<(i32, f64)>> = BTreeMap::new();
    for &(key, account, value) in &collected.rows {
        if cumulative {
            firsts
                .entry(accounts.get(account).to_string())
                .or_default()
                .push((key, value));
            continue;
        }
        let period = match (collected.window, dataset.kind) {
            (Window::Week, PeriodKind::Month) => period::month_of_week(key),
            _ => key,
        };
        let index = dataset.index_of(period);
        let status = index
            .and_then(|i| statuses[account as usize].map(|row| row[i]))
            .unwrap_or(Status::NonCustomer);
        if collected.total.is_none() {
            total.add(key, value);
        }
        by_status[status as usize].add(key, value);
        if let Some((slots, values)) = &mut by_customer {
            slots.add(values, n, kind.window(), dataset, (key, account, value));
        }
        if index.is_some() {
            if per_account.len() <= account as usize {
                per_account.resize(account as usize + 1, None);
            }
            let slot = per_account[account as usize].get_or_insert([[0.0; 2]; STATUS_COUNT]);
            slot[status as usize][usize::from(period >= censored_from)] += value;
        }
    }
    for &(key, value) in collected.total.iter().flatten() {
        total.add(key, value);
    }
    Split {
        total: total.into_map(),
        by_status: by_status.map(ByKey::into_map),
        accounts: per_account
            .into_iter()
            .enumerate()
            .filter_map(|(code, parts)| Some((code as u32, parts?)))
            .collect(),
        firsts,
        by_customer: by_customer.map(|(_, values)| CustomerValues { periods: n, values }),
    }
}

/// Weeks belonging to each analysed period, in order.
fn weeks_of_periods(dataset: &Dataset) -> Vec<Vec<i32>> {
    let first_week = period::week_of_day(dataset.kind.first_day(dataset.first)) - 1;
    let last_week = period::week_of_day(dataset.kind.last_day(dataset.last)) + 1;
    let mut weeks = vec![Vec::new(); dataset.len()];
    for week in first_week..=last_week {
        if let Some(i) = dataset.index_of(period::period_of_week(dataset.kind, week)) {
            weeks[i].push(week);
        }
    }
    weeks
}

fn roll_up(by_week: &BTreeMap<i32, f64>, weeks: &[Vec<i32>], rollup: Rollup) -> Vec<f64> {
    weeks
        .iter()
        .map(|ws| {
            let values = ws.iter().map(|w| by_week.get(w).copied().unwrap_or(0.0));
            match rollup {
                Rollup::Sum => values.sum(),
                Rollup::Mean => {
                    let n = ws.len().max(1) as f64;
                    values.sum::<f64>() / n
                }
                Rollup::Last => ws
                    .last()
                    .and_then(|w| by_week.get(w))
                    .copied()
                    .unwrap_or(0.0),
            }
        })
        .collect()
}

/// A candidate computed from events: its series and what `per_customer` kept of it (`None`
/// for a ratio, computed after the others).
type Direct<T> = Option<(CandidateSeries, Option<T>)>;

/// Dense per-period series from each candidate's parts (`parts(i)` for candidate `i`, `None`
/// for ratios), rolling weeks up and computing ratios and cumulative counts. `value_scale` is
/// the unit value sums arrive in (millionths from the stored events).
///
/// With per-customer revenue, each candidate's [`CustomerValues`] go to `per_customer(i, ..)`
/// as soon as they are built, and only what it returns is kept: the values of every candidate
/// would not fit in memory together at scale.
pub(crate) fn assemble<T: Send>(
    candidates: &[Candidate],
    dataset: &Dataset,
    value_scale: f64,
    accounts: &Names,
    cost: &[usize],
    parts: impl Fn(usize) -> Result<Option<Collected>> + Sync,
    per_customer: &(dyn Fn(usize, &CustomerValues) -> T + Sync),
) -> Result<Vec<(CandidateSeries, Option<T>)>> {
    let n = dataset.len();
    let weeks = weeks_of_periods(dataset);
    let statuses: Vec<Option<&Vec<Status>>> = accounts
        .iter()
        .map(|name| dataset.panel.statuses.get(name))
        .collect();
    let slots = CustomerSlots::new(dataset, accounts, &weeks);
    // Candidates are independent: each one's parts are computed and split in parallel with
    // the others (and dropped once split), the results kept in a fixed order. The costliest
    // (`cost`, when given: the events each one reads) start first, one at a time, so that a
    // long one does not run alone at the end.
    let mut order: Vec<usize> = (0..candidates.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(cost.get(i).copied().unwrap_or(0)));
    let mut done: Vec<(usize, Result<Direct<T>>)> = order
        .par_iter()
        .with_max_len(1)
        .map(|&i| {
            let candidate = &candidates[i];
            let one = parts(i).map(|parts| {
                parts.map(|collected| {
                    let mut split = split(
                        &collected,
                        &candidate.kind,
                        dataset,
                        accounts,
                        &statuses,
                        slots.as_ref(),
                    );
                    drop(collected);
                    let scale = if matches!(candidate.kind, Kind::ValueSum { .. }) {
                        value_scale
                    } else {
                        1.0
                    };
                    let customers = split.by_customer.take().or_else(|| {
                        matches!(candidate.kind, Kind::CumulativeEntities { .. })
                            .then(|| {
                                slots
                                    .as_ref()
                                    .map(|s| running_by_customer(&split.firsts, s, dataset))
                            })
                            .flatten()
                    });
                    let kept = customers.map(|mut values| {
                        if scale != 1.0 {
                            values.values.iter_mut().for_each(|v| *v /= scale);
                        }
                        per_customer(i, &values)
                    });
                    let series =
                        direct_series(candidate, split, accounts, dataset, &weeks, value_scale);
                    (series, kept)
                })
            });
            (i, one)
        })
        .collect();
    // The candidates' order again (and the first failure in it).
    done.sort_by_key(|(i, _)| *i);
    let direct: Vec<Direct<T>> = done
        .into_iter()
        .map(|(_, one)| one)
        .collect::<Result<_>>()?;
    let mut out: Vec<Option<CandidateSeries>> = Vec::with_capacity(direct.len());
    let mut kept: Vec<Option<T>> = Vec::with_capacity(direct.len());
    for entry in direct {
        match entry {
            Some((series, k)) => {
                debug_assert_eq!(series.values.len(), n);
                out.push(Some(series));
                kept.push(k);
            }
            None => {
                out.push(None);
                kept.push(None);
            }
        }
    }

    // Ratios last, in dependency order (the config rejects cycles).
    let names: BTreeMap<&str, usize> = candidates
        .iter()
        .enumerate()
        .map(|(i, c)| (c.name.as_str(), i))
        .collect();
    let mut pending = true;
    while pending {
        pending = false;
        for (index, candidate) in candidates.iter().enumerate() {
            if out[index].is_some() {
                continue;
            }
            if let Kind::Ratio {
                numerator,
                denominator,
            } = &candidate.kind
            {
                let (Some(num), Some(den)) = (
                    names.get(numerator.as_str()).and_then(|i| out[*i].as_ref()),
                    names
                        .get(denominator.as_str())
                        .and_then(|i| out[*i].as_ref()),
                ) else {
                    pending = true;
                    continue;
                };
                let values = num
                    .values
                    .iter()
                    .zip(&den.values)
                    .map(|(a, b)| if *b == 0.0 { 0.0 } else { a / b })
                    .collect();
                out[index] = Some(CandidateSeries {
                    values,
                    by_status: None,
                    per_account: None,
                });
            }
        }
    }
    Ok(out
        .into_iter()
        .map(|s| s.expect("every candidate computed"))
        .zip(kept)
        .collect())
}

/// Each customer's running count of entities ever seen, over the analysed periods.
fn running_by_customer(
    firsts: &BTreeMap<String, Vec<(i32, f64)>>,
    slots: &CustomerSlots,
    dataset: &Dataset,
) -> CustomerValues {
    let n = dataset.len();
    let mut values = crate::memory::zeros(slots.customers * n);
    let index: BTreeMap<&str, usize> = dataset
        .customer_revenue
        .iter()
        .flat_map(|r| r.amounts.keys())
        .enumerate()
        .map(|(i, name)| (name.as_str(), i))
        .collect();
    for (account, rows) in firsts {
        let Some(&customer) = index.get(account.as_str()) else {
            continue;
        };
        for (first, count) in rows {
            if *first > dataset.last {
                continue;
            }
            let from = (*first - dataset.first).max(0) as usize;
            for slot in &mut values[customer * n + from..(customer + 1) * n] {
                *slot += count;
            }
        }
    }
    CustomerValues { periods: n, values }
}

/// A candidate computed from its own frames (everything but ratios).
fn direct_series(
    candidate: &Candidate,
    split: Split,
    accounts: &Names,
    dataset: &Dataset,
    weeks: &[Vec<i32>],
    value_scale: f64,
) -> CandidateSeries {
    let cumulative_kind = matches!(candidate.kind, Kind::CumulativeEntities { .. });
    let (window, rollup) = candidate.kind.window();
    let dense = |values: &BTreeMap<i32, f64>| -> Vec<f64> {
        match window {
            Window::Week => roll_up(values, weeks, rollup),
            Window::Period => dataset
                .periods()
                .map(|p| values.get(&p).copied().unwrap_or(0.0))
                .collect(),
        }
    };
    let series = if cumulative_kind {
        cumulative(Some(&split.firsts), dataset)
    } else {
        let mut per_account: Vec<AccountParts> = split
            .accounts
            .into_iter()
            .map(|(account, by_status)| AccountParts {
                account: accounts.get(account).to_string(),
                by_status,
            })
            .collect();
        // A fixed order: the bootstrap over accounts must not depend on hashing.
        per_account.sort_by(|a, b| a.account.cmp(&b.account));
        CandidateSeries {
            values: dense(&split.total),
            by_status: Some(std::array::from_fn(|s| dense(&split.by_status[s]))),
            per_account: Some(per_account),
        }
    };
    if matches!(candidate.kind, Kind::ValueSum { .. }) {
        in_units(series, value_scale)
    } else {
        series
    }
}

/// A value sum from whole millionths (or another unit) to value units.
fn in_units(mut series: CandidateSeries, scale: f64) -> CandidateSeries {
    if scale == 1.0 {
        return series;
    }
    let scaled = |v: &mut f64| *v /= scale;
    series.values.iter_mut().for_each(scaled);
    for part in series.by_status.iter_mut().flatten() {
        part.iter_mut().for_each(scaled);
    }
    for account in series.per_account.iter_mut().flatten() {
        account.by_status.iter_mut().flatten().for_each(scaled);
    }
    series
}

/// Running count of entities ever seen, with the part still counted from each status.
fn cumulative(
    firsts: Option<&BTreeMap<String, Vec<(i32, f64)>>>,
    dataset: &Dataset,
) -> CandidateSeries {
    let n = dataset.len();
    let mut values = vec![0.0; n];
    let mut by_status: [Vec<f64>; STATUS_COUNT] = std::array::from_fn(|_| vec![0.0; n]);
    let mut per_account = Vec::new();
    let censored_from = n.saturating_sub(CHURN_HORIZON);
    for (account, rows) in firsts.into_iter().flatten() {
        let statuses = dataset.panel.statuses.get(account);
        let mut running = vec![0.0; n];
        for (first, count) in rows {
            // Entities first seen before the range count from its first period.
            let from = (*first - dataset.first).max(0) as usize;
            if *first <= dataset.last {
                for slot in &mut running[from..] {
                    *slot += count;
                }
            }
        }
        let mut parts = AccountParts {
            account: account.clone(),
            by_status: [[0.0; 2]; STATUS_COUNT],
        };
        for (i, count) in running.iter().enumerate() {
            values[i] += count;
            let status = statuses.map_or(Status::NonCustomer, |s| s[i]);
            by_status[status as usize][i] += count;
            parts.by_status[status as usize][usize::from(i >= censored_from)] += count;
        }
        per_account.push(parts);
    }
    CandidateSeries {
        values,
        by_status: Some(by_status),
        per_account: Some(per_account),
    }
}
