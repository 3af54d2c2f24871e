//! How an idle thread waits for work: busy-spin, yield, or spin-then-park.
//!
//! Spinning gives the lowest hop latency but burns a core; on a machine with fewer
//! cores than spinning threads, spinners steal time from the very thread they wait
//! for. `SpinThenPark` spins briefly (work usually arrives within microseconds under
//! load), then yields, then parks with a timeout; the producer unparks a parked
//! consumer through [`Wakeup`], so an idle gateway uses no CPU. A thread that
//! sleeps in `mio::Poll` instead (it waits for sockets too, so it cannot park) is
//! woken the same way through [`PollWakeup`].

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering, fence};
use std::thread::Thread;
use std::time::Duration;

use serde::Deserialize;

/// A thread's idle policy.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "kind")]
pub enum WaitStrategy {
    /// Spin on the CPU forever: lowest latency, one core per thread.
    BusySpin,
    /// Spin a little, then `yield_now` in a loop.
    Yield {
        /// Spins before yielding.
        spins: u32,
    },
    /// Spin, then yield, then park (sleep until woken or the timeout passes).
    SpinThenPark {
        /// Spins before yielding.
        spins: u32,
        /// Yields before parking.
        yields: u32,
        /// Longest park, in microseconds (bounds latency if a wake-up is missed).
        park_us: u32,
    },
}

impl WaitStrategy {
    /// The default for a machine without a spare core per thread.
    pub const ADAPTIVE_PARK: WaitStrategy =
        WaitStrategy::SpinThenPark { spins: 2_000, yields: 20, park_us: 1_000 };

    /// True when this strategy may park (and so needs a wake-up from producers).
    pub const fn parks(&self) -> bool {
        matches!(self, WaitStrategy::SpinThenPark { .. })
    }
}

/// What an idle step decided.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum IdleStep {
    /// Spun or yielded; look for work again.
    Retry,
    /// About to park: announce it (so producers wake us), re-check for work, then
    /// call [`Idle::park`].
    Park(Duration),
}

/// Counts consecutive idle iterations and applies the strategy.
#[derive(Debug)]
pub struct Idle {
    strategy: WaitStrategy,
    idle_iterations: u32,
}

impl Idle {
    /// A fresh idle counter.
    pub fn new(strategy: WaitStrategy) -> Idle {
        Idle { strategy, idle_iterations: 0 }
    }

    /// Work was found: start over.
    #[inline]
    pub fn reset(&mut self) {
        self.idle_iterations = 0;
    }

    /// No work was found: spin, yield, or ask to park.
    #[inline]
    pub fn step(&mut self) -> IdleStep {
        self.idle_iterations = self.idle_iterations.saturating_add(1);
        match self.strategy {
            WaitStrategy::BusySpin => {
                std::hint::spin_loop();
                IdleStep::Retry
            }
            WaitStrategy::Yield { spins } => {
                if self.idle_iterations <= spins {
                    std::hint::spin_loop();
                } else {
                    std::thread::yield_now();
                }
                IdleStep::Retry
            }
            WaitStrategy::SpinThenPark { spins, yields, park_us } => {
                if self.idle_iterations <= spins {
                    std::hint::spin_loop();
                    IdleStep::Retry
                } else if self.idle_iterations <= spins.saturating_add(yields) {
                    std::thread::yield_now();
                    IdleStep::Retry
                } else {
                    IdleStep::Park(Duration::from_micros(u64::from(park_us)))
                }
            }
        }
    }

    /// Parks the current thread (after the caller announced it through a [`Wakeup`]
    /// and re-checked for work).
    pub fn park(timeout: Duration) {
        std::thread::park_timeout(timeout);
    }
}

/// The consumer's side of a park/unpark handshake: it says when it sleeps, and a
/// producer that finds it sleeping unparks it. A missed wake-up costs at most the
/// park timeout, never a lost item (items stay in the ring).
#[derive(Debug, Clone)]
pub struct Wakeup {
    sleeping: Arc<AtomicBool>,
    thread: Thread,
}

