//! What the publisher does with a client's frame: the login, subscriptions and
//! retransmission requests (docs/marketdata.md, sections 5, 7, 8, 11 and 12).

use protocol::codec::DecodeError;
use protocol::marketdata::{
    Depth, FLAG_CONFLATED, FLAG_RETRANSMIT, MdMessage, MdReject, Mode, Target, decode_client,
};
use subtle::ConstantTimeEq;

use super::publisher::Publisher;
use super::session::{Phase, Sub};

/// The largest Snapshot frame (ten levels a side).
const SNAPSHOT_FRAME_MAX: usize = 495;

impl Publisher {
    /// Takes one whole frame from slot `s` (the io loop checked its length prefix).
    pub fn on_frame(&mut self, s: usize, frame: &[u8], now_ns: u64) {
        self.sessions[s].last_rx_ns = now_ns;
        match self.sessions[s].phase {
            Phase::AwaitLogin { .. } => self.on_login(s, frame, now_ns),
            Phase::Live => self.on_request(s, frame, now_ns),
            Phase::Free | Phase::Closing => {}
        }
    }

    fn refuse(&mut self, s: usize, code: MdReject, now_ns: u64) {
        self.metrics.logins_refused.inc();
        self.send_control(s, &MdMessage::LoginRejected { code }, now_ns);
        self.sessions[s].phase = Phase::Closing;
    }

    fn on_login(&mut self, s: usize, frame: &[u8], now_ns: u64) {
        let (username, token) = match decode_client(frame) {
            Ok(MdMessage::Login { username, token, .. }) => (username, token),
            Err(DecodeError::BadVersion(_)) => {
                return self.refuse(s, MdReject::UNSUPPORTED_VERSION, now_ns);
            }
            Err(_) if frame.get(2) == Some(&b'L') => {
                return self.refuse(s, MdReject::MALFORMED, now_ns);
            }
            _ => return self.refuse(s, MdReject::NOT_LOGGED_IN, now_ns),
        };
        let known = self.logins.iter().find(|l| l.username == username).copied();
        // Compare anyway so an unknown name costs the same time as a wrong token.
        let expected = known.map_or(protocol::Token([0; 32]), |l| l.token);
        let token_ok = bool::from(expected.0.ct_eq(&token.0));
        let Some(login) = known.filter(|_| token_ok) else {
            return self.refuse(s, MdReject::BAD_CREDENTIALS, now_ns);
        };
        let Some(depth) = login.depth else {
            return self.refuse(s, MdReject::NOT_ENTITLED, now_ns);
        };
        self.sessions[s].phase = Phase::Live;
        self.sessions[s].max_depth = depth.as_u8();
        self.metrics.logins.inc();
        self.metrics.sessions.set(self.metrics.sessions.get() + 1);
        let heartbeat_ms = (self.limits.heartbeat_ns / 1_000_000) as u32;
        let accepted = MdMessage::LoginAccepted { session_id: self.session_id, heartbeat_ms };
        self.send_control(s, &accepted, now_ns);
    }

