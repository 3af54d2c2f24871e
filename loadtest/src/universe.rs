//! The world the flow trades in: instruments, accounts and logins.
//!
//! It is read from a gateway configuration file (the same TOML the gateway reads:
//! `[[instruments]]`, `[[accounts]]`, `[[logins]]`), so the harness knows what each
//! account may do without asking the gateway. For an in-process gateway the file is
//! generated here for the scenario ([`generate_gateway_toml`]); against a running
//! gateway it is the demo configuration or the one given with `--logins`.

use protocol::rules::{BoardRules, daily_price_band};
use protocol::{AccountId, Board, Price, SecurityId, Token, Username};

use crate::operator::format_security;
use crate::scenario::Scenario;

/// One instrument.
#[derive(Clone, Debug)]
pub struct Instr {
    /// Market and code.
    pub security: SecurityId,
    /// Listing board.
    pub board: Board,
    /// Previous close.
    pub prev_close: Price,
    /// Product risk level 1..=5.
    pub risk_level: u8,
    /// Tick, lot and quantity rules.
    pub rules: BoardRules,
    /// Today's price band.
    pub lower: Price,
    /// Today's price band.
    pub upper: Price,
}

/// One account and what it may do.
#[derive(Clone, Debug)]
pub struct Account {
    /// Id.
    pub id: AccountId,
    /// Cash, 1/10000 CNY.
    pub cash: i64,
    /// Client class 1..=5.
    pub class: u8,
    /// Lowest risk category.
    pub lowest: bool,
    /// Professional investor.
    pub professional: bool,
    /// Board permissions (ChiNext, STAR, BSE).
    pub boards: Vec<Board>,
    /// Holdings: (instrument index, shares).
    pub positions: Vec<(usize, u64)>,
}

/// One login.
#[derive(Clone, Debug)]
pub struct Login {
    /// Name.
    pub username: Username,
    /// Secret.
    pub token: Token,
    /// Indices into [`Universe::accounts`].
    pub accounts: Vec<usize>,
}

/// What an (account, instrument) pair is good for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Use {
    /// Normal buys.
    Buy,
    /// Normal sells (the account holds the shares).
    Sell,
    /// A buy the risk engine must refuse for want of cash.
    FundsReject,
    /// An order refused for want of a board permission.
    BoardReject,
    /// A buy that needs a suitability confirmation.
    Confirm,
}

/// Instruments, accounts, logins.
#[derive(Clone, Debug)]
pub struct Universe {
    /// Instruments.
    pub instruments: Vec<Instr>,
    /// Accounts.
    pub accounts: Vec<Account>,
    /// Logins.
    pub logins: Vec<Login>,
}

impl Universe {
    /// Reads the universe from gateway configuration text with the gateway's own
    /// parser and checks (so a file the gateway would refuse is refused here
    /// too); `file` names it in errors.
    pub fn from_gateway_toml(text: &str, file: &str) -> Result<Universe, String> {
        let config =
            gateway::GatewayConfig::from_toml_str(text, file).map_err(|e| e.to_string())?;
        Universe::from_config(&config)
    }

