//! The threshold search: "N+ times in a window" for the most frequent events, scored on the
//! accounts' retention, chosen on one half of the accounts and confirmed on the other.
//!
//! The grid: for each of the [`GRID_EVENTS`] most frequent events, entities doing it at least N
//! times (N on the ladder 1, 2, 3, 5, 8, 13, … up to the 95th percentile of the counts of the
//! entities doing it) in a week (the weekly count averaged over the period) or in the period,
//! for accounts and users (an account's value is then the number of its users at N+); the same
//! for the value sums of the [`VALUE_EVENTS`] most frequent events carrying values (a 1-2-5
//! ladder between the 10th and 95th percentiles); and, with accounts of several users, accounts
//! with at least 2 to 5 members doing the event in a week or period. Every cell is a
//! candidate of the existing kinds, computed by the same plan as `nsm evaluate` computes it,
//! so a written `[[candidate]]` block gives the same series.
//!
//! Each cell is scored by the account line's retention test at one horizon (6 months where
//! the data allow): does an account's value at t predict whether it still pays at t + h,
//! with period effects and its revenue and tenure adjusted for ([`crate::stats::accounts`]).
//!
//! No overfitting: the paying accounts are split in two halves by a seeded hash of their id.
//! The cells are ranked on the first half (discovery) and given a family-wise p-value over the
//! whole grid there (the maximum statistic under the score wild bootstrap shared by every cell,
//! Westfall–Young step-down); the best cell of each of the top [`SHOWN`] families is then
//! tested on the held-out half, Holm-adjusted over those. A cell is `confirmed` when both hold
//! at alpha. Held-out accounts rather than later periods: accounts are the unit the test's
//! inference is by (its clusters), the period effects absorb the shocks both halves share, and
//! each half keeps the whole history, where a split in time would leave each half too short for
//! a 6-month horizon on 18–24 months of data.

use std::collections::BTreeMap;

use anyhow::Result;

use crate::candidates::catalog::{event_stats, slug, MIN_EVENT_SHARE};
use crate::candidates::plan::compute_series;
use crate::candidates::{Candidate, Entity, EventFilter, Kind, Rollup, Threshold, Window};
use crate::error::InputError;
use crate::evaluation::pipeline::{customer_histories, lead_settings, stable_hash, Loaded};
use crate::evaluation::Settings;
use crate::ingest::activity::{Activity, VALUE_SCALE};
use crate::period::PeriodKind;
use crate::progress::Progress;
use crate::stats::accounts::{self, AccountSettings, Effect, HorizonFigures, Panel};
use crate::stats::evidence::{normal_cdf, test_all};
use crate::stats::family;
use crate::stats::lead::LeadOutcome;

/// Events whose counts the grid searches, most frequent first.
pub(crate) const GRID_EVENTS: usize = 4;
/// Events whose value sums it searches.
pub(crate) const VALUE_EVENTS: usize = 2;
/// The count ladder.
pub(crate) const LADDER: [u64; 14] = [1, 2, 3, 5, 8, 13, 21, 34, 55, 89, 144, 233, 377, 610];
/// The ladder stops at this quantile of the counts of the entities doing the event.
const LADDER_QUANTILE: f64 = 0.95;
/// Team sizes searched.
pub(crate) const TEAM_SIZES: [u64; 4] = [2, 3, 4, 5];
/// Families whose best cell is shown and tested on the held-out accounts.
pub(crate) const SHOWN: usize = 5;
/// The horizon the search scores retention at, in months (the nearest one the data allow).
pub(crate) const HORIZON_MONTHS: [u32; 2] = [6, 3];
/// Mixed into the run's seed for the account split and the search's null draws.
const SPLIT_SEED: u64 = 0xd15c_0e4e_5b11_7001;

/// What a cell counts, besides its event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Measure {
    /// Entities with N+ of the event.
    Count,
    /// Entities whose values over the event sum to at least N.
    Value,
    /// Accounts with N+ members doing the event.
    Members,
}

