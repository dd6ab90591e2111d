//! Every candidate's series from the activity table.
//!
//! Each candidate is one lazy aggregation to `(key, account, value)` rows (the key a period,
//! or a week for week windows), plus `(key, value)` totals where distinct users are not a sum
//! over accounts. One pass in Rust over those rows gives the totals, the part produced by
//! accounts in each customer status (the churn test's entity-level figures) and each account's
//! sums. Week windows are rolled up into periods afterwards, ratios and running counts last.

use std::collections::BTreeMap;

use anyhow::Result;
use polars::prelude::*;
use rayon::prelude::*;

use super::{Candidate, Entity, Kind, Rollup, Threshold, Window};
use crate::dataset::{Dataset, Status, CHURN_HORIZON, STATUS_COUNT};
use crate::ingest::events::{col_names as c, Activity, VALUE_SCALE};
use crate::output::Progress;
use crate::period::{self, PeriodKind};

pub const KEY: &str = "key";
pub const VALUE: &str = "value";

/// One candidate's computed series over the analysed periods.
#[derive(Debug, Clone, PartialEq)]
pub struct CandidateSeries {
    pub values: Vec<f64>,
    /// Per status (indexed by `Status as usize`), the part of each period's value produced by
    /// accounts in that status. `None` where it is not defined (ratios).
    pub by_status: Option<[Vec<f64>; STATUS_COUNT]>,
    /// Per account, the metric it produced in each status over the analysed periods:
    /// `[status][0]` before the right-censored tail, `[status][1]` within it.
    pub per_account: Option<Vec<AccountParts>>,
}

/// One account's part of a candidate.
#[derive(Debug, Clone, PartialEq)]
pub struct AccountParts {
    pub account: String,
    pub by_status: [[f64; 2]; STATUS_COUNT],
}

impl AccountParts {
    pub fn total(&self) -> f64 {
        self.by_status.iter().flatten().sum()
    }
}

fn period_column(kind: PeriodKind) -> &'static str {
    match kind {
        PeriodKind::Month => c::MONTH,
        PeriodKind::Week => c::WEEK,
    }
}

fn key_column(window: Window, kind: PeriodKind) -> Expr {
    match window {
        Window::Period => col(period_column(kind)),
        Window::Week => col(c::WEEK),
    }
    .alias(KEY)
}

/// The plan of one candidate: `(key, account, value)` contributions, and `(key, value)` totals
/// where they are not the sum of the contributions (distinct users across accounts).
struct Parts {
    total: Option<LazyFrame>,
    per_account: LazyFrame,
    window: Window,
}

fn filtered(base: &LazyFrame, candidate: &Candidate) -> LazyFrame {
    match candidate.kind.filter() {
        Some(filter) if !filter.is_any() => {
            let names = Series::new("events".into(), filter.events.clone());
            base.clone()
                .filter(col(c::EVENT).is_in(lit(names).implode(false), false))
        }
        _ => base.clone(),
    }
}

fn count_by_key(frame: LazyFrame) -> LazyFrame {
    frame
        .group_by([col(KEY)])
        .agg([len().cast(DataType::Float64).alias(VALUE)])
}

