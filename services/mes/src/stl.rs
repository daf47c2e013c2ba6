//! Binary STL sanity check: enough to tell a mesh from an error page or a truncated upload.
//!
//! A binary STL is an 80-byte header, a little-endian `u32` triangle count and 50 bytes per
//! triangle, so its size is fully determined by the count.

/// Bytes before the first triangle.
pub const HEADER_LEN: usize = 84;
/// Bytes per triangle record (normal, three vertices, attribute count).
pub const TRIANGLE_LEN: u64 = 50;

/// Why a file is not a plausible binary STL.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StlError {
    /// Shorter than the fixed header.
    #[error("{0} bytes is shorter than the 84-byte binary STL header")]
    TooShort(u64),
    /// The size does not match the triangle count in the header.
    #[error("binary STL declares {triangles} triangles ({expected} bytes) but has {actual} bytes")]
    SizeMismatch {
        /// Count from the header.
        triangles: u32,
        /// `84 + 50 * triangles`.
        expected: u64,
        /// The real size.
        actual: u64,
    },
    /// A mesh without triangles cannot be printed.
    #[error("binary STL has no triangles")]
    Empty,
}

/// Checks a model given its first bytes (at least [`HEADER_LEN`] of them if the file is that
/// long) and its total size, so the caller can stream the body instead of holding it.
pub fn check_binary_stl(head: &[u8], total_size: u64) -> Result<u32, StlError> {
    if total_size < HEADER_LEN as u64 || head.len() < HEADER_LEN {
        return Err(StlError::TooShort(total_size));
    }
    let count = u32::from_le_bytes(head[80..84].try_into().expect("4 bytes"));
    let expected = HEADER_LEN as u64 + TRIANGLE_LEN * u64::from(count);
    if expected != total_size {
        return Err(StlError::SizeMismatch {
            triangles: count,
            expected,
            actual: total_size,
        });
    }
    if count == 0 {
        return Err(StlError::Empty);
    }
    Ok(count)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stl(triangles: u32) -> Vec<u8> {
        let mut v = vec![0u8; 80];
        v.extend_from_slice(&triangles.to_le_bytes());
        v.resize(HEADER_LEN + 50 * triangles as usize, 7);
        v
    }

    #[test]
    fn well_formed_file_passes() {
        let file = stl(12);
        assert_eq!(check_binary_stl(&file, file.len() as u64), Ok(12));
    }

    #[test]
    fn short_truncated_padded_and_empty_files_fail() {
        assert_eq!(
            check_binary_stl(b"solid ascii", 11),
            Err(StlError::TooShort(11))
        );
        let file = stl(12);
        let truncated = file.len() as u64 - 1;
        assert!(matches!(
            check_binary_stl(&file, truncated),
            Err(StlError::SizeMismatch { triangles: 12, .. })
        ));
        assert!(matches!(
            check_binary_stl(&file, file.len() as u64 + 50),
            Err(StlError::SizeMismatch { .. })
        ));
        assert_eq!(check_binary_stl(&stl(0), 84), Err(StlError::Empty));
    }
}
