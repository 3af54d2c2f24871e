//! The market-data publisher over real TCP (docs/marketdata.md): subscribers
//! rebuild the venue's books from a snapshot and the deltas after it, recover
//! gaps by retransmission or a new snapshot, and get the documented rejects.

#[path = "util/md.rs"]
mod md;
mod util;

use std::net::SocketAddr;

use gateway::config::{LoginConfig, Topology};
use md::*;
use protocol::marketdata::{
    Depth, FLAG_RETRANSMIT, MdMessage, MdReject, SyncAction, SyncState, Target,
};
use protocol::{SecurityId, Token, Username};
use util::{sec, start};

/// The demo's securities on channel 160.
fn channel_160() -> Vec<SecurityId> {
    [600_519, 601_318, 600_036, 601_398].into_iter().map(sec).collect()
}

/// The channel's sequence as the publisher stands once everything the venue
/// did before this call is applied: a probe's snapshot says it.
fn channel_seq_now(md: SocketAddr) -> u64 {
    let (mut probe, _) = MdClient::login(md, "retail");
    probe.send(&subscribe(1, Target::Security(sec(601_318)), Depth::Level1));
    loop {
        match probe.recv(WAIT) {
            Some(MdMessage::Snapshot(s)) => return s.seq,
            Some(_) => {}
            None => panic!("no snapshot for the probe"),
        }
    }
}

#[test]
fn snapshot_and_deltas_equal_the_venue_after_random_flow() {
    flow_rebuilds_the_venues_books(Topology::Fused);
}

/// The same in the pipelined topology: the engine on its own thread feeds the
/// ring and wakes the publisher from there.
#[test]
fn snapshot_and_deltas_equal_the_venue_after_random_flow_pipelined() {
    flow_rebuilds_the_venues_books(Topology::Pipelined);
}

fn flow_rebuilds_the_venues_books(topology: Topology) {
    let config = md_config_in(topology);
    let gw = start(&config);
    let md = gw.md_addr().expect("the publisher listens");
    let secs = channel_160();
    let mut early = Subscriber::login(md, "trader1", Depth::Level2);
    early.subscribe(Target::Channel(160), &secs);
    let mut level1 = Subscriber::login(md, "algo", Depth::Level1);
    level1.subscribe(Target::Security(sec(601_318)), &[sec(601_318)]);

    random_flow(gw.addr(), 300, 7);

    let mut late = Subscriber::login(md, "pro", Depth::Level2);
    late.subscribe(Target::Channel(160), &secs);
    late.catch_up(&[]);
    let end = late.channel_seq[&160];
    early.catch_up(&[(160, end)]);
    level1.catch_up(&[(160, end)]);
    let stopped = gw.shutdown().unwrap();
    let venue = stopped.sequencer.engine().exchange();

    let (_, _, snap) = venue_book(venue, sec(601_318), 1);
    assert_eq!(snap.seq, end, "the late snapshot reflects every event of the flow");
    for s in &secs {
        let k = (s.market.as_u8(), s.code);
        assert_equal_to_venue(&early.books[&k], venue, *s, 10_000);
        assert_equal_to_venue(&late.books[&k], venue, *s, 10);
    }
    let k = (1, 601_318);
    assert_equal_to_venue(&level1.books[&k], venue, sec(601_318), 5);
    assert!(!trade_seqs(&early.log).is_empty(), "the flow traded");
    assert_eq!(early.retransmit_requests, 0, "a real-time channel stream has no gap");
    assert_eq!(level1.retransmit_requests, 0, "a Level-1 stream chains by prev_seq");
    // A channel subscription's sequence is contiguous.
    let mut seqs: Vec<u64> = early
        .log
        .iter()
        .filter_map(|m| match m {
            MdMessage::Delta(h, _) => Some(h.seq),
            _ => None,
        })
        .collect();
    seqs.dedup();
    assert!(seqs.windows(2).all(|w| w[1] == w[0] + 1), "contiguous channel sequence");
}

/// Messages received after a Subscribe, up to the channel's sequence `until`.
fn read_until(client: &mut MdClient, until: u64) -> Vec<MdMessage> {
    let mut out = Vec::new();
    let mut seen = 0;
    while seen < until {
        let msg = client.recv(WAIT).expect("the stream goes on");
        match msg {
            MdMessage::Delta(h, _) => seen = seen.max(h.seq),
            MdMessage::Snapshot(s) => seen = seen.max(s.seq),
            MdMessage::Heartbeat { count, channels, .. } if count > 0 => {
                seen = seen.max(channels[0].1)
            }
            _ => {}
        }
        out.push(msg);
    }
    out
}

