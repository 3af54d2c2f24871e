//! `bw`: the Breakwater command line for people.
//!
//! ```text
//! bw order --account A001 buy 600519 100 @ 1500.00
//! bw order --account A001 --type market-ioc sell 600519 100
//! bw cancel --account A001 1732600000000
//! bw replace --account A001 1732600000000 200 @ 1499.50
//! bw mass-cancel --account A001 --block
//! bw enable --account A001
//! bw watch
//! bw funds --account A001 [--json]
//! bw positions --account A001 [--json]
//! bw orders --account A001 [--open] [--json]
//! bw fills --account A001 [--json]
//! bw quotes --md-addr 127.0.0.1:9200 600519 000001 [--depth 10] [--ticks] [--once]
//! ```
//!
//! Each order command logs in (demo credentials by default), sends, prints the
//! answers in words as they arrive, and logs out after `--wait-ms` without news.
//! The query commands log in with protocol version 3, ask for every page of the
//! view, print it as a table (or JSON) and log out; nothing else goes to stdout.
//! `quotes` logs in to the market-data port with the same credentials and shows
//! a quote screen redrawn in place.

use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

#[path = "bw/query.rs"]
mod query;
use query::run_query;
#[path = "bw/quotes.rs"]
mod quotes;
use quotes::run_quotes;

use clap::{Parser, Subcommand};
use protocol::client::{Client, ClientConfig, ClientError};
use protocol::codec::{
    AppMessage, CancelOrder, ClientMessage, MassCancel, MassCancelScope, NewOrder,
    OrderEntryControl, ReplaceOrder, ServerMessage, order_flags,
};
use protocol::query::{QueryKind, query_flags};
use protocol::{
    AccountId, CreditTag, Market, OrderType, Price, Qty, SecurityId, Side, TimeInForce, Token,
    Username,
};

#[derive(Parser, Debug)]
#[command(version, about = "Breakwater command line: send orders, cancel, watch the stream")]
struct Args {
    /// Gateway address.
    #[arg(long, default_value = "127.0.0.1:9100", global = true)]
    addr: String,
    /// Login name.
    #[arg(long, short, default_value = "trader1", global = true)]
    user: String,
    /// Login token.
    #[arg(long, default_value = "trader1-secret", global = true)]
    token: String,
    /// Sequence number to resume from (0: only new messages, 1: the whole day).
    #[arg(long, default_value_t = 0, global = true)]
    from_seq: u64,
    /// Log out after this long without a message.
    #[arg(long, default_value_t = 1_500, global = true)]
    wait_ms: u64,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Send a new order: `buy 600519 100 @ 1500.00` (market orders omit `@ price`).
    Order {
        /// Account to trade for.
        #[arg(long, short)]
        account: String,
        /// Order type: limit, market-best-own, market-best-counter, market-best5-cancel, market-ioc, market-fok.
        #[arg(long = "type", default_value = "limit")]
        order_type: String,
        /// Time in force for limit orders: day, ioc, fok.
        #[arg(long, default_value = "day")]
        tif: String,
        /// Confirm a suitability mismatch (product above your class).
        #[arg(long)]
        confirm: bool,
        /// Flag the order as programmatic.
        #[arg(long)]
        programmatic: bool,
        /// Credit tag: cash, margin-buy, short-sell.
        #[arg(long, default_value = "cash")]
        credit: String,
        /// Client order id (default: derived from the clock).
        #[arg(long)]
        cl_ord_id: Option<u64>,
        /// `buy|sell SECURITY QTY [@ PRICE]`
        #[arg(num_args = 3..=5, required = true)]
        words: Vec<String>,
    },
    /// Cancel an order by its cl_ord_id.
    Cancel {
        /// The order's account.
        #[arg(long, short)]
        account: String,
        /// The order's cl_ord_id.
        cl_ord_id: u64,
    },
    /// Replace an order: `CL_ORD_ID QTY @ PRICE` (QTY is the new total).
    Replace {
        /// The order's account.
        #[arg(long, short)]
        account: String,
        /// `CL_ORD_ID QTY @ PRICE`
        #[arg(num_args = 4, required = true)]
        words: Vec<String>,
    },
    /// Cancel every open order of an account (or of the login), optionally blocking new ones.
    MassCancel {
        /// Account (omit for every account of the login).
        #[arg(long, short)]
        account: Option<String>,
        /// Only this security (needs --account).
        #[arg(long)]
        security: Option<String>,
        /// Also block new orders (a kill switch); `bw enable` lifts it.
        #[arg(long)]
        block: bool,
    },
    /// Enable order entry for an account.
    Enable {
        /// Account.
        #[arg(long, short)]
        account: String,
    },
    /// Disable order entry for an account (open orders stay).
    Disable {
        /// Account.
        #[arg(long, short)]
        account: String,
    },
    /// Log in and print the stream until interrupted.
    Watch,
    /// An account's funds (查询资金).
    Funds(QueryArgs),
    /// An account's holdings (查询持仓).
    Positions(QueryArgs),
    /// An account's orders of the day (查询委托).
    Orders {
        #[command(flatten)]
        query: QueryArgs,
        /// Only orders that may still trade (可撤单).
        #[arg(long)]
        open: bool,
    },
    /// An account's fills of the day, fees by kind (查询成交).
    Fills(QueryArgs),
    /// A quote screen from the market-data feed (行情): ladders, trades, volume, phase.
    Quotes(QuotesArgs),
}

