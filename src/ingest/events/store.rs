//! The sharded store of the loader: each batch's good rows split by user between two shards,
//! whose ids are interned into integer codes on two threads, and merged at the end.

use std::hash::BuildHasher;

use polars::prelude::*;

use super::options::EventOptions;
use super::plan::{col_names as c, BAD, DAY, PARSED_VALUE, RAW_TS, RAW_VALUE};
use crate::error::InputError;
use crate::ingest::activity::{
    hasher, Events, IdKey, Member, Names, HEAD_BYTES, NO_VALUE, VALUE_SCALE,
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
    pub(super) fingerprints: Fingerprints,
    pub(super) first_day: i32,
    pub(super) last_day: i32,
    pub(super) has_value: bool,
    pub(super) failure: Option<Failure>,
    /// Room kept between batches for the rows of a batch that are this shard's and their
    /// user hashes.
    batch_rows: (Vec<u32>, Vec<u64>),
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

/// One good row, with the hash of its user id; `E`: its event's text (rows of records), or
/// nothing where the store reads the event from the batch's column (integer batches).
pub(super) struct Row<'a, E = &'a str> {
    user: IdKey<'a>,
    user_hash: u64,
    account: IdKey<'a>,
    event: E,
    day: i32,
    value: Option<f64>,
    /// Hash of the raw timestamp and value text.
    raw: u64,
}

/// The good rows of part of a batch for each shard (by the hash of the user id), in the order
/// read, and what the part counted.
#[derive(Default)]
pub(super) struct Rows<'a> {
    shards: [Vec<Row<'a>>; 2],
    pub(super) bad: u64,
    /// Good rows whose user id came from a fallback column.
    pub(super) fallback: u64,
}

impl<'a> Rows<'a> {
    pub(super) fn with_capacity(rows: usize) -> Self {
        let half = rows / 2 + rows / 16;
        Rows {
            shards: [Vec::with_capacity(half), Vec::with_capacity(half)],
            bad: 0,
            fallback: 0,
        }
    }

    /// The same vectors emptied, for rows of another block: their room is kept (a fresh
    /// allocation for every block costs a page fault for every page it touches).
    pub(super) fn recycle<'b>(self) -> Rows<'b> {
        // An empty vector collected into one of a type of the same layout keeps its buffer.
        let empty = |mut rows: Vec<Row<'a>>| -> Vec<Row<'b>> {
            rows.clear();
            rows.into_iter().map(|_| unreachable!("empty")).collect()
        };
        let [first, second] = self.shards;
        Rows {
            shards: [empty(first), empty(second)],
            bad: 0,
            fallback: 0,
        }
    }

    /// The good rows.
    pub(super) fn len(&self) -> u64 {
        (self.shards[0].len() + self.shards[1].len()) as u64
    }

    /// Add a good row: `raw` is [`raw_hash`] of its timestamp and value as read.
    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    pub(super) fn push(
        &mut self,
        user: IdKey<'a>,
        account: IdKey<'a>,
        event: &'a str,
        day: i32,
        value: Option<f64>,
        raw: u64,
    ) {
        let user_hash = user.hash();
        self.shards[((user_hash >> 32) & 1) as usize].push(Row {
            user,
            user_hash,
            account,
            event,
            day,
            value,
            raw,
        });
    }
}

/// The fingerprint part of a row's raw timestamp and value, from [`raw_text_hash`]es (or a
/// typed column's hash of each).
#[inline]
pub(super) fn raw_hash(timestamp: u64, value: u64) -> u64 {
    fingerprint_hasher().hash_one((timestamp, value))
}

/// A hash of one raw text cell (`None`: null), as [`raw_hashes`] gives for a text column.
#[inline]
pub(super) fn raw_text_hash(text: Option<&str>) -> u64 {
    text.map_or(NULL_CELL, |s| fingerprint_hasher().hash_one(s))
}

/// A hash of one raw integer cell (an integer column, or a typed timestamp's physical value).
#[inline]
fn raw_int_hash(value: Option<i64>) -> u64 {
    value.map_or(NULL_CELL, |v| fingerprint_hasher().hash_one(v))
}

/// A hash of one raw float cell.
#[inline]
fn raw_float_hash(value: Option<f64>) -> u64 {
    value.map_or(NULL_CELL, |v| fingerprint_hasher().hash_one(v.to_bits()))
}

/// The hash of a null cell.
const NULL_CELL: u64 = 0x9e37_79b9_7f4a_7c15;

/// The ids of an id column as the tables key them: texts, or integers (an integer column).
fn id_keys(column: &Column) -> PolarsResult<Box<dyn Iterator<Item = Option<IdKey<'_>>> + '_>> {
    Ok(if column.dtype().is_string() {
        Box::new(column.str()?.iter().map(|id| id.map(IdKey::of)))
    } else {
        Box::new(column.i64()?.iter().map(|id| id.map(IdKey::Int)))
    })
}

/// The good rows of `part` for each shard, and its bad rows.
fn split_rows(part: &DataFrame) -> PolarsResult<Rows<'_>> {
    let len = part.height();
    let raw = raw_hashes(part.column(RAW_TS)?)?
        .into_iter()
        .zip(raw_hashes(part.column(RAW_VALUE)?)?)
        .map(|(timestamp, value)| raw_hash(timestamp, value));
    let mut out = Rows::with_capacity(len);
    let rows = part
        .column(BAD)?
        .bool()?
        .iter()
        .zip(part.column(DAY)?.i32()?.iter())
        .zip(id_keys(part.column(c::USER)?)?)
        .zip(id_keys(part.column(c::ACCOUNT)?)?)
        .zip(part.column(c::EVENT)?.str()?.iter())
        .zip(part.column(PARSED_VALUE)?.f64()?.iter())
        .zip(raw);
    for ((((((bad, day), user), account), event), value), raw) in rows {
        let (Some(false), Some(day), Some(user), Some(account), Some(event)) =
            (bad, day, user, account, event)
        else {
            out.bad += 1;
            continue;
        };
        out.push(user, account, event, day, value, raw);
    }
    Ok(out)
}

