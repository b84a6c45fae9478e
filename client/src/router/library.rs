//! [`ExpertLibrary`]: the router's one API over its two backends. Checks
//! every input here (model, dimension, finiteness, `top_k`, temperature),
//! asks the backend for candidates, then ranks them and computes the
//! softmax weights, so both backends answer the same way.

use std::path::Path;

use super::embedded::{self, Embedded};
use super::error::{Result, RouterError};
use super::expert::{Embedding, Expert, ExpertFilter, LibrarySpec};
use super::remote::Remote;
use super::{score, Aggregation, GlobalScores, RouteOptions, RoutedExpert};
use crate::client::Client;

enum Backend {
    Embedded(Box<Embedded>),
    Remote(Box<Remote>),
}

/// A library of experts, each registered with one or more task-instruction
/// embeddings (keys), that routes a query embedding to its best experts.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// use waypoint_client::router::{Embedding, Expert, ExpertLibrary, LibrarySpec, RouteOptions};
///
/// let mut library = ExpertLibrary::in_memory(LibrarySpec::new("toy", 2))?;
/// library.add(Expert::new(1, "summarise"), &[Embedding::new("toy", &[1.0, 0.0])]).await?;
/// library.add(Expert::new(2, "translate"), &[Embedding::new("toy", &[0.0, 1.0])]).await?;
/// let routed = library
///     .route(Embedding::new("toy", &[0.9, 0.1]), &RouteOptions::default().with_top_k(1))
///     .await?;
/// assert_eq!(routed[0].expert.name, "summarise");
/// assert_eq!(routed[0].weight, 1.0);
/// # Ok::<(), waypoint_client::router::RouterError>(())
/// # }).unwrap();
/// ```
pub struct ExpertLibrary {
    backend: Backend,
}

impl ExpertLibrary {
    /// An empty embedded library that lives only in memory.
    ///
    /// # Errors
    /// [`RouterError::Index`] for a dimension the engine refuses.
    pub fn in_memory(spec: LibrarySpec) -> Result<Self> {
        Ok(ExpertLibrary {
            backend: Backend::Embedded(Box::new(Embedded::new(spec, None)?)),
        })
    }

    /// A new, empty embedded library saved in directory `dir` (created if
    /// needed) by [`ExpertLibrary::save`].
    ///
    /// # Errors
    /// [`RouterError::Storage`] if `dir` cannot be created or already holds
    /// a library; [`RouterError::Index`] for a dimension the engine refuses.
    pub fn create_embedded(dir: impl AsRef<Path>, spec: LibrarySpec) -> Result<Self> {
        let dir = dir.as_ref();
        std::fs::create_dir_all(dir).map_err(|e| RouterError::Storage {
            path: dir.to_path_buf(),
            reason: e.to_string(),
        })?;
        if embedded::exists(dir) {
            return Err(RouterError::Storage {
                path: dir.to_path_buf(),
                reason: "already holds a library; open it instead".into(),
            });
        }
        let library = ExpertLibrary {
            backend: Backend::Embedded(Box::new(Embedded::new(spec, Some(dir.to_path_buf()))?)),
        };
        library.save()?;
        Ok(library)
    }

    /// Opens the embedded library saved in `dir`.
    ///
    /// # Errors
    /// [`RouterError::Storage`] or [`RouterError::Index`] for missing or
    /// damaged files.
    pub fn open_embedded(dir: impl AsRef<Path>) -> Result<Self> {
        Ok(ExpertLibrary {
            backend: Backend::Embedded(Box::new(Embedded::open(dir.as_ref())?)),
        })
    }

    /// A new, empty library named `name` (1 to 58 characters from
    /// `[A-Za-z0-9_-]`) on the server behind `client`: collections
    /// `name-keys`, `name-means` and `name-meta`.
    ///
    /// # Errors
    /// [`RouterError::InvalidName`]; [`RouterError::Client`] with
    /// `AlreadyExists` if the library exists, or any server failure.
    pub async fn create_remote(client: Client, name: &str, spec: LibrarySpec) -> Result<Self> {
        Ok(ExpertLibrary {
            backend: Backend::Remote(Box::new(Remote::create(client, name, spec).await?)),
        })
    }

    /// Opens the library `name` on the server behind `client`.
    ///
    /// # Errors
    /// [`RouterError::Client`] with `NotFound` if it does not exist;
    /// [`RouterError::Inconsistent`] if its record is damaged.
    pub async fn open_remote(client: Client, name: &str) -> Result<Self> {
        Ok(ExpertLibrary {
            backend: Backend::Remote(Box::new(Remote::open(client, name).await?)),
        })
    }

    /// The embedding model and dimension this library accepts.
    pub fn spec(&self) -> &LibrarySpec {
        match &self.backend {
            Backend::Embedded(b) => b.spec(),
            Backend::Remote(b) => b.spec(),
        }
    }

    /// Number of registered experts.
    ///
    /// # Errors
    /// Remote: [`RouterError::Client`].
    pub async fn len(&self) -> Result<usize> {
        match &self.backend {
            Backend::Embedded(b) => Ok(b.len()),
            Backend::Remote(b) => b.len().await,
        }
    }

    /// Whether no expert is registered.
    ///
    /// # Errors
    /// As [`ExpertLibrary::len`].
    pub async fn is_empty(&self) -> Result<bool> {
        Ok(self.len().await? == 0)
    }