/// What `bw quotes` takes.
#[derive(clap::Args, Debug)]
struct QuotesArgs {
    /// The market-data address (required: the gateway's configuration names no
    /// market-data port).
    #[arg(long)]
    md_addr: String,
    /// Levels a side: 5 (Level-1) or 10 (Level-2).
    #[arg(long, default_value_t = 5)]
    depth: u8,
    /// Print the tick-by-tick trades and orders instead of the ladder (Level-2).
    #[arg(long)]
    ticks: bool,
    /// Print one screen after the snapshots and exit (with --ticks: the ticks
    /// until --wait-ms passes without one).
    #[arg(long)]
    once: bool,
    /// Chinese row labels (卖五..卖一, 买一..买五).
    #[arg(long)]
    cn: bool,
    /// Latest trades shown per security.
    #[arg(long, default_value_t = 5)]
    trades: usize,
    /// Securities: `600519`, `600519.SH`, `000001.SZ`, ...
    #[arg(required = true, num_args = 1..)]
    securities: Vec<String>,
}

/// What the query commands share.
#[derive(clap::Args, Debug)]
struct QueryArgs {
    /// The account.
    #[arg(long, short)]
    account: String,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

impl Command {
    /// The query a command asks (kind, account, flags, format), if it is one.
    fn query(&self) -> Option<(QueryKind, &QueryArgs, u8)> {
        match self {
            Command::Funds(q) => Some((QueryKind::Funds, q, 0)),
            Command::Positions(q) => Some((QueryKind::Positions, q, 0)),
            Command::Orders { query, open } => {
                Some((QueryKind::Orders, query, if *open { query_flags::OPEN_ONLY } else { 0 }))
            }
            Command::Fills(q) => Some((QueryKind::Fills, q, 0)),
            _ => None,
        }
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
    }
}

fn connect(args: &Args, version: u8) -> Result<Client, String> {
    let username = Username::new(&args.user).map_err(|e| format!("--user: {e}"))?;
    let token = Token::from_text(&args.token).ok_or("--token: at most 32 bytes")?;
    let mut config = ClientConfig::new(args.addr.as_str(), username, token)
        .map_err(|e| format!("--addr: {e}"))?;
    config.version = version;
    Client::connect(config, args.from_seq).map_err(|e| match e {
        ClientError::Io(io) => format!("cannot reach the gateway at {}: {io}", args.addr),
        other => other.to_string(),
    })
}

fn run(args: Args) -> Result<(), String> {
    if let Some((kind, q, flags)) = args.command.query() {
        return run_query(&args, kind, q, flags);
    }
    if let Command::Quotes(q) = &args.command {
        return run_quotes(&args, q);
    }
    let message = build_message(&args.command)?;
    let mut client = connect(&args, 1)?;
    let accepted = *client.login_accepted();
    println!("logged in as {} (stream resumes at seq {})", args.user, accepted.next_seq);
    if let Some(msg) = message {
        client.send(&msg).map_err(|e| e.to_string())?;
        if let ClientMessage::NewOrder(o) = msg {
            println!("sent order cl_ord_id {}", o.cl_ord_id);
        }
    }
    let quiet = Duration::from_millis(args.wait_ms);
    let watching = matches!(args.command, Command::Watch);
    loop {
        match client.recv(if watching { Duration::from_secs(3600) } else { quiet }) {
            Ok(Some(msg)) => println!("{}", describe(&msg)),
            Ok(None) if watching => {}
            Ok(None) => break,
            Err(e) => return Err(e.to_string()),
        }
    }
    match client.logout(Duration::from_secs(2)) {
        Ok((end, rest)) => {
            for msg in rest {
                println!("{}", describe(&msg));
            }
            println!("logged out (last seq {})", end.last_seq);
        }
        Err(e) => eprintln!("logout: {e}"),
    }
    Ok(())
}

fn account(text: &str) -> Result<AccountId, String> {
    AccountId::new(text).map_err(|e| format!("account {text:?}: {e}"))
}

/// `600519`, `600519.SH`, `000001.SZ`: a bare code picks its exchange by prefix.
fn security(text: &str) -> Result<SecurityId, String> {
    let bad = || format!("security {text:?}: expected a 6-digit code, optionally with .SH/.SZ/.BJ");
    if text.contains('.') {
        // The protocol's spelling; the tool also takes the suffix in lower case.
        return text.to_ascii_uppercase().parse().map_err(|_| bad());
    }
    if text.len() != 6 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let number: u32 = text.parse().map_err(|_| bad())?;
    let market = match text.as_bytes()[0] {
        b'6' | b'5' => Market::Sse,
        b'4' | b'8' | b'9' => Market::Bse,
        _ => Market::Szse,
    };
    SecurityId::new(market, number).ok_or_else(bad)
}

fn parse_enum<T: Copy>(
    all: &[T],
    name: impl Fn(T) -> &'static str,
    text: &str,
    what: &str,
) -> Result<T, String> {
    all.iter().copied().find(|v| name(*v) == text).ok_or_else(|| {
        let names: Vec<&str> = all.iter().map(|v| name(*v)).collect();
        format!("{what} {text:?}: expected one of {}", names.join(", "))
    })
}

fn price(text: &str) -> Result<Price, String> {
    Price::parse_cny(text).ok_or_else(|| format!("price {text:?}: expected CNY like 1500.00"))
}

fn qty(text: &str) -> Result<Qty, String> {
    text.parse::<u64>()
        .map(Qty)
        .map_err(|_| format!("quantity {text:?}: expected a whole number of shares"))
}

fn clock_id() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_micros() as u64).unwrap_or(1)
}

