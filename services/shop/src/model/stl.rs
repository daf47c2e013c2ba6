//! Binary STL, written by hand: an 80-byte header, a little-endian u32 triangle count, then per
//! triangle the normal and three vertices as 12 little-endian f32 and a zero u16.

use crate::model::mesh::Mesh;

/// Size of the header block.
pub const HEADER_LEN: usize = 80;
/// Size of one triangle record.
pub const TRIANGLE_LEN: usize = 50;

/// Encodes `mesh` as binary STL. `header` is truncated or zero-padded to 80 bytes; it must not
/// start with `solid`, which readers take for ASCII STL, so such a header is prefixed.
pub fn encode(mesh: &Mesh, header: &str) -> Vec<u8> {
    let count = mesh.triangles.len();
    let mut out = Vec::with_capacity(HEADER_LEN + 4 + TRIANGLE_LEN * count);
    let mut head = [0u8; HEADER_LEN];
    let text = if header.starts_with("solid") {
        format!("binary {header}")
    } else {
        header.to_owned()
    };
    let n = text.len().min(HEADER_LEN);
    head[..n].copy_from_slice(&text.as_bytes()[..n]);
    out.extend_from_slice(&head);
    out.extend_from_slice(&(count as u32).to_le_bytes());
    for t in &mesh.triangles {
        for x in mesh.normal(t) {
            out.extend_from_slice(&x.to_le_bytes());
        }
        for &i in t {
            for x in mesh.vertices[i as usize] {
                out.extend_from_slice(&x.to_le_bytes());
            }
        }
        out.extend_from_slice(&0u16.to_le_bytes());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::mesh::box_mesh;

    #[test]
    fn layout_is_header_count_and_fifty_byte_records() {
        let mesh = box_mesh(1.0, 2.0, 3.0);
        let bytes = encode(&mesh, "solid looking header");
        assert_eq!(bytes.len(), 84 + 50 * 12);
        assert!(!bytes.starts_with(b"solid"));
        assert_eq!(u32::from_le_bytes(bytes[80..84].try_into().unwrap()), 12);
        // First triangle: bottom face, normal -Z, first vertex at the origin.
        let f = |off: usize| f32::from_le_bytes(bytes[off..off + 4].try_into().unwrap());
        assert_eq!([f(84), f(88), f(92)], [0.0, 0.0, -1.0]);
        assert_eq!([f(96), f(100), f(104)], [0.0, 0.0, 0.0]);
        assert_eq!(&bytes[84 + 48..84 + 50], &[0, 0]);
    }
}
