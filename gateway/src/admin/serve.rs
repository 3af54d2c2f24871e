//! How Breakwater serves HTTP: one thread, a mio poll loop over non-blocking
//! sockets, one exchange per connection, for any [`Handler`]. The admin endpoint
//! runs on it, and so does anything else that exports figures ([`serve_metrics`]:
//! the load generator's `/metrics`).
//!
//! A client that sends slowly, never finishes its request, or never reads its
//! answer holds one of [`MAX_CONNECTIONS`] slots until its deadline, and no one
//! else waits for it. Requests are bounded ([`http::MAX_REQUEST_BYTES`]), every
//! connection closes after one answer, and nothing here can panic on input.
//!
//! Monitoring must get through a flood of slow clients: when every slot is taken,
//! a newcomer takes the slot of a client that has not finished its request (else
//! of one lingering after its answer), chosen from the address holding the most
//! slots, oldest first; the client cut off is told `503`. A scraper, which sends
//! its whole request at once, is answered before a flood can reach it; a client
//! being answered is never cut. Only when every slot is writing an answer is a
//! newcomer turned away (`503`).

use std::cmp::Reverse;
use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use log::warn;
use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token, Waker};

use super::http::{self, Parsed, Request, Response};
use super::prometheus::CONTENT_TYPE;

/// Most clients served at once. Past it a newcomer displaces an unfinished request
/// (see the module's notes), or is answered 503 when every slot is answering.
pub const MAX_CONNECTIONS: usize = 32;
/// A client must send its whole request within this time.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// A client must take its whole answer within this time.
pub const RESPONSE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a client may keep its side open after its answer was sent.
pub const LINGER: Duration = Duration::from_secs(1);
/// The longest the loop sleeps between looks at deadlines and the stop flag.
const TURN_MAX: Duration = Duration::from_millis(100);

const LISTENER: Token = Token(usize::MAX - 1);
const WAKER: Token = Token(usize::MAX);

/// What a server does with the requests it reads.
pub trait Handler {
    /// The answer to one whole, well-formed request from `peer`.
    fn handle(&mut self, req: &Request, peer: SocketAddr) -> Response;
    /// Told the status of every answer sent, refusals by the loop included.
    fn answered(&mut self, _status: u16) {}
    /// Work between turns of the loop; returns how soon it wants the next call
    /// (the loop calls at least every 100 ms).
    fn tick(&mut self, _now: Instant) -> Duration {
        TURN_MAX
    }
}

/// A server thread: the loop and its handler. Stops (and joins its thread) when
/// dropped.
#[derive(Debug)]
pub struct HttpServer {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    waker: Arc<Waker>,
    thread: Option<JoinHandle<()>>,
}

impl HttpServer {
    /// Serves `listener` with `handler` on a thread called `thread_name`; `what`
    /// names the server in its busy answers and its log lines.
    pub fn start(
        listener: std::net::TcpListener,
        what: &'static str,
        thread_name: &str,
        handler: impl Handler + Send + 'static,
    ) -> io::Result<HttpServer> {
        listener.set_nonblocking(true)?;
        let mut listener = TcpListener::from_std(listener);
        let addr = listener.local_addr()?;
        let poll = Poll::new()?;
        poll.registry().register(&mut listener, LISTENER, Interest::READABLE)?;
        let waker = Arc::new(Waker::new(poll.registry(), WAKER)?);
        let stop = Arc::new(AtomicBool::new(false));
        let mut server = HttpLoop {
            poll,
            listener,
            conns: (0..MAX_CONNECTIONS).map(|_| None).collect(),
            accepted: 0,
            what,
        };
        let flag = Arc::clone(&stop);
        let thread = std::thread::Builder::new().name(thread_name.into()).spawn(move || {
            let mut handler = handler;
            if let Err(e) = server.run(&mut handler, &flag) {
                warn!("{what} stopped: {e}");
            }
        })?;
        Ok(HttpServer { addr, stop, waker, thread: Some(thread) })
    }

    /// The address actually bound (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = self.waker.wake();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Serves `GET /metrics` on `listener` with the text `render` writes (the
/// Prometheus text format, [`super::prometheus::Exposition`]); every other path is
/// 404, every other method 405.
pub fn serve_metrics(
    listener: std::net::TcpListener,
    what: &'static str,
    thread_name: &str,
    render: impl FnMut(&mut String) + Send + 'static,
) -> io::Result<HttpServer> {
    HttpServer::start(listener, what, thread_name, MetricsOnly(render))
}

struct MetricsOnly<F>(F);

impl<F: FnMut(&mut String)> Handler for MetricsOnly<F> {
    fn handle(&mut self, req: &Request, _peer: SocketAddr) -> Response {
        match (req.path.as_str(), req.method.as_str()) {
            ("/metrics", "GET") => {
                let mut body = String::with_capacity(16 * 1024);
                (self.0)(&mut body);
                Response { content_type: CONTENT_TYPE, ..Response::text(200, body) }
            }
            ("/metrics", _) => Response::text(405, "use GET\n").with_header("Allow", "GET"),
            _ => Response::text(404, "not found: try /metrics\n"),
        }
    }
}

/// Where a client's one exchange stands.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Phase {
    /// Reading the request.
    Reading,
    /// Writing the answer.
    Writing,
    /// Answer sent and our side shut: reading (and dropping) whatever the client
    /// still sends until it closes, so that closing does not reset the connection
    /// and destroy the answer in flight (a "lingering close").
    Lingering,
}

