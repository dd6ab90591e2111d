//! `nsm discover`: the thresholds nobody guessed ([`thresholds`]) and the input metrics beneath
//! a star ([`tree`]), from the same loaded events as `nsm evaluate`; [`model`] is the result
//! every output format renders.

pub(crate) mod model;
pub(crate) mod thresholds;
pub(crate) mod tree;

use anyhow::Result;

use crate::candidates::catalog;
use crate::candidates::config::Config;
use crate::candidates::Candidate;
use crate::error::InputError;
use crate::evaluation::pipeline::{self, load, pair, round_opt, Loaded, SCHEMA_VERSION};
use crate::evaluation::{Inputs, Point, Settings, Tool};
use crate::period;
use crate::progress::Progress;
use crate::stats::accounts::Effect;
use model::*;
use thresholds::{Search, Standing};
use tree::Tree;

/// What `nsm discover` is asked besides the inputs.
#[derive(Debug, Clone, Default)]
pub(crate) struct Options {
    /// `--star`: the candidate (of the config, or a cell of the grid) whose tree to build.
    pub(crate) star: Option<String>,
    /// `--tree-only`: build the star's tree without the threshold search.
    pub(crate) tree_only: bool,
}

/// Everything a discover run found, with what `--write-config` writes.
pub(crate) struct Found {
    pub(crate) discovery: Discovery,
    /// The config read (or the automatic catalog's candidates) with the confirmed cells and
    /// the tree's drivers added.
    pub(crate) config: Config,
}

/// Rounded for output to six decimals, as the evaluation's figures are.
fn round(value: f64) -> f64 {
    pipeline::round(value, 6)
}

pub(crate) fn discover(
    inputs: Inputs,
    settings: &Settings,
    options: &Options,
    progress: &Progress,
) -> Result<Found> {
    if inputs.series.is_some() {
        return Err(InputError::new(
            "nsm discover counts thresholds from the events: --series holds only the candidates' series; pass --events",
        )
        .into());
    }
    let loaded = load(inputs, settings, progress)?;
    let search = if options.tree_only {
        None
    } else {
        Some(thresholds::search(&loaded, settings, progress)?)
    };
    let pool = if loaded.config.candidates.is_empty() {
        catalog::automatic(&loaded.activity)?
    } else {
        loaded.config.candidates.clone()
    };
    let (star, source) = choose_star(&loaded, search.as_ref(), &pool, options)?;
    if options.tree_only && star.is_none() {
        return Err(InputError::new(
            "--tree-only needs a star: pass --star NAME or declare [north_star] in the config",
        )
        .into());
    }
    let tree = match &star {
        Some(star) => Some(tree::build(&loaded, star, &pool, settings, true, progress)?),
        None => None,
    };
    progress.stage("done");
    let discovery = Discovery {
        schema_version: SCHEMA_VERSION,
        tool: Tool {
            name: "nsm".into(),
            version: env!("CARGO_PKG_VERSION").into(),
        },
        settings: SettingsOut {
            period: loaded.dataset.kind.name().into(),
            alpha: settings.alpha,
            seed: settings.seed,
            draws: settings.surrogates,
            lag_min: settings.lag_min_months,
            lag_max: settings.lag_max_months,
            split: "accounts: chosen on one half (seeded hash of the customer id), confirmed on the other".into(),
            horizon: search.as_ref().map_or(0, |s| s.horizon),
            as_of: settings.as_of.map(period::format_day),
        },
        data: DataOut {
            events_rows: loaded.activity.events_rows,
            revenue_rows: loaded.revenue_rows,
            first_period: loaded.dataset.kind.label(loaded.dataset.first),
            last_period: loaded.dataset.kind.label(loaded.dataset.last),
            n_periods: loaded.dataset.len(),
            accounts_discovery: search.as_ref().map_or(0, |s| s.accounts[0]),
            accounts_confirmation: search.as_ref().map_or(0, |s| s.accounts[1]),
            notes: loaded.dataset.notes.clone(),
        },
        thresholds: search
            .as_ref()
            .map(|search| thresholds_out(search, &loaded, settings)),
        tree: tree.as_ref().map(|t| tree_out(t, &loaded, settings, source)),
    };
    let config = written_config(&loaded, search.as_ref(), tree.as_ref(), pool);
    Ok(Found { discovery, config })
}

/// The declared north star's input tree, decomposition only (for the review document); `None`
/// without a declared star.
pub(crate) fn declared_tree(
    loaded: &Loaded,
    settings: &Settings,
    progress: &Progress,
) -> Result<Option<TreeOut>> {
    let pool = &loaded.config.candidates;
    let Some(star) = loaded
        .config
        .north_star
        .as_deref()
        .and_then(|name| pool.iter().find(|c| c.name == name))
    else {
        return Ok(None);
    };
    let tree = tree::build(loaded, star, pool, settings, false, progress)?;
    Ok(Some(tree_out(&tree, loaded, settings, "declared")))
}

