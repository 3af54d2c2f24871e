//! The baseline: a trivial server over the same framing that answers at once.
//!
//! It logs anyone in and answers each NewOrder with an OrderAccepted (the same size
//! class as the gateway's answer), each cancel with a Canceled, each replace with a
//! Replaced and each mass cancel with a MassCancelAck, with sequence numbers. No
//! risk, no book: what is left is the cost of TCP on loopback, the event loop and
//! the codec, measured with the same schedule in the same run. It waits for work
//! the way the fused gateway does on a small machine (a short spin of non-blocking
//! polls, then a blocking poll), so the ratio measures the gateway's work rather
//! than a difference in wait strategy.

use std::io::{self, Write};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token};
use protocol::codec::{
    AppMessage, Canceled, ClientMessage, EndOfSession, LoginAccepted, MassCancelAck, OrderAccepted,
    Replaced, Sequenced, ServerMessage,
};
use protocol::framing::FrameBuffer;
use protocol::{CancelReason, MAX_FRAME_LEN, Qty, RejectCode};

use crate::driver::LOGIN_VERSION;

const LISTENER: Token = Token(usize::MAX - 1);
const MAX_CONNS: usize = 1024;
/// Non-blocking polls before a blocking one (the fused gateway's default).
const SPINS: u32 = 64;

struct Conn {
    stream: TcpStream,
    rx: FrameBuffer,
    tx: Vec<u8>,
    sent: usize,
    next_seq: u64,
    closing: bool,
}

/// A running echo server.
#[derive(Debug)]
pub struct EchoServer {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<io::Result<()>>>,
}

