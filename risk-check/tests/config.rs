//! Configuration from TOML: the example file parses, every mistake names its file
//! and field, and the tables can be embedded in a larger file.

use protocol::codec::EntryState;
use protocol::rules::{BoardRules, CageRule, FeeSchedule};
use protocol::{AccountId, Board, Price};
use risk_check::{
    ClientClass, ConfigError, Limits, RiskConfig, RiskEngine, RiskLevel, parse_security,
};

const EXAMPLE: &str = include_str!("../risk.example.toml");

fn cny(text: &str) -> i64 {
    Price::parse_cny(text).unwrap().0
}

#[test]
fn the_example_parses_into_what_it_says() {
    let cfg = RiskConfig::from_toml_str(EXAMPLE, "risk.example.toml").unwrap();
    assert_eq!(cfg.limits, Limits::default());
    assert_eq!(cfg.fees, FeeSchedule::DEFAULT);
    assert_eq!(cfg.accounts.len(), 3);
    let a = &cfg.accounts[0];
    assert_eq!(a.id, AccountId::new("A001").unwrap());
    assert_eq!(a.cash, cny("1000000"));
    assert_eq!(a.class, ClientClass::C4);
    assert!(a.boards.star && a.boards.chinext && !a.boards.bse);
    assert!(a.programmatic && a.credit);
    assert_eq!(a.positions[0].qty, 1_000);
    assert_eq!(a.positions[0].cost, Price::parse_cny("1500").unwrap());
    assert_eq!(a.lendable[0].qty, 10_000);
    let b = &cfg.accounts[1];
    assert_eq!((b.cash, b.lowest_category, b.state), (cny("50000"), true, EntryState::Active));
    assert!(cfg.accounts[2].professional);
    let bse = cfg.instruments.iter().find(|x| x.board == Board::Bse).unwrap();
    assert_eq!(bse.rules.cage, Some(CageRule { pct_bp: 500, min_ticks: 10 }));
    let moutai = &cfg.instruments[0];
    assert_eq!(moutai.security, parse_security("600519.SH").unwrap());
    assert_eq!(moutai.risk_level, RiskLevel::R3);
    assert_eq!(moutai.rules, BoardRules::default_for(Board::SseMain));
    assert!(cfg.instruments.iter().any(|x| x.no_price_limit));
    let engine = RiskEngine::new(cfg).unwrap();
    assert_eq!(engine.instruments().len(), 7);
    let snap = engine.account_snapshot(&AccountId::new("A001").unwrap()).unwrap();
    assert_eq!(snap.position(parse_security("600519.SH").unwrap()).unwrap().sellable, 1_000);
    assert!(snap.position(parse_security("600036.SH").unwrap()).unwrap().restricted);
}

#[test]
fn limits_and_overrides_are_read() {
    let text = r#"
        [limits]
        max_notional = 1000000
        fat_finger_bp = 0
        max_orders_per_day = 1000
        [fees]
        commission_min = "0"
        [[instruments]]
        security = "600000.SH"
        board = "sse-main"
        prev_close = "10.00"
        risk_level = "R2"
        tick = "0.001"
        lot_min = 1
        lot_step = 1
        cage = false
    "#;
    let cfg = RiskConfig::from_toml_str(text, "r.toml").unwrap();
    assert_eq!(cfg.limits.max_notional, cny("1000000"));
    assert_eq!(cfg.limits.fat_finger_bp, 0);
    assert_eq!(cfg.capacity.max_orders_per_day, 1_000);
    assert_eq!(cfg.fees.commission_min, 0);
    let rules = cfg.instruments[0].rules;
    assert_eq!(rules.tick, Price(10));
    assert_eq!((rules.lot.min_qty, rules.lot.step, rules.cage), (1, 1, None));
}

/// Replaces the first occurrence of `from` in the example and expects an error.
#[track_caller]
fn broken(from: &str, to: &str) -> ConfigError {
    assert!(EXAMPLE.contains(from), "fixture text {from:?} not in the example");
    let text = EXAMPLE.replacen(from, to, 1);
    RiskConfig::from_toml_str(&text, "risk.toml").expect_err("the broken config must not load")
}

#[track_caller]
fn expect_message(err: ConfigError, message: &str) {
    assert_eq!(err.to_string(), message);
}