/// A batch whose ids are integer columns, read column by column (no row records): each
/// shard reads the whole user column and stores the good rows whose user is its own, so the
/// other columns are read once, by the thread that stores the row.
struct IntegerBatch<'a> {
    /// Bit `i % 64` of word `i / 64`: whether row `i` is good (not marked bad, with a day, a
    /// user, an account and an event), worked out for 64 rows at a time once per batch (bits
    /// past the last row are not read).
    good: Vec<u64>,
    day: &'a <Int32Type as PolarsDataType>::Array,
    user: &'a <Int64Type as PolarsDataType>::Array,
    account: &'a <Int64Type as PolarsDataType>::Array,
    event: &'a <StringType as PolarsDataType>::Array,
    value: &'a <Float64Type as PolarsDataType>::Array,
    raw_ts: RawCells<'a>,
    raw_value: RawCells<'a>,
}

/// The raw cells of a column for the row fingerprints, hashed as [`raw_hashes`] hashes them:
/// row by row from a typed array where the column has one chunk of 64-bit integers or floats,
/// else by [`raw_hashes`] itself.
enum RawCells<'a> {
    Int(&'a <Int64Type as PolarsDataType>::Array),
    Float(&'a <Float64Type as PolarsDataType>::Array),
    Hashed(Vec<u64>),
}

impl<'a> RawCells<'a> {
    fn of(column: &'a Column) -> PolarsResult<Self> {
        let one = column.as_materialized_series().n_chunks() == 1;
        Ok(match column.dtype() {
            DataType::Int64 if one => RawCells::Int(column.i64()?.downcast_as_array()),
            DataType::Float64 if one => RawCells::Float(column.f64()?.downcast_as_array()),
            _ => RawCells::Hashed(raw_hashes(column)?),
        })
    }

    /// The hash of row `i`'s cell (the same as [`raw_hashes`] gives).
    #[inline(always)]
    fn hash(&self, i: usize) -> u64 {
        match self {
            RawCells::Int(a) => raw_int_hash(a.get(i)),
            RawCells::Float(a) => raw_float_hash(a.get(i)),
            RawCells::Hashed(hashes) => hashes[i],
        }
    }
}

impl<'a> IntegerBatch<'a> {
    /// The batch's columns, when its ids are integers (else the rows are read as records).
    fn of(batch: &'a DataFrame) -> PolarsResult<Option<Self>> {
        let (user, account) = (batch.column(c::USER)?, batch.column(c::ACCOUNT)?);
        if user.dtype() != &DataType::Int64 || account.dtype() != &DataType::Int64 {
            return Ok(None);
        }
        let one = |column: &'a Column| column.as_materialized_series().n_chunks() == 1;
        let columns = [BAD, DAY, c::USER, c::ACCOUNT, c::EVENT, PARSED_VALUE];
        if !columns.iter().all(|name| batch.column(name).is_ok_and(one)) {
            return Ok(None);
        }
        let bad = batch.column(BAD)?.bool()?.downcast_as_array();
        let day = batch.column(DAY)?.i32()?.downcast_as_array();
        let user = user.i64()?.downcast_as_array();
        let account = account.i64()?.downcast_as_array();
        let event_column = batch.column(c::EVENT)?;
        let event = event_column.str()?.downcast_as_array();
        // A bitmap's words, the last one's bits past its length zero.
        macro_rules! words {
            ($bits:expr) => {{
                let chunks = $bits.chunks::<u64>();
                let last = chunks.remainder();
                chunks.chain(std::iter::once(last))
            }};
        }
        let mut good: Vec<u64> = words!(bad.values()).map(|w| !w).collect();
        let validities = [
            bad.validity(),
            day.validity(),
            user.validity(),
            account.validity(),
        ];
        for validity in validities.into_iter().flatten() {
            for (good, valid) in good.iter_mut().zip(words!(validity)) {
                *good &= valid;
            }
        }
        if event_column.null_count() > 0 {
            let present = event_column.is_not_null();
            let present = present.downcast_as_array().values();
            for (good, valid) in good.iter_mut().zip(words!(present)) {
                *good &= valid;
            }
        }
        Ok(Some(IntegerBatch {
            good,
            day,
            user,
            account,
            event,
            value: batch.column(PARSED_VALUE)?.f64()?.downcast_as_array(),
            raw_ts: RawCells::of(batch.column(RAW_TS)?)?,
            raw_value: RawCells::of(batch.column(RAW_VALUE)?)?,
        }))
    }

    /// Whether row `i` is good: not marked bad, with a day, a user, an account and an event.
    #[inline]
    fn good(&self, i: usize) -> bool {
        (self.good[i / 64] >> (i % 64)) & 1 == 1
    }

    /// Row `i` (a good one, whose user hashes to `user_hash`) as the store reads it.
    #[inline]
    fn row(&self, i: usize, user_hash: u64) -> Row<'a, ()> {
        Row {
            user: IdKey::Int(self.user.value(i)),
            user_hash,
            account: IdKey::Int(self.account.value(i)),
            event: (),
            day: self.day.value(i),
            value: self
                .value
                .validity()
                .is_none_or(|v| v.get_bit(i))
                .then(|| self.value.value(i)),
            raw: raw_hash(self.raw_ts.hash(i), self.raw_value.hash(i)),
        }
    }
}

