//! The events in memory as compact integer columns: every id text is stored once, and each
//! event is a day, a member (a user within an account), an event code and a value, about 18
//! bytes whatever the length of the ids. Every candidate series, the automatic catalog's
//! statistics and the activity-based churn panel are computed from these columns in Rust.

use std::collections::{BTreeMap, BTreeSet};
use std::hash::BuildHasher;

use foldhash::fast::FixedState;
use hashbrown::{HashMap, HashSet};

use super::bad_row::BadRow;
use crate::period::{self, PeriodKind};

/// Value sums are kept in integer millionths so that they do not depend on summation order
/// (and so on thread scheduling): same input, same bytes.
pub(crate) const VALUE_SCALE: f64 = 1e6;

/// Marks an event without a value in [`Events::value`].
pub(crate) const NO_VALUE: i64 = i64::MIN;

/// A fixed hasher: the same input gives the same codes and fingerprints on every run.
pub(crate) fn hasher() -> FixedState {
    FixedState::with_seed(0x6e73_6d5f_6964_7321)
}

/// An id as the tables key it: an integer when its text is one as an integer prints (`7`,
/// `-12`; not `007`, `+7` or `-0`), else its text. Integer columns (Parquet) give integers
/// directly, so an id is the same id whether a file holds it as text or as a number, and
/// integer ids are hashed and compared without their text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum IdKey<'a> {
    Int(i64),
    Text(&'a str),
}

/// The `len` of a table slot holding an integer key (`head` holds the integer).
const INT_KEY: u32 = u32::MAX;

impl<'a> IdKey<'a> {
    /// The key of an id's text.
    #[inline]
    pub(crate) fn of(text: &'a str) -> IdKey<'a> {
        canonical_integer(text).map_or(IdKey::Text(text), IdKey::Int)
    }

    /// Its [`hasher`] hash.
    #[inline]
    pub(crate) fn hash(self) -> u64 {
        match self {
            IdKey::Int(v) => hasher().hash_one(v),
            IdKey::Text(text) => hasher().hash_one(text),
        }
    }

    /// What a table slot keeps of it: its length (or [`INT_KEY`]) and first 8 bytes (or value).
    #[inline]
    pub(crate) fn len_and_head(self) -> (u32, u64) {
        match self {
            IdKey::Int(v) => (INT_KEY, v as u64),
            IdKey::Text(text) => (text.len() as u32, head(text)),
        }
    }
}

impl std::fmt::Display for IdKey<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            IdKey::Int(v) => write!(f, "{v}"),
            IdKey::Text(text) => f.write_str(text),
        }
    }
}

/// The integer a text prints, when it is exactly how that integer prints.
#[inline]
fn canonical_integer(text: &str) -> Option<i64> {
    let bytes = text.as_bytes();
    let (negative, digits) = match bytes.split_first()? {
        (b'-', rest) => (true, rest),
        _ => (false, bytes),
    };
    let (&first, _) = digits.split_first()?;
    if !first.is_ascii_digit() || (first == b'0' && (digits.len() > 1 || negative)) {
        return None;
    }
    if digits.len() > 19 {
        return None;
    }
    let mut magnitude: u64 = 0;
    for &d in digits {
        if !d.is_ascii_digit() {
            return None;
        }
        magnitude = magnitude
            .checked_mul(10)?
            .checked_add(u64::from(d - b'0'))?;
    }
    if negative {
        0i64.checked_sub_unsigned(magnitude)
    } else {
        i64::try_from(magnitude).ok()
    }
}

/// Distinct ids, each one's text stored once in one buffer and known by its code (the order
/// seen), with an optional payload `P` kept next to each table entry. Keyed by [`IdKey`].
///
/// The table is open addressing with linear probing, at most half full, so that a caller can
/// prefetch the slot of a lookup it will make soon ([`Names::prefetch`]): with ids drawn at
/// random from hundreds of thousands, each lookup otherwise waits for memory.
pub(crate) struct Names<P = ()> {
    text: String,
    ends: Vec<usize>,
    slots: Vec<Slot<P>>,
}

impl<P> Default for Names<P> {
    fn default() -> Self {
        Names {
            text: String::new(),
            ends: Vec::new(),
            slots: Vec::new(),
        }
    }
}

