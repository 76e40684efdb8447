//! The modules under `src/` form a ladder (README, "Layout"): a module may
//! import its own rung and the rungs below it, never one above. These tests
//! read the sources, so a wrong arrow fails here before it tangles anything.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Rungs from the bottom. A module belongs to the longest entry that is a
/// prefix of its path; every file must belong somewhere.
const LADDER: &[(&str, &[&str])] = &[
    (
        "foundation",
        &[
            "error",
            "clock",
            "duration",
            "config",
            "schema",
            "input",
            "pagination",
            "metrics",
            "geoip",
            "random",
        ],
    ),
    ("database", &["db"]),
    (
        "models",
        &[
            "auth",
            "auth::model",
            "auth::eddsa",
            "auth::keys",
            "auth::password",
            "members",
            "members::model",
            "sanctions",
            "sanctions::model",
            "sanctions::request",
            "factors",
            "factors::ceremony",
            "factors::model",
            "karma",
            "karma::model",
            "cases",
            "cases::model",
            "staff",
            "staff::model",
            "tokens",
            "tokens::model",
            "integration",
            "integration::webhooks",
            "events::model",
            "integration::model",
            "integration::webhooks::model",
            "import",
            "import::accounts",
            "import::dump",
            "import::history",
            "import::model",
            "import::report",
        ],
    ),
    (
        "stores",
        &[
            "audit",
            "events",
            "rate_limit",
            "mail",
            "auth::store",
            "members::store",
            "members::directory",
            "members::records",
            "sanctions::store",
            "sanctions::standing",
            "sanctions::writer",
            "factors::store",
            "karma::store",
            "karma::writer",
            "cases::store",
            "cases::writer",
            "staff::store",
            "tokens::store",
            "integration::store",
            "integration::webhooks::store",
            "import::staging",
            "import::store",
        ],
    ),
    ("cache", &["cache", "members::broad_searches"]),
    ("state", &["state"]),
    (
        "services and access policy",
        &[
            "auth::admission",
            "auth::policy",
            "auth::service",
            "members::service",
            "members::account",
            "members::profiles",
            "sanctions::service",
            "factors::service",
            "factors::second_step",
            "factors::passkeys",
            "karma::service",
            "cases::service",
            "staff::service",
            "tokens::service",
            "integration::service",
            "integration::webhooks::service",
            "import::service",
        ],
    ),
    (
        "HTTP",
        &[
            "http",
            "client_ip",
            "telemetry",
            "health",
            "openapi",
            "auth::extract",
            "auth::routes",
            "members::routes",
            "sanctions::routes",
            "factors::routes",
            "karma::routes",
            "cases::routes",
            "staff::routes",
            "tokens::routes",
            "integration::routes",
            "integration::webhooks::routes",
        ],
    ),
    ("composition root", &["app"]),
];

fn rung_of(module: &[String]) -> Option<(usize, usize)> {
    let path = module.join("::");
    LADDER
        .iter()
        .enumerate()
        .flat_map(|(rung, (_, prefixes))| prefixes.iter().map(move |prefix| (rung, *prefix)))
        .filter(|(_, prefix)| path == *prefix || path.starts_with(&format!("{prefix}::")))
        .map(|(rung, prefix)| (rung, prefix.matches("::").count()))
        .max_by_key(|(_, depth)| *depth)
}

struct Source {
    file: PathBuf,
    /// The module the file defines, from the crate root.
    module: Vec<String>,
    text: String,
}

fn sources() -> Vec<Source> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    let mut pending = vec![root.clone()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
        .into_iter()
        .filter(|file| !file.ends_with("main.rs") && !file.ends_with("lib.rs"))
        .map(|file| {
            let relative = file.strip_prefix(&root).unwrap().with_extension("");
            let mut module: Vec<String> = relative.iter().map(|p| p.to_string_lossy().into_owned()).collect();
            if module.last().is_some_and(|last| last == "mod") {
                module.pop();
            }
            let text = std::fs::read_to_string(&file).unwrap();
            Source { file, module, text }
        })
        .collect()
}

/// Every module path named by `crate::…` or `super::…` in code (comments
/// left out), with `use` groups expanded.
fn imports(source: &Source) -> BTreeSet<Vec<String>> {
    // Unit tests may reach anywhere; `super` inside them is the file itself.
    let text = match source.text.find("\n#[cfg(test)]\nmod ") {
        Some(at) => &source.text[..at],
        None => &source.text,
    };
    let code: String = text
        .lines()
        .map(|line| match line.find("//") {
            Some(at) => &line[..at],
            None => line,
        })
        .collect::<Vec<_>>()
        .join("\n");
    let tokens = tokenize(&code);
    let mut found = BTreeSet::new();
    let mut i = 0;
    while i < tokens.len() {
        let start = tokens[i].as_str();
        let preceded_by_path = i > 0 && tokens[i - 1] == "::";
        if (start == "crate" || start == "super") && !preceded_by_path {
            let mut base: Vec<String> = Vec::new();
            let mut j = i;
            // `super::super::x` climbs once per `super`; a file's own module
            // is its last segment, so the first `super` is its parent.
            let mut module = source.module.clone();
            if start == "crate" {
                module.clear();
                j += 1;
            } else {
                while j < tokens.len() && tokens[j] == "super" {
                    module.pop();
                    j += 1;
                    if tokens.get(j).is_some_and(|t| t == "::") && tokens.get(j + 1).is_some_and(|t| t == "super") {
                        j += 1;
                    }
                }
            }
            base.extend(module);
            j = use_tree(&tokens, j, base, &mut found);
            i = j.max(i + 1);
        } else {
            i += 1;
        }
    }
    found
}