/// How far ahead a shard prefetches the table slot of a user id.
const PREFETCH_ROWS: usize = 8;

/// The rows of a batch made into row records (about 100 bytes each) at a time: a Parquet
/// row group arrives as one batch of a million rows or more.
const RECORDS_AT_ONCE: usize = 1 << 16;

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
    /// a slice of the batch on its own thread), and the shards store theirs on two threads.
    pub(super) fn add(&mut self, batch: &DataFrame) -> PolarsResult<()> {
        let fallback = batch.column(super::plan::FALLBACK).is_ok();
        if !fallback {
            if let Some(columns) = IntegerBatch::of(batch)? {
                let [first, second] = &mut self.shards;
                let (good_first, good_second) = rayon::join(
                    || first.add_columns(&columns, 0),
                    || second.add_columns(&columns, 1),
                );
                self.bad_rows += (batch.height() - good_first - good_second) as u64;
                self.failure = first.failure.clone().or_else(|| second.failure.clone());
                return Ok(());
            }
        }
        let mut from = 0;
        while from < batch.height() && self.failure.is_none() {
            self.add_records(&batch.slice(from as i64, RECORDS_AT_ONCE))?;
            from += RECORDS_AT_ONCE;
        }
        Ok(())
    }

    /// Store part of a batch as row records.
    fn add_records(&mut self, batch: &DataFrame) -> PolarsResult<()> {
        let half = batch.height() / 2;
        let (early, late) = (batch.slice(0, half), batch.slice(half as i64, usize::MAX));
        let (early, late) = rayon::join(|| split_rows(&early), || split_rows(&late));
        let (mut early, late) = (early?, late?);
        if let Ok(fallback) = batch.column(super::plan::FALLBACK) {
            let bad = batch.column(super::plan::BAD)?.bool()?;
            early.fallback += fallback
                .bool()?
                .iter()
                .zip(bad.iter())
                .filter(|(used, bad)| *used == Some(true) && *bad != Some(true))
                .count() as u64;
        }
        self.store(&[early, late]);
        Ok(())
    }

    /// Store consecutive parts of the rows read, in order: each shard's rows on its own thread.
    pub(super) fn store(&mut self, parts: &[Rows]) {
        for part in parts {
            self.bad_rows += part.bad;
            self.fallback_rows += part.fallback;
        }
        let [first, second] = &mut self.shards;
        rayon::join(
            || parts.iter().for_each(|part| first.add(&part.shards[0], 0)),
            || parts.iter().for_each(|part| second.add(&part.shards[1], 1)),
        );
        self.failure = first.failure.clone().or_else(|| second.failure.clone());
    }

    /// One set of codes: the second shard's users, members, accounts and event names renumbered
    /// after the first's, its events appended; the distinct users and exact duplicate rows
    /// counted. The two shards' event names together may pass the limit each one kept.
    pub(super) fn merge(self) -> Result<Merged, Failure> {
        let [mut out, mut other] = self.shards;
        // Exact duplicates share a user, and so a shard: each shard's are counted on its own
        // thread, and the fingerprints freed before the events are merged.
        let (mine, theirs) = (
            std::mem::take(&mut out.fingerprints),
            std::mem::take(&mut other.fingerprints),
        );
        let (mine, theirs) = rayon::join(|| mine.duplicates(), || theirs.duplicates());
        // The fingerprints were freed a block at a time: back to the system before the merged
        // columns are allocated (else they add 8 bytes per event to the peak).
        crate::memory::release_freed();
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
        let event_starts = out
            .events
            .sort_by_event(other.events, &event_codes, members);
        out.first_day = out.first_day.min(other.first_day);
        out.last_day = out.last_day.max(other.last_day);
        Ok(Merged {
            shard: out,
            users: user_count,
            duplicate_rows: mine + theirs,
            event_starts,
        })
    }

    /// Make room for about `rows` more good rows (an estimate: the vectors grow past it).
    pub(super) fn reserve(&mut self, rows: usize) {
        for shard in &mut self.shards {
            let rows = rows / 2 + rows / 32;
            shard.events.day.reserve(rows);
            shard.events.member.reserve(rows);
            shard.events.event.reserve(rows);
            if shard.has_value {
                shard.events.value.reserve(rows);
            }
        }
    }
}

