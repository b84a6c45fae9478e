//! Keeps a file truncated under a live mapping from killing the process.
//!
//! Reading a page of a shared file mapping that now lies past the file's
//! end raises `SIGBUS`, whose default action ends the process. A view
//! registers its mapping here ([`Guard::register`]); a process-wide
//! `SIGBUS` handler, installed on the first registration, looks the
//! faulting address up among the registered mappings and, when it falls in
//! one, marks that mapping damaged and maps an anonymous zero page over the
//! faulting page (`mmap(MAP_FIXED)`). The handler returns, the load runs
//! again and reads zeros, and the view, which checks the mark after every
//! read ([`Guard::is_damaged`]), reports the file as changed instead of
//! returning what it read. The JVM turns such faults on mapped buffers into
//! an exception in the same spirit.
//!
//! A fault anywhere else puts back the action installed before ours (the
//! default, or Rust's stack-overflow reporter) and lets the fault repeat
//! under it, so this module never hides a bug outside a registered mapping.
//!
//! Linux only; elsewhere [`Guard`] guards nothing. The handler must never
//! allocate, lock or call anything but atomics, `mmap`, `sigaction` and
//! `raise`: all it reads is the fixed registry below.

#[cfg(target_os = "linux")]
pub(crate) use linux::Guard;

#[cfg(not(target_os = "linux"))]
pub(crate) use other::Guard;

#[cfg(target_os = "linux")]
mod linux {
    use std::sync::atomic::{fence, AtomicBool, AtomicUsize, Ordering};
    use std::sync::OnceLock;

    /// How many mappings can be guarded at once (one per open view); a view
    /// opened beyond that is unguarded. 64 Ki slots are 2 MiB of address
    /// space, of which only the pages up to the high-water mark are touched.
    const SLOTS: usize = 1 << 16;

    /// One registered mapping `[start, end)`. `end` is stored last on
    /// registration and cleared first on release, so the handler never
    /// pairs a new start with an old end.
    struct Slot {
        taken: AtomicBool,
        start: AtomicUsize,
        end: AtomicUsize,
        damaged: AtomicBool,
    }

    #[allow(clippy::declare_interior_mutable_const)] // a template for the array below
    const FREE: Slot = Slot {
        taken: AtomicBool::new(false),
        start: AtomicUsize::new(0),
        end: AtomicUsize::new(0),
        damaged: AtomicBool::new(false),
    };

    static REGISTRY: [Slot; SLOTS] = [FREE; SLOTS];
    /// Slots at or above this index have never been used.
    static HIGH_WATER: AtomicUsize = AtomicUsize::new(0);

    /// The page size, set before the handler is installed.
    static PAGE_SIZE: AtomicUsize = AtomicUsize::new(0);

    /// The `SIGBUS` action ours replaced, set before ours is installed.
    struct Previous(libc::sigaction);

    // SAFETY: plain data (a handler address, flags and a signal mask),
    // never written after it is set.
    unsafe impl Sync for Previous {}
    unsafe impl Send for Previous {}

    static PREVIOUS: OnceLock<Previous> = OnceLock::new();
    /// Whether the handler is in place (decided once).
    static INSTALLED: OnceLock<bool> = OnceLock::new();

    /// A registered mapping; released on drop. Drop it before the mapping
    /// is unmapped.
    pub(crate) struct Guard {
        slot: Option<&'static Slot>,
    }

    impl Guard {
        /// Registers the mapping at `start..start + len` and installs the
        /// handler if this is the first. Unguarded (see [`Guard::is_guarded`])
        /// if the handler could not be installed or every slot is taken.
        pub(crate) fn register(start: *const u8, len: usize) -> Guard {
            if !*INSTALLED.get_or_init(install) || len == 0 {
                return Guard { slot: None };
            }
            let slot = REGISTRY.iter().enumerate().find_map(|(i, s)| {
                s.taken
                    .compare_exchange(false, true, Ordering::AcqRel, Ordering::Relaxed)
                    .is_ok()
                    .then(|| {
                        HIGH_WATER.fetch_max(i + 1, Ordering::AcqRel);
                        s
                    })
            });
            if let Some(s) = slot {
                s.damaged.store(false, Ordering::SeqCst);
                s.start.store(start as usize, Ordering::SeqCst);
                s.end.store(start as usize + len, Ordering::SeqCst);
            }
            Guard { slot }
        }

        /// Whether a truncation fault was caught in this mapping (then some
        /// of its pages read as zeros from the fault on).
        pub(crate) fn is_damaged(&self) -> bool {
            // The handler marks the slot before it maps the zero page, and
            // this fence keeps every earlier read of the mapping before the
            // load: a read that saw a zero page sees the mark.
            fence(Ordering::SeqCst);
            self.slot.is_some_and(|s| s.damaged.load(Ordering::SeqCst))
        }

