//! Components made from built ones: variants (new sha256, same behaviour), padded ones
//! (a large component that compiles like a small one) and renamed ones (a distinct
//! service).

use anyhow::bail;

/// Name of the custom sections this module appends.
const SECTION: &[u8] = b"zato-bench-variant";

/// `component` with a custom section appended that holds `tag` and `pad` zero bytes: a
/// new component (new sha256) that behaves exactly like the original.
pub fn variant(component: &[u8], tag: u32, pad: usize) -> Vec<u8> {
    let mut section = Vec::with_capacity(SECTION.len() + 8 + pad);
    leb128(SECTION.len(), &mut section);
    section.extend_from_slice(SECTION);
    section.extend_from_slice(&tag.to_le_bytes());
    section.resize(section.len() + pad, 0);
    let mut out = Vec::with_capacity(component.len() + section.len() + 6);
    out.extend_from_slice(component);
    out.push(0); // custom section id
    leb128(section.len(), &mut out);
    out.extend_from_slice(&section);
    out
}

/// `component` with every occurrence of the service name `from` replaced by `to`, which
/// must have the same length: the bytes sit in a data segment whose size must not change.
/// The service's `info()` then reports `to`, so the result deploys as another service.
pub fn renamed(component: &[u8], from: &str, to: &str) -> anyhow::Result<Vec<u8>> {
    let (from, to) = (from.as_bytes(), to.as_bytes());
    if from.len() != to.len() || from.is_empty() {
        bail!("a service name can only be replaced by one of the same length");
    }
    let mut out = component.to_vec();
    let mut found = 0;
    let mut i = 0;
    while i + from.len() <= out.len() {
        if &out[i..i + from.len()] == from {
            out[i..i + from.len()].copy_from_slice(to);
            found += 1;
            i += from.len();
        } else {
            i += 1;
        }
    }
    if found == 0 {
        bail!(
            "the component does not contain the name `{}`",
            String::from_utf8_lossy(from)
        );
    }
    Ok(out)
}

fn leb128(mut value: usize, out: &mut Vec<u8>) {
    loop {
        let byte = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leb128_encodes_sizes() {
        let mut out = Vec::new();
        leb128(5 * 1024 * 1024, &mut out);
        assert_eq!(out, [0x80, 0x80, 0xc0, 0x02]);
        out.clear();
        leb128(127, &mut out);
        assert_eq!(out, [0x7f]);
    }

    #[test]
    fn a_variant_is_the_component_plus_one_custom_section() {
        let base = b"\0asm\x0d\0\x01\0".to_vec();
        let v = variant(&base, 7, 3);
        assert_eq!(&v[..base.len()], base.as_slice());
        let section = &v[base.len()..];
        assert_eq!(section[0], 0);
        let size = section[1] as usize;
        assert_eq!(section.len(), 2 + size);
        assert_eq!(size, 1 + SECTION.len() + 4 + 3);
        assert_ne!(variant(&base, 1, 0), variant(&base, 2, 0));
    }

    #[test]
    fn renaming_keeps_the_size_and_needs_an_occurrence() {
        let bytes = b"..demo.hello..demo.hello".to_vec();
        let out = renamed(&bytes, "demo.hello", "demo.h0001").unwrap();
        assert_eq!(out, b"..demo.h0001..demo.h0001");
        assert!(renamed(&bytes, "demo.hello", "demo.h1").is_err());
        assert!(renamed(b"nothing", "demo.hello", "demo.h0001").is_err());
    }
}