/// A table entry: the code (`EMPTY` for none) and enough of the key to compare most lookups
/// without reading the buffer (its length and first 8 bytes: a text of up to 8 bytes, or an
/// integer, whole). Aligned to 32 bytes, so that with the users' payload (16 bytes) an entry
/// never spans two cache lines: a lookup of a user waits for memory once.
#[derive(Clone, Copy)]
#[repr(align(32))]
struct Slot<P> {
    code: u32,
    len: u32,
    head: u64,
    payload: P,
}

const EMPTY: u32 = u32::MAX;

pub(crate) const HEAD_BYTES: usize = 8;

/// The first 8 bytes of a text, zero-padded: with the length, the whole of a short id.
#[inline]
pub(crate) fn head(name: &str) -> u64 {
    let bytes = name.as_bytes();
    if bytes.len() >= HEAD_BYTES {
        u64::from_le_bytes(bytes[..HEAD_BYTES].try_into().expect("8 bytes"))
    } else {
        let mut buf = [0u8; HEAD_BYTES];
        buf[..bytes.len()].copy_from_slice(bytes);
        u64::from_le_bytes(buf)
    }
}

/// The text of `code` in a buffer of texts ending at `ends`.
fn text_of<'a>(text: &'a str, ends: &[usize], code: u32) -> &'a str {
    let i = code as usize;
    let start = if i == 0 { 0 } else { ends[i - 1] };
    &text[start..ends[i]]
}

/// The slot a hash starts probing at (its low bits).
#[inline]
fn home(hash: u64, slots: usize) -> usize {
    hash as usize & (slots - 1)
}

