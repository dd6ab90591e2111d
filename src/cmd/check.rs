use std::process::ExitCode;

use anyhow::Result;

use crate::candidates::config::Config;
use crate::cli::{CheckArgs, CheckFormat};
use crate::error::InputError;
use crate::evaluation::evaluate;
use crate::gate::{github_annotations, junit_xml, run_gate, GateSettings};
use crate::output::{emit, write_atomic};
use crate::progress::Progress;

/// Exit code of a failed gate.
const GATE_FAILED: u8 = 1;

pub fn run(args: CheckArgs) -> Result<ExitCode> {
    let progress = Progress::new(args.quiet);
    let Some(config_path) = &args.input.config else {
        return Err(
            InputError::new("nsm check needs --config nsm.toml with a [north_star] name").into(),
        );
    };
    let config = Config::load(config_path)?;
    let Some(star) = config.north_star.clone() else {
        return Err(InputError::new(format!(
            "config {}: has no [north_star]; declare the metric to gate on: [north_star] name = \"...\"",
            config_path.display()
        ))
        .into());
    };
    // Read the baseline first: a wrong path should not cost a whole evaluation.
    let baseline = match &args.baseline {
        Some(path) => Some((
            std::fs::read_to_string(path).map_err(|e| {
                InputError::new(format!("baseline {}: cannot read: {e}", path.display()))
            })?,
            path.display().to_string(),
        )),
        None => None,
    };
    let inputs = super::inputs(&args.input, Some(config))?;
    let evaluation = evaluate(inputs, &super::settings(&args.analysis), &progress)?;
    let settings = GateSettings {
        max_score_drop: args.max_score_drop,
        outrank_margin: args.outrank_margin,
    };
    let report = run_gate(
        &evaluation,
        &star,
        baseline
            .as_ref()
            .map(|(text, name)| (text.as_str(), name.as_str())),
        &settings,
    )?;
    if let Some(path) = &args.junit {
        write_atomic(path, junit_xml(&report).as_bytes())?;
    }
    let text = match args.format {
        CheckFormat::Json => serde_json::to_string_pretty(&report)? + "\n",
        CheckFormat::Text => {
            let mut out = String::new();
            for check in &report.checks {
                out.push_str(&format!(
                    "{} {}\n",
                    if check.passed { "ok  " } else { "FAIL" },
                    check.message
                ));
            }
            out.push_str(&format!(
                "nsm check: {} {}\n",
                star,
                if report.passed { "passed" } else { "FAILED" }
            ));
            out
        }
    };
    emit(args.output.as_deref(), &text)?;
    if std::env::var("GITHUB_ACTIONS").as_deref() == Ok("true") {
        print!("{}", github_annotations(&report));
    }
    Ok(if report.passed {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(GATE_FAILED)
    })
}
