//! The load generator's FIX 4.4 front door (`loadtest run --front-door fix`): the
//! same flow, sent as FIX messages to the gateway's FIX door, and the answers
//! read back into the same tracker, so the reconciliation and the report are the
//! binary run's.
//!
//! Each of the harness's sessions is one FIX session, SenderCompID `LT<n>` (`n`
//! the login's index in the universe), trading as that login (the generated
//! gateway configuration has a `[[fix.sessions]]` for each; see
//! [`fix_section`]). It logs on with HeartBtInt 1 (the binary sessions'
//! heartbeat), with ResetSeqNumFlag on its first Logon of the run, and continues
//! its numbers after a reconnect, so what happened while it was away arrives as
//! new ExecutionReports after the Logon.
//!
//! What FIX does not carry, the tracker does without: a repeated answer to a
//! resent order is not flagged (the tracker counts a second answer to a resent
//! request as a repeat either way), and a cancel's reason is not on the wire
//! (unsolicited cancels count as the venue's, cancels a request answered as the
//! client's). A session-level Reject or a BusinessMessageReject of an order,
//! cancel or replace is that request's answer, found by its MsgSeqNum.

use std::io::Write;

use protocol::codec::{ClientMessage, NewOrder, order_flags};
use protocol::{CancelReason, CreditTag, Market, OrderType, Price, RejectCode, Side, TimeInForce};

/// The SOH field separator.
const SOH: u8 = 0x01;
/// The code a request refused by the FIX session layer (a Reject, which has no
/// Breakwater code) is counted under.
pub const SESSION_REJECT: RejectCode = RejectCode(0);
/// Requests remembered by MsgSeqNum, to find the one a Reject names.
const SENT_RING: usize = 1 << 16;

/// One harness session's FIX state.
#[derive(Debug)]
pub struct FixSession {
    comp_id: String,
    /// Our next MsgSeqNum.
    out_seq: u64,
    /// The acceptor's next MsgSeqNum we expect.
    in_seq: u64,
    logged_on_once: bool,
    /// The acceptor's numbers asked for with a ResendRequest and not all back yet.
    recovering: Option<(u64, u64)>,
    /// The first of those not back yet.
    resent_next: u64,
    /// Application answers that came after a gap, waiting for it to be filled.
    held: std::collections::VecDeque<Answer>,
    /// Request id by MsgSeqNum (`seq % SENT_RING`), for Rejects.
    sent: Box<[(u64, u64)]>,
    /// Bytes read; those before `rx_pos` are parsed already.
    rx: Vec<u8>,
    rx_pos: usize,
    /// Scratch for the header and body being written.
    header: Vec<u8>,
    body: Vec<u8>,
}

/// What one FIX message from the acceptor means to the harness.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Answer {
    /// The Logon answer.
    LoggedOn,
    /// A Heartbeat (nothing to do).
    Heartbeat,
    /// A TestRequest: answer with a Heartbeat carrying this id.
    TestRequest(u64),
    /// The acceptor's Logout: the connection ends.
    Logout,
    /// An order was accepted (ExecType 0).
    Accepted {
        /// ClOrdID.
        cl_ord_id: u64,
    },
    /// An order was refused (ExecType 8, or a Reject of its NewOrderSingle).
    Rejected {
        /// ClOrdID.
        cl_ord_id: u64,
        /// BwRejectCode (5005), or [`SESSION_REJECT`].
        code: RejectCode,
    },
    /// A fill (ExecType F).
    Executed {
        /// ClOrdID.
        cl_ord_id: u64,
        /// LeavesQty.
        leaves: u64,
        /// CumQty.
        cum: u64,
        /// LastPx, 1/10000 CNY.
        price: i64,
    },
    /// An order ended (ExecType 4 or C).
    Canceled {
        /// The order's ClOrdID.
        cl_ord_id: u64,
        /// The cancel request that ended it (0: unsolicited).
        request_id: u64,
        /// Client for a request's answer; venue (or expired) otherwise.
        reason: CancelReason,
    },
    /// A cancel or replace was refused (OrderCancelReject, or a Reject of it).
    CancelRejected {
        /// The request's ClOrdID.
        request_id: u64,
        /// BwRejectCode (5005), or [`SESSION_REJECT`].
        code: RejectCode,
    },
    /// A replace took effect (ExecType 5).
    Replaced {
        /// The request's ClOrdID.
        request_id: u64,
        /// OrderQty, the new total.
        qty: u64,
        /// Price, 1/10000 CNY.
        price: i64,
    },
    /// A mass cancel was done (OrderMassCancelReport).
    MassCancelAck {
        /// The request's ClOrdID.
        request_id: u64,
    },
    /// A session-level Reject or BusinessMessageReject of nothing we track.
    OtherReject,
    /// Anything else (pending states, status reports).
    Other,
}