fn parts_of(base: &LazyFrame, candidate: &Candidate, kind: PeriodKind) -> Option<Parts> {
    let rows = filtered(base, candidate);
    let by_period = key_column(Window::Period, kind);
    let parts = match &candidate.kind {
        Kind::EventCount { .. } | Kind::ValueSum { .. } => {
            // Values stay in whole millionths until the series are assembled: every sum
            // below is then a sum of integers, exact in any order, so the output does not
            // depend on how the work was split between threads.
            let measure = if matches!(candidate.kind, Kind::EventCount { .. }) {
                col(c::COUNT).sum().cast(DataType::Float64)
            } else {
                col(c::VALUE).sum().cast(DataType::Float64)
            };
            let per_account = rows
                .group_by([by_period, col(c::ACCOUNT)])
                .agg([measure.alias(VALUE)]);
            Parts {
                total: None,
                per_account,
                window: Window::Period,
            }
        }
        Kind::ActiveEntities { entity, window, .. } => {
            let key = key_column(*window, kind);
            let (total, per_account) = match entity {
                Entity::User => (
                    Some(
                        rows.clone()
                            .group_by([key.clone()])
                            .agg([col(c::USER).n_unique().cast(DataType::Float64).alias(VALUE)]),
                    ),
                    rows.group_by([key, col(c::ACCOUNT)])
                        .agg([col(c::USER).n_unique().cast(DataType::Float64).alias(VALUE)]),
                ),
                Entity::Account => {
                    let pairs = rows
                        .group_by([key, col(c::ACCOUNT)])
                        .agg([lit(1.0).alias(VALUE)]);
                    (None, pairs)
                }
            };
            Parts {
                total,
                per_account,
                window: *window,
            }
        }
        Kind::ThresholdEntities {
            entity,
            window,
            threshold,
            ..
        } => {
            let key = key_column(*window, kind);
            let qualifies = match threshold {
                Threshold::MinCount(n) => col(c::COUNT).sum().gt_eq(lit(*n as i64)),
                Threshold::MinValue(v) => col(c::VALUE)
                    .sum()
                    .cast(DataType::Float64)
                    .gt_eq(lit(*v * VALUE_SCALE)),
            };
            let (total, per_account) = match entity {
                Entity::User => {
                    let users = rows
                        .clone()
                        .group_by([key.clone(), col(c::USER)])
                        .agg([qualifies.clone().alias("ok")])
                        .filter(col("ok"));
                    let per_account = rows
                        .group_by([key, col(c::ACCOUNT), col(c::USER)])
                        .agg([qualifies.alias("ok")])
                        .filter(col("ok"))
                        .group_by([col(KEY), col(c::ACCOUNT)])
                        .agg([len().cast(DataType::Float64).alias(VALUE)]);
                    (Some(count_by_key(users)), per_account)
                }
                Entity::Account => {
                    let per_account = rows
                        .group_by([key, col(c::ACCOUNT)])
                        .agg([qualifies.alias("ok")])
                        .filter(col("ok"))
                        .select([col(KEY), col(c::ACCOUNT), lit(1.0).alias(VALUE)]);
                    (None, per_account)
                }
            };
            Parts {
                total,
                per_account,
                window: *window,
            }
        }
        Kind::TeamEntities {
            window,
            min_members,
            ..
        } => {
            let key = key_column(*window, kind);
            let per_account = rows
                .group_by([key, col(c::ACCOUNT)])
                .agg([col(c::USER).n_unique().alias("members")])
                .filter(col("members").gt_eq(lit(*min_members as u32)))
                .select([col(KEY), col(c::ACCOUNT), lit(1.0).alias(VALUE)]);
            Parts {
                total: None,
                per_account,
                window: *window,
            }
        }
        Kind::NewEntities { entity, .. } | Kind::CumulativeEntities { entity, .. } => {
            // First period each entity is seen, over all data (also before the analysed range).
            let period_col = period_column(kind);
            let firsts = match entity {
                Entity::User => rows.group_by([col(c::USER)]).agg([
                    col(period_col).min().alias(KEY),
                    col(c::ACCOUNT).min().alias(c::ACCOUNT),
                ]),
                Entity::Account => rows
                    .group_by([col(c::ACCOUNT)])
                    .agg([col(period_col).min().alias(KEY)]),
            };
            let per_account = firsts
                .group_by([col(KEY), col(c::ACCOUNT)])
                .agg([len().cast(DataType::Float64).alias(VALUE)]);
            Parts {
                total: None,
                per_account,
                window: Window::Period,
            }
        }
        Kind::Ratio { .. } => return None,
    };
    Some(parts)
}

/// Compute every candidate's series over the dataset's periods.
///
/// Each candidate's per-account contributions (and totals where they are not a sum) are
/// aggregated from the activity table once; the status splits, the
/// per-account sums and the totals are then derived from those small frames in one pass each.
pub fn compute_series(
    activity: &Activity,
    candidates: &[Candidate],
    dataset: &Dataset,
    progress: &Progress,
) -> Result<Vec<CandidateSeries>> {
    let base = activity.table.clone().lazy();
    let mut plans = Vec::new();
    let mut layout = Vec::new();
    for (index, candidate) in candidates.iter().enumerate() {
        if let Some(parts) = parts_of(&base, candidate, dataset.kind) {
            plans.push(parts.per_account);
            let has_total = parts.total.is_some();
            if let Some(total) = parts.total {
                plans.push(total);
            }
            layout.push((index, parts.window, has_total));
        }
    }
    // One plan after the other: each runs on every core already, and running them together
    // (collect_all) was slower and held all their hash tables at once (10M rows: 16.3 s and
    // 5.7 GB peak, against 12.6 s and 4.1 GB).
    let mut collected = plans
        .into_iter()
        .map(|plan| {
            plan.collect_with_engine(Engine::Streaming)
                .map(|f| f.unwrap_single())
        })
        .collect::<PolarsResult<Vec<_>>>()?
        .into_iter();
    progress.stage("per-account parts aggregated");
    let mut parts: Vec<Option<Collected>> = vec![None; candidates.len()];
    for (index, window, has_total) in layout {
        let mut next = || {
            collected
                .next()
                .ok_or_else(|| anyhow::anyhow!("one frame per plan"))
        };
        let per_account = next()?;
        let total = if has_total { Some(next()?) } else { None };
        parts[index] = Some(Collected {
            per_account,
            total,
            window,
        });
    }
    assemble(parts, candidates, dataset, VALUE_SCALE)
}

/// Series from per-account parts computed elsewhere (`nsm sql --query customers`): one
/// `(key, account, value)` frame per candidate in its window, `None` for ratios. The totals
/// are the sums of the parts; callers with exact totals replace them.
pub fn series_from_parts(
    parts: Vec<Option<(LazyFrame, Window)>>,
    candidates: &[Candidate],
    dataset: &Dataset,
) -> Result<Vec<CandidateSeries>> {
    let parts = parts
        .into_iter()
        .map(|part| {
            part.map(|(per_account, window)| {
                Ok::<_, anyhow::Error>(Collected {
                    per_account: per_account.collect()?,
                    total: None,
                    window,
                })
            })
            .transpose()
        })
        .collect::<Result<Vec<_>>>()?;
    assemble(parts, candidates, dataset, 1.0)
}