/// The star whose tree to build: `--star`, else the declared north star, else the found
/// threshold.
fn choose_star(
    loaded: &Loaded,
    search: Option<&Search>,
    pool: &[Candidate],
    options: &Options,
) -> Result<(Option<Candidate>, &'static str)> {
    let cell = |name: &str| {
        search?
            .cells
            .iter()
            .find(|r| r.cell.candidate.name == name)
            .map(|r| r.cell.candidate.clone())
    };
    let in_pool = |name: &str| pool.iter().find(|c| c.name == name).cloned();
    if let Some(name) = &options.star {
        return match in_pool(name).or_else(|| cell(name)) {
            Some(c) => Ok((Some(c), "given")),
            None => Err(InputError::new(format!(
                "--star {name}: not a candidate of the config (or of the automatic catalog) nor a cell of the threshold grid; candidates: {}",
                pool.iter().map(|c| c.name.as_str()).collect::<Vec<_>>().join(", ")
            ))
            .into()),
        };
    }
    if let Some(star) = loaded.config.north_star.as_deref().and_then(in_pool) {
        return Ok((Some(star), "declared"));
    }
    Ok((
        search.and_then(|s| s.found.map(|j| s.cells[j].cell.candidate.clone())),
        "found",
    ))
}

fn effect_out(effect: Option<&Effect>) -> Option<EffectOut> {
    let e = effect?;
    Some(EffectOut {
        retention_above: round_opt(Some(e.retention_top)),
        retention_above_ci: pair(e.retention_top_ci),
        retention_below: round_opt(Some(e.retention_bottom)),
        retention_below_ci: pair(e.retention_bottom_ci),
        retention_ratio: round_opt(e.retention_ratio),
        retention_ratio_ci: pair(e.retention_ratio_ci),
        nrr_above: round_opt(e.nrr_top),
        nrr_above_ci: pair(e.nrr_top_ci),
        nrr_below: round_opt(e.nrr_bottom),
        nrr_below_ci: pair(e.nrr_bottom_ci),
    })
}

fn sample_out(test: Option<&thresholds::SampleTest>) -> Option<SampleOut> {
    test.map(|t| SampleOut {
        z: round(t.z),
        p_value: round_opt(Some(t.p_value)),
        p_adjusted: round_opt(t.p_adjusted),
        coefficient: round_opt(t.coefficient),
        standard_error: round_opt(t.standard_error),
        n_accounts: t.accounts,
        n_account_periods: t.landmarks,
        expansion_z: t.expansion.map(|(z, _)| round(z)),
        expansion_p: round_opt(t.expansion.map(|(_, p)| p)),
    })
}

/// A p-value in a sentence: `<0.001`, or three decimals.
fn p_text(p: Option<f64>) -> String {
    match p {
        Some(p) if p < 0.001 => "<0.001".to_string(),
        Some(p) => format!("{p:.3}"),
        None => "-".to_string(),
    }
}

/// `0.412` as `41%`.
fn percent(value: f64) -> String {
    format!("{:.0}%", 100.0 * value)
}

fn horizon_words(loaded: &Loaded, horizon: usize) -> String {
    let unit = loaded.dataset.kind.name();
    format!("{horizon} {unit}{}", if horizon == 1 { "" } else { "s" })
}

/// The plain-words sentence of a shown cell.
fn cell_explanation(
    r: &thresholds::CellResult,
    standing: Standing,
    loaded: &Loaded,
    horizon: usize,
    alpha: f64,
) -> String {
    let later = horizon_words(loaded, horizon);
    let effect = r
        .effect
        .as_ref()
        .map(|e| {
            let ratio = match (e.retention_ratio, e.retention_ratio_ci) {
                (Some(x), Some((lo, hi))) => format!(" ({x:.2}× [{lo:.2}–{hi:.2}])"),
                (Some(x), None) => format!(" ({x:.2}×)"),
                _ => String::new(),
            };
            format!(
                "accounts at or above it are still paying {later} later at {} against {} below it{ratio}",
                percent(e.retention_top),
                percent(e.retention_bottom)
            )
        })
        .unwrap_or_else(|| "no accounts on one side of it to compare".to_string());
    let p = |t: Option<&thresholds::SampleTest>| p_text(t.and_then(|t| t.p_adjusted));
    match standing {
        Standing::Confirmed => format!(
            "Confirmed: {effect}; significant over the whole grid on the discovery half (p adj {}) and again on the held-out accounts (p adj {}).",
            p(r.discovery.as_ref()),
            p(r.confirmation.as_ref())
        ),
        Standing::NotConfirmed => format!(
            "Won in sample only: significant over the grid on the discovery half (p adj {}) but not on the held-out accounts (p adj {}, alpha {alpha}): not recommended; {effect}.",
            p(r.discovery.as_ref()),
            p(r.confirmation.as_ref())
        ),
        Standing::NotSignificant => format!(
            "Not significant once the search over the grid is accounted for (p adj {} on the discovery half); {effect}.",
            p(r.discovery.as_ref())
        ),
    }
}

