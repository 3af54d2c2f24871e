//! The journal's record codec: one sequenced input to bytes and back (kinds 1
//! to 7), framed as the journal stores it. The gateway's journal writes and reads
//! these records in its segment files.
//!
//! ```text
//! record   = u32 body_len | u32 crc32(body) | body
//! body     = u64 input_seq | u64 now_ns | u64 arrival_ns | u8 kind | payload
//! ```

use protocol::codec::{ClientMessage, EntryState, MAX_FRAME_LEN};
use protocol::{AccountId, Market, RejectCode, SecurityId, TradingPhase};

use crate::input::{AdminCommand, Input, LimitChange};

/// Bytes of a record's frame before its body.
pub const RECORD_HEADER_LEN: usize = 8;
/// Largest body a record may have (a whole client frame plus the fixed fields).
pub const MAX_BODY_LEN: usize = 25 + 4 + MAX_FRAME_LEN;

/// One sequenced input, as journaled.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Entry {
    /// Its sequence number (1, 2, ...; gap-free across segments).
    pub input_seq: u64,
    /// The engine time it was processed at.
    pub now_ns: u64,
    /// When it reached the gateway.
    pub arrival_ns: u64,
    /// The input.
    pub input: Input,
}

pub(crate) const KIND_CLIENT: u8 = 1;
pub(crate) const KIND_MALFORMED: u8 = 2;
pub(crate) const KIND_DISCONNECTED: u8 = 3;
pub(crate) const KIND_TICK: u8 = 4;
pub(crate) const KIND_ADMIN: u8 = 5;
pub(crate) const KIND_LOGGED_IN: u8 = 6;
pub(crate) const KIND_FIX_FACT: u8 = 7;

pub(crate) fn put_security(out: &mut Vec<u8>, security: Option<SecurityId>) {
    match security {
        Some(s) => {
            out.push(s.market.as_u8());
            out.extend_from_slice(&s.code.to_le_bytes());
        }
        None => out.extend_from_slice(&[0; 5]),
    }
}

/// Appends one record (frame and body) for `entry` to `out`.
pub fn encode(entry: &Entry, out: &mut Vec<u8>) {
    let start = out.len();
    out.extend_from_slice(&[0u8; RECORD_HEADER_LEN]);
    out.extend_from_slice(&entry.input_seq.to_le_bytes());
    out.extend_from_slice(&entry.now_ns.to_le_bytes());
    out.extend_from_slice(&entry.arrival_ns.to_le_bytes());
    let client = |login: u32, msg: ClientMessage, out: &mut Vec<u8>| {
        out.push(KIND_CLIENT);
        out.extend_from_slice(&login.to_le_bytes());
        let mut frame = [0u8; MAX_FRAME_LEN];
        let n = msg.encode_to_slice(&mut frame).expect("a client message fits a frame");
        out.extend_from_slice(&frame[..n]);
    };
    match entry.input {
        Input::NewOrder { login, order } => client(login, ClientMessage::NewOrder(order), out),
        Input::Cancel { login, cancel } => client(login, ClientMessage::CancelOrder(cancel), out),
        Input::Replace { login, replace } => {
            client(login, ClientMessage::ReplaceOrder(replace), out)
        }
        Input::MassCancel { login, mass } => client(login, ClientMessage::MassCancel(mass), out),
        Input::EntryControl { login, control } => {
            client(login, ClientMessage::OrderEntryControl(control), out)
        }
        Input::Malformed { login, ref_msg_type, code, ref_id } => {
            out.push(KIND_MALFORMED);
            out.extend_from_slice(&login.to_le_bytes());
            out.push(ref_msg_type);
            out.extend_from_slice(&code.0.to_le_bytes());
            out.extend_from_slice(&ref_id.to_le_bytes());
        }
        Input::Disconnected { login } => {
            out.push(KIND_DISCONNECTED);
            out.extend_from_slice(&login.to_le_bytes());
        }
        Input::LoggedIn { login, version } => {
            out.push(KIND_LOGGED_IN);
            out.extend_from_slice(&login.to_le_bytes());
            out.push(version);
        }
        Input::Tick => out.push(KIND_TICK),
        Input::Admin(cmd) => {
            out.push(KIND_ADMIN);
            encode_admin(&cmd, out);
        }
        Input::FixFact { login, fact } => {
            out.push(KIND_FIX_FACT);
            out.extend_from_slice(&login.to_le_bytes());
            encode_fix_fact(&fact, out);
        }
        // Queries change nothing and are never sequenced (the sequencer answers
        // them before the journal): nothing is written.
        Input::Query { .. } => {
            out.truncate(start);
            return;
        }
    }
    let body_len = (out.len() - start - RECORD_HEADER_LEN) as u32;
    let crc = crc32fast::hash(&out[start + RECORD_HEADER_LEN..]);
    out[start..start + 4].copy_from_slice(&body_len.to_le_bytes());
    out[start + 4..start + 8].copy_from_slice(&crc.to_le_bytes());
}