impl Events {
    /// These events and `other`'s (whose event codes are `codes[code]` here and members
    /// `members` more) as one set of columns in event-code order: the events of one code are
    /// together, so that a metric of one event reads only its events. The day and member
    /// columns are built on one thread, the value and event columns on the other, each freeing
    /// its sources as it goes. Returns where each code's events start.
    fn sort_by_event(&mut self, other: Events, codes: &[u16], members: u32) -> Vec<usize> {
        let names = codes
            .iter()
            .map(|&c| c as usize + 1)
            .chain(self.event.iter().map(|&c| c as usize + 1))
            .max()
            .unwrap_or(0);
        let mut starts = vec![0usize; names + 1];
        for &c in &self.event {
            starts[c as usize + 1] += 1;
        }
        for &c in &other.event {
            starts[codes[c as usize] as usize + 1] += 1;
        }
        for c in 0..names {
            starts[c + 1] += starts[c];
        }
        let Events {
            day,
            member,
            event: mine,
            value,
        } = std::mem::take(self);
        let Events {
            day: other_day,
            member: other_member,
            event: theirs,
            value: other_value,
        } = other;
        let both = (mine.as_slice(), theirs.as_slice());
        let at = starts.as_slice();
        let ((day, member), (value, event)) = rayon::join(
            || {
                let day = place(at, both, codes, (day, other_day), |d| d);
                let member = place(at, both, codes, (member, other_member), |m| m + members);
                (day, member)
            },
            || {
                let value = place(at, both, codes, (value, other_value), |v| v);
                let mut event = Vec::with_capacity(at[names]);
                for c in 0..names {
                    event.resize(at[c + 1], c as u16);
                }
                (value, event)
            },
        );
        *self = Events {
            day,
            member,
            event,
            value,
        };
        starts
    }
}

/// One column of two shards' events in event-code order: each value at the next place of its
/// code (the second shard's codes are `codes[code]`, its values `second_value(value)`).
fn place<T: Copy + Default>(
    starts: &[usize],
    (mine, theirs): (&[u16], &[u16]),
    codes: &[u16],
    (first, second): (Vec<T>, Vec<T>),
    second_value: impl Fn(T) -> T,
) -> Vec<T> {
    if first.is_empty() && second.is_empty() {
        return Vec::new();
    }
    let mut next = starts[..starts.len() - 1].to_vec();
    let mut out = vec![T::default(); starts[starts.len() - 1]];
    for (&value, &c) in first.iter().zip(mine) {
        let at = &mut next[c as usize];
        out[*at] = value;
        *at += 1;
    }
    drop(first);
    for (&value, &c) in second.iter().zip(theirs) {
        let at = &mut next[codes[c as usize] as usize];
        out[*at] = second_value(value);
        *at += 1;
    }
    out
}

/// The merged store: one shard's columns holding every event, with the number of distinct
/// users and of rows that repeat an earlier row exactly.
pub(super) struct Merged {
    pub(super) shard: Shard,
    pub(super) users: usize,
    pub(super) duplicate_rows: u64,
    /// Where each event code's events start (and, last, their number).
    pub(super) event_starts: Vec<usize>,
}

/// Row fingerprints kept in 256 parts by their top byte (equal ones in one part), each part
/// in blocks: counting the duplicates then reads one part at a time, into a table small
/// enough to stay in cache, and the blocks grow the memory by a block at a time, not by
/// doubling.
pub(super) struct Fingerprints {
    /// Each part's filled blocks and the block it is filling.
    parts: Vec<(Vec<Vec<u64>>, Vec<u64>)>,
}

/// Fingerprints per block (32 KiB).
const BLOCK: usize = 4096;

impl Default for Fingerprints {
    fn default() -> Self {
        Fingerprints {
            parts: (0..256).map(|_| (Vec::new(), Vec::new())).collect(),
        }
    }
}

impl Fingerprints {
    /// Inlined into the store's loop (a call cost a fifth of what a push costs).
    #[inline(always)]
    fn push(&mut self, fingerprint: u64) {
        let (full, filling) = &mut self.parts[(fingerprint >> 56) as usize];
        if filling.len() == filling.capacity() {
            Self::next_block(full, filling);
        }
        filling.push(fingerprint);
    }

    /// A new block to fill, the full one kept.
    #[cold]
    #[inline(never)]
    fn next_block(full: &mut Vec<Vec<u64>>, filling: &mut Vec<u64>) {
        let block = std::mem::replace(filling, Vec::with_capacity(BLOCK));
        if !block.is_empty() {
            full.push(block);
        }
    }

