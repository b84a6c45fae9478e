//! Shared helpers of the Waypoint benchmarks.