fn build_message(command: &Command) -> Result<Option<ClientMessage>, String> {
    let msg = match command {
        Command::Order {
            account: a,
            order_type,
            tif,
            confirm,
            programmatic,
            credit,
            cl_ord_id,
            words,
        } => {
            let side = parse_enum(Side::ALL, Side::name, &words[0].to_ascii_lowercase(), "side")?;
            let security = security(&words[1])?;
            let qty = qty(&words[2])?;
            let order_type = parse_enum(OrderType::ALL, OrderType::name, order_type, "--type")?;
            let price = match &words[3..] {
                [] => Price::ZERO,
                [at, p] if at == "@" => price(p)?,
                [p] => price(p)?,
                _ => return Err("expected `buy|sell SECURITY QTY [@ PRICE]`".into()),
            };
            if order_type == OrderType::Limit && price == Price::ZERO {
                return Err("a limit order needs `@ PRICE`".into());
            }
            let tif = match order_type.implied_tif() {
                Some(implied) => implied,
                None => parse_enum(TimeInForce::ALL, TimeInForce::name, tif, "--tif")?,
            };
            let mut flags = 0;
            if *confirm {
                flags |= order_flags::SUITABILITY_CONFIRMED;
            }
            if *programmatic {
                flags |= order_flags::PROGRAMMATIC;
            }
            ClientMessage::NewOrder(NewOrder {
                cl_ord_id: cl_ord_id.unwrap_or_else(clock_id),
                account: account(a)?,
                security,
                side,
                order_type,
                tif,
                price,
                qty,
                flags,
                credit: parse_enum(CreditTag::ALL, CreditTag::name, credit, "--credit")?,
            })
        }
        Command::Cancel { account: a, cl_ord_id } => ClientMessage::CancelOrder(CancelOrder {
            request_id: clock_id(),
            orig_cl_ord_id: *cl_ord_id,
            account: account(a)?,
        }),
        Command::Replace { account: a, words } => {
            if words[2] != "@" {
                return Err("expected `CL_ORD_ID QTY @ PRICE`".into());
            }
            ClientMessage::ReplaceOrder(ReplaceOrder {
                request_id: clock_id(),
                orig_cl_ord_id: words[0]
                    .parse()
                    .map_err(|_| format!("cl_ord_id {:?}: expected a number", words[0]))?,
                account: account(a)?,
                qty: qty(&words[1])?,
                price: price(&words[3])?,
            })
        }
        Command::MassCancel { account: a, security: s, block } => {
            let scope = match (a, s) {
                (Some(a), Some(s)) => MassCancelScope::Security(account(a)?, security(s)?),
                (Some(a), None) => MassCancelScope::Account(account(a)?),
                (None, None) => MassCancelScope::Login,
                (None, Some(_)) => return Err("--security needs --account".into()),
            };
            ClientMessage::MassCancel(MassCancel {
                request_id: clock_id(),
                scope,
                block_new: *block,
            })
        }
        Command::Enable { account: a } => ClientMessage::OrderEntryControl(OrderEntryControl {
            request_id: clock_id(),
            account: account(a)?,
            enable: true,
        }),
        Command::Disable { account: a } => ClientMessage::OrderEntryControl(OrderEntryControl {
            request_id: clock_id(),
            account: account(a)?,
            enable: false,
        }),
        Command::Watch => return Ok(None),
        Command::Funds(_) | Command::Positions(_) | Command::Orders { .. } | Command::Fills(_) => {
            return Err("a query is not an order message".into());
        }
        Command::Quotes(_) => return Err("quotes are not an order message".into()),
    };
    Ok(Some(msg))
}

