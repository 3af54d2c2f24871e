//! The memory check before start. The gateway commits its whole budget at start-up
//! (`pipeline::memory_budget`: out logs, risk tables, venue, rings), so a
//! configuration that asks for more than the machine has would end in an
//! allocation failure and an abort. `gateway --check`, and the binary before it
//! starts, compare the budget with the machine first; a refusal names the keys that
//! size each part, with their values and sizes, largest first.
//!
//! Reading the machine (`/proc/meminfo`, the cgroup limit) is the binary's job
//! ([`machine_memory`]); the comparison ([`check`]) is a function of its inputs.

use std::fmt::Write as _;

use sim_exchange::{Exchange, ExchangeConfig};

use super::{ConfigError, Errors, GatewayConfig};

/// The memory the gateway may commit, and where that figure came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MachineMemory {
    /// Bytes.
    pub bytes: u64,
    /// Where the figure was read, for messages ("MemAvailable in /proc/meminfo").
    pub source: String,
}

/// `MemAvailable` (else `MemTotal`) from the text of `/proc/meminfo`, in bytes,
/// with the field's name.
pub fn parse_meminfo(text: &str) -> Option<(u64, &'static str)> {
    let field = |name: &str| {
        text.lines().find_map(|l| {
            let rest = l.strip_prefix(name)?.strip_prefix(':')?;
            let kib: u64 = rest.trim().strip_suffix("kB")?.trim().parse().ok()?;
            kib.checked_mul(1024)
        })
    };
    field("MemAvailable")
        .map(|b| (b, "MemAvailable"))
        .or_else(|| field("MemTotal").map(|b| (b, "MemTotal")))
}

/// A cgroup v2 `memory.max`: bytes, or `None` for `max` (no limit) or unreadable text.
pub fn parse_cgroup_max(text: &str) -> Option<u64> {
    text.trim().parse().ok()
}

/// What this machine offers: `/proc/meminfo`'s available memory, lowered to the
/// process's cgroup limit when one is set (a container sees the host's meminfo).
/// `None` where neither can be read (not Linux).
pub fn machine_memory() -> Option<MachineMemory> {
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok();
    let (bytes, field) = meminfo.as_deref().and_then(parse_meminfo)?;
    let mut machine = MachineMemory { bytes, source: format!("{field} in /proc/meminfo") };
    let cgroup = std::fs::read_to_string("/sys/fs/cgroup/memory.max").ok();
    if let Some(limit) = cgroup.as_deref().and_then(parse_cgroup_max)
        && limit < machine.bytes
    {
        machine = MachineMemory { bytes: limit, source: "/sys/fs/cgroup/memory.max".into() };
    }
    Some(machine)
}

/// The venue's memory (`Exchange::memory_bytes`) for `exchange`, without building
/// it at full size: small probes measure the books (which depend on the
/// instruments and `max_levels_per_side` only), the bytes per resting order, and
/// the bytes per queued operation. The order-id index doubles in steps, so the
/// probes split what grows with `max_orders` from what grows with its next power
/// of two; for any realistic size the estimate is the venue's own accounting.
pub fn venue_bytes(file: &str, exchange: &ExchangeConfig) -> Result<u64, ConfigError> {
    const N: u64 = 1024;
    let probe = |orders: u64, queue: u64| {
        let cfg = ExchangeConfig {
            max_orders: orders as usize,
            inbound_queue_capacity: queue as usize,
            ..exchange.clone()
        };
        Exchange::new(cfg).map(|x| x.memory_bytes() as u64).map_err(|e| ConfigError::Invalid {
            file: file.to_owned(),
            field: "exchange".into(),
            message: e.to_string(),
        })
    };
    let base = probe(N, N)?;
    let doubled = probe(2 * N, N)?;
    // 1536 -> 2048 orders: the same index size, so only the per-order part grows.
    let linear = doubled.saturating_sub(probe(N * 3 / 2, N)?) / (N / 2);
    // 1024 -> 2048 orders: the index doubles too.
    let index = (doubled.saturating_sub(base) / N).saturating_sub(linear);
    let queued = probe(N, 2 * N)?.saturating_sub(base) / N;
    let books = base.saturating_sub(N * (linear + index + queued));
    let orders = exchange.max_orders as u64;
    Ok(books
        + linear * orders
        + index * orders.next_power_of_two()
        + queued * exchange.inbound_queue_capacity as u64)
}

