"""The edge-centre MQTT contract (issue 4). See design.md."""
