"""Road wardens' field reports: the categories a county files (Open311 services), filing
with a photo and a place, who may see which report, the officers' workflow and its
escalation, urgent alerts to the squad, the Open311 GeoReport v2 documents, the numbers."""
