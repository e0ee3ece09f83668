//! The attempt budget, as the tokio driver uses it for one race: what a test sets up
//! ([`Budget`]), and what the simulation keeps of it as the race runs ([`BudgetState`]).

/// The attempt budget the race draws its permits from, as the driver uses it: every
/// running attempt holds a permit; a race with nothing running takes one even over the
/// limit; a place in line is handed a permit given back while fewer than the limit are
/// in flight.
#[derive(Debug, Clone, Copy)]
pub(in crate::race) struct Budget {
    /// `None`: unbounded.
    limit: Option<usize>,
    /// Permits held by other races' attempts, which never end.
    others: usize,
}

impl Budget {
    pub(in crate::race) fn unbounded() -> Budget {
        Budget {
            limit: None,
            others: 0,
        }
    }

    /// `limit` permits, none in use.
    pub(in crate::race) fn fixed(limit: usize) -> Budget {
        Budget {
            limit: Some(limit),
            others: 0,
        }
    }

    /// `n` of its permits are held for good by other races (hanging attempts).
    pub(in crate::race) fn held_by_others(self, n: usize) -> Budget {
        Budget { others: n, ..self }
    }
}

/// The budget as the race sees it, with the driver's two permits: the one granted for the
/// next start, and the one handed to its place in line.
///
/// As in the driver, the race's place in line is taken only when its wait is first polled,
/// after the attempts and DNS: a permit given back by an attempt that ends at the very
/// instant the race comes to wait finds nobody in line.
pub(super) struct BudgetState {
    limit: Option<usize>,
    others: usize,
    /// Permits held by this race's running attempts.
    own: usize,
    /// The driver holds a permit for the next start.
    granted: bool,
    /// The race waits in line (the driver holds a `Wait`).
    in_line: bool,
    /// Its place in line is taken (the `Wait` was polled).
    queued: bool,
    /// A permit was handed to that place, not yet taken.
    handed: bool,
    pub(super) peak: usize,
}

impl BudgetState {
    pub(super) fn new(budget: Budget) -> Self {
        let mut state = BudgetState {
            limit: budget.limit,
            others: budget.others,
            own: 0,
            granted: false,
            in_line: false,
            queued: false,
            handed: false,
            peak: 0,
        };
        state.record();
        state
    }

    fn in_flight(&self) -> usize {
        self.others + self.own + usize::from(self.granted) + usize::from(self.handed)
    }

    fn below_limit(&self) -> bool {
        self.limit.is_none_or(|limit| self.in_flight() < limit)
    }

    fn record(&mut self) {
        self.peak = self.peak.max(self.in_flight());
    }

    /// A permit without waiting if one is free and nobody waits (this race's own place in
    /// line included).
    pub(super) fn try_take(&mut self) -> bool {
        let free = self.limit.is_none() || (!self.queued && self.below_limit());
        self.granted |= free;
        self.record();
        free
    }

    /// An attempt starts, with the permit granted for it or with one taken over the limit.
    pub(super) fn start(&mut self) {
        self.granted = false;
        self.own += 1;
        self.record();
    }

    /// A running attempt gives its permit back: to this race's place in line if it has
    /// one, and fewer than the limit are in flight.
    pub(super) fn release(&mut self) {
        self.own -= 1;
        if self.queued && !self.handed && self.below_limit() {
            self.handed = true;
        }
    }

    /// A running attempt hands its permit to the next start.
    pub(super) fn hand_over(&mut self) {
        self.own -= 1;
        self.granted = true;
    }

    /// The machine waits, in line (keeping any place it has) or not (giving up its place
    /// and any permit it holds).
    pub(super) fn wait(&mut self, in_line: bool) {
        if in_line {
            self.in_line = true;
        } else {
            self.in_line = false;
            self.queued = false;
            self.handed = false;
            self.granted = false;
        }
    }

    /// The race's wait is polled: it takes its place in line, if it has none yet, and is
    /// handed a permit at once if one is free.
    pub(super) fn poll_wait(&mut self) {
        if self.in_line && !self.queued {
            self.queued = true;
            self.handed = self.below_limit();
            self.record();
        }
    }

    /// Whether a permit is handed to the race's place, for it to take.
    pub(super) fn ready(&self) -> bool {
        self.queued && self.handed
    }

    /// The permit handed to the place in line, taken.
    pub(super) fn take_handed(&mut self) {
        self.in_line = false;
        self.queued = false;
        self.handed = false;
        self.granted = true;
    }
}
