//! What candidates of counts and of distinct entities share, built once per event code and
//! window: the events per (window, account), and the (window, member) cells with an event.
//! Events are stored in event-code order, so each is one pass over one code's events; a
//! candidate of several codes adds (or unites) theirs, one of all events adds them all. The
//! tables are the ones the candidate's own pass would fill, so its series are the same.
//!
//! Built only when they save reading (a code shared by several candidates, or a candidate of
//! several codes: `events` beside `page_viewed_count`) and fit in [`MAX_BYTES`].

use std::borrow::Cow;

use rayon::prelude::*;

use super::grid::{Bits, Sums};
use super::keys::{Keys, PerEvent};
use super::{Candidate, Entity, Kind, Threshold, Window};
use crate::ingest::activity::{Activity, Calendar};
use crate::period::PeriodKind;

/// What a candidate reads of each of its events.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Need {
    /// Events per (window, account).
    Counts,
    /// The (window, member) cells with an event.
    Members,
}

/// What `kind` can take from the summaries, if anything.
fn need(kind: &Kind) -> Option<Need> {
    match kind {
        Kind::EventCount { .. }
        | Kind::ActiveEntities {
            entity: Entity::Account,
            ..
        }
        | Kind::ThresholdEntities {
            entity: Entity::Account,
            threshold: Threshold::MinCount(_),
            ..
        } => Some(Need::Counts),
        Kind::ActiveEntities {
            entity: Entity::User,
            ..
        }
        | Kind::TeamEntities { .. }
        | Kind::NewEntities { .. }
        | Kind::CumulativeEntities { .. }
        | Kind::ReturningEntities {
            entity: Entity::User,
            ..
        } => Some(Need::Members),
        _ => None,
    }
}

/// The most memory the summaries may take.
const MAX_BYTES: usize = 256 << 20;

const WINDOWS: [Window; 2] = [Window::Period, Window::Week];

fn slot(window: Window) -> usize {
    match window {
        Window::Period => 0,
        Window::Week => 1,
    }
}

/// Per window (period, week) and event code, the tables built.
#[derive(Default)]
pub(super) struct Summaries {
    counts: [Vec<Option<Sums>>; 2],
    members: [Vec<Option<Bits>>; 2],
}

impl Summaries {
    /// The summaries the candidates would share (none when sharing saves no reading or they
    /// would take too much memory).
    pub(super) fn build(
        activity: &Activity,
        calendar: &Calendar,
        per_event: &PerEvent,
        candidates: &[Candidate],
        kind: PeriodKind,
    ) -> Summaries {
        let codes = activity.event_names.len();
        let days = (activity.first_day, activity.last_day);
        let keys = WINDOWS.map(|window| Keys::new(calendar, window, kind, days));
        // [window][code]: (counts wanted, members wanted).
        let mut wanted = [vec![(false, false); codes], vec![(false, false); codes]];
        // Events the candidates would read on their own.
        let mut own_reads = 0;
        for candidate in candidates {
            let Some(need) = need(&candidate.kind) else {
                continue;
            };
            let window = candidate.kind.window().0;
            for (code, selected) in selected_codes(activity, candidate).iter().enumerate() {
                if !*selected {
                    continue;
                }
                own_reads += activity.events_of(code as u32).len();
                let want = &mut wanted[slot(window)][code];
                match need {
                    Need::Counts => want.0 = true,
                    Need::Members => want.1 = true,
                }
            }
        }
        let mut tasks = Vec::new();
        let (mut reads, mut bytes) = (0, 0);
        for (w, window) in WINDOWS.iter().enumerate() {
            for (code, &(counts, members)) in wanted[w].iter().enumerate() {
                let events = activity.events_of(code as u32).len();
                if counts {
                    tasks.push((*window, code, Need::Counts, events));
                    reads += events;
                    bytes += keys[w].len * activity.accounts.len() * 8;
                }
                if members {
                    tasks.push((*window, code, Need::Members, events));
                    reads += events;
                    bytes += keys[w].len * activity.members.len() / 8;
                }
            }
        }
        if reads >= own_reads || bytes > MAX_BYTES {
            return Summaries::default();
        }
        // The longest passes first, so that the two threads end together.
        tasks.sort_by_key(|task| std::cmp::Reverse(task.3));
        let built: Vec<(Window, usize, Built)> = tasks
            .into_par_iter()
            .map(|(window, code, need, _)| {
                let keys = &keys[slot(window)];
                let events = activity.events_of(code as u32);
                let key_of = |i| per_event.key(keys, calendar, &activity.events, i);
                let table = match need {
                    Need::Counts => {
                        let mut sums = Sums::new(keys.len, activity.accounts.len());
                        for i in events {
                            sums.add(key_of(i), per_event.account[i], 1);
                        }
                        Built::Counts(sums)
                    }
                    Need::Members => {
                        let mut seen = Bits::new(keys.len, activity.members.len());
                        for i in events {
                            seen.insert(key_of(i), activity.events.member[i]);
                        }
                        Built::Members(seen)
                    }
                };
                (window, code, table)
            })
            .collect();
        let mut out = Summaries {
            counts: [vec![None; codes], vec![None; codes]],
            members: [vec![None; codes], vec![None; codes]],
        };
        for (window, code, table) in built {
            match table {
                // Sparse tables list their cells in another order: none of them then.
                Built::Counts(sums) if sums.is_dense() => {
                    out.counts[slot(window)][code] = Some(sums)
                }
                Built::Members(seen) if seen.is_dense() => {
                    out.members[slot(window)][code] = Some(seen)
                }
                _ => return Summaries::default(),
            }
        }
        out
    }