    /// The universe of a gateway configuration: its tradable instruments (not
    /// suspended) with their rules and today's price band, its accounts and its
    /// order-entry logins.
    pub fn from_config(config: &gateway::GatewayConfig) -> Result<Universe, String> {
        let mut instruments = Vec::new();
        for x in config.risk.instruments.iter().filter(|x| !x.suspended) {
            let band = daily_price_band(x.prev_close, x.rules.limit_bp_for(x.st), x.rules.tick);
            instruments.push(Instr {
                security: x.security,
                board: x.board,
                prev_close: x.prev_close,
                risk_level: x.risk_level.as_u8(),
                rules: x.rules,
                lower: band.lower,
                upper: band.upper,
            });
        }
        let accounts: Vec<Account> = config
            .risk
            .accounts
            .iter()
            .map(|a| Account {
                id: a.id,
                cash: a.cash,
                class: a.class.as_u8(),
                lowest: a.lowest_category,
                professional: a.professional,
                boards: [
                    (a.boards.star, Board::Star),
                    (a.boards.chinext, Board::ChiNext),
                    (a.boards.bse, Board::Bse),
                ]
                .into_iter()
                .filter_map(|(granted, b)| granted.then_some(b))
                .collect(),
                positions: a
                    .positions
                    .iter()
                    .filter_map(|p| {
                        let i = instruments.iter().position(|x| x.security == p.security)?;
                        Some((i, p.qty))
                    })
                    .collect(),
            })
            .collect();
        let logins: Vec<Login> = config
            .logins
            .iter()
            .filter(|l| !l.market_data_only)
            .map(|l| Login {
                username: l.username,
                token: l.token,
                accounts: l
                    .accounts
                    .iter()
                    .filter_map(|id| accounts.iter().position(|a| a.id == *id))
                    .collect(),
            })
            .collect();
        if instruments.is_empty() || logins.is_empty() {
            let file = &config.origin;
            return Err(format!("{file}: needs at least one instrument and one login"));
        }
        Ok(Universe { instruments, accounts, logins })
    }

    /// What `account` may do with instrument `instr`, as the flow uses it.
    pub fn uses(&self, account: usize, instr: usize) -> Vec<Use> {
        let a = &self.accounts[account];
        let x = &self.instruments[instr];
        let board_ok =
            matches!(x.board, Board::SseMain | Board::SzseMain) || a.boards.contains(&x.board);
        let suitable = a.professional || (!a.lowest && a.class >= x.risk_level);
        let confirmable = !a.professional && !a.lowest && a.class < x.risk_level;
        // Enough cash for a flow of ordinary orders: a few hundred open at once.
        let rich = a.cash >= 50_000_000 * Price::SCALE;
        let poor = a.cash < 2_000 * Price::SCALE;
        let lot = x.rules.lot.min_qty.max(100);
        let held = a.positions.iter().any(|&(i, q)| i == instr && q >= 10 * lot);
        let mut out = Vec::new();
        if !board_ok {
            out.push(Use::BoardReject);
            return out;
        }
        if suitable && rich {
            out.push(Use::Buy);
        }
        if suitable && poor {
            out.push(Use::FundsReject);
        }
        if confirmable && rich {
            out.push(Use::Confirm);
        }
        if held && suitable {
            out.push(Use::Sell);
        }
        out
    }
}

/// Instruments the generated configuration draws from: real A-shares with recent
/// closes; the first eight cover both main boards, ChiNext, STAR and an R4 main-board
/// name (for suitability confirmations).
const INSTRUMENTS: &[(&str, &str, &str, &str)] = &[
    ("600519.SH", "sse-main", "1498.00", "R3"),
    ("601318.SH", "sse-main", "52.30", "R3"),
    ("000001.SZ", "szse-main", "11.50", "R2"),
    ("300750.SZ", "chinext", "265.00", "R4"),
    ("688981.SH", "star", "88.50", "R4"),
    ("600030.SH", "sse-main", "26.80", "R4"),
    ("600036.SH", "sse-main", "42.10", "R2"),
    ("000858.SZ", "szse-main", "125.60", "R3"),
    ("601398.SH", "sse-main", "7.05", "R2"),
    ("300059.SZ", "chinext", "24.80", "R4"),
    ("688111.SH", "star", "285.00", "R4"),
    ("601012.SH", "sse-main", "18.60", "R3"),
    ("000333.SZ", "szse-main", "63.20", "R3"),
    ("002594.SZ", "szse-main", "260.00", "R3"),
    ("600900.SH", "sse-main", "28.90", "R2"),
    ("601888.SH", "sse-main", "70.50", "R3"),
];

