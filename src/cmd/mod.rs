//! One module per subcommand: parse, call the library, render.

pub mod check;
pub mod demo;
pub mod evaluate;
pub mod init;

use std::process::ExitCode;

use anyhow::Result;

use crate::cli::{AnalysisArgs, Cli, Command, OutputArgs};
use crate::evaluation::{Evaluation, Settings};
use crate::output::emit;
use crate::render::renderer;

pub fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Evaluate(args) => evaluate::run(args),
        Command::Demo(args) => demo::run(args),
        Command::Init(args) => init::run(args),
        Command::Check(args) => check::run(args),
    }
}

pub fn settings(args: &AnalysisArgs) -> Settings {
    let defaults = Settings::default();
    let (lag_min_months, lag_max_months) = args
        .lags
        .unwrap_or((defaults.lag_min_months, defaults.lag_max_months));
    Settings {
        period: args.period,
        lag_min_months,
        lag_max_months,
        lags_given: args.lags.is_some(),
        alpha: args.alpha,
        seed: args.seed,
        surrogates: args.surrogates as usize,
        as_of: args.as_of,
        seasonal: args.seasonal == crate::cli::Seasonal::On,
    }
}

/// Render in the chosen format and write to stdout or `--output`.
pub fn render_and_emit(evaluation: &Evaluation, output: &OutputArgs) -> Result<()> {
    let text = renderer(output.format).render(evaluation)?;
    emit(output.output.as_deref(), &text)
}
