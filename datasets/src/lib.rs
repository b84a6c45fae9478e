//! Dataset I/O for Waypoint (filled by the CLI issue).
