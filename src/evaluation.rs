//! The whole evaluation: inputs → activity → series → tests → a serialisable report whose
//! field names are the JSON contract (SPEC "JSON output", `schema_version` 1).

use std::path::PathBuf;

use anyhow::Result;
use rayon::prelude::*;

use crate::error::InputError;
use serde::Serialize;

use crate::candidates::assemble::{AccountParts, CandidateSeries};
use crate::candidates::catalog;
use crate::candidates::config::Config;
use crate::candidates::plan::compute_series;
use crate::candidates::series;
use crate::candidates::Candidate;
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
    BOOTSTRAP_RESAMPLES, GAMEABLE_SHARE,
};
use crate::stats::lead::{lead_test, LeadOutcome, LeadSettings, Seasons, RECENT_MONTHS};
use crate::stats::score::{self, Label, Verdict};

pub const SCHEMA_VERSION: u32 = 1;

/// Analysis settings shared by every command.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    pub period: PeriodKind,
    /// Lag range in months, inclusive.
    pub lag_min_months: u32,
    pub lag_max_months: u32,
    /// The lag range was asked for (`--lags`): it must fit the data, or the run stops.
    pub lags_given: bool,
    pub alpha: f64,
    pub seed: u64,
    pub surrogates: usize,
    pub as_of: Option<i32>,
    /// Seasonal adjustment of the lead test when the data hold three full years.
    pub seasonal: bool,
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
pub enum RevenueSource {
    File(PathBuf),
    Memory(Revenue),
}

/// Files written by the queries of `nsm sql`.
pub struct SeriesFiles {
    pub series: PathBuf,
    pub customers: Option<PathBuf>,
}