impl FixSession {
    /// The session of the universe's login `index`.
    pub fn new(index: usize) -> FixSession {
        FixSession {
            comp_id: comp_id(index),
            out_seq: 1,
            in_seq: 1,
            logged_on_once: false,
            recovering: None,
            resent_next: 0,
            held: std::collections::VecDeque::with_capacity(1024),
            sent: vec![(0, 0); SENT_RING].into_boxed_slice(),
            rx: Vec::with_capacity(512 * 1024),
            rx_pos: 0,
            header: Vec::with_capacity(128),
            body: Vec::with_capacity(512),
        }
    }

    /// The MsgSeqNum gaps seen in what the acceptor sent (its messages after a
    /// reconnect continue the numbering, so there should be none).
    pub fn expected_in_seq(&self) -> u64 {
        self.in_seq
    }

    /// Encodes `msg` as the FIX message for it, appending to `out`; `request_id`
    /// of an order, cancel or replace is remembered for a Reject that names it.
    /// Writes into a reused buffer: nothing is allocated once it has grown.
    pub fn encode(&mut self, msg: &ClientMessage, now_unix_ns: u64, out: &mut Vec<u8>) {
        let ts = utc(now_unix_ns);
        let mut b = std::mem::take(&mut self.body);
        b.clear();
        let (msg_type, id): (&[u8], u64) = match msg {
            ClientMessage::Login(_) => {
                b.extend_from_slice(b"98=0\x01108=1\x01");
                if !self.logged_on_once {
                    // A new run: both sides start again at 1.
                    b.extend_from_slice(b"141=Y\x01");
                    self.out_seq = 1;
                    self.in_seq = 1;
                }
                (b"A", 0)
            }
            ClientMessage::Heartbeat => (b"0", 0),
            ClientMessage::Logout => (b"5", 0),
            ClientMessage::NewOrder(o) => {
                new_order_body(o, &ts, &mut b);
                (b"D", o.cl_ord_id)
            }
            ClientMessage::CancelOrder(c) => {
                put(&mut b, 11, c.request_id);
                put(&mut b, 41, c.orig_cl_ord_id);
                put(&mut b, 1, c.account);
                b.extend_from_slice(b"54=1\x01");
                put_bytes(&mut b, 60, &ts);
                (b"F", c.request_id)
            }
            ClientMessage::ReplaceOrder(r) => {
                put(&mut b, 11, r.request_id);
                put(&mut b, 41, r.orig_cl_ord_id);
                put(&mut b, 1, r.account);
                b.extend_from_slice(b"54=1\x0140=2\x01");
                put_bytes(&mut b, 60, &ts);
                put(&mut b, 38, r.qty.0);
                put_price(&mut b, r.price);
                (b"G", r.request_id)
            }
            ClientMessage::MassCancel(m) => {
                // The harness cancels per login: every account of the login.
                put(&mut b, 11, m.request_id);
                b.extend_from_slice(b"530=7\x01");
                put_bytes(&mut b, 60, &ts);
                (b"q", m.request_id)
            }
            // Nothing else the harness sends has a FIX form.
            _ => {
                self.body = b;
                return;
            }
        };
        let seq = self.out_seq;
        self.out_seq += 1;
        if id != 0 {
            self.sent[(seq as usize) % SENT_RING] = (seq, id);
        }
        self.frame(msg_type, seq, &ts, &b, out);
        self.body = b;
    }

