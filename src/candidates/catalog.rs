//! The automatic catalog, used when no nsm.toml declares candidates.
//!
//! From the stored events:
//! - overall: `active_users`, `weekly_active_users` (weekly, mean over the period), and with
//!   accounts `active_accounts`; `new_users` (signups) and `registered_users` (cumulative);
//! - for each frequent event (the `MAX_EVENTS` most frequent with at least `MIN_EVENT_SHARE`
//!   of all events): its count, the users doing it, and with accounts the accounts doing it;
//!   its value sum when the event carries values;
//! - for the `THRESHOLD_EVENTS` most frequent: entities (accounts, or users without accounts)
//!   doing it at least N times in a week, N the median weekly count of those doing it (≥ 2);
//! - with accounts of several users: accounts with at least 3 active users in a week;
//! - when the events look transactional (at most `TRANSACTIONAL_NAMES` event names, the most
//!   frequent one carrying values, at least half of all events): for that event, the
//!   returning users, and the users with a 2nd within `REPEAT_DAYS` days of their first with
//!   their cohort and the rate (a ratio of the two).

use std::collections::BTreeSet;

use anyhow::Result;

use super::{Candidate, Entity, EventFilter, Kind, Rollup, Threshold, Window};
use crate::ingest::activity::Activity;

pub(crate) const MAX_EVENTS: usize = 8;
pub(crate) const MIN_EVENT_SHARE: f64 = 0.01;
pub(crate) const THRESHOLD_EVENTS: usize = 3;
pub(crate) const TEAM_MIN_MEMBERS: u64 = 3;
pub(crate) const TRANSACTIONAL_NAMES: usize = 3;
pub(crate) const REPEAT_DAYS: u32 = 60;

/// Lower-case identifier from an event name.
pub(crate) fn slug(name: &str) -> String {
    let mut out = String::new();
    for ch in name.chars().flat_map(char::to_lowercase) {
        if ch.is_alphanumeric() {
            out.push(ch);
        } else if !out.ends_with('_') {
            out.push('_');
        }
    }
    let out = out.trim_matches('_').to_string();
    if out.is_empty() {
        "event".to_string()
    } else {
        out
    }
}

pub(crate) struct EventStats {
    pub(crate) name: String,
    pub(crate) count: i64,
    pub(crate) has_value: bool,
}

/// Every event name with its count and whether it carries values, most frequent first.
pub(crate) fn event_stats(activity: &Activity) -> Vec<EventStats> {
    let mut stats: Vec<EventStats> = activity
        .event_totals()
        .into_iter()
        .zip(activity.event_names.iter())
        .map(|((count, has_value), name)| EventStats {
            name: name.to_string(),
            count: count as i64,
            has_value,
        })
        .collect();
    stats.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.name.cmp(&b.name)));
    stats
}

/// Median weekly count of `event` among the entities doing it in a week.
fn weekly_median(activity: &Activity, event: &str, entity: Entity) -> f64 {
    let Some(code) = activity.event_names.iter().position(|n| n == event) else {
        return 0.0;
    };
    let mut counts = activity.window_totals(code as u32, entity == Entity::Account, None, false);
    if counts.is_empty() {
        return 0.0;
    }
    counts.sort_unstable();
    let mid = counts.len() / 2;
    if counts.len() % 2 == 1 {
        counts[mid] as f64
    } else {
        (counts[mid - 1] + counts[mid]) as f64 / 2.0
    }
}

/// Mean number of distinct users per account.
fn users_per_account(activity: &Activity) -> f64 {
    activity.users as f64 / (activity.accounts.len() as f64).max(1.0)
}

