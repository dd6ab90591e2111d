use anyhow::Result;

use crate::candidates::config::{to_toml, Config};
use crate::cli::DiscoverArgs;
use crate::discovery::{discover, Options};
use crate::exit_codes::ExitCode;
use crate::output::{emit, write_atomic};
use crate::progress::Progress;
use crate::render::discover::renderer;

pub(crate) fn run(args: DiscoverArgs) -> Result<ExitCode> {
    let progress = Progress::new(args.output.quiet);
    let config = args.input.config.as_deref().map(Config::load).transpose()?;
    let inputs = super::inputs(&args.input, config)?;
    let options = Options {
        star: args.star.clone(),
        tree_only: args.tree_only,
    };
    let found = discover(
        inputs,
        &super::settings(&args.analysis),
        &options,
        &progress,
    )?;
    let width = match args.output.output {
        Some(_) => super::DEFAULT_WIDTH,
        None => super::terminal_width(),
    };
    let text = renderer(args.format, width).render(&found.discovery)?;
    if let Some(path) = &args.write_config {
        let header = "Written by `nsm discover`: the candidates it read (or the automatic catalog),\nwith the confirmed thresholds and the star's input drivers added.\nUse it with `nsm evaluate --config` or `nsm check --config`.";
        write_atomic(path, to_toml(&found.config, header).as_bytes())?;
    }
    emit(args.output.output.as_deref(), &text)?;
    Ok(ExitCode::Success)
}
