//! `--filter`: a payload filter in a short readable syntax or in JSON, parsed
//! into the API's [`pb::Filter`].
//!
//! Readable: conditions joined by `and`, each `key=value` (must match) or
//! `key!=value` (must not), where `value` may be several alternatives
//! separated by `|` (any of them). A bare value that parses as an integer
//! is an integer, `true`/`false` a boolean, anything else a keyword; quote
//! it (`"2024"`) to force a keyword. `has_id=3|7` matches point ids.
//!
//! ```text
//! lang=en and year=2024 and tag!=draft      colour="dark blue"|red
//! ```
//!
//! JSON (starts with `{`), in Qdrant's shape: `{"must": [..], "should": [..],
//! "must_not": [..]}`, each condition `{"key": K, "match": {"value": V}}`,
//! `{"key": K, "match": {"any": [V, ..]}}` or `{"has_id": [ids]}`.

use waypoint_client::pb;

/// Parses `text` (readable or JSON) into a filter; the error says what was
/// wrong and what was expected.
pub(crate) fn parse(text: &str) -> Result<pb::Filter, String> {
    if text.trim_start().starts_with('{') {
        json(text)
    } else {
        readable(text)
    }
}

/// A value of the readable syntax: quoted (always a keyword) or bare.
enum Word {
    Quoted(String),
    Bare(String),
}

/// Splits `text` into words and the operators `=`, `!=`, `|`.
fn tokens(text: &str) -> Result<Vec<Token>, String> {
    let mut out = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(&c) = chars.peek() {
        match c {
            c if c.is_whitespace() => {
                chars.next();
            }
            '=' | '|' => {
                chars.next();
                out.push(Token::Op(c));
            }
            '!' => {
                chars.next();
                if chars.next() != Some('=') {
                    return Err("`!` must be followed by `=` (key!=value)".into());
                }
                out.push(Token::Op('!'));
            }
            '"' => {
                chars.next();
                let mut word = String::new();
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(e) => word.push(e),
                            None => return Err("unterminated quoted value".into()),
                        },
                        Some(c) => word.push(c),
                        None => return Err(format!("unterminated quoted value \"{word}")),
                    }
                }
                out.push(Token::Word(Word::Quoted(word)));
            }
            _ => {
                let mut word = String::new();
                while let Some(&c) = chars.peek() {
                    if c.is_whitespace() || matches!(c, '=' | '|' | '!' | '"') {
                        break;
                    }
                    word.push(c);
                    chars.next();
                }
                out.push(Token::Word(Word::Bare(word)));
            }
        }
    }
    Ok(out)
}

enum Token {
    Word(Word),
    /// `=`, `|`, or `!` for `!=`.
    Op(char),
}

const READABLE: &str = "expected conditions like key=value, key!=value or key=a|b, joined by `and`";

fn readable(text: &str) -> Result<pb::Filter, String> {
    let tokens = tokens(text)?;
    let mut filter = pb::Filter::default();
    let mut rest = tokens.as_slice();
    loop {
        let (key, negated, tail) = match rest {
            [Token::Word(Word::Bare(k) | Word::Quoted(k)), Token::Op(op @ ('=' | '!')), tail @ ..] => {
                (k.clone(), *op == '!', tail)
            }
            _ => return Err(format!("{text:?}: {READABLE}")),
        };
        let mut values = Vec::new();
        rest = tail;
        loop {
            match rest {
                [Token::Word(w), tail @ ..] => {
                    values.push(w);
                    rest = tail;
                }
                _ => return Err(format!("{text:?}: a value is missing after {key}=")),
            }
            match rest {
                [Token::Op('|'), tail @ ..] => rest = tail,
                _ => break,
            }
        }
        let condition = condition(&key, &values).map_err(|e| format!("{text:?}: {e}"))?;
        if negated {
            filter.must_not.push(condition);
        } else {
            filter.must.push(condition);
        }
        match rest {
            [] => return Ok(filter),
            [Token::Word(Word::Bare(and)), tail @ ..] if and == "and" => rest = tail,
            _ => return Err(format!("{text:?}: {READABLE}")),
        }
    }
}

/// A bare word as the value it reads as.
enum Typed {
    Keyword(String),
    Integer(i64),
    Boolean(bool),
}

