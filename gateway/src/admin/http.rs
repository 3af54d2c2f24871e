//! Just enough HTTP/1.1 for the admin endpoint: a bounded request parser that
//! never panics on bytes from the network, and responses that always close.
//!
//! Every request is read into a buffer of at most [`MAX_REQUEST_BYTES`]; anything
//! larger, malformed, or using features we do not need (chunked bodies, header
//! folding, absolute-form targets, a repeated `Authorization`) is answered with a
//! 4xx and the connection closed.
//!
//! Why not `httparse`: it would replace only the split into request line and
//! header lines (some 30 lines here). The rest is this endpoint's policy and would
//! stay ours either way: the 8 KiB bound, the refusals above, the one
//! `Authorization` rule, `Content-Length` up to 1 KiB, percent-decoding. The
//! parser runs on the admin thread only, off the order path, so its speed does not
//! matter, and it is held by the tests below: every prefix and single-byte
//! corruption of a request, and random bytes (proptest), without a panic. One
//! dependency fewer on a port that faces the network is worth those 30 lines.

use std::fmt::Write as _;

/// The largest request (line, headers and body) the endpoint reads.
pub const MAX_REQUEST_BYTES: usize = 8 * 1024;
/// The largest body accepted (admin parameters travel in the query string).
pub const MAX_BODY_BYTES: usize = 1024;
/// The most header lines accepted.
pub const MAX_HEADERS: usize = 64;

/// A parsed request. Borrowed parts are copied out: requests are small and rare.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    /// `GET`, `POST`, ...
    pub method: String,
    /// The path, percent-decoded (`/admin/venue/pause`).
    pub path: String,
    /// The raw query string, without `?` (empty when absent).
    pub query: String,
    /// The `Authorization` header, if any.
    pub authorization: Option<String>,
}

/// What the bytes read so far amount to.
#[derive(Debug, PartialEq, Eq)]
pub enum Parsed {
    /// Not a whole request yet; read more.
    Incomplete,
    /// A whole request.
    Done(Request),
    /// Not a request we will serve: answer with this status and message.
    Bad(u16, &'static str),
}

/// Parses the bytes of one request.
pub fn parse(buf: &[u8]) -> Parsed {
    let Some(head_len) = find_head_end(buf) else {
        if buf.len() >= MAX_REQUEST_BYTES {
            return Parsed::Bad(431, "request line and headers are larger than 8 KiB");
        }
        // Catch garbage early: a request line starts with an upper-case method.
        if let Some(&b) = buf.first()
            && !b.is_ascii_uppercase()
        {
            return Parsed::Bad(400, "not an HTTP request");
        }
        return Parsed::Incomplete;
    };
    let Ok(head) = std::str::from_utf8(&buf[..head_len]) else {
        return Parsed::Bad(400, "request head is not valid UTF-8");
    };
    let mut lines = head.split("\r\n");
    let line = lines.next().unwrap_or("");
    let mut parts = line.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Parsed::Bad(400, "malformed request line");
    };
    if method.is_empty() || !method.bytes().all(|b| b.is_ascii_uppercase()) {
        return Parsed::Bad(400, "malformed method");
    }
    if version != "HTTP/1.1" && version != "HTTP/1.0" {
        if version.starts_with("HTTP/") {
            return Parsed::Bad(505, "only HTTP/1.0 and HTTP/1.1 are served");
        }
        return Parsed::Bad(400, "malformed request line");
    }
    if !target.starts_with('/') || target.bytes().any(|b| !(0x21..0x7f).contains(&b)) {
        return Parsed::Bad(400, "the request target must be a path starting with /");
    }
    let (raw_path, query) = target.split_once('?').unwrap_or((target, ""));
    let Some(path) = percent_decode(raw_path) else {
        return Parsed::Bad(400, "bad percent-encoding in the path");
    };
    let mut authorization: Option<String> = None;
    let mut content_length = 0usize;
    let mut headers = 0;
    for header in lines.take_while(|l| !l.is_empty()) {
        headers += 1;
        if headers > MAX_HEADERS {
            return Parsed::Bad(431, "too many header lines");
        }
        let Some((name, value)) = header.split_once(':') else {
            return Parsed::Bad(400, "malformed header line");
        };
        if name.is_empty() || !name.bytes().all(is_token_byte) {
            return Parsed::Bad(400, "malformed header name (folded headers are not accepted)");
        }
        let value = value.trim_matches([' ', '\t']);
        if name.eq_ignore_ascii_case("authorization") {
            // Two credentials leave it ambiguous which one a proxy or a log saw.
            if authorization.is_some() {
                return Parsed::Bad(400, "more than one Authorization header");
            }
            authorization = Some(value.to_owned());
        } else if name.eq_ignore_ascii_case("content-length") {
            match value.parse::<usize>() {
                Ok(n) if n <= MAX_BODY_BYTES => content_length = n,
                Ok(_) => return Parsed::Bad(413, "request body larger than 1 KiB"),
                Err(_) => return Parsed::Bad(400, "malformed Content-Length"),
            }
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            return Parsed::Bad(501, "Transfer-Encoding is not supported; send Content-Length");
        }
    }
    // The body is read (so closing does not reset the connection) and ignored:
    // parameters travel in the query string.
    if buf.len() < head_len + 4 + content_length {
        return Parsed::Incomplete;
    }
    Parsed::Done(Request {
        method: method.to_owned(),
        path,
        query: query.to_owned(),
        authorization,
    })
}

