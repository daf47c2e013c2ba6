//! Demo traffic for printflow: keeps realistic customer journeys (browsing the catalog,
//! designing a part, ordering it, checking on an order) running against the Shop API, so a
//! local stack is alive and the traces and metrics added later have something to show.
//!
//! It speaks only to Shop, over HTTP, exactly as a browser front end would. Every answer is
//! checked against the contract, so the same binary doubles as a smoke test (`--once`).
//!
//! # Layering
//!
//! Modules only import modules below them (checked by `tools/layering`):
//!
//! 1. [`config`], [`outcome`], [`mix`] (which journey comes next, and when): no sibling.
//! 2. [`cli`]: [`config`]. [`shop`] (the API client, its request and body types):
//!    [`outcome`]. [`stats`]: [`mix`], [`outcome`].
//! 3. [`generate`] (random requests and the checks of their answers): [`shop`].
//! 4. [`journeys`]: [`generate`] and everything in 1-2 but [`cli`].
//! 5. [`runner`]: [`journeys`], [`config`], [`mix`], [`shop`], [`stats`].

pub mod bench;
pub mod cli;
pub mod config;
pub mod generate;
pub mod journeys;
pub mod mix;
pub mod outcome;
pub mod runner;
pub mod shop;
pub mod stats;
