//! Keeps every crate of the workspace readable top-down: no top-level module may import a
//! sibling that imports it back, directly or through a loop of siblings.
//!
//! The check is textual, on purpose (no compiler plumbing, no dependencies): in each file of a
//! top-level module it finds the paths that name another top-level module of the same crate
//! (`crate::x`, `crate::{x, y::z}`, and `super::x` climbing to the crate root), with comments,
//! string and character literals and `#[cfg(test)]` items left out, because doc links and test
//! helpers do not make one module depend on another. The crate root (`lib.rs` / `main.rs`) is
//! the table of contents and is not a node. Cycles are the strongly connected components of the
//! resulting graph with more than one module.
//!
//! `tests/workspace.rs` runs it over every workspace member.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

/// Which top-level modules each top-level module of one crate uses.
pub type ModuleGraph = BTreeMap<String, BTreeSet<String>>;

/// Builds the graph of the crate whose sources are in `src_dir`.
pub fn module_graph(src_dir: &Path) -> io::Result<ModuleGraph> {
    let modules = top_level_modules(src_dir)?;
    let mut graph = ModuleGraph::new();
    for (name, files) in &modules {
        let mut uses = BTreeSet::new();
        for (file, depth) in files {
            let text = fs::read_to_string(file)?;
            for target in referenced_modules(&text, *depth) {
                if target != *name && modules.contains_key(&target) {
                    uses.insert(target);
                }
            }
        }
        graph.insert(name.clone(), uses);
    }
    Ok(graph)
}

/// The groups of modules that import each other (each sorted, the list sorted), empty when the
/// crate reads top-down.
pub fn cycles(graph: &ModuleGraph) -> Vec<Vec<String>> {
    let mut tarjan = Tarjan {
        graph,
        next_index: 0,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        found: Vec::new(),
    };
    for node in graph.keys() {
        if !tarjan.index.contains_key(node.as_str()) {
            tarjan.visit(node);
        }
    }
    let mut found = tarjan.found;
    for group in &mut found {
        group.sort();
    }
    found.sort();
    found
}

/// The module names `path`s in `text` refer to, for a file `depth` levels below the crate
/// root (1 for `src/a.rs` and `src/a/mod.rs`, 2 for `src/a/b.rs`, ...).
pub fn referenced_modules(text: &str, depth: usize) -> BTreeSet<String> {
    let code = without_test_items(&strip_comments_and_literals(text));
    let tokens = tokenize(&code);
    let mut found = BTreeSet::new();
    let mut i = 0;
    while i < tokens.len() {
        // Only the start of a path counts: `a::crate` is not a thing, but `x::super` would be.
        let starts_path = i == 0 || tokens[i - 1] != "::";
        let root_end = if starts_path && tokens[i] == "crate" {
            Some(i + 1)
        } else if starts_path && tokens[i] == "super" {
            let mut j = i;
            let mut climbs = 0;
            while tokens.get(j).map(String::as_str) == Some("super") {
                climbs += 1;
                j += 1;
                if tokens.get(j).map(String::as_str) == Some("::") {
                    j += 1;
                } else {
                    break;
                }
            }
            // `super` chains that stop short of the root stay inside the module.
            (climbs == depth).then(|| j.saturating_sub(1))
        } else {
            None
        };
        if let Some(end) = root_end {
            if tokens.get(end).map(String::as_str) == Some("::") {
                collect_path_heads(&tokens, end + 1, &mut found);
            }
        }
        i += 1;
    }
    found
}

/// After `crate::`: either one name or a `{a, b::c, ...}` group whose items' first names count.
fn collect_path_heads(tokens: &[String], at: usize, found: &mut BTreeSet<String>) {
    match tokens.get(at).map(String::as_str) {
        Some("{") => {
            let mut depth = 0;
            let mut expect_head = true;
            for token in &tokens[at..] {
                match token.as_str() {
                    "{" => {
                        depth += 1;
                        expect_head = depth == 1;
                    }
                    "}" => {
                        depth -= 1;
                        if depth == 0 {
                            break;
                        }
                    }
                    "," => expect_head = depth == 1,
                    name if expect_head && is_ident(name) => {
                        if name != "self" {
                            found.insert(name.to_owned());
                        }
                        expect_head = false;
                    }
                    _ => expect_head = false,
                }
            }
        }
        Some(name) if is_ident(name) => {
            found.insert(name.to_owned());
        }
        _ => {}
    }
}

