//! The echo baseline: the same generator against the bare-TCP server answers every
//! request once.

use loadtest::driver::{self, RunSpec, Target};
use loadtest::echo::EchoServer;
use loadtest::live::Live;
use loadtest::scenario::Scenario;
use loadtest::universe::{Universe, generate_gateway_toml};

#[test]
fn the_echo_baseline_answers_everything() {
    let s = Scenario::load("smoke").unwrap().scaled(1.0, 0.25);
    let text = generate_gateway_toml(&s);
    let u = Universe::from_gateway_toml(&text, "<generated>").unwrap();
    let echo = EchoServer::start(None).unwrap();
    let live = Live::start("baseline".into(), true, None);
    let spec = RunSpec {
        scenario: &s,
        universe: &u,
        addr: echo.addr(),
        target: Target::Echo,
        operator: None,
        intervals: live.sender(),
        tag: 77,
        capacity: 200_000,
        pin_core: None,
        protocol_version: driver::LOGIN_VERSION,
        front_door: driver::FrontDoor::Binary,
    };
    let r = driver::run(spec).unwrap();
    let out = live.finish();
    echo.stop().unwrap();
    let c = &r.tracker.counts;
    assert!(c.orders_sent > 1_000, "{c:?}");
    assert_eq!(c.lost, 0);
    assert_eq!(c.unanswered, 0);
    assert_eq!(c.seq_gaps, 0);
    assert_eq!(c.accepted, c.orders_sent - c.resent);
    assert!(r.problems.is_empty(), "{:?}", r.problems);
    assert!(!out.intervals.is_empty());
    assert!(out.hlog.starts_with(b"#"), "an interval log was written");
}
