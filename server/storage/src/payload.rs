//! Payloads (a small map of key → value per point) and [`PayloadIndex`],
//! the roaring inverted indexes over their keyword, integer and bool values.
//!
//! The index maps `(key, value)` to the set of point ids holding it; float
//! values are stored but not indexed (they cannot be matched).

use std::collections::{BTreeMap, HashMap};

use roaring::RoaringTreemap;
use serde::{Deserialize, Serialize};

use super::StorageError;

/// Longest accepted payload key, in bytes.
pub const MAX_KEY_BYTES: usize = 256;

/// One payload value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Value {
    /// A string, matched exactly.
    Keyword(String),
    /// A signed integer.
    Integer(i64),
    /// A float (not indexed).
    Float(f64),
    /// A boolean.
    Bool(bool),
    /// A list of keywords; matches a keyword condition on any element.
    Keywords(Vec<String>),
}

/// A point's payload: key → value, in key order.
pub type Payload = BTreeMap<String, Value>;

/// Largest accepted payload of one point: its keys and values, in bytes.
/// Every key, value and keyword-list element counts [`ELEMENT_BYTES`] plus
/// the UTF-8 length of its string, so a million empty keywords count as
/// much as they cost. A payload is metadata beside a vector; bulk content
/// belongs in another store.
pub const MAX_PAYLOAD_BYTES: usize = 1 << 20;

/// What each key, value and list element counts against
/// [`MAX_PAYLOAD_BYTES`] besides its string bytes (a number's size; about
/// what an element costs in memory beyond its text).
pub const ELEMENT_BYTES: usize = 8;

/// Checks a payload's keys and size.
///
/// # Errors
/// [`StorageError::InvalidArgument`] for an empty key, one longer than
/// [`MAX_KEY_BYTES`], or a payload above [`MAX_PAYLOAD_BYTES`].
pub fn validate(payload: &Payload) -> Result<(), StorageError> {
    let mut bytes = 0usize;
    for (key, value) in payload {
        if key.is_empty() || key.len() > MAX_KEY_BYTES {
            return Err(StorageError::InvalidArgument(format!(
                "payload key {key:?} must be 1 to {MAX_KEY_BYTES} bytes long"
            )));
        }
        bytes += ELEMENT_BYTES + key.len() + value.size_bytes();
    }
    if bytes > MAX_PAYLOAD_BYTES {
        return Err(StorageError::InvalidArgument(format!(
            "payload is {bytes} bytes; the limit is {MAX_PAYLOAD_BYTES} bytes per point"
        )));
    }
    Ok(())
}

/// An indexed value: what a condition can match.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Term {
    /// A keyword (also each element of a keyword list).
    Keyword(String),
    /// An integer.
    Integer(i64),
    /// A boolean.
    Bool(bool),
}

impl Value {
    /// Bytes counted against [`MAX_PAYLOAD_BYTES`].
    fn size_bytes(&self) -> usize {
        match self {
            Value::Keyword(s) => ELEMENT_BYTES + s.len(),
            Value::Integer(_) | Value::Float(_) | Value::Bool(_) => ELEMENT_BYTES,
            Value::Keywords(list) => {
                ELEMENT_BYTES + list.iter().map(|s| ELEMENT_BYTES + s.len()).sum::<usize>()
            }
        }
    }

    /// The terms this value is indexed under (none for a float).
    pub fn terms(&self) -> Vec<Term> {
        match self {
            Value::Keyword(s) => vec![Term::Keyword(s.clone())],
            Value::Integer(i) => vec![Term::Integer(*i)],
            Value::Bool(b) => vec![Term::Bool(*b)],
            Value::Float(_) => Vec::new(),
            Value::Keywords(list) => list.iter().cloned().map(Term::Keyword).collect(),
        }
    }
}

/// Inverted indexes: `key → term → ids` over the live points.
#[derive(Debug, Default)]
pub struct PayloadIndex {
    postings: HashMap<String, HashMap<Term, RoaringTreemap>>,
}

impl PayloadIndex {
    /// Indexes point `id` under every term of `payload`.
    pub fn insert(&mut self, id: u64, payload: &Payload) {
        for (key, value) in payload {
            let by_term = self.postings.entry(key.clone()).or_default();
            for term in value.terms() {
                by_term.entry(term).or_default().insert(id);
            }
        }
    }

    /// Removes point `id` from every term of `payload` (its indexed payload).
    pub fn remove(&mut self, id: u64, payload: &Payload) {
        for (key, value) in payload {
            let Some(by_term) = self.postings.get_mut(key) else {
                continue;
            };
            for term in value.terms() {
                if let Some(ids) = by_term.get_mut(&term) {
                    ids.remove(id);
                    if ids.is_empty() {
                        by_term.remove(&term);
                    }
                }
            }
            if by_term.is_empty() {
                self.postings.remove(key);
            }
        }
    }

    /// The ids holding an indexed value (not a float) under `key`.
    pub fn holders(&self, key: &str) -> RoaringTreemap {
        self.postings
            .get(key)
            .map(|by_term| {
                by_term
                    .values()
                    .fold(RoaringTreemap::new(), |all, ids| all | ids)
            })
            .unwrap_or_default()
    }

    /// The ids whose value under `key` is (or, for lists, contains) `term`.
    pub fn ids(&self, key: &str, term: &Term) -> Option<&RoaringTreemap> {
        self.postings.get(key)?.get(term)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn payload(pairs: &[(&str, Value)]) -> Payload {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect()
    }

    #[test]
    fn every_element_counts_against_the_payload_limit() {
        let empties = |n: usize| payload(&[("tags", Value::Keywords(vec![String::new(); n]))]);
        // 8 (key) + 4 + 8 (list) + 8 per element.
        let fits = (MAX_PAYLOAD_BYTES - 20) / ELEMENT_BYTES;
        validate(&empties(fits)).unwrap();
        let err = validate(&empties(fits + 1)).unwrap_err().to_string();
        assert!(err.contains("limit is 1048576 bytes per point"), "{err}");
        // The attack of issue 17: 30M empty keywords in 60 MB of protobuf.
        assert!(validate(&empties(200_000)).is_err());
    }

    #[test]
    fn index_finds_every_term_and_forgets_removed_points() {
        let mut index = PayloadIndex::default();
        let a = payload(&[
            ("tag", Value::Keywords(vec!["x".into(), "y".into()])),
            ("n", Value::Integer(3)),
            ("f", Value::Float(0.5)),
        ]);
        let b = payload(&[
            ("tag", Value::Keyword("y".into())),
            ("ok", Value::Bool(true)),
        ]);
        index.insert(1, &a);
        index.insert(2, &b);
        let y = index.ids("tag", &Term::Keyword("y".into())).unwrap();
        assert_eq!(y.iter().collect::<Vec<_>>(), vec![1, 2]);
        assert_eq!(index.ids("n", &Term::Integer(3)).unwrap().len(), 1);
        assert!(index.ids("ok", &Term::Bool(false)).is_none());
        index.remove(1, &a);
        assert_eq!(
            index
                .ids("tag", &Term::Keyword("y".into()))
                .unwrap()
                .iter()
                .collect::<Vec<_>>(),
            vec![2]
        );
        assert!(index.ids("tag", &Term::Keyword("x".into())).is_none());
        assert!(index.ids("n", &Term::Integer(3)).is_none());
    }
}
