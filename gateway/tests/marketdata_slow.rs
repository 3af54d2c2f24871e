//! A subscriber that does not read holds up nobody: a fast subscriber gets every
//! update while the slow one's queue fills; when it reads again it gets a
//! conflated snapshot of each book it missed and a GapNotice naming exactly the
//! range withheld, so no trade is lost silently.

#[path = "util/md.rs"]
mod md;
mod util;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use md::*;
use protocol::SecurityId;
use protocol::marketdata::{DeltaBody, Depth, FLAG_CONFLATED, FLAG_RETRANSMIT, MdMessage, Target};
use util::{sec, start};

#[test]
fn a_slow_subscriber_is_conflated_while_a_fast_one_gets_every_update() {
    let mut config = md_config();
    // Small socket buffers for the slow one to fill, then its queue; the fast
    // one's receive buffer is large, and its queue has room for a thousand
    // messages should its thread be slow to run.
    config.marketdata.queue_bytes = 64 * 1024;
    config.marketdata.socket_send_buffer_bytes = 4096;
    let gw = start(&config);
    let md = gw.md_addr().unwrap();
    let secs: Vec<SecurityId> = [600_519, 601_318, 600_036, 601_398].into_iter().map(sec).collect();

    let mut slow = Subscriber::login_with_buffer(md, "trader2", Depth::Level2, 4096);
    slow.subscribe(Target::Channel(160), &secs);
    slow.catch_up(&[]);
    let mut fast = Subscriber::login_with_buffer(md, "trader1", Depth::Level2, 4 << 20);
    fast.subscribe(Target::Channel(160), &secs);
    fast.catch_up(&[]);

    // The slow one stops reading; the fast one reads as the flow goes.
    let flow = {
        let addr = gw.addr();
        std::thread::spawn(move || random_flow(addr, 1_500, 11))
    };
    while !flow.is_finished() {
        fast.step(Duration::from_millis(10));
    }
    flow.join().unwrap();
    let deadline = Instant::now() + WAIT;
    while gw.io_metrics.md.slow_subscribers.get() == 0 {
        assert!(Instant::now() < deadline, "the slow subscriber never fell behind");
        fast.step(Duration::from_millis(10));
    }
    let mut late = Subscriber::login(md, "pro", Depth::Level2);
    late.subscribe(Target::Channel(160), &secs);
    late.catch_up(&[]);
    let end = late.channel_seq[&160];
    fast.catch_up(&[(160, end)]);
    slow.catch_up(&[(160, end)]);
    // The last notice follows the last conflated snapshots; a heartbeat comes only
    // once the server has nothing more to send.
    let deadline = Instant::now() + WAIT;
    let seen = slow.log.len();
    while !slow.log[seen..].iter().any(|m| matches!(m, MdMessage::Heartbeat { .. })) {
        assert!(Instant::now() < deadline, "no heartbeat after the catch-up");
        slow.step(Duration::from_millis(50));
    }
    let unusual: Vec<String> = fast
        .log
        .iter()
        .filter_map(|m| match m {
            MdMessage::Delta(h, _) if h.flags == 0 => None,
            MdMessage::Snapshot(s) => {
                Some(format!("snapshot {} {} {} {}", s.security, s.seq, s.security_seq, s.flags))
            }
            other => Some(format!("{other:?}")),
        })
        .collect();
    assert_eq!(
        fast.retransmit_requests + fast.resubscribes,
        0,
        "the fast one missed nothing: {unusual:?} (slow falls {})",
        gw.io_metrics.md.slow_subscribers.get()
    );
    assert!(
        fast.log
            .iter()
            .all(|m| !matches!(m, MdMessage::Delta(h, _) if h.flags & FLAG_CONFLATED != 0)),
        "the fast one got no conflated update"
    );
    assert!(
        slow.log
            .iter()
            .any(|m| matches!(m, MdMessage::Snapshot(s) if s.flags & FLAG_CONFLATED != 0)),
        "the slow one got conflated snapshots"
    );
    assert!(gw.io_metrics.md.conflations.get() > 0);

    // Every trade the fast one saw reached the slow one, or lies in a gap notice.
    let gaps: Vec<(u64, u64)> = slow
        .log
        .iter()
        .filter_map(|m| match m {
            MdMessage::GapNotice { channel: 160, first_seq, last_seq, .. } => {
                Some((*first_seq, *last_seq))
            }
            _ => None,
        })
        .collect();
    assert!(!gaps.is_empty(), "the slow one was told what it missed");
    let received: BTreeSet<u64> = slow
        .log
        .iter()
        .filter_map(|m| match m {
            MdMessage::Delta(h, DeltaBody::Trade { .. }) if h.flags & FLAG_RETRANSMIT == 0 => {
                Some(h.seq)
            }
            _ => None,
        })
        .collect();
    let all_trades = trade_seqs(&fast.log);
    assert!(!all_trades.is_empty());
    for seq in &all_trades {
        let in_gap = gaps.iter().any(|&(a, b)| (a..=b).contains(seq));
        assert!(received.contains(seq) != in_gap, "trade {seq}: received or in exactly one notice");
    }
    let stopped = gw.shutdown().unwrap();
    let venue = stopped.sequencer.engine().exchange();
    for s in &secs {
        let k = (s.market.as_u8(), s.code);
        assert_equal_to_venue(&fast.books[&k], venue, *s, 10_000);
        assert_equal_to_venue(&slow.books[&k], venue, *s, 10);
    }
}