    /// Registers `expert` with its keys (normalised to unit length).
    ///
    /// # Errors
    /// [`RouterError::DuplicateExpert`] if the id is registered; the key
    /// checks of [`ExpertLibrary::add_many`].
    pub async fn add(&mut self, expert: Expert, keys: &[Embedding<'_>]) -> Result<()> {
        self.add_many(vec![(expert, keys.to_vec())]).await
    }

    /// Registers several experts at once (batched writes). Nothing is
    /// written when any input is refused.
    ///
    /// # Errors
    /// [`RouterError::DuplicateExpert`] for a registered or repeated id;
    /// [`RouterError::KeyCount`], [`RouterError::ExpertIdTooLarge`],
    /// [`RouterError::ModelMismatch`], [`RouterError::DimensionMismatch`],
    /// [`RouterError::EmptyVector`], [`RouterError::NonFinite`],
    /// [`RouterError::ZeroVector`] for a bad key; backend failures.
    pub async fn add_many(&mut self, experts: Vec<(Expert, Vec<Embedding<'_>>)>) -> Result<()> {
        let mut checked = Vec::with_capacity(experts.len());
        for (expert, keys) in experts {
            let unit = self.spec().unit_keys(&expert, &keys)?;
            checked.push((expert, unit));
        }
        match &mut self.backend {
            Backend::Embedded(b) => b.add_many(checked),
            Backend::Remote(b) => b.add_many(checked).await,
        }
    }

    /// Replaces a registered expert's record and all its keys.
    ///
    /// # Errors
    /// [`RouterError::UnknownExpert`]; the key checks of
    /// [`ExpertLibrary::add_many`]; backend failures.
    pub async fn update(&mut self, expert: Expert, keys: &[Embedding<'_>]) -> Result<()> {
        let unit = self.spec().unit_keys(&expert, keys)?;
        match &mut self.backend {
            Backend::Embedded(b) => b.update(expert, unit),
            Backend::Remote(b) => b.update(expert, unit).await,
        }
    }

    /// Removes a registered expert and its keys.
    ///
    /// # Errors
    /// [`RouterError::UnknownExpert`]; backend failures.
    pub async fn remove(&mut self, id: u64) -> Result<()> {
        match &mut self.backend {
            Backend::Embedded(b) => b.remove(id),
            Backend::Remote(b) => b.remove(id).await,
        }
    }

    /// Writes an embedded library's files (a no-op for an in-memory or
    /// remote library, whose server writes durably on every call).
    ///
    /// # Errors
    /// [`RouterError::Storage`], [`RouterError::Index`].
    pub fn save(&self) -> Result<()> {
        match &self.backend {
            Backend::Embedded(b) => b.save(),
            Backend::Remote(_) => Ok(()),
        }
    }

    /// The `top_k` experts for `query`, best first (descending score, ties →
    /// smaller id), with their cosine score in [-1, 1] and their weight, the
    /// softmax of `score / temperature` over the returned experts. Only
    /// experts passing `options.filter` are considered. An empty library
    /// (or a filter nobody passes) gives an empty list.
    ///
    /// With `options.exact` set every matching expert is scored (the
    /// brute-force answer); cleared, the HNSW graph proposes candidates;
    /// unset, the library's size decides (see [`RouteOptions::exact`]).
    ///
    /// # Errors
    /// [`RouterError::ZeroTopK`], [`RouterError::InvalidTemperature`], the
    /// embedding checks ([`RouterError::ModelMismatch`],
    /// [`RouterError::EmptyVector`], [`RouterError::DimensionMismatch`],
    /// [`RouterError::NonFinite`], [`RouterError::ZeroVector`]); backend
    /// failures.
    pub async fn route(
        &self,
        query: Embedding<'_>,
        options: &RouteOptions,
    ) -> Result<Vec<RoutedExpert>> {
        if options.top_k == 0 {
            return Err(RouterError::ZeroTopK);
        }
        if !(options.temperature.is_finite() && options.temperature > 0.0) {
            return Err(RouterError::InvalidTemperature(options.temperature));
        }
        let query = self.spec().unit(&query)?;
        let mut routed = match &self.backend {
            Backend::Embedded(b) => b.route(&query, options)?,
            Backend::Remote(b) => b.route(&query, options).await?,
        };
        score::rank(&mut routed, |r| (r.score, r.expert.id));
        routed.truncate(options.top_k);
        score::set_softmax_weights(&mut routed, options.temperature);
        Ok(routed)
    }

    /// GLIDER's routing bias: the exact score of every expert passing
    /// `filter`, in expert-id order (empty for an empty library).
    ///
    /// # Errors
    /// The embedding checks of [`ExpertLibrary::route`]; backend failures
    /// (remote: more matching experts than the server's max k).
    pub async fn global_scores(
        &self,
        query: Embedding<'_>,
        aggregation: Aggregation,
        filter: &ExpertFilter,
    ) -> Result<GlobalScores> {
        let query = self.spec().unit(&query)?;
        match &self.backend {
            Backend::Embedded(b) => Ok(b.global_scores(&query, aggregation, filter)),
            Backend::Remote(b) => b.global_scores(&query, aggregation, filter).await,
        }
    }
}
