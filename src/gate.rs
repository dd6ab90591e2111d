//! The CI gate of `nsm check`: the declared north star must pass both tests and, against a
//! saved evaluation, must not have lost ground.

use serde::{Deserialize, Serialize};

use crate::error::InputError;
use crate::evaluation::{CandidateOut, Evaluation};
use crate::stats::score::Verdict;

/// Gate settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct GateSettings {
    /// Largest score drop against the baseline that still passes.
    pub(crate) max_score_drop: f64,
    /// By how many points another passing candidate may outscore the star.
    pub(crate) outrank_margin: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Check {
    pub(crate) name: String,
    pub(crate) passed: bool,
    pub(crate) message: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct GateReport {
    pub(crate) schema_version: u32,
    pub(crate) north_star: String,
    pub(crate) passed: bool,
    pub(crate) score: Option<f64>,
    pub(crate) baseline_score: Option<f64>,
    pub(crate) checks: Vec<Check>,
}

/// The star's verdict on each test: the lead judged alone (a pre-specified hypothesis; saved
/// evaluations from before that figure existed fall back to the ranking's verdict).
fn verdict_of(candidate: &CandidateOut, lead: bool) -> Option<Verdict> {
    if lead {
        candidate
            .lead
            .as_ref()
            .map(|l| l.verdict_alone.unwrap_or(l.verdict))
    } else {
        candidate.churn.as_ref().map(|c| c.verdict)
    }
}

/// Run every check. `baseline` is a saved evaluation and the name of its file.
pub(crate) fn run_gate(
    evaluation: &Evaluation,
    star: &str,
    baseline: Option<(&Evaluation, &str)>,
    settings: &GateSettings,
) -> Result<GateReport, InputError> {
    let current = evaluation
        .ranked()
        .find(|c| c.name == star)
        .ok_or_else(|| {
            InputError::new(format!(
                "the declared north star '{star}' is not among the evaluated candidates"
            ))
        })?;
    let mut checks = Vec::new();
    for (name, lead) in [("lead test", true), ("churn test", false)] {
        let verdict = verdict_of(current, lead);
        let detail = if lead {
            current.lead.as_ref().map(|l| {
                let p = l
                    .p_alone
                    .map(|p| {
                        if p < 0.001 {
                            "p < 0.001".to_string()
                        } else {
                            format!("p = {p:.3}")
                        }
                    })
                    .unwrap_or_else(|| "no p-value".to_string());
                format!(
                    "judged on its own {p} (the declared star is one pre-specified hypothesis; the ranking adjusts for every candidate): {}",
                    l.explanation
                )
            })
        } else {
            current.churn.as_ref().map(|c| c.explanation.clone())
        };
        let message = format!(
            "{star}: {name} {}: {}",
            verdict.map_or("missing", |v| if v == Verdict::Pass {
                "passed"
            } else {
                v.name()
            }),
            detail.unwrap_or_default()
        );
        checks.push(Check {
            name: name.to_string(),
            passed: verdict == Some(Verdict::Pass),
            message,
        });
    }
    let mut baseline_score = None;
    if let Some((saved, source)) = baseline {
        match saved.ranked().find(|c| c.name == star) {
            None => checks.push(Check {
                name: "baseline".into(),
                passed: true,
                message: format!("{star}: not in the baseline {source}; nothing to compare"),
            }),
            Some(base) => {
                baseline_score = base.score;
                let drop = base.score.zip(current.score).map(|(b, c)| b - c);
                let passed = drop.is_none_or(|d| d <= settings.max_score_drop);
                checks.push(Check {
                    name: "score drop".into(),
                    passed,
                    message: match (base.score, current.score) {
                        (Some(b), Some(c)) => format!(
                            "{star}: score {c:.1}, baseline {b:.1} ({:+.1}; at most -{:.1} allowed)",
                            c - b,
                            settings.max_score_drop
                        ),
                        _ => format!("{star}: no score to compare"),
                    },
                });
                for (name, lead) in [("lead test kept", true), ("churn test kept", false)] {
                    let was = verdict_of(base, lead);
                    let now = verdict_of(current, lead);
                    let lost = was == Some(Verdict::Pass) && now != Some(Verdict::Pass);
                    checks.push(Check {
                        name: name.into(),
                        passed: !lost,
                        message: if lost {
                            format!(
                                "{star}: {} test passed in the baseline and is now {}",
                                if lead { "lead" } else { "churn" },
                                now.map_or("missing", Verdict::name)
                            )
                        } else {
                            format!(
                                "{star}: {} test no worse than the baseline",
                                if lead { "lead" } else { "churn" }
                            )
                        },
                    });
                }
            }
        }
    }
    let star_score = current.score.unwrap_or(0.0);
    let rival = evaluation
        .ranked()
        .filter(|c| c.name != star && c.verdict == Verdict::Pass)
        .find(|c| c.score.unwrap_or(0.0) > star_score + settings.outrank_margin);
    checks.push(Check {
        name: "not outranked".into(),
        passed: rival.is_none(),
        message: match rival {
            Some(r) => format!(
                "{star}: {} now outranks it by {:.1} points ({:.1} against {star_score:.1}; margin {:.1}) and passes both tests",
                r.name,
                r.score.unwrap_or(0.0) - star_score,
                r.score.unwrap_or(0.0),
                settings.outrank_margin
            ),
            None => format!(
                "{star}: no passing candidate outscores it by more than {:.1} points",
                settings.outrank_margin
            ),
        },
    });
    Ok(GateReport {
        schema_version: 1,
        north_star: star.to_string(),
        passed: checks.iter().all(|c| c.passed),
        score: current.score,
        baseline_score,
        checks,
    })
}