    fn on_request(&mut self, s: usize, frame: &[u8], now_ns: u64) {
        let msg = match decode_client(frame) {
            Ok(m) => m,
            Err(_) => {
                // A request that does not decode is answered and never acted on.
                let request_id =
                    frame.get(3..7).map_or(0, |b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]));
                return self.reject_subscribe(s, request_id, MdReject::MALFORMED, now_ns);
            }
        };
        match msg {
            MdMessage::ClientHeartbeat => {}
            MdMessage::Subscribe { request_id, target, depth, mode, interval_ms } => {
                let sub = Sub { target, depth, mode, interval_ms };
                self.subscribe(s, request_id, sub, now_ns);
            }
            MdMessage::Unsubscribe { request_id, target } => {
                self.unsubscribe(s, request_id, target, now_ns);
            }
            MdMessage::RetransmitRequest { request_id, channel, from_seq, count } => {
                self.retransmit(s, request_id, channel, from_seq, count, now_ns);
            }
            // A second Login is not a request.
            _ => self.reject_subscribe(s, 0, MdReject::MALFORMED, now_ns),
        }
    }

    fn reject_subscribe(&mut self, s: usize, request_id: u32, code: MdReject, now_ns: u64) {
        self.metrics.subscribe_rejects.inc();
        self.send_control(s, &MdMessage::SubscribeReject { request_id, code }, now_ns);
    }

    /// The securities a target covers, as a range of the channel's list or one.
    fn covered(&self, target: Target) -> Result<(usize, Option<usize>), MdReject> {
        match target {
            Target::Security(sec) => {
                let i = self.sec_index(sec).ok_or(MdReject::UNKNOWN_SECURITY)?;
                Ok((self.chan_of_sec[i], Some(i)))
            }
            Target::Channel(ch) => {
                Ok((self.chan_index(ch).ok_or(MdReject::UNKNOWN_CHANNEL)?, None))
            }
        }
    }

    fn subscribe(&mut self, s: usize, request_id: u32, sub: Sub, now_ns: u64) {
        let (c, one) = match self.covered(sub.target) {
            Ok(x) => x,
            Err(code) => return self.reject_subscribe(s, request_id, code, now_ns),
        };
        if sub.depth.as_u8() > self.sessions[s].max_depth {
            return self.reject_subscribe(s, request_id, MdReject::NOT_ENTITLED, now_ns);
        }
        let session = &mut self.sessions[s];
        match session.subs.iter().position(|x| x.target == sub.target) {
            Some(at) => session.subs[at] = sub,
            None if session.subs.len() >= self.limits.max_subscriptions => {
                return self.reject_subscribe(
                    s,
                    request_id,
                    MdReject::TOO_MANY_SUBSCRIPTIONS,
                    now_ns,
                );
            }
            None => {
                session.subs.push(sub);
                self.metrics.subscriptions.set(self.metrics.subscriptions.get() + 1);
            }
        }
        let channel = self.chans[c].channel;
        self.send_control(s, &MdMessage::SubscribeAck { request_id, channel }, now_ns);
        let conflate_ns = match sub.mode {
            Mode::RealTime => 0,
            Mode::Conflated => u64::from(sub.interval_ms) * 1_000_000,
        };
        let flags = if conflate_ns > 0 { FLAG_CONFLATED } else { 0 };
        let seq = self.chans[c].last_seq;
        let n = if one.is_some() { 1 } else { self.chans[c].secs.len() };
        for k in 0..n {
            let sec = one.unwrap_or_else(|| self.chans[c].secs[k]);
            let entry = &mut self.sessions[s].secs[sec];
            entry.depth = sub.depth.as_u8();
            entry.conflate_ns = conflate_ns;
            entry.dirty = false;
            entry.next_due_ns = now_ns + conflate_ns;
            self.send_snapshot(s, sec, seq, flags, now_ns);
        }
    }

    fn unsubscribe(&mut self, s: usize, request_id: u32, target: Target, now_ns: u64) {
        let Some(at) = self.sessions[s].subs.iter().position(|x| x.target == target) else {
            return self.reject_subscribe(s, request_id, MdReject::NOT_SUBSCRIBED, now_ns);
        };
        self.sessions[s].subs.swap_remove(at);
        self.metrics.subscriptions.set(self.metrics.subscriptions.get().saturating_sub(1));
        let Ok((c, one)) = self.covered(target) else { return };
        let n = if one.is_some() { 1 } else { self.chans[c].secs.len() };
        for k in 0..n {
            let sec = one.unwrap_or_else(|| self.chans[c].secs[k]);
            let security = self.books[sec].security;
            // A security stays subscribed while another subscription covers it.
            let still = self.sessions[s].subs.iter().any(|x| match x.target {
                Target::Security(other) => other == security,
                Target::Channel(ch) => ch == self.chans[c].channel,
            });
            if !still {
                self.sessions[s].secs[sec].depth = 0;
            }
        }
    }

    fn retransmit_reject(
        &mut self,
        s: usize,
        request_id: u32,
        code: MdReject,
        channel: u16,
        first_available: u64,
        now_ns: u64,
    ) {
        self.metrics.retransmit_rejects.inc();
        let msg = MdMessage::RetransmitReject { request_id, code, channel, first_available };
        self.send_control(s, &msg, now_ns);
    }

    /// Sends a channel's range again, for the session's subscriptions, flagged
    /// retransmitted, with the venue's `prev_seq`; a Level-1 book it covered then
    /// gets a snapshot (its five levels cannot be rebuilt from the range alone).
    fn retransmit(
        &mut self,
        s: usize,
        request_id: u32,
        channel: u16,
        from_seq: u64,
        count: u32,
        now_ns: u64,
    ) {
        let Some(c) = self.chan_index(channel) else {
            return self.retransmit_reject(
                s,
                request_id,
                MdReject::UNKNOWN_CHANNEL,
                channel,
                0,
                now_ns,
            );
        };
        let last = self.chans[c].last_seq;
        let first_available = self.chans[c].history.first_available(last + 1);
        if !self.sessions[s].on_channel(&self.chans[c].secs) {
            let code = MdReject::NOT_SUBSCRIBED;
            return self.retransmit_reject(s, request_id, code, channel, first_available, now_ns);
        }
        let to_seq = from_seq.saturating_add(u64::from(count) - 1);
        if to_seq > last {
            let code = MdReject::RANGE_AHEAD;
            return self.retransmit_reject(s, request_id, code, channel, first_available, now_ns);
        }
        // What the answer takes; a range the queue cannot hold now is refused
        // like one that is gone: the subscriber takes a snapshot instead.
        let mut bytes = 0usize;
        for seq in from_seq.max(first_available)..=to_seq {
            if let Some(ev) = self.chans[c].history.get(seq)
                && let Some(sec) = self.sec_index(ev.security)
                && self.sessions[s].secs[sec].depth != 0
            {
                bytes += ev.to_wire().frame_len();
                if self.sessions[s].secs[sec].depth == Depth::Level1.as_u8() {
                    bytes += SNAPSHOT_FRAME_MAX;
                }
            }
        }
        if from_seq < first_available
            || self.sessions[s].behind
            || !self.sessions[s].has_room(bytes)
        {
            let code = MdReject::RANGE_UNAVAILABLE;
            return self.retransmit_reject(s, request_id, code, channel, first_available, now_ns);
        }
        let mut level1 = Vec::new();
        for seq in from_seq..=to_seq {
            let Some(ev) = self.chans[c].history.get(seq).copied() else { continue };
            let Some(sec) = self.sec_index(ev.security) else { continue };
            let depth = self.sessions[s].secs[sec].depth;
            if depth == 0 {
                continue;
            }
            let mut msg = ev.to_wire();
            if let MdMessage::Delta(ref mut h, _) = msg {
                h.flags = FLAG_RETRANSMIT;
            }
            let Ok(len) = msg.encode(&mut self.frame) else { continue };
            self.sessions[s].push_data(&self.frame[..len], now_ns);
            self.metrics.retransmitted.inc();
            if depth == Depth::Level1.as_u8() && !level1.contains(&sec) {
                level1.push(sec);
            }
        }
        for sec in level1 {
            self.send_snapshot(s, sec, last, FLAG_RETRANSMIT | FLAG_CONFLATED, now_ns);
        }
    }
}