fn is_ident(token: &str) -> bool {
    token
        .chars()
        .next()
        .is_some_and(|c| c.is_alphabetic() || c == '_')
}

/// Identifiers, `::` and single punctuation characters.
fn tokenize(code: &str) -> Vec<String> {
    let chars: Vec<char> = code.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_alphanumeric() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            tokens.push(chars[start..i].iter().collect());
        } else if c == ':' && chars.get(i + 1) == Some(&':') {
            tokens.push("::".to_owned());
            i += 2;
        } else {
            if !c.is_whitespace() {
                tokens.push(c.to_string());
            }
            i += 1;
        }
    }
    tokens
}

/// Replaces comments with a space and empties string and character literals (raw strings
/// included), keeping everything else, so braces and paths inside them do not count.
fn strip_comments_and_literals(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let mut depth = 0;
            while i < chars.len() {
                if chars[i] == '/' && chars.get(i + 1) == Some(&'*') {
                    depth += 1;
                    i += 2;
                } else if chars[i] == '*' && chars.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
            out.push(' ');
        } else if c == 'r' && (next == Some('"') || next == Some('#')) && !ident_before(&chars, i) {
            // Raw string: r"..." or r#"..."#.
            let mut j = i + 1;
            let mut hashes = 0;
            while chars.get(j) == Some(&'#') {
                hashes += 1;
                j += 1;
            }
            if chars.get(j) != Some(&'"') {
                out.push(c);
                i += 1;
                continue;
            }
            j += 1;
            loop {
                match chars.get(j) {
                    None => break,
                    Some('"') if (1..=hashes).all(|k| chars.get(j + k) == Some(&'#')) => {
                        j += 1 + hashes;
                        break;
                    }
                    _ => j += 1,
                }
            }
            out.push_str("\"\"");
            i = j;
        } else if c == '"' {
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                i += if chars[i] == '\\' { 2 } else { 1 };
            }
            i += 1;
            out.push_str("\"\"");
        } else if c == '\'' {
            // A character literal ('x', '\n', '\u{..}') or a lifetime ('a): only literals close.
            let close = if next == Some('\\') {
                (i + 2..chars.len().min(i + 12)).find(|&k| chars[k] == '\'')
            } else {
                (chars.get(i + 2) == Some(&'\'')).then_some(i + 2)
            };
            match close {
                Some(end) => {
                    out.push_str("' '");
                    i = end + 1;
                }
                None => {
                    out.push(c);
                    i += 1;
                }
            }
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

fn ident_before(chars: &[char], i: usize) -> bool {
    i > 0 && (chars[i - 1].is_alphanumeric() || chars[i - 1] == '_')
}

/// Drops every item marked `#[cfg(test)]` (the attribute up to the end of its `{...}` block or
/// its `;`): tests may use anything.
fn without_test_items(code: &str) -> String {
    const MARK: &str = "#[cfg(test)]";
    let mut out = String::with_capacity(code.len());
    let mut rest = code;
    while let Some((before, item)) = rest.split_once(MARK) {
        out.push_str(before);
        let mut depth = 0usize;
        let mut end = item.len();
        for (k, c) in item.char_indices() {
            match c {
                '{' => depth += 1,
                '}' => {
                    depth = depth.saturating_sub(1);
                    if depth == 0 {
                        end = k + 1;
                        break;
                    }
                }
                ';' if depth == 0 => {
                    end = k + 1;
                    break;
                }
                _ => {}
            }
        }
        // `end` is just past an ASCII `}` or `;`, or the end: always a character boundary.
        rest = item.get(end..).unwrap_or_default();
    }
    out.push_str(rest);
    out
}

/// Each top-level module's files with their depth below the crate root.
fn top_level_modules(src_dir: &Path) -> io::Result<BTreeMap<String, Vec<(PathBuf, usize)>>> {
    let mut modules: BTreeMap<String, Vec<(PathBuf, usize)>> = BTreeMap::new();
    for entry in fs::read_dir(src_dir)? {
        let path = entry?.path();
        let Some(stem) = path.file_stem().and_then(|s| s.to_str()).map(str::to_owned) else {
            continue;
        };
        if path.is_dir() {
            // `src/bin` holds separate crates, not modules.
            if stem != "bin" {
                collect_files(&path, 1, modules.entry(stem).or_default())?;
            }
        } else if path.extension().is_some_and(|e| e == "rs") && stem != "lib" && stem != "main" {
            modules.entry(stem).or_default().push((path, 1));
        }
    }
    Ok(modules)
}

/// `dir`'s `.rs` files: `mod.rs` at `depth`, the others one deeper, recursively.
fn collect_files(dir: &Path, depth: usize, files: &mut Vec<(PathBuf, usize)>) -> io::Result<()> {
    for entry in fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            collect_files(&path, depth + 1, files)?;
        } else if path.extension().is_some_and(|e| e == "rs") {
            let is_mod = path.file_name().is_some_and(|n| n == "mod.rs");
            files.push((path, if is_mod { depth } else { depth + 1 }));
        }
    }
    Ok(())
}