impl Measure {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Measure::Count => "count",
            Measure::Value => "value",
            Measure::Members => "members",
        }
    }
}

/// Cells that differ only in N: one dose-response curve.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Family {
    pub(crate) event: String,
    pub(crate) measure: Measure,
    /// Whose condition it is (accounts for team cells).
    pub(crate) entity: Entity,
    pub(crate) window: Window,
}

impl Family {
    pub(crate) fn window_name(&self, kind: PeriodKind) -> &'static str {
        match self.window {
            Window::Week => "week",
            Window::Period => kind.name(),
        }
    }

    pub(crate) fn describe(&self, kind: PeriodKind) -> String {
        let window = self.window_name(kind);
        match self.measure {
            Measure::Count => format!(
                "{}s by their count of {} in a {window}",
                self.entity.name(),
                self.event
            ),
            Measure::Value => format!(
                "{}s by their value of {} in a {window}",
                self.entity.name(),
                self.event
            ),
            Measure::Members => format!(
                "accounts by their members doing {} in a {window}",
                self.event
            ),
        }
    }
}

/// One cell of the grid.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Cell {
    pub(crate) candidate: Candidate,
    pub(crate) family: usize,
    pub(crate) threshold: f64,
}

/// The grid for these events.
pub(crate) fn grid(activity: &Activity, kind: PeriodKind) -> (Vec<Family>, Vec<Cell>) {
    let stats = event_stats(activity);
    let total: i64 = stats.iter().map(|s| s.count).sum();
    let frequent: Vec<_> = stats
        .iter()
        .filter(|s| total > 0 && s.count as f64 / total as f64 >= MIN_EVENT_SHARE)
        .take(GRID_EVENTS)
        .collect();
    let entities: &[Entity] = if activity.has_account {
        &[Entity::Account, Entity::User]
    } else {
        &[Entity::User]
    };
    let teams = activity.has_account && several_member_share(activity) >= 0.1;
    let mut families = Vec::new();
    let mut cells = Vec::new();
    let suffix = |window: Window| match window {
        Window::Week => "weekly".to_string(),
        Window::Period => format!("per_{}", kind.name()),
    };
    let in_window = |window: Window| match window {
        Window::Week => " in a week (weekly, averaged over the period)".to_string(),
        Window::Period => format!(" in a {}", kind.name()),
    };
    // With weekly periods a period window is the week window again: searched once.
    let windows: &[Window] = match kind {
        PeriodKind::Week => &[Window::Week],
        PeriodKind::Month => &[Window::Week, Window::Period],
    };
    let mut values_left = VALUE_EVENTS;
    for event in &frequent {
        let code = activity
            .event_names
            .iter()
            .position(|n| n == event.name)
            .unwrap_or(0) as u32;
        let name = slug(&event.name);
        let filter = EventFilter::one(&event.name);
        let with_values = event.has_value && values_left > 0;
        values_left -= usize::from(with_values);
        for &window in windows {
            let period = (window == Window::Period).then_some(kind);
            for &entity in entities {
                let by_account = entity == Entity::Account;
                let mut measures = vec![Measure::Count];
                if with_values {
                    measures.push(Measure::Value);
                }
                for measure in measures {
                    let of_value = measure == Measure::Value;
                    let totals = activity.window_totals(code, by_account, period, of_value);
                    let rungs = if of_value {
                        value_rungs(&totals)
                    } else {
                        count_rungs(&totals)
                    };
                    if rungs.is_empty() {
                        continue;
                    }
                    let family = families.len();
                    families.push(Family {
                        event: event.name.clone(),
                        measure,
                        entity,
                        window,
                    });
                    for threshold in rungs {
                        let whom = format!("{}s", entity.name());
                        let what = if of_value {
                            format!(
                                "a value of {} or more over {}",
                                number(threshold),
                                event.name
                            )
                        } else {
                            format!("{}+ {}", number(threshold), event.name)
                        };
                        let (label, rule) = if of_value {
                            (format!("{}_value", name), Threshold::MinValue(threshold))
                        } else {
                            (name.clone(), Threshold::MinCount(threshold as u64))
                        };
                        cells.push(Cell {
                            candidate: Candidate {
                                name: format!(
                                    "{}s_{}plus_{label}_{}",
                                    entity.name(),
                                    number_slug(threshold),
                                    suffix(window)
                                ),
                                kind: Kind::ThresholdEntities {
                                    entity,
                                    filter: filter.clone(),
                                    window,
                                    rollup: Rollup::Mean,
                                    threshold: rule,
                                },
                                description: Some(format!(
                                    "{whom} with {what}{}",
                                    in_window(window)
                                )),
                            },
                            family,
                            threshold,
                        });
                    }
                }
            }
            if teams {
                let family = families.len();
                families.push(Family {
                    event: event.name.clone(),
                    measure: Measure::Members,
                    entity: Entity::Account,
                    window,
                });
                for members in TEAM_SIZES {
                    cells.push(Cell {
                        candidate: Candidate {
                            name: format!("teams_{members}plus_{name}_{}", suffix(window)),
                            kind: Kind::TeamEntities {
                                filter: filter.clone(),
                                window,
                                rollup: Rollup::Mean,
                                min_members: members,
                            },
                            description: Some(format!(
                                "accounts with {members}+ members doing {}{}",
                                event.name,
                                in_window(window)
                            )),
                        },
                        family,
                        threshold: members as f64,
                    });
                }
            }
        }
    }
    (families, cells)
}

