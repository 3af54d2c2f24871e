//! Round trips of every message type in both directions, over each type's whole
//! valid domain: `decode(encode(m)) == m`, and encoding is byte-stable (the same
//! bytes whatever the output buffer held before, through every encode entry point).
//!
//! Case count: 2,000 per type, or `PROPTEST_CASES`.

mod util;

use proptest::prelude::*;
use protocol::codec::{
    CancelOrder, LoginRejected, OrderEntryControl, ReplaceOrder, frame_len, wire_text,
};
use protocol::{AppMessage, ClientMessage, MAX_FRAME_LEN, Price, Qty, ServerMessage};

const CASES: u32 = 2_000;

/// Checks every round-trip property of one client message.
fn client_round_trip(m: &ClientMessage) -> Result<(), TestCaseError> {
    let bytes = util::encode_client(m);
    prop_assert_eq!(ClientMessage::decode(&bytes), Ok(*m));
    check_frame(&bytes, m.msg_type(), true)?;

    // Byte-stable: a zeroed buffer, a `BufMut`, a second encoding all agree.
    let mut zeroed = [0u8; MAX_FRAME_LEN];
    let n = m.encode_to_slice(&mut zeroed).expect("fits");
    prop_assert_eq!(&zeroed[..n], &bytes[..]);
    let mut vec = Vec::new();
    prop_assert_eq!(m.encode(&mut vec), Ok(bytes.len()));
    prop_assert_eq!(&vec, &bytes);
    prop_assert_eq!(util::encode_client(m), bytes.clone());

    // The hot-path entry points agree with the generic ones.
    if let ClientMessage::NewOrder(o) = m {
        let mut hot = [0xeeu8; 64];
        let n = o.encode_to_slice(&mut hot).expect("fits");
        prop_assert_eq!(&hot[..n], &bytes[..]);
        prop_assert_eq!(protocol::codec::NewOrder::decode_body(&bytes[3..]), Ok(*o));
    }

    // A buffer one byte short is an error naming both sizes, and writes nothing past it.
    let mut short = vec![0x77u8; bytes.len() - 1];
    let err = m.encode_to_slice(&mut short).expect_err("too small");
    prop_assert_eq!((err.needed, err.available), (bytes.len(), bytes.len() - 1));
    let mut tiny = [0u8; 2];
    prop_assert!(m.encode(&mut &mut tiny[..]).is_err());
    Ok(())
}

fn server_round_trip(m: &ServerMessage) -> Result<(), TestCaseError> {
    let bytes = util::encode_server(m);
    prop_assert_eq!(ServerMessage::decode(&bytes), Ok(*m));
    check_frame(&bytes, m.msg_type(), false)?;

    let mut zeroed = [0u8; MAX_FRAME_LEN];
    let n = m.encode_to_slice(&mut zeroed).expect("fits");
    prop_assert_eq!(&zeroed[..n], &bytes[..]);
    let mut vec = Vec::new();
    prop_assert_eq!(m.encode(&mut vec), Ok(bytes.len()));
    prop_assert_eq!(&vec, &bytes);
    if let ServerMessage::App(s) = m {
        let mut direct = [0x11u8; MAX_FRAME_LEN];
        let n = s.encode_to_slice(&mut direct).expect("fits");
        prop_assert_eq!(&direct[..n], &bytes[..]);
        // The text travels as rendered from the code and the detail.
        let text = match &s.msg {
            AppMessage::OrderRejected(r) => Some(r.text()),
            AppMessage::BusinessReject(b) => Some(b.text()),
            _ => None,
        };
        prop_assert_eq!(wire_text(&bytes), text.as_ref().map(|t| t.as_str()));
    }

    let mut short = vec![0x77u8; bytes.len() - 1];
    let err = m.encode_to_slice(&mut short).expect_err("too small");
    prop_assert_eq!((err.needed, err.available), (bytes.len(), bytes.len() - 1));
    Ok(())
}

/// Properties of the frame itself: header, size limit, framing, reserved bytes.
fn check_frame(bytes: &[u8], msg_type: u8, client: bool) -> Result<(), TestCaseError> {
    prop_assert!(bytes.len() <= MAX_FRAME_LEN);
    prop_assert_eq!(usize::from(u16::from_le_bytes([bytes[0], bytes[1]])), bytes.len() - 2);
    prop_assert_eq!(bytes[2], msg_type);
    prop_assert_eq!(frame_len(bytes), Ok(Some(bytes.len())));
    let mut longer = bytes.to_vec();
    longer.extend_from_slice(&[0xff; 7]);
    prop_assert_eq!(frame_len(&longer), Ok(Some(bytes.len())));
    prop_assert_eq!(frame_len(&bytes[..bytes.len() - 1]), Ok(None));
    for range in util::ignored_ranges(client, bytes) {
        prop_assert!(bytes[range.clone()].iter().all(|&b| b == 0), "bytes {:?} not zero", range);
    }
    Ok(())
}

