//! The crate's stages use the ones below them, never the ones that call
//! them: this test reads every file's `crate::a::…` paths (and
//! `super::super::a` from inside a folder), outside `#[cfg(test)] mod
//! tests`, into a graph of the top-level modules, and fails on any cycle,
//! naming its modules. (The same rule as `modgraph.py` in the project's
//! tooling, in the test suite so that CI holds it.)

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The top-level modules: the files and folders under `src/`.
fn modules(src: &Path) -> BTreeSet<String> {
    std::fs::read_dir(src)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter_map(|path| {
            let name = path.file_name()?.to_str()?.to_owned();
            if path.is_dir() {
                Some(name)
            } else {
                name.strip_suffix(".rs")
                    .filter(|module| *module != "lib")
                    .map(str::to_owned)
            }
        })
        .collect()
}

/// Every `.rs` file under `dir`.
fn files(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut dirs = vec![dir.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|extension| extension == "rs") {
                found.push(path);
            }
        }
    }
    found
}

/// The identifiers that follow `prefix` in `text`, and, for `prefix{`,
/// each first segment inside the braces.
fn names_after(text: &str, prefix: &str) -> BTreeSet<String> {
    let ident = |rest: &str| {
        rest.chars()
            .take_while(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_')
            .collect::<String>()
    };
    let mut names = BTreeSet::new();
    for (index, _) in text.match_indices(prefix) {
        let before = text[..index].chars().next_back();
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue;
        }
        let rest = &text[index + prefix.len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let group = &group[..group.find('}').unwrap_or(group.len())];
            names.extend(group.split(',').map(|item| ident(item.trim())));
        } else {
            names.insert(ident(rest));
        }
    }
    names.retain(|name| !name.is_empty());
    names
}

/// Which top-level module uses which, from production code.
fn graph(src: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let modules = modules(src);
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for path in files(src) {
        let relative = path.strip_prefix(src).unwrap();
        let mut parts = relative.iter().map(|part| part.to_str().unwrap());
        let first = parts.next().unwrap();
        let nested = relative.components().count() > 1;
        if !nested && (first == "lib.rs" || first == "layering.rs") {
            continue;
        }
        let me = first.strip_suffix(".rs").unwrap_or(first).to_owned();
        let text = std::fs::read_to_string(&path).unwrap();
        let text = text.split("#[cfg(test)]\nmod tests").next().unwrap();
        let code: String = text
            .lines()
            .map(|line| line.split("//").next().unwrap())
            .collect::<Vec<_>>()
            .join("\n");
        let mut used = names_after(&code, "crate::");
        if nested {
            used.extend(names_after(&code, "super::super::"));
        }
        for name in used {
            if name != me && modules.contains(&name) {
                edges.entry(me.clone()).or_default().insert(name);
            }
        }
    }
    edges
}

/// The strongly connected components of more than one module (Tarjan).
fn cycles(edges: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    struct Walk<'a> {
        edges: &'a BTreeMap<String, BTreeSet<String>>,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        found: Vec<Vec<String>>,
    }
    impl<'a> Walk<'a> {
        fn visit(&mut self, module: &'a str) {
            let order = self.index.len();
            self.index.insert(module, order);
            self.low.insert(module, order);
            self.stack.push(module);
            for next in self.edges.get(module).into_iter().flatten() {
                if !self.index.contains_key(next.as_str()) {
                    self.visit(next);
                    let low = self.low[module].min(self.low[next.as_str()]);
                    self.low.insert(module, low);
                } else if self.stack.contains(&next.as_str()) {
                    let low = self.low[module].min(self.index[next.as_str()]);
                    self.low.insert(module, low);
                }
            }
            if self.low[module] == self.index[module] {
                let mut component = Vec::new();
                while let Some(top) = self.stack.pop() {
                    component.push(top.to_owned());
                    if top == module {
                        break;
                    }
                }
                if component.len() > 1 {
                    component.sort();
                    self.found.push(component);
                }
            }
        }
    }
    let mut walk = Walk {
        edges,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        found: Vec::new(),
    };
    for module in edges.keys() {
        if !walk.index.contains_key(module.as_str()) {
            walk.visit(module);
        }
    }
    walk.found
}

#[test]
fn the_module_graph_has_no_cycle() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let edges = graph(&src);
    assert!(
        edges
            .get("shutdown")
            .is_some_and(|used| used.contains("process")),
        "the scan found no edge shutdown -> process: {edges:?}"
    );
    let found = cycles(&edges);
    assert!(
        found.is_empty(),
        "module cycles in graceful-rt/src: {}",
        found
            .iter()
            .map(|cycle| cycle.join(" <-> "))
            .collect::<Vec<_>>()
            .join("; ")
    );
}

#[test]
fn a_cycle_is_found() {
    let edges = BTreeMap::from([
        ("a".to_owned(), BTreeSet::from(["b".to_owned()])),
        ("b".to_owned(), BTreeSet::from(["c".to_owned()])),
        ("c".to_owned(), BTreeSet::from(["a".to_owned()])),
        ("d".to_owned(), BTreeSet::from(["a".to_owned()])),
    ]);
    assert_eq!(cycles(&edges), vec![vec!["a", "b", "c"]]);
    assert_eq!(
        names_after(
            "use crate::{exit, shutdown::Shutdown}; crate::log::info!",
            "crate::"
        ),
        BTreeSet::from(["exit".to_owned(), "log".to_owned(), "shutdown".to_owned()])
    );
}
