use std::process::ExitCode;

use anyhow::Result;

use crate::candidates::config::Config;
use crate::cli::{ReportArgs, ReportFormat};
use crate::error::InputError;
use crate::evaluation::{evaluate, read_saved};
use crate::output::{emit, write_atomic};
use crate::progress::Progress;
use crate::render::{renderer, Format};
use crate::report::{compare, html, markdown};

pub fn run(args: ReportArgs) -> Result<ExitCode> {
    let progress = Progress::new(args.quiet);
    let config = args.input.config.as_deref().map(Config::load).transpose()?;
    // Read the earlier evaluation first: a wrong path should not cost a whole evaluation.
    let previous = match &args.compare {
        Some(path) => {
            let source = path.display().to_string();
            let text = std::fs::read_to_string(path)
                .map_err(|e| InputError::new(format!("--compare {source}: cannot read: {e}")))?;
            Some((read_saved(&text, "--compare", &source)?, source))
        }
        None => None,
    };
    let inputs = super::inputs(&args.input, config)?;
    let evaluation = evaluate(inputs, &super::settings(&args.analysis), &progress)?;
    super::show_skipped(&evaluation, args.quiet);
    let comparison = previous
        .as_ref()
        .map(|(json, source)| compare(&evaluation, json, source));
    let text = match args.format {
        ReportFormat::Markdown => markdown(&evaluation, comparison.as_ref(), args.top),
        ReportFormat::Html => html(&evaluation, comparison.as_ref(), args.top),
    };
    if let Some(path) = &args.json {
        write_atomic(path, renderer(Format::Json).render(&evaluation)?.as_bytes())?;
    }
    emit(args.output.as_deref(), &text)?;
    Ok(ExitCode::SUCCESS)
}