impl Wakeup {
    /// A handle for the current thread (the consumer).
    pub fn for_current_thread() -> Wakeup {
        Wakeup { sleeping: Arc::new(AtomicBool::new(false)), thread: std::thread::current() }
    }

    /// Consumer: about to sleep. Re-check for work after this and before parking.
    pub fn announce_sleep(&self) {
        self.sleeping.store(true, Ordering::SeqCst);
    }

    /// Consumer: awake again.
    pub fn announce_awake(&self) {
        self.sleeping.store(false, Ordering::Relaxed);
    }

    /// Producer: after publishing work, wake the consumer if it sleeps. Costs one
    /// atomic load when it is awake; a syscall only when it actually sleeps.
    #[inline]
    pub fn wake(&self) {
        if self.sleeping.load(Ordering::SeqCst) && self.sleeping.swap(false, Ordering::SeqCst) {
            self.thread.unpark();
        }
    }
}

/// The consumer's side of a sleep-in-poll handshake: a thread that waits in
/// `mio::Poll` for sockets and for a ring says when it sleeps there, and a
/// producer that pushed something and finds it sleeping wakes it through a
/// `mio::Waker` registered on that poll.
///
/// No wake-up is lost: the consumer sets the flag, then (after a full fence)
/// looks at the ring once more before it sleeps; the producer pushes, then
/// (after a full fence) looks at the flag. Either the consumer sees the item or
/// the producer sees the flag. The fences are needed because the ring's own
/// ordering (release on push, acquire on pop) does not keep a store before a
/// later load.
#[derive(Debug)]
pub struct PollWakeup {
    sleeping: AtomicBool,
    waker: mio::Waker,
    /// Wakes sent (the producer's side), for tests and diagnostics.
    wakes: AtomicU64,
}

impl PollWakeup {
    /// A wake-up that delivers `token` to the poll that owns `registry`.
    pub fn new(registry: &mio::Registry, token: mio::Token) -> std::io::Result<Arc<PollWakeup>> {
        let waker = mio::Waker::new(registry, token)?;
        Ok(Arc::new(PollWakeup {
            sleeping: AtomicBool::new(false),
            waker,
            wakes: AtomicU64::new(0),
        }))
    }

    /// Consumer: about to sleep in poll. Look at the ring again after this and
    /// sleep only if it is still empty.
    pub fn announce_sleep(&self) {
        self.sleeping.store(true, Ordering::SeqCst);
        fence(Ordering::SeqCst);
    }

    /// Consumer: back from poll.
    pub fn announce_awake(&self) {
        self.sleeping.store(false, Ordering::Relaxed);
    }

    /// Producer: after pushing, wakes the consumer if it sleeps; true when it
    /// sent a wake. Costs a fence and one load while the consumer is awake, a
    /// syscall only when it sleeps.
    #[inline]
    pub fn wake(&self) -> bool {
        fence(Ordering::SeqCst);
        if !self.sleeping.load(Ordering::Relaxed) || !self.sleeping.swap(false, Ordering::AcqRel) {
            return false;
        }
        self.wakes.fetch_add(1, Ordering::Relaxed);
        // An eventfd write fails only if its counter is near overflow, that is
        // when wakes are already pending: the consumer will run anyway.
        let _ = self.waker.wake();
        true
    }