/// One client.
#[derive(Debug)]
struct Conn {
    stream: TcpStream,
    peer: SocketAddr,
    /// Accept order: the oldest unfinished request is displaced first.
    serial: u64,
    request: Vec<u8>,
    answer: Vec<u8>,
    written: usize,
    phase: Phase,
    deadline: Instant,
}

/// The server thread's sockets.
struct HttpLoop {
    poll: Poll,
    listener: TcpListener,
    conns: Vec<Option<Conn>>,
    accepted: u64,
    what: &'static str,
}

impl HttpLoop {
    fn run(&mut self, h: &mut impl Handler, stop: &AtomicBool) -> io::Result<()> {
        let mut events = Events::with_capacity(64);
        let mut wait = TURN_MAX;
        while !stop.load(Ordering::SeqCst) {
            if let Err(e) = self.poll.poll(&mut events, Some(wait.min(TURN_MAX)))
                && e.kind() != io::ErrorKind::Interrupted
            {
                return Err(e);
            }
            for event in events.iter() {
                match event.token() {
                    WAKER => {}
                    LISTENER => self.accept(h),
                    Token(i) => self.serve(h, i),
                }
            }
            let now = Instant::now();
            self.expire(h, now);
            wait = h.tick(now);
        }
        Ok(())
    }

