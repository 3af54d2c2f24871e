//! The mechanical rules of the code base, checked over every Rust file in the
//! workspace so reviews can talk about design (TigerBeetle's `tidy.zig`):
//!
//! * every `unsafe` block or impl has a `// SAFETY:` comment just above it;
//! * no `todo!`, `unimplemented!` or `dbg!`;
//! * no file over 800 lines, except those allowed below, each with its reason;
//! * no cycle among a crate's top-level modules in its `crate::` paths.
//!
//! Generated files (an `@generated` first line) are exempt. This file reads the
//! sources; the testkit library itself stays pure.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The most lines a file may have unless it is listed in [`BIG_FILES`].
const MAX_LINES: usize = 800;

/// Files allowed past [`MAX_LINES`], each with why it is one file today. Shrink
/// this list; never grow it without a reason a reviewer accepts.
const BIG_FILES: &[(&str, &str)] = &[
    ("gateway/src/config.rs", "every section's schema, defaults and bounds, with their tests"),
    ("order-engine/src/engine.rs", "the deterministic engine's input handlers, one per message"),
    ("protocol/src/codec.rs", "every message's fixed layout and its round-trip tests"),
    ("protocol/tests/doc_contract.rs", "one check per table of docs/protocol.md"),
    ("loadtest/src/driver.rs", "the open-loop driver and its reconciliation"),
    ("loadtest/src/tracker.rs", "per-order state tracking with its invariant checks"),
    ("loadtest/src/scenario.rs", "scenario schema, validation and the crash-day presets"),
    ("fix/src/session.rs", "the FIX session state machine and its resend logic"),
    ("sim-exchange/src/book.rs", "the fast order book; its slow twin is reference.rs"),
    ("sim-exchange/src/exchange.rs", "the venue: phases, auctions and order types over the books"),
    ("risk-check/src/config.rs", "the risk configuration schema with its validation"),
    ("risk-check/src/checks.rs", "one pre-trade check per function, in documented order"),
    ("risk-check/tests/checks.rs", "one test per documented check and reject code"),
];

/// The workspace root (testkit's parent).
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("testkit sits in the workspace").into()
}

/// Every `.rs` file under the workspace, outside build output.
fn rust_files() -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else { return };
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name();
            if path.is_dir() {
                if name != "target" && !name.to_string_lossy().starts_with('.') {
                    walk(&path, out);
                }
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    let mut files = Vec::new();
    walk(&root(), &mut files);
    files.sort();
    files
}

struct Source {
    /// Relative to the workspace root, with `/`.
    path: String,
    text: String,
}

fn sources() -> Vec<Source> {
    let root = root();
    let this = Path::new(file!()).file_name().expect("a file name");
    rust_files()
        .into_iter()
        .filter(|p| p.file_name() != Some(this))
        .map(|p| {
            let text = std::fs::read_to_string(&p).expect("sources are UTF-8");
            let path = p.strip_prefix(&root).expect("under the root").to_string_lossy().into();
            Source { path, text }
        })
        .filter(|s| !s.text.lines().next().is_some_and(|l| l.contains("@generated")))
        .collect()
}

/// The code of a line: what precedes a `//` comment (string contents that hold
/// `//` are rare enough here to be worth the simplicity).
fn code(line: &str) -> &str {
    let t = line.trim_start();
    if t.starts_with("//") { "" } else { t.split("//").next().unwrap_or("") }
}

/// Lines with an `unsafe` block or impl and no `// SAFETY:` in the comment lines
/// right above it (or on the line itself).
fn unsafe_without_safety(text: &str) -> Vec<usize> {
    let lines: Vec<&str> = text.lines().collect();
    let mut bad = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let c = code(line);
        let is_unsafe = c.contains("unsafe {") || c.contains("unsafe impl");
        if !is_unsafe || line.contains("SAFETY:") {
            continue;
        }
        let above = lines[..i].iter().rev().take_while(|l| {
            let t = l.trim_start();
            t.starts_with("//") || t.starts_with("#[")
        });
        if !above.into_iter().any(|l| l.contains("SAFETY:")) {
            bad.push(i + 1);
        }
    }
    bad
}