/// `5`, `2.5`: a threshold in a sentence.
fn number(value: f64) -> String {
    format!("{value}")
}

/// `5`, `2_5` for 2.5: a threshold in a candidate's name.
fn number_slug(value: f64) -> String {
    number(value).replace('.', "_").replace('-', "minus_")
}

/// The share of accounts with two or more members.
fn several_member_share(activity: &Activity) -> f64 {
    let mut members = vec![0u32; activity.accounts.len()];
    for m in &activity.members {
        if let Some(slot) = members.get_mut(m.account as usize) {
            *slot += 1;
        }
    }
    let accounts = members.iter().filter(|n| **n > 0).count();
    if accounts == 0 {
        return 0.0;
    }
    members.iter().filter(|n| **n >= 2).count() as f64 / accounts as f64
}

/// The `q` quantile of `values` (sorted here), by the nearest rank.
fn quantile(values: &mut [i64], q: f64) -> Option<i64> {
    if values.is_empty() {
        return None;
    }
    values.sort_unstable();
    let rank = ((q * values.len() as f64).ceil() as usize).clamp(1, values.len());
    Some(values[rank - 1])
}

/// The count ladder up to the 95th percentile of the counts (at least 1 and 2).
fn count_rungs(totals: &[i64]) -> Vec<f64> {
    let mut totals = totals.to_vec();
    let Some(top) = quantile(&mut totals, LADDER_QUANTILE) else {
        return Vec::new();
    };
    LADDER
        .iter()
        .copied()
        .filter(|&n| n <= 2 || n as i64 <= top)
        .map(|n| n as f64)
        .collect()
}

/// A 1-2-5 ladder of values between the 10th and 95th percentiles of the sums (in the value's
/// own units), at most eight rungs.
fn value_rungs(totals: &[i64]) -> Vec<f64> {
    let mut sums: Vec<i64> = totals.iter().copied().filter(|v| *v > 0).collect();
    let (Some(low), Some(high)) = (
        quantile(&mut sums, 0.10).map(|v| v as f64 / VALUE_SCALE),
        quantile(&mut sums, LADDER_QUANTILE).map(|v| v as f64 / VALUE_SCALE),
    ) else {
        return Vec::new();
    };
    let mut rungs = Vec::new();
    let mut scale = 10f64.powi(low.max(1e-6).log10().floor() as i32);
    while rungs.len() < 8 && scale <= high {
        for step in [1.0, 2.0, 5.0] {
            let value = step * scale;
            if value >= low && value <= high && rungs.len() < 8 {
                // Rounded to the decimals of the scale, so names and TOML stay short.
                let decimals = (-scale.log10().floor()).max(0.0) as i32;
                let factor = 10f64.powi(decimals);
                rungs.push((value * factor).round() / factor);
            }
        }
        scale *= 10.0;
    }
    rungs
}

