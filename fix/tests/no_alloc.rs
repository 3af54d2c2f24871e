//! The order path allocates nothing: parsing and mapping NewOrderSingles, and
//! mapping and encoding ExecutionReports, under a counting allocator after warm-up.

mod util;

use fix::session::Action;
use protocol::codec::Sequenced;
use util::*;

#[global_allocator]
static GLOBAL: testkit::Counting = testkit::Counting::new();

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
    let before = testkit::thread_allocations();
    run(100..300, &mut actions, &mut inputs);
    let allocated = testkit::thread_allocations() - before;
    assert_eq!(inputs, 300, "every order reached the engine");
    assert_eq!(allocated, 0);
}
