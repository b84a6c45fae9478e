//! Waypoint client and expert router (filled by the router issue).