/// One half of the accounts, or all of them, with what the account line needs.
struct Sample {
    panel: Panel,
    /// The customers in it, by their index in the per-customer revenue.
    members: Vec<usize>,
}

impl Sample {
    /// The values of this sample's customers, in its order.
    fn values(&self, values: &[f64], periods: usize) -> Vec<f64> {
        let mut out = Vec::with_capacity(self.members.len() * periods);
        for &c in &self.members {
            out.extend_from_slice(&values[c * periods..(c + 1) * periods]);
        }
        out
    }
}

/// The full panel and its two halves.
struct Split {
    full: Panel,
    halves: [Sample; 2],
    periods: usize,
    horizon: usize,
}

/// Which half a customer is in: a seeded hash of its id.
fn half_of(id: &str, seed: u64) -> usize {
    let mut x = stable_hash(id) ^ seed ^ SPLIT_SEED;
    // SplitMix64's finaliser: every bit of the id's hash reaches the lowest one.
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    ((x ^ (x >> 31)) & 1) as usize
}

fn split(loaded: &Loaded, settings: &Settings) -> Result<Split> {
    let dataset = &loaded.dataset;
    let Some(histories) = customer_histories(dataset) else {
        return Err(InputError::new(
            "nsm discover scores thresholds on each account's retention: it needs per-customer revenue (date,customer_id,amount[,months]), a Stripe or a ChartMogul export, not revenue per period",
        )
        .into());
    };
    let ids: Vec<&String> = dataset
        .customer_revenue
        .as_ref()
        .map(|r| r.amounts.keys().collect())
        .unwrap_or_default();
    let kind = dataset.kind;
    let mut members: [Vec<usize>; 2] = [Vec::new(), Vec::new()];
    for (c, id) in ids.iter().enumerate() {
        members[half_of(id, settings.seed)].push(c);
    }
    let periods = dataset.len();
    for months in HORIZON_MONTHS {
        let horizon = kind.lag_from_months(months);
        let account_settings = AccountSettings {
            horizons: vec![horizon],
            display: horizon,
        };
        let panel_of = |list: &[usize]| {
            let part: Vec<_> = list.iter().map(|&c| histories[c].clone()).collect();
            Panel::new(&part, &account_settings)
        };
        let (Some(full), Some(first), Some(second)) = (
            Panel::new(&histories, &account_settings),
            panel_of(&members[0]),
            panel_of(&members[1]),
        ) else {
            continue;
        };
        let [m0, m1] = members;
        return Ok(Split {
            full,
            halves: [
                Sample {
                    panel: first,
                    members: m0,
                },
                Sample {
                    panel: second,
                    members: m1,
                },
            ],
            periods,
            horizon,
        });
    }
    Err(InputError::new(format!(
        "nsm discover follows accounts 3 or 6 months forward: the data hold {periods} {}s ({} to {}) and {} paying customers, too few for either horizon in both halves of the accounts",
        kind.name(),
        kind.label(dataset.first),
        kind.label(dataset.last),
        ids.len()
    ))
    .into())
}

/// What one cell's values give.
struct Measured {
    /// The retention test on the discovery half (with the accounts' contributions).
    discovery: Option<HorizonFigures>,
    /// The same test on the held-out half.
    confirmation: Option<HorizonFigures>,
    /// The expansion test (revenue change of the accounts still paying) on each half: shown,
    /// not searched.
    expansion: [Option<HorizonFigures>; 2],
    /// Accounts above zero against the others, all accounts (descriptive).
    effect: Option<Effect>,
    reach: Option<f64>,
}