    /// A Heartbeat answering TestRequest `id`.
    pub fn heartbeat_for(&mut self, id: u64, now_unix_ns: u64, out: &mut Vec<u8>) {
        let ts = utc(now_unix_ns);
        let seq = self.out_seq;
        self.out_seq += 1;
        let mut b = std::mem::take(&mut self.body);
        b.clear();
        put(&mut b, 112, id);
        self.frame(b"0", seq, &ts, &b, out);
        self.body = b;
    }

    /// Header, `fields`, trailer, appended to `out`.
    fn frame(&mut self, msg_type: &[u8], seq: u64, ts: &[u8], fields: &[u8], out: &mut Vec<u8>) {
        let mut h = std::mem::take(&mut self.header);
        h.clear();
        put_bytes(&mut h, 35, msg_type);
        put_bytes(&mut h, 49, self.comp_id.as_bytes());
        h.extend_from_slice(b"56=BW\x01");
        put(&mut h, 34, seq);
        put_bytes(&mut h, 52, ts);
        let start = out.len();
        out.extend_from_slice(b"8=FIX.4.4\x01");
        put(out, 9, h.len() + fields.len());
        out.extend_from_slice(&h);
        out.extend_from_slice(fields);
        let sum = out[start..].iter().fold(0u8, |s, &b| s.wrapping_add(b));
        out.extend_from_slice(b"10=");
        out.extend_from_slice(&[b'0' + sum / 100, b'0' + sum / 10 % 10, b'0' + sum % 10, SOH]);
        self.header = h;
    }

    /// Takes bytes read from the connection. Parsed bytes are dropped here, in
    /// one move per read rather than one per message.
    pub fn received(&mut self, bytes: &[u8]) {
        if self.rx_pos > 0 {
            self.rx.drain(..self.rx_pos);
            self.rx_pos = 0;
        }
        self.rx.extend_from_slice(bytes);
    }

    /// Forgets unparsed bytes (the connection ended).
    pub fn clear_received(&mut self) {
        self.rx.clear();
        self.rx_pos = 0;
    }

    /// A ResendRequest for `from..=to`.
    pub fn resend_request(&mut self, from: u64, to: u64, now_unix_ns: u64, out: &mut Vec<u8>) {
        let ts = utc(now_unix_ns);
        let seq = self.out_seq;
        self.out_seq += 1;
        let mut b = std::mem::take(&mut self.body);
        b.clear();
        put(&mut b, 7, from);
        put(&mut b, 16, to);
        self.frame(b"2", seq, &ts, &b, out);
        self.body = b;
    }

    /// Where a message's MsgSeqNum puts it (and moves the expected number on).
    fn check(&mut self, f: SeqFields) -> SeqCheck {
        let seq = f.seq;
        if f.sequence_reset && !f.gap_fill {
            self.in_seq = f.new_seq_no; // SequenceReset-Reset
            return SeqCheck::InOrder;
        }
        if seq >= self.in_seq {
            if seq == self.in_seq {
                self.in_seq += 1;
                return SeqCheck::InOrder;
            }
            // Numbers skipped: ask for them (from where an unfinished resend
            // stopped, when one was under way).
            let from = if self.recovering.is_some() { self.resent_next } else { self.in_seq };
            self.resent_next = from;
            self.recovering = Some((from, seq - 1));
            self.in_seq = seq + 1;
            return SeqCheck::Gap { from, to: seq - 1 };
        }
        match self.recovering {
            Some((_, hi)) if f.poss_dup && seq >= self.resent_next && seq <= hi => {
                let end = if f.sequence_reset { f.new_seq_no.saturating_sub(1) } else { seq };
                self.resent_next = end + 1;
                if self.resent_next > hi {
                    self.recovering = None;
                }
                SeqCheck::Resent
            }
            _ => SeqCheck::Duplicate,
        }
    }

    /// True while a ResendRequest is outstanding: application answers that came
    /// after the gap wait ([`FixSession::hold`]) until it is filled, as a FIX
    /// engine queues them, so an order's answer is never taken after its fill.
    pub fn recovering(&self) -> bool {
        self.recovering.is_some()
    }

