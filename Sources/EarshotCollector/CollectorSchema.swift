/// The collector's tables, written once for both engines: the SQL differs only in type names, so each migration is
/// rendered for a dialect. Versions only ever grow; an applied migration is never edited (add a new one).
enum CollectorSchema {
    enum Dialect { case sqlite, postgres }

    /// The record columns after the identity, in insert order: text, then numbers, then 0/1 flags, then the JSON.
    static let recordColumns = ["kind", "wall", "received", "digest"] + UtteranceRow.textColumns + UtteranceRow.numericColumns
        + UtteranceRow.flagColumns + ["body"]

    static func migrations(_ dialect: Dialect) -> [(version: Int, statements: [String])] {
        let integer = dialect == .sqlite ? "INTEGER" : "BIGINT"
        let real = dialect == .sqlite ? "REAL" : "DOUBLE PRECISION"
        let flag = dialect == .sqlite ? "INTEGER" : "SMALLINT"
        // Version 1's columns, frozen: later columns arrive by later migrations, never by editing this list.
        let utterance = ["model", "source", "label"].map { "\($0) TEXT" }
            + ["confidence", "latency_ms", "duration_s", "rms_dbfs", "peak_dbfs", "snr_db", "noise_floor_dbfs", "speech_ratio",
               "clipped_percent", "spectral_centroid_hz", "spectral_tilt"].map { "\($0) \(real)" }
            + ["accepted", "null_result", "cloud_agrees", "shadow_agrees", "offline"].map { "\($0) \(flag)" }
        return [
            (1, [
                """
                CREATE TABLE devices (name TEXT PRIMARY KEY, token_sha256 TEXT NOT NULL UNIQUE, device_id TEXT UNIQUE, site TEXT,
                    hardware TEXT, created_at \(real) NOT NULL, revoked_at \(real))
                """,
                """
                CREATE TABLE streams (device_id TEXT NOT NULL, epoch \(integer) NOT NULL, acked_seq \(integer) NOT NULL,
                    stored \(integer) NOT NULL DEFAULT 0, duplicates \(integer) NOT NULL DEFAULT 0, skipped \(integer) NOT NULL DEFAULT 0,
                    dropped \(integer) NOT NULL DEFAULT 0, corrupt \(integer) NOT NULL DEFAULT 0, first_seen \(real) NOT NULL,
                    last_seen \(real) NOT NULL, PRIMARY KEY (device_id, epoch))
                """,
                """
                CREATE TABLE records (device_id TEXT NOT NULL, epoch \(integer) NOT NULL, seq \(integer) NOT NULL, kind TEXT NOT NULL,
                    wall \(real) NOT NULL, received \(real) NOT NULL, digest TEXT NOT NULL, \(utterance.joined(separator: ", ")),
                    body TEXT NOT NULL, PRIMARY KEY (device_id, epoch, seq))
                """,
                "CREATE INDEX records_by_wall ON records (wall)",
                "CREATE INDEX records_by_device ON records (device_id, wall)",
                "CREATE INDEX records_by_model ON records (model, wall)",
            ]),
            (2, [
                """
                CREATE TABLE alarm_log (id \(dialect == .sqlite ? "INTEGER PRIMARY KEY AUTOINCREMENT" : "BIGSERIAL PRIMARY KEY"),
                    rule TEXT NOT NULL, scope TEXT NOT NULL, subject TEXT NOT NULL, state TEXT NOT NULL, value \(real),
                    threshold \(real), reason TEXT NOT NULL, at \(real) NOT NULL, delivered \(flag) NOT NULL DEFAULT 0,
                    attempts INTEGER NOT NULL DEFAULT 0)
                """,
                "CREATE INDEX alarm_log_by_subject ON alarm_log (rule, subject, id)",
                "CREATE TABLE model_holds (model TEXT PRIMARY KEY, rule TEXT NOT NULL, reason TEXT NOT NULL, since \(real) NOT NULL)",
            ]),
            // The kept audio clip a decision names (relative to the device's spool), for exports.
            (3, ["ALTER TABLE records ADD COLUMN audio TEXT"]),
            // What devices said in the hours whose records they had to drop (cumulative; the latest totals win).
            (4, ["""
                CREATE TABLE rollups (device_id TEXT NOT NULL, epoch \(integer) NOT NULL, hour \(integer) NOT NULL, kind TEXT NOT NULL,
                    records \(integer) NOT NULL, confidence_sum \(real) NOT NULL, null_results \(integer) NOT NULL,
                    latency_ms_sum \(real) NOT NULL, rms_dbfs_sum \(real) NOT NULL, PRIMARY KEY (device_id, epoch, hour, kind))
                """]),
            // Pipeline and software metrics per decision: VAD segments, recogniser CPU, memory, queue, capture losses,
            // quick repeats.
            (5, ["vad_segments", "cpu_ms", "rss_mb", "queue_depth", "capture_overruns", "dropped_samples", "rtf"].map { "ALTER TABLE records ADD COLUMN \($0) \(real)" }
                + ["ALTER TABLE records ADD COLUMN quick_repeat \(flag)"]),
            // Fleet model rollout: device groups, the model registry (bundles as archives, so every collector of a pool
            // serves them), rollout plans (JSON, with a revision for optimistic updates), their log, and what devices report.
            (6, [
                "ALTER TABLE devices ADD COLUMN fleet_group TEXT",
                """
                CREATE TABLE models (id TEXT PRIMARY KEY, name TEXT NOT NULL, version TEXT NOT NULL, kind TEXT NOT NULL,
                    model_sha256 TEXT NOT NULL, archive_sha256 TEXT NOT NULL, archive_bytes \(integer) NOT NULL, signed \(flag) NOT NULL,
                    manifest TEXT NOT NULL, pushed_at \(real) NOT NULL, archive \(dialect == .sqlite ? "BLOB" : "BYTEA") NOT NULL)
                """,
                """
                CREATE TABLE rollouts (id TEXT PRIMARY KEY, model TEXT NOT NULL, grp TEXT NOT NULL, state TEXT NOT NULL,
                    revision \(integer) NOT NULL, plan TEXT NOT NULL, updated_at \(real) NOT NULL)
                """,
                """
                CREATE TABLE rollout_log (id \(dialect == .sqlite ? "INTEGER PRIMARY KEY AUTOINCREMENT" : "BIGSERIAL PRIMARY KEY"),
                    rollout TEXT NOT NULL, step INTEGER NOT NULL, action TEXT NOT NULL, reason TEXT NOT NULL, evidence TEXT NOT NULL,
                    at \(real) NOT NULL)
                """,
                "CREATE INDEX rollout_log_by_rollout ON rollout_log (rollout, id)",
                """
                CREATE TABLE device_reports (device TEXT PRIMARY KEY, rollout TEXT, step INTEGER, active TEXT, candidate TEXT, mode TEXT,
                    share \(real), reported_at \(real) NOT NULL)
                """,
                """
                CREATE TABLE device_events (device TEXT NOT NULL, time \(real) NOT NULL, event TEXT NOT NULL, bundle TEXT NOT NULL,
                    reason TEXT, rollout TEXT, PRIMARY KEY (device, time, event, bundle))
                """,
            ]),
            // Sampled utterance audio devices upload (opt-in on the device), kept with retention, for training exports.
            (7, [
                """
                CREATE TABLE audio_clips (device TEXT NOT NULL, name TEXT NOT NULL, audio \(dialect == .sqlite ? "BLOB" : "BYTEA") NOT NULL,
                    size \(integer) NOT NULL, sha256 TEXT NOT NULL, received \(real) NOT NULL, PRIMARY KEY (device, name))
                """,
                "CREATE INDEX audio_clips_by_age ON audio_clips (received)",
            ]),
            // Whether a candidate that ran beside the decision failed (the rollout gate's error rate).
            (8, ["ALTER TABLE records ADD COLUMN candidate_error \(flag)"]),
            // The local model's confidence whoever answered (output drift of the local model under cloud fallback), and
            // whether the shadow model agreed with the cloud teacher (the rollout gate's paired teacher comparison).
            (9, ["ALTER TABLE records ADD COLUMN local_confidence \(real)", "ALTER TABLE records ADD COLUMN shadow_agrees_cloud \(flag)"]),
        ]
    }
}