impl Split {
    fn measure(&self, values: &[f64]) -> Measured {
        let tests = |sample: &Sample| {
            let e = accounts::evidence(&sample.panel, &sample.values(values, self.periods));
            let first =
                |line: accounts::Line| line.by_horizon.into_iter().find(HorizonFigures::is_test);
            (
                first(e.retention),
                first(e.expansion).map(HorizonFigures::without_scores),
            )
        };
        let last = (0..self.periods)
            .rev()
            .find_map(|t| self.full.reach(values, t));
        let (discovery, expansion_in) = tests(&self.halves[0]);
        let (confirmation, expansion_out) = tests(&self.halves[1]);
        Measured {
            discovery,
            confirmation: confirmation.map(HorizonFigures::without_scores),
            expansion: [expansion_in, expansion_out],
            effect: accounts::split_effect(&self.full, values, |v| v > 0.0),
            reach: last,
        }
    }
}

/// A test's figures on one half.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct SampleTest {
    pub(crate) z: f64,
    pub(crate) p_value: f64,
    /// Adjusted over the grid (discovery) or Holm over the shown cells (held out).
    pub(crate) p_adjusted: Option<f64>,
    pub(crate) coefficient: Option<f64>,
    pub(crate) standard_error: Option<f64>,
    pub(crate) landmarks: usize,
    pub(crate) accounts: usize,
    /// The expansion test on the same half (z and one-sided p), not searched or adjusted.
    pub(crate) expansion: Option<(f64, f64)>,
}

impl SampleTest {
    fn of(f: &HorizonFigures) -> SampleTest {
        SampleTest {
            z: f.z,
            p_value: 1.0 - normal_cdf(f.statistic),
            p_adjusted: None,
            coefficient: f.coefficient,
            standard_error: f.standard_error,
            landmarks: f.landmarks,
            accounts: f.accounts,
            expansion: None,
        }
    }
}

/// The z and one-sided p of an expansion test.
fn expansion_of(f: Option<&HorizonFigures>) -> Option<(f64, f64)> {
    f.map(|f| (f.z, 1.0 - normal_cdf(f.statistic)))
}

/// Where a shown cell stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Standing {
    /// Significant over the grid on the discovery half and on the held-out half.
    Confirmed,
    /// Significant over the grid, not on the held-out accounts: an in-sample winner only.
    NotConfirmed,
    /// Not significant over the grid.
    NotSignificant,
}

impl Standing {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Standing::Confirmed => "confirmed",
            Standing::NotConfirmed => "not_confirmed",
            Standing::NotSignificant => "not_significant",
        }
    }
}

/// One cell's results.
#[derive(Debug, Clone)]
pub(crate) struct CellResult {
    pub(crate) cell: Cell,
    pub(crate) discovery: Option<SampleTest>,
    pub(crate) confirmation: Option<SampleTest>,
    pub(crate) effect: Option<Effect>,
    pub(crate) reach: Option<f64>,
    pub(crate) aggregate: LeadOutcome,
}

/// The whole search.
pub(crate) struct Search {
    pub(crate) families: Vec<Family>,
    pub(crate) cells: Vec<CellResult>,
    /// Indexes into `cells`: the best cell of each of the top families, best first, with its
    /// standing.
    pub(crate) shown: Vec<(usize, Standing)>,
    /// The smallest adjusted p over the grid (the family-wise p of the search).
    pub(crate) family_p: Option<f64>,
    pub(crate) tested: usize,
    pub(crate) found: Option<usize>,
    pub(crate) horizon: usize,
    pub(crate) accounts: [usize; 2],
}

