use anyhow::Result;

use crate::exit_codes::ExitCode;

use crate::candidates::catalog;
use crate::candidates::config::{to_toml_with_notes, Config};
use crate::candidates::KindName;
use crate::cli::InitArgs;
use crate::error::InputError;
use crate::ingest::columns::EventColumns;
use crate::ingest::events::{load_activity, vendor_of, EventOptions, EventSource};
use crate::ingest::propose::{propose_columns, Choice, Proposal, GIVEN};
use crate::ingest::revenue::{load_revenue, RevenueOptions};
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
            let checking = RevenueOptions {
                format: args.revenue_format,
                only_checking: true,
                ..RevenueOptions::default()
            };
            load_revenue(&file, args.delimiter, None, &checking)?;
        }
    }
    let given = args.map.clone().unwrap_or_default();
    let probe = EventOptions {
        columns: EventColumns::default().with_map(&given),
        delimiter: args.delimiter,
        as_of: None,
        skip_bad_rows: false,
        timezone: args.timezone,
        format: args.events_format,
    };
    // A vendor export has its fields where the vendor keeps them: nothing to propose but the
    // group type and value property, which --map names.
    let vendor = vendor_of(&files, &probe)?;
    let proposal = match vendor {
        Some(_) => Proposal {
            columns: probe.columns.clone(),
            choices: Vec::new(),
            account_suspects: Vec::new(),
        },
        None => propose_columns(&files[0], args.delimiter, &given)?,
    };
    // The choices worth a word: every column not under nsm's own name, and every --map entry.
    let chosen: Vec<&Choice> = proposal
        .choices
        .iter()
        .filter(|c| c.role != c.column || c.reason == GIVEN)
        .collect();
    let notes: Vec<(&str, String)> = chosen
        .iter()
        .map(|c| (c.role, format!("'{}': {} (nsm init)", c.column, c.reason)))
        .collect();
    let config = Config {
        columns: proposal.columns.clone(),
        timezone: args.timezone,
        format: vendor,
        ..Config::default()
    };
    let options = EventOptions {
        columns: config.columns.clone(),
        ..probe
    };
    let progress = Progress::new(false);
    let activity = load_activity(&EventSource::Files(files), &options, &progress)?;
    if vendor.is_some() {
        for note in &activity.source_notes {
            eprintln!("nsm: {note}");
        }
    }
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
    write_atomic(
        &args.output,
        to_toml_with_notes(&config, &header, &notes).as_bytes(),
    )?;
    for choice in &chosen {
        eprintln!(
            "nsm: {} = '{}': {}",
            choice.role, choice.column, choice.reason
        );
    }
    if !proposal.account_suspects.is_empty() && !chosen.is_empty() {
        let names: Vec<String> = proposal
            .account_suspects
            .iter()
            .map(|c| format!("'{c}'"))
            .collect();
        eprintln!(
            "nsm: no column is named like an account, so each user is its own account; if {} holds the account, pass --map account_id=<column>",
            names.join(" or ")
        );
    }
    eprintln!(
        "nsm: wrote {} with {count} candidates",
        args.output.display()
    );
    Ok(ExitCode::Success)
}

/// The list of kinds on two comment lines (a break after the second kind).
/// The kinds, as the comment continues them: two on the first line (after "add your own
/// (kinds: "), then lines of at most 90 characters.
fn wrap_kinds() -> String {
    let kinds = KindName::CANDIDATE_KINDS.map(KindName::name);
    let mut lines = vec![kinds[..2].join(", ")];
    let mut line = String::new();
    for kind in &kinds[2..] {
        if !line.is_empty() && line.len() + kind.len() + 2 > 90 {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push_str(", ");
        }
        line.push_str(kind);
    }
    lines.push(line);
    lines.join(",\n")
}