/// One candidate's collected frames.
#[derive(Clone)]
struct Collected {
    /// `(key, account, value)`.
    per_account: DataFrame,
    /// `(key, value)`, where the total is not the sum of the accounts.
    total: Option<DataFrame>,
    window: Window,
}

/// Sums of one candidate by key: in total, per status, and per account and status.
struct Split<'a> {
    total: BTreeMap<i32, f64>,
    by_status: [BTreeMap<i32, f64>; STATUS_COUNT],
    /// account -> `[status][censored]`, over the analysed periods.
    accounts: PlHashMap<&'a str, [[f64; 2]; STATUS_COUNT]>,
    /// account -> `(first period, count)` rows, for cumulative counts.
    firsts: BTreeMap<String, Vec<(i32, f64)>>,
}

/// Split one candidate's per-account rows by the status of each account in each period (the
/// period of a week is the month of its Thursday). Values are whole numbers here (counts, or
/// millionths), so the sums do not depend on the order of the rows.
fn split<'a>(collected: &'a Collected, cumulative: bool, dataset: &Dataset) -> Result<Split<'a>> {
    let frame = &collected.per_account;
    let keys = frame.column(KEY)?.cast(&DataType::Int32)?;
    let values = frame.column(VALUE)?.cast(&DataType::Float64)?;
    let accounts = frame.column(c::ACCOUNT)?.str()?;
    let statuses: PlHashMap<&str, &Vec<Status>> = dataset
        .panel
        .statuses
        .iter()
        .map(|(id, row)| (id.as_str(), row))
        .collect();
    let censored_from = dataset.last - CHURN_HORIZON as i32 + 1;
    let mut out = Split {
        total: BTreeMap::new(),
        by_status: std::array::from_fn(|_| BTreeMap::new()),
        accounts: PlHashMap::new(),
        firsts: BTreeMap::new(),
    };
    let rows = keys
        .i32()?
        .iter()
        .zip(values.f64()?.iter())
        .zip(accounts.iter());
    for ((key, value), account) in rows {
        let (Some(key), Some(value), Some(account)) = (key, value, account) else {
            continue;
        };
        if cumulative {
            out.firsts
                .entry(account.to_string())
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
            .and_then(|i| statuses.get(account).map(|row| row[i]))
            .unwrap_or(Status::NonCustomer);
        if collected.total.is_none() {
            *out.total.entry(key).or_insert(0.0) += value;
        }
        *out.by_status[status as usize].entry(key).or_insert(0.0) += value;
        if index.is_some() {
            let slot = out
                .accounts
                .entry(account)
                .or_insert([[0.0; 2]; STATUS_COUNT]);
            slot[status as usize][usize::from(period >= censored_from)] += value;
        }
    }
    if let Some(total) = &collected.total {
        let keys = total.column(KEY)?.cast(&DataType::Int32)?;
        let values = total.column(VALUE)?.cast(&DataType::Float64)?;
        for (key, value) in keys.i32()?.iter().zip(values.f64()?.iter()) {
            if let (Some(key), Some(value)) = (key, value) {
                *out.total.entry(key).or_insert(0.0) += value;
            }
        }
    }
    Ok(out)
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

/// Dense per-period series from the collected frames, rolling weeks up and computing ratios and
/// cumulative counts. `value_scale` is the unit value sums arrive in (millionths from the
/// activity table).
fn assemble(
    parts: Vec<Option<Collected>>,
    candidates: &[Candidate],
    dataset: &Dataset,
    value_scale: f64,
) -> Result<Vec<CandidateSeries>> {
    let n = dataset.len();
    let weeks = weeks_of_periods(dataset);
    // Candidates are independent: split them in parallel, in a fixed order.
    let direct: Vec<Option<CandidateSeries>> = candidates
        .par_iter()
        .zip(parts.par_iter())
        .map(|(candidate, collected)| {
            collected
                .as_ref()
                .map(|collected| direct_series(candidate, collected, dataset, &weeks, value_scale))
                .transpose()
        })
        .collect::<Result<_>>()?;
    let mut out = direct;
    for series in out.iter().flatten() {
        debug_assert_eq!(series.values.len(), n);
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
        .collect())
}

/// A candidate computed from its own frames (everything but ratios).
fn direct_series(
    candidate: &Candidate,
    collected: &Collected,
    dataset: &Dataset,
    weeks: &[Vec<i32>],
    value_scale: f64,
) -> Result<CandidateSeries> {
    let cumulative_kind = matches!(candidate.kind, Kind::CumulativeEntities { .. });
    let split = split(collected, cumulative_kind, dataset)?;
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
                account: account.to_string(),
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
    let series = if matches!(candidate.kind, Kind::ValueSum { .. }) {
        in_units(series, value_scale)
    } else {
        series
    };
    Ok(series)
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
