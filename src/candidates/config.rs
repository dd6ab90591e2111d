//! `nsm.toml`: event column mapping, the declared north star and the candidate list.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use anyhow::Result;
use serde::Deserialize;

use super::{Candidate, Entity, EventFilter, Kind, KindName, Rollup, Threshold, Window};
use crate::error::InputError;
use crate::ingest::columns::{ColumnsTable, EventColumns};

/// A parsed and validated configuration.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Config {
    pub(crate) columns: EventColumns,
    pub(crate) north_star: Option<String>,
    pub(crate) candidates: Vec<Candidate>,
    /// `[events] timezone`: the zone of event times written without one.
    pub(crate) timezone: Option<chrono_tz::Tz>,
    /// `[events] format`: the event files are this vendor's export.
    pub(crate) format: Option<crate::ingest::events::Vendor>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    events: ColumnsTable,
    north_star: Option<RawNorthStar>,
    #[serde(default, rename = "candidate")]
    candidates: Vec<RawCandidate>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawNorthStar {
    name: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCandidate {
    name: String,
    kind: String,
    description: Option<String>,
    entity: Option<String>,
    event: Option<String>,
    events: Option<Vec<String>>,
    window: Option<String>,
    min_count: Option<u64>,
    min_value: Option<f64>,
    min_members: Option<u64>,
    rollup: Option<String>,
    numerator: Option<String>,
    denominator: Option<String>,
    within_periods: Option<u32>,
    nth: Option<u32>,
    within_days: Option<u32>,
}

impl Config {
    /// Read and validate a config file.
    pub(crate) fn load(path: &Path) -> Result<Self> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path)
            .map_err(|e| InputError::new(format!("config {shown}: cannot read: {e}")))?;
        Self::parse(&text, &shown)
    }

    /// Parse config text; `source` names it in error messages.
    pub(crate) fn parse(text: &str, source: &str) -> Result<Self> {
        let raw: RawConfig = toml::from_str(text).map_err(|e| {
            let line = e
                .span()
                .map(|span| text[..span.start.min(text.len())].matches('\n').count() as u64 + 1);
            InputError::at(source, line, None, None, e.message().trim())
        })?;
        let timezone = raw
            .events
            .timezone()
            .map(|zone| {
                crate::ingest::timestamp::parse_zone(zone).map_err(|reason| {
                    InputError::new(format!("config {source}: [events] timezone: {reason}"))
                })
            })
            .transpose()?;
        let format = raw
            .events
            .format()
            .map(|text| {
                crate::ingest::events::Vendor::parse(text).ok_or_else(|| {
                    InputError::new(format!(
                        "config {source}: [events] format '{text}' is not one of: {}",
                        crate::ingest::events::Vendor::keys()
                    ))
                })
            })
            .transpose()?;
        let columns = raw.events.into_columns();
        let mut candidates = Vec::with_capacity(raw.candidates.len());
        let mut seen = BTreeSet::new();
        for raw_candidate in raw.candidates {
            let candidate = validate_candidate(raw_candidate, source)?;
            if !seen.insert(candidate.name.clone()) {
                return Err(InputError::new(format!(
                    "config {source}: candidate '{}' is declared twice; names must be unique",
                    candidate.name
                ))
                .into());
            }
            candidates.push(candidate);
        }
        check_ratio_references(&candidates, source)?;
        let north_star = raw.north_star.map(|n| n.name);
        if let Some(star) = &north_star {
            if !candidates.is_empty() && !seen.contains(star) {
                return Err(InputError::new(format!(
                    "config {source}: [north_star] name '{star}' is not one of the candidates"
                ))
                .into());
            }
        }
        Ok(Config {
            columns,
            north_star,
            candidates,
            timezone,
            format,
        })
    }
}