#[test]
fn a_gap_is_recovered_by_retransmission_or_by_a_new_snapshot_when_the_range_is_gone() {
    let mut config = md_config();
    config.marketdata.history_messages = 32;
    let gw = start(&config);
    let md = gw.md_addr().unwrap();
    let s = sec(601_318);
    let (mut client, _) = MdClient::login(md, "trader1");
    client.send(&subscribe(1, Target::Security(s), Depth::Level2));
    let mut book = protocol::marketdata::BookBuilder::new(s, 10_000);

    random_flow(gw.addr(), 12, 3);
    let end = channel_seq_now(md);
    let messages = read_until(&mut client, end);
    let deltas: Vec<MdMessage> =
        messages.iter().copied().filter(|m| matches!(m, MdMessage::Delta(..))).collect();
    assert!(deltas.len() >= 4, "the flow touched 601318: {deltas:?}");
    let snapshot = messages.iter().find(|m| matches!(m, MdMessage::Snapshot(_))).unwrap();
    assert_eq!(book.on_message(snapshot), SyncAction::Applied);
    // Lose the first two deltas: the third shows the gap.
    let (from_seq, count) = match book.on_message(&deltas[2]) {
        SyncAction::Retransmit { channel: 160, from_seq, count } => (from_seq, count),
        other => panic!("a gap asks for a retransmission, got {other:?}"),
    };
    client.send(&MdMessage::RetransmitRequest { request_id: 7, channel: 160, from_seq, count });
    let mut answered = 0;
    while book.state() != SyncState::Synced {
        match client.recv(WAIT).expect("the retransmission") {
            MdMessage::Delta(h, b) if h.flags & FLAG_RETRANSMIT != 0 => {
                answered += 1;
                book.on_message(&MdMessage::Delta(h, b));
            }
            MdMessage::Heartbeat { .. } => {}
            other => panic!("expected the retransmission, got {other:?}"),
        }
    }
    assert!(answered >= 3, "the range came back");
    for d in &deltas[3..] {
        assert_eq!(book.on_message(d), SyncAction::Applied, "live deltas follow on");
    }

    // Past the history: the range is gone, and a new snapshot recovers.
    random_flow(gw.addr(), 40, 4);
    let end = channel_seq_now(md);
    let _ = read_until(&mut client, end);
    client.send(&MdMessage::RetransmitRequest {
        request_id: 8,
        channel: 160,
        from_seq: 1,
        count: 5,
    });
    let reject = loop {
        match client.recv(WAIT).expect("an answer") {
            m @ MdMessage::RetransmitReject { .. } => break m,
            MdMessage::Heartbeat { .. } | MdMessage::Delta(..) => {}
            other => panic!("expected a reject, got {other:?}"),
        }
    };
    match reject {
        MdMessage::RetransmitReject { request_id, code, channel, first_available } => {
            assert_eq!((request_id, code, channel), (8, MdReject::RANGE_UNAVAILABLE, 160));
            assert!(first_available > 5 && first_available <= end, "{first_available} {end}");
        }
        _ => unreachable!(),
    }
    assert_eq!(book.on_message(&reject), SyncAction::Resnapshot);
    client.send(&subscribe(9, Target::Security(s), Depth::Level2));
    while book.state() != SyncState::Synced {
        let m = client.recv(WAIT).expect("the new snapshot");
        book.on_message(&m);
    }
    // Beyond the channel's last sequence.
    client.send(&MdMessage::RetransmitRequest {
        request_id: 10,
        channel: 160,
        from_seq: end + 1,
        count: 1,
    });
    loop {
        if let MdMessage::RetransmitReject { request_id: 10, code, .. } =
            client.recv(WAIT).expect("an answer")
        {
            assert_eq!(code, MdReject::RANGE_AHEAD);
            break;
        }
    }
    let stopped = gw.shutdown().unwrap();
    assert_equal_to_venue(&book, stopped.sequencer.engine().exchange(), s, 10);
}

fn expect_reject(client: &mut MdClient, request_id: u32, code: MdReject) {
    loop {
        match client.recv(WAIT) {
            Some(MdMessage::SubscribeReject { request_id: r, code: c }) => {
                assert_eq!((r, c), (request_id, code));
                return;
            }
            Some(MdMessage::Heartbeat { .. }) => {}
            other => panic!("expected SubscribeReject {code:?} for {request_id}, got {other:?}"),
        }
    }
}

