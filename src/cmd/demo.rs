use anyhow::Result;

use crate::exit_codes::ExitCode;

use crate::cli::DemoArgs;
use crate::demo;
use crate::evaluation::{evaluate, Inputs, RevenueSource};
use crate::ingest::events::EventSource;
use crate::progress::Progress;

pub(crate) fn run(args: DemoArgs) -> Result<ExitCode> {
    let progress = Progress::new(args.output.destination.quiet);
    progress.stage("generating the demo dataset (seeded, 42 months)");
    let data = demo::generate();
    if let Some(dir) = &args.write_data {
        demo::write_data(&data, dir)?;
        if !args.output.destination.quiet {
            let d = dir.display();
            eprintln!(
                "nsm: wrote {d}/events.csv, {d}/revenue.csv and {d}/nsm.toml; rerun with:\n  nsm evaluate --events {d}/events.csv --revenue {d}/revenue.csv --config {d}/nsm.toml"
            );
        }
    }
    let inputs = Inputs {
        events: EventSource::Frame {
            name: "demo events".into(),
            frame: data.events_frame()?,
        },
        series: None,
        revenue: RevenueSource::Memory(data.revenue()),
        config: Some(data.config.clone()),
        delimiter: b',',
        skip_bad_rows: false,
        timezone: None,
        format: None,
        revenue_format: None,
        currency: None,
        fx: None,
    };
    let evaluation = evaluate(inputs, &super::settings(&args.analysis), &progress)?;
    super::render_and_emit(&evaluation, &args.output)?;
    Ok(ExitCode::Success)
}