impl<P: Default + Copy> Names<P> {
    pub(crate) fn len(&self) -> usize {
        self.ends.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    pub(crate) fn get(&self, code: u32) -> &str {
        text_of(&self.text, &self.ends, code)
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = &str> + '_ {
        (0..self.len() as u32).map(|c| self.get(c))
    }

    /// Ask the processor to bring the first slot `hash` probes into cache.
    #[inline]
    pub(crate) fn prefetch(&self, hash: u64) {
        if self.slots.is_empty() {
            return;
        }
        let slot = &self.slots[home(hash, self.slots.len())];
        #[cfg(target_arch = "x86_64")]
        // SAFETY: prefetching is a hint; the address is that of a live slot.
        unsafe {
            use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
            _mm_prefetch::<_MM_HINT_T0>((slot as *const Slot<P>).cast());
        }
        #[cfg(not(target_arch = "x86_64"))]
        let _ = slot;
    }

    /// The code of `name`, adding it when new; `None` past `limit` distinct names.
    #[inline]
    pub(crate) fn code(&mut self, name: &str, limit: usize) -> Option<u32> {
        let key = IdKey::of(name);
        self.code_and_payload(key, key.hash(), limit)
            .map(|(code, _)| code)
    }

    /// The code of `key` (whose [`IdKey::hash`] is `hash`) and its payload (the default for a
    /// new id). Inlined into each caller, so that where the key is known to be an integer the
    /// matches on its kind fold away.
    #[inline(always)]
    pub(crate) fn code_and_payload(
        &mut self,
        key: IdKey,
        hash: u64,
        limit: usize,
    ) -> Option<(u32, &mut P)> {
        if self.ends.len() * 2 >= self.slots.len() {
            self.grow();
        }
        let (len, first) = key.len_and_head();
        let mask = self.slots.len() - 1;
        let mut i = home(hash, self.slots.len());
        loop {
            let slot = &self.slots[i];
            if slot.code == EMPTY {
                break;
            }
            if slot.len == len
                && slot.head == first
                && match key {
                    IdKey::Int(_) => true,
                    IdKey::Text(name) => {
                        name.len() <= HEAD_BYTES
                            || text_of(&self.text, &self.ends, slot.code) == name
                    }
                }
            {
                let slot = &mut self.slots[i];
                return Some((slot.code, &mut slot.payload));
            }
            i = (i + 1) & mask;
        }
        let code = self.ends.len();
        if code >= limit || code >= EMPTY as usize {
            return None;
        }
        match key {
            IdKey::Int(v) => self.text.push_str(itoa::Buffer::new().format(v)),
            IdKey::Text(name) if name.len() < INT_KEY as usize => self.text.push_str(name),
            IdKey::Text(_) => return None,
        }
        self.ends.push(self.text.len());
        self.slots[i] = Slot {
            code: code as u32,
            len,
            head: first,
            payload: P::default(),
        };
        let slot = &mut self.slots[i];
        Some((slot.code, &mut slot.payload))
    }

    /// Double the table (16 slots at first), placing every entry again.
    fn grow(&mut self) {
        let size = (self.slots.len() * 2).max(16);
        let empty = Slot {
            code: EMPTY,
            len: 0,
            head: 0,
            payload: P::default(),
        };
        let old = std::mem::replace(&mut self.slots, vec![empty; size]);
        for slot in old.into_iter().filter(|s| s.code != EMPTY) {
            let key = if slot.len == INT_KEY {
                IdKey::Int(slot.head as i64)
            } else {
                IdKey::Text(text_of(&self.text, &self.ends, slot.code))
            };
            let hash = key.hash();
            let mut i = home(hash, size);
            while self.slots[i].code != EMPTY {
                i = (i + 1) & (size - 1);
            }
            self.slots[i] = slot;
        }
    }

    /// Each code's rank in the byte order of the texts.
    pub(crate) fn ranks(&self) -> Vec<u32> {
        let mut order: Vec<u32> = (0..self.len() as u32).collect();
        order.sort_unstable_by(|a, b| self.get(*a).cmp(self.get(*b)));
        let mut ranks = vec![0; self.len()];
        for (rank, code) in order.into_iter().enumerate() {
            ranks[code as usize] = rank as u32;
        }
        ranks
    }
}

impl FromIterator<String> for Names {
    fn from_iter<I: IntoIterator<Item = String>>(iter: I) -> Self {
        let mut names = Names::default();
        for name in iter {
            names.code(&name, usize::MAX);
        }
        names
    }
}

/// One row per event, in the order read.
#[derive(Default)]
pub(crate) struct Events {
    /// Days since 1970-01-01 (UTC).
    pub(crate) day: Vec<i32>,
    /// Index into [`Activity::members`].
    pub(crate) member: Vec<u32>,
    /// Code in [`Activity::event_names`].
    pub(crate) event: Vec<u16>,
    /// Value in whole millionths, [`NO_VALUE`] when empty; empty when no file has values.
    pub(crate) value: Vec<i64>,
}

impl Events {
    pub(crate) fn len(&self) -> usize {
        self.day.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.day.is_empty()
    }

    pub(crate) fn value(&self, i: usize) -> Option<i64> {
        self.value.get(i).copied().filter(|v| *v != NO_VALUE)
    }
}

/// A user within an account: most users have one; a user seen in two accounts is two members.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Member {
    pub(crate) user: u32,
    pub(crate) account: u32,
}

/// Every event read, with the ids they name.
pub struct Activity {
    /// Every event, in event-code order (the order read within a code).
    pub(crate) events: Events,
    /// Where each event code's events start in `events`, and, last, their number.
    pub(crate) event_starts: Vec<usize>,
    /// Distinct users.
    pub(crate) users: usize,
    pub(crate) accounts: Names,
    pub(crate) event_names: Names,
    pub(crate) members: Vec<Member>,
    pub(crate) events_rows: u64,
    pub(crate) first_day: i32,
    pub(crate) last_day: i32,
    pub(crate) has_account: bool,
    pub(crate) skipped_rows: u64,
    pub(crate) skipped_examples: Vec<BadRow>,
    /// Rows identical to an earlier row in every column read; kept and counted.
    pub(crate) duplicate_rows: u64,
    /// Rows whose user id came from a fallback column of `[events] user_id`.
    pub(crate) user_fallback_rows: u64,
    /// What reading the source did that the results should say (vendor exports: dropped
    /// duplicates and bookkeeping events, anonymous users).
    pub(crate) source_notes: Vec<String>,
}

/// Per-day lookups of the week and the period, over the days of the events.
pub(crate) struct Calendar {
    first_day: i32,
    week: Vec<i32>,
    month: Vec<i32>,
}