fn aggregate_out(lead: &crate::stats::lead::LeadOutcome) -> AggregateOut {
    AggregateOut {
        best_lag: lead.best_lag,
        r: round_opt(lead.r),
        p_adjusted: round_opt(lead.p_adjusted),
        needs_more_periods: lead.needs_more_periods,
    }
}

fn thresholds_out(search: &Search, loaded: &Loaded, settings: &Settings) -> ThresholdsOut {
    let kind = loaded.dataset.kind;
    let mut events: Vec<String> = Vec::new();
    for f in &search.families {
        if !events.contains(&f.event) {
            events.push(f.event.clone());
        }
    }
    let top: Vec<CellOut> = search
        .shown
        .iter()
        .enumerate()
        .map(|(i, &(j, standing))| {
            let r = &search.cells[j];
            let family = &search.families[r.cell.family];
            CellOut {
                rank: i + 1,
                name: r.cell.candidate.name.clone(),
                description: r.cell.candidate.describe(),
                event: family.event.clone(),
                measure: family.measure.name().into(),
                entity: family.entity.name().into(),
                window: family.window_name(kind).into(),
                threshold: r.cell.threshold,
                verdict: standing.name().into(),
                explanation: cell_explanation(r, standing, loaded, search.horizon, settings.alpha),
                reach: round_opt(r.reach),
                in_sample: sample_out(r.discovery.as_ref()),
                out_of_sample: sample_out(r.confirmation.as_ref()),
                effect: effect_out(r.effect.as_ref()),
                aggregate: aggregate_out(&r.aggregate),
            }
        })
        .collect();
    let dose_family = search
        .found
        .or_else(|| search.shown.first().map(|s| s.0))
        .map(|j| search.cells[j].cell.family);
    let dose_response = dose_family.map(|family| DoseOut {
        family: search.families[family].describe(kind),
        rows: search
            .cells
            .iter()
            .filter(|r| r.cell.family == family)
            .map(|r| DoseRow {
                threshold: r.cell.threshold,
                name: r.cell.candidate.name.clone(),
                reach: round_opt(r.reach),
                z_in_sample: r.discovery.as_ref().map(|d| round(d.z)),
                p_adjusted: r.discovery.as_ref().and_then(|d| round_opt(d.p_adjusted)),
                effect: effect_out(r.effect.as_ref()),
            })
            .collect(),
    });
    let p = p_text(search.family_p);
    let summary = match search.found {
        Some(j) => {
            let r = &search.cells[j];
            format!(
                "Found: {} ({}). Chosen among {} thresholds on {} accounts (family-wise p {p} over the grid) and confirmed on {} held-out accounts.",
                r.cell.candidate.name,
                r.cell.candidate.describe(),
                search.tested,
                search.accounts[0],
                search.accounts[1]
            )
        }
        None if search
            .shown
            .iter()
            .any(|(_, s)| *s == Standing::NotConfirmed) =>
        {
            format!(
                "No threshold confirmed: the best of {} thresholds won on the discovery half (family-wise p {p}) but did not hold on the held-out accounts. Do not adopt it; collect more history or accounts.",
                search.tested
            )
        }
        None => format!(
            "No threshold found: none of {} thresholds predicts retention once the search over the grid is accounted for (family-wise p {p}).",
            search.tested
        ),
    };
    ThresholdsOut {
        cells: search.cells.len(),
        tested: search.tested,
        events,
        family_p: round_opt(search.family_p),
        found: search
            .found
            .map(|j| search.cells[j].cell.candidate.name.clone()),
        summary,
        top,
        dose_response,
    }
}

fn points(loaded: &Loaded, values: &[f64]) -> Vec<Point> {
    loaded
        .dataset
        .labels()
        .into_iter()
        .zip(values)
        .map(|(period, value)| Point {
            period,
            value: if value.is_finite() {
                round(*value)
            } else {
                f64::NAN
            },
        })
        .filter(|p| p.value.is_finite())
        .collect()
}

