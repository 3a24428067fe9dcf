"""The edge-centre MQTT contract: topics, versioned payloads, the outbox, the node's link.
See design.md."""
