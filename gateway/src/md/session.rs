//! One market-data connection's state: its login, its subscriptions, per security
//! what it was last sent, and its bounded outbound queue.

use protocol::marketdata::{Depth, Mode, Target};

/// Bytes a session may queue beyond `queue_bytes` for answers to its own requests
/// (acks, rejects, gap notices): the io loop stops reading a session that is over
/// its limit, so its requests cannot pile up answers.
pub const CONTROL_RESERVE_BYTES: usize = 16 * 1024;

/// Where a connection stands.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Phase {
    /// No connection in this slot.
    Free,
    /// Connected; the first message must be a Login by `deadline_ns`.
    AwaitLogin {
        /// Closed if no Login came by then.
        deadline_ns: u64,
    },
    /// Logged in.
    Live,
    /// Refused or failed: write what is queued, then close.
    Closing,
}

/// What a session holds for one security.
#[derive(Clone, Copy, Debug, Default)]
pub struct SecSub {
    /// 0: not subscribed; else the depth's wire value.
    pub depth: u8,
    /// Conflation interval (0: real time).
    pub conflate_ns: u64,
    /// The sequence of the last message queued for the security (or the
    /// `security_seq` of its last snapshot): the next delta's `prev_seq`.
    pub last_sent: u64,
    /// Conflated: the earliest time the next update may go.
    pub next_due_ns: u64,
    /// Conflated: levels changed since the last update.
    pub dirty: bool,
    /// Messages were withheld while the session was behind: a snapshot is owed.
    pub stale: bool,
}

/// One subscription as asked for.
#[derive(Clone, Copy, Debug)]
pub struct Sub {
    /// What it names.
    pub target: Target,
    /// Depth.
    pub depth: Depth,
    /// Mode.
    pub mode: Mode,
    /// Conflation interval, ms.
    pub interval_ms: u32,
}

/// A channel's messages withheld from a session that fell behind.
#[derive(Clone, Copy, Debug, Default)]
pub struct Withheld {
    /// First sequence withheld (0: none).
    pub first: u64,
    /// Last sequence withheld.
    pub last: u64,
    /// Something other than a level update was among them: a GapNotice is owed.
    pub lost_stream: bool,
}

/// One connection slot.
#[derive(Debug)]
pub struct Session {
    /// Where it stands.
    pub phase: Phase,
    /// Queued bytes are `out[head..]`.
    out: Vec<u8>,
    head: usize,
    /// Bytes of market data it may queue before it counts as behind.
    queue_limit: usize,
    /// Its queue filled: sequenced messages are withheld until it drains to half.
    pub behind: bool,
    /// Per security (the publisher's index).
    pub secs: Vec<SecSub>,
    /// Snapshots owed (`stale` securities).
    pub stale_count: usize,
    /// Per channel (the publisher's index).
    pub withheld: Vec<Withheld>,
    /// Its subscriptions.
    pub subs: Vec<Sub>,
    /// The deepest subscription its login may take (`Depth::as_u8`; 0 until it
    /// has logged in).
    pub max_depth: u8,
    /// Last time anything was read from it.
    pub last_rx_ns: u64,
    /// Last time anything was queued for it.
    pub last_tx_ns: u64,
}

impl Session {
    /// A free slot sized for `securities` and `channels`, with its queue allocated.
    pub fn new(
        securities: usize,
        channels: usize,
        queue_limit: usize,
        max_subscriptions: usize,
    ) -> Session {
        Session {
            phase: Phase::Free,
            out: Vec::with_capacity(queue_limit + CONTROL_RESERVE_BYTES),
            head: 0,
            queue_limit,
            behind: false,
            secs: vec![SecSub::default(); securities],
            stale_count: 0,
            withheld: vec![Withheld::default(); channels],
            subs: Vec::with_capacity(max_subscriptions),
            max_depth: 0,
            last_rx_ns: 0,
            last_tx_ns: 0,
        }
    }