/// A FIX session fact: the stream seq it follows, a kind byte, then the kind's
/// fields (an input as its binary-protocol frame).
pub(crate) fn encode_fix_fact(fact: &fix::SessionFact, out: &mut Vec<u8>) {
    use fix::session::FactKind;
    out.extend_from_slice(&fact.after_stream_seq.to_le_bytes());
    match fact.kind {
        FactKind::Reset => out.push(1),
        FactKind::AdminSent { seq } => {
            out.push(2);
            out.extend_from_slice(&seq.to_le_bytes());
        }
        FactKind::InboundNext { seq } => {
            out.push(3);
            out.extend_from_slice(&seq.to_le_bytes());
        }
        FactKind::Input(input) => {
            out.push(4);
            let msg = match input {
                fix::inbound::Input::NewOrder(o) => ClientMessage::NewOrder(o),
                fix::inbound::Input::CancelOrder(c) => ClientMessage::CancelOrder(c),
                fix::inbound::Input::ReplaceOrder(r) => ClientMessage::ReplaceOrder(r),
                fix::inbound::Input::MassCancel(m) => ClientMessage::MassCancel(m),
            };
            let mut frame = [0u8; MAX_FRAME_LEN];
            let n = msg.encode_to_slice(&mut frame).expect("a client message fits a frame");
            out.extend_from_slice(&frame[..n]);
        }
        FactKind::StreamFrom { seq } => {
            out.push(5);
            out.extend_from_slice(&seq.to_le_bytes());
        }
    }
}

pub(crate) fn decode_fix_fact(r: &mut Reader<'_>) -> Result<fix::SessionFact, String> {
    use fix::session::FactKind;
    let after_stream_seq = r.u64()?;
    let kind = match r.u8()? {
        1 => FactKind::Reset,
        2 => FactKind::AdminSent { seq: r.u64()? },
        3 => FactKind::InboundNext { seq: r.u64()? },
        4 => {
            let msg =
                ClientMessage::decode(r.rest()).map_err(|e| format!("FIX fact input: {e}"))?;
            FactKind::Input(match msg {
                ClientMessage::NewOrder(o) => fix::inbound::Input::NewOrder(o),
                ClientMessage::CancelOrder(c) => fix::inbound::Input::CancelOrder(c),
                ClientMessage::ReplaceOrder(p) => fix::inbound::Input::ReplaceOrder(p),
                ClientMessage::MassCancel(m) => fix::inbound::Input::MassCancel(m),
                other => return Err(format!("a {other:?} is never a FIX fact")),
            })
        }
        5 => FactKind::StreamFrom { seq: r.u64()? },
        other => return Err(format!("unknown FIX fact kind {other}")),
    };
    Ok(fix::SessionFact { after_stream_seq, kind })
}

pub(crate) fn encode_admin(cmd: &AdminCommand, out: &mut Vec<u8>) {
    match *cmd {
        AdminCommand::FirmState(s) => out.extend_from_slice(&[1, s as u8]),
        AdminCommand::AccountState(a, s) => {
            out.push(2);
            out.extend_from_slice(&a.to_wire());
            out.push(s as u8);
        }
        AdminCommand::CancelAccount(a) => {
            out.push(3);
            out.extend_from_slice(&a.to_wire());
        }
        AdminCommand::Halt(s) => {
            out.push(4);
            put_security(out, s);
        }
        AdminCommand::Resume(s) => {
            out.push(5);
            put_security(out, s);
        }
        AdminCommand::ResumeWithAuction(s, ns) => {
            out.push(6);
            put_security(out, s);
            out.extend_from_slice(&ns.to_le_bytes());
        }
        AdminCommand::SetPhase(s, phase) => {
            out.push(7);
            put_security(out, s);
            out.push(phase.as_u8());
        }
        AdminCommand::PauseMatching { until_ns } => {
            out.push(8);
            out.extend_from_slice(&until_ns.to_le_bytes());
        }
        AdminCommand::AckDelay { delay_ns } => {
            out.push(9);
            out.extend_from_slice(&delay_ns.to_le_bytes());
        }
        AdminCommand::SetLimit(change) => {
            out.push(10);
            let (which, value): (u8, i64) = match change {
                LimitChange::MaxNotional(v) => (1, v),
                LimitChange::FatFingerBp(v) => (2, i64::from(v)),
                LimitChange::MaxMessagesPerSecond(v) => (3, i64::from(v)),
                LimitChange::MaxOpenOrdersPerSecurity(v) => (4, i64::from(v)),
            };
            out.push(which);
            out.extend_from_slice(&value.to_le_bytes());
        }
        AdminCommand::EndOfDay => out.push(11),
        AdminCommand::StartOfDay => out.push(12),
    }
}