impl Calendar {
    pub(crate) fn new(first_day: i32, last_day: i32) -> Calendar {
        let days = first_day..=last_day.max(first_day);
        Calendar {
            first_day,
            week: days.clone().map(period::week_of_day).collect(),
            month: days.map(period::month_of_day).collect(),
        }
    }

    pub(crate) fn week(&self, day: i32) -> i32 {
        self.week[(day - self.first_day) as usize]
    }

    pub(crate) fn period(&self, kind: PeriodKind, day: i32) -> i32 {
        let i = (day - self.first_day) as usize;
        match kind {
            PeriodKind::Month => self.month[i],
            PeriodKind::Week => self.week[i],
        }
    }
}

impl Activity {
    /// No events, only the accounts named by pre-aggregated per-account parts.
    pub(crate) fn accounts_only(
        accounts: Names,
        events_rows: u64,
        first_day: i32,
        last_day: i32,
    ) -> Self {
        Activity {
            events: Events::default(),
            event_starts: vec![0],
            users: 0,
            accounts,
            event_names: Names::default(),
            members: Vec::new(),
            events_rows,
            first_day,
            last_day,
            has_account: true,
            skipped_rows: 0,
            skipped_examples: Vec::new(),
            duplicate_rows: 0,
            user_fallback_rows: 0,
            source_notes: Vec::new(),
        }
    }

    /// The events of event code `code`.
    pub(crate) fn events_of(&self, code: u32) -> std::ops::Range<usize> {
        let code = code as usize;
        match (self.event_starts.get(code), self.event_starts.get(code + 1)) {
            (Some(&start), Some(&end)) => start..end,
            _ => 0..0,
        }
    }

    /// The events of the codes `selected` says, as few ranges as they make.
    pub(crate) fn events_where(&self, selected: &[bool]) -> Vec<std::ops::Range<usize>> {
        let mut ranges: Vec<std::ops::Range<usize>> = Vec::new();
        for (code, _) in selected.iter().enumerate().filter(|(_, s)| **s) {
            let range = self.events_of(code as u32);
            match ranges.last_mut() {
                Some(last) if last.end == range.start => last.end = range.end,
                _ => ranges.push(range),
            }
        }
        ranges
    }

    pub(crate) fn calendar(&self) -> Calendar {
        Calendar::new(self.first_day, self.last_day)
    }

    /// Per event code: the number of events and whether any carries a non-zero value.
    pub(crate) fn event_totals(&self) -> Vec<(u64, bool)> {
        let mut out = vec![(0u64, false); self.event_names.len()];
        for (i, code) in self.events.event.iter().enumerate() {
            let slot = &mut out[*code as usize];
            slot.0 += 1;
            slot.1 |= self.events.value(i).is_some_and(|v| v != 0);
        }
        out
    }

    /// For each (window, user or account) with any `event` event: the number of them, or with
    /// `of_value` the sum of their values (whole millionths). Windows are ISO weeks, or the
    /// periods of `period` when given.
    pub(crate) fn window_totals(
        &self,
        event: u32,
        by_account: bool,
        period: Option<PeriodKind>,
        of_value: bool,
    ) -> Vec<i64> {
        let calendar = self.calendar();
        let mut totals: HashMap<(i32, u32), i64, FixedState> = HashMap::with_hasher(hasher());
        for i in self.events_of(event) {
            let member = self.members[self.events.member[i] as usize];
            let entity = if by_account {
                member.account
            } else {
                member.user
            };
            let day = self.events.day[i];
            let window = match period {
                Some(kind) => calendar.period(kind, day),
                None => calendar.week(day),
            };
            let add = if of_value {
                self.events.value(i).unwrap_or(0)
            } else {
                1
            };
            *totals.entry((window, entity)).or_default() += add;
        }
        totals.into_values().collect()
    }