fn expect_login_reject(md: SocketAddr, first: &[u8], code: MdReject) {
    let mut c = MdClient::connect(md);
    c.send_raw(first);
    match c.recv(WAIT) {
        Some(MdMessage::LoginRejected { code: got }) => assert_eq!(got, code),
        other => panic!("expected LoginRejected {code:?}, got {other:?}"),
    }
    assert!(c.closed_within(WAIT), "a refused login is closed");
}

fn frame(msg: &MdMessage) -> Vec<u8> {
    let mut buf = [0u8; 512];
    let n = msg.encode(&mut buf).unwrap();
    buf[..n].to_vec()
}

#[test]
fn bad_logins_and_malformed_requests_get_the_documented_rejects() {
    let mut config = md_config();
    config.marketdata.max_subscriptions = 2;
    config.logins.push(LoginConfig {
        username: Username::new("screen01").unwrap(),
        token: Token::from_text("screen01-secret").unwrap(),
        accounts: Vec::new(),
        cancel_on_disconnect: true,
        throttle_queue_us: 0,
        market_data_only: true,
        market_data_depth: Some(Depth::Level1),
    });
    // trader2 may trade but take no market data.
    config
        .logins
        .iter_mut()
        .find(|l| l.username.as_str() == "trader2")
        .unwrap()
        .market_data_depth = None;
    let gw = start(&config);
    let md = gw.md_addr().unwrap();

    let sub = frame(&subscribe(1, Target::Security(sec(600_519)), Depth::Level1));
    expect_login_reject(md, &sub, MdReject::NOT_LOGGED_IN);
    expect_login_reject(
        md,
        &frame(&login_msg("trader1", "wrong-secret")),
        MdReject::BAD_CREDENTIALS,
    );
    expect_login_reject(
        md,
        &frame(&login_msg("nobody", "nobody-secret")),
        MdReject::BAD_CREDENTIALS,
    );
    expect_login_reject(
        md,
        &frame(&login_msg("trader2", "trader2-secret")),
        MdReject::NOT_ENTITLED,
    );
    let mut v2 = frame(&login_msg("trader1", "trader1-secret"));
    v2[3] = 2;
    expect_login_reject(md, &v2, MdReject::UNSUPPORTED_VERSION);

    // A market-data-only login: accepted here, refused for order entry; entitled
    // to Level-1 only.
    let (mut screen, _) = MdClient::login(md, "screen01");
    screen.send(&subscribe(30, Target::Security(sec(600_519)), Depth::Level2));
    expect_reject(&mut screen, 30, MdReject::NOT_ENTITLED);
    screen.send(&subscribe(31, Target::Security(sec(600_519)), Depth::Level1));
    loop {
        match screen.recv(WAIT).expect("an answer") {
            MdMessage::SubscribeAck { request_id, .. } => {
                assert_eq!(request_id, 31);
                break;
            }
            MdMessage::SubscribeReject { request_id, code } => {
                panic!("Level-1 refused: {request_id} {code:?}")
            }
            _ => {}
        }
    }
    let order_entry =
        protocol::client::Client::connect(util::client_config(gw.addr(), "screen01"), 1);
    assert!(order_entry.is_err(), "a market-data-only login cannot enter orders");

    let (mut c, _) = MdClient::login(md, "trader1");
    // An undefined scope: the request id is echoed.
    let mut bad = frame(&subscribe(41, Target::Security(sec(600_519)), Depth::Level1));
    bad[7] = 9;
    c.send_raw(&bad);
    expect_reject(&mut c, 41, MdReject::MALFORMED);
    // An unknown type, too short for a request id.
    c.send_raw(&[1, 0, b'Z']);
    expect_reject(&mut c, 0, MdReject::MALFORMED);
    // A wrong body length.
    let mut short = frame(&subscribe(42, Target::Channel(160), Depth::Level2));
    short[0] -= 1;
    short.pop();
    c.send_raw(&short);
    expect_reject(&mut c, 42, MdReject::MALFORMED);
    // A retransmission of zero messages.
    let mut zero = frame(&MdMessage::RetransmitRequest {
        request_id: 43,
        channel: 160,
        from_seq: 1,
        count: 1,
    });
    zero[17..21].copy_from_slice(&0u32.to_le_bytes());
    c.send_raw(&zero);
    expect_reject(&mut c, 43, MdReject::MALFORMED);
    c.send(&subscribe(44, Target::Security(sec(600_999)), Depth::Level1));
    expect_reject(&mut c, 44, MdReject::UNKNOWN_SECURITY);
    c.send(&subscribe(45, Target::Channel(999), Depth::Level1));
    expect_reject(&mut c, 45, MdReject::UNKNOWN_CHANNEL);
    c.send(&MdMessage::Unsubscribe { request_id: 46, target: Target::Channel(160) });
    expect_reject(&mut c, 46, MdReject::NOT_SUBSCRIBED);

    // The connection survived: subscriptions work, up to the limit.
    c.send(&subscribe(47, Target::Security(sec(600_519)), Depth::Level1));
    c.send(&subscribe(48, Target::Channel(200), Depth::Level2));
    c.send(&subscribe(49, Target::Channel(230), Depth::Level2));
    let mut acks = Vec::new();
    loop {
        match c.recv(WAIT).expect("answers") {
            MdMessage::SubscribeAck { request_id, channel } => acks.push((request_id, channel)),
            MdMessage::SubscribeReject { request_id, code } => {
                assert_eq!((request_id, code), (49, MdReject::TOO_MANY_SUBSCRIPTIONS));
                break;
            }
            _ => {}
        }
    }
    assert_eq!(acks, vec![(47, 160), (48, 200)]);
    // Retransmission on a channel the session does not take.
    c.send(&MdMessage::RetransmitRequest { request_id: 50, channel: 230, from_seq: 1, count: 1 });
    loop {
        if let MdMessage::RetransmitReject { request_id: 50, code, .. } =
            c.recv(WAIT).expect("an answer")
        {
            assert_eq!(code, MdReject::NOT_SUBSCRIBED);
            break;
        }
    }
    // A broken length prefix cannot be framed again: the connection closes.
    c.send_raw(&[0, 0, b'R']);
    assert!(c.closed_within(WAIT));
    // The server is unharmed.
    let (_again, _) = MdClient::login(md, "trader1");
}