pub(crate) fn automatic(activity: &Activity) -> Result<Vec<Candidate>> {
    let stats = event_stats(activity);
    let total: i64 = stats.iter().map(|s| s.count).sum();
    let frequent: Vec<&EventStats> = stats
        .iter()
        .filter(|s| total > 0 && s.count as f64 / total as f64 >= MIN_EVENT_SHARE)
        .take(MAX_EVENTS)
        .collect();
    let accounts = activity.has_account;
    let mut out = Vec::new();
    let mut names = BTreeSet::new();
    let mut push = |name: String, kind: Kind| {
        // Event slugs can collide ("Sign up" and "sign_up"): suffix until unique.
        let mut unique = name.clone();
        let mut n = 2;
        while !names.insert(unique.clone()) {
            unique = format!("{name}_{n}");
            n += 1;
        }
        out.push(Candidate {
            name: unique,
            kind,
            description: None,
        });
    };
    let any = EventFilter::any;
    push(
        "active_users".into(),
        Kind::ActiveEntities {
            entity: Entity::User,
            filter: any(),
            window: Window::Period,
            rollup: Rollup::Mean,
        },
    );
    push(
        "weekly_active_users".into(),
        Kind::ActiveEntities {
            entity: Entity::User,
            filter: any(),
            window: Window::Week,
            rollup: Rollup::Mean,
        },
    );
    if accounts {
        push(
            "active_accounts".into(),
            Kind::ActiveEntities {
                entity: Entity::Account,
                filter: any(),
                window: Window::Period,
                rollup: Rollup::Mean,
            },
        );
    }
    push(
        "new_users".into(),
        Kind::NewEntities {
            entity: Entity::User,
            filter: any(),
        },
    );
    push(
        "registered_users".into(),
        Kind::CumulativeEntities {
            entity: Entity::User,
            filter: any(),
        },
    );
    for event in &frequent {
        let slug = slug(&event.name);
        let filter = EventFilter::one(&event.name);
        push(
            format!("{slug}_count"),
            Kind::EventCount {
                filter: filter.clone(),
            },
        );
        push(
            format!("{slug}_users"),
            Kind::ActiveEntities {
                entity: Entity::User,
                filter: filter.clone(),
                window: Window::Period,
                rollup: Rollup::Mean,
            },
        );
        if accounts {
            push(
                format!("{slug}_accounts"),
                Kind::ActiveEntities {
                    entity: Entity::Account,
                    filter: filter.clone(),
                    window: Window::Period,
                    rollup: Rollup::Mean,
                },
            );
        }
        if event.has_value {
            push(format!("{slug}_value"), Kind::ValueSum { filter });
        }
    }
    let entity = if accounts {
        Entity::Account
    } else {
        Entity::User
    };
    for event in frequent.iter().take(THRESHOLD_EVENTS) {
        let min_count = (weekly_median(activity, &event.name, entity).round() as u64).max(2);
        push(
            format!(
                "{}s_{min_count}plus_{}_weekly",
                entity.name(),
                slug(&event.name)
            ),
            Kind::ThresholdEntities {
                entity,
                filter: EventFilter::one(&event.name),
                window: Window::Week,
                rollup: Rollup::Mean,
                threshold: Threshold::MinCount(min_count),
            },
        );
    }
    if accounts && users_per_account(activity) >= 2.0 {
        push(
            format!("teams_{TEAM_MIN_MEMBERS}plus_active_weekly"),
            Kind::TeamEntities {
                filter: any(),
                window: Window::Week,
                rollup: Rollup::Mean,
                min_members: TEAM_MIN_MEMBERS,
            },
        );
    }
    if let Some(purchase) = transactional(&stats, total) {
        let slug = slug(&purchase.name);
        let filter = EventFilter::one(&purchase.name);
        push(
            format!("returning_{slug}_users"),
            Kind::ReturningEntities {
                entity: Entity::User,
                filter: filter.clone(),
                within_periods: None,
            },
        );
        let (repeat, cohort) = (
            format!("users_2nd_{slug}_{REPEAT_DAYS}d"),
            format!("users_first_{slug}_{REPEAT_DAYS}d"),
        );
        for (name, nth) in [(&repeat, 2), (&cohort, 1)] {
            push(
                name.clone(),
                Kind::RepeatWithin {
                    entity: Entity::User,
                    filter: filter.clone(),
                    nth,
                    within_days: REPEAT_DAYS,
                },
            );
        }
        push(
            format!("{slug}_2nd_within_{REPEAT_DAYS}d_rate"),
            Kind::Ratio {
                numerator: repeat,
                denominator: cohort,
            },
        );
    }
    Ok(out)
}

/// The purchase event of transactional data: few event names, the most frequent carrying
/// values and making at least half of all events.
fn transactional(stats: &[EventStats], total: i64) -> Option<&EventStats> {
    let top = stats.first()?;
    (stats.len() <= TRANSACTIONAL_NAMES && top.has_value && top.count * 2 >= total).then_some(top)
}

#[cfg(test)]
mod tests {
    use super::slug;

    #[test]
    fn slugs_are_identifiers() {
        assert_eq!(slug("Meeting Booked"), "meeting_booked");
        assert_eq!(slug("page.view/home"), "page_view_home");
        assert_eq!(slug("--"), "event");
        assert_eq!(slug("Café ordered"), "café_ordered");
    }
}
