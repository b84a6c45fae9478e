//! Payloads as JSON for the CLI: a JSON object read as a [`pb::Payload`]
//! (`import --payloads`), and a payload written back as a JSON object
//! (`query`, `get`).

use serde_json::{Map, Value};
use waypoint_client::pb;
use waypoint_client::pb::value::Kind;

/// A JSON object as a payload: strings become keywords, integers integers,
/// other numbers floats, booleans booleans, lists of strings keyword lists.
/// Anything else (null, nested objects, other lists) is refused, naming
/// the key.
pub(crate) fn from_json(object: &Map<String, Value>) -> Result<pb::Payload, String> {
    let mut fields = std::collections::HashMap::new();
    for (key, value) in object {
        let kind = match value {
            Value::String(s) => Kind::Keyword(s.clone()),
            Value::Bool(b) => Kind::Boolean(*b),
            Value::Number(n) => match n.as_i64() {
                Some(i) => Kind::Integer(i),
                None => Kind::Float(n.as_f64().unwrap_or(f64::NAN)),
            },
            Value::Array(items) => Kind::Keywords(pb::Keywords {
                values: items
                    .iter()
                    .map(|v| v.as_str().map(String::from))
                    .collect::<Option<_>>()
                    .ok_or_else(|| format!("{key:?}: a list must hold only strings"))?,
            }),
            Value::Null | Value::Object(_) => {
                return Err(format!(
                    "{key:?}: expected a string, number, boolean or list of strings"
                ))
            }
        };
        fields.insert(key.clone(), pb::Value { kind: Some(kind) });
    }
    Ok(pb::Payload { fields })
}

/// A payload as a JSON object, keys in sorted order.
pub(crate) fn to_json(payload: Option<&pb::Payload>) -> Value {
    let mut fields: Vec<_> = payload
        .map(|p| p.fields.iter().collect())
        .unwrap_or_default();
    fields.sort_by(|a, b| a.0.cmp(b.0));
    let object = fields
        .into_iter()
        .map(|(key, value)| {
            let v = match &value.kind {
                Some(Kind::Keyword(s)) => Value::from(s.clone()),
                Some(Kind::Integer(i)) => Value::from(*i),
                Some(Kind::Float(f)) => Value::from(*f),
                Some(Kind::Boolean(b)) => Value::from(*b),
                Some(Kind::Keywords(k)) => Value::from(k.values.clone()),
                None => Value::Null,
            };
            (key.clone(), v)
        })
        .collect();
    Value::Object(object)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_payload_survives_json_both_ways() {
        let json = serde_json::json!({"b": true, "f": 1.5, "i": -3, "k": "en", "l": ["x", "y"]});
        let payload = from_json(json.as_object().unwrap()).unwrap();
        assert_eq!(payload.fields.len(), 5);
        assert_eq!(to_json(Some(&payload)), json);
        for bad in [r#"{"n": null}"#, r#"{"o": {}}"#, r#"{"l": [1]}"#] {
            let v: Value = serde_json::from_str(bad).unwrap();
            assert!(from_json(v.as_object().unwrap()).is_err(), "{bad}");
        }
    }
}
