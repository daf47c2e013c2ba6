//! Indexed triangle meshes for the parametric shapes, and the checks a printable mesh must
//! pass: closed, consistently (outward) oriented, positive volume, fits the build volume.
//!
//! Shapes sit in the positive octant with a corner of their bounding box at the origin: a box
//! spans `[0,w] x [0,d] x [0,h]`, a cylinder stands on the XY plane centred at `(r, r)`.

use crate::config::BuildVolume;
use std::collections::HashMap;

/// Segments around a cylinder. A multiple of 4, so vertices land on the extreme points of the
/// circle and the bounding box is exactly `d x d x h`; the polygon's area is within 0.05% of
/// the circle's.
pub const CYLINDER_SEGMENTS: u32 = 128;

/// A triangle mesh: shared vertices and triangles indexing them, counter-clockwise when seen
/// from outside (so normals point outwards).
#[derive(Debug, Clone, PartialEq)]
pub struct Mesh {
    /// Vertex positions in mm, single precision as STL stores them.
    pub vertices: Vec<[f32; 3]>,
    /// Triangles as indices into `vertices`.
    pub triangles: Vec<[u32; 3]>,
}

/// Why a mesh cannot be printed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum MeshDefect {
    /// No triangles at all.
    #[error("the mesh has no triangles")]
    Empty,
    /// A triangle refers to a vertex that does not exist or repeats a vertex.
    #[error("triangle {0} is degenerate or refers to a missing vertex")]
    BadTriangle(usize),
    /// An edge is not shared by exactly two triangles: there is a hole or a non-manifold edge.
    #[error("the mesh is not closed: edge {a}-{b} is used by {uses} triangle(s) instead of 2")]
    NotClosed {
        /// One end of the edge.
        a: u32,
        /// The other end.
        b: u32,
        /// How many triangles use it.
        uses: usize,
    },
    /// Two triangles traverse a shared edge in the same direction: their normals disagree.
    #[error("the mesh is not consistently oriented at edge {a}-{b}")]
    Inconsistent {
        /// One end of the edge.
        a: u32,
        /// The other end.
        b: u32,
    },
    /// Zero or negative enclosed volume (flat, or turned inside out).
    #[error("the mesh encloses a non-positive volume ({0:.3} mm³)")]
    NonPositiveVolume(f64),
    /// The part is larger than the printer in every axis-aligned orientation.
    #[error(
        "the model's bounding box {bx:.1} x {by:.1} x {bz:.1} mm does not fit the printer build \
         volume {build} in any orientation"
    )]
    TooLarge {
        /// Bounding box X extent.
        bx: f64,
        /// Bounding box Y extent.
        by: f64,
        /// Bounding box Z extent.
        bz: f64,
        /// The build volume.
        build: BuildVolume,
    },
}

/// What the checks measured on a valid mesh.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MeshReport {
    /// Number of triangles.
    pub triangle_count: usize,
    /// Enclosed volume, mm³.
    pub volume_mm3: f64,
    /// Bounding box extents (X, Y, Z), mm.
    pub bbox_mm: [f64; 3],
    /// Outer surface area, mm² (the printed shell grows with it).
    pub surface_area_mm2: f64,
}

/// A closed box of `w x d x h` mm: 8 vertices, 12 triangles.
pub fn box_mesh(w: f64, d: f64, h: f64) -> Mesh {
    let (w, d, h) = (w as f32, d as f32, h as f32);
    // Vertex i has x = w if bit 0, y = d if bit 1, z = h if bit 2.
    let vertices = (0..8u32)
        .map(|i| {
            [
                if i & 1 != 0 { w } else { 0.0 },
                if i & 2 != 0 { d } else { 0.0 },
                if i & 4 != 0 { h } else { 0.0 },
            ]
        })
        .collect();
    // Faces as quads, counter-clockwise seen from outside.
    let quads: [[u32; 4]; 6] = [
        [0, 2, 3, 1], // bottom, -Z
        [4, 5, 7, 6], // top, +Z
        [0, 1, 5, 4], // front, -Y
        [2, 6, 7, 3], // back, +Y
        [0, 4, 6, 2], // left, -X
        [1, 3, 7, 5], // right, +X
    ];
    let triangles = quads
        .iter()
        .flat_map(|&[a, b, c, d]| [[a, b, c], [a, c, d]])
        .collect();
    Mesh {
        vertices,
        triangles,
    }
}

