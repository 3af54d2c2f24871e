//! The Breakwater gateway server (in progress).