/// What to read.
pub struct Inputs {
    pub events: EventSource,
    /// Pre-aggregated series (and per-account parts) instead of events.
    pub series: Option<SeriesFiles>,
    pub revenue: RevenueSource,
    pub config: Option<Config>,
    pub delimiter: u8,
    pub skip_bad_rows: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct Tool {
    pub name: &'static str,
    pub version: &'static str,
}

#[derive(Debug, Clone, Serialize)]
pub struct SettingsOut {
    pub period: &'static str,
    pub lag_min: u32,
    pub lag_max: u32,
    pub alpha: f64,
    pub seed: u64,
    pub surrogates: usize,
    pub seasonal: bool,
    pub as_of: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct SkippedRow {
    pub file: String,
    pub line: Option<u64>,
    pub column: String,
    pub value: String,
    pub reason: String,
}

/// Customer counts of one period.
#[derive(Debug, Clone, Serialize)]
pub struct CustomersOut {
    pub period: String,
    pub paying: f64,
    pub new: f64,
    pub reactivated: f64,
    pub churned: f64,
    pub churn_rate: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct DataOut {
    pub events_rows: u64,
    pub revenue_rows: u64,
    pub first_period: String,
    pub last_period: String,
    pub n_periods: usize,
    pub churn_source: &'static str,
    pub skipped_rows: u64,
    pub skipped_examples: Vec<SkippedRow>,
    pub notes: Vec<String>,
    /// Paying customers per period (or active accounts, when churn comes from activity).
    pub customers: Vec<CustomersOut>,
}

#[derive(Debug, Clone, Serialize)]
pub struct LeadOut {
    pub verdict: Verdict,
    /// The lead test's part of the candidate's explanation.
    pub explanation: String,
    pub best_lag: Option<usize>,
    pub r: Option<f64>,
    pub p_value: Option<f64>,
    /// The correlation the best lag must exceed for `p <= alpha` under the surrogate null.
    pub null_r: Option<f64>,
    pub reverse_best_lag: Option<usize>,
    pub reverse_r: Option<f64>,
    pub reverse_p_value: Option<f64>,
    pub same_period_r: Option<f64>,
    pub granger_f: Option<f64>,
    pub granger_p: Option<f64>,
    pub granger_lags: Option<usize>,
    pub reverse_granger_f: Option<f64>,
    pub reverse_granger_p: Option<f64>,
    pub n_periods: usize,
    pub needs_more_periods: Option<usize>,
    pub seasonally_adjusted: bool,
    /// Correlation at the best lag in the latest 24 months, and before them.
    pub recent_r: Option<f64>,
    pub earlier_r: Option<f64>,
    /// Cross-correlation by lag, metric leading: `[lag, r]` pairs.
    pub by_lag: Vec<(usize, f64)>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ChurnOut {
    pub verdict: Verdict,
    /// The churn test's part of the candidate's explanation.
    pub explanation: String,
    pub divergence_rate: Option<f64>,
    pub divergence_p: Option<f64>,
    pub churn_periods: usize,
    pub rose_in: usize,
    pub churn_corr: Option<f64>,
    pub churner_weight: Option<f64>,
    /// 95% bootstrap interval over customers.
    pub churner_weight_ci: Option<[f64; 2]>,
    pub churner_weight_note: Option<String>,
    pub residual: Option<f64>,
    pub monotone: bool,
    /// Share of the metric from the top 1% of accounts (with at least 100 contributing).
    pub top1_share: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Point {
    pub period: String,
    pub value: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct CandidateOut {
    pub name: String,
    pub kind: &'static str,
    pub description: String,
    pub rank: Option<usize>,
    pub score: Option<f64>,
    pub verdict: Verdict,
    pub labels: Vec<Label>,
    pub explanation: String,
    pub actionability: Option<f64>,
    pub lead: Option<LeadOut>,
    pub churn: Option<ChurnOut>,
    pub series: Vec<Point>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Evaluation {
    pub schema_version: u32,
    pub tool: Tool,
    pub settings: SettingsOut,
    pub data: DataOut,
    pub recommended: Option<String>,
    pub recommendation: String,
    pub north_star: Option<String>,
    pub candidates: Vec<CandidateOut>,
}

impl Evaluation {
    pub fn candidate(&self, name: &str) -> Option<&CandidateOut> {
        self.candidates.iter().find(|c| c.name == name)
    }

    /// Candidates in rank order, without the revenue reference row.
    pub fn ranked(&self) -> impl Iterator<Item = &CandidateOut> {
        self.candidates.iter().filter(|c| c.rank.is_some())
    }
}

/// Parse a saved `nsm evaluate --format json`, checking that it is one.
///
/// `role` names the file in messages ("baseline", "--compare").
pub fn read_saved(text: &str, role: &str, source: &str) -> Result<serde_json::Value, InputError> {
    let json: serde_json::Value = serde_json::from_str(text).map_err(|e| {
        InputError::at(
            &format!("{role} {source}"),
            Some(e.line() as u64),
            None,
            None,
            format!("not JSON: {e}"),
        )
    })?;
    if json["schema_version"] != SCHEMA_VERSION {
        return Err(InputError::new(format!(
            "{role} {source}: not an nsm evaluation (schema_version {SCHEMA_VERSION}); save one with `nsm evaluate --format json --output {source}`"
        )));
    }
    if !json["candidates"].is_array() {
        return Err(InputError::new(format!(
            "{role} {source}: has no candidates array"
        )));
    }
    Ok(json)
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
pub fn evaluate(inputs: Inputs, settings: &Settings, progress: &Progress) -> Result<Evaluation> {
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
pub fn score_all(
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
            let (lead_verdict, mut labels) = score::lead_verdict(&lead, &lead_settings);
            let (churn_verdict, churn_labels) = score::churn_verdict(&churn, settings.alpha);
            labels.extend(churn_labels);
            let actionability = score::actionability(&s.values);
            if churn.top_share.is_some_and(|share| share > GAMEABLE_SHARE) {
                labels.push(Label::Gameable);
            }
            if actionability < score::NOISY_BELOW {
                labels.push(Label::Noisy);
            }
            // Only a lead can fade: a lagging echo or revenue itself is not outgrown.
            let echo = labels
                .iter()
                .any(|l| matches!(l, Label::Lagging | Label::Revenue));
            if lead.outgrown && !echo {
                labels.push(Label::Outgrown);
            }
            labels.sort();
            labels.dedup();
            let score = score::score(
                lead_verdict,
                &labels,
                &lead,
                churn_verdict,
                &churn,
                actionability,
            );
            let lead_explanation = score::explain_lead(lead_verdict, &labels, &lead, unit);
            let churn_explanation = score::explain_churn(&churn, unit);
            let explanation = capitalise(&format!("{lead_explanation}; {churn_explanation}."));
            CandidateOut {
                name: candidate.name.clone(),
                kind: candidate.kind.name(),
                description: candidate.describe(),
                rank: None,
                score: Some(score),
                verdict: lead_verdict.and(churn_verdict),
                labels,
                explanation,
                actionability: Some(round(actionability, 6)),
                lead: Some(lead_out(lead_verdict, &lead, lead_explanation)),
                churn: Some(churn_out(churn_verdict, &churn, churn_explanation)),
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
        kind: "revenue",
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
            name: "nsm",
            version: env!("CARGO_PKG_VERSION"),
        },
        settings: SettingsOut {
            period: kind.name(),
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
            churn_source: dataset.panel.source.name(),
            skipped_rows: activity.skipped_rows,
            skipped_examples: activity
                .skipped_examples
                .iter()
                .map(|b| SkippedRow {
                    file: b.file.clone(),
                    line: b.line,
                    column: b.column.clone(),
                    value: b.value.clone(),
                    reason: b.reason.clone(),
                })
                .collect(),
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

fn capitalise(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().collect::<String>() + chars.as_str(),
        None => String::new(),
    }
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
