//! A client that stops reading cannot hold up anyone else or grow the gateway's
//! memory: once its unsent backlog passes the limit it is disconnected, and what it
//! missed stays replayable.

mod util;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use gateway::config::Topology;
use protocol::Side;
use protocol::client::ClientError;
use protocol::codec::{AppMessage, ClientMessage, ServerMessage};
use util::*;

const SLOW_ORDERS: u64 = 3_000;
const FAST_ORDERS: u64 = 300;

fn slow_reader(topology: Topology) {
    let mut config = config(topology);
    config.server.socket_send_buffer_bytes = 8 * 1024;
    config.outbound.backlog_limit_bytes = 64 * 1024;
    config.outbound.log_bytes_per_login = 4 << 20;
    config.risk.limits.rate_limit_per_s = 0;
    config.risk.limits.daily_message_limit = 0;
    config.risk.limits.duplicate_window_ms = 0;
    let gw = start(&config);
    let mut slow = login(gw.addr(), "trader1");
    socket2::SockRef::from(slow.stream()).set_recv_buffer_size(4 * 1024).unwrap();
    let mut fast = login(gw.addr(), "trader2");

    // The slow client sends orders whose answers (price-limit rejects with text,
    // about 190 bytes each) it does not read. A fast gateway can pass the backlog
    // limit and cut it off before it has sent them all: its sends then fail, and
    // it resends whatever has no answer after resuming, below.
    for i in 0..SLOW_ORDERS {
        let order = limit(i + 1, "A001", 600519, Side::Buy, 100, "1700.00");
        if slow.send(&ClientMessage::NewOrder(order)).is_err() {
            break;
        }
    }
    // The fast client trades on, one round trip at a time.
    for i in 0..FAST_ORDERS {
        let id = 10_000 + i;
        fast.send(&ClientMessage::NewOrder(limit(id, "B001", 600036, Side::Buy, 100, "41.00")))
            .unwrap();
        expect(&mut fast, "fast answer", |m| match m {
            AppMessage::OrderAccepted(a) if a.cl_ord_id == id => Some(()),
            AppMessage::OrderRejected(r) if r.cl_ord_id == id => Some(()),
            _ => None,
        });
    }
    let deadline = Instant::now() + WAIT;
    while gw.io_metrics.slow_consumer_disconnects.get() == 0 {
        assert!(Instant::now() < deadline, "the slow reader was never disconnected");
        std::thread::sleep(Duration::from_millis(10));
    }

    // It reads what reached it, finds the connection closed, resumes, and gets the rest.
    let mut answered = HashSet::new();
    loop {
        match slow.recv(Duration::from_secs(5)) {
            Ok(Some(ServerMessage::App(s))) => {
                if let AppMessage::OrderRejected(r) = s.msg {
                    answered.insert(r.cl_ord_id);
                }
            }
            Ok(Some(_)) => {}
            Ok(None) => panic!("the closed connection should end the stream"),
            Err(ClientError::Closed) | Err(ClientError::Io(_)) => break,
            Err(e) => panic!("unexpected error: {e}"),
        }
    }
    assert!((answered.len() as u64) < SLOW_ORDERS, "it was cut off before reading everything");
    slow.reconnect().unwrap();
    // Orders still unread in the socket when it was cut off never reached the
    // gateway: like any client, resend what has no answer once the replay is done
    // (a resend of an order that did arrive would be answered as a repeat).
    for m in drain(&mut slow, Duration::from_millis(500)) {
        if let AppMessage::OrderRejected(r) = m {
            assert!(answered.insert(r.cl_ord_id), "answer for {} seen twice", r.cl_ord_id);
        }
    }
    // Resent a hundred at a time, reading the answers in between: this time the
    // client keeps up, so its backlog stays under the limit.
    let missing: Vec<u64> = (1..=SLOW_ORDERS).filter(|id| !answered.contains(id)).collect();
    for chunk in missing.chunks(100) {
        for &id in chunk {
            let order = limit(id, "A001", 600519, Side::Buy, 100, "1700.00");
            slow.send(&ClientMessage::NewOrder(order)).unwrap();
        }
        let deadline = Instant::now() + WAIT;
        while !chunk.iter().all(|id| answered.contains(id)) {
            assert!(
                Instant::now() < deadline,
                "only {} of {SLOW_ORDERS} answers after resume",
                answered.len()
            );
            if let Some(ServerMessage::App(s)) = slow.recv(Duration::from_millis(200)).unwrap()
                && let AppMessage::OrderRejected(r) = s.msg
            {
                assert!(answered.insert(r.cl_ord_id), "answer for {} seen twice", r.cl_ord_id);
            }
        }
    }
    assert_eq!(answered.len() as u64, SLOW_ORDERS, "every order answered once");
    gw.shutdown().unwrap();
}

#[test]
fn slow_reader_fused() {
    slow_reader(Topology::Fused);
}

#[test]
fn slow_reader_pipelined() {
    slow_reader(Topology::Pipelined);
}