#[test]
fn errors_name_the_file_and_the_field() {
    expect_message(
        broken(r#"class = "C1""#, r#"class = "C7""#),
        "risk.toml: accounts[1].class: expected C1..C5, got C7",
    );
    expect_message(
        broken(r#"board = "star""#, r#"board = "nasdaq""#),
        r#"risk.toml: instruments[2].board: expected one of sse-main, szse-main, chinext, star, bse, got "nasdaq""#,
    );
    expect_message(
        broken(r#"prev_close = "35.00""#, r#"prev_close = "35.005""#),
        "risk.toml: instruments[1].prev_close: 35.0050 is not a multiple of the tick 0.01",
    );
    expect_message(
        broken("cash = 50000", "cash = -5"),
        "risk.toml: accounts[1].cash: must not be negative, got -5",
    );
    expect_message(
        broken(r#"cash = "20000000""#, r#"cash = "-1.50""#),
        "risk.toml: accounts[2].cash: must not be negative, got -1.50",
    );
    expect_message(
        broken(r#"id = "P003""#, r#"id = "A001""#),
        "risk.toml: accounts[2].id: duplicate account A001 (first at accounts[0])",
    );
    expect_message(
        broken(r#"security = "000001.SZ""#, r#"security = "300750.SZ""#),
        "risk.toml: instruments[4].security: duplicate security 300750.SZ (first at instruments[3])",
    );
    expect_message(
        broken(r#"restricted = ["600036.SH"]"#, r#"restricted = ["601398.SH"]"#),
        "risk.toml: accounts[0].restricted[0]: 601398.SH is not in [[instruments]]",
    );
    expect_message(
        broken(r#"security = "300750.SZ""#, r#"security = "300750.SH""#),
        "risk.toml: instruments[3].board: chinext is listed on szse, but 300750.SH is on sse",
    );
    expect_message(
        broken(r#"security = "300750.SZ""#, r#"security = "30075.SZ""#),
        r#"risk.toml: instruments[3].security: expected a code like 600519.SH (six digits, then .SH, .SZ or .BJ), got "30075.SZ""#,
    );
    expect_message(
        broken(r#"boards = ["star", "chinext"]"#, r#"boards = ["star", "nyse"]"#),
        r#"risk.toml: accounts[0].boards[1]: expected star, chinext or bse, got "nyse""#,
    );
    expect_message(
        broken(r#"risk_level = "R3""#, r#"risk_level = "R9""#),
        "risk.toml: instruments[0].risk_level: expected R1..R5, got R9",
    );
    expect_message(
        broken("professional = true", "professional = true\nlowest_category = true"),
        "risk.toml: accounts[2].lowest_category: only a C1 client can be in the lowest category, this one is C5",
    );
    expect_message(
        broken(r#"class = "C5""#, "class = \"C1\"\nlowest_category = true"),
        "risk.toml: accounts[2].professional: a lowest-category client cannot be a professional investor",
    );
    expect_message(
        broken(r#"state = "active""#, r#"state = "paused""#),
        r#"risk.toml: accounts[1].state: expected active, reducing-only or blocked, got "paused""#,
    );
    expect_message(
        broken("fat_finger_bp = 500", "fat_finger_bp = 20000"),
        "risk.toml: limits.fat_finger_bp: expected 0..=10000 (0 turns the collar off), got 20000",
    );
    expect_message(
        broken(
            r#"lendable = [{ security = "600036.SH", qty = 10000 }]"#,
            r#"lendable = [{ security = "600519.SH", qty = 10000 }]"#,
        ),
        "risk.toml: accounts[0].lendable[0].security: 600519.SH is not lending_eligible",
    );
    expect_message(
        broken("max_positions = 65536", "max_positions = 1"),
        "risk.toml: limits.max_positions: 1 is fewer than the 2 holdings, lending lines and restrictions configured",
    );
}

#[test]
fn type_errors_come_from_the_parser_with_the_file_name() {
    let err = broken(r#"cash = "1000000.00""#, "cash = 1000000.50");
    let text = err.to_string();
    assert!(text.starts_with("risk.toml: "), "{text}");
    assert!(text.contains("floats are not accepted"), "{text}");
    let err = broken("programmatic = true", "programatic = true");
    assert!(err.to_string().contains("programatic"), "{err}");
    let err = broken("\n[fees]\n", "\n[fee]\n");
    assert_eq!(err.field(), Some("fee"));
    assert!(err.to_string().starts_with("risk.toml: fee: unknown table"), "{err}");
}

#[test]
fn the_tables_embed_in_a_larger_file() {
    #[derive(serde::Deserialize)]
    struct GatewayFile {
        listen: String,
        #[serde(flatten)]
        risk: RiskConfig,
    }
    let text = format!("listen = \"0.0.0.0:9000\"\n[sessions]\nmax = 4\n{EXAMPLE}");
    let file: GatewayFile = toml::from_str(&text).unwrap();
    assert_eq!(file.listen, "0.0.0.0:9000");
    assert_eq!(file.risk.accounts.len(), 3);
    assert_eq!(
        file.risk,
        RiskConfig { origin: String::new(), ..RiskConfig::from_toml_str(EXAMPLE, "").unwrap() }
    );
    // The strict reader refuses the gateway's keys; the embedded reader skips them.
    assert!(RiskConfig::from_toml_str(&text, "gw.toml").is_err());
    let cfg = RiskConfig::from_toml_str_embedded(&text, "gw.toml").unwrap();
    assert_eq!(cfg.origin, "gw.toml");
    // Validation errors surface through serde with the field named.
    let bad = text.replacen(r#"class = "C4""#, r#"class = "C0""#, 1);
    let err = toml::from_str::<GatewayFile>(&bad).err().unwrap().to_string();
    assert!(err.contains("accounts[0].class: expected C1..C5, got C0"), "{err}");
    let err = RiskConfig::from_toml_str_embedded(&bad, "gw.toml").unwrap_err();
    assert_eq!(err.to_string(), "gw.toml: accounts[0].class: expected C1..C5, got C0");
}

#[test]
fn files_are_read_and_missing_files_named() {
    let dir = std::env::temp_dir().join(format!("risk-check-config-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("risk.toml");
    std::fs::write(&path, EXAMPLE).unwrap();
    let cfg = RiskConfig::from_file(&path).unwrap();
    assert_eq!(cfg.origin, path.display().to_string());
    std::fs::remove_file(&path).unwrap();
    let err = RiskConfig::from_file(&path).unwrap_err();
    assert!(matches!(err, ConfigError::Io { .. }));
    assert!(err.to_string().starts_with(&format!("{}: cannot read", path.display())), "{err}");
    std::fs::remove_dir(&dir).unwrap();
}

#[test]
fn configs_built_in_code_are_validated_too() {
    let mut cfg = RiskConfig::from_toml_str(EXAMPLE, "x").unwrap();
    cfg.origin = "built".into();
    cfg.accounts[0].cash = -1;
    let err = RiskEngine::new(cfg).unwrap_err();
    assert_eq!(err.field(), Some("accounts[0].cash"));
    assert!(err.to_string().starts_with("built: accounts[0].cash: must not be negative"), "{err}");
}
