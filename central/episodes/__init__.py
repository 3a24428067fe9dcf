"""Episodes at the centre: the edge's reports coming in (MQTT consumer, idempotent ingest,
dead letters), the officers' review workflow and its deadlines, the queue, and the numbers
(dissuaded, violations, tickets)."""
