//! Candidate metrics: the model, the config file that declares them, the automatic catalog,
//! and the one plan that computes every series.

pub(crate) mod assemble;
pub(crate) mod catalog;
pub(crate) mod config;
pub(crate) mod grid;
mod keys;
pub(crate) mod plan;
pub(crate) mod series;
mod summaries;

use serde::{Deserialize, Serialize};

/// Whose activity a candidate counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Entity {
    User,
    Account,
}

impl Entity {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Entity::User => "user",
            Entity::Account => "account",
        }
    }
}

/// The window an entity-level condition is evaluated in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Window {
    /// The reporting period itself (month or week).
    Period,
    /// ISO weeks, rolled up into the period.
    Week,
}

/// How weekly values become one value per period.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Rollup {
    Mean,
    Sum,
    Last,
}

impl Rollup {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Rollup::Mean => "mean",
            Rollup::Sum => "sum",
            Rollup::Last => "last",
        }
    }
}

/// Which events a candidate looks at; an empty list means any event.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct EventFilter {
    pub(crate) events: Vec<String>,
}

impl EventFilter {
    pub(crate) fn any() -> Self {
        Self { events: Vec::new() }
    }

    pub(crate) fn one(event: &str) -> Self {
        Self {
            events: vec![event.to_string()],
        }
    }

    pub(crate) fn is_any(&self) -> bool {
        self.events.is_empty()
    }

    pub(crate) fn describe(&self) -> String {
        if self.events.is_empty() {
            "any event".to_string()
        } else {
            self.events.join(", ")
        }
    }
}

/// The entity-level threshold of a `threshold_entities` candidate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Threshold {
    MinCount(u64),
    MinValue(f64),
}

/// What a candidate is, by the name nsm.toml and the JSON output give it: the one list of
/// kinds. `Revenue` names the revenue reference row of an evaluation, never a candidate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum KindName {
    ActiveEntities,
    EventCount,
    ValueSum,
    ThresholdEntities,
    TeamEntities,
    Ratio,
    NewEntities,
    CumulativeEntities,
    ReturningEntities,
    RepeatWithin,
    Revenue,
}

impl KindName {
    /// Every kind a candidate can be declared as, in the order the docs list them.
    pub(crate) const CANDIDATE_KINDS: [KindName; 10] = [
        KindName::ActiveEntities,
        KindName::EventCount,
        KindName::ValueSum,
        KindName::ThresholdEntities,
        KindName::TeamEntities,
        KindName::Ratio,
        KindName::NewEntities,
        KindName::CumulativeEntities,
        KindName::ReturningEntities,
        KindName::RepeatWithin,
    ];

    pub(crate) fn name(self) -> &'static str {
        match self {
            KindName::ActiveEntities => "active_entities",
            KindName::EventCount => "event_count",
            KindName::ValueSum => "value_sum",
            KindName::ThresholdEntities => "threshold_entities",
            KindName::TeamEntities => "team_entities",
            KindName::Ratio => "ratio",
            KindName::NewEntities => "new_entities",
            KindName::CumulativeEntities => "cumulative_entities",
            KindName::ReturningEntities => "returning_entities",
            KindName::RepeatWithin => "repeat_within",
            KindName::Revenue => "revenue",
        }
    }

    /// A candidate kind by its name (`revenue` is not one).
    pub(crate) fn candidate_kind(text: &str) -> Option<KindName> {
        Self::CANDIDATE_KINDS.into_iter().find(|k| k.name() == text)
    }

    /// `active_entities, event_count, ...`, for messages and help texts.
    pub(crate) fn list() -> String {
        Self::CANDIDATE_KINDS.map(KindName::name).join(", ")
    }
}

impl Serialize for KindName {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.name())
    }
}

impl<'de> Deserialize<'de> for KindName {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        if text == KindName::Revenue.name() {
            return Ok(KindName::Revenue);
        }
        KindName::candidate_kind(&text).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "unknown kind '{text}'; kinds are: {}, revenue",
                KindName::list()
            ))
        })
    }
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Kind {
    ActiveEntities {
        entity: Entity,
        filter: EventFilter,
        window: Window,
        rollup: Rollup,
    },
    EventCount {
        filter: EventFilter,
    },
    ValueSum {
        filter: EventFilter,
    },
    ThresholdEntities {
        entity: Entity,
        filter: EventFilter,
        window: Window,
        rollup: Rollup,
        threshold: Threshold,
    },
    TeamEntities {
        filter: EventFilter,
        window: Window,
        rollup: Rollup,
        min_members: u64,
    },
    Ratio {
        numerator: String,
        denominator: String,
    },
    NewEntities {
        entity: Entity,
        filter: EventFilter,
    },
    CumulativeEntities {
        entity: Entity,
        filter: EventFilter,
    },
    /// Entities active in the period that were active in an earlier one (within the last
    /// `within_periods` periods, when given).
    ReturningEntities {
        entity: Entity,
        filter: EventFilter,
        within_periods: Option<u32>,
    },
    /// Entities whose `nth` matching event came within `within_days` days of their first,
    /// counted in the period those days end (only then is the outcome known); entities whose
    /// days have not ended by the data's last day are not counted at all.
    RepeatWithin {
        entity: Entity,
        filter: EventFilter,
        nth: u32,
        within_days: u32,
    },
}

