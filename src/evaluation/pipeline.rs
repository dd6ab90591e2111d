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
use crate::ingest::revenue::{load_revenue, FxRates, Revenue, RevenueOptions};
use crate::ingest::source::{self};
use crate::period::{self, PeriodKind};
use crate::progress::Progress;
use crate::stats::accounts;
use crate::stats::churn::{
    churn_test, churner_weight_interval, top_share, ChurnOutcome, ChurnPeriods, CustomerShare,
    BOOTSTRAP_RESAMPLES,
};
use crate::stats::evidence::{test_all, AccountOutcome};
use crate::stats::lead::{LeadOutcome, LeadSettings, Seasons, RECENT_MONTHS};
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
            surrogates: 9999,
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
    /// `--timezone`: the zone of event times written without one (before `[events]`'s).
    pub(crate) timezone: Option<chrono_tz::Tz>,
    /// `--events-format`: the files are this vendor's event export (before `[events]`'s).
    pub(crate) format: Option<crate::ingest::events::Vendor>,
    /// `--revenue-format`: the revenue file's layout [default: detected from the header].
    pub(crate) revenue_format: Option<crate::ingest::revenue::RevenueFormat>,
    /// `--currency`: keep the revenue rows in this currency.
    pub(crate) currency: Option<String>,
    /// `--fx`: rates converting every revenue row to the reporting currency.
    pub(crate) fx: Option<std::path::PathBuf>,
}

/// Statistics are rounded for output so that files stay readable; the verdicts are decided on
/// unrounded values.
pub(crate) fn round(value: f64, digits: i32) -> f64 {
    let scale = 10f64.powi(digits);
    let rounded = (value * scale).round() / scale;
    if rounded == 0.0 {
        0.0
    } else {
        rounded
    }
}

