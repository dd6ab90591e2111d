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

    /// Map one role (nsm's column name) to a column.
    pub fn set(&mut self, role: &str, column: &str) {
        let column = column.to_string();
        match role {
            DEFAULT_TIMESTAMP => self.timestamp = column,
            DEFAULT_USER_ID => {
                self.user_id = column;
                self.user_id_fallbacks.clear();
            }
            DEFAULT_ACCOUNT_ID => self.account_id = column,
            DEFAULT_EVENT => self.event = column,
            _ => self.value = column,
        }
    }

    /// The mapping with `--map`'s entries in place of these.
    pub fn with_map(mut self, map: &ColumnMap) -> Self {
        for (role, column) in map.entries() {
            self.set(role, column);
        }
        self
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
    /// The files are this vendor's event export (`amplitude`, `mixpanel`, `segment`,
    /// `posthog`).
    format: Option<String>,
}

impl ColumnsTable {
    /// The `timezone` entry, as written.
    pub fn timezone(&self) -> Option<&str> {
        self.timezone.as_deref()
    }

    /// The `format` entry, as written.
    pub fn format(&self) -> Option<&str> {
        self.format.as_deref()
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

/// `--map timestamp=occurred_at,user_id=member`: a one-off column mapping, over nsm.toml's.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ColumnMap(Vec<(&'static str, String)>);

impl ColumnMap {
    pub fn entries(&self) -> impl Iterator<Item = (&'static str, &str)> {
        self.0.iter().map(|(role, column)| (*role, column.as_str()))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Parse `role=column,...`; roles are nsm's column names.
    pub fn parse(text: &str) -> Result<Self, String> {
        let roles = EventColumns::default();
        let roles: Vec<&'static str> = roles.pairs().map(|(role, _)| role).to_vec();
        let mut out: Vec<(&'static str, String)> = Vec::new();
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let Some((role, column)) = part.split_once('=') else {
                return Err(format!(
                    "'{part}' is not role=column (e.g. timestamp=occurred_at)"
                ));
            };
            let (role, column) = (role.trim(), column.trim());
            let Some(role) = roles.iter().copied().find(|r| *r == role) else {
                return Err(format!(
                    "unknown column role '{role}'; the roles are {}",
                    roles.join(", ")
                ));
            };
            if column.is_empty() {
                return Err(format!("{role}= needs a column name"));
            }
            if out.iter().any(|(r, _)| *r == role) {
                return Err(format!("{role} is mapped twice"));
            }
            out.push((role, column.to_string()));
        }
        if out.is_empty() {
            return Err("give at least one role=column".into());
        }
        Ok(Self(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_parse_and_refuse_mistakes() {
        let map = ColumnMap::parse("timestamp=occurred_at, user_id=member").unwrap();
        let entries: Vec<_> = map.entries().collect();
        assert_eq!(
            entries,
            [("timestamp", "occurred_at"), ("user_id", "member")]
        );
        assert!(ColumnMap::parse("when=occurred_at")
            .unwrap_err()
            .contains("unknown column role 'when'"));
        assert!(ColumnMap::parse("timestamp")
            .unwrap_err()
            .contains("role=column"));
        assert!(ColumnMap::parse("event=a,event=b")
            .unwrap_err()
            .contains("mapped twice"));
        assert!(ColumnMap::parse("value=")
            .unwrap_err()
            .contains("needs a column"));
    }
}
