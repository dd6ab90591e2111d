use std::process::ExitCode;

use anyhow::Result;

use crate::candidates::config::Config;
use crate::cli::EvaluateArgs;
use crate::evaluation::{evaluate, Inputs, RevenueSource};
use crate::ingest::events::EventSource;
use crate::ingest::source::resolve;
use crate::output::Progress;

pub fn run(args: EvaluateArgs) -> Result<ExitCode> {
    let progress = Progress::new(args.output.quiet);
    let config = args.input.config.as_deref().map(Config::load).transpose()?;
    let files = resolve(&args.input.events, "events")?;
    progress.stage(&format!(
        "reading {} event file(s) and revenue",
        files.len()
    ));
    let inputs = Inputs {
        events: EventSource::Files(files),
        revenue: RevenueSource::File(args.input.revenue.clone()),
        config,
        delimiter: args.input.delimiter,
        skip_bad_rows: args.input.skip_bad_rows,
    };
    let evaluation = evaluate(inputs, &super::settings(&args.analysis), &progress)?;
    if evaluation.data.skipped_rows > 0 && !args.output.quiet {
        eprintln!(
            "nsm: skipped {} unreadable event row(s); first ones:",
            evaluation.data.skipped_rows
        );
        for row in &evaluation.data.skipped_examples {
            let line = row.line.map(|l| format!(", line {l}")).unwrap_or_default();
            eprintln!(
                "  {}{line}, column '{}', value '{}': {}",
                row.file, row.column, row.value, row.reason
            );
        }
    }
    super::render_and_emit(&evaluation, &args.output)?;
    Ok(ExitCode::SUCCESS)
}
