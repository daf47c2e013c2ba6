//! Every workspace member reads top-down: no two of its top-level modules import each other,
//! directly or in a loop (issue 7). A new circle fails this test with the modules named.

use printflow_layering::{cycles, module_graph};
use std::fs;
use std::path::{Path, PathBuf};

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("tools/layering sits two levels below the workspace root")
        .to_path_buf()
}

/// The `members = [...]` entries of the root manifest.
fn members(root: &Path) -> Vec<String> {
    let manifest = fs::read_to_string(root.join("Cargo.toml")).expect("root Cargo.toml");
    let (_, list) = manifest.split_once("members").expect("a members list");
    let (_, list) = list.split_once('[').expect("[");
    let (list, _) = list.split_once(']').expect("]");
    list.split(',')
        .map(|m| m.trim().trim_matches('"').to_owned())
        .filter(|m| !m.is_empty())
        .collect()
}

#[test]
fn no_module_imports_a_module_that_imports_it_back() {
    let root = workspace_root();
    let members = members(&root);
    assert!(members.len() > 5, "members read: {members:?}");
    let mut problems = Vec::new();
    for member in &members {
        let src = root.join(member).join("src");
        if !src.is_dir() {
            continue;
        }
        let graph = module_graph(&src).unwrap_or_else(|e| panic!("{member}: {e}"));
        for group in cycles(&graph) {
            problems.push(format!(
                "{member}: modules {group:?} import each other; move what they share into a \
                 module below them"
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