/// How many sessions and accounts a scenario gets on an in-process gateway.
pub fn sizing(s: &Scenario) -> (usize, usize) {
    let peak = s.peak_rate_per_s();
    let sessions = if s.flow.sessions > 0 {
        s.flow.sessions
    } else {
        // Few sessions batch better (several frames per write); enough of them to
        // spread the work and the reconnects.
        ((peak / 12_500.0).ceil() as usize).clamp(4, 24)
    };
    let accounts = if s.flow.accounts_per_session > 0 {
        s.flow.accounts_per_session
    } else {
        // About 500 messages per second per account keeps the 100 ms duplicate-order
        // guard from firing on the flow's own quantity cycle.
        ((peak / 500.0 / sessions as f64).ceil() as usize).clamp(4, 64)
    };
    (sessions, accounts)
}

/// The usernames of the logins [`generate_gateway_toml`] writes for `s`, in order.
pub fn login_names(s: &Scenario) -> Vec<String> {
    (0..sizing(s).0).map(|sess| format!("lt{sess:03}")).collect()
}

/// A gateway configuration for a scenario: enough logins, accounts with deep cash
/// and positions, capacity for the run, per-account throttles relaxed (every other
/// check stays live).
pub fn generate_gateway_toml(s: &Scenario) -> String {
    generate_gateway_toml_pinned(s, None)
}

/// As [`generate_gateway_toml`], with the gateway's io (fused) thread pinned to `io_core`.
pub fn generate_gateway_toml_pinned(s: &Scenario, io_core: Option<usize>) -> String {
    use std::fmt::Write as _;
    let (sessions, per_session) = sizing(s);
    let n_instr = s.flow.instruments.min(INSTRUMENTS.len());
    let expected = s.expected_messages();
    let max_orders = ((expected * 1.25) as u64 + 200_000).min(u64::from(u32::MAX - 2));
    let accounts_total = sessions * (per_session + 2);
    let resting = (sessions * s.flow.max_open_per_session * 2).max(1 << 20);
    let names = login_names(s);
    let mut t = String::with_capacity(64 * 1024);
    // Every session connects from 127.0.0.1 before any logs in, so the pre-login
    // budgets (which push out an address's oldest idle connections) cover them all.
    let _ = write!(
        t,
        "# Generated by loadtest for scenario {name:?}.\n\
         [server]\nlisten = [\"127.0.0.1:0\"]\nmax_sessions = {max_sessions}\n\
         max_pending_logins = {max_sessions}\nmax_pending_logins_per_address = {max_sessions}\n\
         heartbeat_ms = 1000\ndead_peer_ms = 15000\nlogin_timeout_ms = 5000\n\
         max_login_failures = 1000\nrx_buffer_bytes = 262144\n\
         max_queries_in_flight = {queries_in_flight}\n\n\
         [outbound]\nlog_bytes_per_login = 33554432\nlog_messages_per_login = 524288\n\
         backlog_limit_bytes = 8388608\n\n\
         [pipeline]\ntopology = \"{topology}\"\n{pin}\n\
         [exchange]\nschedule = \"always-continuous\"\nmax_orders = {resting}\n\
         inbound_queue_capacity = 1048576\n\
         # The flow's IOC limit orders: a simulator extension (SSE and SZSE take\n\
         # limit orders as day orders only).\n\
         limit_ioc_fok = true\n\n\
         [journal]\ndurability = \"none\"\n\n[admin]\nlisten = \"off\"\n\n\
         [limits]\n\
         # Per-account throttles relaxed so the flow is not mostly refused; the\n\
         # duplicate guard, collars, notional, buying power, positions, suitability\n\
         # and open-order count stay live.\n\
         rate_limit_per_s = 1000000\ndaily_message_limit = 2000000000\n\
         max_queries_per_second = 100000\n\
         cancels_per_security_per_day = 2000000000\nopen_orders_per_security = 400\n\
         max_orders_per_day = {max_orders}\nmax_positions = {positions}\n\
         max_login_bindings = {bindings}\n\n",
        name = s.name,
        max_sessions = sessions + 16,
        // Every connection may hold its 8 answers in flight (the flow's queries).
        queries_in_flight = ((sessions + 16) * 8).min(65_536),
        topology = s.flow.topology,
        pin = io_core.map(|c| format!("io_core = {c}\n")).unwrap_or_default(),
        positions = accounts_total * n_instr + 1024,
        bindings = accounts_total + 64,
    );
    for (sec, board, close, level) in &INSTRUMENTS[..n_instr] {
        let _ = write!(
            t,
            "[[instruments]]\nsecurity = \"{sec}\"\nboard = \"{board}\"\nprev_close = \"{close}\"\n\
             risk_level = \"{level}\"\n\n"
        );
    }
    let positions: Vec<String> = INSTRUMENTS[..n_instr]
        .iter()
        .map(|(sec, _, close, _)| {
            format!("{{ security = \"{sec}\", qty = 1000000000, cost = \"{close}\" }}")
        })
        .collect();
    let positions = positions.join(", ");
    for (sess, name) in names.iter().enumerate() {
        let mut ids = Vec::new();
        for k in 0..per_session {
            let id = format!("L{sess:03}A{k:03}");
            let _ = write!(
                t,
                "[[accounts]]\nid = \"{id}\"\ncash = \"100000000000\"\nclass = \"C5\"\n\
                 professional = true\nboards = [\"star\", \"chinext\", \"bse\"]\n\
                 positions = [{positions}]\n\n"
            );
            ids.push(id);
        }
        // One account with almost no cash (buying-power rejects) and one C3 client
        // without board permissions (board rejects, suitability confirmations).
        let poor = format!("L{sess:03}POOR");
        let _ = write!(
            t,
            "[[accounts]]\nid = \"{poor}\"\ncash = \"1000\"\nclass = \"C5\"\nprofessional = true\n\
             boards = [\"star\", \"chinext\", \"bse\"]\n\n"
        );
        let c3 = format!("L{sess:03}C3");
        let _ =
            write!(t, "[[accounts]]\nid = \"{c3}\"\ncash = \"100000000000\"\nclass = \"C3\"\n\n");
        ids.push(poor);
        ids.push(c3);
        let list: Vec<String> = ids.iter().map(|i| format!("\"{i}\"")).collect();
        let _ = write!(
            t,
            "[[logins]]\nusername = \"{name}\"\ntoken = \"{name}-secret\"\n\
             accounts = [{}]\n\n",
            list.join(", "),
        );
    }
    t
}