    fn accept(&mut self, h: &mut impl Handler) {
        loop {
            let (mut stream, peer) = match self.listener.accept() {
                Ok(x) => x,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    warn!("{}: accept failed: {e}", self.what);
                    return;
                }
            };
            let free = self.conns.iter().position(Option::is_none);
            let Some(slot) = free.or_else(|| self.displace(h)) else {
                // Best effort, never blocking: the socket is fresh, so this small
                // answer fits its send buffer.
                let busy = Response::text(503, format!("{} busy, try again\n", self.what));
                let _ = stream.write(&busy.to_bytes());
                h.answered(503);
                continue;
            };
            if self.poll.registry().register(&mut stream, Token(slot), Interest::READABLE).is_err()
            {
                continue;
            }
            self.accepted += 1;
            self.conns[slot] = Some(Conn {
                stream,
                peer,
                serial: self.accepted,
                request: Vec::with_capacity(1024),
                answer: Vec::new(),
                written: 0,
                phase: Phase::Reading,
                deadline: Instant::now() + REQUEST_TIMEOUT,
            });
            // Edge-triggered: data may already be waiting.
            self.serve(h, slot);
        }
    }

    /// Frees a slot for a newcomer when every slot is taken: the client to cut is
    /// one still sending its request (else one lingering after its answer), from
    /// the address that holds the most slots, the oldest first. A client being
    /// answered is never cut. The client cut off from its request is told 503
    /// (best effort: its socket has room for that small answer).
    fn displace(&mut self, h: &mut impl Handler) -> Option<usize> {
        let held = |ip| self.conns.iter().flatten().filter(|c| c.peer.ip() == ip).count();
        let (_, _, _, victim) = self
            .conns
            .iter()
            .enumerate()
            .filter_map(|(i, c)| {
                let c = c.as_ref()?;
                let phase_rank = match c.phase {
                    Phase::Reading => 0,
                    Phase::Lingering => 1,
                    Phase::Writing => return None,
                };
                Some((Reverse(held(c.peer.ip())), phase_rank, c.serial, i))
            })
            .min()?;
        if let Some(conn) = self.conns[victim].as_mut()
            && conn.phase == Phase::Reading
        {
            let busy = format!("{} busy: request not finished in time\n", self.what);
            let _ = conn.stream.write(&Response::text(503, busy).to_bytes());
            h.answered(503);
        }
        self.close(victim);
        Some(victim)
    }

    /// Moves a client's exchange on as far as its socket allows.
    fn serve(&mut self, h: &mut impl Handler, i: usize) {
        let Some(conn) = self.conns.get(i).and_then(Option::as_ref) else { return };
        match conn.phase {
            Phase::Reading => self.read_request(h, i),
            Phase::Writing => self.write_answer(i),
            Phase::Lingering => self.linger(i),
        }
    }

    /// Reads the request; once it is whole (or refused), prepares the answer.
    fn read_request(&mut self, h: &mut impl Handler, i: usize) {
        let Some(conn) = self.conns[i].as_mut() else { return };
        let mut buf = [0u8; 4096];
        let mut eof = false;
        loop {
            let room = http::MAX_REQUEST_BYTES - conn.request.len();
            if room == 0 {
                break;
            }
            let want = room.min(buf.len());
            match conn.stream.read(&mut buf[..want]) {
                Ok(0) => {
                    eof = true;
                    break;
                }
                Ok(n) => conn.request.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => return self.close(i),
            }
        }
        let response = match http::parse(&conn.request) {
            Parsed::Incomplete if eof => return self.close(i),
            Parsed::Incomplete => return,
            Parsed::Bad(status, why) => Response::text(status, format!("{why}\n")),
            Parsed::Done(request) => h.handle(&request, conn.peer),
        };
        self.answer(h, i, &response);
    }

    /// Starts writing `response` to client `i`.
    fn answer(&mut self, h: &mut impl Handler, i: usize, response: &Response) {
        h.answered(response.status);
        let Some(conn) = self.conns[i].as_mut() else { return };
        conn.answer = response.to_bytes();
        conn.written = 0;
        conn.phase = Phase::Writing;
        conn.deadline = Instant::now() + RESPONSE_TIMEOUT;
        let _ = self.poll.registry().reregister(&mut conn.stream, Token(i), Interest::WRITABLE);
        self.write_answer(i);
    }

    fn write_answer(&mut self, i: usize) {
        let Some(conn) = self.conns[i].as_mut() else { return };
        while conn.written < conn.answer.len() {
            match conn.stream.write(&conn.answer[conn.written..]) {
                Ok(0) => return self.close(i),
                Ok(n) => conn.written += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => return self.close(i),
            }
        }
        let _ = conn.stream.shutdown(std::net::Shutdown::Write);
        conn.phase = Phase::Lingering;
        conn.deadline = Instant::now() + LINGER;
        conn.answer = Vec::new();
        let _ = self.poll.registry().reregister(&mut conn.stream, Token(i), Interest::READABLE);
        self.linger(i);
    }

    fn linger(&mut self, i: usize) {
        let Some(conn) = self.conns[i].as_mut() else { return };
        let mut buf = [0u8; 4096];
        loop {
            match conn.stream.read(&mut buf) {
                Ok(0) => return self.close(i),
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => return self.close(i),
            }
        }
    }

    fn close(&mut self, i: usize) {
        if let Some(mut conn) = self.conns[i].take() {
            let _ = self.poll.registry().deregister(&mut conn.stream);
        }
    }

    /// Drops clients past their deadline; one that never finished its request is
    /// told so (best effort).
    fn expire(&mut self, h: &mut impl Handler, now: Instant) {
        for i in 0..self.conns.len() {
            let Some(conn) = self.conns[i].as_ref() else { continue };
            if now < conn.deadline {
                continue;
            }
            if conn.phase == Phase::Reading {
                self.answer(h, i, &Response::text(408, "request timeout\n"));
            } else {
                self.close(i);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpStream as StdStream;

    fn get(addr: SocketAddr, request: &[u8]) -> String {
        let mut s = StdStream::connect(addr).unwrap();
        s.write_all(request).unwrap();
        let mut answer = String::new();
        s.read_to_string(&mut answer).unwrap();
        answer
    }

    #[test]
    fn serve_metrics_answers_get_metrics_only() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let mut scrapes = 0;
        let server = serve_metrics(listener, "test metrics", "test-metrics", move |out| {
            scrapes += 1;
            out.push_str(&format!(
                "# HELP t_scrapes Scrapes.\n# TYPE t_scrapes counter\nt_scrapes {scrapes}\n"
            ));
        })
        .unwrap();
        let addr = server.local_addr();
        let answer = get(addr, b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
        assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
        assert!(answer.contains(&format!("Content-Type: {CONTENT_TYPE}\r\n")), "{answer}");
        assert!(answer.ends_with(
            "\r\n\r\n# HELP t_scrapes Scrapes.\n# TYPE t_scrapes counter\nt_scrapes 1\n"
        ));
        assert!(get(addr, b"GET /metrics HTTP/1.1\r\n\r\n").ends_with("t_scrapes 2\n"));
        assert!(get(addr, b"GET /other HTTP/1.1\r\n\r\n").starts_with("HTTP/1.1 404"));
        let post = get(addr, b"POST /metrics HTTP/1.1\r\n\r\n");
        assert!(post.starts_with("HTTP/1.1 405") && post.contains("Allow: GET\r\n"), "{post}");
        assert!(get(addr, b"\x00garbage\r\n\r\n").starts_with("HTTP/1.1 400"));
        drop(server);
        assert!(StdStream::connect(addr).is_err(), "the listener closes with the server");
    }
}
