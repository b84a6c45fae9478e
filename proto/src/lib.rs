//! Waypoint gRPC API definitions (filled by the server issue).
