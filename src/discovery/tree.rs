//! The input metric tree of a star: an exact decomposition into breadth × depth × frequency
//! (or share) where its kind allows, each driver's part of the star's change over the last
//! quarter and year, and the candidates that lead the star itself.
//!
//! The decomposition is a chain of levels computed by the same plan as every candidate, the
//! last one the star: `L0 × (L1 / L0) × … × (star / Lk)`, so the drivers' product is the star
//! by construction and each driver is a plain quantity (accounts doing the event, users per
//! such account, events per user, the share of them at the threshold). Week windows keep the
//! star's rollup at every level, so a share is the ratio of the weekly means.
//!
//! Contributions are the additive log-mean Divisia split (LMDI-I): over a span from `V0` to
//! `V1`, driver i contributes `L(V1, V0) · ln(x_i1 / x_i0)` with `L(a, b) = (a − b) / (ln a −
//! ln b)`, the logarithmic mean; they sum to `V1 − V0` exactly, and each is the driver's share
//! of the log change times the change (for a product of drivers, the Shapley split of the log
//! change). A span where a driver or the star is zero at either end has no log split.
//!
//! Inputs from data: every other candidate tested with the lead test, the star's series in
//! revenue's place (the same surrogate null and family-wise adjustment over the candidates).

use anyhow::Result;

use crate::candidates::catalog::slug;
use crate::candidates::plan::compute_series;
use crate::candidates::{Candidate, Entity, Kind, Rollup, Window};
use crate::evaluation::pipeline::{lead_settings, Loaded};
use crate::evaluation::Settings;
use crate::progress::Progress;
use crate::stats::evidence::test_all;
use crate::stats::lead::LeadOutcome;

/// One driver of the star.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Driver {
    pub(crate) name: String,
    pub(crate) description: String,
    /// `breadth`, `depth`, `frequency`, `value`, `share` or `inverse`.
    pub(crate) role: &'static str,
    pub(crate) values: Vec<f64>,
    /// The candidate that computes it, for `--write-config`.
    pub(crate) candidate: Candidate,
}

/// One span of the star's change and each driver's part of it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Span {
    pub(crate) months: u32,
    pub(crate) from: usize,
    pub(crate) to: usize,
    pub(crate) star_from: f64,
    pub(crate) star_to: f64,
    /// Per driver: its log change and its contribution (`None` without a log split).
    pub(crate) parts: Vec<(Option<f64>, Option<f64>)>,
}

/// The tree of one star.
#[derive(Debug, Clone)]
pub(crate) struct Tree {
    pub(crate) star: Candidate,
    pub(crate) values: Vec<f64>,
    pub(crate) drivers: Vec<Driver>,
    /// The chain's levels below the star, as candidates (for `--write-config`).
    pub(crate) levels: Vec<Candidate>,
    /// Why there is no decomposition, when there is none.
    pub(crate) note: Option<String>,
    /// The largest relative difference between the drivers' product and the star.
    pub(crate) max_relative_error: Option<f64>,
    pub(crate) spans: Vec<Span>,
    /// Other candidates, each with its lead test against the star.
    pub(crate) inputs: Vec<(Candidate, LeadOutcome)>,
}

/// A level of the chain: the candidate, and the driver it adds (named, described, its role).
struct Level {
    candidate: Candidate,
    driver: String,
    description: String,
    role: &'static str,
}

fn active(entity: Entity, kind: &Kind, window: Window, rollup: Rollup) -> Kind {
    Kind::ActiveEntities {
        entity,
        filter: kind.filter().cloned().unwrap_or_default(),
        window,
        rollup,
    }
}

