-- Results of `intentloop simulate` runs against this deployment (the models page draws the latest).
CREATE TABLE simulation_runs (
    id          bigserial PRIMARY KEY,
    summary     text NOT NULL,
    report      jsonb NOT NULL,
    actor       bigint REFERENCES users (id),
    created_at  timestamptz NOT NULL DEFAULT now()
);