fn tree_out(tree: &Tree, loaded: &Loaded, settings: &Settings, source: &str) -> TreeOut {
    let labels = loaded.dataset.labels();
    let identity = (!tree.drivers.is_empty()).then(|| {
        format!(
            "{} = {}",
            tree.star.name,
            tree.drivers
                .iter()
                .map(|d| d.name.as_str())
                .collect::<Vec<_>>()
                .join(" × ")
        )
    });
    let changes = tree
        .spans
        .iter()
        .map(|s| ChangeOut {
            span: if s.months == 3 { "quarter" } else { "year" }.into(),
            from: labels[s.from].clone(),
            to: labels[s.to].clone(),
            star_from: round(s.star_from),
            star_to: round(s.star_to),
            change: round(s.star_to - s.star_from),
            parts: tree
                .drivers
                .iter()
                .zip(&s.parts)
                .map(|(d, (log_change, contribution))| PartOut {
                    driver: d.name.clone(),
                    log_change: round_opt(*log_change),
                    contribution: round_opt(*contribution),
                })
                .collect(),
        })
        .collect();
    let inputs: Vec<InputOut> = {
        let mut rows: Vec<InputOut> = tree
            .inputs
            .iter()
            .map(|(c, lead)| InputOut {
                name: c.name.clone(),
                description: c.describe(),
                verdict: if lead.needs_more_periods.is_some() {
                    "inconclusive"
                } else if lead.p_adjusted.is_some_and(|p| p <= settings.alpha) {
                    "leads"
                } else {
                    "no_lead"
                }
                .into(),
                best_lag: lead.best_lag,
                r: round_opt(lead.r),
                p_value: round_opt(lead.p_value),
                p_adjusted: round_opt(lead.p_adjusted),
                needs_more_periods: lead.needs_more_periods,
            })
            .collect();
        rows.sort_by(|a, b| {
            a.p_adjusted
                .unwrap_or(2.0)
                .total_cmp(&b.p_adjusted.unwrap_or(2.0))
                .then_with(|| a.name.cmp(&b.name))
        });
        rows
    };
    let leading = inputs.iter().filter(|i| i.verdict == "leads").count();
    let inputs_note = match inputs.iter().find_map(|i| i.needs_more_periods) {
        Some(more) => format!(
            "The lead test of the other candidates against {} needs {more} more {}s of history: inconclusive.",
            tree.star.name,
            loaded.dataset.kind.name()
        ),
        None => format!(
            "{leading} of {} other candidates lead {} by {}–{} months (the lead test with the star as the target, family-wise over them).",
            inputs.len(),
            tree.star.name,
            settings.lag_min_months,
            settings.lag_max_months
        ),
    };
    TreeOut {
        star: tree.star.name.clone(),
        description: tree.star.describe(),
        source: source.into(),
        identity,
        note: tree.note.clone(),
        method: "log-mean Divisia (LMDI-I): driver i contributes L(V1, V0) ln(x_i1 / x_i0), L the logarithmic mean; the contributions sum to the change".into(),
        max_relative_error: tree.max_relative_error,
        drivers: tree
            .drivers
            .iter()
            .map(|d| DriverOut {
                name: d.name.clone(),
                description: d.description.clone(),
                role: d.role.into(),
                last: round_opt(d.values.last().copied()),
                series: points(loaded, &d.values),
            })
            .collect(),
        changes,
        inputs,
        inputs_note,
        series: points(loaded, &tree.values),
    }
}

/// The config `--write-config` writes: the one read (or the automatic catalog), with the
/// confirmed thresholds and the tree's drivers added as candidates.
fn written_config(
    loaded: &Loaded,
    search: Option<&Search>,
    tree: Option<&Tree>,
    pool: Vec<Candidate>,
) -> Config {
    let mut candidates = pool;
    // A candidate already there under another name (the same kind) is used by that name.
    let mut add = |c: &Candidate| -> String {
        if let Some(existing) = candidates
            .iter()
            .find(|k| k.name == c.name || k.kind == c.kind)
        {
            return existing.name.clone();
        }
        candidates.push(c.clone());
        c.name.clone()
    };
    if let Some(search) = search {
        for &(j, standing) in &search.shown {
            if standing == Standing::Confirmed {
                add(&search.cells[j].cell.candidate);
            }
        }
    }
    if let Some(tree) = tree {
        let star = add(&tree.star);
        let mut renamed: Vec<(String, String)> = vec![(tree.star.name.clone(), star)];
        for level in &tree.levels {
            let name = add(level);
            renamed.push((level.name.clone(), name));
        }
        let named = |name: &String| {
            renamed
                .iter()
                .find(|(from, _)| from == name)
                .map_or_else(|| name.clone(), |(_, to)| to.clone())
        };
        for d in &tree.drivers {
            let mut c = d.candidate.clone();
            if let crate::candidates::Kind::Ratio {
                numerator,
                denominator,
            } = &mut c.kind
            {
                *numerator = named(numerator);
                *denominator = named(denominator);
            }
            add(&c);
        }
    }
    Config {
        columns: loaded.config.columns.clone(),
        north_star: loaded.config.north_star.clone(),
        candidates,
        timezone: loaded.config.timezone,
        format: loaded.config.format,
    }
}