#[test]
fn every_unsafe_has_a_safety_comment() {
    let mut bad = Vec::new();
    for s in sources() {
        bad.extend(unsafe_without_safety(&s.text).into_iter().map(|l| format!("{}:{l}", s.path)));
    }
    assert!(bad.is_empty(), "unsafe without a `// SAFETY:` comment just above:\n{bad:#?}");
}

/// `name!(` in code, as whole macro names.
fn macro_calls(text: &str, name: &str) -> Vec<usize> {
    let call = format!("{name}!(");
    text.lines()
        .enumerate()
        .filter(|(_, l)| {
            let c = code(l);
            c.match_indices(&call)
                .any(|(at, _)| !c[..at].ends_with(|ch: char| ch.is_alphanumeric() || ch == '_'))
        })
        .map(|(i, _)| i + 1)
        .collect()
}

#[test]
fn no_placeholders_or_debug_prints() {
    let mut bad = Vec::new();
    for s in sources() {
        for name in ["todo", "unimplemented", "dbg"] {
            for l in macro_calls(&s.text, name) {
                bad.push(format!("{}:{l}: {name}!", s.path));
            }
        }
    }
    assert!(bad.is_empty(), "{bad:#?}");
}

#[test]
fn files_stay_short_unless_allowed_with_a_reason() {
    let allowed: BTreeMap<&str, &str> = BIG_FILES.iter().copied().collect();
    let mut bad = Vec::new();
    let mut seen = BTreeSet::new();
    for s in sources() {
        let n = s.text.lines().count();
        if n <= MAX_LINES {
            continue;
        }
        seen.insert(s.path.clone());
        if !allowed.contains_key(s.path.as_str()) {
            bad.push(format!(
                "{}: {n} lines (at most {MAX_LINES}, or list it with a reason)",
                s.path
            ));
        }
    }
    for (path, reason) in BIG_FILES {
        assert!(!reason.trim().is_empty(), "{path}: the allowlist needs a reason");
        if !seen.contains(*path) {
            bad.push(format!("{path}: listed as big but is not (remove it from BIG_FILES)"));
        }
    }
    assert!(bad.is_empty(), "{bad:#?}");
}

/// The top-level modules that `text` names through `crate::` paths, outside its
/// unit tests (a test may reach up the graph; the code under test may not).
fn crate_references(text: &str) -> BTreeSet<String> {
    let text = text.split("#[cfg(test)]\nmod tests").next().unwrap_or(text);
    let mut out = BTreeSet::new();
    let ident = |s: &str| -> String {
        s.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect()
    };
    let stripped: Vec<&str> = text.lines().map(code).collect();
    let c = stripped.join("\n");
    {
        for (at, _) in c.match_indices("crate::") {
            if c[..at].ends_with(|ch: char| ch.is_alphanumeric() || ch == '_') {
                continue; // `some_crate::`, not `crate::`
            }
            let rest = c[at + "crate::".len()..].trim_start();
            if let Some(group) = rest.strip_prefix('{') {
                // `crate::{a::X, b}`: the first name of each item at depth 0.
                let mut depth = 0;
                let mut start = true;
                for (i, ch) in group.char_indices() {
                    match ch {
                        '{' => depth += 1,
                        '}' if depth == 0 => break,
                        '}' => depth -= 1,
                        ',' if depth == 0 => start = true,
                        ch if start && (ch.is_alphanumeric() || ch == '_') => {
                            out.insert(ident(&group[i..]));
                            start = false;
                        }
                        ch if ch.is_whitespace() => {}
                        _ => start = false,
                    }
                }
            } else {
                let name = ident(rest);
                if !name.is_empty() {
                    out.insert(name);
                }
            }
        }
    }
    out
}