    /// The number of fingerprints equal to one seen before them (their number less the
    /// distinct ones), one part at a time in a table that stays in cache, freeing the blocks
    /// as it goes.
    fn duplicates(self) -> u64 {
        let mut table = Vec::new();
        let mut repeated = 0;
        for (full, filling) in self.parts {
            let len = full.iter().map(Vec::len).sum::<usize>() + filling.len();
            // At most half full; 0 marks an empty slot (a fingerprint 0 is counted apart).
            let slots = (2 * len).next_power_of_two().max(16);
            table.clear();
            table.resize(slots, 0u64);
            let mask = slots - 1;
            let mut zeros = 0u64;
            for block in full.into_iter().chain([filling]) {
                for &x in &block {
                    if x == 0 {
                        zeros += 1;
                        continue;
                    }
                    // The low bits: the top byte is the part's.
                    let mut i = x as usize & mask;
                    loop {
                        let slot = table[i];
                        if slot == 0 {
                            table[i] = x;
                            break;
                        }
                        if slot == x {
                            repeated += 1;
                            break;
                        }
                        i = (i + 1) & mask;
                    }
                }
            }
            repeated += zeros.saturating_sub(1);
        }
        repeated
    }
}

/// The event codes of the text views of one batch's event column seen so far: a view (the
/// whole text when short, else its length, head and place in the batch's buffers) stands for
/// one text, so a row whose view is here needs no lookup of its text. A small open-addressing
/// table, at most half full: two views that share a slot both stay.
struct ViewCodes {
    views: [u128; VIEW_SLOTS],
    codes: [u32; VIEW_SLOTS],
    used: usize,
}

const VIEW_SLOTS: usize = 64;

impl Default for ViewCodes {
    fn default() -> Self {
        ViewCodes {
            views: [0; VIEW_SLOTS],
            codes: [u32::MAX; VIEW_SLOTS],
            used: 0,
        }
    }
}

impl ViewCodes {
    /// The code of the text whose view is `key`: kept here, or looked up in `names` by its
    /// text (`text()`, read only then) and kept, the table emptied first when half full. The
    /// text is the error past the limit of names.
    #[inline]
    fn code<'t>(
        &mut self,
        key: u128,
        text: impl FnOnce() -> &'t str,
        names: &mut Names,
    ) -> Result<u32, &'t str> {
        let home = |key: u128| {
            let folded = (key as u64) ^ ((key >> 64) as u64);
            (folded.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 58) as usize
        };
        let mut slot = home(key);
        while self.codes[slot] != u32::MAX {
            if self.views[slot] == key {
                return Ok(self.codes[slot]);
            }
            slot = (slot + 1) % VIEW_SLOTS;
        }
        let name = text();
        let code = names.code(name, MAX_EVENT_NAMES).ok_or(name)?;
        if self.used == VIEW_SLOTS / 2 {
            *self = ViewCodes::default();
            slot = home(key);
        }
        self.views[slot] = key;
        self.codes[slot] = code;
        self.used += 1;
        Ok(code)
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
            fingerprints: Fingerprints::default(),
            first_day: i32::MAX,
            last_day: i32::MIN,
            has_value,
            failure: None,
            batch_rows: (Vec::new(), Vec::new()),
        }
    }

    /// Store the rows of this shard's users.
    fn add(&mut self, rows: &[Row], shard: u64) {
        for (i, row) in rows.iter().enumerate() {
            if let Some(ahead) = rows.get(i + PREFETCH_ROWS) {
                self.ids.users.prefetch(ahead.user_hash);
            }
            let event = |names: &mut Names| names.code(row.event, MAX_EVENT_NAMES).ok_or(row.event);
            if !self.store_one(row, shard, event) {
                break;
            }
        }
    }

    /// Store the good rows of a batch of integer ids that are this shard's; returns their
    /// number (the rows of neither shard are the bad ones).
    fn add_columns(&mut self, batch: &IntegerBatch, shard: u64) -> usize {
        // This shard's good rows and their user hashes: both lists are written at every row,
        // and move on at this shard's good ones (no branch on a hash, right half the time).
        // Only their first `mine` entries are read: the room is grown, never cleared.
        let n = batch.user.len();
        let (mut rows, mut hashes) = std::mem::take(&mut self.batch_rows);
        if rows.len() < n {
            rows.resize(n, 0);
            hashes.resize(n, 0);
        }
        let mut mine = 0;
        for i in 0..n {
            let hash = IdKey::Int(batch.user.value(i)).hash();
            rows[mine] = i as u32;
            hashes[mine] = hash;
            mine += usize::from(batch.good(i) && (hash >> 32) & 1 == shard);
        }
        let mut codes = ViewCodes::default();
        let views = batch.event.views();
        for k in 0..mine {
            if let Some(&later) = hashes[..mine].get(k + 2 * PREFETCH_ROWS) {
                self.ids.users.prefetch(later);
            }
            let i = rows[k] as usize;
            let row = batch.row(i, hashes[k]);
            let view = views[i].as_u128();
            let event = |names: &mut Names| codes.code(view, || batch.event.value(i), names);
            if !self.store_one(&row, shard, event) {
                break;
            }
        }
        self.batch_rows = (rows, hashes);
        mine
    }

    /// Store one good row; false (and the failure kept) past a limit of codes.
    /// `event_code` gives the code of the row's event, or its text past the limit of names.
    #[inline]
    fn store_one<'t, E>(
        &mut self,
        row: &Row<E>,
        shard: u64,
        event_code: impl FnOnce(&mut Names) -> Result<u32, &'t str>,
    ) -> bool {
        let Some(member) = self.ids.member(row.user, row.user_hash, row.account) else {
            self.failure = Some(Failure::Ids(row.user.to_string()));
            return false;
        };
        let event = match event_code(&mut self.event_names) {
            Ok(event) => event,
            Err(name) => {
                self.failure = Some(Failure::EventNames(name.to_string()));
                return false;
            }
        };
        self.first_day = self.first_day.min(row.day);
        self.last_day = self.last_day.max(row.day);
        self.events.day.push(row.day);
        self.events.member.push(member);
        self.events.event.push(event as u16);
        if self.has_value {
            self.events.value.push(
                row.value
                    .map_or(NO_VALUE, |v| floor_i64(v * VALUE_SCALE + 0.5)),
            );
        }
        // Codes are the shard's own: the shard is part of the fingerprint.
        self.fingerprints
            .push(fingerprint_hasher().hash_one((row.raw, shard, member, event)));
        true
    }
}