pub(crate) fn round_opt(value: Option<f64>) -> Option<f64> {
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
pub(crate) fn stable_hash(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// The first file `path` resolves to (a path, or a pattern that matches one).
fn one_file(path: &std::path::Path, role: &str) -> Result<source::InputFile> {
    source::resolve(&[path.to_path_buf()], role)?
        .into_iter()
        .next()
        .ok_or_else(|| crate::input_err!("no {role} file given"))
}

/// What a run over events reads: the events, the analysed periods with every customer's
/// status, and the config (`nsm evaluate` and `nsm discover` share it).
pub(crate) struct Loaded {
    pub(crate) activity: Activity,
    pub(crate) dataset: Dataset,
    pub(crate) revenue_rows: u64,
    pub(crate) config: Config,
}

/// The revenue the inputs name, read and converted (`inputs.revenue` is the source, taken
/// out before, so that the rest of the inputs can still be moved).
fn read_revenue(source: RevenueSource, inputs: &Inputs, settings: &Settings) -> Result<Revenue> {
    Ok(match source {
        RevenueSource::File(path) => {
            let file = one_file(&path, "revenue")?;
            let fx = inputs
                .fx
                .as_ref()
                .map(|path| FxRates::load(&one_file(path, "fx")?, inputs.delimiter))
                .transpose()?;
            let options = RevenueOptions {
                format: inputs.revenue_format,
                keep: inputs.currency.clone(),
                fx,
                only_checking: false,
            };
            load_revenue(&file, inputs.delimiter, settings.as_of, &options)?
        }
        RevenueSource::Memory(revenue) => revenue,
    })
}

/// Read revenue and events, and build the analysed periods.
pub(crate) fn load(mut inputs: Inputs, settings: &Settings, progress: &Progress) -> Result<Loaded> {
    let source = std::mem::replace(&mut inputs.revenue, RevenueSource::File(PathBuf::new()));
    let revenue = read_revenue(source, &inputs, settings)?;
    let config = inputs.config.unwrap_or_default();
    let event_options = EventOptions {
        columns: config.columns.clone(),
        delimiter: inputs.delimiter,
        as_of: settings.as_of,
        skip_bad_rows: inputs.skip_bad_rows,
        timezone: inputs.timezone.or(config.timezone),
        format: inputs.format.or(config.format),
    };
    let activity = load_activity(&inputs.events, &event_options, progress)?;
    progress.stage(&format!("read {} events", activity.events_rows));
    let dataset = dataset::build(settings.period, &activity, &revenue, settings.as_of)?;
    check_lags_fit(settings, &dataset)?;
    Ok(Loaded {
        activity,
        dataset,
        revenue_rows: revenue.rows,
        config,
    })
}

/// Load everything and evaluate.
pub(crate) fn evaluate(
    mut inputs: Inputs,
    settings: &Settings,
    progress: &Progress,
) -> Result<Evaluation> {
    if let Some(files) = inputs.series.take() {
        let config = inputs.config.take().unwrap_or_default();
        let source = std::mem::replace(&mut inputs.revenue, RevenueSource::File(PathBuf::new()));
        let revenue = read_revenue(source, &inputs, settings)?;
        return evaluate_series(&files, &config, &revenue, inputs.delimiter, settings);
    }
    let loaded = load(inputs, settings, progress)?;
    evaluate_loaded(&loaded, settings, progress)
}

/// Evaluate events already loaded (`nsm report` keeps them for the star's input tree).
pub(crate) fn evaluate_loaded(
    loaded: &Loaded,
    settings: &Settings,
    progress: &Progress,
) -> Result<Evaluation> {
    let Loaded {
        activity,
        dataset,
        revenue_rows,
        config,
    } = loaded;
    let candidates = if config.candidates.is_empty() {
        catalog::automatic(activity)?
    } else {
        config.candidates.clone()
    };
    progress.stage(&format!("computing {} candidates", candidates.len()));
    let panel = account_panel(dataset, settings);
    let series = compute_series(activity, &candidates, dataset, progress, &|_, values| {
        panel
            .as_ref()
            .map(|panel| accounts::evidence(panel, &values.values))
    })?;
    progress.stage(&format!("testing {} candidates", candidates.len()));
    let evaluation = score_all(
        activity,
        *revenue_rows,
        dataset,
        &candidates,
        flatten_evidence(series),
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
    let panel = account_panel(&dataset, settings);
    let series = pre.series(config, &dataset, &|_, values| {
        panel
            .as_ref()
            .map(|panel| accounts::evidence(panel, &values.values))
    })?;
    Ok(score_all(
        &pre.activity,
        revenue.rows,
        &dataset,
        candidates,
        flatten_evidence(series),
        config.north_star.clone(),
        settings,
    ))
}

/// The months the account line follows landmarks for, within the lag range.
pub(crate) const ACCOUNT_HORIZON_MONTHS: [u32; 3] = [3, 6, 12];
/// The horizon its plain-words effect is given at.
pub(crate) const ACCOUNT_DISPLAY_MONTHS: u32 = 6;

/// The customers' histories for the account line, with per-customer revenue; `None` without
/// it, or when no horizon has enough landmarks. `NSM_SKIP_ACCOUNT_LINE=1` leaves the line
/// out (a benchmark switch, `examples/bench/account_stage.sh`: what the line costs).
fn account_panel(dataset: &Dataset, settings: &Settings) -> Option<accounts::Panel> {
    let histories = customer_histories(dataset)?;
    if std::env::var_os("NSM_SKIP_ACCOUNT_LINE").is_some_and(|v| v == "1") {
        return None;
    }
    let kind = dataset.kind;
    let mut months: Vec<u32> = ACCOUNT_HORIZON_MONTHS
        .into_iter()
        .filter(|m| (settings.lag_min_months..=settings.lag_max_months).contains(m))
        .collect();
    if months.is_empty() {
        months.push(settings.lag_min_months);
    }
    let account_settings = accounts::AccountSettings {
        horizons: months.iter().map(|m| kind.lag_from_months(*m)).collect(),
        display: kind.lag_from_months(ACCOUNT_DISPLAY_MONTHS),
    };
    accounts::Panel::new(&histories, &account_settings)
}

/// Each paying customer's revenue history, in the order of the per-customer revenue (the
/// order of every candidate's per-customer values); `None` without per-customer revenue.
pub(crate) fn customer_histories(dataset: &Dataset) -> Option<Vec<accounts::CustomerHistory<'_>>> {
    let revenue = dataset.customer_revenue.as_ref()?;
    Some(
        revenue
            .amounts
            .iter()
            .map(|(id, amounts)| {
                let first_paid = revenue.first_paid.get(id).copied().unwrap_or(dataset.first);
                accounts::CustomerHistory {
                    revenue: amounts,
                    first_paid: i64::from(first_paid) - i64::from(dataset.first),
                    left_censored: first_paid <= revenue.data_start,
                }
            })
            .collect(),
    )
}

/// Series with the account evidence of those that have one.
fn flatten_evidence(
    series: Vec<(CandidateSeries, Option<Option<accounts::Evidence>>)>,
) -> Vec<(CandidateSeries, Option<accounts::Evidence>)> {
    series.into_iter().map(|(s, e)| (s, e.flatten())).collect()
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

/// The lead test's settings for a run over `dataset`.
pub(crate) fn lead_settings(dataset: &Dataset, settings: &Settings) -> LeadSettings {
    let kind = dataset.kind;
    LeadSettings {
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
    }
}

/// Run both tests on every candidate and assemble the report.
pub(crate) fn score_all(
    activity: &Activity,
    revenue_rows: u64,
    dataset: &Dataset,
    candidates: &[Candidate],
    computed: Vec<(CandidateSeries, Option<accounts::Evidence>)>,
    north_star: Option<String>,
    settings: &Settings,
) -> Evaluation {
    let (series, evidence): (Vec<CandidateSeries>, Vec<_>) = computed.into_iter().unzip();
    let series = series.as_slice();
    let kind = dataset.kind;
    let lead_settings = lead_settings(dataset, settings);
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
    let horizon = kind.lag_from_months(score::ACTIONABILITY_MONTHS as u32);
    let metrics: Vec<&[f64]> = series.iter().map(|s| s.values.as_slice()).collect();
    let leads = test_all(&metrics, &dataset.revenue, evidence, &lead_settings);
    // Candidates are independent and seeded by name: scoring them in parallel gives the same
    // bytes as one by one.
    let mut out: Vec<CandidateOut> = candidates
        .par_iter()
        .zip(series.par_iter())
        .zip(leads.into_par_iter())
        .map(|((candidate, s), (lead, account))| {
            let candidate_seed = settings.seed ^ stable_hash(&candidate.name);
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
                    candidate_seed ^ BOOTSTRAP_SEED,
                );
            }
            let judgement = score::judge(
                &lead,
                account.as_ref(),
                &churn,
                &s.values,
                &lead_settings,
                unit,
                horizon,
            );
            CandidateOut {
                name: candidate.name.clone(),
                kind: candidate.kind.kind_name(),
                description: candidate.describe(),
                rank: None,
                score: Some(judgement.score),
                verdict: judgement.verdict(),
                explanation: judgement.explanation(),
                actionability: Some(round(judgement.actionability, 6)),
                lead: Some(lead_out(
                    judgement.lead,
                    judgement.lead_alone,
                    &lead,
                    judgement.lead_explanation,
                )),
                churn: Some(churn_out(
                    judgement.churn,
                    &churn,
                    judgement.churn_explanation,
                )),
                accounts: Some(accounts_out(account.as_ref(), candidate, settings)),
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
        accounts: None,
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

fn lead_out(
    verdict: Verdict,
    verdict_alone: Verdict,
    lead: &LeadOutcome,
    explanation: String,
) -> LeadOut {
    LeadOut {
        verdict,
        verdict_alone: Some(verdict_alone),
        explanation,
        best_lag: lead.best_lag,
        r: round_opt(lead.r),
        p_value: round_opt(lead.p_value),
        p_adjusted: round_opt(lead.p_adjusted),
        family_size: lead.family_size,
        p_alone: round_opt(lead.p_alone),
        null_r: round_opt(lead.null_r),
        excess_r: round_opt(lead.excess_r),
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
        divergence_basis: Some(
            match churn.basis {
                ChurnPeriods::ChurnSpiked => "churn_spiked",
                ChurnPeriods::ChurnAboveMedian => "churn_above_median",
            }
            .to_string(),
        ),
        churn_periods: churn.churn_periods,
        rose_in: churn.rose_in,
        other_periods: Some(churn.other_periods),
        rose_in_other: Some(churn.rose_in_other),
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

/// A 95% interval for output, rounded as every figure is.
pub(crate) fn pair(ci: Option<(f64, f64)>) -> Option<[f64; 2]> {
    ci.map(|(a, b)| [round(a, 6), round(b, 6)])
}

/// The account line's JSON block: its figures, or why it has none.
fn accounts_out(
    account: Option<&AccountOutcome>,
    candidate: &Candidate,
    settings: &Settings,
) -> AccountsOut {
    let note = |why: &str| AccountsOut {
        verdict: Verdict::Inconclusive,
        note: Some(why.to_string()),
        ..AccountsOut::default()
    };
    let Some(account) = account else {
        return note(match candidate.kind {
            crate::candidates::Kind::NewEntities { .. } => {
                "an acquisition metric has no per-account outcome to follow: the aggregate line only"
            }
            crate::candidates::Kind::Ratio { .. } => "not computed for a ratio of two candidates",
            _ => "needs per-customer revenue (date,customer_id,amount) and each account's part, and enough accounts and history",
        });
    };
    if !account.has_test() {
        return note(if account.evidence.accounts >= accounts::MIN_ACCOUNTS {
            "it takes the same value for every paying account in a period, or too few churned: nothing to compare"
        } else {
            "too few accounts with a known outcome for a test"
        });
    }
    let e = &account.evidence;
    let effect = e.effect.as_ref();
    let verdict = if account.opposite().is_some() {
        Verdict::Fail
    } else if account.p_adjusted().is_some_and(|p| p <= settings.alpha) {
        Verdict::Pass
    } else {
        Verdict::Fail
    };
    let retention = AccountOutcome::best(&account.retention);
    let expansion = AccountOutcome::best(&account.expansion);
    let mut by_horizon = Vec::new();
    for (outcome, line, tests) in [
        ("retention", &e.retention, &account.retention),
        ("expansion", &e.expansion, &account.expansion),
    ] {
        for f in &line.by_horizon {
            let test = tests.iter().find(|t| t.horizon == f.horizon);
            by_horizon.push(AccountHorizonOut {
                outcome: outcome.to_string(),
                horizon: f.horizon,
                z: round(f.z, 6),
                df: Some(round(f.df, 1)),
                p_value: round_opt(test.map(|t| t.p_value)),
                p_adjusted: round_opt(test.and_then(|t| t.p_adjusted)),
                coefficient: round_opt(f.coefficient),
                standard_error: round_opt(f.standard_error),
                landmarks: f.landmarks,
                accounts: f.accounts,
            });
        }
    }
    AccountsOut {
        verdict,
        note: None,
        horizon: effect.map(|f| f.horizon),
        retention_top: round_opt(effect.map(|f| f.retention_top)),
        retention_bottom: round_opt(effect.map(|f| f.retention_bottom)),
        retention_top_ci: pair(effect.and_then(|f| f.retention_top_ci)),
        retention_bottom_ci: pair(effect.and_then(|f| f.retention_bottom_ci)),
        retention_ratio: round_opt(effect.and_then(|f| f.retention_ratio)),
        retention_ratio_ci: pair(effect.and_then(|f| f.retention_ratio_ci)),
        nrr_top: round_opt(effect.and_then(|f| f.nrr_top)),
        nrr_bottom: round_opt(effect.and_then(|f| f.nrr_bottom)),
        nrr_top_ci: pair(effect.and_then(|f| f.nrr_top_ci)),
        nrr_bottom_ci: pair(effect.and_then(|f| f.nrr_bottom_ci)),
        groups: effect.map(|f| if f.by_ties { "extremes" } else { "quarters" }.to_string()),
        retention_horizon: retention.map(|t| t.horizon),
        retention_z: round_opt(retention.map(|t| t.z)),
        retention_p: round_opt(retention.map(|t| t.p_value)),
        retention_p_adjusted: round_opt(retention.and_then(|t| t.p_adjusted)),
        expansion_horizon: expansion.map(|t| t.horizon),
        expansion_z: round_opt(expansion.map(|t| t.z)),
        expansion_p: round_opt(expansion.map(|t| t.p_value)),
        expansion_p_adjusted: round_opt(expansion.and_then(|t| t.p_adjusted)),
        p_adjusted: round_opt(account.p_adjusted()),
        n_accounts: e.accounts,
        n_account_periods: e.account_periods,
        by_horizon,
    }
}