/// A closed cylinder of `diameter x height` mm approximated by `segments` side quads and two
/// triangle-fan caps: `4 x segments` triangles.
pub fn cylinder_mesh(diameter: f64, height: f64, segments: u32) -> Mesh {
    let n = segments.max(3);
    let r = diameter / 2.0;
    let mut vertices = Vec::with_capacity(2 * n as usize + 2);
    for z in [0.0, height] {
        for i in 0..n {
            let theta = std::f64::consts::TAU * f64::from(i) / f64::from(n);
            vertices.push([
                (r + r * theta.cos()) as f32,
                (r + r * theta.sin()) as f32,
                z as f32,
            ]);
        }
    }
    let (bottom_centre, top_centre) = (2 * n, 2 * n + 1);
    vertices.push([r as f32, r as f32, 0.0]);
    vertices.push([r as f32, r as f32, height as f32]);
    let mut triangles = Vec::with_capacity(4 * n as usize);
    for i in 0..n {
        let j = (i + 1) % n;
        let (bi, bj, ti, tj) = (i, j, n + i, n + j);
        triangles.push([bi, bj, tj]);
        triangles.push([bi, tj, ti]);
        triangles.push([bottom_centre, bj, bi]);
        triangles.push([top_centre, ti, tj]);
    }
    Mesh {
        vertices,
        triangles,
    }
}

impl Mesh {
    /// The corner positions of triangle `t`, widened to f64.
    pub fn corners(&self, t: &[u32; 3]) -> [[f64; 3]; 3] {
        t.map(|i| self.vertices[i as usize].map(f64::from))
    }

    /// Unit normal of triangle `t` by the right-hand rule (zero for a degenerate triangle).
    pub fn normal(&self, t: &[u32; 3]) -> [f32; 3] {
        let [a, b, c] = self.corners(t);
        let n = cross(sub(b, a), sub(c, a));
        let len = (n[0] * n[0] + n[1] * n[1] + n[2] * n[2]).sqrt();
        if len > 0.0 {
            n.map(|x| (x / len) as f32)
        } else {
            [0.0; 3]
        }
    }

    /// Enclosed volume by the divergence theorem: the sum of signed tetrahedra from the origin
    /// to each triangle. Positive for a closed, outward-oriented mesh.
    pub fn signed_volume(&self) -> f64 {
        self.triangles
            .iter()
            .map(|t| {
                let [a, b, c] = self.corners(t);
                dot(a, cross(b, c)) / 6.0
            })
            .sum()
    }

    /// Total triangle area, mm².
    pub fn surface_area(&self) -> f64 {
        self.triangles
            .iter()
            .map(|t| {
                let [a, b, c] = self.corners(t);
                let n = cross(sub(b, a), sub(c, a));
                (n[0] * n[0] + n[1] * n[1] + n[2] * n[2]).sqrt() / 2.0
            })
            .sum()
    }

    /// Bounding box extents (X, Y, Z) in mm.
    pub fn bounding_box(&self) -> [f64; 3] {
        let mut lo = [f64::INFINITY; 3];
        let mut hi = [f64::NEG_INFINITY; 3];
        for v in &self.vertices {
            for k in 0..3 {
                lo[k] = lo[k].min(f64::from(v[k]));
                hi[k] = hi[k].max(f64::from(v[k]));
            }
        }
        if self.vertices.is_empty() {
            return [0.0; 3];
        }
        [hi[0] - lo[0], hi[1] - lo[1], hi[2] - lo[2]]
    }

    /// Closed and consistently oriented: every undirected edge is used by exactly two
    /// triangles, once in each direction.
    pub fn check_closed_and_oriented(&self) -> Result<(), MeshDefect> {
        if self.triangles.is_empty() {
            return Err(MeshDefect::Empty);
        }
        let nv = self.vertices.len() as u32;
        let mut directed: HashMap<(u32, u32), usize> = HashMap::new();
        for (i, &[a, b, c]) in self.triangles.iter().enumerate() {
            if a >= nv || b >= nv || c >= nv || a == b || b == c || a == c {
                return Err(MeshDefect::BadTriangle(i));
            }
            for e in [(a, b), (b, c), (c, a)] {
                *directed.entry(e).or_default() += 1;
            }
        }
        // Iterate in a stable order so the reported edge is deterministic.
        let mut edges: Vec<_> = directed.iter().collect();
        edges.sort_unstable();
        for (&(a, b), &forward) in edges {
            let backward = directed.get(&(b, a)).copied().unwrap_or(0);
            if forward + backward != 2 {
                return Err(MeshDefect::NotClosed {
                    a: a.min(b),
                    b: a.max(b),
                    uses: forward + backward,
                });
            }
            if forward != 1 {
                return Err(MeshDefect::Inconsistent {
                    a: a.min(b),
                    b: a.max(b),
                });
            }
        }
        Ok(())
    }

