//! [`Cancel`]: lets a caller stop a search whose answer nobody waits for
//! any more (the client's deadline passed, or it reset the stream).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use super::StorageError;

/// A flag checked between the steps of a search (each segment, each query
/// of a batch). The default is never cancelled.
#[derive(Debug, Clone, Default)]
pub struct Cancel(Option<Arc<AtomicBool>>);

impl Cancel {
    /// A flag that [`CancelOnDrop`] raises.
    pub fn new() -> (Cancel, CancelOnDrop) {
        let flag = Arc::new(AtomicBool::new(false));
        (Cancel(Some(Arc::clone(&flag))), CancelOnDrop(flag))
    }

    /// [`StorageError::Cancelled`] once cancelled.
    ///
    /// # Errors
    /// As above.
    pub fn check(&self) -> Result<(), StorageError> {
        match &self.0 {
            Some(flag) if flag.load(Ordering::Relaxed) => Err(StorageError::Cancelled),
            _ => Ok(()),
        }
    }
}

/// Cancels its [`Cancel`] when dropped (e.g. with the future of a call
/// that hyper dropped because the client went away).
#[derive(Debug)]
pub struct CancelOnDrop(Arc<AtomicBool>);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}
