//! The order path allocates nothing: parsing and mapping NewOrderSingles, and
//! mapping and encoding ExecutionReports, under a counting allocator after warm-up.

mod util;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicU64, Ordering};

use fix::session::Action;
use protocol::codec::Sequenced;
use util::*;

struct Counting;

static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

thread_local! {
    // Only the test's own thread counts: the test harness's threads allocate too.
    static COUNTING: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

fn count() {
    if COUNTING.with(|c| c.get()) {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
    }
}

// Counts every allocation and reallocation, then defers to the system allocator.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count();
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn new_order_single_in_and_execution_reports_out_allocate_nothing() {
    let mut h = Harness::new(config());
    h.logon();
    // Messages built before counting: the test's own formatting allocates.
    let orders: Vec<Vec<u8>> = (0..300).map(|i| h.msg("D", &new_order_fields(i + 1))).collect();
    let reports: Vec<Sequenced> = (0..300u64)
        .flat_map(|i| [accepted(i + 1, 200), executed(i + 1, 1000 + i, 15_000_000, 100, 100, 100)])
        .enumerate()
        .map(|(i, msg)| Sequenced { seq: i as u64 + 1, ts_ns: T0, msg })
        .collect();
    let mut actions: Vec<Action> = Vec::with_capacity(16);
    let mut inputs = 0;
    let mut run = |range: std::ops::Range<usize>, actions: &mut Vec<Action>, inputs: &mut usize| {
        for i in range {
            actions.clear();
            h.session.on_bytes(&orders[i], T0, actions);
            *inputs += actions.iter().filter(|a| matches!(a, Action::Input(_))).count();
            h.session.on_app(&reports[2 * i]).unwrap();
            h.session.on_app(&reports[2 * i + 1]).unwrap();
            let n = h.session.outbound().len();
            h.session.consume_outbound(n);
        }
    };
    run(0..100, &mut actions, &mut inputs); // Warm-up: fills the order cache to its limit.
    COUNTING.with(|c| c.set(true));
    run(100..300, &mut actions, &mut inputs);
    COUNTING.with(|c| c.set(false));
    assert_eq!(inputs, 300, "every order reached the engine");
    assert_eq!(ALLOCATIONS.load(Ordering::Relaxed), 0);
}
