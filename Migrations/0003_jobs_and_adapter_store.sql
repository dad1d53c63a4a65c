-- Scheduled retraining (issue 10): adapters stored in PostgreSQL (content-addressed files,
-- lineage, lifecycle), a job queue with leases, retries, cancellation and progress, and one job
-- row per scheduled slot.

-- Adapter files, content-addressed: the SHA-256 of the bytes is the key, so an unchanged file
-- (a label list, a config) is stored once however many adapters use it.
CREATE TABLE adapter_blobs (
    sha256      bytea PRIMARY KEY CHECK (length(sha256) = 32),
    content     bytea NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- Jobs: claimed with FOR UPDATE SKIP LOCKED under a lease that the worker's heartbeat renews;
-- an expired lease re-queues the job (attempts < max_attempts) or fails it.
ALTER TABLE jobs DROP CONSTRAINT jobs_status_check;
ALTER TABLE jobs ADD CONSTRAINT jobs_status_check
    CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'cancelled', 'skipped'));
ALTER TABLE jobs ADD COLUMN trigger text NOT NULL DEFAULT 'manual' CHECK (trigger IN ('manual', 'schedule'));
-- The scheduled slot ("schedule:2026-12-07T03:00Z"): one job per slot however many schedulers run.
ALTER TABLE jobs ADD COLUMN slot text UNIQUE;
ALTER TABLE jobs ADD COLUMN requested_by bigint REFERENCES users (id);
ALTER TABLE jobs ADD COLUMN attempts integer NOT NULL DEFAULT 0 CHECK (attempts >= 0);
ALTER TABLE jobs ADD COLUMN max_attempts integer NOT NULL DEFAULT 3 CHECK (max_attempts BETWEEN 1 AND 100);
ALTER TABLE jobs ADD COLUMN run_after timestamptz NOT NULL DEFAULT now();
ALTER TABLE jobs ADD COLUMN worker text;
ALTER TABLE jobs ADD COLUMN lease_until timestamptz;
ALTER TABLE jobs ADD COLUMN heartbeat_at timestamptz;
ALTER TABLE jobs ADD COLUMN cancel_requested_at timestamptz;
-- {"phase", "epoch", "epochs", "step", "total_steps", "loss", "examples_per_s", "eta_s"}
ALTER TABLE jobs ADD COLUMN progress jsonb NOT NULL DEFAULT '{}';
CREATE INDEX jobs_claim ON jobs (run_after, id) WHERE status = 'queued';
CREATE INDEX jobs_leases ON jobs (lease_until) WHERE status = 'running';

-- Adapters: lifecycle training → candidate → (shadow → production → retired) | rejected | failed.
ALTER TABLE adapters DROP CONSTRAINT adapters_status_check;
ALTER TABLE adapters ADD CONSTRAINT adapters_status_check
    CHECK (status IN ('training', 'candidate', 'shadow', 'production', 'retired', 'rejected', 'failed'));
-- path: where the first server wrote it (adapters from before this migration); NULL once stored here.
ALTER TABLE adapters ALTER COLUMN path DROP NOT NULL;
-- SHA-256 of the manifest (file name and file hash per line, sorted): the adapter's identity.
ALTER TABLE adapters ADD COLUMN sha256 bytea CHECK (sha256 IS NULL OR length(sha256) = 32);
-- {"adapter_model.safetensors": "<hex sha256>", "adapter_config.json": …, …}
ALTER TABLE adapters ADD COLUMN files jsonb NOT NULL DEFAULT '{}';
ALTER TABLE adapters ADD COLUMN status_reason text NOT NULL DEFAULT '';
ALTER TABLE adapters ADD COLUMN parent_version text;
ALTER TABLE adapters ADD COLUMN job_id bigint REFERENCES jobs (id);
ALTER TABLE adapters ADD COLUMN feedback_from bigint;
ALTER TABLE adapters ADD COLUMN feedback_to bigint;
ALTER TABLE adapters ADD COLUMN dataset_sha256 text;
ALTER TABLE adapters ADD COLUMN data_summary jsonb NOT NULL DEFAULT '{}';
ALTER TABLE adapters ADD COLUMN updated_at timestamptz NOT NULL DEFAULT now();
CREATE INDEX adapters_job ON adapters (job_id);

-- An intent an admin retired leaves the next adapter's head, like a rejected one.
ALTER TABLE intents DROP CONSTRAINT intents_status_check;
ALTER TABLE intents ADD CONSTRAINT intents_status_check CHECK (status IN ('active', 'proposed', 'rejected', 'retired'));
