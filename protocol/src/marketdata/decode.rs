//! Decoding: every check of `docs/marketdata.md` section 12, never a panic on
//! bytes from the network.

use super::*;

/// Reads fields one after another from a body whose length was checked.
struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn take<const N: usize>(&mut self) -> [u8; N] {
        let mut out = [0u8; N];
        out.copy_from_slice(&self.buf[self.pos..self.pos + N]);
        self.pos += N;
        out
    }
    fn u8(&mut self) -> u8 {
        self.take::<1>()[0]
    }
    fn u16(&mut self) -> u16 {
        u16::from_le_bytes(self.take())
    }
    fn u32(&mut self) -> u32 {
        u32::from_le_bytes(self.take())
    }
    fn u64(&mut self) -> u64 {
        u64::from_le_bytes(self.take())
    }
    fn i64(&mut self) -> i64 {
        i64::from_le_bytes(self.take())
    }
    fn security(&mut self) -> Result<SecurityId, DecodeError> {
        let market = self.u8();
        let code = self.u32();
        let market = Market::from_u8(market)
            .ok_or(DecodeError::BadEnum { field: "market", value: u64::from(market) })?;
        SecurityId::new(market, code).ok_or(DecodeError::OutOfRange { field: "code" })
    }
    fn side(&mut self, field: &'static str) -> Result<Side, DecodeError> {
        let b = self.u8();
        Side::from_u8(b).ok_or(DecodeError::BadEnum { field, value: u64::from(b) })
    }
    fn level(&mut self) -> WireLevel {
        WireLevel { price: Price(self.i64()), qty: Qty(self.u64()), orders: self.u32() }
    }
}

fn bad_enum(field: &'static str, value: u8) -> DecodeError {
    DecodeError::BadEnum { field, value: u64::from(value) }
}

/// Decodes one whole frame sent by a client (a server receives these).
pub fn decode_client(frame: &[u8]) -> Result<MdMessage, DecodeError> {
    decode(frame, true)
}

/// Decodes one whole frame sent by the server (a subscriber receives these).
pub fn decode_server(frame: &[u8]) -> Result<MdMessage, DecodeError> {
    decode(frame, false)
}

fn decode(frame: &[u8], from_client: bool) -> Result<MdMessage, DecodeError> {
    if frame.len() < FRAME_HEADER_LEN {
        return Err(DecodeError::Truncated { needed: FRAME_HEADER_LEN, available: frame.len() });
    }
    let length = usize::from(u16::from_le_bytes([frame[0], frame[1]]));
    if length == 0 || length + 2 > MAX_FRAME_LEN {
        return Err(DecodeError::BadFrameLength { length, max: MAX_FRAME_LEN - 2 });
    }
    if frame.len() != length + 2 {
        return Err(DecodeError::Truncated { needed: length + 2, available: frame.len() });
    }
    let msg_type = frame[2];
    let body = &frame[FRAME_HEADER_LEN..];
    let (_, _, fixed, each, _) = MESSAGE_TYPES
        .iter()
        .copied()
        .find(|t| t.0 == msg_type && t.4 == from_client)
        .ok_or(DecodeError::UnknownType(msg_type))?;
    // A repeated part's count sits right after the fixed fields it follows.
    let entries = match msg_type {
        // Snapshot: bid_count and ask_count follow the header, the session id and the phase.
        b'w' => {
            let at = DELTA_HEADER_LEN + 9;
            usize::from(*body.get(at).unwrap_or(&0)) + usize::from(*body.get(at + 1).unwrap_or(&0))
        }
        b'h' => usize::from(*body.get(8).unwrap_or(&0)),
        _ => 0,
    };
    let expected = fixed + each * entries;
    if body.len() != expected {
        return Err(DecodeError::BadBodyLength { msg_type, expected, actual: body.len() });
    }
    let mut r = Reader { buf: body, pos: 0 };
    let msg = decode_body(msg_type, &mut r)?;
    debug_assert_eq!(r.pos, body.len(), "the layout reads the whole body");
    Ok(msg)
}

