//! Nothing from the network panics the session: random bytes, and random
//! mutations of valid messages, fed in random chunks.

mod util;

use proptest::prelude::*;
use util::*;

fn session_messages(h: &Harness) -> Vec<Vec<u8>> {
    let mut msgs = vec![h.msg_seq("A", 1, "98=0|108=30|553=alice|554=s3cret")];
    msgs.push(h.msg_seq("D", 2, &new_order_fields(1)));
    msgs.push(h.msg_seq("1", 3, "112=x"));
    msgs.push(h.msg_seq("2", 4, "7=1|16=0"));
    msgs.push(h.msg_seq("4", 5, "123=Y|36=7"));
    msgs.push(h.msg_seq(
        "F",
        7,
        &format!("11=2|41=1|1=A001|55=600519|207=XSHG|54=1|60={}", ts(T0)),
    ));
    msgs
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic_the_session(chunks in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..300), 0..8)) {
        let mut h = Harness::new(config());
        h.logon();
        for chunk in chunks {
            h.session.on_bytes(&chunk, h.now_ns, &mut h.actions);
            let n = h.session.outbound().len();
            h.session.consume_outbound(n);
        }
    }

    #[test]
    fn mutated_messages_never_panic_the_session(
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
        split_at in any::<prop::sample::Index>(),
    ) {
        let mut h = Harness::new(config());
        let mut bytes = session_messages(&h).concat();
        for (at, byte) in edits {
            let i = at.index(bytes.len());
            bytes[i] = byte;
        }
        let cut = split_at.index(bytes.len());
        for part in [&bytes[..cut], &bytes[cut..]] {
            h.session.on_bytes(part, h.now_ns, &mut h.actions);
            h.session.on_tick(h.now_ns + 40 * SEC, &mut h.actions);
            // Whatever the session sent is well formed.
            split(h.session.outbound());
            let n = h.session.outbound().len();
            h.session.consume_outbound(n);
        }
    }
}