    /// Wakes sent so far.
    pub fn wakes(&self) -> u64 {
        self.wakes.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spin_then_park_escalates() {
        let mut idle = Idle::new(WaitStrategy::SpinThenPark { spins: 2, yields: 1, park_us: 5 });
        assert_eq!(idle.step(), IdleStep::Retry);
        assert_eq!(idle.step(), IdleStep::Retry);
        assert_eq!(idle.step(), IdleStep::Retry);
        assert_eq!(idle.step(), IdleStep::Park(Duration::from_micros(5)));
        idle.reset();
        assert_eq!(idle.step(), IdleStep::Retry);
        let mut spin = Idle::new(WaitStrategy::BusySpin);
        for _ in 0..10 {
            assert_eq!(spin.step(), IdleStep::Retry);
        }
    }

    #[test]
    fn a_parked_consumer_is_woken() {
        let (tx, rx) = std::sync::mpsc::channel();
        let consumer = std::thread::spawn(move || {
            let wake = Wakeup::for_current_thread();
            tx.send(wake.clone()).unwrap();
            wake.announce_sleep();
            // A long timeout: the test passes only if the producer's wake arrives.
            let start = std::time::Instant::now();
            while wake.sleeping.load(Ordering::SeqCst) {
                Idle::park(Duration::from_secs(30));
            }
            start.elapsed()
        });
        let wake = rx.recv().unwrap();
        std::thread::sleep(Duration::from_millis(20));
        wake.wake();
        let slept = consumer.join().unwrap();
        assert!(slept < Duration::from_secs(30), "woken before the timeout");
    }

    const WOKEN: mio::Token = mio::Token(7);

    #[test]
    fn a_poll_consumer_is_woken_only_while_it_sleeps() {
        let mut poll = mio::Poll::new().unwrap();
        let mut events = mio::Events::with_capacity(4);
        let wakeup = PollWakeup::new(poll.registry(), WOKEN).unwrap();
        // Awake: the producer sends nothing, and the poll has nothing to report.
        assert!(!wakeup.wake());
        assert_eq!(wakeup.wakes(), 0);
        poll.poll(&mut events, Some(Duration::ZERO)).unwrap();
        assert!(events.is_empty(), "no wake was sent to an awake consumer");
        // Asleep: exactly one wake however many pushes follow, and the poll
        // returns with it (a 30 s timeout would otherwise leave it empty).
        wakeup.announce_sleep();
        assert!(wakeup.wake());
        assert!(!wakeup.wake());
        assert_eq!(wakeup.wakes(), 1);
        poll.poll(&mut events, Some(Duration::from_secs(30))).unwrap();
        assert!(events.iter().any(|e| e.token() == WOKEN));
        wakeup.announce_awake();
        assert!(!wakeup.wake());
        assert_eq!(wakeup.wakes(), 1);
    }

    /// The handshake with a ring between two threads: every item arrives, and
    /// no sleep in poll ends empty (a lost wake-up would leave the consumer
    /// asleep until its timeout with an item waiting).
    #[test]
    fn no_wake_up_is_lost_between_threads() {
        const ITEMS: u64 = 20_000;
        let (mut tx, mut rx) = crate::ring::ring::<u64>(64);
        let mut poll = mio::Poll::new().unwrap();
        let wakeup = PollWakeup::new(poll.registry(), WOKEN).unwrap();
        let producer_wakeup = Arc::clone(&wakeup);
        let producer = std::thread::spawn(move || {
            for i in 0..ITEMS {
                let mut item = i;
                while let Err(back) = tx.push(item) {
                    item = back;
                    std::thread::yield_now();
                }
                // A pause now and then, so the consumer runs dry and sleeps.
                if i % 64 == 0 {
                    std::thread::sleep(Duration::from_micros(50));
                }
                producer_wakeup.wake();
            }
        });
        let mut events = mio::Events::with_capacity(4);
        let (mut received, mut announced, mut sleeps, mut empty_wakes) = (0u64, 0, 0, 0);
        while received < ITEMS {
            if let Some(item) = rx.pop() {
                assert_eq!(item, received, "items in order");
                received += 1;
                continue;
            }
            wakeup.announce_sleep();
            announced += 1;
            if !rx.has_items() {
                sleeps += 1;
                poll.poll(&mut events, Some(Duration::from_secs(10))).unwrap();
                if events.is_empty() {
                    empty_wakes += 1;
                }
            }
            wakeup.announce_awake();
        }
        producer.join().unwrap();
        assert_eq!(received, ITEMS);
        assert_eq!(empty_wakes, 0, "a sleep ended by its timeout: a wake-up was lost");
        assert!(sleeps > 0, "the consumer slept at least once");
        assert!(wakeup.wakes() <= announced, "a wake only for an announced sleep");
    }
}
