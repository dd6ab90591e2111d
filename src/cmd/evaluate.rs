use anyhow::Result;

use crate::exit_codes::ExitCode;

use crate::candidates::config::Config;
use crate::cli::EvaluateArgs;
use crate::evaluation::evaluate;
use crate::progress::Progress;

pub(crate) fn run(args: EvaluateArgs) -> Result<ExitCode> {
    let progress = Progress::new(args.output.destination.quiet);
    let config = args.input.config.as_deref().map(Config::load).transpose()?;
    let inputs = super::inputs(&args.input, config)?;
    let evaluation = evaluate(inputs, &super::settings(&args.analysis), &progress)?;
    super::show_skipped(&evaluation, args.output.destination.quiet);
    super::render_and_emit(&evaluation, &args.output)?;
    Ok(ExitCode::Success)
}
