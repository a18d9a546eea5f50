//! Paths of the WebAssembly components the host's tests deploy.
//!
//! This follows wasmtime's `test-programs` pattern: the guests are ordinary crates in
//! workspaces of their own (`examples/` for the example services, `tests/guests/` for
//! test-only components that trap, loop, exhaust memory or call host imports with
//! hostile arguments), and this crate's build script compiles both for `wasm32-wasip2`
//! with one nested `cargo build` each, then exposes every component's absolute path as a
//! constant. A test names the component it needs and copies it into its pickup
//! directory; none of them builds anything itself.
//!
//! ```
//! let hello = std::path::Path::new(zato_test_artifacts::HELLO);
//! assert!(hello.is_file());
//! assert_eq!(hello.file_name().unwrap(), "hello.wasm");
//! ```
//!
//! The components land in `wasm-guests/` inside the outer build's target directory,
//! and the build script reruns only when `wit/`, `sdk-rust/` or a guest's sources
//! change.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

include!(concat!(env!("OUT_DIR"), "/artifacts.rs"));

#[cfg(test)]
mod tests {
    use std::fs;

    use super::*;

    /// What every component binary starts with: the wasm magic and the component layer.
    const COMPONENT_HEADER: [u8; 8] = [0x00, 0x61, 0x73, 0x6d, 0x0d, 0x00, 0x01, 0x00];

    #[test]
    fn every_artifact_is_a_component() {
        let all = [
            HELLO,
            TRANSFORM,
            INVOKER,
            CONFIGURED,
            TRAP,
            SPIN,
            MEMBOMB,
            RECURSE,
            CYCLE_A,
            CYCLE_B,
            VERSION1,
            VERSION2,
            ECHO,
            HOSTILE_INVOKE,
            CONTRACT_0_2_0,
        ];
        for path in all {
            let bytes = fs::read(path).unwrap_or_else(|err| panic!("{path}: {err}"));
            assert_eq!(bytes.get(..8), Some(&COMPONENT_HEADER[..]), "{path}");
        }
    }

    /// `EXAMPLES` (what `zato start` deploys in a development environment) holds one
    /// component per member of the examples' workspace, none left out.
    #[test]
    fn examples_lists_every_example() {
        let manifest = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/Cargo.toml");
        let manifest = fs::read_to_string(manifest).unwrap();
        let members = manifest
            .lines()
            .find_map(|line| line.trim().strip_prefix("members = ["))
            .expect("examples/Cargo.toml lists its members on one line");
        let mut members: Vec<String> = members
            .trim_end_matches(']')
            .split(',')
            .map(|m| m.trim().trim_matches('"').replace('-', "_"))
            .filter(|m| !m.is_empty())
            .collect();
        let mut listed: Vec<String> = EXAMPLES
            .iter()
            .map(|path| {
                let name = std::path::Path::new(path).file_stem().unwrap();
                name.to_string_lossy().into_owned()
            })
            .collect();
        members.sort();
        listed.sort();
        assert_eq!(listed, members);
        assert!(EXAMPLES.contains(&HELLO) && EXAMPLES.contains(&SCHEDULED));
    }
}
