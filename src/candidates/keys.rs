//! Where each event falls for the candidates: the index of its window (a period of the
//! dataset's kind, or an ISO week) among the windows of the events, and, looked up once for
//! all candidates, its account and period index.

use super::Window;
use crate::ingest::activity::{Activity, Calendar, Events};
use crate::period::PeriodKind;

/// The keys of one window over the days of the events: periods of the dataset's kind, or ISO
/// weeks, each known by its index from the first.
pub(super) struct Keys {
    window: Window,
    kind: PeriodKind,
    first: i32,
    pub(super) len: usize,
}

impl Keys {
    pub(super) fn new(
        calendar: &Calendar,
        window: Window,
        kind: PeriodKind,
        days: (i32, i32),
    ) -> Keys {
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
    pub(super) fn index(&self, calendar: &Calendar, day: i32) -> usize {
        let key = match self.window {
            Window::Period => calendar.period(self.kind, day),
            Window::Week => calendar.week(day),
        };
        (key - self.first) as usize
    }

    pub(super) fn key(&self, index: usize) -> i32 {
        self.first + index as i32
    }
}

/// What every candidate's pass reads of each event besides the event itself, looked up once
/// for all of them: its account, and its period's index (from the first period of the events).
/// Read in order, these spare each pass a lookup at a random place for every event.
pub(super) struct PerEvent {
    pub(super) account: Vec<u32>,
    /// Empty when the periods would not fit 16 bits (then the calendar is asked).
    period: Vec<u16>,
}

impl PerEvent {
    /// Event `i`'s index among `keys`.
    #[inline]
    pub(super) fn key(&self, keys: &Keys, calendar: &Calendar, events: &Events, i: usize) -> usize {
        if keys.window == Window::Period && !self.period.is_empty() {
            usize::from(self.period[i])
        } else {
            keys.index(calendar, events.day[i])
        }
    }

    pub(super) fn new(activity: &Activity, calendar: &Calendar, kind: PeriodKind) -> PerEvent {
        use rayon::prelude::*;
        let events = &activity.events;
        let members = &activity.members;
        let keys = Keys::new(
            calendar,
            Window::Period,
            kind,
            (activity.first_day, activity.last_day),
        );
        // Indexed: each thread writes its part of the one vector (no parts appended later).
        const CHUNK: usize = 1 << 16;
        let account = events
            .member
            .par_iter()
            .with_min_len(CHUNK)
            .map(|m| members[*m as usize].account)
            .collect();
        let period = if keys.len <= usize::from(u16::MAX) {
            events
                .day
                .par_iter()
                .with_min_len(CHUNK)
                .map(|d| keys.index(calendar, *d) as u16)
                .collect()
        } else {
            Vec::new()
        };
        PerEvent { account, period }
    }
}
