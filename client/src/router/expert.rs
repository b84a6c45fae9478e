//! What the router stores and is asked: [`Expert`], [`Embedding`],
//! [`LibrarySpec`] (the embedding model and dimension a library accepts) and
//! [`ExpertFilter`]. Validation of keys and queries lives here, once, for
//! both backends.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::error::{Result, RouterError};

/// Largest expert id: ids travel as signed 64-bit payload integers and
/// address their keys as `id · 1024 + key` point ids.
pub const MAX_EXPERT_ID: u64 = (1 << 53) - 1;

/// Most keys (task-instruction embeddings) one expert may have.
pub const MAX_KEYS_PER_EXPERT: usize = 1024;

/// One expert: a fine-tuned adapter (e.g. a LoRA) for one task, as GLIDER's
/// expert library holds them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Expert {
    /// Unique id, `0..=MAX_EXPERT_ID`; ties in routing go to the smaller id.
    pub id: u64,
    /// Human-readable name (e.g. the task).
    pub name: String,
    /// Where the adapter weights are (path or URI); not interpreted.
    pub adapter_uri: String,
    /// The base model the adapter was trained on; filters match it exactly.
    pub base_model: String,
    /// Free tags; filters match them exactly.
    pub tags: Vec<String>,
    /// Free key → value annotations.
    pub metadata: BTreeMap<String, String>,
}

impl Expert {
    /// An expert with this id and name and every other field empty.
    pub fn new(id: u64, name: impl Into<String>) -> Self {
        Expert {
            id,
            name: name.into(),
            adapter_uri: String::new(),
            base_model: String::new(),
            tags: Vec::new(),
            metadata: BTreeMap::new(),
        }
    }

    /// Sets the adapter URI.
    pub fn with_adapter_uri(mut self, uri: impl Into<String>) -> Self {
        self.adapter_uri = uri.into();
        self
    }

    /// Sets the base model.
    pub fn with_base_model(mut self, model: impl Into<String>) -> Self {
        self.base_model = model.into();
        self
    }

    /// Adds a tag.
    pub fn with_tag(mut self, tag: impl Into<String>) -> Self {
        self.tags.push(tag.into());
        self
    }

    /// Adds a metadata entry.
    pub fn with_metadata(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.metadata.insert(key.into(), value.into());
        self
    }
}

/// A task-instruction embedding and the model that made it: a key when an
/// expert is registered, a query when routing. Need not be unit length; the
/// router normalises it.
#[derive(Debug, Clone, Copy)]
pub struct Embedding<'a> {
    /// The embedding model's name (e.g. `all-MiniLM-L6-v2`).
    pub model: &'a str,
    /// The components.
    pub values: &'a [f32],
}

impl<'a> Embedding<'a> {
    /// An embedding of `values` made by `model`.
    pub fn new(model: &'a str, values: &'a [f32]) -> Self {
        Embedding { model, values }
    }
}

/// The embedding space of a library, fixed when it is created: keys and
/// queries of another model or dimension are refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LibrarySpec {
    /// The embedding model's name.
    pub model: String,
    /// The embedding dimension.
    pub dim: usize,
}

impl LibrarySpec {
    /// A spec for `dim`-dimensional embeddings of `model`.
    pub fn new(model: impl Into<String>, dim: usize) -> Self {
        LibrarySpec {
            model: model.into(),
            dim,
        }
    }

    /// Checks `embedding` and returns it at unit length in f64.
    ///
    /// # Errors
    /// [`RouterError::ModelMismatch`], [`RouterError::EmptyVector`],
    /// [`RouterError::DimensionMismatch`], [`RouterError::NonFinite`],
    /// [`RouterError::ZeroVector`], in that order of checking.
    pub(crate) fn unit(&self, embedding: &Embedding) -> Result<Vec<f64>> {
        if embedding.model != self.model {
            return Err(RouterError::ModelMismatch {
                expected: self.model.clone(),
                got: embedding.model.to_string(),
            });
        }
        let values = embedding.values;
        if values.is_empty() {
            return Err(RouterError::EmptyVector);
        }
        if values.len() != self.dim {
            return Err(RouterError::DimensionMismatch {
                expected: self.dim,
                got: values.len(),
            });
        }
        if let Some((index, &value)) = values.iter().enumerate().find(|(_, v)| !v.is_finite()) {
            return Err(RouterError::NonFinite { index, value });
        }
        let norm = values
            .iter()
            .map(|&v| f64::from(v) * f64::from(v))
            .sum::<f64>()
            .sqrt();
        if norm == 0.0 {
            return Err(RouterError::ZeroVector);
        }
        Ok(values.iter().map(|&v| f64::from(v) / norm).collect())
    }

    /// Checks an expert and its keys and returns the keys at unit length,
    /// rounded to f32, row-major (`keys.len() · dim`).
    ///
    /// # Errors
    /// [`RouterError::ExpertIdTooLarge`], [`RouterError::KeyCount`], and
    /// those of [`LibrarySpec::unit`] for any key.
    pub(crate) fn unit_keys(&self, expert: &Expert, keys: &[Embedding]) -> Result<Vec<f32>> {
        if expert.id > MAX_EXPERT_ID {
            return Err(RouterError::ExpertIdTooLarge(expert.id));
        }
        if keys.is_empty() || keys.len() > MAX_KEYS_PER_EXPERT {
            return Err(RouterError::KeyCount {
                expert: expert.id,
                keys: keys.len(),
                max: MAX_KEYS_PER_EXPERT,
            });
        }
        let mut out = Vec::with_capacity(keys.len() * self.dim);
        for key in keys {
            out.extend(self.unit(key)?.into_iter().map(|v| v as f32));
        }
        Ok(out)
    }
}

/// Restricts routing to compatible experts: a hard pre-filter, so an
/// excluded expert is never scored, returned or weighted. The empty filter
/// (the default) keeps every expert.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExpertFilter {
    /// Keep only experts whose `base_model` equals this.
    pub base_model: Option<String>,
    /// Keep only experts that carry every one of these tags.
    pub tags: Vec<String>,
}

impl ExpertFilter {
    /// Keeps experts trained on `base_model`.
    pub fn base_model(model: impl Into<String>) -> Self {
        ExpertFilter {
            base_model: Some(model.into()),
            tags: Vec::new(),
        }
    }

    /// Also requires `tag`.
    pub fn with_tag(mut self, tag: impl Into<String>) -> Self {
        self.tags.push(tag.into());
        self
    }

    /// Whether the filter keeps every expert.
    pub fn is_empty(&self) -> bool {
        self.base_model.is_none() && self.tags.is_empty()
    }

    /// Whether `expert` passes.
    pub fn matches(&self, expert: &Expert) -> bool {
        self.base_model
            .as_ref()
            .is_none_or(|model| *model == expert.base_model)
            && self.tags.iter().all(|tag| expert.tags.contains(tag))
    }
}
