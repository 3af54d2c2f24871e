//! What a replay depends on: a hash of each configuration section the engine's
//! decisions are built from, written into every journal segment and snapshot
//! header, so that a restart under a configuration that would decide differently
//! is refused instead of replaying streams that differ from what clients received.
//!
//! The set is exactly what [`crate::pipeline::build_engine`] reads: the risk
//! engine's `[limits]` (with the table capacities), `[fees]`, `[[accounts]]` and
//! `[[instruments]]`, the venue's `[exchange]`, and each login's name, accounts,
//! cancel-on-disconnect and throttle (its position is its number in the journal).
//! Everything else (listen addresses, session timers, tokens, outbound log sizes,
//! rings, pinning, wait strategies, journal and admin settings) moves bytes or
//! memory, not decisions, and may change between restarts.
//!
//! Each section is hashed from its parsed values, not the file's text: comments,
//! key order and a default spelled out make no difference.

use crate::config::GatewayConfig;

/// Slots in the header; the last ones are reserved (zero) for sections to come.
pub const SLOTS: usize = 8;
/// Bytes of a fingerprint in a header.
pub const FINGERPRINT_LEN: usize = SLOTS * 8;
/// The sections, in slot order, as an operator finds them in the file.
pub const SECTIONS: [&str; 6] =
    ["[limits]", "[fees]", "[[accounts]]", "[[instruments]]", "[exchange]", "[[logins]]"];

/// One hash per decision-relevant configuration section.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct Fingerprint {
    /// FNV-1a 64 of each section's parsed values, in [`SECTIONS`] order.
    pub sections: [u64; SLOTS],
}

/// FNV-1a, 64 bits: stable across builds and platforms (unlike `std`'s hasher).
fn fnv1a(text: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in text.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

impl Fingerprint {
    /// The fingerprint of `config`'s decision-relevant sections.
    pub fn of(config: &GatewayConfig) -> Fingerprint {
        let risk = &config.risk;
        let x = &config.exchange;
        let logins: Vec<_> = config
            .logins
            .iter()
            .map(|l| (&l.username, &l.accounts, l.cancel_on_disconnect, l.throttle_queue_us))
            .collect();
        let texts = [
            format!("{:?} {:?}", risk.limits, risk.capacity),
            format!("{:?}", risk.fees),
            format!("{:?}", risk.accounts),
            format!("{:?}", risk.instruments),
            format!(
                "{:?} {} {} {} {}",
                x.schedule,
                x.max_orders,
                x.max_levels_per_side,
                x.inbound_queue_capacity,
                x.self_trade_prevention
            ),
            format!("{logins:?}"),
        ];
        let mut sections = [0u64; SLOTS];
        for (slot, text) in sections.iter_mut().zip(&texts) {
            *slot = fnv1a(text);
        }
        Fingerprint { sections }
    }

    /// Its header bytes (little-endian).
    pub fn to_bytes(&self) -> [u8; FINGERPRINT_LEN] {
        let mut out = [0u8; FINGERPRINT_LEN];
        for (chunk, h) in out.chunks_exact_mut(8).zip(&self.sections) {
            chunk.copy_from_slice(&h.to_le_bytes());
        }
        out
    }

    /// Reads it back from header bytes.
    pub fn from_bytes(bytes: &[u8; FINGERPRINT_LEN]) -> Fingerprint {
        let mut sections = [0u64; SLOTS];
        for (h, chunk) in sections.iter_mut().zip(bytes.chunks_exact(8)) {
            *h = u64::from_le_bytes(chunk.try_into().unwrap_or([0; 8]));
        }
        Fingerprint { sections }
    }

    /// The sections that differ from `other`, joined for a message ("" when none).
    pub fn changed_sections(&self, other: &Fingerprint) -> String {
        let mut names: Vec<&str> = SECTIONS
            .iter()
            .zip(self.sections.iter().zip(&other.sections))
            .filter(|(_, (a, b))| a != b)
            .map(|(name, _)| *name)
            .collect();
        if self.sections[SECTIONS.len()..] != other.sections[SECTIONS.len()..] {
            names.push("a section this version does not know");
        }
        names.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::DEMO_TOML;

    fn fingerprint(text: &str) -> Fingerprint {
        Fingerprint::of(&GatewayConfig::from_toml_str(text, "t.toml").unwrap())
    }

    #[test]
    fn decision_settings_change_it_and_others_do_not() {
        let demo = fingerprint(DEMO_TOML);
        assert_eq!(Fingerprint::from_bytes(&demo.to_bytes()), demo);
        let changed = |from: &str, to: &str| {
            let text = DEMO_TOML.replacen(from, to, 1);
            assert_ne!(text, DEMO_TOML, "{from}");
            demo.changed_sections(&fingerprint(&text))
        };
        assert_eq!(changed("duplicate_window_ms = 100", "duplicate_window_ms = 200"), "[limits]");
        assert_eq!(changed("commission_cbp = 250", "commission_cbp = 260"), "[fees]");
        assert_eq!(
            changed("prev_close = \"1498.00\"", "prev_close = \"1500.00\""),
            "[[instruments]]"
        );
        assert_eq!(changed("max_orders = 1048576", "max_orders = 1048575"), "[exchange]");
        assert_eq!(
            changed("self_trade_prevention = false", "self_trade_prevention = true"),
            "[exchange]"
        );
        assert_eq!(changed("cash = \"500000\"", "cash = \"600000\""), "[[accounts]]");
        assert_eq!(
            changed("accounts = [\"A001\", \"A002\"]", "accounts = [\"A001\"]"),
            "[[logins]]"
        );
        // Moving bytes, not decisions: the same fingerprint.
        for (from, to) in [
            ("listen = [\"127.0.0.1:9100\"]", "listen = [\"127.0.0.1:9200\"]"),
            ("heartbeat_ms = 1000", "heartbeat_ms = 2000"),
            ("topology = \"auto\"", "topology = \"fused\""),
            ("log_messages_per_login = 524288", "log_messages_per_login = 262144"),
            ("token = \"demo-admin-token\"", "token = \"another-admin-token\""),
            ("token = \"trader1-secret\"", "token = \"trader1-rotated\""),
            ("durability = \"none\"", "durability = \"sync\""),
            ("# Breakwater demo", "# A comment changed; Breakwater demo"),
        ] {
            assert_eq!(changed(from, to), "", "{from} -> {to}");
        }
    }
}