        /// Whether truncation faults in this mapping are caught.
        pub(crate) fn is_guarded(&self) -> bool {
            self.slot.is_some()
        }
    }

    impl Drop for Guard {
        fn drop(&mut self) {
            if let Some(s) = self.slot {
                s.end.store(0, Ordering::SeqCst);
                s.start.store(0, Ordering::SeqCst);
                s.taken.store(false, Ordering::Release);
            }
        }
    }

    /// Installs the handler, keeping the action it replaces; `false` if
    /// the system refused.
    fn install() -> bool {
        // SAFETY: sysconf has no preconditions.
        let Ok(page_size) = usize::try_from(unsafe { libc::sysconf(libc::_SC_PAGESIZE) }) else {
            return false;
        };
        PAGE_SIZE.store(page_size, Ordering::SeqCst);
        // SAFETY: zeroed `sigaction`s are valid, and both are filled in
        // before use; the pointers are to live locals.
        unsafe {
            let mut previous: libc::sigaction = std::mem::zeroed();
            if libc::sigaction(libc::SIGBUS, std::ptr::null(), &mut previous) != 0 {
                return false;
            }
            // Set before ours is in place: the handler always finds it.
            let _ = PREVIOUS.set(Previous(previous));
            let mut ours: libc::sigaction = std::mem::zeroed();
            ours.sa_sigaction = on_sigbus as extern "C" fn(_, _, _) as usize;
            ours.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK;
            libc::sigemptyset(&mut ours.sa_mask);
            libc::sigaction(libc::SIGBUS, &ours, std::ptr::null_mut()) == 0
        }
    }

    /// The registered slot holding `addr`, if any.
    fn slot_of(addr: usize) -> Option<&'static Slot> {
        let used = HIGH_WATER.load(Ordering::Acquire).min(SLOTS);
        REGISTRY[..used].iter().find(|s| {
            let start = s.start.load(Ordering::SeqCst);
            let end = s.end.load(Ordering::SeqCst);
            start <= addr && addr < end
        })
    }

    extern "C" fn on_sigbus(_: libc::c_int, info: *mut libc::siginfo_t, _: *mut libc::c_void) {
        // SAFETY: the kernel passes a valid siginfo to an SA_SIGINFO handler.
        let (addr, code) = unsafe { ((*info).si_addr() as usize, (*info).si_code) };
        // si_code > 0: raised by the kernel for a fault at si_addr (not sent
        // by kill or raise).
        if code > 0 && zero_fill(addr) {
            return;
        }
        // Not ours: put the previous action back (the default if, somehow,
        // none was kept). A fault repeats under it when this returns; a
        // sent signal is sent again.
        // SAFETY: a valid action; both calls are async-signal-safe.
        unsafe {
            match PREVIOUS.get() {
                Some(Previous(previous)) => {
                    libc::sigaction(libc::SIGBUS, previous, std::ptr::null_mut());
                }
                None => {
                    libc::signal(libc::SIGBUS, libc::SIG_DFL);
                }
            }
            if code <= 0 {
                libc::raise(libc::SIGBUS);
            }
        }
    }

    /// If `addr` lies in a registered mapping: marks it damaged and maps a
    /// zero page over the page holding `addr`; whether that worked.
    fn zero_fill(addr: usize) -> bool {
        let Some(slot) = slot_of(addr) else {
            return false;
        };
        // Marked before the zero page exists: a reader that sees zeros
        // sees the mark (see `Guard::is_damaged`).
        slot.damaged.store(true, Ordering::SeqCst);
        let page_size = PAGE_SIZE.load(Ordering::SeqCst);
        let page = addr & !(page_size - 1);
        // SAFETY: `page` lies inside a registered mapping, which its view
        // keeps mapped until it releases the slot; replacing one read-only
        // page of it with zeros is what the view's contract tells readers.
        let zeroed = unsafe {
            libc::mmap(
                page as *mut libc::c_void,
                page_size,
                libc::PROT_READ,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_FIXED,
                -1,
                0,
            )
        };
        zeroed != libc::MAP_FAILED
    }
}

#[cfg(not(target_os = "linux"))]
mod other {
    /// No fault handling on this platform: a truncation under a mapping
    /// raises `SIGBUS` as with any mmap.
    pub(crate) struct Guard;

    impl Guard {
        pub(crate) fn register(_start: *const u8, _len: usize) -> Guard {
            Guard
        }

        pub(crate) fn is_damaged(&self) -> bool {
            false
        }

        pub(crate) fn is_guarded(&self) -> bool {
            false
        }
    }
}