fn validate_candidate(raw: RawCandidate, source: &str) -> Result<Candidate> {
    let name = raw.name.trim().to_string();
    let fail = |what: String| -> anyhow::Error {
        InputError::new(format!("config {source}: candidate '{name}': {what}")).into()
    };
    if name.is_empty() {
        return Err(
            InputError::new(format!("config {source}: a candidate has an empty name")).into(),
        );
    }
    if name.eq_ignore_ascii_case("revenue") {
        return Err(fail(
            "the name 'revenue' is reserved for the revenue reference row".into(),
        ));
    }
    let entity = match raw.entity.as_deref() {
        None => None,
        Some("user") => Some(Entity::User),
        Some("account") => Some(Entity::Account),
        Some(other) => {
            return Err(fail(format!(
                "entity '{other}' is not one of: user, account"
            )))
        }
    };
    let window = match raw.window.as_deref() {
        None | Some("period") => Window::Period,
        Some("week") => Window::Week,
        Some(other) => {
            return Err(fail(format!(
                "window '{other}' is not one of: week, period"
            )))
        }
    };
    let rollup = match raw.rollup.as_deref() {
        None | Some("mean") => Rollup::Mean,
        Some("sum") => Rollup::Sum,
        Some("last") => Rollup::Last,
        Some(other) => {
            return Err(fail(format!(
                "rollup '{other}' is not one of: mean, sum, last"
            )))
        }
    };
    let filter = match (raw.event, raw.events) {
        (Some(_), Some(_)) => return Err(fail("give either event or events, not both".into())),
        (Some(event), None) => EventFilter {
            events: vec![event],
        },
        (None, Some(events)) => {
            if events.is_empty() {
                return Err(fail(
                    "events = [] is empty; omit it to mean any event".into(),
                ));
            }
            EventFilter { events }
        }
        (None, None) => EventFilter::any(),
    };
    let need_entity = |entity: Option<Entity>| -> Result<Entity> {
        entity.ok_or_else(|| fail("missing field 'entity' (user or account)".into()))
    };
    let unused = |field: &str, present: bool| -> Result<()> {
        if present {
            Err(fail(format!(
                "field '{field}' does not apply to kind '{}'",
                raw.kind
            )))
        } else {
            Ok(())
        }
    };
    let windowed = raw.window.is_some() || raw.rollup.is_some();
    let has_ratio_parts = raw.numerator.is_some() || raw.denominator.is_some();
    let Some(kind_name) = KindName::candidate_kind(&raw.kind) else {
        return Err(fail(format!(
            "unknown kind '{}'; kinds are: {}",
            raw.kind,
            KindName::list()
        )));
    };
    let kind = match kind_name {
        KindName::ActiveEntities => Kind::ActiveEntities {
            entity: need_entity(entity)?,
            filter,
            window,
            rollup,
        },
        KindName::EventCount | KindName::ValueSum => {
            unused("entity", entity.is_some())?;
            unused("window/rollup", windowed)?;
            if kind_name == KindName::EventCount {
                Kind::EventCount { filter }
            } else {
                Kind::ValueSum { filter }
            }
        }
        KindName::ThresholdEntities => {
            let threshold = match (raw.min_count, raw.min_value) {
                (Some(n), None) if n > 0 => Threshold::MinCount(n),
                (None, Some(v)) if v.is_finite() => Threshold::MinValue(v),
                (None, None) => {
                    return Err(fail("missing field 'min_count' (or 'min_value')".into()))
                }
                (Some(_), Some(_)) => {
                    return Err(fail("give min_count or min_value, not both".into()))
                }
                _ => {
                    return Err(fail(
                        "min_count must be at least 1 and min_value finite".into(),
                    ))
                }
            };
            Kind::ThresholdEntities {
                entity: need_entity(entity)?,
                filter,
                window,
                rollup,
                threshold,
            }
        }
        KindName::TeamEntities => {
            if entity == Some(Entity::User) {
                return Err(fail(
                    "team_entities counts accounts; entity must be 'account'".into(),
                ));
            }
            let min_members = raw
                .min_members
                .ok_or_else(|| fail("missing field 'min_members'".into()))?;
            if min_members < 1 {
                return Err(fail("min_members must be at least 1".into()));
            }
            Kind::TeamEntities {
                filter,
                window,
                rollup,
                min_members,
            }
        }
        KindName::Ratio => {
            unused("entity", entity.is_some())?;
            unused(
                "min_count/min_value",
                raw.min_count.is_some() || raw.min_value.is_some(),
            )?;
            unused("window/rollup", windowed)?;
            unused("event/events", !filter.is_any())?;
            let numerator = raw
                .numerator
                .ok_or_else(|| fail("missing field 'numerator'".into()))?;
            let denominator = raw
                .denominator
                .ok_or_else(|| fail("missing field 'denominator'".into()))?;
            Kind::Ratio {
                numerator,
                denominator,
            }
        }
        KindName::NewEntities | KindName::CumulativeEntities => {
            unused("window/rollup", windowed)?;
            let entity = need_entity(entity)?;
            if kind_name == KindName::NewEntities {
                Kind::NewEntities { entity, filter }
            } else {
                Kind::CumulativeEntities { entity, filter }
            }
        }
        KindName::ReturningEntities => {
            unused("window/rollup", windowed)?;
            if raw.within_periods == Some(0) {
                return Err(fail(
                    "within_periods must be at least 1 (the periods before this one to look back over; omit it for any earlier period)".into(),
                ));
            }
            Kind::ReturningEntities {
                entity: need_entity(entity)?,
                filter,
                within_periods: raw.within_periods,
            }
        }
        KindName::RepeatWithin => {
            unused("window/rollup", windowed)?;
            let nth = raw.nth.unwrap_or(2);
            if !(1..=1000).contains(&nth) {
                return Err(fail(
                    "nth must be from 1 to 1000 (2: a second purchase)".into(),
                ));
            }
            let within_days = raw.within_days.ok_or_else(|| {
                fail(
                    "missing field 'within_days' (e.g. 60: a second purchase within 60 days)"
                        .into(),
                )
            })?;
            if !(1..=3660).contains(&within_days) {
                return Err(fail("within_days must be from 1 to 3660".into()));
            }
            Kind::RepeatWithin {
                entity: need_entity(entity)?,
                filter,
                nth,
                within_days,
            }
        }
        KindName::Revenue => unreachable!("not a candidate kind"),
    };
    unused(
        "within_periods",
        !matches!(kind, Kind::ReturningEntities { .. }) && raw.within_periods.is_some(),
    )?;
    unused(
        "nth/within_days",
        !matches!(kind, Kind::RepeatWithin { .. })
            && (raw.nth.is_some() || raw.within_days.is_some()),
    )?;
    if !matches!(kind, Kind::Ratio { .. }) {
        unused("numerator/denominator", has_ratio_parts)?;
    }
    let thresholded = matches!(kind, Kind::ThresholdEntities { .. });
    unused(
        "min_count/min_value",
        !thresholded && (raw.min_count.is_some() || raw.min_value.is_some()),
    )?;
    unused(
        "min_members",
        !matches!(kind, Kind::TeamEntities { .. }) && raw.min_members.is_some(),
    )?;
    Ok(Candidate {
        name,
        kind,
        description: raw.description,
    })
}