/// Kept with each user: the member it was last seen as and that account's key (length and
/// head, as a table slot keeps them), to skip the account and pair lookups while a user stays
/// in one account (the usual case).
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
    /// The member code of a user in an account; `None` past `FULL` distinct ids. Inlined
    /// into each caller, so that where the ids are known to be integers the matches on the
    /// kind of key fold away.
    #[inline(always)]
    fn member(&mut self, user: IdKey, user_hash: u64, account: IdKey) -> Option<u32> {
        let limit = FULL as usize;
        let (user, last) = self.users.code_and_payload(user, user_hash, limit)?;
        let (len, first) = account.len_and_head();
        if last.member != u32::MAX
            && last.len == len
            && last.head == first
            && match account {
                IdKey::Int(_) => true,
                IdKey::Text(text) => {
                    text.len() <= HEAD_BYTES
                        || self
                            .accounts
                            .get(self.members[last.member as usize].account)
                            == text
                }
            }
        {
            return Some(last.member);
        }
        let (account_code, _) = self
            .accounts
            .code_and_payload(account, account.hash(), limit)?;
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
            len,
            head: first,
        };
        Some(member)
    }
}

/// `x.floor() as i64`, without a call to the C library's `floor` (which the baseline x86-64
/// target makes of `f64::floor`): truncate, and step down where that rounded up. The same
/// for every `x`: NaN gives 0, and values past the range of `i64` saturate as the cast does.
#[inline]
fn floor_i64(x: f64) -> i64 {
    let truncated = x as i64;
    if (truncated as f64) > x {
        truncated.saturating_sub(1)
    } else {
        truncated
    }
}

/// The hasher of row fingerprints: a fixed seed and full mixing, as two different rows share a
/// fingerprint with a chance of about 2^-64 per pair (on the order of 1e-4 for 50M rows).
fn fingerprint_hasher() -> foldhash::quality::FixedState {
    foldhash::quality::FixedState::with_seed(0x6475_706c_6963_6174)
}