/// The levels beneath a star, or why it has none.
fn levels(star: &Candidate, has_account: bool) -> std::result::Result<Vec<Level>, String> {
    let what = star.kind.filter().map(|f| f.describe()).unwrap_or_default();
    let stem = star
        .kind
        .filter()
        .filter(|f| !f.is_any())
        .map(|f| slug(&f.events.join("_")))
        .unwrap_or_else(|| "any".to_string());
    let in_window = |window: Window| match window {
        Window::Week => " in a week",
        Window::Period => "",
    };
    let suffix = |window: Window| match window {
        Window::Week => "_weekly",
        Window::Period => "",
    };
    let level = |name: String, kind: Kind, driver: String, description: String, role| Level {
        candidate: Candidate {
            name,
            kind,
            description: None,
        },
        driver,
        description,
        role,
    };
    let star_level = |driver: &str, description: String, role| Level {
        candidate: star.clone(),
        driver: format!("{}_{driver}", star.name),
        description,
        role,
    };
    // Accounts doing it, then users per such account (with accounts), else users.
    let people = |window: Window, rollup: Rollup| -> Vec<Level> {
        let mut out = Vec::new();
        let w = in_window(window);
        let (accounts, users) = (
            format!("{stem}_accounts{}", suffix(window)),
            format!("{stem}_users{}", suffix(window)),
        );
        if has_account {
            out.push(level(
                accounts.clone(),
                active(Entity::Account, &star.kind, window, rollup),
                accounts.clone(),
                format!("accounts doing {what}{w}"),
                "breadth",
            ));
            out.push(level(
                users.clone(),
                active(Entity::User, &star.kind, window, rollup),
                format!("{users}_per_account"),
                format!("users doing {what}{w} per such account"),
                "depth",
            ));
        } else {
            out.push(level(
                users.clone(),
                active(Entity::User, &star.kind, window, rollup),
                users,
                format!("users doing {what}{w}"),
                "breadth",
            ));
        }
        out
    };
    Ok(match &star.kind {
        Kind::EventCount { .. } => {
            let mut out = people(Window::Period, Rollup::Mean);
            out.push(star_level(
                "per_user",
                format!("{what} per user doing it"),
                "frequency",
            ));
            out
        }
        Kind::ValueSum { filter } => {
            let mut out = people(Window::Period, Rollup::Mean);
            let count = format!("{stem}_count");
            out.push(level(
                count.clone(),
                Kind::EventCount {
                    filter: filter.clone(),
                },
                format!("{count}_per_user"),
                format!("{what} per user doing it"),
                "frequency",
            ));
            out.push(star_level("per_event", format!("value per {what}"), "value"));
            out
        }
        Kind::ThresholdEntities {
            entity,
            window,
            rollup,
            ..
        } => {
            let mut out = people(*window, *rollup);
            if *entity == Entity::Account && has_account {
                out.truncate(1);
            }
            let whom = if *entity == Entity::Account && has_account {
                "accounts"
            } else {
                "users"
            };
            out.push(star_level(
                "share",
                format!("share of those {whom} at the threshold ({})", star.describe()),
                "share",
            ));
            out
        }
        Kind::TeamEntities { window, rollup, .. } if has_account => {
            let mut out = people(*window, *rollup);
            out.truncate(1);
            out.push(star_level(
                "share",
                format!("share of those accounts that are teams ({})", star.describe()),
                "share",
            ));
            out
        }
        Kind::ActiveEntities {
            entity: Entity::User,
            window,
            rollup,
            ..
        } if has_account => {
            let mut out = people(*window, *rollup);
            out.truncate(1);
            out.push(star_level(
                "per_account",
                format!("users doing {what}{} per such account", in_window(*window)),
                "depth",
            ));
            out
        }
        Kind::ActiveEntities { .. } => {
            return Err(
                "a count of active entities is breadth alone: there is nothing beneath it to split"
                    .into(),
            )
        }
        other => {
            return Err(format!(
                "a {} candidate has no exact product form: no decomposition (the inputs below still apply)",
                other.name()
            ))
        }
    })
}

/// The logarithmic mean of two positive numbers.
fn log_mean(a: f64, b: f64) -> f64 {
    if (a - b).abs() <= 1e-12 * a.abs().max(b.abs()) {
        a
    } else {
        (a - b) / (a.ln() - b.ln())
    }
}

