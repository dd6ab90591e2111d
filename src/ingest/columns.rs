//! The `[events]` column mapping: where each logical event column is found in the files.

use serde::Deserialize;

/// Default names of the event columns; `[events]` in nsm.toml remaps them.
pub const DEFAULT_TIMESTAMP: &str = "timestamp";
pub const DEFAULT_USER_ID: &str = "user_id";
pub const DEFAULT_ACCOUNT_ID: &str = "account_id";
pub const DEFAULT_EVENT: &str = "event";
pub const DEFAULT_VALUE: &str = "value";

/// Where each logical event column is found in the files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventColumns {
    pub timestamp: String,
    pub user_id: String,
    pub account_id: String,
    pub event: String,
    pub value: String,
    /// Columns read, in order, where `user_id` is empty (`user_id = ["user_id",
    /// "anonymous_id"]`: Segment and RudderStack tables of anonymous visitors).
    pub user_id_fallbacks: Vec<String>,
}

impl Default for EventColumns {
    fn default() -> Self {
        Self {
            timestamp: DEFAULT_TIMESTAMP.into(),
            user_id: DEFAULT_USER_ID.into(),
            account_id: DEFAULT_ACCOUNT_ID.into(),
            event: DEFAULT_EVENT.into(),
            value: DEFAULT_VALUE.into(),
            user_id_fallbacks: Vec::new(),
        }
    }
}

impl EventColumns {
    /// The user id column and its fallbacks, in the order they are tried.
    pub fn user_id_columns(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.user_id.as_str())
            .chain(self.user_id_fallbacks.iter().map(String::as_str))
    }

    /// `(default name, mapped name)` pairs, in SPEC order.
    pub fn pairs(&self) -> [(&'static str, &str); 5] {
        [
            (DEFAULT_TIMESTAMP, &self.timestamp),
            (DEFAULT_USER_ID, &self.user_id),
            (DEFAULT_ACCOUNT_ID, &self.account_id),
            (DEFAULT_EVENT, &self.event),
            (DEFAULT_VALUE, &self.value),
        ]
    }
}

/// A column name, or several in order of preference.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

/// The `[events]` table of nsm.toml as written: every key optional, unknown keys refused.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct ColumnsTable {
    timestamp: Option<String>,
    user_id: Option<OneOrMany>,
    account_id: Option<String>,
    event: Option<String>,
    value: Option<String>,
    /// The zone of event times written without one.
    timezone: Option<String>,
}

impl ColumnsTable {
    /// The `timezone` entry, as written.
    pub fn timezone(&self) -> Option<&str> {
        self.timezone.as_deref()
    }

    /// The mapping, with the default name for every column not mapped.
    pub fn into_columns(self) -> EventColumns {
        let names = match self.user_id.clone() {
            None => Vec::new(),
            Some(OneOrMany::One(name)) => vec![name],
            Some(OneOrMany::Many(names)) => names,
        };
        let first = names.first().cloned();
        let user_id_fallbacks = names.iter().skip(1).cloned().collect();
        let or = |mapped: Option<String>, default: &str| mapped.unwrap_or_else(|| default.into());
        EventColumns {
            timestamp: or(self.timestamp, DEFAULT_TIMESTAMP),
            user_id: or(first.clone(), DEFAULT_USER_ID),
            account_id: or(self.account_id, DEFAULT_ACCOUNT_ID),
            event: or(self.event, DEFAULT_EVENT),
            value: or(self.value, DEFAULT_VALUE),
            user_id_fallbacks,
        }
    }
}
