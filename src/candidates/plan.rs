//! Every candidate's contributions from the stored events.
//!
//! Each candidate is one pass over the events it selects into `(key, account, value)` rows (the
//! key a period, or a week for week windows), plus `(key, value)` totals where distinct users
//! are not a sum over accounts; the candidates run in parallel. [`super::assemble`] turns
//! those rows into series.

use anyhow::Result;

use super::assemble::{assemble, CandidateSeries, Collected, CustomerValues};
use super::grid::{Bits, Sums};
use super::{Candidate, Entity, Kind, Threshold, Window};
use crate::ingest::activity::{Activity, Calendar, Member, VALUE_SCALE};
use crate::ingest::dataset::Dataset;
use crate::period::PeriodKind;
use crate::progress::Progress;

/// The keys of one window over the days of the events: periods of the dataset's kind, or ISO
/// weeks, each known by its index from the first.
struct Keys {
    window: Window,
    kind: PeriodKind,
    first: i32,
    len: usize,
}

impl Keys {
    fn new(calendar: &Calendar, window: Window, kind: PeriodKind, days: (i32, i32)) -> Keys {
        let key = |day| match window {
            Window::Period => calendar.period(kind, day),
            Window::Week => calendar.week(day),
        };
        let (first, last) = (key(days.0), key(days.1));
        Keys {
            window,
            kind,
            first,
            len: (last - first + 1).max(0) as usize,
        }
    }

    #[inline]
    fn index(&self, calendar: &Calendar, day: i32) -> usize {
        let key = match self.window {
            Window::Period => calendar.period(self.kind, day),
            Window::Week => calendar.week(day),
        };
        (key - self.first) as usize
    }

    fn key(&self, index: usize) -> i32 {
        self.first + index as i32
    }
}

/// Whether a threshold holds for a cell's count or value sum (in millionths).
fn qualifies(threshold: Threshold, count_or_sum: i64) -> bool {
    match threshold {
        Threshold::MinCount(n) => count_or_sum >= n as i64,
        Threshold::MinValue(v) => count_or_sum as f64 >= v * VALUE_SCALE,
    }
}

/// Number of `(key, member)` cells `set` calls back with, per `(key, account)`.
fn members_per_account(
    set: impl FnOnce(&mut dyn FnMut(usize, u32)),
    members: &[Member],
    width: usize,
    keys: usize,
) -> Sums {
    let mut out = Sums::new(keys, width);
    set(&mut |key, member| out.add(key, members[member as usize].account, 1));
    out
}

/// Count of cells per key.
fn per_key(keys: &Keys, cells: impl FnOnce(&mut dyn FnMut(usize))) -> Vec<(i32, f64)> {
    let mut counts = vec![0u64; keys.len];
    cells(&mut |key| counts[key] += 1);
    counts
        .into_iter()
        .enumerate()
        .filter(|(_, n)| *n > 0)
        .map(|(i, n)| (keys.key(i), n as f64))
        .collect()
}

/// `(key, id, sum)` rows of the touched cells.
fn rows_of(keys: &Keys, sums: &Sums) -> Vec<(i32, u32, f64)> {
    let mut rows = Vec::new();
    sums.for_each(|k, id, v| rows.push((keys.key(k), id, v as f64)));
    rows
}

/// `(key, id, 1)` rows of the cells passing `keep`.
fn ones_where(keys: &Keys, sums: &Sums, keep: impl Fn(i64) -> bool) -> Vec<(i32, u32, f64)> {
    let mut rows = Vec::new();
    sums.for_each(|k, id, v| {
        if keep(v) {
            rows.push((keys.key(k), id, 1.0));
        }
    });
    rows
}

/// Each account's rank in name order, and the account of each rank: an entity-level first
/// (new, cumulative, repeat-within users) counts for the first account of its events in this
/// order.
fn name_order(activity: &Activity) -> (Vec<u32>, Vec<u32>) {
    let ranks = activity.accounts.ranks();
    let mut by_rank = vec![0u32; ranks.len()];
    for (code, rank) in ranks.iter().enumerate() {
        by_rank[*rank as usize] = code as u32;
    }
    (ranks, by_rank)
}

