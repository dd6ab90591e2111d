//! Where each vendor keeps the event, its time, user, account, value and insert id, and which
//! of its events are its own bookkeeping rather than something a user did.

use serde_json::{Map, Value};

use super::prune::Keep;

/// An analytics vendor whose event export nsm reads directly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Vendor {
    /// Amplitude Export API: a ZIP of gzipped JSON lines, `event_time` in UTC.
    Amplitude,
    /// Mixpanel raw export: JSON lines, `properties.time` in epoch seconds.
    Mixpanel,
    /// Segment: JSON lines of track/page/screen calls (S3, Data Lakes, replay archives).
    Segment,
    /// PostHog batch export: JSON lines or Parquet.
    Posthog,
}

/// The bookkeeping events of each vendor: identity, group and flag calls, sessions the SDK
/// opens, recordings. They say nothing about use, and are dropped with a note.
const AMPLITUDE_INTERNAL: &[&str] = &[
    "$identify",
    "$groupidentify",
    "session_start",
    "session_end",
];
const MIXPANEL_INTERNAL: &[&str] = &["$identify", "$create_alias", "$merge", "$groupidentify"];
/// Segment's calls other than track, page and screen.
const SEGMENT_INTERNAL: &[&str] = &["identify", "group", "alias"];
const POSTHOG_INTERNAL: &[&str] = &[
    "$identify",
    "$groupidentify",
    "$set",
    "$create_alias",
    "$merge_dangerously",
    "$feature_flag_called",
    "$feature_enrollment_update",
    "$opt_in",
    "$snapshot",
    "$web_vitals",
];

/// Where an event's parts are, in the vendor's own words (for notes and errors).
pub(super) struct Paths {
    pub(super) event: &'static str,
    pub(super) time: &'static str,
    pub(super) user: &'static str,
    pub(super) fallback: &'static str,
    pub(super) insert_id: &'static str,
}

impl Vendor {
    pub fn name(self) -> &'static str {
        match self {
            Vendor::Amplitude => "Amplitude",
            Vendor::Mixpanel => "Mixpanel",
            Vendor::Segment => "Segment",
            Vendor::Posthog => "PostHog",
        }
    }

    /// The value of `--events-format` and `[events] format`.
    pub fn key(self) -> &'static str {
        match self {
            Vendor::Amplitude => "amplitude",
            Vendor::Mixpanel => "mixpanel",
            Vendor::Segment => "segment",
            Vendor::Posthog => "posthog",
        }
    }

    const ALL: [Vendor; 4] = [
        Vendor::Amplitude,
        Vendor::Mixpanel,
        Vendor::Segment,
        Vendor::Posthog,
    ];

    pub fn parse(text: &str) -> Option<Vendor> {
        let text = text.trim().to_ascii_lowercase();
        Self::ALL.into_iter().find(|v| v.key() == text)
    }

    /// The accepted keys, for messages: `amplitude, mixpanel, segment, posthog`.
    pub fn keys() -> String {
        Self::ALL.map(Vendor::key).join(", ")
    }

    pub(super) fn paths(self) -> Paths {
        match self {
            Vendor::Amplitude => Paths {
                event: "event_type",
                time: "event_time",
                user: "user_id",
                fallback: "device_id",
                insert_id: "$insert_id",
            },
            Vendor::Mixpanel => Paths {
                event: "event",
                time: "properties.time",
                user: "properties.distinct_id",
                fallback: "properties.$device_id",
                insert_id: "properties.$insert_id",
            },
            Vendor::Segment => Paths {
                event: "event",
                time: "timestamp",
                user: "userId",
                fallback: "anonymousId",
                insert_id: "messageId",
            },
            Vendor::Posthog => Paths {
                event: "event",
                time: "timestamp",
                user: "distinct_id",
                fallback: "properties.$device_id",
                insert_id: "uuid",
            },
        }
    }

    /// Where the account is, given the mapped name (a group type, or Mixpanel's group key).
    pub fn account_path(self, group: &str) -> String {
        match self {
            Vendor::Amplitude => format!("groups.{group}"),
            Vendor::Mixpanel => format!("properties.{group}"),
            Vendor::Segment => "context.groupId".into(),
            Vendor::Posthog => format!("properties.$groups.{group}"),
        }
    }

    /// Where the value is, given the mapped property name.
    pub fn value_path(self, property: &str) -> String {
        match self {
            Vendor::Amplitude => format!("event_properties.{property}"),
            _ => format!("properties.{property}"),
        }
    }

    pub(super) fn internal_events(self) -> &'static [&'static str] {
        match self {
            Vendor::Amplitude => AMPLITUDE_INTERNAL,
            Vendor::Mixpanel => MIXPANEL_INTERNAL,
            Vendor::Segment => SEGMENT_INTERNAL,
            Vendor::Posthog => POSTHOG_INTERNAL,
        }
    }

    /// The vendor whose export `record` looks like, when only one fits.
    pub(super) fn detect(record: &Map<String, Value>) -> Vec<Vendor> {
        let has = |key: &str| record.contains_key(key);
        let properties = record.get("properties").and_then(Value::as_object);
        let mut found = Vec::new();
        if has("event_type") && has("event_time") {
            found.push(Vendor::Amplitude);
        }
        if has("event") && !has("timestamp") && properties.is_some_and(|p| p.contains_key("time")) {
            found.push(Vendor::Mixpanel);
        }
        let segment_type = record.get("type").and_then(Value::as_str).is_some_and(|t| {
            matches!(
                t,
                "track" | "page" | "screen" | "identify" | "group" | "alias"
            )
        });
        if segment_type
            && has("timestamp")
            && (has("messageId") || has("anonymousId") || has("userId"))
        {
            found.push(Vendor::Segment);
        }
        if has("event") && has("distinct_id") && has("timestamp") {
            found.push(Vendor::Posthog);
        }
        found
    }
}