    /// Whether nothing was built.
    #[cfg(test)]
    pub(super) fn is_empty(&self) -> bool {
        self.counts.iter().all(Vec::is_empty) && self.members.iter().all(Vec::is_empty)
    }

    /// The events `candidate`'s own pass reads: none when these tables serve it.
    pub(super) fn own_reads(&self, activity: &Activity, candidate: &Candidate) -> usize {
        let selected = selected_codes(activity, candidate);
        let window = slot(candidate.kind.window().0);
        // As `combine` finds them: a table for every selected code, and a code selected.
        fn built<T>(tables: &[Option<T>], selected: &[bool]) -> bool {
            selected.contains(&true)
                && selected
                    .iter()
                    .enumerate()
                    .all(|(code, s)| !s || tables.get(code).is_some_and(Option::is_some))
        }
        let served = match need(&candidate.kind) {
            Some(Need::Counts) => built(&self.counts[window], &selected),
            Some(Need::Members) => built(&self.members[window], &selected),
            None => false,
        };
        if served {
            return 0;
        }
        activity
            .events_where(&selected)
            .iter()
            .map(|range| range.len())
            .sum()
    }

    /// The events per (window, account) of the `selected` codes, when built for each of them.
    pub(super) fn counts(&self, window: Window, selected: &[bool]) -> Option<Cow<'_, Sums>> {
        combine(&self.counts[slot(window)], selected, Sums::add_all)
    }

    /// The (window, member) cells with an event of the `selected` codes, when built for each.
    pub(super) fn members(&self, window: Window, selected: &[bool]) -> Option<Cow<'_, Bits>> {
        combine(&self.members[slot(window)], selected, Bits::insert_all)
    }
}

enum Built {
    Counts(Sums),
    Members(Bits),
}

/// The tables of the selected codes together: the one table, or the first with the others
/// added. `None` unless every selected code has one (and at least one is selected).
fn combine<'a, T: Clone>(
    tables: &'a [Option<T>],
    selected: &[bool],
    add: impl Fn(&mut T, &T),
) -> Option<Cow<'a, T>> {
    let mut chosen = selected
        .iter()
        .enumerate()
        .filter(|(_, s)| **s)
        .map(|(code, _)| tables.get(code).and_then(Option::as_ref));
    let mut out = Cow::Borrowed(chosen.next()??);
    for table in chosen {
        add(out.to_mut(), table?);
    }
    Some(out)
}

/// For each event code, whether `candidate` counts its events.
pub(super) fn selected_codes(activity: &Activity, candidate: &Candidate) -> Vec<bool> {
    match candidate.kind.filter() {
        Some(filter) if !filter.is_any() => activity
            .event_names
            .iter()
            .map(|name| filter.events.iter().any(|e| e == name))
            .collect(),
        _ => vec![true; activity.event_names.len()],
    }
}