/// Tarjan's strongly connected components.
struct Tarjan<'g> {
    /// The graph searched.
    graph: &'g ModuleGraph,
    /// The next visit number.
    next_index: usize,
    /// Visit number of each node seen.
    index: BTreeMap<&'g str, usize>,
    /// Lowest visit number reachable from each node.
    low: BTreeMap<&'g str, usize>,
    /// Nodes of components not yet closed.
    stack: Vec<&'g str>,
    /// The members of `stack`.
    on_stack: BTreeSet<&'g str>,
    /// Components with more than one node.
    found: Vec<Vec<String>>,
}

impl<'g> Tarjan<'g> {
    fn visit(&mut self, node: &'g str) {
        self.index.insert(node, self.next_index);
        self.low.insert(node, self.next_index);
        self.next_index += 1;
        self.stack.push(node);
        self.on_stack.insert(node);
        for next in self.graph.get(node).into_iter().flatten() {
            let next = next.as_str();
            if !self.index.contains_key(next) {
                self.visit(next);
                let low = self.low[node].min(self.low[next]);
                self.low.insert(node, low);
            } else if self.on_stack.contains(next) {
                let low = self.low[node].min(self.index[next]);
                self.low.insert(node, low);
            }
        }
        if self.low[node] == self.index[node] {
            let mut group = Vec::new();
            while let Some(member) = self.stack.pop() {
                self.on_stack.remove(member);
                group.push(member.to_owned());
                if member == node {
                    break;
                }
            }
            if group.len() > 1 {
                self.found.push(group);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(names: &[&str]) -> BTreeSet<String> {
        names.iter().map(|n| (*n).to_owned()).collect()
    }

    #[test]
    fn crate_paths_groups_and_inline_paths_count() {
        let text = "use crate::a::X;\nuse crate::{b::Y, c, self};\nfn f() { crate::d::go(); }";
        assert_eq!(referenced_modules(text, 1), set(&["a", "b", "c", "d"]));
    }

    #[test]
    fn super_counts_only_when_it_climbs_to_the_root() {
        let text = "use super::a;\nuse super::super::b::Z;";
        assert_eq!(referenced_modules(text, 1), set(&["a"]));
        assert_eq!(referenced_modules(text, 2), set(&["b"]));
    }

    #[test]
    fn comments_literals_and_test_items_do_not_count() {
        let text = r###"
            //! See [`crate::doc`].
            /* crate::block */
            const S: &str = "crate::string";
            const R: &str = r#"crate::raw "quoted""#;
            const C: char = '{';
            fn lifetimes<'a>(x: &'a str) -> &'a str { x }
            #[cfg(test)]
            mod tests {
                use crate::tested;
                fn f() { if true { crate::nested(); } }
            }
            use crate::real;
        "###;
        assert_eq!(referenced_modules(text, 1), set(&["real"]));
    }

    #[test]
    fn cycles_are_found_directly_and_through_a_loop() {
        let graph: ModuleGraph = [
            ("a", set(&["b"])),
            ("b", set(&["a", "c"])),
            ("c", set(&["d"])),
            ("d", set(&["e"])),
            ("e", set(&["c"])),
            ("f", set(&["a"])),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        assert_eq!(
            cycles(&graph),
            vec![
                vec!["a".to_owned(), "b".to_owned()],
                vec!["c".to_owned(), "d".to_owned(), "e".to_owned()]
            ]
        );
    }

    #[test]
    fn a_layered_crate_has_no_cycles() {
        let graph: ModuleGraph = [("a", set(&["b", "c"])), ("b", set(&["c"])), ("c", set(&[]))]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect();
        assert!(cycles(&graph).is_empty());
    }
}
