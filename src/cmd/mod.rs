//! One module per subcommand: parse, call the library, render.

mod check;
mod demo;
mod discover;
mod evaluate;
mod init;
mod report;
mod sql;

use std::path::Path;

use anyhow::Result;
use clap::Parser;

use crate::candidates::config::Config;
use crate::cli::{AnalysisArgs, Cli, Command, InputArgs, OutputArgs};
use crate::error::InputError;
use crate::evaluation::{Evaluation, Inputs, RevenueSource, SeriesFiles, Settings};
use crate::exit_codes::ExitCode;
use crate::ingest::events::EventSource;
use crate::ingest::source::resolve;
use crate::output::emit;
use crate::render::format::renderer;

/// The whole program: parse the command line, run the command, decide the exit code.
pub fn main() -> ExitCode {
    report_panics_as_bugs();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) if !error.use_stderr() => {
            // --help and --version.
            let _ = error.print();
            return ExitCode::Success;
        }
        Err(error) => {
            // One line, as every other error: clap's first line, then where to look.
            let text = error.render().to_string();
            let first = text.lines().next().unwrap_or("error: invalid arguments");
            eprintln!("{first} (see --help)");
            return ExitCode::InputError;
        }
    };
    run_to_exit(cli)
}

/// Run a command and decide the exit code: one line on stderr for an error, saying whether it
/// is the user's to fix (exit 2) or a bug (exit 3).
fn run_to_exit(cli: Cli) -> ExitCode {
    match std::panic::catch_unwind(|| run(cli)) {
        Ok(Ok(code)) => code,
        Ok(Err(error)) => {
            let code = ExitCode::of_error(&error);
            if code == ExitCode::InputError {
                eprintln!("error: {error:#}");
            } else {
                eprintln!("error: internal error, a bug in nsm rather than a problem with your input (please report it with the command line): {error:#}");
            }
            code
        }
        // The panic hook has said what happened.
        Err(_) => ExitCode::InternalError,
    }
}

/// A panic is a bug: one line saying so, instead of Rust's default message.
fn report_panics_as_bugs() {
    std::panic::set_hook(Box::new(|info| {
        let location = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        let message = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "panic".to_string());
        eprintln!("error: internal error, a bug in nsm rather than a problem with your input (please report it with the command line): {message}{location}");
    }));
}

fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Evaluate(args) => evaluate::run(args),
        Command::Demo(args) => demo::run(args),
        Command::Discover(args) => discover::run(args),
        Command::Init(args) => init::run(args),
        Command::Check(args) => check::run(args),
        Command::Report(args) => report::run(args),
        Command::Sql(args) => sql::run(args),
    }
}

pub(crate) fn settings(args: &AnalysisArgs) -> Settings {
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

/// The width text is laid out for when stdout is not a terminal.
pub(crate) const DEFAULT_WIDTH: usize = 100;

/// The terminal's width when stdout is one, else [`DEFAULT_WIDTH`] (so a file or a pipe gets
/// the same bytes wherever it is written from).
pub(crate) fn terminal_width() -> usize {
    comfy_table::Table::new()
        .width()
        .map_or(DEFAULT_WIDTH, |w| usize::from(w).clamp(60, 200))
}

/// Render in the chosen format and write to stdout or `--output`.
pub(crate) fn render_and_emit(evaluation: &Evaluation, output: &OutputArgs) -> Result<()> {
    let width = match output.destination.output {
        Some(_) => DEFAULT_WIDTH,
        None => terminal_width(),
    };
    let text = renderer(output.format, width).render(evaluation)?;
    emit(output.destination.output.as_deref(), &text)
}

/// What the input flags name: the event files resolved, revenue, the config already loaded.
pub(crate) fn inputs(input: &InputArgs, config: Option<Config>) -> Result<Inputs> {
    let config = match &input.map {
        Some(map) => {
            let config = config.unwrap_or_default();
            Some(Config {
                columns: config.columns.clone().with_map(map),
                ..config
            })
        }
        None => config,
    };
    let series = input.series.clone().map(|series| SeriesFiles {
        series,
        customers: input.customers.clone(),
    });
    let events = if series.is_some() {
        Vec::new()
    } else {
        resolve(&input.events, "events")?
    };
    Ok(Inputs {
        events: EventSource::Files(events),
        series,
        revenue: RevenueSource::File(input.revenue.clone()),
        config,
        delimiter: input.delimiter,
        skip_bad_rows: input.skip_bad_rows,
        timezone: input.timezone,
        format: input.events_format,
        revenue_format: input.revenue_format,
        currency: input.currency.clone(),
        fx: input.fx.clone(),
    })
}

/// Read a saved evaluation (`--baseline`, `--compare`), returning it with the file's name.
pub(crate) fn read_saved(path: &Path, role: &str) -> Result<(Evaluation, String)> {
    let source = path.display().to_string();
    let text = std::fs::read_to_string(path)
        .map_err(|e| InputError::new(format!("{role} {source}: cannot read: {e}")))?;
    Ok((Evaluation::read_saved(&text, role, &source)?, source))
}

/// With `--skip-bad-rows`, say on stderr how many rows were skipped and show the first ones.
pub(crate) fn show_skipped(evaluation: &Evaluation, quiet: bool) {
    if evaluation.data.skipped_rows == 0 || quiet {
        return;
    }
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