    /// Bytes a slot commits.
    pub fn bytes(securities: usize, channels: usize, queue_limit: usize, subs: usize) -> u64 {
        (queue_limit + CONTROL_RESERVE_BYTES) as u64
            + securities as u64 * std::mem::size_of::<SecSub>() as u64
            + channels as u64 * std::mem::size_of::<Withheld>() as u64
            + subs as u64 * std::mem::size_of::<Sub>() as u64
    }

    /// Makes the slot a new connection's.
    pub fn open(&mut self, now_ns: u64, login_timeout_ns: u64) {
        self.reset();
        self.phase = Phase::AwaitLogin { deadline_ns: now_ns.saturating_add(login_timeout_ns) };
        self.last_rx_ns = now_ns;
        self.last_tx_ns = now_ns;
    }

    /// Frees the slot.
    pub fn reset(&mut self) {
        self.phase = Phase::Free;
        self.out.clear();
        self.head = 0;
        self.behind = false;
        self.secs.fill(SecSub::default());
        self.stale_count = 0;
        self.withheld.fill(Withheld::default());
        self.subs.clear();
        self.max_depth = 0;
    }

    /// Bytes waiting to be written.
    pub fn pending(&self) -> &[u8] {
        &self.out[self.head..]
    }

    /// Bytes queued.
    pub fn queued(&self) -> usize {
        self.out.len() - self.head
    }

    /// The io loop wrote `n` of the pending bytes.
    pub fn written(&mut self, n: usize) {
        self.head += n.min(self.queued());
        if self.head == self.out.len() {
            self.out.clear();
            self.head = 0;
        }
    }

    /// True when the session may take `len` more bytes of market data.
    pub fn has_room(&self, len: usize) -> bool {
        self.queued() + len <= self.queue_limit
    }

    /// True when it has drained to half its limit (a behind session catches up).
    pub fn drained(&self) -> bool {
        self.queued() <= self.queue_limit / 2
    }

    /// True when its queue is at or over its limit: the io loop stops reading it.
    pub fn full(&self) -> bool {
        self.queued() >= self.queue_limit
    }

    /// Queues market data the caller checked room for ([`Session::has_room`]).
    pub fn push_data(&mut self, bytes: &[u8], now_ns: u64) {
        assert!(self.has_room(bytes.len()), "market data is queued within the limit");
        self.append(bytes, now_ns);
    }

    /// Queues an answer to a request; a session past even its reserve is closed
    /// at once (what it has not read is dropped with it).
    pub fn push_control(&mut self, bytes: &[u8], now_ns: u64) {
        if self.queued() + bytes.len() > self.queue_limit + CONTROL_RESERVE_BYTES {
            self.phase = Phase::Closing;
            self.out.clear();
            self.head = 0;
            return;
        }
        self.append(bytes, now_ns);
    }

    fn append(&mut self, bytes: &[u8], now_ns: u64) {
        if self.out.len() + bytes.len() > self.out.capacity() {
            // Move the unwritten bytes to the front instead of growing.
            self.out.copy_within(self.head.., 0);
            self.out.truncate(self.out.len() - self.head);
            self.head = 0;
        }
        self.out.extend_from_slice(bytes);
        self.last_tx_ns = now_ns;
    }

    /// Owes the session a snapshot of security `sec`.
    pub fn mark_stale(&mut self, sec: usize) {
        if !self.secs[sec].stale {
            self.secs[sec].stale = true;
            self.stale_count += 1;
        }
    }

    /// Marks a security's message withheld (the session is behind).
    pub fn withhold(&mut self, sec: usize, chan: usize, seq: u64, conflatable: bool) {
        self.mark_stale(sec);
        let w = &mut self.withheld[chan];
        if w.first == 0 {
            w.first = seq;
        }
        w.last = seq;
        w.lost_stream |= !conflatable;
    }

    /// True when the session is subscribed to anything on channel index `chan`
    /// (`secs_of_chan`: the channel's securities).
    pub fn on_channel(&self, secs_of_chan: &[usize]) -> bool {
        secs_of_chan.iter().any(|&i| self.secs[i].depth != 0)
    }
}
