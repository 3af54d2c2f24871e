//! Helpers for the gateway's integration tests: start a gateway on an ephemeral
//! loopback port, log in, wait for specific messages.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use gateway::config::Topology;
use gateway::{GatewayConfig, Running};
use protocol::client::{Client, ClientConfig};
use protocol::codec::{AppMessage, NewOrder, ServerMessage};
use protocol::{
    AccountId, Market, OrderType, Price, Qty, SecurityId, Side, TimeInForce, Token, Username,
};

/// The demo configuration on 127.0.0.1:0 with the admin endpoint off.
pub fn config(topology: Topology) -> GatewayConfig {
    let mut c = GatewayConfig::demo();
    c.server.listen = vec!["127.0.0.1:0".parse().unwrap()];
    c.admin.listen = None;
    c.pipeline.topology = topology;
    c
}

/// Starts a gateway with `config`.
pub fn start(config: &GatewayConfig) -> Running {
    let _ = env_logger::builder().is_test(true).try_init();
    gateway::start(config).expect("gateway starts")
}

/// A client config for a demo login (`user`, token `user-secret`).
pub fn client_config(addr: SocketAddr, user: &str) -> ClientConfig {
    let token = Token::from_text(&format!("{user}-secret")).unwrap();
    ClientConfig::new(addr, Username::new(user).unwrap(), token).unwrap()
}

/// Logs in as a demo login from the start of its stream.
pub fn login(addr: SocketAddr, user: &str) -> Client {
    Client::connect(client_config(addr, user), 1).expect("login")
}

pub const WAIT: Duration = Duration::from_secs(10);

/// Receives until `pick` returns Some, returning it; panics with what was seen.
pub fn expect<T>(
    client: &mut Client,
    what: &str,
    mut pick: impl FnMut(&AppMessage) -> Option<T>,
) -> T {
    let deadline = Instant::now() + WAIT;
    let mut seen = Vec::new();
    while Instant::now() < deadline {
        match client.recv(Duration::from_millis(100)) {
            Ok(Some(ServerMessage::App(s))) => {
                if let Some(found) = pick(&s.msg) {
                    return found;
                }
                seen.push(format!("{:?}", s.msg));
            }
            Ok(Some(other)) => seen.push(format!("{other:?}")),
            Ok(None) => {}
            Err(e) => panic!("waiting for {what}: {e}; seen: {seen:#?}"),
        }
    }
    panic!("timed out waiting for {what}; seen: {seen:#?}");
}

/// Receives sequenced messages until none arrives for `quiet`.
pub fn drain(client: &mut Client, quiet: Duration) -> Vec<AppMessage> {
    let mut out = Vec::new();
    while let Some(msg) = client.recv(quiet).expect("recv") {
        if let ServerMessage::App(s) = msg {
            out.push(s.msg);
        }
    }
    out
}

pub fn sec(code: u32) -> SecurityId {
    let market = if code >= 600_000 { Market::Sse } else { Market::Szse };
    SecurityId::new(market, code).unwrap()
}

pub fn acct(id: &str) -> AccountId {
    AccountId::new(id).unwrap()
}

pub fn cny(text: &str) -> Price {
    Price::parse_cny(text).unwrap()
}

/// A day limit order.
pub fn limit(
    cl_ord_id: u64,
    account: &str,
    security: u32,
    side: Side,
    qty: u64,
    price: &str,
) -> NewOrder {
    NewOrder {
        cl_ord_id,
        account: acct(account),
        security: sec(security),
        side,
        order_type: OrderType::Limit,
        tif: TimeInForce::Day,
        price: cny(price),
        qty: Qty(qty),
        flags: 0,
        credit: protocol::CreditTag::Cash,
    }
}
