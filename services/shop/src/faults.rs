//! The drill faults the Shop can simulate (armed by an `admin` at `/admin/faults` when the
//! process runs with `PRINTFLOW_FAULTS=enabled`; see `printflow_faults`).

use printflow_faults::FaultSpec;

/// Seed point 1: every catalog search first runs a slow statement of `delay_ms`.
pub const SEARCH_SLOW: &str = "catalog.search.slow";
/// Seed point 2: the mesh generator produces a non-manifold mesh (one triangle missing).
pub const MESH_NON_MANIFOLD: &str = "model.mesh.non_manifold";

/// Seed point 6: the model file served for a version is another model than the one ordered.
pub const MODEL_REPLACED: &str = "model.version.replaced";

/// Every fault the Shop declares.
pub const FAULTS: &[FaultSpec] = &[
    FaultSpec {
        name: SEARCH_SLOW,
        effect: "seed point 1 (hanging catalog search): each catalog search runs a slow \
                 statement of delay_ms under the search's statement timeout",
        takes_delay: true,
    },
    FaultSpec {
        name: MESH_NON_MANIFOLD,
        effect: "seed point 2 (3D schema fails to form): the mesh generator drops a triangle, \
                 so the saved model would be non-manifold",
        takes_delay: false,
    },
    FaultSpec {
        name: MODEL_REPLACED,
        effect: "seed point 6 (status and 3D schema disagree): a model download serves another \
                 model than the version ordered, as if it had been replaced after the order",
        takes_delay: false,
    },
];
