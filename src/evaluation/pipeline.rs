//! The pipeline: inputs → activity → series → tests → the [`Evaluation`] model.

use std::path::PathBuf;

use anyhow::Result;
use rayon::prelude::*;

use crate::error::InputError;

use super::model::*;
use crate::candidates::assemble::{AccountParts, CandidateSeries};
use crate::candidates::catalog;
use crate::candidates::config::Config;
use crate::candidates::plan::compute_series;
use crate::candidates::series;
use crate::candidates::{Candidate, KindName};
use crate::ingest::activity::Activity;
use crate::ingest::dataset::{self, Dataset};
use crate::ingest::dataset::{Status, CHURN_HORIZON};
use crate::ingest::events::{load_activity, EventOptions, EventSource};
use crate::ingest::revenue::{load_revenue, Revenue};
use crate::ingest::source::{self};
use crate::period::{self, PeriodKind};
use crate::progress::Progress;
use crate::stats::churn::{
    churn_test, churner_weight_interval, top_share, ChurnOutcome, CustomerShare,
    BOOTSTRAP_RESAMPLES,
};
use crate::stats::lead::{lead_test, LeadOutcome, LeadSettings, Seasons, RECENT_MONTHS};
use crate::stats::score::{self, Label, Verdict};

pub(crate) const SCHEMA_VERSION: u32 = 1;

/// Analysis settings shared by every command.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Settings {
    pub(crate) period: PeriodKind,
    /// Lag range in months, inclusive.
    pub(crate) lag_min_months: u32,
    pub(crate) lag_max_months: u32,
    /// The lag range was asked for (`--lags`): it must fit the data, or the run stops.
    pub(crate) lags_given: bool,
    pub(crate) alpha: f64,
    pub(crate) seed: u64,
    pub(crate) surrogates: usize,
    pub(crate) as_of: Option<i32>,
    /// Seasonal adjustment of the lead test when the data hold three full years.
    pub(crate) seasonal: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            period: PeriodKind::Month,
            lag_min_months: 3,
            lag_max_months: 12,
            lags_given: false,
            alpha: 0.05,
            seed: 0,
            surrogates: 999,
            as_of: None,
            seasonal: false,
        }
    }
}

/// Where revenue comes from: a file, or rows already in memory (the demo).
pub(crate) enum RevenueSource {
    File(PathBuf),
    Memory(Revenue),
}

/// Files written by the queries of `nsm sql`.
pub(crate) struct SeriesFiles {
    pub(crate) series: PathBuf,
    pub(crate) customers: Option<PathBuf>,
}

/// What to read.
pub(crate) struct Inputs {
    pub(crate) events: EventSource,
    /// Pre-aggregated series (and per-account parts) instead of events.
    pub(crate) series: Option<SeriesFiles>,
    pub(crate) revenue: RevenueSource,
    pub(crate) config: Option<Config>,
    pub(crate) delimiter: u8,
    pub(crate) skip_bad_rows: bool,
}

/// Statistics are rounded for output so that files stay readable; the verdicts are decided on
/// unrounded values.
fn round(value: f64, digits: i32) -> f64 {
    let scale = 10f64.powi(digits);
    let rounded = (value * scale).round() / scale;
    if rounded == 0.0 {
        0.0
    } else {
        rounded
    }
}

fn round_opt(value: Option<f64>) -> Option<f64> {
    value.filter(|v| v.is_finite()).map(|v| round(v, 6))
}

/// Mixed into a candidate's seed for the churner-weight bootstrap, so that it draws other
/// numbers than the lead test's surrogates.
const BOOTSTRAP_SEED: u64 = 0x00c0_ffee_5eed_0001;

/// Each paying customer's part of the churner weight over the uncensored periods.
/// `per_account` is in account order (as the series keep it), so each customer's part is found
/// by binary search.
fn customer_shares(per_account: &[AccountParts], dataset: &Dataset) -> Vec<CustomerShare> {
    debug_assert!(per_account.windows(2).all(|w| w[0].account < w[1].account));
    let uncensored = dataset.len().saturating_sub(CHURN_HORIZON);
    dataset
        .panel
        .statuses
        .iter()
        .filter_map(|(customer, statuses)| {
            let count = |wanted: Status| {
                statuses[..uncensored]
                    .iter()
                    .filter(|s| **s == wanted)
                    .count() as f64
            };
            let (churner_periods, paying_periods) =
                (count(Status::PreChurn), count(Status::Paying));
            if churner_periods + paying_periods == 0.0 {
                return None;
            }
            let parts = per_account
                .binary_search_by(|a| a.account.as_str().cmp(customer.as_str()))
                .ok()
                .map(|i| &per_account[i]);
            let part = |status: Status| parts.map_or(0.0, |p| p.by_status[status as usize][0]);
            Some(CustomerShare {
                churner_metric: part(Status::PreChurn),
                paying_metric: part(Status::Paying),
                churner_periods,
                paying_periods,
            })
        })
        .collect()
}

