//! Events: every input file becomes one lazy scan and all scans one streaming plan that parses
//! timestamps and values ([`plan`]); its batches are stored as compact integer columns
//! ([`Activity`]) by a sharded loader ([`store`]). Every candidate series is computed from
//! those, so the raw events are read exactly once. Bad rows are located and explained only
//! when the pass has found some ([`bad_rows`]).

mod bad_rows;
mod direct;
mod memory;
mod options;
mod plan;
mod store;
mod vendor;

use std::sync::{Arc, Mutex};

use anyhow::Result;
use polars::prelude::*;

use bad_rows::{explain_scan_failure, locate_bad_rows};
pub use options::{EventOptions, EventSource};
use plan::{file_plans, one_plan, FilePlan, TimestampKind};
use store::Loader;
pub use vendor::Vendor;

use super::activity::Activity;
use super::bad_row::BadRow;
use super::timestamp::TimestampFamily;
use crate::error::InputError;
use crate::progress::{Counter, Progress};

/// Read all events into memory in one pass (two when a file read with a fixed timestamp
/// format has rows that need the general parser).
///
/// `progress` shows the rows read so far on a terminal.
pub fn load_activity(
    source: &EventSource,
    options: &EventOptions,
    progress: &Progress,
) -> Result<Activity> {
    load_with(source, options, progress, Readers::Fastest)
}

/// The readers [`load_with`] may use for tables.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Readers {
    /// The direct CSV reader where it can, else the general scan.
    Fastest,
    /// The general scan only (the reference the direct reader is tested against).
    #[cfg_attr(not(test), allow(dead_code))]
    General,
}

fn load_with(
    source: &EventSource,
    options: &EventOptions,
    progress: &Progress,
    readers: Readers,
) -> Result<Activity> {
    let counter = || progress.counter("reading events", "rows", None);
    if let EventSource::Files(files) = source {
        if let Some((vendor, how)) = vendor::detect(files, options)? {
            let loaded = vendor::load(files, vendor, &how, options, &counter())?;
            let examples = loaded.examples;
            return finish(
                loaded.loader,
                &loaded.labels,
                options,
                loaded.has_account,
                move || Ok(examples),
                loaded.notes,
            );
        }
    }
    let mut plans = file_plans(source, options)?;
    if let Some(warning) =
        memory::available().and_then(|free| memory::warning(memory::expected_rows(&plans), free))
    {
        progress.warning(&warning);
    }
    let has_account = plans.iter().any(|p| p.has_account);
    let has_value = plans.iter().any(|p| p.has_value);
    let direct = if readers == Readers::General {
        Err(direct::NotDirect("the general scan was asked for".into()))
    } else if plans.iter().all(|p| p.csv.is_some()) {
        direct::load(&plans, options, has_value, &counter())?
    } else {
        Err(direct::NotDirect("not every file is CSV".into()))
    };
    let general = direct.is_err();
    let mut loaded = match direct {
        Ok(loaded) => loaded,
        Err(direct::NotDirect(why)) => {
            if plans.iter().all(|p| p.csv.is_some()) && readers == Readers::Fastest {
                progress.stage(&format!("{why}: reading the events with the general scan"));
            }
            read_batches(&plans, options, has_value, counter())?
        }
    };
    if let Some(failure) = &loaded.failure {
        return Err(failure.to_error(&labels(&plans), options).into());
    }
    // Bad rows are read, and located, by the general grammar (a fixed format is only a
    // faster way to read the same rows when every row has it).
    let fixed = plans
        .iter()
        .any(|p| matches!(p.timestamp, TimestampKind::TextFormat(_)));
    if fixed && loaded.bad_rows > 0 {
        for plan in &mut plans {
            if let TimestampKind::TextFormat(_) = plan.timestamp {
                plan.timestamp = TimestampKind::Text(TimestampFamily::Iso);
            }
        }
        if general {
            drop(loaded);
            loaded = read_batches(&plans, options, has_value, counter())?;
        }
    }
    let labels = labels(&plans);
    finish(
        loaded,
        &labels,
        options,
        has_account,
        || locate_bad_rows(&plans, options, 5),
        Vec::new(),
    )
}

