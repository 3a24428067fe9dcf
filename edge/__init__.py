"""The edge node: site config, motion gate, tracking, zones, parking episodes, warning ladder."""
