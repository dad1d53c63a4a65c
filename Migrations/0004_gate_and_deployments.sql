-- The promotion gate (issue 11): per-item outcomes of each adapter on the evaluation pool and
-- the golden set (paired evidence without re-running models), shadow predictions beside the
-- served ones, the stored gate policy, the gate's report per adapter, and the deployment
-- history (every promotion and rollback, who, why, with the report).

-- What an adapter predicted for each evaluation item. Two adapters are compared on the items
-- both have, with the same label: the worker writes the candidate's and its parent's rows from
-- one snapshot, so a candidate and the production adapter it was trained against always pair up.
CREATE TABLE adapter_outcomes (
    adapter_version  text NOT NULL REFERENCES adapters (version),
    source           text NOT NULL CHECK (source IN ('evaluation_pool', 'golden')),
    text_sha256      bytea NOT NULL CHECK (length(text_sha256) = 32),
    text             text NOT NULL,
    label            text NOT NULL,
    predicted        text NOT NULL,
    confidence       real NOT NULL,
    evaluated_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (adapter_version, source, text_sha256)
);

-- A shadow adapter's prediction for a served prediction (sampled, written off the request path).
CREATE TABLE shadow_predictions (
    prediction_id    uuid NOT NULL REFERENCES predictions (id),
    adapter_version  text NOT NULL,
    intent           text NOT NULL,
    confidence       real NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (prediction_id, adapter_version)
);
CREATE INDEX shadow_predictions_adapter ON shadow_predictions (adapter_version, created_at);

-- At most one adapter in shadow at a time (like production).
CREATE UNIQUE INDEX adapters_one_shadow ON adapters ((status)) WHERE status = 'shadow';
-- The gate's latest report for this adapter ({"decision", "rule", "reasons", figures…}).
ALTER TABLE adapters ADD COLUMN gate_report jsonb;
ALTER TABLE adapters ADD COLUMN shadow_since timestamptz;

-- The gate policy: one row; absent means the documented defaults (GatePolicy in LoopCore).
CREATE TABLE gate_policy (
    id          boolean PRIMARY KEY DEFAULT true CHECK (id),
    policy      jsonb NOT NULL,
    updated_by  bigint REFERENCES users (id),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- Every change of the production adapter.
CREATE TABLE deployments (
    id                bigserial PRIMARY KEY,
    action            text NOT NULL CHECK (action IN ('first', 'promote', 'manual_promote', 'rollback')),
    adapter_version   text NOT NULL REFERENCES adapters (version),
    previous_version  text REFERENCES adapters (version),
    actor             bigint REFERENCES users (id),
    actor_name        text NOT NULL,
    reason            text NOT NULL,
    report            jsonb,
    created_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX deployments_created ON deployments (created_at DESC, id DESC);