/// One message in words.
fn describe(msg: &ServerMessage) -> String {
    let s = match msg {
        ServerMessage::App(s) => s,
        ServerMessage::Heartbeat => return "heartbeat".into(),
        ServerMessage::EndOfSession(e) => {
            return format!("end of session: {} (last seq {})", e.reason, e.last_seq);
        }
        ServerMessage::LoginAccepted(a) => {
            return format!("login accepted, next seq {}", a.next_seq);
        }
        ServerMessage::LoginRejected(r) => {
            return format!("login rejected: {} {}", r.code, r.code.sentence().unwrap_or(""));
        }
        ServerMessage::Query(q) => return format!("query answer: {q:?}"),
    };
    let body = match &s.msg {
        AppMessage::OrderAccepted(a) => {
            let price = if a.order_type.is_market() {
                a.order_type.name().to_string()
            } else {
                format!("@ {}", a.price)
            };
            let repeat = if a.flags & protocol::codec::answer_flags::REPEAT != 0 {
                " (repeat of the original answer)"
            } else {
                ""
            };
            let confirmed = if a.flags & protocol::codec::answer_flags::CONFIRMATION_RECORDED != 0 {
                " [suitability confirmation recorded]"
            } else {
                ""
            };
            format!(
                "accepted: {} {} {} {} {} (account {}, cl_ord_id {}, order {}){repeat}{confirmed}",
                a.side, a.qty, a.security, price, a.tif, a.account, a.cl_ord_id, a.order_id
            )
        }
        AppMessage::OrderRejected(r) => format!(
            "rejected: cl_ord_id {} (account {}): {} — {}",
            r.cl_ord_id,
            r.account,
            r.code,
            r.text().as_str()
        ),
        AppMessage::Executed(e) => format!(
            "executed: {} {} {} @ {} (cl_ord_id {}, exec {}, {}), leaves {}, cum {}",
            e.side,
            e.qty,
            e.security,
            e.price,
            e.cl_ord_id,
            e.exec_id,
            e.liquidity,
            e.leaves,
            e.cum
        ),
        AppMessage::Canceled(c) => format!(
            "canceled: cl_ord_id {} (account {}), {} shares, cum {}, reason {}",
            c.cl_ord_id, c.account, c.canceled_qty, c.cum, c.reason
        ),
        AppMessage::CancelRejected(c) => format!(
            "{:?} refused for cl_ord_id {} (account {}): {} — {}",
            c.kind,
            c.orig_cl_ord_id,
            c.account,
            c.code,
            c.code.sentence().unwrap_or("")
        ),
        AppMessage::Replaced(r) => format!(
            "replaced: cl_ord_id {} now {} @ {}, leaves {}{}",
            r.cl_ord_id,
            r.qty,
            r.price,
            r.leaves,
            if r.priority_kept { " (priority kept)" } else { " (priority lost)" }
        ),
        AppMessage::SystemEvent(e) => {
            let what = e.security.map(|s| s.to_string()).unwrap_or_else(|| "all securities".into());
            format!("system: {:?} for {what}, phase {}", e.kind, e.phase)
        }
        AppMessage::BusinessReject(b) => format!(
            "business reject of message 0x{:02x} (id {}): {} — {}",
            b.ref_msg_type,
            b.ref_id,
            b.code,
            b.text().as_str()
        ),
        AppMessage::MassCancelAck(m) => {
            if m.code.0 == 0 {
                format!(
                    "mass cancel: {} orders cancelled{}",
                    m.canceled_count,
                    if m.blocked { ", new orders blocked" } else { "" }
                )
            } else {
                format!("mass cancel refused: {} — {}", m.code, m.code.sentence().unwrap_or(""))
            }
        }
        AppMessage::OrderEntryStatus(st) => {
            if st.code.0 == 0 {
                format!("order entry for {}: {:?}", st.account, st.state)
            } else {
                format!("order entry change for {} refused: {}", st.account, st.code)
            }
        }
        AppMessage::OrderPending(p) => {
            let about = match p.request_id {
                0 => format!("cl_ord_id {}", p.cl_ord_id),
                id => format!("request {id} on cl_ord_id {}", p.cl_ord_id),
            };
            format!("pending: {about} (account {}) {} during {}", p.account, p.status, p.phase)
        }
        AppMessage::FillFees(f) => format!(
            "fees: exec {} (cl_ord_id {}): commission {}, stamp duty {}, transfer fee {}, total {}",
            f.exec_id,
            f.cl_ord_id,
            protocol::Price(f.commission),
            protocol::Price(f.stamp_duty),
            protocol::Price(f.transfer_fee),
            protocol::Price(f.total())
        ),
    };
    format!("[{}] {body}", s.seq)
}
