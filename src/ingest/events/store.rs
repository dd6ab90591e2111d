//! The sharded store of the loader: each batch's good rows split by user between two shards,
//! whose ids are interned into integer codes on two threads, and merged at the end.

use std::hash::BuildHasher;

use polars::prelude::*;

use super::options::EventOptions;
use super::plan::{col_names as c, BAD, DAY, PARSED_VALUE, RAW_TS, RAW_VALUE};
use crate::error::InputError;
use crate::ingest::activity::{
    hasher, head, Events, Member, Names, HEAD_BYTES, NO_VALUE, VALUE_SCALE,
};

/// A limit of the codes passed while storing events, with the value that passed it.
#[derive(Debug, Clone)]
pub(super) enum Failure {
    Ids(String),
    EventNames(String),
}

impl Failure {
    pub(super) fn to_error(&self, files: &[String], options: &EventOptions) -> InputError {
        let what = match self {
            Failure::Ids(value) => format!(
                "column '{}', value '{value}': more than 4,294,967,294 distinct ids",
                options.columns.user_id
            ),
            Failure::EventNames(value) => format!(
                "column '{}', value '{value}': more than {MAX_EVENT_NAMES} distinct event names; nsm compares metrics over a catalog of events, not free text: map `event` to a column of event names",
                options.columns.event
            ),
        };
        InputError::new(format!("events {}: {what}", files.join(", ")))
    }
}

/// At most this many distinct event names (codes are 16 bits).
pub(super) const MAX_EVENT_NAMES: usize = 1 << 16;

/// The events of the batches read so far, in two shards by user (each shard's rows are those
/// of the users whose id hashes to it), filled on two threads.
pub(super) struct Loader {
    pub(super) shards: [Shard; 2],
    pub(super) bad_rows: u64,
    /// Good rows whose user id came from a fallback column.
    pub(super) fallback_rows: u64,
    pub(super) failure: Option<Failure>,
}

/// The events of one shard's users, with codes of its own until [`Loader::merge`].
pub(super) struct Shard {
    pub(super) events: Events,
    pub(super) ids: Ids,
    pub(super) event_names: Names,
    /// One per stored event: a hash of everything read from its row, for counting exact
    /// duplicates (which always share a user, and so a shard).
    pub(super) fingerprints: Vec<u64>,
    pub(super) first_day: i32,
    pub(super) last_day: i32,
    pub(super) has_value: bool,
    pub(super) failure: Option<Failure>,
}

/// Users, accounts and the members they form.
pub(super) struct Ids {
    users: Names<LastAccount>,
    pub(super) accounts: Names,
    pub(super) members: Vec<Member>,
    member_codes: hashbrown::HashMap<u64, u32, foldhash::fast::FixedState>,
}

/// Codes stay below this (`u32::MAX` marks "none" in [`LastAccount`]).
const FULL: u32 = u32::MAX - 1;

/// One good row of a batch, with the hash of its user id.
struct Row<'a> {
    user: &'a str,
    user_hash: u64,
    account: &'a str,
    event: &'a str,
    day: i32,
    value: Option<f64>,
    /// Hash of the raw timestamp and value text.
    raw: u64,
}