/// Ratios must name existing candidates and must not form a cycle.
fn check_ratio_references(candidates: &[Candidate], source: &str) -> Result<()> {
    let by_name: BTreeMap<&str, &Candidate> =
        candidates.iter().map(|c| (c.name.as_str(), c)).collect();
    for candidate in candidates {
        if let Kind::Ratio {
            numerator,
            denominator,
        } = &candidate.kind
        {
            for part in [numerator, denominator] {
                if !by_name.contains_key(part.as_str()) {
                    return Err(InputError::new(format!(
                        "config {source}: candidate '{}': ratio refers to unknown candidate '{part}'",
                        candidate.name
                    ))
                    .into());
                }
            }
        }
    }
    // Depth-first walk over ratio references; a name met again on the current path is a cycle.
    fn visit<'a>(
        name: &'a str,
        by_name: &BTreeMap<&'a str, &'a Candidate>,
        path: &mut Vec<&'a str>,
    ) -> Option<Vec<&'a str>> {
        if let Some(at) = path.iter().position(|n| *n == name) {
            let mut cycle = path[at..].to_vec();
            cycle.push(name);
            return Some(cycle);
        }
        if let Some(Kind::Ratio {
            numerator,
            denominator,
        }) = by_name.get(name).map(|c| &c.kind)
        {
            path.push(name);
            for part in [numerator.as_str(), denominator.as_str()] {
                if let Some(cycle) = visit(part, by_name, path) {
                    return Some(cycle);
                }
            }
            path.pop();
        }
        None
    }
    for candidate in candidates {
        if let Some(cycle) = visit(&candidate.name, &by_name, &mut Vec::new()) {
            return Err(InputError::new(format!(
                "config {source}: ratios form a cycle: {}",
                cycle.join(" -> ")
            ))
            .into());
        }
    }
    Ok(())
}

/// Quote a string as a TOML basic string.
pub(crate) fn toml_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for ch in text.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Write a config as commented TOML that [`Config::parse`] reads back unchanged.
pub(crate) fn to_toml(config: &Config, header_comment: &str) -> String {
    to_toml_with_notes(config, header_comment, &[])
}