macro_rules! round_trips {
    ($($(#[$meta:meta])* $name:ident: $dir:ident($strategy:expr);)+) => {
        proptest! {
            #![proptest_config(util::config(CASES))]
            $(
                $(#[$meta])*
                #[test]
                fn $name(m in $strategy) {
                    round_trips!(@check $dir, m);
                }
            )+
        }
    };
    (@check client, $m:ident) => { client_round_trip(&$m)? };
    (@check server, $m:ident) => { server_round_trip(&$m)? };
}

fn app_of_type(t: u8) -> impl Strategy<Value = ServerMessage> {
    (any::<u64>(), any::<u64>(), util::app_of_type(t))
        .prop_map(|(seq, ts_ns, msg)| ServerMessage::App(protocol::Sequenced { seq, ts_ns, msg }))
}

round_trips! {
    login: client(util::login().prop_map(ClientMessage::Login));
    client_heartbeat: client(Just(ClientMessage::Heartbeat));
    logout: client(Just(ClientMessage::Logout));
    new_order: client(util::new_order().prop_map(ClientMessage::NewOrder));
    cancel_order: client((any::<u64>(), any::<u64>(), util::account()).prop_map(
        |(request_id, orig_cl_ord_id, account)| {
            ClientMessage::CancelOrder(CancelOrder { request_id, orig_cl_ord_id, account })
        }
    ));
    replace_order: client((any::<u64>(), any::<u64>(), util::account(), any::<i64>(), any::<u64>())
        .prop_map(|(request_id, orig_cl_ord_id, account, p, q)| {
            ClientMessage::ReplaceOrder(ReplaceOrder {
                request_id,
                orig_cl_ord_id,
                account,
                price: Price(p),
                qty: Qty(q),
            })
        }));
    mass_cancel: client((any::<u64>(), util::mass_cancel_scope(), any::<bool>()).prop_map(
        |(request_id, scope, block_new)| {
            ClientMessage::MassCancel(protocol::codec::MassCancel { request_id, scope, block_new })
        }
    ));
    order_entry_control: client((any::<u64>(), util::account(), any::<bool>()).prop_map(
        |(request_id, account, enable)| {
            ClientMessage::OrderEntryControl(OrderEntryControl { request_id, account, enable })
        }
    ));

    login_accepted: server(util::login_accepted());
    login_rejected: server(util::reject_code()
        .prop_map(|code| ServerMessage::LoginRejected(LoginRejected { code })));
    server_heartbeat: server(Just(ServerMessage::Heartbeat));
    end_of_session: server(util::end_of_session());
    order_accepted: server(app_of_type(b'a'));
    order_rejected: server(app_of_type(b'r'));
    executed: server(app_of_type(b'e'));
    canceled: server(app_of_type(b'c'));
    cancel_rejected: server(app_of_type(b'k'));
    replaced: server(app_of_type(b'u'));
    system_event: server(app_of_type(b's'));
    business_reject: server(app_of_type(b'b'));
    mass_cancel_ack: server(app_of_type(b'm'));
    order_entry_status: server(app_of_type(b'g'));
    order_pending: server(app_of_type(b'p'));
    fill_fees: server(app_of_type(b'f'));
    funds_answer: server(util::query_answer_of_type(b'F').prop_map(ServerMessage::Query));
    positions_answer: server(util::query_answer_of_type(b'P').prop_map(ServerMessage::Query));
    orders_answer: server(util::query_answer_of_type(b'D').prop_map(ServerMessage::Query));
    fills_answer: server(util::query_answer_of_type(b'T').prop_map(ServerMessage::Query));
    query_rejected: server(util::query_answer_of_type(b'Q').prop_map(ServerMessage::Query));
    query: client(util::query().prop_map(ClientMessage::Query));
}

/// The strategies above must stay in step with the protocol: every type, both ways.
#[test]
fn every_type_has_a_round_trip_test() {
    let client: Vec<u8> = util::sample_client().iter().map(|m| m.msg_type()).collect();
    assert_eq!(client, util::CLIENT_TYPES);
    let server: Vec<u8> = util::sample_server().iter().map(|m| m.msg_type()).collect();
    assert_eq!(server, util::SERVER_TYPES);
    let tested = [b'a', b'r', b'e', b'c', b'k', b'u', b's', b'b', b'm', b'g', b'p', b'f'];
    for t in util::SERVER_TYPES.iter().filter(|t| t.is_ascii_lowercase()) {
        assert!(tested.contains(t), "no round trip for 0x{t:02x}");
    }
    for m in util::sample_client() {
        client_round_trip(&m).unwrap();
    }
    for m in util::sample_server() {
        server_round_trip(&m).unwrap();
    }
}