#[test]
fn a_restart_recovers_the_books_under_a_new_session_and_a_subscriber_resnapshots() {
    let dir = std::env::temp_dir().join(format!("bw-md-restart-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let mut config = md_config();
    config.journal.durability = gateway::config::Durability::Async;
    config.journal.dir = dir.clone();
    let secs = channel_160();
    let gw = start(&config);
    let mut first = Subscriber::login(gw.md_addr().unwrap(), "trader1", Depth::Level2);
    first.subscribe(Target::Channel(160), &secs);
    first.catch_up(&[]);
    random_flow(gw.addr(), 120, 5);
    let before = channel_seq_now(gw.md_addr().unwrap());
    first.catch_up(&[(160, before)]);
    let old_session = first.session_id;
    drop(gw);

    // Recovered from the journal: the publisher is seeded from the venue as the
    // replay left it, under a new session id.
    let gw = start(&config);
    let md = gw.md_addr().unwrap();
    let mut second = Subscriber::login(md, "trader2", Depth::Level2);
    assert_ne!(second.session_id, old_session, "every start is a new feed session");
    second.subscribe(Target::Channel(160), &secs);
    second.catch_up(&[]);
    assert!(second.channel_seq[&160] >= before, "the replay stands where the venue stood");
    for s in &secs {
        let k = (s.market.as_u8(), s.code);
        let (old, new) = (&first.books[&k], &second.books[&k]);
        let n = new.bids().len();
        assert_eq!(
            &old.bids()[..old.bids().len().min(n)],
            new.bids(),
            "{s} bids across the restart"
        );
        let n = new.asks().len();
        assert_eq!(
            &old.asks()[..old.asks().len().min(n)],
            new.asks(),
            "{s} asks across the restart"
        );
        assert_eq!((old.volume, old.turnover), (new.volume, new.turnover), "{s}");
    }
    // A book built in the old session sees the new one and asks for a snapshot.
    let book = first.books.get_mut(&(1, 600_519)).unwrap();
    let heartbeat = MdMessage::Heartbeat {
        session_id: second.session_id,
        count: 0,
        channels: [(0, 0); protocol::marketdata::HEARTBEAT_CHANNELS_MAX],
    };
    assert_eq!(book.on_message(&heartbeat), SyncAction::Resnapshot);
    let stopped = gw.shutdown().unwrap();
    for s in &secs {
        let k = (s.market.as_u8(), s.code);
        assert_equal_to_venue(&second.books[&k], stopped.sequencer.engine().exchange(), *s, 10);
    }
    let _ = std::fs::remove_dir_all(&dir);
}