/// The configuration keys that size a part of the budget, with their values (row
/// names as `pipeline::memory_budget` writes them).
pub fn part_keys(config: &GatewayConfig, part: &str) -> Vec<(&'static str, u64)> {
    let c = config;
    let orders = u64::from(c.risk.capacity.max_orders_per_day);
    if part.starts_with("out logs") {
        vec![
            ("outbound.log_bytes_per_login", c.outbound.log_bytes_per_login as u64),
            ("outbound.log_messages_per_login", c.outbound.log_messages_per_login as u64),
            ("[[logins]] (count)", c.logins.len() as u64),
        ]
    } else if part.starts_with("risk order") || part.starts_with("engine requests") {
        vec![("limits.max_orders_per_day", orders)]
    } else if part.starts_with("risk fills") {
        vec![("limits.max_fills_per_day", u64::from(c.risk.capacity.max_fills_per_day))]
    } else if part.starts_with("venue") {
        vec![
            ("exchange.max_orders", c.exchange.max_orders as u64),
            ("exchange.inbound_queue_capacity", c.exchange.inbound_queue_capacity as u64),
            ("exchange.max_levels_per_side", c.exchange.max_levels_per_side as u64),
            ("[[instruments]] (count)", c.exchange.instruments.len() as u64),
        ]
    } else if part.starts_with("receive buffers") {
        vec![
            ("server.max_sessions", c.server.max_sessions as u64),
            ("server.rx_buffer_bytes", c.server.rx_buffer_bytes as u64),
        ]
    } else if part.starts_with("io -> engine") {
        vec![("pipeline.in_ring_capacity", c.pipeline.in_ring_capacity as u64)]
    } else if part.starts_with("engine -> io") {
        vec![("pipeline.out_ring_capacity", c.pipeline.out_ring_capacity as u64)]
    } else if part.starts_with("query answer buffers") {
        vec![("server.max_queries_in_flight", c.server.max_queries_in_flight as u64)]
    } else if part.starts_with("FIX sessions") {
        let fix = c.fix.as_ref();
        let first = fix.and_then(|f| f.sessions.first());
        vec![
            ("[[fix.sessions]] (count)", fix.map_or(0, |f| f.sessions.len() as u64)),
            ("fix.outbound_bytes", first.map_or(0, |s| s.outbound_capacity as u64)),
            ("fix.resend_capacity", first.map_or(0, |s| s.resend_capacity as u64)),
            ("fix.order_cache_capacity", first.map_or(0, |s| s.order_cache_capacity as u64)),
            ("fix.queue_messages", fix.map_or(0, |f| f.queue_messages as u64)),
        ]
    } else if part.starts_with("market-data") {
        market_data_keys(config, part)
    } else if part.starts_with("admin command queue") {
        vec![("pipeline.admin_queue_capacity", c.pipeline.admin_queue_capacity as u64)]
    } else if part.starts_with("failed-login addresses") {
        vec![("server.max_failing_addresses", c.server.max_failing_addresses as u64)]
    } else if part.starts_with("fused outbox") {
        vec![("pipeline.fused_outbox_capacity", c.pipeline.fused_outbox_capacity as u64)]
    } else if part.starts_with("answers waiting for the journal") {
        vec![("pipeline.unreleased_capacity", c.pipeline.unreleased_capacity as u64)]
    } else if part.starts_with("engine -> journal") {
        vec![("journal.ring_capacity", c.journal.ring_capacity as u64)]
    } else if part.starts_with("snapshot replica") {
        vec![("journal.snapshot_every_inputs", c.journal.snapshot_every_inputs)]
    } else {
        Vec::new()
    }
}

