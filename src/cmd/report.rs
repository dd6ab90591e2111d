use anyhow::Result;

use crate::exit_codes::ExitCode;

use crate::candidates::config::Config;
use crate::cli::ReportArgs;
use crate::discovery::declared_tree;
use crate::evaluation::evaluate;
use crate::evaluation::pipeline::{evaluate_loaded, load};
use crate::output::{emit, write_atomic};
use crate::progress::Progress;
use crate::render::format::{renderer, Format};
use crate::render::report::format as report_format;
use crate::render::report::{compare, Review};

pub(crate) fn run(args: ReportArgs) -> Result<ExitCode> {
    let progress = Progress::new(args.output.quiet);
    let config = args.input.config.as_deref().map(Config::load).transpose()?;
    // Read the earlier evaluation first: a wrong path should not cost a whole evaluation.
    let previous = args
        .compare
        .as_deref()
        .map(|path| super::read_saved(path, "--compare"))
        .transpose()?;
    let inputs = super::inputs(&args.input, config)?;
    let settings = super::settings(&args.analysis);
    // From events, the loaded data also give the declared star's input tree.
    let (evaluation, tree) = if inputs.series.is_some() {
        (evaluate(inputs, &settings, &progress)?, None)
    } else {
        let loaded = load(inputs, &settings, &progress)?;
        let evaluation = evaluate_loaded(&loaded, &settings, &progress)?;
        let tree = declared_tree(&loaded, &settings, &progress)?;
        (evaluation, tree)
    };
    super::show_skipped(&evaluation, args.output.quiet);
    let review = Review {
        evaluation: &evaluation,
        comparison: previous
            .as_ref()
            .map(|(saved, source)| compare(&evaluation, saved, source)),
        top: args.top,
        tree: tree.as_ref(),
    };
    let text = report_format::renderer(args.format).render(&review)?;
    if let Some(path) = &args.json {
        write_atomic(
            path,
            renderer(Format::Json, super::DEFAULT_WIDTH)
                .render(&evaluation)?
                .as_bytes(),
        )?;
    }
    emit(args.output.output.as_deref(), &text)?;
    Ok(ExitCode::Success)
}