/// The token of an `Authorization: Bearer <token>` value. The scheme is
/// case-insensitive (RFC 9110 section 11.1: `bearer`, `BEARER`); spaces or tabs
/// separate it from the token. `None` for another scheme or an empty token.
pub fn bearer_token(value: &str) -> Option<&str> {
    let (scheme, token) = value.split_once([' ', '\t'])?;
    let token = token.trim_matches([' ', '\t']);
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

fn find_head_end(buf: &[u8]) -> Option<usize> {
    buf.windows(4).position(|w| w == b"\r\n\r\n")
}

fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// Decodes `%XX` escapes (and `+` as a space when `plus_is_space`); `None` when an
/// escape is malformed or the result is not UTF-8.
fn decode(text: &str, plus_is_space: bool) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = bytes.get(i + 1..i + 3)?;
                let hex = std::str::from_utf8(hex).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b'+' if plus_is_space => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

fn percent_decode(text: &str) -> Option<String> {
    decode(text, false)
}

/// Splits a query string into decoded `(name, value)` pairs; an error says what is
/// wrong. A name without `=` has an empty value.
pub fn query_pairs(query: &str) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    for part in query.split('&').filter(|p| !p.is_empty()) {
        let (name, value) = part.split_once('=').unwrap_or((part, ""));
        let name = decode(name, true).ok_or_else(|| format!("bad encoding in {part:?}"))?;
        let value = decode(value, true).ok_or_else(|| format!("bad encoding in {part:?}"))?;
        if out.iter().any(|(n, _)| *n == name) {
            return Err(format!("parameter {name} is given twice"));
        }
        out.push((name, value));
    }
    Ok(out)
}

/// A response; serialized with `Connection: close` and a Content-Length.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// Content-Type.
    pub content_type: &'static str,
    /// Extra header lines, each ending in CRLF.
    pub extra_headers: String,
    /// The body.
    pub body: String,
}

/// Content type of plain text answers.
pub const TEXT: &str = "text/plain; charset=utf-8";
/// Content type of JSON answers.
pub const JSON: &str = "application/json";

impl Response {
    /// A plain-text answer.
    pub fn text(status: u16, body: impl Into<String>) -> Response {
        Response { status, content_type: TEXT, extra_headers: String::new(), body: body.into() }
    }

    /// A JSON answer `{"error": message}`.
    pub fn json_error(status: u16, message: &str) -> Response {
        Response::json(status, format!("{{\"error\":{}}}\n", json_string(message)))
    }