fn typed(word: &Word) -> Typed {
    match word {
        Word::Quoted(s) => Typed::Keyword(s.clone()),
        Word::Bare(s) => match s.as_str() {
            "true" => Typed::Boolean(true),
            "false" => Typed::Boolean(false),
            _ => s
                .parse()
                .map_or_else(|_| Typed::Keyword(s.clone()), Typed::Integer),
        },
    }
}

fn condition(key: &str, values: &[&Word]) -> Result<pb::Condition, String> {
    let values: Vec<Typed> = values.iter().map(|w| typed(w)).collect();
    if key == "has_id" {
        let ids = values
            .iter()
            .map(|v| match v {
                Typed::Integer(i) => u64::try_from(*i).ok(),
                _ => None,
            })
            .collect::<Option<Vec<u64>>>()
            .ok_or("has_id= takes point ids (non-negative integers)")?;
        return Ok(has_id(ids));
    }
    let value = match values.as_slice() {
        [Typed::Keyword(s)] => pb::r#match::Value::Keyword(s.clone()),
        [Typed::Integer(i)] => pb::r#match::Value::Integer(*i),
        [Typed::Boolean(b)] => pb::r#match::Value::Boolean(*b),
        many => {
            if let Some(all) = many
                .iter()
                .map(|v| match v {
                    Typed::Keyword(s) => Some(s.clone()),
                    _ => None,
                })
                .collect::<Option<Vec<_>>>()
            {
                pb::r#match::Value::AnyKeyword(pb::Keywords { values: all })
            } else if let Some(all) = many
                .iter()
                .map(|v| match v {
                    Typed::Integer(i) => Some(*i),
                    _ => None,
                })
                .collect::<Option<Vec<_>>>()
            {
                pb::r#match::Value::AnyInteger(pb::Integers { values: all })
            } else {
                return Err(format!(
                    "{key}: alternatives must be all keywords or all integers (quote a number to make it a keyword)"
                ));
            }
        }
    };
    Ok(matching(key, value))
}

fn matching(key: &str, value: pb::r#match::Value) -> pb::Condition {
    pb::Condition {
        condition: Some(pb::condition::Condition::Match(pb::Match {
            key: key.to_string(),
            value: Some(value),
        })),
    }
}

fn has_id(ids: Vec<u64>) -> pb::Condition {
    pb::Condition {
        condition: Some(pb::condition::Condition::HasId(pb::HasId { ids })),
    }
}

const JSON: &str = r#"expected {"must"|"should"|"must_not": [conditions]}, each {"key": K, "match": {"value": V}}, {"key": K, "match": {"any": [V, ..]}} or {"has_id": [ids]}"#;

fn json(text: &str) -> Result<pb::Filter, String> {
    let v: serde_json::Value =
        serde_json::from_str(text).map_err(|e| format!("--filter is not valid JSON: {e}"))?;
    let object = v.as_object().ok_or(JSON)?;
    let mut filter = pb::Filter::default();
    for (clause, conditions) in object {
        let target = match clause.as_str() {
            "must" => &mut filter.must,
            "should" => &mut filter.should,
            "must_not" => &mut filter.must_not,
            other => return Err(format!("unknown clause {other:?}: {JSON}")),
        };
        let list = conditions
            .as_array()
            .ok_or_else(|| format!("{clause} must be a list: {JSON}"))?;
        for c in list {
            target.push(json_condition(c).map_err(|e| format!("{clause}: {c}: {e}"))?);
        }
    }
    Ok(filter)
}