/// How many slots an entity-level first needs (one per user or per account) ...
fn entity_slots(entity: Entity, users: usize, accounts: usize) -> usize {
    match entity {
        Entity::User => users,
        Entity::Account => accounts,
    }
}

/// ... and the slot of an event's member.
fn entity_slot(entity: Entity, member: Member) -> usize {
    match entity {
        Entity::User => member.user as usize,
        Entity::Account => member.account as usize,
    }
}

/// The `(key, id)` cells of `seen` whose id is also in an earlier key (at most `within`
/// keys earlier, when given).
fn returning(seen: &Bits, within: Option<u32>) -> Vec<(usize, u32)> {
    let mut cells: Vec<(u32, usize)> = Vec::new();
    seen.for_each(|key, id| cells.push((id, key)));
    cells.sort_unstable();
    cells
        .windows(2)
        .filter(|pair| {
            let ((a, before), (b, key)) = (pair[0], pair[1]);
            a == b && within.is_none_or(|w| key - before <= w as usize)
        })
        .map(|pair| (pair[1].1, pair[1].0))
        .collect()
}

/// What every candidate's pass reads of each event besides the event itself, looked up once
/// for all of them: its account, and its period's index (from the first period of the events).
/// Read in order, these spare each pass a lookup at a random place for every event.
struct PerEvent {
    account: Vec<u32>,
    /// Empty when the periods would not fit 16 bits (then the calendar is asked).
    period: Vec<u16>,
}

impl PerEvent {
    fn new(activity: &Activity, calendar: &Calendar, kind: PeriodKind) -> PerEvent {
        use rayon::prelude::*;
        let events = &activity.events;
        let members = &activity.members;
        let keys = Keys::new(
            calendar,
            Window::Period,
            kind,
            (activity.first_day, activity.last_day),
        );
        const CHUNK: usize = 1 << 16;
        let account = events
            .member
            .par_chunks(CHUNK)
            .flat_map_iter(|chunk| chunk.iter().map(|m| members[*m as usize].account))
            .collect();
        let period = if keys.len <= usize::from(u16::MAX) {
            events
                .day
                .par_chunks(CHUNK)
                .flat_map_iter(|chunk| chunk.iter().map(|d| keys.index(calendar, *d) as u16))
                .collect()
        } else {
            Vec::new()
        };
        PerEvent { account, period }
    }
}

