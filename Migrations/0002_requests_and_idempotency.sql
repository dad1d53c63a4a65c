-- Hardening (issue 9): a prediction request is stored once with its metadata (not once per
-- text), and both predictions and feedback can carry a client's Idempotency-Key so that a retry
-- after a lost answer never stores twice.

-- One row per POST /v1/predict: who sent it, its metadata (bounded by the API to 4 KiB as
-- JSON), and the client's optional Idempotency-Key with a SHA-256 of what was asked (a replay
-- with the same key must ask the same thing).
CREATE TABLE prediction_requests (
    id               uuid PRIMARY KEY,
    client_id        bigint REFERENCES users (id),
    idempotency_key  text CHECK (length(idempotency_key) BETWEEN 1 AND 200),
    request_hash     bytea,
    metadata         jsonb NOT NULL DEFAULT '{}',
    created_at       timestamptz NOT NULL DEFAULT now(),
    UNIQUE (client_id, idempotency_key)
);

-- Each prediction points at its request and keeps its place in it (the answer's order).
ALTER TABLE predictions ADD COLUMN request_id uuid REFERENCES prediction_requests (id);
ALTER TABLE predictions ADD COLUMN position integer NOT NULL DEFAULT 0;
CREATE INDEX predictions_request ON predictions (request_id, position);

-- Feedback: the agent's optional Idempotency-Key.
ALTER TABLE feedback ADD COLUMN idempotency_key text CHECK (length(idempotency_key) BETWEEN 1 AND 200);
CREATE UNIQUE INDEX feedback_idempotency ON feedback (agent_id, idempotency_key) WHERE idempotency_key IS NOT NULL;