fn tokenize(code: &str) -> Vec<String> {
    let mut tokens = Vec::new();
    let mut chars = code.chars().peekable();
    while let Some(c) = chars.next() {
        if c.is_alphanumeric() || c == '_' {
            let mut word = c.to_string();
            while let Some(&next) = chars.peek() {
                if next.is_alphanumeric() || next == '_' {
                    word.push(next);
                    chars.next();
                } else {
                    break;
                }
            }
            tokens.push(word);
        } else if c == ':' && chars.peek() == Some(&':') {
            chars.next();
            tokens.push("::".into());
        } else if c == '"' {
            // Strings may hold anything, paths included.
            let mut escaped = false;
            for next in chars.by_ref() {
                if escaped {
                    escaped = false;
                } else if next == '\\' {
                    escaped = true;
                } else if next == '"' {
                    break;
                }
            }
        } else if !c.is_whitespace() {
            tokens.push(c.to_string());
        }
    }
    tokens
}

/// Reads `::a::b::{c, d::e}` from `at`, recording each full path.
fn use_tree(tokens: &[String], mut at: usize, mut path: Vec<String>, found: &mut BTreeSet<Vec<String>>) -> usize {
    loop {
        if tokens.get(at).is_some_and(|t| t == "::") {
            at += 1;
        }
        match tokens.get(at).map(String::as_str) {
            Some("{") => {
                at += 1;
                loop {
                    match tokens.get(at).map(String::as_str) {
                        Some("}") => return at + 1,
                        Some(",") => at += 1,
                        Some(_) => at = use_tree(tokens, at, path.clone(), found),
                        None => return at,
                    }
                }
            }
            Some(word) if word.chars().all(|c| c.is_alphanumeric() || c == '_') && word != "as" => {
                if word != "self" {
                    path.push(word.to_string());
                }
                at += 1;
                if tokens.get(at).is_some_and(|t| t == "::") {
                    continue;
                }
                found.insert(path);
                // `x as y`: skip the alias.
                if tokens.get(at).is_some_and(|t| t == "as") {
                    at += 2;
                }
                return at;
            }
            _ => {
                found.insert(path);
                return at;
            }
        }
    }
}

#[test]
fn nothing_under_src_but_main_imports_the_composition_root() {
    let offenders: Vec<String> = sources()
        .iter()
        .filter(|source| source.module != ["app"])
        .filter(|source| {
            imports(source)
                .iter()
                .any(|path| path.first().is_some_and(|m| m == "app"))
        })
        .map(|source| source.file.display().to_string())
        .collect();
    assert!(offenders.is_empty(), "these import crate::app: {offenders:#?}");
}

#[test]
fn no_module_imports_a_rung_above_its_own() {
    let mut unplaced = Vec::new();
    let mut upward = Vec::new();
    for source in sources() {
        let Some((rung, _)) = rung_of(&source.module) else {
            unplaced.push(source.module.join("::"));
            continue;
        };
        for path in imports(&source) {
            if let Some((target, _)) = rung_of(&path)
                && target > rung
            {
                upward.push(format!(
                    "{} ({}) imports {} ({})",
                    source.module.join("::"),
                    LADDER[rung].0,
                    path.join("::"),
                    LADDER[target].0
                ));
            }
        }
    }
    assert!(unplaced.is_empty(), "modules with no rung in the ladder: {unplaced:#?}");
    upward.sort();
    upward.dedup();
    assert!(
        upward.is_empty(),
        "{} upward imports:\n{}",
        upward.len(),
        upward.join("\n")
    );
}

#[test]
fn the_import_reader_sees_groups_aliases_and_super() {
    let source = Source {
        file: PathBuf::from("src/members/routes.rs"),
        module: vec!["members".into(), "routes".into()],
        text: "use crate::{app::AppState, auth::{extract::Caller as C, self}};\n\
               use super::store;\n\
               // use crate::commented::out;\n\
               fn f() { crate::cache::member(x); let s = \"crate::in_a_string\"; }\n"
            .into(),
    };
    let found: Vec<String> = imports(&source).into_iter().map(|p| p.join("::")).collect();
    assert_eq!(
        found,
        [
            "app::AppState",
            "auth",
            "auth::extract::Caller",
            "cache::member",
            "members::store"
        ]
    );
}

#[test]
fn handlers_share_wire_types_through_http_not_through_each_other() {
    let is_routes = |path: &[String]| path.iter().any(|segment| segment == "routes");
    let mut crossing = Vec::new();
    for source in sources().iter().filter(|source| is_routes(&source.module)) {
        for path in imports(source) {
            let configures = path.last().is_some_and(|last| last.starts_with("configure"));
            // A domain's routes may be split in files that share its types.
            if is_routes(&path) && !configures && path.first() != source.module.first() {
                crossing.push(format!("{} imports {}", source.module.join("::"), path.join("::")));
            }
        }
    }
    assert!(crossing.is_empty(), "routes importing routes: {crossing:#?}");
}

#[test]
fn no_source_file_holds_more_than_one_responsibility_s_worth_of_lines() {
    let long: Vec<String> = sources()
        .iter()
        .filter(|source| source.text.lines().count() > 500)
        .map(|source| format!("{} ({} lines)", source.file.display(), source.text.lines().count()))
        .collect();
    assert!(long.is_empty(), "split these by responsibility: {long:#?}");
}
