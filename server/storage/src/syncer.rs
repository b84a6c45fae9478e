//! The periodic WAL syncer: one thread fsyncs the WAL of every collection
//! under [`WalSync::Periodic`](super::collection::WalSync::Periodic), each
//! on its own interval, so a thousand collections cost one thread, not a
//! thousand. It holds collections weakly: a dropped collection leaves the
//! schedule at its next turn, and a deleted one (retired) syncs nothing.
//! Syncs run one after another, so a slow disk delays the next ones; the
//! interval is a target, not a deadline.

use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};

use super::collection::Collection;

struct Entry {
    due: Instant,
    interval: Duration,
    collection: Weak<Collection>,
}

#[derive(Default)]
struct Schedule {
    entries: Vec<Entry>,
    closed: bool,
}

#[derive(Default)]
struct Shared {
    schedule: Mutex<Schedule>,
    changed: Condvar,
}

/// The schedule and its thread; dropping it stops the thread.
pub(crate) struct Syncer {
    shared: Arc<Shared>,
}

impl Syncer {
    /// Starts the syncer thread (idle until a collection is added).
    pub(crate) fn start() -> Self {
        let shared = Arc::new(Shared::default());
        let worker = Arc::clone(&shared);
        std::thread::Builder::new()
            .name("wal-sync".into())
            .spawn(move || run(&worker))
            .expect("spawning the WAL sync thread");
        Syncer { shared }
    }

    /// fsyncs `collection`'s WAL every `interval` from now on.
    pub(crate) fn add(&self, collection: &Arc<Collection>, interval: Duration) {
        let mut schedule = self.shared.schedule.lock();
        schedule.entries.push(Entry {
            due: Instant::now() + interval,
            interval,
            collection: Arc::downgrade(collection),
        });
        self.shared.changed.notify_one();
    }
}

impl Drop for Syncer {
    fn drop(&mut self) {
        self.shared.schedule.lock().closed = true;
        self.shared.changed.notify_one();
    }
}

/// The thread: sleeps until the earliest due entry, syncs every due one
/// (outside the schedule's lock), reschedules them, repeats until closed.
fn run(shared: &Shared) {
    let mut schedule = shared.schedule.lock();
    loop {
        if schedule.closed {
            return;
        }
        let now = Instant::now();
        schedule.entries.retain(|e| e.collection.strong_count() > 0);
        let mut due = Vec::new();
        for entry in &mut schedule.entries {
            if entry.due <= now {
                entry.due = now + entry.interval;
                due.extend(entry.collection.upgrade());
            }
        }
        if due.is_empty() {
            match schedule.entries.iter().map(|e| e.due).min() {
                Some(next) => {
                    shared.changed.wait_until(&mut schedule, next);
                }
                None => shared.changed.wait(&mut schedule),
            }
            continue;
        }
        drop(schedule);
        for c in due {
            if let Err(e) = c.sync() {
                tracing::error!(collection = %c.config().name, error = %e, "periodic WAL sync failed");
            }
        }
        schedule = shared.schedule.lock();
    }
}
