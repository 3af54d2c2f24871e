//! Test helpers: a FIX client on virtual time that writes messages with `|` for
//! SOH, and a harness that drives one session and reads back what it sent.

#![allow(dead_code)] // Each test binary uses a different part.

use fix::session::{Action, FactKind, SessionFact};
use fix::{LoginConfig, Session, SessionConfig};
use protocol::AccountId;

/// 2024-10-08 01:30:00 UTC (09:30 in Shanghai), in ns.
pub const T0: u64 = 1_728_351_000_000_000_000;
pub const SEC: u64 = 1_000_000_000;

/// Whole message from `35=...|...|` text: BeginString, BodyLength, CheckSum added.
pub fn fix_message(body: &str) -> Vec<u8> {
    fix_message_begin("FIX.4.4", body)
}

pub fn fix_message_begin(begin: &str, body: &str) -> Vec<u8> {
    let body = body.replace('|', "\x01");
    let mut msg = format!("8={begin}\x019={}\x01{body}", body.len()).into_bytes();
    let sum = msg.iter().fold(0u8, |s, &b| s.wrapping_add(b));
    msg.extend_from_slice(format!("10={sum:03}\x01").as_bytes());
    msg
}

/// A UTCTimestamp with milliseconds.
pub fn ts(ns: u64) -> String {
    let mut out = [0u8; 21];
    fix::time::format_utc_timestamp_ms(ns, &mut out);
    String::from_utf8(out.to_vec()).unwrap()
}

pub fn config() -> SessionConfig {
    let login = LoginConfig {
        comp_id: "CLIENT".into(),
        username: Some("alice".into()),
        password: Some("s3cret".into()),
        accounts: vec![AccountId::new("A001").unwrap()],
    };
    let mut config = SessionConfig::new("BW", login);
    config.outbound_capacity = 64 * 1024;
    config.order_cache_capacity = 64;
    config.resend_capacity = 1024;
    config
}

/// One message the session sent, as (tag, value) pairs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Out(pub Vec<(u32, String)>);

impl Out {
    pub fn get(&self, tag: u32) -> Option<&str> {
        self.0.iter().find(|(t, _)| *t == tag).map(|(_, v)| v.as_str())
    }
    pub fn msg_type(&self) -> &str {
        self.get(35).unwrap_or("")
    }
    pub fn seq(&self) -> u64 {
        self.get(34).and_then(|s| s.parse().ok()).unwrap_or(0)
    }
    pub fn has(&self, tag: u32, value: &str) -> bool {
        self.get(tag) == Some(value)
    }
}

/// Splits outbound bytes into messages, checking each one's framing.
pub fn split(bytes: &[u8]) -> Vec<Out> {
    let mut out = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        match fix::frame::scan(&bytes[at..], 1 << 20) {
            fix::frame::Scan::Message { len, .. } => {
                let fields = fix::field::FieldIter::new(&bytes[at..at + len])
                    .map(|f| f.expect("the session sends well-formed fields").0)
                    .map(|f| (f.tag, String::from_utf8_lossy(f.value).into_owned()))
                    .collect();
                out.push(Out(fields));
                at += len;
            }
            other => panic!("the session sent a malformed message: {other:?}"),
        }
    }
    out
}

/// A session with a connected client on virtual time.
pub struct Harness {
    pub session: Session,
    pub actions: Vec<Action>,
    pub facts: Vec<SessionFact>,
    pub now_ns: u64,
    pub client_seq: u64,
    /// Actions before this index have had their facts recorded.
    pub facts_from: usize,
}

impl Harness {
    pub fn new(config: SessionConfig) -> Harness {
        let mut session = Session::new(config);
        session.connect(T0);
        Harness {
            session,
            actions: Vec::with_capacity(64),
            facts: Vec::new(),
            now_ns: T0,
            client_seq: 1,
            facts_from: 0,
        }
    }

    /// The client's next message with a standard header (its next MsgSeqNum).
    pub fn msg(&mut self, msg_type: &str, fields: &str) -> Vec<u8> {
        let seq = self.client_seq;
        self.client_seq += 1;
        self.msg_seq(msg_type, seq, fields)
    }

    /// A message with an explicit MsgSeqNum.
    pub fn msg_seq(&self, msg_type: &str, seq: u64, fields: &str) -> Vec<u8> {
        let sep = if fields.is_empty() { "" } else { "|" };
        fix_message(&format!(
            "35={msg_type}|49=CLIENT|56=BW|34={seq}|52={}{sep}{fields}|",
            ts(self.now_ns)
        ))
    }

    /// Feeds bytes; returns what the session sent.
    pub fn send(&mut self, bytes: &[u8]) -> Vec<Out> {
        let taken = self.session.on_bytes(bytes, self.now_ns, &mut self.actions);
        assert_eq!(taken, bytes.len(), "the session took all bytes");
        self.collect()
    }

    pub fn tick(&mut self, advance_ns: u64) -> Vec<Out> {
        self.now_ns += advance_ns;
        self.session.on_tick(self.now_ns, &mut self.actions);
        self.collect()
    }