    /// Keeps an application answer until the gap before it is filled.
    pub fn hold(&mut self, answer: Answer) {
        self.held.push_back(answer);
    }

    /// The next answer held behind a gap, once the gap is filled.
    pub fn release(&mut self) -> Option<Answer> {
        if self.recovering.is_some() { None } else { self.held.pop_front() }
    }

    /// The next whole message in `rx`, consumed, as an answer and where its
    /// MsgSeqNum puts it; `Ok(None)` when more bytes are needed, `Err` when the
    /// bytes cannot be FIX.
    pub fn next_answer(
        &mut self,
        requests: &impl Fn(u64) -> Kind,
    ) -> Result<Option<(Answer, SeqCheck)>, Garbled> {
        let unread = &self.rx[self.rx_pos..];
        let len = match fix::frame::scan(unread, 1 << 20) {
            fix::frame::Scan::Message { len, .. } => len,
            fix::frame::Scan::Incomplete => return Ok(None),
            fix::frame::Scan::Garbled { .. } => return Err(Garbled),
        };
        let fields = Fields::of(&unread[..len]);
        let answer = self.answer(&fields, requests);
        let seq_fields = SeqFields {
            seq: fields.seq,
            poss_dup: fields.poss_dup,
            sequence_reset: fields.msg_type == b"4",
            gap_fill: fields.gap_fill,
            new_seq_no: fields.new_seq_no,
        };
        let check = self.check(seq_fields);
        self.rx_pos += len;
        if answer == Answer::LoggedOn {
            self.logged_on_once = true;
        }
        Ok(Some((answer, check)))
    }

    fn answer(&self, f: &Fields<'_>, requests: &impl Fn(u64) -> Kind) -> Answer {
        match f.msg_type {
            b"A" => Answer::LoggedOn,
            b"0" => Answer::Heartbeat,
            b"1" => Answer::TestRequest(f.test_req_id),
            b"5" => Answer::Logout,
            b"8" => report(f),
            b"9" => Answer::CancelRejected { request_id: f.cl_ord_id, code: f.code() },
            b"r" => Answer::MassCancelAck { request_id: f.cl_ord_id },
            b"3" | b"j" => {
                let (seq, id) = self.sent[(f.ref_seq as usize) % SENT_RING];
                if seq != f.ref_seq || id == 0 {
                    return Answer::OtherReject;
                }
                let code = if f.bw_code != 0 { f.code() } else { SESSION_REJECT };
                match requests(id) {
                    Kind::Order => Answer::Rejected { cl_ord_id: id, code },
                    Kind::CancelOrReplace => Answer::CancelRejected { request_id: id, code },
                    Kind::Unknown => Answer::OtherReject,
                }
            }
            _ => Answer::Other,
        }
    }
}

impl Answer {
    /// Session-level: handled at once, even behind a gap.
    pub fn is_session_level(&self) -> bool {
        matches!(
            self,
            Answer::LoggedOn | Answer::Heartbeat | Answer::TestRequest(_) | Answer::Logout
        )
    }
}

/// Where a message's MsgSeqNum puts it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SeqCheck {
    /// The next expected: handle it.
    InOrder,
    /// Numbers `from..=to` were skipped (sent to a connection that closed before
    /// they were read): handle this one, and ask for those with a ResendRequest.
    Gap {
        /// The first missed.
        from: u64,
        /// The last missed.
        to: u64,
    },
    /// A resent message (PossDupFlag) of the range asked for: handle it.
    Resent,
    /// Seen already: skip it.
    Duplicate,
}

/// The acceptor sent bytes that are not a FIX message (the connection is dropped).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the FIX acceptor sent a garbled message")]
pub struct Garbled;

/// What a request id was, for a Reject that names it only by MsgSeqNum.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A NewOrderSingle.
    Order,
    /// An OrderCancelRequest or OrderCancelReplaceRequest.
    CancelOrReplace,
    /// Not known (a mass cancel, or forgotten).
    Unknown,
}