/// Each driver's log change and LMDI contribution from `from` to `to`.
fn span(drivers: &[Driver], star: &[f64], months: u32, from: usize, to: usize) -> Span {
    let (v0, v1) = (star[from], star[to]);
    let positive = |x: f64| x > 0.0 && x.is_finite();
    let ok = positive(v0) && positive(v1);
    let l = if ok { log_mean(v1, v0) } else { f64::NAN };
    let parts = drivers
        .iter()
        .map(|d| {
            let (x0, x1) = (d.values[from], d.values[to]);
            if ok && positive(x0) && positive(x1) {
                let log_change = (x1 / x0).ln();
                (Some(log_change), Some(l * log_change))
            } else {
                (None, None)
            }
        })
        .collect();
    Span {
        months,
        from,
        to,
        star_from: v0,
        star_to: v1,
        parts,
    }
}

/// The tree of `star` over the loaded data; `pool` the candidates tested as its inputs (with
/// `with_inputs`; the review document shows the decomposition only).
pub(crate) fn build(
    loaded: &Loaded,
    star: &Candidate,
    pool: &[Candidate],
    settings: &Settings,
    with_inputs: bool,
    progress: &Progress,
) -> Result<Tree> {
    let has_account = loaded.activity.has_account;
    let (chain, note) = match &star.kind {
        Kind::Ratio { .. } => (Vec::new(), None),
        _ => match levels(star, has_account) {
            Ok(chain) => (chain, None),
            Err(why) => (Vec::new(), Some(why)),
        },
    };
    // One list to compute: the pool (with the star and a ratio's parts), then the chain.
    let mut candidates: Vec<Candidate> = if with_inputs {
        pool.to_vec()
    } else {
        // Only the star and what a ratio star is made of.
        pool.iter()
            .filter(|c| {
                c.name == star.name
                    || matches!(&star.kind, Kind::Ratio { numerator, denominator }
                        if &c.name == numerator || &c.name == denominator)
            })
            .cloned()
            .collect()
    };
    if !candidates.iter().any(|c| c.name == star.name) {
        candidates.push(star.clone());
    }
    let chain_start = candidates.len();
    for (i, level) in chain.iter().enumerate() {
        let mut c = level.candidate.clone();
        // The chain's levels are computed under names of their own.
        c.name = format!("\u{1}level{i}");
        candidates.push(c);
    }
    progress.stage(&format!("the input tree of {}", star.name));
    let computed = compute_series(
        &loaded.activity,
        &candidates,
        &loaded.dataset,
        progress,
        &|_, _| (),
    )?;
    let series: Vec<Vec<f64>> = computed.into_iter().map(|(s, _)| s.values).collect();
    let of = |name: &str| -> Option<&Vec<f64>> {
        candidates[..chain_start]
            .iter()
            .position(|c| c.name == name)
            .map(|i| &series[i])
    };
    let values = of(&star.name).cloned().unwrap_or_default();
    let n = values.len();
    let mut drivers = Vec::new();
    if let Kind::Ratio {
        numerator,
        denominator,
    } = &star.kind
    {
        if let (Some(num), Some(den)) = (of(numerator), of(denominator)) {
            let find = |name: &str| pool.iter().find(|c| c.name == name).cloned();
            if let (Some(nc), Some(dc)) = (find(numerator), find(denominator)) {
                drivers.push(Driver {
                    name: numerator.clone(),
                    description: nc.describe(),
                    role: "breadth",
                    values: num.clone(),
                    candidate: nc,
                });
                drivers.push(Driver {
                    name: format!("per_{denominator}"),
                    description: format!("one over {}", dc.describe()),
                    role: "inverse",
                    values: den.iter().map(|d| 1.0 / d).collect(),
                    candidate: dc,
                });
            }
        }
    }
    let mut previous: Option<(&Vec<f64>, String)> = None;
    for (i, level) in chain.iter().enumerate() {
        let level_values = if i + 1 == chain.len() {
            &values
        } else {
            &series[chain_start + i]
        };
        let (driver_values, candidate) = match &previous {
            None => (level_values.clone(), level.candidate.clone()),
            Some((below, below_name)) => (
                level_values
                    .iter()
                    .zip(below.iter())
                    .map(|(a, b)| a / b)
                    .collect(),
                Candidate {
                    name: level.driver.clone(),
                    kind: Kind::Ratio {
                        numerator: level.candidate.name.clone(),
                        denominator: below_name.clone(),
                    },
                    description: Some(level.description.clone()),
                },
            ),
        };
        drivers.push(Driver {
            name: level.driver.clone(),
            description: level.description.clone(),
            role: level.role,
            values: driver_values,
            candidate,
        });
        previous = Some((level_values, level.candidate.name.clone()));
    }
    let max_relative_error = (!drivers.is_empty()).then(|| {
        (0..n)
            .filter_map(|t| {
                let product: f64 = drivers.iter().map(|d| d.values[t]).product();
                let v = values[t];
                (product.is_finite() && v != 0.0).then(|| ((product - v) / v).abs())
            })
            .fold(0.0, f64::max)
    });
    let kind = loaded.dataset.kind;
    let spans = if drivers.is_empty() || n == 0 {
        Vec::new()
    } else {
        [3u32, 12]
            .into_iter()
            .filter_map(|months| {
                let back = kind.lag_from_months(months);
                (back < n).then(|| span(&drivers, &values, months, n - 1 - back, n - 1))
            })
            .collect()
    };
    // Inputs: every other candidate of the pool, against the star.
    let pool = &candidates[..chain_start];
    let others: Vec<usize> = (0..pool.len())
        .filter(|&i| with_inputs && pool[i].name != star.name && pool[i].kind != star.kind)
        .collect();
    let lead = lead_settings(&loaded.dataset, settings);
    let metrics: Vec<&[f64]> = others.iter().map(|&i| series[i].as_slice()).collect();
    let tested = test_all(&metrics, &values, vec![None; metrics.len()], &lead);
    let inputs = others
        .iter()
        .zip(tested)
        .map(|(&i, (outcome, _))| (pool[i].clone(), outcome))
        .collect();
    Ok(Tree {
        star: star.clone(),
        values,
        drivers,
        levels: chain
            .iter()
            .map(|l| l.candidate.clone())
            .filter(|c| c.name != star.name)
            .collect(),
        note,
        max_relative_error,
        spans,
        inputs,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn driver(values: &[f64]) -> Driver {
        Driver {
            name: "d".into(),
            description: String::new(),
            role: "breadth",
            values: values.to_vec(),
            candidate: Candidate {
                name: "d".into(),
                kind: Kind::EventCount {
                    filter: Default::default(),
                },
                description: None,
            },
        }
    }

    #[test]
    fn lmdi_contributions_sum_to_the_change() {
        // Star 100 -> 150 as 20 x 5 -> 25 x 6.
        let drivers = [driver(&[20.0, 25.0]), driver(&[5.0, 6.0])];
        let s = span(&drivers, &[100.0, 150.0], 3, 0, 1);
        let l = 50.0 / (150f64.ln() - 100f64.ln());
        let c: Vec<f64> = s.parts.iter().map(|p| p.1.unwrap()).collect();
        assert!((c[0] - l * (1.25f64).ln()).abs() < 1e-12);
        assert!((c[1] - l * (1.2f64).ln()).abs() < 1e-12);
        assert!((c[0] + c[1] - 50.0).abs() < 1e-9);
        // No change: the logarithmic mean is the value, contributions zero.
        let s = span(&drivers, &[100.0, 100.0], 3, 0, 0);
        assert!(s.parts.iter().all(|p| p.1 == Some(0.0)));
        // A zero at either end: no log split.
        let drivers = [driver(&[0.0, 25.0]), driver(&[5.0, 6.0])];
        let s = span(&drivers, &[0.0, 150.0], 3, 0, 1);
        assert!(s.parts.iter().all(|p| p.1.is_none()));
    }
}