fn json_condition(c: &serde_json::Value) -> Result<pb::Condition, String> {
    if let Some(ids) = c.get("has_id") {
        let ids = ids
            .as_array()
            .and_then(|a| a.iter().map(serde_json::Value::as_u64).collect())
            .ok_or("has_id must be a list of point ids (non-negative integers)")?;
        return Ok(has_id(ids));
    }
    let (Some(key), Some(m)) = (c.get("key").and_then(|k| k.as_str()), c.get("match")) else {
        return Err(JSON.into());
    };
    let scalar = |v: &serde_json::Value| -> Option<Typed> {
        match v {
            serde_json::Value::String(s) => Some(Typed::Keyword(s.clone())),
            serde_json::Value::Bool(b) => Some(Typed::Boolean(*b)),
            serde_json::Value::Number(n) => n.as_i64().map(Typed::Integer),
            _ => None,
        }
    };
    let bad = "a match value must be a string, an integer or a boolean";
    let value = match (m.get("value"), m.get("any")) {
        (Some(v), None) => match scalar(v).ok_or(bad)? {
            Typed::Keyword(s) => pb::r#match::Value::Keyword(s),
            Typed::Integer(i) => pb::r#match::Value::Integer(i),
            Typed::Boolean(b) => pb::r#match::Value::Boolean(b),
        },
        (None, Some(serde_json::Value::Array(any))) => {
            if let Some(all) = any.iter().map(|v| v.as_str().map(String::from)).collect() {
                pb::r#match::Value::AnyKeyword(pb::Keywords { values: all })
            } else if let Some(all) = any.iter().map(serde_json::Value::as_i64).collect() {
                pb::r#match::Value::AnyInteger(pb::Integers { values: all })
            } else {
                return Err("any must list only strings or only integers".into());
            }
        }
        _ => return Err(r#"match must be {"value": V} or {"any": [V, ..]}"#.into()),
    };
    Ok(matching(key, value))
}

#[cfg(test)]
mod tests {
    use super::*;
    use pb::r#match::Value as V;

    fn matched(c: &pb::Condition) -> (&str, &V) {
        match &c.condition {
            Some(pb::condition::Condition::Match(m)) => (&m.key, m.value.as_ref().unwrap()),
            other => panic!("not a match: {other:?}"),
        }
    }

    #[test]
    fn readable_conditions_become_must_and_must_not_with_typed_values() {
        let f =
            parse(r#"lang=en and year=2024 and draft!=true and tag="2024" and c=a|"b c""#).unwrap();
        assert_eq!(f.must.len(), 4);
        assert_eq!(matched(&f.must[0]), ("lang", &V::Keyword("en".into())));
        assert_eq!(matched(&f.must[1]), ("year", &V::Integer(2024)));
        assert_eq!(matched(&f.must[2]), ("tag", &V::Keyword("2024".into())));
        assert_eq!(
            matched(&f.must[3]),
            (
                "c",
                &V::AnyKeyword(pb::Keywords {
                    values: vec!["a".into(), "b c".into()]
                })
            )
        );
        assert_eq!(matched(&f.must_not[0]), ("draft", &V::Boolean(true)));
        let ids = parse("has_id=3|7").unwrap();
        assert_eq!(
            ids.must[0].condition,
            Some(pb::condition::Condition::HasId(pb::HasId {
                ids: vec![3, 7]
            }))
        );
    }

    #[test]
    fn json_in_qdrant_shape_gives_the_same_filter() {
        let readable = parse("lang=en and n=1|2 and has_id=5 and x!=false").unwrap();
        let json = parse(
            r#"{"must": [{"key": "lang", "match": {"value": "en"}},
                         {"key": "n", "match": {"any": [1, 2]}}, {"has_id": [5]}],
                "must_not": [{"key": "x", "match": {"value": false}}]}"#,
        )
        .unwrap();
        assert_eq!(readable, json);
        assert_eq!(parse(r#"{"should": []}"#).unwrap(), pb::Filter::default());
    }

    #[test]
    fn malformed_filters_say_what_was_expected() {
        for (text, expected) in [
            ("lang", "expected conditions like key=value"),
            ("lang=", "a value is missing after lang="),
            ("a=1 b=2", "joined by `and`"),
            ("a=1 or b=2", "joined by `and`"),
            ("a!b", "`!` must be followed by `=`"),
            ("a=\"open", "unterminated quoted value"),
            ("a=1|x", "all keywords or all integers"),
            ("has_id=x", "point ids"),
            ("{\"must\": 1}", "must must be a list"),
            ("{\"if\": []}", "unknown clause \"if\""),
            ("{\"must\": [{\"key\": \"a\"}]}", "expected {\"must\""),
            (
                "{\"must\": [{\"key\": \"a\", \"match\": {\"value\": 1.5}}]}",
                "a match value must be",
            ),
            ("{bad", "not valid JSON"),
        ] {
            let e = parse(text).unwrap_err();
            assert!(e.contains(expected), "{text}: {e}");
        }
    }
}
