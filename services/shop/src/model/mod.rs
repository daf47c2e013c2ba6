//! 3D model formation: triangle meshes for the parametric shapes ([`mesh`]), their binary STL
//! encoding ([`stl`]), material properties and estimates ([`material`]) and the durable store
//! the files go to ([`store`]).

pub mod material;
pub mod mesh;
pub mod stl;
pub mod store;