fn labels(plans: &[FilePlan]) -> Vec<String> {
    plans.iter().map(|p| p.label.clone()).collect()
}

/// The vendor whose event export `files` are (by `options.format`, or detected from the
/// first record); `None` for tables.
pub fn vendor_of(
    files: &[crate::ingest::source::InputFile],
    options: &EventOptions,
) -> Result<Option<Vendor>> {
    Ok(vendor::detect(files, options)?.map(|(vendor, _)| vendor))
}

/// Run the plan, storing each batch as it arrives.
fn read_batches(
    plans: &[FilePlan],
    options: &EventOptions,
    has_value: bool,
    counter: Counter,
) -> Result<Loader> {
    let mut loader = Loader::new(has_value);
    // Room for every row when the files say how many there are (Parquet).
    if let Some(rows) = plans.iter().map(|p| p.rows).sum::<Option<usize>>() {
        loader.reserve(rows);
    }
    let loader = Arc::new(Mutex::new(loader));
    let sink = Arc::clone(&loader);
    one_plan(plans, options)?
        .sink_batches(
            PlanCallback::new(move |batch: DataFrame| {
                let mut loader = sink
                    .lock()
                    .map_err(|_| polars_err!(ComputeError: "poisoned"))?;
                loader.add(&batch)?;
                counter.add(batch.height() as u64);
                Ok(loader.failure.is_some())
            }),
            true,
            None,
        )?
        .collect_with_engine(Engine::Streaming)
        .map_err(|e| explain_scan_failure(plans, options, e))?;
    let loader = Arc::try_unwrap(loader)
        .map_err(|_| anyhow::anyhow!("the scan still holds the events"))?
        .into_inner()
        .map_err(|_| anyhow::anyhow!("reading the events failed"))?;
    Ok(loader)
}

/// The one lazy plan over all files, for `--explain`-style inspection in tests.
pub fn activity_plan(source: &EventSource, options: &EventOptions) -> Result<LazyFrame> {
    one_plan(&file_plans(source, options)?, options)
}

/// The stored events as an [`Activity`]; `locate` finds the first bad rows when there are any.
fn finish(
    loaded: Loader,
    files: &[String],
    options: &EventOptions,
    has_account: bool,
    locate: impl FnOnce() -> Result<Vec<BadRow>>,
    notes: Vec<String>,
) -> Result<Activity> {
    let bad_rows = loaded.bad_rows;
    let fallback_rows = loaded.fallback_rows;
    let store::Merged {
        shard: loaded,
        users,
        duplicate_rows,
        event_starts,
    } = loaded
        .merge()
        .map_err(|failure| failure.to_error(files, options))?;
    let mut skipped_examples = Vec::new();
    if bad_rows > 0 {
        let examples = locate()?;
        if !options.skip_bad_rows {
            return Err(match examples.first() {
                Some(bad) => anyhow::Error::new(InputError::new(format!(
                    "{}; {} bad row(s) in all; fix them or pass --skip-bad-rows to skip and count them",
                    bad.to_error(),
                    bad_rows
                ))),
                None => InputError::new(format!(
                    "{bad_rows} event row(s) have an unreadable timestamp, an empty user or event, or a non-numeric value; pass --skip-bad-rows to skip and count them"
                ))
                .into(),
            });
        }
        skipped_examples = examples;
    }
    if loaded.events.is_empty() {
        let what = if options.as_of.is_some() {
            "no events on or before --as-of"
        } else {
            "no event rows"
        };
        return Err(InputError::new(format!("events {}: {what}", files.join(", "))).into());
    }
    Ok(Activity {
        events_rows: loaded.events.len() as u64,
        events: loaded.events,
        event_starts,
        users,
        accounts: loaded.ids.accounts,
        event_names: loaded.event_names,
        members: loaded.ids.members,
        first_day: loaded.first_day,
        last_day: loaded.last_day,
        has_account,
        skipped_rows: bad_rows,
        skipped_examples,
        duplicate_rows,
        user_fallback_rows: fallback_rows,
        source_notes: notes,
    })
}