    /// For each account, the periods in which it has any event.
    pub(crate) fn active_periods(&self, kind: PeriodKind) -> BTreeMap<String, BTreeSet<i32>> {
        let calendar = self.calendar();
        let mut seen: HashSet<(u32, i32), FixedState> = HashSet::with_hasher(hasher());
        for (day, member) in self.events.day.iter().zip(&self.events.member) {
            let account = self.members[*member as usize].account;
            seen.insert((account, calendar.period(kind, *day)));
        }
        let mut out: BTreeMap<String, BTreeSet<i32>> = BTreeMap::new();
        for (account, p) in seen {
            out.entry(self.accounts.get(account).to_string())
                .or_default()
                .insert(p);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_keep_codes_and_ranks() {
        let mut names: Names = Names::default();
        assert_eq!(names.code("b", 10), Some(0));
        assert_eq!(names.code("a", 10), Some(1));
        assert_eq!(names.code("b", 10), Some(0));
        assert_eq!(names.code("", 10), Some(2));
        assert_eq!(names.code("c", 3), None);
        assert_eq!(names.iter().collect::<Vec<_>>(), ["b", "a", ""]);
        assert_eq!(names.ranks(), [2, 1, 0]);
        // Long texts sharing their first 8 bytes stay apart.
        let long = "0123456789abcdef-one";
        let other = "0123456789abcdef-two";
        let mut names: Names = Names::default();
        assert_eq!(names.code(long, 10), Some(0));
        assert_eq!(names.code(other, 10), Some(1));
        assert_eq!(names.code(long, 10), Some(0));
        assert_eq!(names.get(1), other);
    }

    #[test]
    fn integer_ids_are_keyed_as_integers_exactly_when_their_text_is_how_they_print() {
        for (text, key) in [
            ("7", IdKey::Int(7)),
            ("0", IdKey::Int(0)),
            ("-12", IdKey::Int(-12)),
            ("9223372036854775807", IdKey::Int(i64::MAX)),
            ("-9223372036854775808", IdKey::Int(i64::MIN)),
            ("9223372036854775808", IdKey::Text("9223372036854775808")),
            ("007", IdKey::Text("007")),
            ("-0", IdKey::Text("-0")),
            ("+7", IdKey::Text("+7")),
            ("7 ", IdKey::Text("7 ")),
            ("", IdKey::Text("")),
            ("-", IdKey::Text("-")),
            ("1e3", IdKey::Text("1e3")),
            (
                "12345678901234567890123",
                IdKey::Text("12345678901234567890123"),
            ),
        ] {
            assert_eq!(IdKey::of(text), key, "{text}");
            if let IdKey::Int(v) = key {
                assert_eq!(v.to_string(), text);
            }
        }
        // The same id as text or as an integer; texts kept as read.
        let mut names: Names = Names::default();
        let seven = names.code("7", 10).unwrap();
        assert_eq!(
            names
                .code_and_payload(IdKey::Int(7), IdKey::Int(7).hash(), 10)
                .unwrap()
                .0,
            seven
        );
        let key = IdKey::Int(-30);
        let code = names.code_and_payload(key, key.hash(), 10).unwrap().0;
        assert_eq!(names.get(code), "-30");
        assert_eq!(names.code("-30", 10), Some(code));
        assert_ne!(names.code("007", 10), Some(seven));
        assert_eq!(names.iter().collect::<Vec<_>>(), ["7", "-30", "007"]);
    }

    #[test]
    fn names_survive_growing_tables() {
        let mut names: Names<u32> = Names::default();
        // Long ids sharing their first 8 bytes, short ones, and payloads kept through growth.
        let ids: Vec<String> = (0..10_000)
            .map(|i| {
                if i % 2 == 0 {
                    format!("user_000{i:06}")
                } else {
                    format!("u{i}")
                }
            })
            .collect();
        for (i, id) in ids.iter().enumerate() {
            let key = IdKey::of(id);
            names.prefetch(key.hash());
            let (code, payload) = names.code_and_payload(key, key.hash(), usize::MAX).unwrap();
            assert_eq!(code as usize, i);
            *payload = i as u32 * 3;
        }
        for (i, id) in ids.iter().enumerate().rev() {
            let key = IdKey::of(id);
            let (code, payload) = names.code_and_payload(key, key.hash(), usize::MAX).unwrap();
            assert_eq!((code as usize, *payload), (i, i as u32 * 3));
            assert_eq!(names.get(code), id);
        }
        assert_eq!(names.len(), ids.len());
    }
}