fn report(f: &Fields<'_>) -> Answer {
    match f.exec_type {
        b'0' => Answer::Accepted { cl_ord_id: f.cl_ord_id },
        b'8' => Answer::Rejected { cl_ord_id: f.cl_ord_id, code: f.code() },
        b'F' => Answer::Executed {
            cl_ord_id: f.cl_ord_id,
            leaves: f.leaves,
            cum: f.cum,
            price: f.last_px,
        },
        b'4' | b'C' => {
            let expired = f.exec_type == b'C';
            match f.orig_cl_ord_id {
                // Answering a cancel request: 11 is the request, 41 the order.
                Some(orig) => Answer::Canceled {
                    cl_ord_id: orig,
                    request_id: f.cl_ord_id,
                    reason: CancelReason::Client,
                },
                None => Answer::Canceled {
                    cl_ord_id: f.cl_ord_id,
                    request_id: 0,
                    reason: if expired { CancelReason::Expired } else { CancelReason::Venue },
                },
            }
        }
        b'5' => Answer::Replaced { request_id: f.cl_ord_id, qty: f.order_qty, price: f.price },
        _ => Answer::Other,
    }
}

/// What [`FixSession::check`] reads of a message.
#[derive(Clone, Copy)]
struct SeqFields {
    seq: u64,
    poss_dup: bool,
    sequence_reset: bool,
    gap_fill: bool,
    new_seq_no: u64,
}

/// The fields of one message the harness reads.
#[derive(Default)]
struct Fields<'a> {
    msg_type: &'a [u8],
    seq: u64,
    cl_ord_id: u64,
    orig_cl_ord_id: Option<u64>,
    exec_type: u8,
    leaves: u64,
    cum: u64,
    last_px: i64,
    price: i64,
    order_qty: u64,
    bw_code: u16,
    ref_seq: u64,
    test_req_id: u64,
    poss_dup: bool,
    gap_fill: bool,
    new_seq_no: u64,
}