    /// A JSON answer.
    pub fn json(status: u16, body: String) -> Response {
        Response { status, content_type: JSON, extra_headers: String::new(), body }
    }

    /// Adds a header line.
    pub fn with_header(mut self, name: &str, value: &str) -> Response {
        let _ = write!(self.extra_headers, "{name}: {value}\r\n");
        self
    }

    /// The bytes on the wire.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut head = String::with_capacity(256);
        let _ = write!(
            head,
            "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\n\
             Cache-Control: no-store\r\nConnection: close\r\n{}\r\n",
            self.status,
            reason(self.status),
            self.content_type,
            self.body.len(),
            self.extra_headers
        );
        let mut out = head.into_bytes();
        out.extend_from_slice(self.body.as_bytes());
        out
    }
}

/// The reason phrase of a status code.
pub fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        202 => "Accepted",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        413 => "Content Too Large",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        503 => "Service Unavailable",
        505 => "HTTP Version Not Supported",
        _ => "Unknown",
    }
}

/// A JSON string literal for `text`.
pub fn json_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn done(text: &str) -> Request {
        match parse(text.as_bytes()) {
            Parsed::Done(r) => r,
            other => panic!("{text:?}: {other:?}"),
        }
    }

    fn bad(text: &[u8]) -> u16 {
        match parse(text) {
            Parsed::Bad(code, _) => code,
            other => panic!("{text:?}: {other:?}"),
        }
    }

    #[test]
    fn parses_a_request_with_query_and_token() {
        let r = done(
            "POST /admin/venue/pause?ms=5 HTTP/1.1\r\nHost: x\r\nauthorization:  Bearer abc \r\n\
             Content-Length: 0\r\n\r\n",
        );
        assert_eq!(r.method, "POST");
        assert_eq!(r.path, "/admin/venue/pause");
        assert_eq!(r.query, "ms=5");
        assert_eq!(r.authorization.as_deref(), Some("Bearer abc"));
        assert_eq!(done("GET /metrics HTTP/1.0\r\n\r\n").path, "/metrics");
    }

    #[test]
    fn waits_for_the_head_and_the_body() {
        assert_eq!(parse(b"GET /metrics HTTP/1.1\r\nHost"), Parsed::Incomplete);
        assert_eq!(parse(b""), Parsed::Incomplete);
        let partial = b"POST /admin/halt HTTP/1.1\r\nContent-Length: 5\r\n\r\nab";
        assert_eq!(parse(partial), Parsed::Incomplete);
        let whole = b"POST /admin/halt HTTP/1.1\r\nContent-Length: 5\r\n\r\nabcde";
        assert!(matches!(parse(whole), Parsed::Done(_)));
    }

    #[test]
    fn refuses_what_it_does_not_serve() {
        assert_eq!(bad(b"\x16\x03\x01 tls hello"), 400);
        assert_eq!(bad(b"GET /metrics\r\n\r\n"), 400);
        assert_eq!(bad(b"GET  /metrics HTTP/1.1\r\n\r\n"), 400);
        assert_eq!(bad(b"GET http://x/metrics HTTP/1.1\r\n\r\n"), 400);
        assert_eq!(bad(b"GET /metrics HTTP/2.0\r\n\r\n"), 505);
        assert_eq!(bad(b"GET /m\xff HTTP/1.1\r\n\r\n"), 400);
        assert_eq!(bad(b"GET /metrics HTTP/1.1\r\nno colon\r\n\r\n"), 400);
        assert_eq!(bad(b"GET /metrics HTTP/1.1\r\nA: b\r\n c\r\n\r\n"), 400);
        assert_eq!(bad(b"GET /metrics HTTP/1.1\r\nContent-Length: x\r\n\r\n"), 400);
        assert_eq!(bad(b"GET /metrics HTTP/1.1\r\nContent-Length: 99999\r\n\r\n"), 413);
        assert_eq!(bad(b"POST /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"), 501);
        assert_eq!(bad(b"GET /%zz HTTP/1.1\r\n\r\n"), 400);
        let mut big = b"GET /metrics HTTP/1.1\r\n".to_vec();
        big.resize(MAX_REQUEST_BYTES, b'a');
        assert_eq!(bad(&big), 431);
        let many: String = (0..=MAX_HEADERS).map(|i| format!("H{i}: v\r\n")).collect();
        assert_eq!(bad(format!("GET / HTTP/1.1\r\n{many}\r\n").as_bytes()), 431);
    }

    #[test]
    fn never_panics_on_arbitrary_bytes() {
        // A cheap deterministic fuzz: every prefix and single-byte corruption of a
        // valid request.
        let valid =
            b"POST /admin/halt?security=600519.SH HTTP/1.1\r\nAuthorization: Bearer t\r\n\r\n";
        for n in 0..=valid.len() {
            let _ = parse(&valid[..n]);
        }
        for i in 0..valid.len() {
            for b in [0u8, b'\r', b'\n', b' ', b':', b'%', 0xff, b'?'] {
                let mut v = valid.to_vec();
                v[i] = b;
                let _ = parse(&v);
            }
        }
    }

    #[test]
    fn two_authorization_headers_are_refused() {
        let two = b"POST /admin/halt HTTP/1.1\r\nAuthorization: Bearer a\r\n\
                    authorization: Bearer a\r\n\r\n";
        assert_eq!(parse(two), Parsed::Bad(400, "more than one Authorization header"));
        let one = done("POST /admin/halt HTTP/1.1\r\nAUTHORIZATION: Bearer a\r\n\r\n");
        assert_eq!(one.authorization.as_deref(), Some("Bearer a"));
    }

    #[test]
    fn the_bearer_scheme_is_case_insensitive() {
        for value in ["Bearer tok", "bearer tok", "BEARER tok", "bEaReR \t tok ", "Bearer\ttok"] {
            assert_eq!(bearer_token(value), Some("tok"), "{value:?}");
        }
        for value in ["Basic tok", "Bearer", "Bearer ", "Bearertok", "tok", "", "Bear tok"] {
            assert_eq!(bearer_token(value), None, "{value:?}");
        }
    }

    proptest::proptest! {
        /// Random bytes, and random bytes after a valid request line, never panic
        /// the parser; whatever it accepts has a path that starts with `/`.
        #[test]
        fn random_bytes_never_panic(
            bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..2048),
            after_line in proptest::prelude::any::<bool>(),
        ) {
            let mut buf = if after_line { b"GET /metrics HTTP/1.1\r\n".to_vec() } else { Vec::new() };
            buf.extend_from_slice(&bytes);
            if let Parsed::Done(r) = parse(&buf) {
                proptest::prop_assert!(r.path.starts_with('/'));
            }
        }
    }

    #[test]
    fn query_pairs_decode_and_refuse_duplicates() {
        let q = query_pairs("security=600519.SH&state=reducing-only&x=a%20b+c&flag").unwrap();
        assert_eq!(q[0], ("security".into(), "600519.SH".into()));
        assert_eq!(q[2], ("x".into(), "a b c".into()));
        assert_eq!(q[3], ("flag".into(), String::new()));
        assert!(query_pairs("a=1&a=2").unwrap_err().contains("twice"));
        assert!(query_pairs("a=%4").is_err());
        assert!(query_pairs("").unwrap().is_empty());
    }

    #[test]
    fn responses_close_and_escape() {
        let bytes = Response::json_error(400, "bad \"x\"\n").to_bytes();
        let text = String::from_utf8(bytes).unwrap();
        assert!(text.starts_with("HTTP/1.1 400 Bad Request\r\n"), "{text}");
        assert!(text.contains("Connection: close\r\n"));
        assert!(text.ends_with("{\"error\":\"bad \\\"x\\\"\\n\"}\n"), "{text}");
        let body_len = text.split_once("\r\n\r\n").unwrap().1.len();
        assert!(text.contains(&format!("Content-Length: {body_len}\r\n")));
    }
}