/// The time of an event as the vendor writes it.
pub(super) enum Time<'a> {
    Text(&'a str),
    Epoch(f64),
}

/// One record's parts, found where its vendor keeps them.
pub(super) struct Parts<'a> {
    pub(super) event: Option<String>,
    /// Segment's `type` when not a track call: its page and screen calls are events too.
    pub(super) time: Option<Time<'a>>,
    /// The raw time, for errors and fingerprints.
    pub(super) time_text: String,
    pub(super) user: Option<String>,
    pub(super) fallback: Option<String>,
    pub(super) account: Group,
    pub(super) value: Option<&'a Value>,
    pub(super) insert_id: Option<String>,
    pub(super) internal: bool,
}

/// An event's account: none, one, or several (a list of groups: the first is taken).
pub(super) enum Group {
    None,
    One(String),
    Several(String),
}

/// What to look for: the mapped account (group type or key) and value property.
pub(super) struct Wanted<'a> {
    pub(super) group: &'a str,
    pub(super) value: &'a str,
}

/// A JSON value as an id: text as it is, numbers printed; empty text and null are no id.
pub(super) fn id_text(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::String(s) if !s.trim().is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn group_of(value: Option<&Value>) -> Group {
    match value {
        Some(Value::Array(items)) => {
            let ids: Vec<String> = items.iter().filter_map(|v| id_text(Some(v))).collect();
            match ids.len() {
                0 => Group::None,
                1 => Group::One(ids.into_iter().next().expect("one")),
                _ => Group::Several(ids.into_iter().next().expect("several")),
            }
        }
        other => id_text(other).map_or(Group::None, Group::One),
    }
}

fn time_of(value: Option<&Value>) -> (Option<Time<'_>>, String) {
    match value {
        Some(Value::String(s)) => (Some(Time::Text(s.trim())), s.clone()),
        Some(Value::Number(n)) => (n.as_f64().map(Time::Epoch), n.to_string()),
        Some(other) if !other.is_null() => (None, other.to_string()),
        _ => (None, String::new()),
    }
}

/// An object member as an object (PostHog writes `properties` as JSON text in its Parquet
/// batch exports: parsed here).
pub(super) fn object<'a>(
    record: &'a Map<String, Value>,
    key: &str,
) -> Option<&'a Map<String, Value>> {
    record.get(key).and_then(Value::as_object)
}

impl Vendor {
    /// The fields [`Vendor::parts`] and [`Vendor::group_types`] read: all a record needs to
    /// keep when it is parsed.
    pub(super) fn keep(self, wanted: &Wanted) -> Keep {
        match self {
            Vendor::Amplitude => Keep::keys(&[
                "event_type",
                "event_time",
                "user_id",
                "device_id",
                "$insert_id",
                "uuid",
                "groups",
            ])
            .with("event_properties", Keep::keys(&[wanted.value])),
            Vendor::Mixpanel => Keep::keys(&["event"]).with(
                "properties",
                Keep::keys(&[
                    "time",
                    "distinct_id",
                    "$insert_id",
                    "$device_id",
                    wanted.group,
                    wanted.value,
                ]),
            ),
            Vendor::Segment => Keep::keys(&[
                "type",
                "event",
                "timestamp",
                "userId",
                "anonymousId",
                "messageId",
            ])
            .with("context", Keep::keys(&["groupId"]))
            .with("properties", Keep::keys(&[wanted.value])),
            Vendor::Posthog => Keep::keys(&["event", "timestamp", "distinct_id", "uuid"]).with(
                "properties",
                Keep::keys(&["$device_id", "$groups", wanted.value]),
            ),
        }
    }