    /// All printability checks; on success, what they measured.
    pub fn validate(&self, build: &BuildVolume) -> Result<MeshReport, MeshDefect> {
        self.check_closed_and_oriented()?;
        let volume_mm3 = self.signed_volume();
        if volume_mm3.is_nan() || volume_mm3 <= 0.0 {
            return Err(MeshDefect::NonPositiveVolume(volume_mm3));
        }
        let bbox_mm = self.bounding_box();
        let mut sorted = bbox_mm;
        sorted.sort_by(f64::total_cmp);
        // A part fits in some axis-aligned orientation iff its sorted extents fit the sorted
        // build extents (a µm of slack absorbs single-precision rounding of the vertices).
        let fits = sorted
            .iter()
            .zip(build.sorted())
            .all(|(part, printer)| *part <= printer + 1e-3);
        if !fits {
            return Err(MeshDefect::TooLarge {
                bx: bbox_mm[0],
                by: bbox_mm[1],
                bz: bbox_mm[2],
                build: *build,
            });
        }
        Ok(MeshReport {
            triangle_count: self.triangles.len(),
            volume_mm3,
            bbox_mm,
            surface_area_mm2: self.surface_area(),
        })
    }
}

fn sub(a: [f64; 3], b: [f64; 3]) -> [f64; 3] {
    [a[0] - b[0], a[1] - b[1], a[2] - b[2]]
}

fn cross(a: [f64; 3], b: [f64; 3]) -> [f64; 3] {
    [
        a[1] * b[2] - a[2] * b[1],
        a[2] * b[0] - a[0] * b[2],
        a[0] * b[1] - a[1] * b[0],
    ]
}

fn dot(a: [f64; 3], b: [f64; 3]) -> f64 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}

#[cfg(test)]
mod tests {
    use super::*;

    const BUILD: BuildVolume = BuildVolume {
        x_mm: 250.0,
        y_mm: 210.0,
        z_mm: 210.0,
    };

    /// Every triangle's normal points away from the solid's centre.
    fn normals_point_outwards(mesh: &Mesh) {
        let bbox = mesh.bounding_box();
        let centre = [bbox[0] / 2.0, bbox[1] / 2.0, bbox[2] / 2.0];
        for t in &mesh.triangles {
            let [a, b, c] = mesh.corners(t);
            let mid = [0, 1, 2].map(|k| (a[k] + b[k] + c[k]) / 3.0);
            let n = mesh.normal(t).map(f64::from);
            assert!(
                dot(n, sub(mid, centre)) > 0.0,
                "triangle {t:?} faces inwards"
            );
        }
    }

    #[test]
    fn box_is_closed_outward_and_exact() {
        let mesh = box_mesh(40.0, 30.0, 20.0);
        assert_eq!(mesh.triangles.len(), 12);
        let report = mesh.validate(&BUILD).unwrap();
        assert_eq!(report.volume_mm3, 40.0 * 30.0 * 20.0);
        assert_eq!(report.bbox_mm, [40.0, 30.0, 20.0]);
        normals_point_outwards(&mesh);
    }

    #[test]
    fn cylinder_is_closed_outward_and_close_to_pi_r2_h() {
        let (d, h) = (60.0, 25.0);
        let mesh = cylinder_mesh(d, h, CYLINDER_SEGMENTS);
        assert_eq!(mesh.triangles.len(), 4 * CYLINDER_SEGMENTS as usize);
        let report = mesh.validate(&BUILD).unwrap();
        let exact = std::f64::consts::PI * (d / 2.0) * (d / 2.0) * h;
        assert!(((report.volume_mm3 - exact) / exact).abs() < 0.001);
        for (got, want) in report.bbox_mm.iter().zip([d, d, h]) {
            assert!((got - want).abs() < 1e-4, "{got} vs {want}");
        }
        normals_point_outwards(&mesh);
    }

    #[test]
    fn a_hole_is_reported_as_not_closed() {
        let mut mesh = box_mesh(10.0, 10.0, 10.0);
        mesh.triangles.pop();
        assert!(matches!(
            mesh.validate(&BUILD),
            Err(MeshDefect::NotClosed { uses: 1, .. })
        ));
    }

    #[test]
    fn a_flipped_triangle_is_reported_as_inconsistent() {
        let mut mesh = box_mesh(10.0, 10.0, 10.0);
        mesh.triangles[3].swap(1, 2);
        assert!(matches!(
            mesh.validate(&BUILD),
            Err(MeshDefect::Inconsistent { .. })
        ));
    }

    #[test]
    fn an_inside_out_mesh_has_non_positive_volume() {
        let mut mesh = box_mesh(10.0, 10.0, 10.0);
        for t in &mut mesh.triangles {
            t.swap(1, 2);
        }
        assert!(matches!(
            mesh.validate(&BUILD),
            Err(MeshDefect::NonPositiveVolume(_))
        ));
    }

    #[test]
    fn fit_allows_any_axis_aligned_orientation() {
        // 240 is too long for Y and Z but fits X once rotated.
        assert!(box_mesh(20.0, 240.0, 30.0).validate(&BUILD).is_ok());
        let err = box_mesh(220.0, 240.0, 30.0).validate(&BUILD).unwrap_err();
        assert!(err.to_string().contains("build volume"), "{err}");
        assert!(box_mesh(251.0, 10.0, 10.0).validate(&BUILD).is_err());
    }
}