/// The keys of the market-data publisher's rows.
fn market_data_keys(config: &GatewayConfig, part: &str) -> Vec<(&'static str, u64)> {
    let md = &config.marketdata;
    if part.contains("ring") {
        vec![("marketdata.ring_capacity", md.ring_capacity as u64)]
    } else if part.contains("resync") {
        vec![("marketdata.resync_levels_per_side", md.resync_levels_per_side as u64)]
    } else if part.contains("history") {
        vec![
            ("marketdata.history_messages", md.history_messages as u64),
            ("[[instruments]] (count)", config.exchange.instruments.len() as u64),
        ]
    } else if part.contains("queues") {
        vec![
            ("marketdata.max_connections", md.max_connections as u64),
            ("marketdata.queue_bytes", md.queue_bytes as u64),
            ("marketdata.max_subscriptions", md.max_subscriptions as u64),
        ]
    } else {
        vec![("[[instruments]] (count)", config.exchange.instruments.len() as u64)]
    }
}

/// Bytes for people: `1.5 GiB`.
pub fn human_bytes(bytes: u64) -> String {
    let units = ["bytes", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < units.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 { format!("{bytes} bytes") } else { format!("{value:.1} {}", units[unit]) }
}

/// Refuses a budget (`pipeline::memory_budget_for`) larger than `machine`. The
/// error's field is the keys of the largest part; its message lists every part,
/// largest first, with the keys and values that size it.
pub fn check(
    config: &GatewayConfig,
    budget: &[(&'static str, u64)],
    machine: &MachineMemory,
) -> Result<(), ConfigError> {
    let total = budget.iter().fold(0u64, |sum, (_, b)| sum.saturating_add(*b));
    if total <= machine.bytes {
        return Ok(());
    }
    let mut parts: Vec<&(&'static str, u64)> = budget.iter().collect();
    parts.sort_by_key(|part| std::cmp::Reverse(part.1));
    let largest = part_keys(config, parts[0].0);
    let field = largest.iter().map(|(k, _)| *k).collect::<Vec<_>>().join(", ");
    let mut message = format!(
        "the gateway would commit {} ({total} bytes) at start-up, more than the {} this \
         machine has ({}); lower the keys of the largest parts:",
        human_bytes(total),
        human_bytes(machine.bytes),
        machine.source
    );
    for (part, bytes) in parts {
        let keys: Vec<String> =
            part_keys(config, part).iter().map(|(k, v)| format!("{k} = {v}")).collect();
        let keys = if keys.is_empty() { "fixed".to_owned() } else { keys.join(", ") };
        let _ = write!(message, "\n  {:>10}  {part}: {keys}", human_bytes(*bytes));
    }
    Err(Errors { file: &config.origin }.invalid(field, message))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Durability;
    use crate::pipeline::{build_engine, memory_budget, memory_budget_for};

    #[test]
    fn meminfo_and_cgroup_texts_parse() {
        let text = "MemTotal:       24683784 kB\nMemFree:  1 kB\nMemAvailable:   23818576 kB\n";
        assert_eq!(parse_meminfo(text), Some((23_818_576 * 1024, "MemAvailable")));
        assert_eq!(parse_meminfo("MemTotal: 2048 kB\n"), Some((2048 * 1024, "MemTotal")));
        assert_eq!(parse_meminfo("nothing here\n"), None);
        assert_eq!(parse_cgroup_max("max\n"), None);
        assert_eq!(parse_cgroup_max("1073741824\n"), Some(1 << 30));
    }

    /// The estimate made before anything is allocated is the venue's own figure.
    #[test]
    fn the_venue_estimate_matches_the_built_venue() {
        for (orders, queue) in [(1 << 20, 65_536), (300_000, 1_000), (100, 1), (5_000, 70_000)] {
            let mut config = GatewayConfig::demo();
            config.exchange.max_orders = orders;
            config.exchange.inbound_queue_capacity = queue;
            let built = Exchange::new(config.exchange.clone()).unwrap().memory_bytes() as u64;
            assert_eq!(venue_bytes("demo", &config.exchange).unwrap(), built, "{orders} {queue}");
        }
    }

    /// Every part of the budget but the fixed write batch is traced to its keys, and
    /// the budget made before start equals the one logged at start.
    #[test]
    fn every_part_names_its_keys() {
        use crate::config::Topology;
        for (topology, durability) in
            [(Topology::Pipelined, Durability::Async), (Topology::Fused, Durability::Sync)]
        {
            let mut config = GatewayConfig::demo();
            config.pipeline.topology = topology;
            config.journal.durability = durability;
            config.journal.snapshot_every_inputs = 1_000;
            // The market-data publisher's rows too, in one of the two.
            config.exchange.market_data = topology == Topology::Fused;
            config.marketdata.enabled = topology == Topology::Fused;
            let engine = build_engine(&config).unwrap();
            let venue = venue_bytes("demo", &config.exchange).unwrap();
            let budget = memory_budget_for(&config, venue);
            assert_eq!(budget, memory_budget(&config, &engine));
            assert!(budget.len() >= 12, "{budget:?}");
            let md_rows = budget.iter().filter(|(p, _)| p.starts_with("market-data")).count();
            assert_eq!(md_rows, if topology == Topology::Fused { 5 } else { 0 }, "{budget:?}");
            for (part, _) in &budget {
                assert!(
                    !part_keys(&config, part).is_empty() || part.starts_with("journal write batch"),
                    "{part} names no key"
                );
            }
        }
    }

    /// Every bounded queue is its own row, sized by its key; the snapshot replica
    /// is the sum of the rows it copies, found by name.
    #[test]
    fn queues_are_rows_and_the_replica_is_summed_by_name() {
        use crate::config::Topology;
        let mut config = GatewayConfig::demo();
        config.pipeline.topology = Topology::Fused;
        config.journal.durability = Durability::Sync;
        config.journal.snapshot_every_inputs = 1_000;
        config.pipeline.unreleased_capacity = 1_000;
        let venue = venue_bytes("demo", &config.exchange).unwrap();
        let budget = memory_budget_for(&config, venue);
        let row = |name: &str| {
            budget
                .iter()
                .find(|(p, _)| p.starts_with(name))
                .map(|(_, b)| *b)
                .unwrap_or_else(|| panic!("no row {name} in {budget:?}"))
        };
        assert_eq!(row("answers waiting for the journal"), 1_000 * 24);
        assert!(row("admin command queue") > 0 && row("fused outbox") > 0);
        assert!(row("failed-login addresses") > 0);
        let copied = [
            "out logs",
            "risk order table",
            "risk order index",
            "risk fills",
            "engine requests",
            "venue",
        ];
        let replica: u64 = copied.iter().map(|name| row(name)).sum();
        assert_eq!(row("snapshot replica"), replica);
    }

    #[test]
    fn a_budget_over_the_machine_names_the_largest_part() {
        let mut config = GatewayConfig::demo();
        config.outbound.log_bytes_per_login = 8 << 30;
        let venue = venue_bytes("demo", &config.exchange).unwrap();
        let budget = memory_budget_for(&config, venue);
        let total: u64 = budget.iter().map(|(_, b)| b).sum();
        let roomy = MachineMemory { bytes: total, source: "test".into() };
        assert!(check(&config, &budget, &roomy).is_ok());
        let small = MachineMemory { bytes: total - 1, source: "the test's figure".into() };
        let e = check(&config, &budget, &small).unwrap_err().to_string();
        assert!(e.starts_with("<demo>: outbound.log_bytes_per_login, "), "{e}");
        assert!(e.contains("outbound.log_bytes_per_login = 8589934592"), "{e}");
        assert!(e.contains("40.") && e.contains("GiB") && e.contains("the test's figure"), "{e}");
        assert!(e.contains("limits.max_orders_per_day = 262144"), "{e}");
    }

    #[test]
    fn bytes_read_as_units() {
        assert_eq!(human_bytes(512), "512 bytes");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(64 << 30), "64.0 GiB");
    }
}