/// The good rows of `batch` for each shard (by the hash of the user id), and the number of bad
/// rows.
fn split_rows(batch: &DataFrame) -> PolarsResult<([Vec<Row<'_>>; 2], u64)> {
    let fingerprint = fingerprint_hasher();
    let raw = raw_hashes(batch.column(RAW_TS)?)?
        .into_iter()
        .zip(raw_hashes(batch.column(RAW_VALUE)?)?)
        .map(|pair| fingerprint.hash_one(pair));
    let state = hasher();
    let mut shards: [Vec<Row>; 2] = [Vec::new(), Vec::new()];
    let mut bad_rows = 0;
    let rows = batch
        .column(BAD)?
        .bool()?
        .iter()
        .zip(batch.column(DAY)?.i32()?.iter())
        .zip(batch.column(c::USER)?.str()?.iter())
        .zip(batch.column(c::ACCOUNT)?.str()?.iter())
        .zip(batch.column(c::EVENT)?.str()?.iter())
        .zip(batch.column(PARSED_VALUE)?.f64()?.iter())
        .zip(raw);
    for ((((((bad, day), user), account), event), value), raw) in rows {
        let (Some(false), Some(day), Some(user), Some(account), Some(event)) =
            (bad, day, user, account, event)
        else {
            bad_rows += 1;
            continue;
        };
        let user_hash = state.hash_one(user);
        shards[((user_hash >> 32) & 1) as usize].push(Row {
            user,
            user_hash,
            account,
            event,
            day,
            value,
            raw,
        });
    }
    Ok((shards, bad_rows))
}

/// How far ahead a shard prefetches the table slot of a user id.
const PREFETCH_ROWS: usize = 8;

impl Loader {
    pub(super) fn new(has_value: bool) -> Loader {
        Loader {
            shards: [Shard::new(has_value), Shard::new(has_value)],
            bad_rows: 0,
            fallback_rows: 0,
            failure: None,
        }
    }

    /// Store one batch: its good rows are split by user between the two shards (each half of
    /// the batch on its own thread), and the shards store theirs on two threads.
    pub(super) fn add(&mut self, batch: &DataFrame) -> PolarsResult<()> {
        if let Ok(fallback) = batch.column(super::plan::FALLBACK) {
            let bad = batch.column(super::plan::BAD)?.bool()?;
            self.fallback_rows += fallback
                .bool()?
                .iter()
                .zip(bad.iter())
                .filter(|(used, bad)| *used == Some(true) && *bad != Some(true))
                .count() as u64;
        }
        let half = batch.height() / 2;
        let (early, late) = (batch.slice(0, half), batch.slice(half as i64, usize::MAX));
        let (early, late) = rayon::join(|| split_rows(&early), || split_rows(&late));
        let ((early, early_bad), (late, late_bad)) = (early?, late?);
        self.bad_rows += early_bad + late_bad;
        let [first, second] = &mut self.shards;
        let [early_first, early_second] = &early;
        let [late_first, late_second] = &late;
        rayon::join(
            || {
                first.add(early_first, 0);
                first.add(late_first, 0);
            },
            || {
                second.add(early_second, 1);
                second.add(late_second, 1);
            },
        );
        self.failure = first.failure.clone().or_else(|| second.failure.clone());
        Ok(())
    }

    /// One set of codes: the second shard's users, members, accounts and event names renumbered
    /// after the first's, its events appended. Also returns the number of distinct users. The
    /// two shards' event names together may pass the limit each one kept.
    pub(super) fn merge(self) -> Result<(Shard, usize), Failure> {
        let [mut out, other] = self.shards;
        let users = out.ids.users.len() as u32;
        let members = out.ids.members.len() as u32;
        let accounts: Vec<u32> = other
            .ids
            .accounts
            .iter()
            .map(|name| out.ids.accounts.code(name, usize::MAX).expect("no limit"))
            .collect();
        let event_codes: Vec<u16> = other
            .event_names
            .iter()
            .map(|name| {
                let code = out.event_names.code(name, MAX_EVENT_NAMES);
                code.map(|c| c as u16)
                    .ok_or_else(|| Failure::EventNames(name.to_string()))
            })
            .collect::<Result<_, _>>()?;
        out.ids
            .members
            .extend(other.ids.members.iter().map(|m| Member {
                user: m.user + users,
                account: accounts[m.account as usize],
            }));
        let user_count = users as usize + other.ids.users.len();
        // Each of the second shard's columns is freed as soon as it is copied, so that the
        // copy never holds more than one extra column.
        let events = other.events;
        out.events.day.extend_from_slice(&events.day);
        drop(events.day);
        out.events
            .member
            .extend(events.member.iter().map(|m| m + members));
        drop(events.member);
        out.events
            .event
            .extend(events.event.iter().map(|e| event_codes[*e as usize]));
        drop(events.event);
        out.events.value.extend_from_slice(&events.value);
        drop(events.value);
        out.fingerprints.extend_from_slice(&other.fingerprints);
        drop(other.fingerprints);
        out.first_day = out.first_day.min(other.first_day);
        out.last_day = out.last_day.max(other.last_day);
        Ok((out, user_count))
    }
}

impl Shard {
    pub(super) fn new(has_value: bool) -> Shard {
        Shard {
            events: Events::default(),
            ids: Ids {
                users: Names::default(),
                accounts: Names::default(),
                members: Vec::new(),
                member_codes: hashbrown::HashMap::with_hasher(hasher()),
            },
            event_names: Names::default(),
            fingerprints: Vec::new(),
            first_day: i32::MAX,
            last_day: i32::MIN,
            has_value,
            failure: None,
        }
    }

    /// Store the rows of this shard's users.
    fn add(&mut self, rows: &[Row], shard: u64) {
        // Codes are the shard's own: the shard is part of the fingerprint.
        let quality = fingerprint_hasher();
        for (i, row) in rows.iter().enumerate() {
            if let Some(ahead) = rows.get(i + PREFETCH_ROWS) {
                self.ids.users.prefetch(ahead.user_hash);
            }
            let Some(member) = self.ids.member(row.user, row.user_hash, row.account) else {
                self.failure = Some(Failure::Ids(row.user.to_string()));
                break;
            };
            let Some(event) = self.event_names.code(row.event, MAX_EVENT_NAMES) else {
                self.failure = Some(Failure::EventNames(row.event.to_string()));
                break;
            };
            self.first_day = self.first_day.min(row.day);
            self.last_day = self.last_day.max(row.day);
            self.events.day.push(row.day);
            self.events.member.push(member);
            self.events.event.push(event as u16);
            if self.has_value {
                self.events.value.push(
                    row.value
                        .map_or(NO_VALUE, |v| (v * VALUE_SCALE + 0.5).floor() as i64),
                );
            }
            self.fingerprints
                .push(quality.hash_one((row.raw, shard, member, event)));
        }
    }
}

/// Kept with each user: the member it was last seen as and that account's text, to skip the
/// account and pair lookups while a user stays in one account (the usual case).
#[derive(Clone, Copy)]
struct LastAccount {
    member: u32,
    len: u32,
    head: u64,
}

impl Default for LastAccount {
    fn default() -> Self {
        LastAccount {
            member: u32::MAX,
            len: 0,
            head: 0,
        }
    }
}

impl Ids {
    /// The member code of a user in an account; `None` past `FULL` distinct ids.
    #[inline]
    fn member(&mut self, user: &str, user_hash: u64, account: &str) -> Option<u32> {
        let limit = FULL as usize;
        let (user, last) = self.users.code_and_payload(user, user_hash, limit)?;
        if last.member != u32::MAX
            && last.len as usize == account.len()
            && last.head == head(account)
            && (account.len() <= HEAD_BYTES
                || self
                    .accounts
                    .get(self.members[last.member as usize].account)
                    == account)
        {
            return Some(last.member);
        }
        let account_code = self.accounts.code(account, limit)?;
        let key = (u64::from(user) << 32) | u64::from(account_code);
        let next = self.members.len() as u32;
        if next == FULL {
            return None;
        }
        let member = *self.member_codes.entry(key).or_insert(next);
        if member == next {
            self.members.push(Member {
                user,
                account: account_code,
            });
        }
        *last = LastAccount {
            member,
            len: account.len() as u32,
            head: head(account),
        };
        Some(member)
    }
}

/// The hasher of row fingerprints: a fixed seed and full mixing, as two different rows share a
/// fingerprint with a chance of about 2^-64 per pair (on the order of 1e-4 for 50M rows).
fn fingerprint_hasher() -> foldhash::quality::FixedState {
    foldhash::quality::FixedState::with_seed(0x6475_706c_6963_6174)
}

/// A hash of each row's raw value in `column` (text as read, or the typed value).
fn raw_hashes(column: &Column) -> PolarsResult<Vec<u64>> {
    const NULL: u64 = 0x9e37_79b9_7f4a_7c15;
    let state = fingerprint_hasher();
    Ok(match column.dtype() {
        DataType::String => column
            .str()?
            .iter()
            .map(|v| v.map_or(NULL, |s| state.hash_one(s)))
            .collect(),
        DataType::Null => vec![NULL; column.len()],
        t if t.is_float() => column
            .cast(&DataType::Float64)?
            .f64()?
            .iter()
            .map(|v| v.map_or(NULL, |x| state.hash_one(x.to_bits())))
            .collect(),
        _ => column
            .to_physical_repr()
            .cast(&DataType::Int64)?
            .i64()?
            .iter()
            .map(|v| v.map_or(NULL, |x| state.hash_one(x)))
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_user_in_two_accounts_is_two_members() {
        let mut ids = Ids {
            users: Names::default(),
            accounts: Names::default(),
            members: Vec::new(),
            member_codes: hashbrown::HashMap::with_hasher(hasher()),
        };
        let mut member =
            |user: &str, account: &str| ids.member(user, hasher().hash_one(user), account).unwrap();
        let long = "account-with-a-long-name-1";
        let long_too = "account-with-a-long-name-2";
        assert_eq!(member("u1", long), 0);
        assert_eq!(member("u1", long), 0);
        // Same length and first bytes as the account before: compared in full.
        assert_eq!(member("u1", long_too), 1);
        assert_eq!(member("u1", long), 0);
        assert_eq!(member("u2", "a"), 2);
        assert_eq!(member("u1", "a"), 3);
        assert_eq!(member("u2", "a"), 2);
        assert_eq!(
            ids.members,
            [
                Member {
                    user: 0,
                    account: 0
                },
                Member {
                    user: 0,
                    account: 1
                },
                Member {
                    user: 1,
                    account: 2
                },
                Member {
                    user: 0,
                    account: 2
                },
            ]
        );
    }
}