/// Writes the universe's instruments as `600519.SH` for reports.
pub fn describe(u: &Universe) -> String {
    let secs: Vec<String> = u.instruments.iter().map(|i| format_security(i.security)).collect();
    format!(
        "{} logins, {} accounts, {} instruments ({})",
        u.logins.len(),
        u.accounts.len(),
        u.instruments.len(),
        secs.join(" ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_demo_configuration_reads_and_has_every_use() {
        let u = Universe::from_gateway_toml(gateway::config::DEMO_TOML, "<demo>").unwrap();
        assert_eq!(u.logins.len(), 5);
        assert!(u.instruments.len() >= 8);
        let a001 = u.accounts.iter().position(|a| a.id.as_str() == "A001").unwrap();
        let moutai = u.instruments.iter().position(|i| i.security.code == 600519).unwrap();
        assert!(u.uses(a001, moutai).contains(&Use::Sell));
    }

    #[test]
    fn a_generated_configuration_starts_a_gateway_config_and_covers_every_use() {
        let s = Scenario::load("smoke").unwrap();
        let text = generate_gateway_toml(&s);
        let config = gateway::GatewayConfig::from_toml_str(&text, "<generated>")
            .unwrap_or_else(|e| panic!("{e}\n{text}"));
        let (sessions, _) = sizing(&s);
        assert_eq!(config.logins.len(), sessions);
        let u = Universe::from_gateway_toml(&text, "<generated>").unwrap();
        let login = &u.logins[0];
        let mut seen = Vec::new();
        for &a in &login.accounts {
            for i in 0..u.instruments.len() {
                seen.extend(u.uses(a, i));
            }
        }
        for want in [Use::Buy, Use::Sell, Use::FundsReject, Use::BoardReject, Use::Confirm] {
            assert!(seen.contains(&want), "{want:?} missing");
        }
    }
}