fn decode_target(scope: u8, market: u8, code: u32) -> Result<Target, DecodeError> {
    match scope {
        1 => {
            let m = Market::from_u8(market).ok_or(bad_enum("market", market))?;
            SecurityId::new(m, code)
                .map(Target::Security)
                .ok_or(DecodeError::OutOfRange { field: "code" })
        }
        2 if market != 0 => Err(bad_enum("market", market)),
        2 => u16::try_from(code)
            .map(Target::Channel)
            .map_err(|_| DecodeError::OutOfRange { field: "code" }),
        _ => Err(bad_enum("scope", scope)),
    }
}

fn decode_body(msg_type: u8, r: &mut Reader<'_>) -> Result<MdMessage, DecodeError> {
    Ok(match msg_type {
        b'L' => {
            let version = r.u8();
            r.take::<3>();
            let username = Username::from_wire(r.take())
                .map_err(|_| DecodeError::BadIdentifier { field: "username" })?;
            let token = Token(r.take());
            if version != MD_VERSION {
                return Err(DecodeError::BadVersion(version));
            }
            MdMessage::Login { version, username, token }
        }
        b'R' => MdMessage::ClientHeartbeat,
        b'S' => decode_subscribe(r)?,
        b'U' => {
            let request_id = r.u32();
            let (scope, market, code) = (r.u8(), r.u8(), r.u32());
            MdMessage::Unsubscribe { request_id, target: decode_target(scope, market, code)? }
        }
        b'T' => {
            let (request_id, channel, from_seq, count) = (r.u32(), r.u16(), r.u64(), r.u32());
            if from_seq == 0 {
                return Err(DecodeError::OutOfRange { field: "from_seq" });
            }
            if count == 0 || count > RETRANSMIT_COUNT_MAX {
                return Err(DecodeError::OutOfRange { field: "count" });
            }
            MdMessage::RetransmitRequest { request_id, channel, from_seq, count }
        }
        b'A' => MdMessage::LoginAccepted { session_id: r.u64(), heartbeat_ms: r.u32() },
        b'J' => MdMessage::LoginRejected { code: MdReject(r.u16()) },
        b'K' => MdMessage::SubscribeAck { request_id: r.u32(), channel: r.u16() },
        b'Q' => MdMessage::SubscribeReject { request_id: r.u32(), code: MdReject(r.u16()) },
        b'V' => MdMessage::RetransmitReject {
            request_id: r.u32(),
            code: MdReject(r.u16()),
            channel: r.u16(),
            first_available: r.u64(),
        },
        b'w' => MdMessage::Snapshot(decode_snapshot(r)?),
        b'h' => {
            let session_id = r.u64();
            let count = r.u8();
            let mut channels = [(0u16, 0u64); HEARTBEAT_CHANNELS_MAX];
            if usize::from(count) > HEARTBEAT_CHANNELS_MAX {
                return Err(DecodeError::OutOfRange { field: "count" });
            }
            for c in &mut channels[..usize::from(count)] {
                *c = (r.u16(), r.u64());
            }
            MdMessage::Heartbeat { session_id, count, channels }
        }
        b'n' => {
            let (channel, first_seq, last_seq, reason) = (r.u16(), r.u64(), r.u64(), r.u8());
            r.take::<5>();
            let reason = GapReason::from_u8(reason).ok_or(bad_enum("reason", reason))?;
            if first_seq == 0 || last_seq < first_seq {
                return Err(DecodeError::OutOfRange { field: "first_seq/last_seq" });
            }
            MdMessage::GapNotice { channel, first_seq, last_seq, reason }
        }
        _ => {
            let h = decode_header(r)?;
            MdMessage::Delta(h, decode_delta(msg_type, r)?)
        }
    })
}

fn decode_subscribe(r: &mut Reader<'_>) -> Result<MdMessage, DecodeError> {
    let request_id = r.u32();
    let (scope, depth, mode, market) = (r.u8(), r.u8(), r.u8(), r.u8());
    let (code, interval_ms) = (r.u32(), r.u32());
    let target = decode_target(scope, market, code)?;
    let depth = Depth::from_u8(depth).ok_or(bad_enum("depth", depth))?;
    let mode = Mode::from_u8(mode).ok_or(bad_enum("mode", mode))?;
    let interval_ok = match mode {
        Mode::RealTime => interval_ms == 0,
        Mode::Conflated => (1..=INTERVAL_MS_MAX).contains(&interval_ms),
    };
    if !interval_ok {
        return Err(DecodeError::OutOfRange { field: "interval_ms" });
    }
    Ok(MdMessage::Subscribe { request_id, target, depth, mode, interval_ms })
}