/// Holm's step-down adjustment of `p` (in any order).
fn holm(p: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..p.len()).collect();
    order.sort_by(|a, b| p[*a].total_cmp(&p[*b]).then(a.cmp(b)));
    let k = p.len();
    let mut out = vec![1.0; k];
    let mut running: f64 = 0.0;
    for (rank, &i) in order.iter().enumerate() {
        running = running.max(((k - rank) as f64 * p[i]).min(1.0));
        out[i] = running;
    }
    out
}

/// Search the grid.
pub(crate) fn search(loaded: &Loaded, settings: &Settings, progress: &Progress) -> Result<Search> {
    let split = split(loaded, settings)?;
    let (families, cells) = grid(&loaded.activity, loaded.dataset.kind);
    if cells.is_empty() {
        return Err(InputError::new(
            "nsm discover found no event with at least 1% of the events to search thresholds of",
        )
        .into());
    }
    progress.stage(&format!(
        "searching {} thresholds on {} + {} accounts",
        cells.len(),
        split.halves[0].members.len(),
        split.halves[1].members.len()
    ));
    let candidates: Vec<Candidate> = cells.iter().map(|c| c.candidate.clone()).collect();
    let computed = compute_series(
        &loaded.activity,
        &candidates,
        &loaded.dataset,
        progress,
        &|_, values| split.measure(&values.values),
    )?;
    progress.stage("testing the thresholds");
    let lead = lead_settings(&loaded.dataset, settings);
    let metrics: Vec<&[f64]> = computed.iter().map(|(s, _)| s.values.as_slice()).collect();
    let aggregate = test_all(
        &metrics,
        &loaded.dataset.revenue,
        vec![None; metrics.len()],
        &lead,
    );
    // The grid's family: every cell with a test on the discovery half.
    let measured: Vec<Option<Measured>> = computed.into_iter().map(|(_, m)| m).collect();
    let tests: Vec<(usize, &HorizonFigures)> = measured
        .iter()
        .enumerate()
        .filter_map(|(j, m)| m.as_ref()?.discovery.as_ref().map(|f| (j, f)))
        .collect();
    let figures: Vec<&HorizonFigures> = tests.iter().map(|(_, f)| *f).collect();
    let null = accounts::joint_null(&figures, settings.surrogates, settings.seed ^ SPLIT_SEED);
    let observed: Vec<Option<f64>> = figures.iter().map(|f| Some(f.statistic)).collect();
    let adjusted = family::adjust(&observed, &null);
    let mut p_adjusted: BTreeMap<usize, f64> = BTreeMap::new();
    for (k, (j, _)) in tests.iter().enumerate() {
        if let Some((_, p)) = adjusted[k] {
            p_adjusted.insert(*j, p);
        }
    }
    let family_p = p_adjusted.values().copied().reduce(f64::min);
    let tested = tests.len();
    let mut results: Vec<CellResult> = cells
        .into_iter()
        .zip(measured)
        .zip(aggregate)
        .enumerate()
        .map(|(j, ((cell, m), (aggregate, _)))| {
            let (discovery, confirmation, effect, reach) = match m {
                Some(m) => (
                    m.discovery.as_ref().map(|f| SampleTest {
                        p_adjusted: p_adjusted.get(&j).copied(),
                        expansion: expansion_of(m.expansion[0].as_ref()),
                        ..SampleTest::of(f)
                    }),
                    m.confirmation.as_ref().map(|f| SampleTest {
                        expansion: expansion_of(m.expansion[1].as_ref()),
                        ..SampleTest::of(f)
                    }),
                    m.effect,
                    m.reach,
                ),
                None => (None, None, None, None),
            };
            CellResult {
                cell,
                discovery,
                confirmation,
                effect,
                reach,
                aggregate,
            }
        })
        .collect();
    // The best cell of each family on the discovery half, families by their best.
    let statistic = |r: &CellResult| r.discovery.as_ref().map(|d| (-d.p_value, d.z));
    let mut best: Vec<usize> = Vec::new();
    for family in 0..families.len() {
        let top = (0..results.len())
            .filter(|&j| results[j].cell.family == family && results[j].discovery.is_some())
            .max_by(|&a, &b| {
                statistic(&results[a])
                    .partial_cmp(&statistic(&results[b]))
                    .unwrap_or(std::cmp::Ordering::Equal)
                    .then(b.cmp(&a))
            });
        best.extend(top);
    }
    best.sort_by(|&a, &b| {
        statistic(&results[b])
            .partial_cmp(&statistic(&results[a]))
            .unwrap_or(std::cmp::Ordering::Equal)
            .then(a.cmp(&b))
    });
    best.truncate(SHOWN);
    // The held-out test of the shown cells, Holm-adjusted over them.
    let held: Vec<usize> = best
        .iter()
        .copied()
        .filter(|&j| results[j].confirmation.is_some())
        .collect();
    let holm_p = holm(
        &held
            .iter()
            .map(|&j| results[j].confirmation.as_ref().map_or(1.0, |c| c.p_value))
            .collect::<Vec<_>>(),
    );
    for (&j, p) in held.iter().zip(holm_p) {
        if let Some(c) = results[j].confirmation.as_mut() {
            c.p_adjusted = Some(p);
        }
    }
    let alpha = settings.alpha;
    let shown: Vec<(usize, Standing)> = best
        .iter()
        .map(|&j| {
            let r = &results[j];
            let significant = r
                .discovery
                .as_ref()
                .and_then(|d| d.p_adjusted)
                .is_some_and(|p| p <= alpha);
            let held_out = r
                .confirmation
                .as_ref()
                .and_then(|c| c.p_adjusted)
                .is_some_and(|p| p <= alpha);
            let standing = match (significant, held_out) {
                (true, true) => Standing::Confirmed,
                (true, false) => Standing::NotConfirmed,
                _ => Standing::NotSignificant,
            };
            (j, standing)
        })
        .collect();
    let found = shown
        .iter()
        .find(|(_, s)| *s == Standing::Confirmed)
        .map(|(j, _)| *j);
    Ok(Search {
        families,
        cells: results,
        shown,
        family_p,
        tested,
        found,
        horizon: split.horizon,
        accounts: [split.halves[0].members.len(), split.halves[1].members.len()],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ladders() {
        assert_eq!(
            count_rungs(&[1, 1, 2, 3, 4, 5, 6, 7, 8, 9]),
            vec![1.0, 2.0, 3.0, 5.0, 8.0]
        );
        assert_eq!(count_rungs(&[1]), vec![1.0, 2.0]);
        assert!(count_rungs(&[]).is_empty());
        let minutes: Vec<i64> = (1..=100).map(|m| m * 10 * VALUE_SCALE as i64).collect();
        // Sums of 10 to 1,000; 10th percentile 100, 95th 950.
        assert_eq!(value_rungs(&minutes), vec![100.0, 200.0, 500.0]);
    }

    #[test]
    fn holm_by_hand() {
        // p sorted: 0.01 (x3 = 0.03), 0.02 (x2 = 0.04), 0.04 (x1 = 0.04).
        let p = holm(&[0.04, 0.01, 0.02]);
        let expected = [0.04, 0.03, 0.04];
        for (a, b) in p.iter().zip(expected) {
            assert!((a - b).abs() < 1e-12, "{p:?}");
        }
    }

    #[test]
    fn the_split_is_seeded_and_about_even() {
        let ids: Vec<String> = (0..10_000).map(|i| format!("acct_{i}")).collect();
        let first = ids.iter().filter(|id| half_of(id, 0) == 0).count();
        assert!((4_800..=5_200).contains(&first), "{first}");
        let moved = ids
            .iter()
            .filter(|id| half_of(id, 0) != half_of(id, 1))
            .count();
        assert!((4_800..=5_200).contains(&moved), "{moved}");
        assert!(ids.iter().all(|id| half_of(id, 7) == half_of(id, 7)));
    }
}