impl<'a> Fields<'a> {
    fn of(msg: &'a [u8]) -> Fields<'a> {
        let mut f = Fields::default();
        for (field, _) in fix::field::FieldIter::new(msg).filter_map(Result::ok) {
            let v = field.value;
            let num = || fix::field::get_u64(v).unwrap_or(0);
            let px = || fix::field::get_price(v).map_or(0, |p| p.0);
            match field.tag {
                35 => f.msg_type = v,
                34 => f.seq = num(),
                11 => f.cl_ord_id = num(),
                41 => f.orig_cl_ord_id = fix::field::get_u64(v).ok(),
                150 => f.exec_type = v.first().copied().unwrap_or(0),
                151 => f.leaves = num(),
                14 => f.cum = num(),
                31 => f.last_px = px(),
                44 => f.price = px(),
                38 => f.order_qty = num(),
                5005 => f.bw_code = num() as u16,
                45 => f.ref_seq = num(),
                112 => f.test_req_id = num(),
                43 => f.poss_dup = v == b"Y",
                123 => f.gap_fill = v == b"Y",
                36 => f.new_seq_no = num(),
                _ => {}
            }
        }
        f
    }

    fn code(&self) -> RejectCode {
        RejectCode(self.bw_code)
    }
}

/// The SenderCompID of the universe's login `index`.
pub fn comp_id(index: usize) -> String {
    format!("LT{index}")
}

/// The `[fix]` section that gives each of `usernames` a FIX session on an
/// ephemeral loopback port, for the in-process gateway.
pub fn fix_section(usernames: &[String]) -> String {
    let mut s = String::from(
        "\n[fix]\nlisten = \"127.0.0.1:0\"\nsender_comp_id = \"BW\"\nqueue_messages = 65536\n",
    );
    for (i, name) in usernames.iter().enumerate() {
        s.push_str(&format!(
            "\n[[fix.sessions]]\ncomp_id = \"{}\"\nlogin = \"{name}\"\n",
            comp_id(i)
        ));
    }
    s
}

fn new_order_body(o: &NewOrder, ts: &[u8], b: &mut Vec<u8>) {
    let exchange: &[u8] = match o.security.market {
        Market::Sse => b"XSHG",
        Market::Szse => b"XSHE",
        _ => b"BJSE",
    };
    put(b, 11, o.cl_ord_id);
    put(b, 1, o.account);
    let _ = write!(b, "55={:06}\x01", o.security.code);
    put_bytes(b, 207, exchange);
    b.extend_from_slice(if o.side == Side::Buy { b"54=1\x01" } else { b"54=2\x01" });
    put_bytes(b, 60, ts);
    put(b, 38, o.qty.0);
    let market = match o.order_type {
        OrderType::Limit => None,
        OrderType::MarketBestOwn => Some(b'O'),
        OrderType::MarketBestCounter => Some(b'C'),
        OrderType::MarketBest5Cancel => Some(b'5'),
        OrderType::MarketBest5Limit => Some(b'L'),
        OrderType::MarketIoc => Some(b'I'),
        OrderType::MarketFok => Some(b'F'),
    };
    match market {
        None => b.extend_from_slice(b"40=2\x01"),
        Some(m) => {
            b.extend_from_slice(b"40=1\x01");
            put_bytes(b, 5001, &[m]);
        }
    }
    // Passed through as given: the engine refuses a price on a market order, as
    // on the binary door.
    if market.is_none() || o.price != Price::ZERO {
        put_price(b, o.price);
    }
    b.extend_from_slice(match o.tif {
        TimeInForce::Day => b"59=0\x01",
        TimeInForce::Ioc => b"59=3\x01",
        TimeInForce::Fok => b"59=4\x01",
    });
    if o.flags & order_flags::SUITABILITY_CONFIRMED != 0 {
        b.extend_from_slice(b"5002=Y\x01");
    }
    if o.flags & order_flags::PROGRAMMATIC != 0 {
        b.extend_from_slice(b"5003=Y\x01");
    }
    match o.credit {
        CreditTag::Cash => {}
        CreditTag::MarginBuy => b.extend_from_slice(b"5004=1\x01"),
        CreditTag::ShortSell => b.extend_from_slice(b"5004=2\x01"),
    }
}

/// `tag=value<SOH>`.
fn put(b: &mut Vec<u8>, tag: u32, value: impl std::fmt::Display) {
    let _ = write!(b, "{tag}={value}\x01");
}

fn put_bytes(b: &mut Vec<u8>, tag: u32, value: &[u8]) {
    let _ = write!(b, "{tag}=");
    b.extend_from_slice(value);
    b.push(SOH);
}

/// Price(44) in 1/10000 CNY as FIX decimal text.
fn put_price(b: &mut Vec<u8>, p: Price) {
    let sign = if p.0 < 0 { "-" } else { "" };
    let v = p.0.unsigned_abs();
    let _ = write!(b, "44={sign}{}.{:04}\x01", v / 10_000, v % 10_000);
}

/// A UTCTimestamp with milliseconds.
fn utc(ns: u64) -> [u8; 21] {
    let mut out = [0u8; 21];
    fix::time::format_utc_timestamp_ms(ns, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::{AccountId, Qty, SecurityId};

    const NOW: u64 = 1_728_351_000_000_000_000;

    fn order() -> NewOrder {
        NewOrder {
            cl_ord_id: 77,
            account: AccountId::new("A001").unwrap(),
            security: SecurityId::new(Market::Sse, 600_519).unwrap(),
            side: Side::Sell,
            order_type: OrderType::MarketBest5Cancel,
            tif: TimeInForce::Ioc,
            price: Price::ZERO,
            qty: Qty(300),
            flags: order_flags::PROGRAMMATIC,
            credit: CreditTag::ShortSell,
        }
    }

    /// What a FIX acceptor's parser sees, as (tag, value) text.
    fn fields(bytes: &[u8]) -> Vec<(u32, String)> {
        let fix::frame::Scan::Message { len, .. } = fix::frame::scan(bytes, 1 << 20) else {
            panic!("a whole, valid message: {:?}", String::from_utf8_lossy(bytes));
        };
        assert_eq!(len, bytes.len());
        fix::field::FieldIter::new(bytes)
            .map(|f| f.unwrap().0)
            .map(|f| (f.tag, String::from_utf8_lossy(f.value).into_owned()))
            .collect()
    }

    #[test]
    fn a_new_order_becomes_the_new_order_single_the_acceptor_maps_back() {
        let mut s = FixSession::new(3);
        let mut out = Vec::new();
        s.encode(&ClientMessage::NewOrder(order()), NOW, &mut out);
        let f = fields(&out);
        let get = |t: u32| f.iter().find(|(tag, _)| *tag == t).map(|(_, v)| v.as_str());
        assert_eq!(get(35), Some("D"));
        assert_eq!(get(49), Some("LT3"));
        assert_eq!(get(34), Some("1"));
        assert_eq!(
            (get(11), get(1), get(55), get(207)),
            (Some("77"), Some("A001"), Some("600519"), Some("XSHG"))
        );
        assert_eq!(
            (get(54), get(40), get(5001), get(59)),
            (Some("2"), Some("1"), Some("5"), Some("3"))
        );
        assert_eq!(
            (get(38), get(44), get(5003), get(5004)),
            (Some("300"), None, Some("Y"), Some("2"))
        );

        // The acceptor's own mapping reads back the same order.
        let mut table = Vec::new();
        fix::message::parse_into(&out, &mut table, 64).unwrap();
        let msg = fix::message::Message::new(&out, &table);
        assert_eq!(fix::inbound::new_order(&msg).unwrap(), order());
    }

    #[test]
    fn reports_become_the_tracker_s_answers() {
        let mut s = FixSession::new(0);
        let mut out = Vec::new();
        s.encode(&ClientMessage::NewOrder(order()), NOW, &mut out); // seq 1: order 77
        let msg = |body: &str| {
            let body = body.replace('|', "\x01");
            let mut m = format!("8=FIX.4.4\x019={}\x01{body}", body.len()).into_bytes();
            let sum = m.iter().fold(0u8, |a, &b| a.wrapping_add(b));
            m.extend_from_slice(format!("10={sum:03}\x01").as_bytes());
            m
        };
        for m in [
            "35=A|49=BW|56=LT0|34=1|52=20241008-01:30:00.000|98=0|108=1|",
            "35=8|49=BW|56=LT0|34=2|52=20241008-01:30:00.000|11=77|150=F|151=100|14=200|31=1500.5|",
            "35=8|49=BW|56=LT0|34=3|52=20241008-01:30:00.000|11=90|41=77|150=4|",
            "35=8|49=BW|56=LT0|34=5|52=20241008-01:30:00.000|11=91|41=77|150=5|38=400|44=1499|",
            "35=3|49=BW|56=LT0|34=6|52=20241008-01:30:00.000|45=1|373=5|",
            "35=8|49=BW|56=LT0|34=4|43=Y|52=20241008-01:30:00.000|11=92|150=I|",
            "35=0|49=BW|56=LT0|34=6|52=20241008-01:30:00.000|",
        ] {
            s.received(&msg(m));
        }
        let kinds = |id: u64| if id == 77 { Kind::Order } else { Kind::Unknown };
        let mut got = Vec::new();
        while let Some(a) = s.next_answer(&kinds).unwrap() {
            got.push(a);
        }
        assert_eq!(
            got,
            [
                (Answer::LoggedOn, SeqCheck::InOrder),
                (
                    Answer::Executed { cl_ord_id: 77, leaves: 100, cum: 200, price: 15_005_000 },
                    SeqCheck::InOrder
                ),
                (
                    Answer::Canceled {
                        cl_ord_id: 77,
                        request_id: 90,
                        reason: CancelReason::Client
                    },
                    SeqCheck::InOrder
                ),
                (
                    Answer::Replaced { request_id: 91, qty: 400, price: 14_990_000 },
                    SeqCheck::Gap { from: 4, to: 4 }
                ),
                (Answer::Rejected { cl_ord_id: 77, code: SESSION_REJECT }, SeqCheck::InOrder),
                (Answer::Other, SeqCheck::Resent),
                (Answer::Heartbeat, SeqCheck::Duplicate),
            ],
            "a gap (4) is asked for once; its resend is taken, a repeat is not"
        );
    }
}