fn decode_header(r: &mut Reader<'_>) -> Result<DeltaHeader, DecodeError> {
    let (channel, seq, prev_seq) = (r.u16(), r.u64(), r.u64());
    let security = r.security()?;
    let (flags, time_ns) = (r.u8(), r.u64());
    if seq == 0 || prev_seq >= seq {
        return Err(DecodeError::OutOfRange { field: "seq/prev_seq" });
    }
    Ok(DeltaHeader { channel, seq, prev_seq, security, flags, time_ns })
}

fn decode_phase(b: u8) -> Result<TradingPhase, DecodeError> {
    TradingPhase::from_u8(b).ok_or(bad_enum("phase", b))
}

fn decode_snapshot(r: &mut Reader<'_>) -> Result<Snapshot, DecodeError> {
    let (channel, seq, security_seq) = (r.u16(), r.u64(), r.u64());
    let security = r.security()?;
    let (flags, time_ns, session_id) = (r.u8(), r.u64(), r.u64());
    let phase = decode_phase(r.u8())?;
    let (bid_count, ask_count, _) = (r.u8(), r.u8(), r.u8());
    if usize::from(bid_count) > SNAPSHOT_LEVELS_MAX || usize::from(ask_count) > SNAPSHOT_LEVELS_MAX
    {
        return Err(DecodeError::OutOfRange { field: "bid_count/ask_count" });
    }
    if security_seq > seq {
        return Err(DecodeError::OutOfRange { field: "security_seq" });
    }
    let (last, volume, turnover) = (Price(r.i64()), r.u64(), r.i64());
    let indicative = Indicative { price: Price(r.i64()), qty: Qty(r.u64()), imbalance: r.u64() };
    let mut bids = [WireLevel::default(); SNAPSHOT_LEVELS_MAX];
    let mut asks = [WireLevel::default(); SNAPSHOT_LEVELS_MAX];
    for l in &mut bids[..usize::from(bid_count)] {
        *l = r.level();
    }
    for l in &mut asks[..usize::from(ask_count)] {
        *l = r.level();
    }
    Ok(Snapshot {
        channel,
        seq,
        security_seq,
        security,
        flags,
        time_ns,
        session_id,
        phase,
        last,
        volume,
        turnover,
        indicative,
        bid_count,
        ask_count,
        bids,
        asks,
    })
}

fn decode_delta(msg_type: u8, r: &mut Reader<'_>) -> Result<DeltaBody, DecodeError> {
    Ok(match msg_type {
        b'l' => {
            let side = r.side("side")?;
            let orders = r.u32();
            let level = WireLevel { price: Price(r.i64()), qty: Qty(r.u64()), orders };
            if (level.qty.0 == 0) != (level.orders == 0) {
                return Err(DecodeError::OutOfRange { field: "qty/orders" });
            }
            DeltaBody::Level { side, level }
        }
        b't' => {
            let a = r.u8();
            let aggressor = match a {
                0 => None,
                _ => Some(Side::from_u8(a).ok_or(bad_enum("aggressor", a))?),
            };
            DeltaBody::Trade {
                exec_id: r.u64(),
                price: Price(r.i64()),
                qty: Qty(r.u64()),
                buy_order_id: r.u64(),
                sell_order_id: r.u64(),
                aggressor,
            }
        }
        b'o' => {
            let side = r.side("side")?;
            DeltaBody::OrderAdded {
                order_id: r.u64(),
                side,
                price: Price(r.i64()),
                qty: Qty(r.u64()),
            }
        }
        b'x' => {
            r.u8();
            DeltaBody::OrderRemoved { order_id: r.u64(), qty: Qty(r.u64()) }
        }
        b'f' => {
            let phase = decode_phase(r.u8())?;
            let k = r.u8();
            DeltaBody::Phase { phase, kind: PhaseKind::from_u8(k).ok_or(bad_enum("kind", k))? }
        }
        b'i' => DeltaBody::Indicative(Indicative {
            price: Price(r.i64()),
            qty: Qty(r.u64()),
            imbalance: r.u64(),
        }),
        other => return Err(DecodeError::UnknownType(other)),
    })
}
