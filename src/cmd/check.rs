use anyhow::Result;

use crate::exit_codes::ExitCode;

use crate::candidates::config::Config;
use crate::cli::CheckArgs;
use crate::error::InputError;
use crate::evaluation::evaluate;
use crate::gate::{run_gate, GateSettings};
use crate::output::{emit, write_atomic};
use crate::progress::Progress;
use crate::render::gate::{self, annotations::Annotations, junit::Junit};
use crate::render::Render;

pub(crate) fn run(args: CheckArgs) -> Result<ExitCode> {
    let progress = Progress::new(args.output.quiet);
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
    let baseline = args
        .baseline
        .as_deref()
        .map(|path| super::read_saved(path, "baseline"))
        .transpose()?;
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
            .map(|(saved, name)| (saved, name.as_str())),
        &settings,
    )?;
    if let Some(path) = &args.junit {
        write_atomic(path, Junit.render(&report)?.as_bytes())?;
    }
    let text = gate::renderer(args.format).render(&report)?;
    emit(args.output.output.as_deref(), &text)?;
    if std::env::var("GITHUB_ACTIONS").as_deref() == Ok("true") {
        print!("{}", Annotations.render(&report)?);
    }
    Ok(if report.passed {
        ExitCode::Success
    } else {
        ExitCode::GateFailed
    })
}
