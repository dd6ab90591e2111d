//! The one plan: every candidate's series from the activity table, in a single lazy query.
//!
//! Each candidate contributes a small frame of `(candidate, part, key, value)` rows: `part = -1`
//! is the exact total per key (a period, or a week for week windows); `part = s` is the share
//! produced by accounts in customer status `s` in that period (the churn test's entity-level
//! figures). All frames are concatenated and collected once. Week windows are rolled up into
//! periods afterwards, in plain Rust, over the small result.

use std::collections::BTreeMap;

use anyhow::Result;
use polars::prelude::*;

use super::{Candidate, Entity, Kind, Rollup, Threshold, Window};
use crate::dataset::{Dataset, Status, CHURN_HORIZON, STATUS_COUNT};
use crate::ingest::events::{col_names as c, Activity, VALUE_SCALE};
use crate::period::{self, PeriodKind};

const CANDIDATE: &str = "candidate";
const PART: &str = "part";
pub const KEY: &str = "key";
pub const VALUE: &str = "value";
const STATUS: &str = "status";
const STATUS_PERIOD: &str = "status_period";
const TOTAL_PART: i32 = -1;

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

/// The period a row belongs to for status purposes, from its key.
fn status_period(window: Window, kind: PeriodKind) -> Expr {
    match (window, kind) {
        (Window::Week, PeriodKind::Month) => {
            let thursday = (col(KEY) * lit(7)).cast(DataType::Date);
            thursday.clone().dt().year() * lit(12) + thursday.dt().month().cast(DataType::Int32)
                - lit(1)
        }
        _ => col(KEY),
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

fn sum_by_key(per_account: &LazyFrame) -> LazyFrame {
    per_account
        .clone()
        .group_by([col(KEY)])
        .agg([col(VALUE).sum()])
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

/// All frames of one candidate, tagged, in the common long layout.
fn tagged(
    index: usize,
    candidate: &Candidate,
    parts: Parts,
    statuses: &LazyFrame,
    dataset: &Dataset,
) -> Vec<LazyFrame> {
    let candidate_tag = || lit(index as u32).cast(DataType::UInt32).alias(CANDIDATE);
    let tag = |frame: LazyFrame, part: Expr| {
        frame.select([
            candidate_tag(),
            part.cast(DataType::Int32).alias(PART),
            col(KEY).cast(DataType::Int32),
            col(VALUE).cast(DataType::Float64),
        ])
    };
    let tag_with_account = |frame: LazyFrame, part: i32| {
        frame.select([
            candidate_tag(),
            lit(part).alias(PART),
            col(KEY).cast(DataType::Int32),
            col(VALUE).cast(DataType::Float64),
            col(c::ACCOUNT),
        ])
    };
    let total = parts
        .total
        .unwrap_or_else(|| sum_by_key(&parts.per_account));
    let mut frames = vec![tag(total, lit(TOTAL_PART))];
    // Cumulative parts need each account's running total: done in Rust from the first-seen rows.
    if matches!(candidate.kind, Kind::CumulativeEntities { .. }) {
        let firsts = parts
            .per_account
            .select([col(KEY), col(VALUE), col(c::ACCOUNT)]);
        frames.push(tag_with_account(firsts, CUMULATIVE_FIRSTS_PART));
        return frames;
    }
    let with_status = parts
        .per_account
        .with_column(status_period(parts.window, dataset.kind).alias(STATUS_PERIOD))
        .join(
            statuses.clone(),
            [col(c::ACCOUNT), col(STATUS_PERIOD)],
            [col(c::ACCOUNT), col("period")],
            JoinArgs::new(JoinType::Left),
        )
        .with_column(col(STATUS).fill_null(lit(Status::NonCustomer as i32)));
    let by_status = with_status
        .clone()
        .group_by([col(KEY), col(STATUS)])
        .agg([col(VALUE).sum()]);
    frames.push(tag(by_status, col(STATUS)));
    // Per account over the analysed periods: the sum in each status, split at the start of
    // the right-censored tail (for the churner weight's bootstrap and the concentration).
    let censored_from = dataset.last - CHURN_HORIZON as i32 + 1;
    let per_account = with_status
        .filter(
            col(STATUS_PERIOD)
                .gt_eq(lit(dataset.first))
                .and(col(STATUS_PERIOD).lt_eq(lit(dataset.last))),
        )
        .group_by([
            col(c::ACCOUNT),
            (col(STATUS) * lit(2)
                + col(STATUS_PERIOD)
                    .gt_eq(lit(censored_from))
                    .cast(DataType::Int32))
            .alias(KEY),
        ])
        .agg([col(VALUE).sum()]);
    frames.push(tag_with_account(per_account, ACCOUNT_PART));
    frames
}

/// Rows of per-account sums, keyed by `status * 2 + censored`.
const ACCOUNT_PART: i32 = -3;

/// Rows of first-seen counts per account, for cumulative candidates.
const CUMULATIVE_FIRSTS_PART: i32 = -2;

/// Compute every candidate's series over the dataset's periods.
///
/// Each candidate's per-account contributions (and totals where they are not a sum) are
/// aggregated from the activity table once, all in one `collect_all`; the status splits, the
/// per-account sums and the totals are then derived from those small frames.
pub fn compute_series(
    activity: &Activity,
    candidates: &[Candidate],
    dataset: &Dataset,
) -> Result<Vec<CandidateSeries>> {
    let base = activity.table.clone().lazy();
    let mut plans = Vec::new();
    let mut layout = Vec::new();
    for (index, candidate) in candidates.iter().enumerate() {
        if let Some(parts) = parts_of(&base, candidate, dataset.kind) {
            plans.push(parts.per_account.logical_plan);
            let has_total = parts.total.is_some();
            if let Some(total) = parts.total {
                plans.push(total.logical_plan);
            }
            layout.push((index, parts.window, has_total));
        }
    }
    let mut collected =
        LazyFrame::collect_all_with_engine(plans, Engine::Streaming, OptFlags::default())?
            .into_iter();
    let mut parts = Vec::new();
    for (index, window, has_total) in layout {
        let mut next = || {
            collected
                .next()
                .map(DataFrame::lazy)
                .ok_or_else(|| anyhow::anyhow!("one frame per plan"))
        };
        let per_account = next()?;
        let total = if has_total { Some(next()?) } else { None };
        parts.push((
            index,
            Parts {
                total,
                per_account,
                window,
            },
        ));
    }
    series_of(parts, candidates, dataset, VALUE_SCALE)
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
        .enumerate()
        .filter_map(|(index, part)| {
            part.map(|(per_account, window)| {
                (
                    index,
                    Parts {
                        total: None,
                        per_account,
                        window,
                    },
                )
            })
        })
        .collect();
    series_of(parts, candidates, dataset, 1.0)
}

/// Tag every candidate's parts with its statuses, collect the long result and assemble it.
///
/// `value_scale` is the unit value sums arrive in (millionths from the activity table).
fn series_of(
    parts: Vec<(usize, Parts)>,
    candidates: &[Candidate],
    dataset: &Dataset,
    value_scale: f64,
) -> Result<Vec<CandidateSeries>> {
    let statuses = dataset.status_frame()?.lazy();
    let mut frames = Vec::new();
    for (index, parts) in parts {
        frames.extend(tagged(index, &candidates[index], parts, &statuses, dataset));
    }
    let long = concat_frames(frames)?.collect()?;
    assemble(&long, candidates, dataset, value_scale)
}

fn concat_frames(frames: Vec<LazyFrame>) -> Result<LazyFrame> {
    if frames.is_empty() {
        return Ok(DataFrame::empty().lazy());
    }
    Ok(concat(
        frames,
        UnionArgs {
            diagonal: true,
            ..Default::default()
        },
    )?)
}

/// The single lazy plan over the activity table (exposed so tests can inspect it).
pub fn series_plan(
    activity: &Activity,
    candidates: &[Candidate],
    dataset: &Dataset,
) -> Result<LazyFrame> {
    let base = activity.table.clone().lazy();
    let statuses = dataset.status_frame()?.lazy();
    let mut frames = Vec::new();
    for (index, candidate) in candidates.iter().enumerate() {
        if let Some(parts) = parts_of(&base, candidate, dataset.kind) {
            frames.extend(tagged(index, candidate, parts, &statuses, dataset));
        }
    }
    concat_frames(frames)
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

fn window_of(kind: &Kind) -> (Window, Rollup) {
    match kind {
        Kind::ActiveEntities { window, rollup, .. }
        | Kind::ThresholdEntities { window, rollup, .. }
        | Kind::TeamEntities { window, rollup, .. } => (*window, *rollup),
        _ => (Window::Period, Rollup::Sum),
    }
}

/// Turn the long result into dense per-period series, rolling weeks up and computing ratios
/// and cumulative counts.
fn assemble(
    long: &DataFrame,
    candidates: &[Candidate],
    dataset: &Dataset,
    value_scale: f64,
) -> Result<Vec<CandidateSeries>> {
    let n = dataset.len();
    // (candidate, part) -> key -> value
    let mut cells: BTreeMap<(u32, i32), BTreeMap<i32, f64>> = BTreeMap::new();
    // candidate -> account -> first period -> new entities
    let mut firsts: BTreeMap<u32, BTreeMap<String, Vec<(i32, f64)>>> = BTreeMap::new();
    // candidate -> account -> [status][censored] sums
    let mut accounts: BTreeMap<u32, BTreeMap<String, [[f64; 2]; STATUS_COUNT]>> = BTreeMap::new();
    if long.height() > 0 {
        let cand = long.column(CANDIDATE)?.u32()?;
        let part = long.column(PART)?.i32()?;
        let key = long.column(KEY)?.i32()?;
        let value = long.column(VALUE)?.f64()?;
        let account = long
            .column(c::ACCOUNT)
            .ok()
            .map(|a| a.str().cloned())
            .transpose()?;
        for i in 0..long.height() {
            let (Some(ci), Some(pi), Some(ki), Some(vi)) =
                (cand.get(i), part.get(i), key.get(i), value.get(i))
            else {
                continue;
            };
            let acc = || {
                account
                    .as_ref()
                    .and_then(|a| a.get(i))
                    .unwrap_or("")
                    .to_string()
            };
            if pi == ACCOUNT_PART {
                let (status, censored) = ((ki / 2) as usize, (ki % 2) as usize);
                if status < STATUS_COUNT {
                    let slot = accounts.entry(ci).or_default().entry(acc()).or_default();
                    slot[status][censored] += vi;
                }
            } else if pi == CUMULATIVE_FIRSTS_PART {
                let acc = acc();
                firsts
                    .entry(ci)
                    .or_default()
                    .entry(acc)
                    .or_default()
                    .push((ki, vi));
            } else {
                *cells.entry((ci, pi)).or_default().entry(ki).or_insert(0.0) += vi;
            }
        }
    }
    let weeks = weeks_of_periods(dataset);
    let empty = BTreeMap::new();
    let mut out: Vec<Option<CandidateSeries>> = vec![None; candidates.len()];
    for (index, candidate) in candidates.iter().enumerate() {
        let ci = index as u32;
        let (window, rollup) = window_of(&candidate.kind);
        let dense = |part: i32| -> Vec<f64> {
            let values = cells.get(&(ci, part)).unwrap_or(&empty);
            match window {
                Window::Week => roll_up(values, &weeks, rollup),
                Window::Period => dataset
                    .periods()
                    .map(|p| values.get(&p).copied().unwrap_or(0.0))
                    .collect(),
            }
        };
        let series = match &candidate.kind {
            Kind::Ratio { .. } => continue,
            Kind::CumulativeEntities { .. } => cumulative(firsts.get(&ci), dataset),
            _ => CandidateSeries {
                values: dense(TOTAL_PART),
                by_status: Some(std::array::from_fn(|s| dense(s as i32))),
                per_account: Some(
                    accounts
                        .remove(&ci)
                        .unwrap_or_default()
                        .into_iter()
                        .map(|(account, by_status)| AccountParts { account, by_status })
                        .collect(),
                ),
            },
        };
        debug_assert_eq!(series.values.len(), n);
        let series = if matches!(candidate.kind, Kind::ValueSum { .. }) {
            in_units(series, value_scale)
        } else {
            series
        };
        out[index] = Some(series);
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