    /// The parts of one record (`properties` already an object).
    pub(super) fn parts<'a>(self, record: &'a Map<String, Value>, wanted: &Wanted) -> Parts<'a> {
        let get = |key: &str| record.get(key);
        let props = object(record, "properties");
        let prop = |key: &str| props.and_then(|p| p.get(key));
        match self {
            Vendor::Amplitude => {
                let event = id_text(get("event_type"));
                let (time, time_text) = time_of(get("event_time"));
                let user = id_text(get("user_id"));
                let fallback = id_text(get("device_id"));
                // Amplitude de-duplicates an insert id per device (or user).
                let insert_id = id_text(get("$insert_id"))
                    .map(|id| {
                        format!(
                            "{}\u{1f}{id}",
                            fallback.as_deref().or(user.as_deref()).unwrap_or("")
                        )
                    })
                    .or_else(|| id_text(get("uuid")));
                Parts {
                    internal: event
                        .as_deref()
                        .is_some_and(|e| self.internal_events().contains(&e)),
                    event,
                    time,
                    time_text,
                    user,
                    fallback,
                    account: group_of(object(record, "groups").and_then(|g| g.get(wanted.group))),
                    value: object(record, "event_properties").and_then(|p| p.get(wanted.value)),
                    insert_id,
                }
            }
            Vendor::Mixpanel => {
                let event = id_text(get("event"));
                let (time, time_text) = time_of(prop("time"));
                let user = id_text(prop("distinct_id"));
                // Mixpanel's own de-duplication key: event, distinct id, time and insert id.
                let insert_id = id_text(prop("$insert_id")).map(|id| {
                    format!(
                        "{}\u{1f}{}\u{1f}{time_text}\u{1f}{id}",
                        event.as_deref().unwrap_or(""),
                        user.as_deref().unwrap_or("")
                    )
                });
                Parts {
                    internal: event
                        .as_deref()
                        .is_some_and(|e| self.internal_events().contains(&e)),
                    event,
                    time,
                    time_text,
                    user,
                    fallback: id_text(prop("$device_id")),
                    account: group_of(prop(wanted.group)),
                    value: prop(wanted.value),
                    insert_id,
                }
            }
            Vendor::Segment => {
                let kind = get("type").and_then(Value::as_str).unwrap_or("track");
                let event = match kind {
                    "track" => id_text(get("event")),
                    other => Some(other.to_string()),
                };
                let (time, time_text) = time_of(get("timestamp"));
                let context = object(record, "context");
                Parts {
                    internal: self.internal_events().contains(&kind),
                    event,
                    time,
                    time_text,
                    user: id_text(get("userId")),
                    fallback: id_text(get("anonymousId")),
                    account: group_of(context.and_then(|c| c.get("groupId"))),
                    value: prop(wanted.value),
                    insert_id: id_text(get("messageId")),
                }
            }
            Vendor::Posthog => {
                let event = id_text(get("event"));
                let (time, time_text) = time_of(get("timestamp"));
                let groups = props
                    .and_then(|p| p.get("$groups"))
                    .and_then(Value::as_object);
                Parts {
                    internal: event
                        .as_deref()
                        .is_some_and(|e| self.internal_events().contains(&e)),
                    event,
                    time,
                    time_text,
                    user: id_text(get("distinct_id")),
                    fallback: id_text(prop("$device_id")),
                    account: group_of(groups.and_then(|g| g.get(wanted.group))),
                    value: prop(wanted.value),
                    insert_id: id_text(get("uuid")),
                }
            }
        }
    }

    /// The group types (or, for Mixpanel, nothing knowable) an event carries, for the note
    /// that says which exist when the mapped one is never found.
    pub(super) fn group_types(self, record: &Map<String, Value>) -> Vec<String> {
        let keys = |map: Option<&Map<String, Value>>| -> Vec<String> {
            map.map(|m| m.keys().cloned().collect()).unwrap_or_default()
        };
        match self {
            Vendor::Amplitude => keys(object(record, "groups")),
            Vendor::Posthog => keys(
                object(record, "properties")
                    .and_then(|p| p.get("$groups"))
                    .and_then(Value::as_object),
            ),
            Vendor::Mixpanel | Vendor::Segment => Vec::new(),
        }
    }
}
