use anyhow::Result;

use crate::exit_codes::ExitCode;

use crate::candidates::catalog;
use crate::candidates::config::{to_toml, Config};
use crate::candidates::KindName;
use crate::cli::InitArgs;
use crate::error::InputError;
use crate::ingest::events::{load_activity, EventOptions, EventSource};
use crate::ingest::revenue::{load_revenue, CurrencyOptions};
use crate::ingest::source::resolve;
use crate::output::write_atomic;
use crate::progress::Progress;

pub(crate) fn run(args: InitArgs) -> Result<ExitCode> {
    if args.output.exists() && !args.force {
        return Err(InputError::new(format!(
            "{} already exists; pass --force to replace it, or --output another path",
            args.output.display()
        ))
        .into());
    }
    let files = resolve(&args.events, "events")?;
    if let Some(revenue) = &args.revenue {
        for file in resolve(std::slice::from_ref(revenue), "revenue")? {
            let checking = CurrencyOptions {
                only_checking: true,
                ..CurrencyOptions::default()
            };
            load_revenue(&file, args.delimiter, None, &checking)?;
        }
    }
    let config = Config::default();
    let options = EventOptions {
        columns: config.columns.clone(),
        delimiter: args.delimiter,
        as_of: None,
        skip_bad_rows: false,
        timezone: None,
    };
    let progress = Progress::new(false);
    let activity = load_activity(&EventSource::Files(files), &options, &progress)?;
    let candidates = catalog::automatic(&activity)?;
    let count = candidates.len();
    let config = Config {
        candidates,
        ..config
    };
    let header = format!(
        "nsm configuration: the candidates nsm discovered in your events.\n\
        Edit freely: remove candidates, add your own (kinds: {}),\n\
        and name the metric your team has chosen under [north_star] for `nsm check`.",
        wrap_kinds()
    );
    write_atomic(&args.output, to_toml(&config, &header).as_bytes())?;
    eprintln!(
        "nsm: wrote {} with {count} candidates",
        args.output.display()
    );
    Ok(ExitCode::Success)
}

/// The list of kinds on two comment lines (a break after the second kind).
fn wrap_kinds() -> String {
    let kinds = KindName::CANDIDATE_KINDS.map(KindName::name);
    format!("{},\n{}", kinds[..2].join(", "), kinds[2..].join(", "))
}