/// [`to_toml`] with a comment line above some `[events]` entries (`(nsm's column name,
/// note)`): how `nsm init` chose them.
pub(crate) fn to_toml_with_notes(
    config: &Config,
    header_comment: &str,
    column_notes: &[(&str, String)],
) -> String {
    let mut out = String::new();
    for line in header_comment.lines() {
        out.push_str(&format!("# {line}\n").replace("# \n", "#\n"));
    }
    out.push('\n');
    if let Some(vendor) = config.format {
        // A vendor export has its fields where the vendor keeps them: only the group and the
        // value property are the user's names.
        out.push_str(&format!(
            "# The event files are {}'s export: nsm reads each field where {} keeps it.\n[events]\nformat = {}\n",
            vendor.name(),
            vendor.name(),
            toml_string(vendor.key())
        ));
        let columns = &config.columns;
        out.push_str(&format!(
            "# The account: {}.\naccount_id = {}\n",
            vendor.account_path(&columns.account_id),
            toml_string(&columns.account_id)
        ));
        out.push_str(&format!(
            "# The value: {}.\nvalue = {}\n",
            vendor.value_path(&columns.value),
            toml_string(&columns.value)
        ));
    } else {
        out.push_str(
            "# Column names in the event files (left: nsm's name, right: yours).\n[events]\n",
        );
        for (default, mapped) in config.columns.pairs() {
            for (_, note) in column_notes.iter().filter(|(role, _)| *role == default) {
                out.push_str(&format!("# {note}\n"));
            }
            let fallbacks = &config.columns.user_id_fallbacks;
            if default == crate::ingest::columns::DEFAULT_USER_ID && !fallbacks.is_empty() {
                let names: Vec<String> =
                    config.columns.user_id_columns().map(toml_string).collect();
                out.push_str(&format!("{default} = [{}]\n", names.join(", ")));
            } else {
                out.push_str(&format!("{default} = {}\n", toml_string(mapped)));
            }
        }
    }
    if let Some(zone) = config.timezone {
        out.push_str("# The zone of event times written without one.\n");
        out.push_str(&format!("timezone = {}\n", toml_string(zone.name())));
    }
    out.push('\n');
    if let Some(star) = &config.north_star {
        out.push_str("# The declared north star, checked by `nsm check`.\n[north_star]\n");
        out.push_str(&format!("name = {}\n\n", toml_string(star)));
    }
    for candidate in &config.candidates {
        out.push_str(&format!("# {}\n[[candidate]]\n", candidate.describe()));
        out.push_str(&format!("name = {}\n", toml_string(&candidate.name)));
        out.push_str(&format!("kind = {}\n", toml_string(candidate.kind.name())));
        if let Some(description) = &candidate.description {
            out.push_str(&format!("description = {}\n", toml_string(description)));
        }
        let filter_line = |filter: &EventFilter| match filter.events.as_slice() {
            [] => String::new(),
            [one] => format!("event = {}\n", toml_string(one)),
            many => format!(
                "events = [{}]\n",
                many.iter()
                    .map(|e| toml_string(e))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        let window_lines = |window: &Window, rollup: &Rollup| match window {
            Window::Period => String::new(),
            Window::Week => format!("window = \"week\"\nrollup = \"{}\"\n", rollup.name()),
        };
        match &candidate.kind {
            Kind::ActiveEntities {
                entity,
                filter,
                window,
                rollup,
            } => {
                out.push_str(&format!("entity = \"{}\"\n", entity.name()));
                out.push_str(&filter_line(filter));
                out.push_str(&window_lines(window, rollup));
            }
            Kind::EventCount { filter } | Kind::ValueSum { filter } => {
                out.push_str(&filter_line(filter));
            }
            Kind::ThresholdEntities {
                entity,
                filter,
                window,
                rollup,
                threshold,
            } => {
                out.push_str(&format!("entity = \"{}\"\n", entity.name()));
                out.push_str(&filter_line(filter));
                out.push_str(&window_lines(window, rollup));
                match threshold {
                    Threshold::MinCount(n) => out.push_str(&format!("min_count = {n}\n")),
                    Threshold::MinValue(v) => out.push_str(&format!("min_value = {v:?}\n")),
                }
            }
            Kind::TeamEntities {
                filter,
                window,
                rollup,
                min_members,
            } => {
                out.push_str("entity = \"account\"\n");
                out.push_str(&filter_line(filter));
                out.push_str(&window_lines(window, rollup));
                out.push_str(&format!("min_members = {min_members}\n"));
            }
            Kind::Ratio {
                numerator,
                denominator,
            } => {
                out.push_str(&format!("numerator = {}\n", toml_string(numerator)));
                out.push_str(&format!("denominator = {}\n", toml_string(denominator)));
            }
            Kind::NewEntities { entity, filter } | Kind::CumulativeEntities { entity, filter } => {
                out.push_str(&format!("entity = \"{}\"\n", entity.name()));
                out.push_str(&filter_line(filter));
            }
            Kind::ReturningEntities {
                entity,
                filter,
                within_periods,
            } => {
                out.push_str(&format!("entity = \"{}\"\n", entity.name()));
                out.push_str(&filter_line(filter));
                if let Some(n) = within_periods {
                    out.push_str(&format!("within_periods = {n}\n"));
                }
            }
            Kind::RepeatWithin {
                entity,
                filter,
                nth,
                within_days,
            } => {
                out.push_str(&format!("entity = \"{}\"\n", entity.name()));
                out.push_str(&filter_line(filter));
                out.push_str(&format!("nth = {nth}\nwithin_days = {within_days}\n"));
            }
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = r#"
[events]
timestamp = "ts"

[north_star]
name = "accounts_5plus_meetings"

[[candidate]]
name = "accounts_5plus_meetings"
kind = "threshold_entities"
entity = "account"
event = "meeting_booked"
window = "week"
min_count = 5
rollup = "mean"

[[candidate]]
name = "meetings"
kind = "event_count"
event = "meeting_booked"

[[candidate]]
name = "meetings_per_account"
kind = "ratio"
numerator = "meetings"
denominator = "accounts_5plus_meetings"
"#;

    #[test]
    fn parses_the_spec_example_and_round_trips() {
        let config = Config::parse(EXAMPLE, "nsm.toml").unwrap();
        assert_eq!(config.columns.timestamp, "ts");
        assert_eq!(config.columns.user_id, "user_id");
        assert_eq!(
            config.north_star.as_deref(),
            Some("accounts_5plus_meetings")
        );
        assert_eq!(config.candidates.len(), 3);
        assert_eq!(
            config.candidates[0].kind,
            Kind::ThresholdEntities {
                entity: Entity::Account,
                filter: EventFilter::one("meeting_booked"),
                window: Window::Week,
                rollup: Rollup::Mean,
                threshold: Threshold::MinCount(5),
            }
        );
        let written = to_toml(&config, "test");
        assert_eq!(Config::parse(&written, "written").unwrap(), config);
    }

    #[test]
    fn user_id_fallbacks_and_the_zone_round_trip() {
        let text =
            "[events]\nuser_id = [\"user_id\", \"anonymous_id\"]\ntimezone = \"Europe/Berlin\"\n";
        let config = Config::parse(text, "nsm.toml").unwrap();
        assert_eq!(config.columns.user_id, "user_id");
        assert_eq!(config.columns.user_id_fallbacks, ["anonymous_id"]);
        assert_eq!(config.timezone.map(|z| z.name()), Some("Europe/Berlin"));
        let written = to_toml(&config, "test");
        assert!(
            written.contains("user_id = [\"user_id\", \"anonymous_id\"]"),
            "{written}"
        );
        assert_eq!(Config::parse(&written, "written").unwrap(), config);
        assert!(
            error_of("[events]\ntimezone = \"Mars/Olympus\"\n").contains("not an IANA time zone")
        );
    }

    fn error_of(text: &str) -> String {
        Config::parse(text, "nsm.toml").unwrap_err().to_string()
    }

    #[test]
    fn rejects_bad_configs_with_a_reason() {
        assert!(error_of("[bogus]\nx = 1\n").contains("unknown field `bogus`"));
        assert!(error_of("[[candidate]]\nname = \"a\"\nkind = \"magic\"\n")
            .contains("unknown kind 'magic'"));
        assert!(
            error_of("[[candidate]]\nname = \"a\"\nkind = \"active_entities\"\n")
                .contains("missing field 'entity'")
        );
        let dup = "[[candidate]]\nname = \"a\"\nkind = \"event_count\"\n[[candidate]]\nname = \"a\"\nkind = \"event_count\"\n";
        assert!(error_of(dup).contains("declared twice"));
        let unknown = "[[candidate]]\nname = \"r\"\nkind = \"ratio\"\nnumerator = \"x\"\ndenominator = \"r\"\n";
        assert!(error_of(unknown).contains("unknown candidate 'x'"));
        let cycle = "[[candidate]]\nname = \"a\"\nkind = \"ratio\"\nnumerator = \"b\"\ndenominator = \"b\"\n[[candidate]]\nname = \"b\"\nkind = \"ratio\"\nnumerator = \"a\"\ndenominator = \"a\"\n";
        assert!(error_of(cycle).contains("cycle: a -> b -> a"));
        let line = error_of("\n\n[[candidate]]\nname = 3\n");
        assert!(line.contains("line 4"), "{line}");
    }
}