impl EchoServer {
    /// Starts on an ephemeral loopback port, its thread pinned to `pin_core` if given.
    pub fn start(pin_core: Option<usize>) -> io::Result<EchoServer> {
        let mut listener = TcpListener::bind("127.0.0.1:0".parse().expect("a valid address"))?;
        let addr = listener.local_addr()?;
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = std::thread::Builder::new().name("lt-echo".into()).spawn(move || {
            if let Some(core) = pin_core {
                crate::driver::pin_current_thread(core);
            }
            let poll = Poll::new()?;
            poll.registry().register(&mut listener, LISTENER, Interest::READABLE)?;
            run(poll, listener, &flag)
        })?;
        Ok(EchoServer { addr, stop, thread: Some(thread) })
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops it.
    pub fn stop(mut self) -> io::Result<()> {
        self.stop.store(true, Ordering::SeqCst);
        match self.thread.take() {
            Some(t) => t.join().unwrap_or_else(|_| Err(io::Error::other("echo thread panicked"))),
            None => Ok(()),
        }
    }
}

impl Drop for EchoServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn run(mut poll: Poll, listener: TcpListener, stop: &AtomicBool) -> io::Result<()> {
    let mut events = Events::with_capacity(1024);
    let mut conns: Vec<Option<Conn>> = (0..MAX_CONNS).map(|_| None).collect();
    let mut idle = 0u32;
    while !stop.load(Ordering::Relaxed) {
        let timeout =
            if idle < SPINS { Some(Duration::ZERO) } else { Some(Duration::from_millis(10)) };
        if let Err(e) = poll.poll(&mut events, timeout)
            && e.kind() != io::ErrorKind::Interrupted
        {
            return Err(e);
        }
        if events.is_empty() {
            idle = idle.saturating_add(1);
            continue;
        }
        idle = 0;
        for event in events.iter() {
            if event.token() == LISTENER {
                accept(&poll, &listener, &mut conns);
                continue;
            }
            let i = event.token().0;
            let Some(conn) = conns.get_mut(i).and_then(Option::as_mut) else { continue };
            let closing = event.is_read_closed() || event.is_error();
            let read_ok = if event.is_readable() || closing { serve(conn, !closing) } else { true };
            let alive = read_ok && flush(conn);
            if (!alive || (conn.closing && conn.sent == conn.tx.len()))
                && let Some(mut c) = conns[i].take()
            {
                let _ = poll.registry().deregister(&mut c.stream);
            }
        }
    }
    Ok(())
}

fn accept(poll: &Poll, listener: &TcpListener, conns: &mut [Option<Conn>]) {
    loop {
        match listener.accept() {
            Ok((mut stream, _)) => {
                let Some(i) = conns.iter().position(Option::is_none) else { continue };
                let _ = stream.set_nodelay(true);
                if poll
                    .registry()
                    .register(&mut stream, Token(i), Interest::READABLE | Interest::WRITABLE)
                    .is_ok()
                {
                    conns[i] = Some(Conn {
                        stream,
                        rx: FrameBuffer::new(256 * 1024),
                        tx: Vec::with_capacity(1 << 20),
                        sent: 0,
                        next_seq: 1,
                        closing: false,
                    });
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => return,
        }
    }
}

/// Reads until the socket is empty (WouldBlock, or with `short_read_ends` a read
/// that did not fill the buffer), answering every frame. False: close.
fn serve(conn: &mut Conn, short_read_ends: bool) -> bool {
    let mut drained = false;
    loop {
        loop {
            let frame = match conn.rx.next_frame() {
                Ok(Some(f)) => f,
                Ok(None) => break,
                Err(_) => return false,
            };
            let Ok(msg) = ClientMessage::decode(frame) else { return false };
            answer(conn, msg);
        }
        if drained {
            // A short read emptied the socket (as in the gateway's loop).
            return true;
        }
        match conn.rx.read_from(&mut conn.stream) {
            Ok(0) => return false,
            Ok(_) => drained = short_read_ends && conn.rx.drained(),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return true,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return false,
        }
    }
}

fn push(conn: &mut Conn, msg: ServerMessage) {
    let mut buf = [0u8; MAX_FRAME_LEN];
    if let Ok(n) = msg.encode_to_slice(&mut buf) {
        conn.tx.extend_from_slice(&buf[..n]);
    }
}

fn app(conn: &mut Conn, msg: AppMessage) {
    let seq = conn.next_seq;
    conn.next_seq += 1;
    // Stamped like the gateway's messages (Unix ns), so the harness can split the
    // round trip at the server for the baseline too.
    let ts_ns = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    push(conn, ServerMessage::App(Sequenced { seq, ts_ns, msg }));
}

fn answer(conn: &mut Conn, msg: ClientMessage) {
    match msg {
        ClientMessage::Login(l) => {
            conn.next_seq = l.next_seq.max(1);
            push(
                conn,
                ServerMessage::LoginAccepted(LoginAccepted {
                    version: l.version.min(LOGIN_VERSION),
                    heartbeat_ms: 1000,
                    dead_peer_ms: 15000,
                    session_id: 1,
                    next_seq: conn.next_seq,
                }),
            );
        }
        ClientMessage::NewOrder(o) => app(
            conn,
            AppMessage::OrderAccepted(OrderAccepted {
                cl_ord_id: o.cl_ord_id,
                order_id: o.cl_ord_id,
                account: o.account,
                security: o.security,
                side: o.side,
                order_type: o.order_type,
                tif: o.tif,
                price: o.price,
                qty: o.qty,
                flags: 0,
                credit: o.credit,
            }),
        ),
        ClientMessage::CancelOrder(c) => app(
            conn,
            AppMessage::Canceled(Canceled {
                cl_ord_id: c.orig_cl_ord_id,
                order_id: c.orig_cl_ord_id,
                account: c.account,
                request_id: c.request_id,
                canceled_qty: Qty(100),
                cum: Qty(0),
                reason: CancelReason::Client,
            }),
        ),
        ClientMessage::ReplaceOrder(r) => app(
            conn,
            AppMessage::Replaced(Replaced {
                request_id: r.request_id,
                cl_ord_id: r.orig_cl_ord_id,
                order_id: r.orig_cl_ord_id,
                account: r.account,
                price: r.price,
                qty: r.qty,
                leaves: r.qty,
                priority_kept: false,
            }),
        ),
        ClientMessage::MassCancel(m) => app(
            conn,
            AppMessage::MassCancelAck(MassCancelAck {
                request_id: m.request_id,
                account: None,
                canceled_count: 0,
                code: RejectCode(0),
                blocked: false,
            }),
        ),
        ClientMessage::Logout => {
            let last_seq = conn.next_seq - 1;
            push(
                conn,
                ServerMessage::EndOfSession(EndOfSession {
                    reason: RejectCode::LOGGED_OUT,
                    last_seq,
                }),
            );
            conn.closing = true;
        }
        ClientMessage::Heartbeat
        | ClientMessage::OrderEntryControl(_)
        | ClientMessage::Query(_) => {}
    }
}

/// Writes what is pending. False: close.
fn flush(conn: &mut Conn) -> bool {
    while conn.sent < conn.tx.len() {
        match conn.stream.write(&conn.tx[conn.sent..]) {
            Ok(0) => return false,
            Ok(n) => conn.sent += n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return true,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return false,
        }
    }
    conn.tx.clear();
    conn.sent = 0;
    true
}