/// Reads fields from a record body; every read is bounds-checked.
pub(crate) struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        let end = self
            .at
            .checked_add(n)
            .filter(|&e| e <= self.bytes.len())
            .ok_or("record body too short")?;
        let s = &self.bytes[self.at..end];
        self.at = end;
        Ok(s)
    }
    fn u8(&mut self) -> Result<u8, String> {
        Ok(self.take(1)?[0])
    }
    fn u16(&mut self) -> Result<u16, String> {
        Ok(u16::from_le_bytes(self.take(2)?.try_into().map_err(|_| "short")?))
    }
    fn u32(&mut self) -> Result<u32, String> {
        Ok(u32::from_le_bytes(self.take(4)?.try_into().map_err(|_| "short")?))
    }
    fn u64(&mut self) -> Result<u64, String> {
        Ok(u64::from_le_bytes(self.take(8)?.try_into().map_err(|_| "short")?))
    }
    fn account(&mut self) -> Result<AccountId, String> {
        let raw: [u8; 16] = self.take(16)?.try_into().map_err(|_| "short")?;
        AccountId::from_wire(raw).map_err(|e| format!("account: {e}"))
    }
    fn security(&mut self) -> Result<Option<SecurityId>, String> {
        let market = self.u8()?;
        let code = self.u32()?;
        if market == 0 {
            return Ok(None);
        }
        let market = Market::from_u8(market).ok_or("bad market")?;
        SecurityId::new(market, code).map(Some).ok_or_else(|| "bad security code".to_string())
    }
    fn state(&mut self) -> Result<EntryState, String> {
        EntryState::from_u8(self.u8()?).ok_or_else(|| "bad entry state".to_string())
    }
    fn rest(&mut self) -> &'a [u8] {
        let s = &self.bytes[self.at..];
        self.at = self.bytes.len();
        s
    }
    fn done(&self) -> Result<(), String> {
        if self.at == self.bytes.len() { Ok(()) } else { Err("trailing bytes in record".into()) }
    }
}

/// Decodes a record body (after its CRC was checked).
pub fn decode_body(body: &[u8]) -> Result<Entry, String> {
    let mut r = Reader { bytes: body, at: 0 };
    let input_seq = r.u64()?;
    let now_ns = r.u64()?;
    let arrival_ns = r.u64()?;
    let input = match r.u8()? {
        KIND_CLIENT => {
            let login = r.u32()?;
            let frame = r.rest();
            match ClientMessage::decode(frame).map_err(|e| format!("client message: {e}"))? {
                ClientMessage::NewOrder(order) => Input::NewOrder { login, order },
                ClientMessage::CancelOrder(cancel) => Input::Cancel { login, cancel },
                ClientMessage::ReplaceOrder(replace) => Input::Replace { login, replace },
                ClientMessage::MassCancel(mass) => Input::MassCancel { login, mass },
                ClientMessage::OrderEntryControl(control) => Input::EntryControl { login, control },
                other => return Err(format!("a {other:?} is never journaled")),
            }
        }
        KIND_MALFORMED => Input::Malformed {
            login: r.u32()?,
            ref_msg_type: r.u8()?,
            code: RejectCode(r.u16()?),
            ref_id: r.u64()?,
        },
        KIND_DISCONNECTED => Input::Disconnected { login: r.u32()? },
        KIND_LOGGED_IN => Input::LoggedIn { login: r.u32()?, version: r.u8()? },
        KIND_TICK => Input::Tick,
        KIND_ADMIN => Input::Admin(decode_admin(&mut r)?),
        KIND_FIX_FACT => Input::FixFact { login: r.u32()?, fact: decode_fix_fact(&mut r)? },
        other => return Err(format!("unknown record kind {other}")),
    };
    r.done()?;
    Ok(Entry { input_seq, now_ns, arrival_ns, input })
}

pub(crate) fn decode_admin(r: &mut Reader<'_>) -> Result<AdminCommand, String> {
    Ok(match r.u8()? {
        1 => AdminCommand::FirmState(r.state()?),
        2 => AdminCommand::AccountState(r.account()?, r.state()?),
        3 => AdminCommand::CancelAccount(r.account()?),
        4 => AdminCommand::Halt(r.security()?),
        5 => AdminCommand::Resume(r.security()?),
        6 => AdminCommand::ResumeWithAuction(r.security()?, r.u64()?),
        7 => {
            let security = r.security()?;
            let phase = TradingPhase::from_u8(r.u8()?).ok_or("bad phase")?;
            AdminCommand::SetPhase(security, phase)
        }
        8 => AdminCommand::PauseMatching { until_ns: r.u64()? },
        9 => AdminCommand::AckDelay { delay_ns: r.u64()? },
        10 => {
            let which = r.u8()?;
            let value = r.u64()? as i64;
            let small = |v: i64| u32::try_from(v).map_err(|_| "limit out of range".to_string());
            AdminCommand::SetLimit(match which {
                1 => LimitChange::MaxNotional(value),
                2 => LimitChange::FatFingerBp(small(value)?),
                3 => LimitChange::MaxMessagesPerSecond(small(value)?),
                4 => LimitChange::MaxOpenOrdersPerSecurity(small(value)?),
                other => return Err(format!("unknown limit {other}")),
            })
        }
        11 => AdminCommand::EndOfDay,
        12 => AdminCommand::StartOfDay,
        other => return Err(format!("unknown admin command {other}")),
    })
}