/// FNV-1a: a stable per-candidate seed, whatever the order or number of candidates.
fn stable_hash(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Load everything and evaluate.
pub(crate) fn evaluate(
    inputs: Inputs,
    settings: &Settings,
    progress: &Progress,
) -> Result<Evaluation> {
    let config = inputs.config.unwrap_or_default();
    let event_options = EventOptions {
        columns: config.columns.clone(),
        delimiter: inputs.delimiter,
        as_of: settings.as_of,
        skip_bad_rows: inputs.skip_bad_rows,
    };
    let revenue = match inputs.revenue {
        RevenueSource::File(path) => {
            let file = source::resolve(std::slice::from_ref(&path), "revenue")?
                .into_iter()
                .next()
                .ok_or_else(|| crate::input_err!("no revenue file given"))?;
            load_revenue(&file, inputs.delimiter, settings.as_of)?
        }
        RevenueSource::Memory(revenue) => revenue,
    };
    if let Some(files) = &inputs.series {
        return evaluate_series(files, &config, &revenue, inputs.delimiter, settings);
    }
    let activity = load_activity(&inputs.events, &event_options, progress)?;
    progress.stage(&format!("read {} events", activity.events_rows));
    let dataset = dataset::build(settings.period, &activity, &revenue, settings.as_of)?;
    check_lags_fit(settings, &dataset)?;
    let candidates = if config.candidates.is_empty() {
        catalog::automatic(&activity)?
    } else {
        config.candidates.clone()
    };
    progress.stage(&format!("computing {} candidates", candidates.len()));
    let series = compute_series(&activity, &candidates, &dataset, progress)?;
    progress.stage(&format!("testing {} candidates", candidates.len()));
    let evaluation = score_all(
        &activity,
        revenue.rows,
        &dataset,
        &candidates,
        &series,
        config.north_star.clone(),
        settings,
    );
    progress.stage("done");
    Ok(evaluation)
}

/// Score series computed elsewhere, with the same tests and output as from events.
fn evaluate_series(
    files: &SeriesFiles,
    config: &Config,
    revenue: &crate::ingest::revenue::Revenue,
    delimiter: u8,
    settings: &Settings,
) -> Result<Evaluation> {
    if config.candidates.is_empty() {
        return Err(InputError::new(
            "--series needs --config with the candidates the SQL was generated from",
        )
        .into());
    }
    if revenue.shape != crate::ingest::revenue::RevenueShape::PerCustomer {
        return Err(InputError::new(format!(
            "revenue file {}: --series needs per-customer revenue (date,customer_id,amount[,months]) for the churn test, as there are no events to measure churn from",
            revenue.source
        ))
        .into());
    }
    let pre = series::load(
        &files.series,
        files.customers.as_deref(),
        config,
        settings.period,
        delimiter,
        settings.as_of,
    )?;
    let dataset = dataset::build(settings.period, &pre.activity, revenue, settings.as_of)?;
    check_lags_fit(settings, &dataset)?;
    let candidates = &config.candidates;
    let series = pre.series(config, &dataset)?;
    Ok(score_all(
        &pre.activity,
        revenue.rows,
        &dataset,
        candidates,
        &series,
        config.north_star.clone(),
        settings,
    ))
}

/// A lag range given with `--lags` whose longest lag leaves no pair of growth values to
/// correlate is a usage error, not an `inconclusive` result.
fn check_lags_fit(settings: &Settings, dataset: &Dataset) -> Result<()> {
    let kind = dataset.kind;
    let n = dataset.revenue.len();
    let lag_max = kind.lag_from_months(settings.lag_max_months);
    // Growth has n - 1 values; lag k pairs n - 1 - k of them.
    if !settings.lags_given || lag_max + 1 < n {
        return Ok(());
    }
    Err(InputError::new(format!(
        "--lags {}..{}: the longest lag ({} {}s) is longer than the data: {n} analysed {}s ({} to {}); give a shorter range or more history",
        settings.lag_min_months,
        settings.lag_max_months,
        lag_max,
        kind.name(),
        kind.name(),
        kind.label(dataset.first),
        kind.label(dataset.last),
    ))
    .into())
}

/// Run both tests on every candidate and assemble the report.
pub(crate) fn score_all(
    activity: &Activity,
    revenue_rows: u64,
    dataset: &Dataset,
    candidates: &[Candidate],
    series: &[CandidateSeries],
    north_star: Option<String>,
    settings: &Settings,
) -> Evaluation {
    let kind = dataset.kind;
    let lead_settings = LeadSettings {
        lag_min: kind.lag_from_months(settings.lag_min_months),
        lag_max: kind.lag_from_months(settings.lag_max_months),
        alpha: settings.alpha,
        surrogates: settings.surrogates,
        seed: settings.seed,
        seasons: settings.seasonal.then(|| Seasons {
            period: kind.per_year(),
            first: kind.season_of(dataset.first),
        }),
        recent: kind.lag_from_months(RECENT_MONTHS),
    };
    let labels = dataset.labels();
    let points = |values: &[f64]| -> Vec<Point> {
        labels
            .iter()
            .zip(values)
            .map(|(period, value)| Point {
                period: period.clone(),
                value: *value,
            })
            .collect()
    };
    let unit = kind.name();
    // Candidates are independent and seeded by name: scoring them in parallel gives the same
    // bytes as one by one.
    let mut out: Vec<CandidateOut> = candidates
        .par_iter()
        .zip(series.par_iter())
        .map(|(candidate, s)| {
            let mut candidate_settings = lead_settings;
            candidate_settings.seed = settings.seed ^ stable_hash(&candidate.name);
            let lead = lead_test(&s.values, &dataset.revenue, &candidate_settings);
            let mut churn = churn_test(
                &s.values,
                s.by_status.as_ref(),
                if matches!(candidate.kind, crate::candidates::Kind::Ratio { .. }) {
                    "not defined for a ratio of two candidates"
                } else {
                    "needs each account's part: pass --customers (from `nsm sql --query customers`)"
                },
                &dataset.panel.counts,
                candidate.kind.is_structurally_monotone(),
            );
            if let Some(per_account) = &s.per_account {
                let totals: Vec<f64> = per_account.iter().map(AccountParts::total).collect();
                churn.top_share = top_share(&totals);
                churn.churner_weight_interval = churner_weight_interval(
                    &customer_shares(per_account, dataset),
                    BOOTSTRAP_RESAMPLES,
                    candidate_settings.seed ^ BOOTSTRAP_SEED,
                );
            }
            let judgement = score::judge(&lead, &churn, &s.values, &lead_settings, unit);
            CandidateOut {
                name: candidate.name.clone(),
                kind: candidate.kind.kind_name(),
                description: candidate.describe(),
                rank: None,
                score: Some(judgement.score),
                verdict: judgement.verdict(),
                explanation: judgement.explanation(),
                actionability: Some(round(judgement.actionability, 6)),
                lead: Some(lead_out(judgement.lead, &lead, judgement.lead_explanation)),
                churn: Some(churn_out(
                    judgement.churn,
                    &churn,
                    judgement.churn_explanation,
                )),
                labels: judgement.labels,
                series: points(&s.values),
            }
        })
        .collect();
    out.sort_by(|a, b| {
        b.score
            .unwrap_or(0.0)
            .total_cmp(&a.score.unwrap_or(0.0))
            .then_with(|| a.verdict.cmp(&b.verdict))
            .then_with(|| a.name.cmp(&b.name))
    });
    for (i, candidate) in out.iter_mut().enumerate() {
        candidate.rank = Some(i + 1);
    }
    let recommended = out
        .iter()
        .find(|c| c.verdict == Verdict::Pass && !c.labels.contains(&Label::Revenue))
        .map(|c| c.name.clone());
    let recommendation = match &recommended {
        Some(name) => {
            let c = out.iter().find(|c| &c.name == name).expect("recommended is a candidate");
            format!("Recommended north star: {name} (score {:.1}). {}", c.score.unwrap_or(0.0), c.explanation)
        }
        None => "No candidate passes both tests: none of these metrics should be your north star yet. Read the explanations for what each one lacks.".to_string(),
    };
    out.push(CandidateOut {
        name: "revenue".into(),
        kind: KindName::Revenue,
        description: "revenue per period (the reference every candidate is tested against)".into(),
        rank: None,
        score: None,
        verdict: Verdict::Inconclusive,
        labels: vec![Label::Revenue],
        explanation:
            "Revenue itself: the reference the candidates are tested against, never recommended."
                .into(),
        actionability: None,
        lead: None,
        churn: None,
        series: points(&dataset.revenue),
    });
    let mut notes = dataset.notes.clone();
    if activity.skipped_rows > 0 {
        notes.push(format!(
            "skipped {} unreadable event row(s) (--skip-bad-rows)",
            activity.skipped_rows
        ));
    }
    Evaluation {
        schema_version: SCHEMA_VERSION,
        tool: Tool {
            name: "nsm".into(),
            version: env!("CARGO_PKG_VERSION").into(),
        },
        settings: SettingsOut {
            period: kind.name().into(),
            lag_min: settings.lag_min_months,
            lag_max: settings.lag_max_months,
            alpha: settings.alpha,
            seed: settings.seed,
            surrogates: settings.surrogates,
            seasonal: settings.seasonal,
            as_of: settings.as_of.map(period::format_day),
        },
        data: DataOut {
            events_rows: activity.events_rows,
            revenue_rows,
            first_period: kind.label(dataset.first),
            last_period: kind.label(dataset.last),
            n_periods: dataset.len(),
            churn_source: dataset.panel.source.name().into(),
            skipped_rows: activity.skipped_rows,
            skipped_examples: activity.skipped_examples.clone(),
            notes,
            customers: customers_out(dataset, &labels),
        },
        recommended,
        recommendation,
        north_star,
        candidates: out,
    }
}

fn customers_out(dataset: &Dataset, labels: &[String]) -> Vec<CustomersOut> {
    let counts = &dataset.panel.counts;
    let rates = counts.churn_rate();
    labels
        .iter()
        .enumerate()
        .map(|(i, period)| CustomersOut {
            period: period.clone(),
            paying: counts.paying[i],
            new: counts.new[i],
            reactivated: counts.reactivated[i],
            churned: counts.churned[i],
            churn_rate: round_opt(rates[i]),
        })
        .collect()
}

fn lead_out(verdict: Verdict, lead: &LeadOutcome, explanation: String) -> LeadOut {
    LeadOut {
        verdict,
        explanation,
        best_lag: lead.best_lag,
        r: round_opt(lead.r),
        p_value: round_opt(lead.p_value),
        null_r: round_opt(lead.null_r),
        reverse_best_lag: lead.reverse_best_lag,
        reverse_r: round_opt(lead.reverse_r),
        reverse_p_value: round_opt(lead.reverse_p_value),
        same_period_r: round_opt(lead.same_period_r),
        granger_f: round_opt(lead.granger.map(|g| g.f)),
        granger_p: round_opt(lead.granger.map(|g| g.p_value)),
        granger_lags: lead.granger.map(|g| g.lags),
        reverse_granger_f: round_opt(lead.reverse_granger.map(|g| g.f)),
        reverse_granger_p: round_opt(lead.reverse_granger.map(|g| g.p_value)),
        n_periods: lead.n_periods,
        needs_more_periods: lead.needs_more_periods,
        seasonally_adjusted: lead.seasonally_adjusted,
        recent_r: round_opt(lead.recent_r),
        earlier_r: round_opt(lead.earlier_r),
        by_lag: lead
            .scan
            .forward
            .iter()
            .map(|(k, r)| (*k, round(*r, 6)))
            .collect(),
    }
}

fn churn_out(verdict: Verdict, churn: &ChurnOutcome, explanation: String) -> ChurnOut {
    ChurnOut {
        verdict,
        explanation,
        divergence_rate: round_opt(churn.divergence_rate),
        divergence_p: round_opt(churn.divergence_p),
        churn_periods: churn.churn_periods,
        rose_in: churn.rose_in,
        churn_corr: round_opt(churn.churn_corr),
        churner_weight: round_opt(churn.churner_weight),
        churner_weight_ci: churn
            .churner_weight_interval
            .map(|(low, high)| [round(low, 6), round(high, 6)]),
        churner_weight_note: churn.churner_weight_note.clone(),
        residual: round_opt(churn.residual),
        monotone: churn.monotone,
        top1_share: round_opt(churn.top_share),
    }
}