/// A crate's module graph: top-level module → the top-level modules it uses.
fn module_graph(crate_src: &Path, sources: &[Source]) -> BTreeMap<String, BTreeSet<String>> {
    let root = root();
    let src = crate_src.strip_prefix(&root).expect("under the root").to_string_lossy().to_string();
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for s in sources.iter().filter(|s| s.path.starts_with(&format!("{src}/"))) {
        let rel = &s.path[src.len() + 1..];
        let first = rel.split('/').next().unwrap_or(rel);
        let module = first.trim_end_matches(".rs").to_string();
        if matches!(module.as_str(), "lib" | "main" | "bin") {
            continue;
        }
        let uses = crate_references(&s.text);
        let entry = graph.entry(module.clone()).or_default();
        entry.extend(uses.into_iter().filter(|u| *u != module));
    }
    let modules: BTreeSet<String> = graph.keys().cloned().collect();
    for deps in graph.values_mut() {
        deps.retain(|d| modules.contains(d));
    }
    graph
}

/// One cycle in `graph`, if any, as the path that closes it.
fn find_cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        done: &mut BTreeSet<String>,
        path: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|p| p == node) {
            let mut cycle = path[at..].to_vec();
            cycle.push(node.to_string());
            return Some(cycle);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_string());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(c) = visit(next, graph, done, path) {
                return Some(c);
            }
        }
        path.pop();
        done.insert(node.to_string());
        None
    }
    let mut done = BTreeSet::new();
    graph.keys().find_map(|n| visit(n, graph, &mut done, &mut Vec::new()))
}

#[test]
fn no_crate_has_a_module_cycle() {
    let sources = sources();
    let mut crates: Vec<PathBuf> = std::fs::read_dir(root())
        .expect("the workspace root")
        .flatten()
        .map(|e| e.path().join("src"))
        .filter(|p| p.is_dir())
        .collect();
    crates.sort();
    assert!(crates.len() >= 8, "found the crates: {crates:?}");
    let mut bad = Vec::new();
    for src in crates {
        if let Some(cycle) = find_cycle(&module_graph(&src, &sources)) {
            bad.push(format!("{}: {}", src.display(), cycle.join(" -> ")));
        }
    }
    assert!(bad.is_empty(), "module cycles (hand one side what it needs instead):\n{bad:#?}");
}

/// The checks themselves catch what they are for.
#[test]
fn the_checks_catch_their_cases() {
    let unchecked = "fn f() {\n    let x = unsafe { g() };\n}\n";
    assert_eq!(unsafe_without_safety(unchecked), [2]);
    let checked = "// SAFETY: g has no preconditions.\nunsafe impl Send for X {}\n";
    assert!(unsafe_without_safety(checked).is_empty());
    let comment_only = "// an unsafe { block } in prose\n";
    assert!(unsafe_without_safety(comment_only).is_empty());
    let placeholder = format!("fn f() {{ {}!() }}\n", "todo");
    assert_eq!(macro_calls(&placeholder, "todo"), [1]);
    // Built, like the case above, so that this file holds no such call itself.
    let other_macro = format!("fn f() {{ my_{}!() }}\n", "todo");
    assert!(macro_calls(&other_macro, "todo").is_empty());
    let text = "use crate::{a::X, b, c::{d, e}};\nuse crate::{\n    g,\n    h::I,\n};\nlet y = crate::f::g();\n";
    let uses = crate_references(text);
    assert_eq!(uses.into_iter().collect::<Vec<_>>(), ["a", "b", "c", "f", "g", "h"]);
    let with_tests = "use crate::a;\n#[cfg(test)]\nmod tests {\n    use crate::b;\n}\n";
    assert_eq!(crate_references(with_tests).into_iter().collect::<Vec<_>>(), ["a"]);
    let graph: BTreeMap<String, BTreeSet<String>> =
        [("a".to_string(), ["b".to_string()].into()), ("b".to_string(), ["a".to_string()].into())]
            .into();
    assert_eq!(find_cycle(&graph), Some(vec!["a".into(), "b".into(), "a".into()]));
    let graph: BTreeMap<String, BTreeSet<String>> =
        [("a".to_string(), ["b".to_string()].into()), ("b".to_string(), BTreeSet::new())].into();
    assert_eq!(find_cycle(&graph), None);
}