/// One candidate's contributions, from one pass over the events it selects.
fn collect(
    activity: &Activity,
    calendar: &Calendar,
    per_event: &PerEvent,
    candidate: &Candidate,
    kind: PeriodKind,
) -> Option<Collected> {
    let events = &activity.events;
    let members = &activity.members;
    let accounts = activity.accounts.len();
    let users = activity.users;
    let selected: Vec<bool> = match candidate.kind.filter() {
        Some(filter) if !filter.is_any() => activity
            .event_names
            .iter()
            .map(|name| filter.events.iter().any(|e| e == name))
            .collect(),
        _ => vec![true; activity.event_names.len()],
    };
    // Events are stored in event-code order: the selected codes' events are a few ranges.
    let ranges = activity.events_where(&selected);
    let rows = || ranges.iter().flat_map(|range| range.clone());
    let days = (activity.first_day, activity.last_day);
    let account_of = |i: usize| per_event.account[i];
    let user_of = |m: u32| members[m as usize].user;
    // When every user belongs to one account, distinct users in total are the sum over accounts.
    let one_account_each = members.len() == users;
    let window = candidate.kind.window().0;
    let keys = Keys::new(calendar, window, kind, days);
    let by_period = window == Window::Period && !per_event.period.is_empty();
    let key_of = |i: usize| {
        if by_period {
            usize::from(per_event.period[i])
        } else {
            keys.index(calendar, events.day[i])
        }
    };
    // The (key, member) cells with a selected event, and the (key, user) cells they make.
    let members_seen = || {
        let mut seen = Bits::new(keys.len, members.len());
        for i in rows() {
            seen.insert(key_of(i), events.member[i]);
        }
        seen
    };
    let users_seen = |seen: &Bits| {
        let mut out = Bits::new(keys.len, users);
        seen.for_each(|key, member| out.insert(key, user_of(member)));
        out
    };
    let (rows, total) = match &candidate.kind {
        Kind::EventCount { .. } | Kind::ValueSum { .. } => {
            let count = matches!(candidate.kind, Kind::EventCount { .. });
            let mut sums = Sums::new(keys.len, accounts);
            for i in rows() {
                let value = if count {
                    1
                } else {
                    events.value(i).unwrap_or(0)
                };
                sums.add(key_of(i), account_of(i), value);
            }
            (rows_of(&keys, &sums), None)
        }
        Kind::ActiveEntities { entity, .. } => match entity {
            Entity::User => {
                let seen = members_seen();
                let total = (!one_account_each).then(|| {
                    let users_seen = users_seen(&seen);
                    per_key(&keys, |count| users_seen.for_each(|key, _| count(key)))
                });
                let counts =
                    members_per_account(|add| seen.for_each(add), members, accounts, keys.len);
                (rows_of(&keys, &counts), total)
            }
            Entity::Account => {
                let mut seen = Sums::new(keys.len, accounts);
                for i in rows() {
                    seen.add(key_of(i), account_of(i), 1);
                }
                (ones_where(&keys, &seen, |_| true), None)
            }
        },
        Kind::ThresholdEntities {
            entity, threshold, ..
        } => {
            let measure = |i: usize| match threshold {
                Threshold::MinCount(_) => 1,
                Threshold::MinValue(_) => events.value(i).unwrap_or(0),
            };
            let passes = |v: i64| qualifies(*threshold, v);
            match entity {
                Entity::User => {
                    let mut sums = Sums::new(keys.len, members.len());
                    for i in rows() {
                        sums.add(key_of(i), events.member[i], measure(i));
                    }
                    let total = (!one_account_each).then(|| {
                        let mut by_user = Sums::new(keys.len, users);
                        sums.for_each(|key, member, v| by_user.add(key, user_of(member), v));
                        per_key(&keys, |count| {
                            by_user.for_each(|key, _, v| {
                                if passes(v) {
                                    count(key)
                                }
                            })
                        })
                    });
                    let counts = members_per_account(
                        |add| {
                            sums.for_each(|k, m, v| {
                                if passes(v) {
                                    add(k, m)
                                }
                            })
                        },
                        members,
                        accounts,
                        keys.len,
                    );
                    (rows_of(&keys, &counts), total)
                }
                Entity::Account => {
                    let mut sums = Sums::new(keys.len, accounts);
                    for i in rows() {
                        sums.add(key_of(i), account_of(i), measure(i));
                    }
                    (ones_where(&keys, &sums, passes), None)
                }
            }
        }
        Kind::TeamEntities { min_members, .. } => {
            let seen = members_seen();
            let counts = members_per_account(|add| seen.for_each(add), members, accounts, keys.len);
            (
                ones_where(&keys, &counts, |n| n >= *min_members as i64),
                None,
            )
        }
        Kind::NewEntities { entity, .. } | Kind::CumulativeEntities { entity, .. } => {
            // First period each entity is seen, over all data (also before the analysed
            // range); a user counts for the first account of its events in name order.
            let (ranks, by_rank) = name_order(activity);
            let mut firsts: Vec<(usize, u32)> =
                vec![(usize::MAX, u32::MAX); entity_slots(*entity, users, accounts)];
            // The (key, member) cells first (a few rows of bits, near each other while the
            // events keep to a period), then each member's: the same minima as event by event.
            members_seen().for_each(|key, member| {
                let member = members[member as usize];
                let slot = &mut firsts[entity_slot(*entity, member)];
                slot.0 = slot.0.min(key);
                slot.1 = slot.1.min(ranks[member.account as usize]);
            });
            let mut counts = Sums::new(keys.len, accounts);
            for (key, rank) in firsts {
                if key != usize::MAX {
                    counts.add(key, by_rank[rank as usize], 1);
                }
            }
            (rows_of(&keys, &counts), None)
        }
        Kind::ReturningEntities {
            entity,
            within_periods,
            ..
        } => match entity {
            Entity::User => {
                let seen = members_seen();
                let total = (!one_account_each).then(|| {
                    let back = returning(&users_seen(&seen), *within_periods);
                    per_key(&keys, |count| back.iter().for_each(|(key, _)| count(*key)))
                });
                let back = returning(&seen, *within_periods);
                let counts = members_per_account(
                    |add| back.iter().for_each(|&(key, member)| add(key, member)),
                    members,
                    accounts,
                    keys.len,
                );
                (rows_of(&keys, &counts), total)
            }
            Entity::Account => {
                let mut seen = Bits::new(keys.len, accounts);
                for i in rows() {
                    seen.insert(key_of(i), account_of(i));
                }
                let rows = returning(&seen, *within_periods)
                    .into_iter()
                    .map(|(key, account)| (keys.key(key), account, 1.0))
                    .collect();
                (rows, None)
            }
        },
        Kind::RepeatWithin {
            entity,
            nth,
            within_days,
            ..
        } => {
            // Each entity's first `nth` days of a matching event (ascending), and the first
            // account of its events in name order (as for new entities).
            let nth = *nth as usize;
            let (ranks, by_rank) = name_order(activity);
            let len = entity_slots(*entity, users, accounts);
            let mut days: Vec<Vec<i32>> = vec![Vec::new(); len];
            let mut first_rank = vec![u32::MAX; len];
            for i in rows() {
                let member = members[events.member[i] as usize];
                let id = entity_slot(*entity, member);
                first_rank[id] = first_rank[id].min(ranks[member.account as usize]);
                let kept = &mut days[id];
                let day = events.day[i];
                if kept.len() < nth || day < kept[nth - 1] {
                    let at = kept.partition_point(|d| *d <= day);
                    kept.insert(at, day);
                    kept.truncate(nth);
                }
            }
            let mut rows = Vec::new();
            for (id, kept) in days.iter().enumerate() {
                let Some(&first) = kept.first() else { continue };
                let end = first + *within_days as i32;
                // The outcome is known once the days have passed; before that it is not
                // counted, neither as a repeat nor as a failure.
                if end > activity.last_day {
                    continue;
                }
                if kept.len() == nth && kept[nth - 1] <= end {
                    rows.push((kind.of_day(end), by_rank[first_rank[id] as usize], 1.0));
                }
            }
            (rows, None)
        }
        Kind::Ratio { .. } => return None,
    };
    Some(Collected {
        rows,
        total,
        window,
    })
}

/// Compute every candidate's series over the dataset's periods: one pass over the stored
/// events per candidate, the candidates in parallel. Each candidate's per-customer values go
/// to `per_customer` (see [`assemble`]).
pub(crate) fn compute_series<T: Send>(
    activity: &Activity,
    candidates: &[Candidate],
    dataset: &Dataset,
    progress: &Progress,
    per_customer: &(dyn Fn(usize, &CustomerValues) -> T + Sync),
) -> Result<Vec<(CandidateSeries, Option<T>)>> {
    let calendar = activity.calendar();
    let per_event = PerEvent::new(activity, &calendar, dataset.kind);
    let counter = progress.counter(
        "computing candidates",
        "candidates",
        Some(candidates.len() as u64),
    );
    let series = assemble(
        candidates,
        dataset,
        VALUE_SCALE,
        &activity.accounts,
        |i| {
            let parts = collect(
                activity,
                &calendar,
                &per_event,
                &candidates[i],
                dataset.kind,
            );
            counter.add(1);
            Ok(parts)
        },
        per_customer,
    );
    drop(counter);
    progress.stage("series and per-account parts computed");
    series
}