impl Kind {
    pub(crate) fn name(&self) -> &'static str {
        self.kind_name().name()
    }

    pub(crate) fn kind_name(&self) -> KindName {
        match self {
            Kind::ActiveEntities { .. } => KindName::ActiveEntities,
            Kind::EventCount { .. } => KindName::EventCount,
            Kind::ValueSum { .. } => KindName::ValueSum,
            Kind::ThresholdEntities { .. } => KindName::ThresholdEntities,
            Kind::TeamEntities { .. } => KindName::TeamEntities,
            Kind::Ratio { .. } => KindName::Ratio,
            Kind::NewEntities { .. } => KindName::NewEntities,
            Kind::CumulativeEntities { .. } => KindName::CumulativeEntities,
            Kind::ReturningEntities { .. } => KindName::ReturningEntities,
            Kind::RepeatWithin { .. } => KindName::RepeatWithin,
        }
    }

    /// The events the candidate is built from (empty for ratios and "any event").
    pub(crate) fn filter(&self) -> Option<&EventFilter> {
        match self {
            Kind::ActiveEntities { filter, .. }
            | Kind::EventCount { filter }
            | Kind::ValueSum { filter }
            | Kind::ThresholdEntities { filter, .. }
            | Kind::TeamEntities { filter, .. }
            | Kind::NewEntities { filter, .. }
            | Kind::CumulativeEntities { filter, .. }
            | Kind::ReturningEntities { filter, .. }
            | Kind::RepeatWithin { filter, .. } => Some(filter),
            Kind::Ratio { .. } => None,
        }
    }

    /// The window a candidate is evaluated in and how weeks roll up into periods (`Period` and
    /// `Sum`, which leave a period's value as it is, for kinds without a window).
    pub(crate) fn window(&self) -> (Window, Rollup) {
        match self {
            Kind::ActiveEntities { window, rollup, .. }
            | Kind::ThresholdEntities { window, rollup, .. }
            | Kind::TeamEntities { window, rollup, .. } => (*window, *rollup),
            _ => (Window::Period, Rollup::Sum),
        }
    }

    /// Can this metric fall at all? Cumulative counts cannot, by construction.
    pub(crate) fn is_structurally_monotone(&self) -> bool {
        matches!(self, Kind::CumulativeEntities { .. })
    }
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Candidate {
    pub(crate) name: String,
    pub(crate) kind: Kind,
    pub(crate) description: Option<String>,
}

impl Candidate {
    /// A one-line description of what the candidate counts.
    pub(crate) fn describe(&self) -> String {
        if let Some(text) = &self.description {
            return text.clone();
        }
        let per = |window: &Window, rollup: &Rollup| match window {
            Window::Period => String::new(),
            Window::Week => format!(" per week ({} over the period)", rollup.name()),
        };
        match &self.kind {
            Kind::ActiveEntities {
                entity,
                filter,
                window,
                rollup,
            } => format!(
                "distinct {}s with {}{}",
                entity.name(),
                filter.describe(),
                per(window, rollup)
            ),
            Kind::EventCount { filter } => format!("count of {}", filter.describe()),
            Kind::ValueSum { filter } => format!("sum of value over {}", filter.describe()),
            Kind::ThresholdEntities {
                entity,
                filter,
                window,
                rollup,
                threshold,
            } => {
                let condition = match threshold {
                    Threshold::MinCount(n) => format!("at least {n} of {}", filter.describe()),
                    Threshold::MinValue(v) => {
                        format!("a value of at least {v} over {}", filter.describe())
                    }
                };
                format!("{}s with {condition}{}", entity.name(), per(window, rollup))
            }
            Kind::TeamEntities {
                filter,
                window,
                rollup,
                min_members,
            } => format!(
                "accounts with at least {min_members} users doing {}{}",
                filter.describe(),
                per(window, rollup)
            ),
            Kind::Ratio {
                numerator,
                denominator,
            } => format!("{numerator} / {denominator}"),
            Kind::NewEntities { entity, filter } => {
                format!("{}s first seen with {}", entity.name(), filter.describe())
            }
            Kind::CumulativeEntities { entity, filter } => {
                format!("{}s ever seen with {}", entity.name(), filter.describe())
            }
            Kind::ReturningEntities {
                entity,
                filter,
                within_periods,
            } => {
                let earlier = match within_periods {
                    None => "an earlier period".to_string(),
                    Some(1) => "the period before".to_string(),
                    Some(n) => format!("one of the {n} periods before"),
                };
                format!(
                    "{}s with {} that had it in {earlier} too",
                    entity.name(),
                    filter.describe()
                )
            }
            Kind::RepeatWithin {
                entity,
                filter,
                nth,
                within_days,
            } => {
                if *nth == 1 {
                    format!(
                        "{}s whose first {} turned {within_days} days old in the period (the cohort of a {within_days}-day repeat rate)",
                        entity.name(),
                        filter.describe()
                    )
                } else {
                    format!(
                        "{}s with a {} {} within {within_days} days of their first, counted in the period the {within_days} days end",
                        entity.name(),
                        ordinal(*nth),
                        filter.describe()
                    )
                }
            }
        }
    }
}

/// `2nd`, `3rd`, `11th`, ...
fn ordinal(n: u32) -> String {
    let suffix = match (n % 10, n % 100) {
        (_, 11..=13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    };
    format!("{n}{suffix}")
}