/// A hash of each row's raw value in `column` (text as read, or the typed value).
fn raw_hashes(column: &Column) -> PolarsResult<Vec<u64>> {
    Ok(match column.dtype() {
        DataType::String => column.str()?.iter().map(raw_text_hash).collect(),
        DataType::Null => vec![NULL_CELL; column.len()],
        t if t.is_float() => column
            .cast(&DataType::Float64)?
            .f64()?
            .iter()
            .map(raw_float_hash)
            .collect(),
        _ => column
            .to_physical_repr()
            .cast(&DataType::Int64)?
            .i64()?
            .iter()
            .map(raw_int_hash)
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The count by sorting the whole, as [`Fingerprints::duplicates`] must give.
    fn sorted_count(mut v: Vec<u64>) -> u64 {
        v.sort_unstable();
        v.windows(2).filter(|w| w[0] == w[1]).count() as u64
    }

    fn duplicates(v: Vec<u64>) -> u64 {
        let mut fingerprints = Fingerprints::default();
        for x in v {
            fingerprints.push(x);
        }
        fingerprints.duplicates()
    }

    #[test]
    fn duplicates_are_counted_as_a_full_sort_counts_them() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let state = fingerprint_hasher();
        for (n, distinct) in [(0, 1), (1, 1), (600, 1), (5_000, 4_000), (300_000, 200_000)] {
            // Hashes of `distinct` keys, some drawn more than once.
            let v: Vec<u64> = (0..n)
                .map(|_| state.hash_one(rng.random_range(0..distinct)))
                .collect();
            let expected = sorted_count(v.clone());
            assert_eq!(duplicates(v), expected, "{n} fingerprints of {distinct}");
        }
        // Fingerprints that share their top bytes (and so one part, level after level), some
        // exactly equal many times over.
        let mut v: Vec<u64> = (0..100_000u64)
            .map(|i| (0xabcd << 48) | (i % 70_000))
            .collect();
        v.extend(std::iter::repeat_n(u64::MAX, 3_000));
        v.extend(std::iter::repeat_n(0, 2_000));
        // 256 values in the top byte alone, 19 or 20 times each; the 20 zeros join the 2,000.
        v.extend((0..5_000u64).map(|i| (i % 256) << 56));
        let expected = sorted_count(v.clone());
        assert_eq!(
            expected,
            30_000 + 2_999 + (2_020 - 1) + (135 * 19 + 120 * 18)
        );
        assert_eq!(duplicates(v), expected);
    }

    /// A batch as the scan gives it, integer ids, `n` rows from `seed`: bad rows, empty values,
    /// event names short and long (texts of 13+ bytes are not held in their views), exact
    /// duplicate rows and rows that differ from another only in their value or time, users in
    /// more than one account. `more_names` event names besides the first four; `missing`:
    /// some rows without a user, an account or a day.
    fn integer_batch(n: usize, seed: u64, more_names: usize, missing: bool) -> DataFrame {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let mut names: Vec<String> = [
            "a",
            "page_viewed",
            "a_rather_long_event_name",
            "meeting_booked_x",
        ]
        .map(String::from)
        .into();
        names.extend((0..more_names).map(|k| {
            if k % 2 == 0 {
                format!("e{k}")
            } else {
                format!("an_event_of_the_catalog_{k}")
            }
        }));
        // Raw time, user, account, event, value, and whether the row is bad.
        type Raw = (i64, i64, i64, Option<String>, Option<f64>, bool);
        let mut rows: Vec<Raw> = Vec::new();
        for _ in 0..n {
            if !rows.is_empty() && rng.random_bool(0.08) {
                let mut again = rows[rng.random_range(0..rows.len())].clone();
                // Some repeat a row but for its value or its time: not duplicates.
                match rng.random_range(0..4) {
                    0 => again.4 = Some(again.4.unwrap_or(0.0) + 0.5),
                    1 => again.0 += 1,
                    _ => {}
                }
                rows.push(again);
                continue;
            }
            let user = rng.random_range(0..500i64);
            let account = if rng.random_bool(0.1) {
                user % 7
            } else {
                user / 10
            };
            let event =
                (!rng.random_bool(0.02)).then(|| names[rng.random_range(0..names.len())].clone());
            let value = rng
                .random_bool(0.5)
                .then(|| rng.random_range(0..1000) as f64 / 8.0);
            let ts = rng.random_range(0..90 * 86_400_000i64);
            rows.push((ts, user, account, event, value, rng.random_bool(0.03)));
        }
        // Which of user, account and day each row lacks (none without `missing`).
        let lacks: Vec<[bool; 3]> = rows
            .iter()
            .map(|_| [0; 3].map(|_| missing && rng.random_bool(0.01)))
            .collect();
        let unless = |lack: bool, v: i64| (!lack).then_some(v);
        df![
            RAW_TS => rows.iter().map(|r| r.0).collect::<Vec<_>>(),
            c::USER => rows.iter().zip(&lacks).map(|(r, l)| unless(l[0], r.1)).collect::<Vec<_>>(),
            c::ACCOUNT => rows.iter().zip(&lacks).map(|(r, l)| unless(l[1], r.2)).collect::<Vec<_>>(),
            c::EVENT => rows.iter().map(|r| r.3.clone()).collect::<Vec<_>>(),
            RAW_VALUE => rows.iter().map(|r| r.4).collect::<Vec<_>>(),
            DAY => rows
                .iter()
                .zip(&lacks)
                .map(|(r, l)| unless(l[2], r.0 / 86_400_000).map(|d| d as i32))
                .collect::<Vec<_>>(),
            PARSED_VALUE => rows.iter().map(|r| r.4).collect::<Vec<_>>(),
            BAD => rows.iter().map(|r| r.5).collect::<Vec<_>>(),
        ]
        .unwrap()
    }

    /// The same rows with text ids, which take the row-record path.
    fn with_text_ids(batch: &DataFrame) -> DataFrame {
        let mut batch = batch.clone();
        for name in [c::USER, c::ACCOUNT] {
            let text = batch.column(name).unwrap().cast(&DataType::String).unwrap();
            batch.with_column(text).unwrap();
        }
        batch
    }

    /// Everything the store keeps of the batches, merged: the event columns, members, account
    /// and event names, and the counts (users, duplicate rows, event starts, bad rows).
    #[allow(clippy::type_complexity)]
    fn stored(
        batches: &[DataFrame],
    ) -> (
        (Vec<i32>, Vec<u32>, Vec<u16>, Vec<i64>),
        Vec<Member>,
        Vec<String>,
        Vec<String>,
        (usize, u64, Vec<usize>, u64),
    ) {
        let mut loader = Loader::new(true);
        for batch in batches {
            loader.add(batch).unwrap();
        }
        let bad = loader.bad_rows;
        let merged = loader.merge().unwrap();
        let shard = merged.shard;
        let events = shard.events;
        (
            (events.day, events.member, events.event, events.value),
            shard.ids.members,
            shard
                .ids
                .accounts
                .iter()
                .map(String::from)
                .collect::<Vec<_>>(),
            shard
                .event_names
                .iter()
                .map(String::from)
                .collect::<Vec<_>>(),
            (
                merged.users,
                merged.duplicate_rows,
                merged.event_starts,
                bad,
            ),
        )
    }

    #[test]
    fn integer_columns_are_stored_as_the_same_rows_read_as_records() {
        let batches: Vec<DataFrame> = (0..3)
            .map(|seed| integer_batch(4_000, seed, 0, false))
            .collect();
        let as_text: Vec<DataFrame> = batches.iter().map(with_text_ids).collect();
        assert!(IntegerBatch::of(&batches[0]).unwrap().is_some());
        assert!(IntegerBatch::of(&as_text[0]).unwrap().is_none());
        let (columns, records) = (stored(&batches), stored(&as_text));
        assert_eq!(columns, records);
        // There was something to tell apart: bad rows, duplicates, every event name, users in
        // two accounts.
        let (users, duplicates, _, bad) = columns.4;
        assert!(
            bad > 100 && duplicates > 100,
            "{bad} bad, {duplicates} duplicates"
        );
        assert_eq!(columns.3.len(), 4);
        assert!(columns.1.len() > users && users == 500, "{users} users");
    }

    #[test]
    fn integer_batches_missing_ids_with_many_event_names_and_offsets_are_stored_as_records() {
        // Rows without a user, an account or a day (bad rows found by their validity bits);
        // 100 event names, more than a batch's table of views holds at once (it is emptied
        // and filled again); batches that start part-way through their columns' bitmaps.
        let batches: Vec<DataFrame> = (0..3)
            .map(|seed| {
                let batch = integer_batch(3_000, 10 + seed, 96, true);
                batch.slice(37 + seed as i64, 2_900)
            })
            .collect();
        let as_text: Vec<DataFrame> = batches.iter().map(with_text_ids).collect();
        assert!(IntegerBatch::of(&batches[0]).unwrap().is_some());
        let (columns, records) = (stored(&batches), stored(&as_text));
        assert_eq!(columns, records);
        let missing = |name: &str| -> usize {
            batches
                .iter()
                .map(|b| b.column(name).unwrap().null_count())
                .sum()
        };
        assert!(missing(c::USER) > 20 && missing(c::ACCOUNT) > 20 && missing(DAY) > 20);
        assert_eq!(columns.3.len(), 100);
    }

    #[test]
    fn an_integer_batch_past_the_limit_of_event_names_fails_at_the_first_name_past_it() {
        let n = MAX_EVENT_NAMES + 1;
        let batch = df![
            RAW_TS => vec![0i64; n],
            c::USER => vec![1i64; n],
            c::ACCOUNT => vec![1i64; n],
            c::EVENT => (0..n).map(|i| format!("clicked link {i}")).collect::<Vec<_>>(),
            RAW_VALUE => vec![None::<f64>; n],
            DAY => vec![0i32; n],
            PARSED_VALUE => vec![None::<f64>; n],
            BAD => vec![false; n],
        ]
        .unwrap();
        assert!(IntegerBatch::of(&batch).unwrap().is_some());
        let mut loader = Loader::new(false);
        loader.add(&batch).unwrap();
        match loader.failure {
            Some(Failure::EventNames(name)) => assert_eq!(name, "clicked link 65536"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_user_in_two_accounts_is_two_members() {
        let mut ids = Ids {
            users: Names::default(),
            accounts: Names::default(),
            members: Vec::new(),
            member_codes: hashbrown::HashMap::with_hasher(hasher()),
        };
        let mut member = |user: &str, account: &str| {
            let (user, account) = (IdKey::of(user), IdKey::of(account));
            ids.member(user, user.hash(), account).unwrap()
        };
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
        // An integer account: the one its text names.
        assert_eq!(member("u2", "12"), 4);
        assert_eq!(member("7", "12"), 5);
        // Integer keys (an integer column) are the ids their texts name.
        let (seven, twelve) = (IdKey::Int(7), IdKey::Int(12));
        assert_eq!(ids.member(seven, seven.hash(), twelve), Some(5));
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
                Member {
                    user: 1,
                    account: 3
                },
                Member {
                    user: 2,
                    account: 3
                },
            ]
        );
    }

    #[test]
    fn floor_i64_is_floor_then_cast() {
        let mut cases = vec![
            0.0,
            -0.0,
            0.5,
            -0.5,
            1.0,
            -1.0,
            2.5,
            -2.5,
            4_503_599_627_370_495.5,
            -4_503_599_627_370_495.5,
            9.3e18,
            -9.3e18,
            9_223_372_036_854_775_807.0,
            -9_223_372_036_854_775_808.0,
            f64::MAX,
            f64::MIN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NAN,
            f64::MIN_POSITIVE,
            -f64::MIN_POSITIVE,
        ];
        // Scaled amounts up to ±1e11 with fractional parts, and arbitrary bit patterns.
        let mut x = 0x2545_f491_4f6c_dd1d_u64;
        for _ in 0..100_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let v = (x >> 11) as f64 / (1u64 << 53) as f64 - 0.5;
            cases.push(v * 2e7 * 1e4 + 0.5);
            cases.push(f64::from_bits(x));
        }
        for v in cases {
            assert_eq!(floor_i64(v), v.floor() as i64, "{v:e}");
        }
    }
}