    pub fn collect(&mut self) -> Vec<Out> {
        for a in &self.actions[self.facts_from..] {
            if let Action::Fact(f) = a {
                self.facts.push(*f);
            }
        }
        self.facts_from = self.actions.len();
        let out = split(self.session.outbound());
        let n = self.session.outbound().len();
        self.session.consume_outbound(n);
        out
    }

    /// Takes the actions so far (facts were recorded by `collect`).
    pub fn take_actions(&mut self) -> Vec<Action> {
        self.collect();
        self.facts_from = 0;
        std::mem::take(&mut self.actions)
    }

    pub fn disconnected(&self) -> bool {
        self.actions.iter().any(|a| matches!(a, Action::Disconnect(_)))
    }

    /// Logs on with the configured credentials; returns the Logon answer.
    pub fn logon(&mut self) -> Vec<Out> {
        let logon = self.msg("A", "98=0|108=30|553=alice|554=s3cret");
        self.send(&logon)
    }

    pub fn inputs(&self) -> Vec<fix::inbound::Input> {
        self.actions
            .iter()
            .filter_map(|a| if let Action::Input(i) = a { Some(*i) } else { None })
            .collect()
    }

    pub fn admin_facts(&self) -> usize {
        self.facts.iter().filter(|f| matches!(f.kind, FactKind::AdminSent { .. })).count()
    }
}

/// A valid NewOrderSingle body for 600519.SH.
pub fn new_order_fields(cl_ord_id: u64) -> String {
    format!("11={cl_ord_id}|1=A001|55=600519|207=XSHG|54=1|60={}|38=100|40=2|44=1500.5", ts(T0))
}

use protocol::codec::{
    AppMessage, CancelRejected, Canceled, Executed, MassCancelAck, OrderAccepted, OrderRejected,
    Replaced, RequestKind, Sequenced,
};
use protocol::{
    CancelReason, CreditTag, Liquidity, Market, OrderType, Price, Qty, RejectCode, RejectDetail,
    SecurityId, Side, TimeInForce,
};

pub fn account() -> AccountId {
    AccountId::new("A001").unwrap()
}

pub fn moutai() -> SecurityId {
    SecurityId::new(Market::Sse, 600_519).unwrap()
}

pub fn accepted(cl_ord_id: u64, qty: u64) -> AppMessage {
    AppMessage::OrderAccepted(OrderAccepted {
        cl_ord_id,
        order_id: cl_ord_id * 10,
        account: account(),
        security: moutai(),
        side: Side::Buy,
        order_type: OrderType::Limit,
        tif: TimeInForce::Day,
        price: Price(15_005_000),
        qty: Qty(qty),
        flags: 0,
        credit: CreditTag::Cash,
    })
}

pub fn executed(
    cl_ord_id: u64,
    exec_id: u64,
    price: i64,
    qty: u64,
    cum: u64,
    leaves: u64,
) -> AppMessage {
    AppMessage::Executed(Executed {
        cl_ord_id,
        order_id: cl_ord_id * 10,
        exec_id,
        account: account(),
        security: moutai(),
        side: Side::Buy,
        liquidity: Liquidity::Removed,
        price: Price(price),
        qty: Qty(qty),
        leaves: Qty(leaves),
        cum: Qty(cum),
    })
}

pub fn rejected(cl_ord_id: u64, code: RejectCode) -> AppMessage {
    AppMessage::OrderRejected(OrderRejected {
        cl_ord_id,
        account: account(),
        code,
        flags: 0,
        detail: RejectDetail::None,
    })
}

pub fn canceled(cl_ord_id: u64, request_id: u64, open: u64, cum: u64) -> AppMessage {
    AppMessage::Canceled(Canceled {
        cl_ord_id,
        order_id: cl_ord_id * 10,
        account: account(),
        request_id,
        canceled_qty: Qty(open),
        cum: Qty(cum),
        reason: CancelReason::Client,
    })
}

pub fn cancel_rejected(request_id: u64, orig: u64, kind: RequestKind) -> AppMessage {
    AppMessage::CancelRejected(CancelRejected {
        request_id,
        orig_cl_ord_id: orig,
        account: account(),
        code: RejectCode::UNKNOWN_ORDER,
        kind,
    })
}

pub fn replaced(request_id: u64, cl_ord_id: u64, price: i64, qty: u64, leaves: u64) -> AppMessage {
    AppMessage::Replaced(Replaced {
        request_id,
        cl_ord_id,
        order_id: cl_ord_id * 10,
        account: account(),
        price: Price(price),
        qty: Qty(qty),
        leaves: Qty(leaves),
        priority_kept: false,
    })
}

pub fn mass_ack(request_id: u64, count: u32) -> AppMessage {
    AppMessage::MassCancelAck(MassCancelAck {
        request_id,
        account: Some(account()),
        canceled_count: count,
        code: RejectCode(0),
        blocked: false,
    })
}

/// Feeds the next stream message; returns what the session sent.
pub fn app(h: &mut Harness, stream: &mut Vec<Sequenced>, msg: AppMessage) -> Vec<Out> {
    let seq = stream.len() as u64 + 1;
    let s = Sequenced { seq, ts_ns: h.now_ns, msg };
    stream.push(s);
    h.session.on_app(&s).expect("the session takes the stream message");
    h.collect()
}
