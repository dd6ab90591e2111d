//! JSON records parsed into only the fields nsm reads: the rest of each object is skipped by
//! the parser without being built. A vendor's event carries dozens of fields (library, device,
//! location, every property); building them all as `Value`s and dropping them again costs
//! most of the time of reading an export.

use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

/// Which fields of an object to keep: all of a value, or the named keys of an object (each
/// with what to keep of it). A value that is not an object is kept whole either way.
#[derive(Debug, Clone)]
pub(super) enum Keep {
    All,
    Keys(Vec<(String, Keep)>),
}

impl Keep {
    /// The given keys, each kept whole.
    pub(super) fn keys(names: &[&str]) -> Keep {
        Keep::Keys(names.iter().map(|n| (n.to_string(), Keep::All)).collect())
    }

    /// These keys, and `key` with what `inner` keeps of it.
    pub(super) fn with(self, key: &str, inner: Keep) -> Keep {
        match self {
            Keep::All => Keep::All,
            Keep::Keys(mut keys) => {
                match keys.iter_mut().find(|(k, _)| k == key) {
                    Some((_, slot)) => *slot = inner,
                    None => keys.push((key.to_string(), inner)),
                }
                Keep::Keys(keys)
            }
        }
    }

    /// What to keep of the value under `key` (all of it when nothing is said).
    pub(super) fn child_of(&self, key: &str) -> &Keep {
        self.child(key).unwrap_or(&Keep::All)
    }

    /// What to keep of the value under `key`, if anything.
    fn child(&self, key: &str) -> Option<&Keep> {
        match self {
            Keep::All => Some(&Keep::All),
            Keep::Keys(keys) => keys.iter().find(|(k, _)| k == key).map(|(_, keep)| keep),
        }
    }
}

/// Parse `text` as JSON, keeping of objects only what `keep` names.
pub(super) fn parse(text: &str, keep: &Keep) -> serde_json::Result<Value> {
    let mut deserializer = serde_json::Deserializer::from_str(text);
    let value = Pruned(keep).deserialize(&mut deserializer)?;
    deserializer.end()?;
    Ok(value)
}

struct Pruned<'k>(&'k Keep);

impl<'de> DeserializeSeed<'de> for Pruned<'_> {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        match self.0 {
            Keep::All => serde::Deserialize::deserialize(deserializer),
            keys => deserializer.deserialize_any(PrunedVisitor(keys)),
        }
    }
}

struct PrunedVisitor<'k>(&'k Keep);

impl<'de> Visitor<'de> for PrunedVisitor<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Number::from_f64(v).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_string()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        // An array is kept whole: vendors put ids (a group's several ids) in arrays.
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Value>()? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            match self.0.child(&key) {
                Some(keep) => {
                    let value = map.next_value_seed(Pruned(keep))?;
                    out.insert(key.into_owned(), value);
                }
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(Value::Object(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_named_paths_and_skips_the_rest() {
        let keep = Keep::keys(&["event", "groups"]).with("properties", Keep::keys(&["plan"]));
        let text = r#"{"event":"a","noise":{"deep":[1,2,{"x":"y"}]},"groups":{"org":["o1"]},
            "properties":{"plan":"pro","other":1.5,"nested":{"k":"v"}},"n":null}"#;
        let value = parse(text, &keep).unwrap();
        assert_eq!(
            value,
            serde_json::json!({"event":"a","groups":{"org":["o1"]},"properties":{"plan":"pro"}})
        );
        // Not an object where one is named: kept whole (PostHog's properties as text).
        let value = parse(r#"{"properties":"{\"plan\":1}","event":7}"#, &keep).unwrap();
        assert_eq!(
            value,
            serde_json::json!({"properties":"{\"plan\":1}","event":7})
        );
        // What is not JSON, or has trailing text, is an error as with serde_json itself.
        assert!(parse(r#"{"event":"a"} x"#, &keep).is_err());
        assert!(parse(r#"{"event":"a""#, &keep).is_err());
        assert_eq!(parse("[1,{}]", &keep).unwrap(), serde_json::json!([1, {}]));
    }

    #[test]
    fn escaped_keys_are_matched_by_their_text() {
        let keep = Keep::keys(&["$insert_id"]);
        let value = parse(r#"{"\u0024insert_id":"i1","x":"\"q\""}"#, &keep).unwrap();
        assert_eq!(value, serde_json::json!({"$insert_id":"i1"}));
    }
}
