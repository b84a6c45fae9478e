//! Filters: `must` / `should` / `must_not` lists of conditions, evaluated
//! against the [`PayloadIndex`] into the set of matching point ids.

use roaring::RoaringTreemap;

use super::payload::{PayloadIndex, Term};

/// One condition.
#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    /// The value under `key` equals (or, for a keyword list, contains) any
    /// of `terms`.
    Match {
        /// The payload key.
        key: String,
        /// Accepted values (one for a plain match, several for any-of).
        terms: Vec<Term>,
    },
    /// The point's id is one of these.
    HasId(Vec<u64>),
}

/// A point passes when it meets every `must`, at least one `should` (when
/// any are given) and no `must_not`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Filter {
    /// All must hold.
    pub must: Vec<Condition>,
    /// At least one must hold, if non-empty.
    pub should: Vec<Condition>,
    /// None may hold.
    pub must_not: Vec<Condition>,
}

impl Filter {
    /// The ids in `live` that pass the filter.
    pub fn evaluate(&self, index: &PayloadIndex, live: &RoaringTreemap) -> RoaringTreemap {
        let mut out = live.clone();
        for c in &self.must {
            out &= c.ids(index);
        }
        if !self.should.is_empty() {
            let mut any = RoaringTreemap::new();
            for c in &self.should {
                any |= c.ids(index);
            }
            out &= any;
        }
        for c in &self.must_not {
            out -= c.ids(index);
        }
        out
    }
}

impl Condition {
    /// The ids meeting this condition (may include ids that are not live).
    fn ids(&self, index: &PayloadIndex) -> RoaringTreemap {
        match self {
            Condition::Match { key, terms } => {
                let mut out = RoaringTreemap::new();
                for term in terms {
                    if let Some(ids) = index.ids(key, term) {
                        out |= ids;
                    }
                }
                out
            }
            Condition::HasId(ids) => ids.iter().copied().collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::payload::{Payload, Value};

    #[test]
    fn must_should_must_not_combine_as_documented() {
        let mut index = PayloadIndex::default();
        let mut live = RoaringTreemap::new();
        for id in 0..10u64 {
            let mut p = Payload::new();
            p.insert(
                "parity".into(),
                Value::Keyword(if id % 2 == 0 { "even" } else { "odd" }.into()),
            );
            p.insert("n".into(), Value::Integer(id as i64));
            index.insert(id, &p);
            live.insert(id);
        }
        let even = Condition::Match {
            key: "parity".into(),
            terms: vec![Term::Keyword("even".into())],
        };
        let small = Condition::Match {
            key: "n".into(),
            terms: (0..5).map(Term::Integer).collect(),
        };
        let filter = Filter {
            must: vec![even],
            should: vec![small, Condition::HasId(vec![8])],
            must_not: vec![Condition::HasId(vec![2])],
        };
        let got: Vec<u64> = filter.evaluate(&index, &live).iter().collect();
        assert_eq!(got, vec![0, 4, 8]);
        assert_eq!(Filter::default().evaluate(&index, &live).len(), 10);
    }
}
