//! Every candidate's contributions from the stored events.
//!
//! Each candidate is one pass over the events it selects into `(key, account, value)` rows (the
//! key a period, or a week for week windows), plus `(key, value)` totals where distinct users
//! are not a sum over accounts; the candidates run in parallel. [`super::assemble`] turns
//! those rows into series.

use anyhow::Result;

use super::assemble::{assemble, CandidateSeries, Collected, CustomerValues};
use std::borrow::Cow;

use super::grid::{Bits, Sums};
use super::keys::{Keys, PerEvent};
use super::summaries::{selected_codes, Summaries};
use super::{Candidate, Entity, Kind, Threshold};
use crate::ingest::activity::{Activity, Calendar, Member, VALUE_SCALE};
use crate::ingest::dataset::Dataset;
use crate::period::PeriodKind;
use crate::progress::Progress;

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

/// One candidate's contributions, from one pass over the events it selects.
fn collect(
    activity: &Activity,
    calendar: &Calendar,
    per_event: &PerEvent,
    shared: &Summaries,
    candidate: &Candidate,
    kind: PeriodKind,
) -> Option<Collected> {
    let events = &activity.events;
    let members = &activity.members;
    let accounts = activity.accounts.len();
    let users = activity.users;
    let selected = selected_codes(activity, candidate);
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
    let key_of = |i: usize| per_event.key(&keys, calendar, events, i);
    // The (key, member) cells with a selected event, and the (key, user) cells they make.
    let members_seen = || {
        shared.members(window, &selected).unwrap_or_else(|| {
            let mut seen = Bits::new(keys.len, members.len());
            for i in rows() {
                seen.insert(key_of(i), events.member[i]);
            }
            Cow::Owned(seen)
        })
    };
    // Events per (key, account).
    let counts = || {
        shared.counts(window, &selected).unwrap_or_else(|| {
            let mut sums = Sums::new(keys.len, accounts);
            for i in rows() {
                sums.add(key_of(i), account_of(i), 1);
            }
            Cow::Owned(sums)
        })
    };
    let users_seen = |seen: &Bits| {
        let mut out = Bits::new(keys.len, users);
        seen.for_each(|key, member| out.insert(key, user_of(member)));
        out
    };
    let (rows, total) = match &candidate.kind {
        Kind::EventCount { .. } => (rows_of(&keys, &counts()), None),
        Kind::ValueSum { .. } => {
            let mut sums = Sums::new(keys.len, accounts);
            for i in rows() {
                sums.add(key_of(i), account_of(i), events.value(i).unwrap_or(0));
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
            Entity::Account => (ones_where(&keys, &counts(), |_| true), None),
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
                Entity::Account if matches!(threshold, Threshold::MinCount(_)) => {
                    (ones_where(&keys, &counts(), passes), None)
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
    let shared = Summaries::build(activity, &calendar, &per_event, candidates, dataset.kind);
    let counter = progress.counter(
        "computing candidates",
        "candidates",
        Some(candidates.len() as u64),
    );
    let reads: Vec<usize> = candidates
        .iter()
        .map(|candidate| shared.own_reads(activity, candidate))
        .collect();
    let series = assemble(
        candidates,
        dataset,
        VALUE_SCALE,
        &activity.accounts,
        &reads,
        |i| {
            let parts = collect(
                activity,
                &calendar,
                &per_event,
                &shared,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::candidates::config::Config;
    use crate::ingest::events::{load_activity, EventOptions, EventSource};

    /// Kinds the automatic catalog leaves out, each with a window and entity the summaries serve.
    const MORE: &str = r#"
[[candidate]]
name = "teams"
kind = "team_entities"
min_members = 2
[[candidate]]
name = "weekly_teams"
kind = "team_entities"
min_members = 2
window = "week"
rollup = "mean"
[[candidate]]
name = "returning_users"
kind = "returning_entities"
entity = "user"
[[candidate]]
name = "returning_accounts"
kind = "returning_entities"
entity = "account"
within_periods = 2
[[candidate]]
name = "new_accounts"
kind = "new_entities"
entity = "account"
[[candidate]]
name = "two_events"
kind = "event_count"
events = ["meeting_booked", "page_viewed"]
[[candidate]]
name = "meetings"
kind = "event_count"
event = "meeting_booked"
[[candidate]]
name = "weekly_meeting_accounts"
kind = "threshold_entities"
entity = "account"
event = "meeting_booked"
window = "week"
min_count = 2
rollup = "mean"
[[candidate]]
name = "busy_accounts"
kind = "threshold_entities"
entity = "account"
min_count = 20
[[candidate]]
name = "weekly_accounts"
kind = "active_entities"
entity = "account"
window = "week"
rollup = "last"
[[candidate]]
name = "valued_accounts"
kind = "threshold_entities"
entity = "account"
min_value = 100
"#;

    /// 40,000 events over 14 months: 400 users in 60 accounts (some users in two), six
    /// events of skewed frequencies, a value on every third.
    fn events_csv() -> String {
        let mut text = String::from("timestamp,user_id,account_id,event,value\n");
        let mut state = 7u64;
        let mut next = |n: u64| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 33) % n
        };
        let events = [
            "login",
            "page_viewed",
            "meeting_booked",
            "report_run",
            "invite_sent",
            "signed_up",
        ];
        for i in 0..40_000u64 {
            let day = 1 + i * 420 / 40_000;
            let (month, day) = (day / 30, day % 28 + 1);
            let user = next(400);
            let account = if next(10) == 0 { user % 7 } else { user % 60 };
            let event = events[(next(6) * next(6) / 5) as usize];
            let value = if i % 3 == 0 {
                format!("{}", next(500))
            } else {
                String::new()
            };
            text.push_str(&format!(
                "{}-{:02}-{day:02}T10:00:00Z,u{user},a{account},{event},{value}\n",
                2023 + month / 12,
                month % 12 + 1
            ));
        }
        text
    }

    #[test]
    fn shared_summaries_give_every_candidate_what_its_own_pass_gives() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("events.csv");
        std::fs::write(&path, events_csv()).unwrap();
        let files = crate::ingest::source::resolve(&[path], "events").unwrap();
        let options = EventOptions {
            columns: Default::default(),
            delimiter: b',',
            as_of: None,
            skip_bad_rows: false,
            timezone: None,
            format: None,
        };
        let activity =
            load_activity(&EventSource::Files(files), &options, &Progress::new(true)).unwrap();
        let mut candidates = crate::candidates::catalog::automatic(&activity).unwrap();
        candidates.extend(Config::parse(MORE, "test").unwrap().candidates);
        let calendar = activity.calendar();
        for kind in [PeriodKind::Month, PeriodKind::Week] {
            let per_event = PerEvent::new(&activity, &calendar, kind);
            let shared = Summaries::build(&activity, &calendar, &per_event, &candidates, kind);
            assert!(!shared.is_empty(), "the catalog shares codes");
            let alone = Summaries::default();
            // What each candidate reads of the events itself: nothing where the shared tables
            // serve it, its codes' events where they do not.
            let reads: Vec<usize> = candidates
                .iter()
                .map(|c| shared.own_reads(&activity, c))
                .collect();
            assert!(reads.contains(&0), "{reads:?}");
            for (candidate, shared_reads) in candidates.iter().zip(&reads) {
                let own = alone.own_reads(&activity, candidate);
                let selected = selected_codes(&activity, candidate);
                let expected: usize = (0..selected.len())
                    .filter(|&code| selected[code])
                    .map(|code| activity.events_of(code as u32).len())
                    .sum();
                assert_eq!(own, expected, "{}", candidate.name);
                assert!(
                    *shared_reads == 0 || *shared_reads == own,
                    "{}",
                    candidate.name
                );
                if matches!(candidate.kind, Kind::ValueSum { .. }) {
                    assert_eq!(*shared_reads, own, "{} is not shared", candidate.name);
                }
            }
            for candidate in &candidates {
                let with = collect(&activity, &calendar, &per_event, &shared, candidate, kind);
                let without = collect(&activity, &calendar, &per_event, &alone, candidate, kind);
                let (Some(with), Some(without)) = (with, without) else {
                    continue;
                };
                assert_eq!(with.rows, without.rows, "{}", candidate.name);
                assert_eq!(with.total, without.total, "{}", candidate.name);
                assert!(!without.rows.is_empty(), "{} has rows", candidate.name);
            }
        }
    }
}
