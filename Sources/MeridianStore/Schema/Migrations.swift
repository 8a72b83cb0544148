/// Versioned schema migrations, applied in order at start, each in its own transaction under an advisory lock,
/// so that hub replicas starting together apply each exactly once.
enum Migrations {
    struct Migration: Sendable {
        var version: Int
        var name: String
        var sql: [String]
    }

    static let all: [Migration] = [
        Migration(version: 1, name: "registry", sql: [
            """
            CREATE TABLE regions (
                id text PRIMARY KEY,
                provider text NOT NULL,
                provider_region text NOT NULL,
                name text NOT NULL,
                city text NOT NULL,
                country text NOT NULL,
                latitude double precision NOT NULL,
                longitude double precision NOT NULL,
                blocs text[] NOT NULL DEFAULT '{}'
            )
            """,
            """
            CREATE TABLE clusters (
                name text PRIMARY KEY,
                region text NOT NULL REFERENCES regions(id),
                gateway_address text NOT NULL,
                labels jsonb NOT NULL DEFAULT '{}',
                status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'up', 'down')),
                created_at timestamptz NOT NULL DEFAULT now(),
                updated_at timestamptz NOT NULL DEFAULT now(),
                last_heartbeat_at timestamptz
            )
            """,
            """
            CREATE TABLE join_tokens (
                id text PRIMARY KEY,
                cluster text NOT NULL REFERENCES clusters(name) ON DELETE CASCADE,
                secret_hash text NOT NULL UNIQUE,
                expires_at timestamptz NOT NULL,
                used_at timestamptz,
                created_by text NOT NULL,
                created_at timestamptz NOT NULL DEFAULT now()
            )
            """,
            """
            CREATE TABLE inventory (
                cluster text PRIMARY KEY REFERENCES clusters(name) ON DELETE CASCADE,
                report jsonb NOT NULL,
                observed_at timestamptz NOT NULL
            )
            """,
            """
            CREATE TABLE prices (
                id bigserial PRIMARY KEY,
                region text REFERENCES regions(id),
                cluster text REFERENCES clusters(name) ON DELETE CASCADE,
                gpu_model text NOT NULL,
                on_demand_per_hour double precision NOT NULL CHECK (on_demand_per_hour >= 0),
                spot_per_hour double precision CHECK (spot_per_hour >= 0),
                currency text NOT NULL,
                effective_from timestamptz NOT NULL,
                source text NOT NULL,
                CHECK ((region IS NULL) <> (cluster IS NULL)),
                UNIQUE NULLS NOT DISTINCT (region, cluster, gpu_model, effective_from)
            )
            """,
            """
            CREATE TABLE services (
                cluster text NOT NULL REFERENCES clusters(name) ON DELETE CASCADE,
                name text NOT NULL,
                version text NOT NULL,
                protocol text NOT NULL,
                port integer NOT NULL,
                default_data_class text,
                labels jsonb NOT NULL DEFAULT '{}',
                updated_at timestamptz NOT NULL DEFAULT now(),
                PRIMARY KEY (cluster, name)
            )
            """,
            """
            CREATE TABLE api_tokens (
                id text PRIMARY KEY,
                name text NOT NULL UNIQUE,
                role text NOT NULL CHECK (role IN ('admin', 'platform', 'compliance', 'viewer')),
                secret_hash text NOT NULL UNIQUE,
                created_at timestamptz NOT NULL DEFAULT now(),
                expires_at timestamptz,
                revoked_at timestamptz
            )
            """,
            """
            CREATE TABLE audit_log (
                id bigserial PRIMARY KEY,
                at timestamptz NOT NULL DEFAULT clock_timestamp(),
                actor text NOT NULL,
                action text NOT NULL,
                object_type text NOT NULL,
                object_name text NOT NULL,
                before jsonb,
                after jsonb
            )
            """,
            "CREATE INDEX audit_log_object ON audit_log (object_type, object_name, id)",
            "CREATE INDEX audit_log_action ON audit_log (action, id)",
        ]),
        Migration(version: 2, name: "policy-identity-distribution", sql: [
            """
            CREATE TABLE policies (
                version bigserial PRIMARY KEY,
                kind text NOT NULL CHECK (kind IN ('residency', 'routing')),
                document text NOT NULL,
                compiled jsonb NOT NULL,
                author text NOT NULL,
                diff text NOT NULL DEFAULT '',
                created_at timestamptz NOT NULL DEFAULT now()
            )
            """,
            """
            CREATE TABLE certificates (
                serial text PRIMARY KEY,
                cluster text NOT NULL,
                spiffe_id text NOT NULL,
                not_before timestamptz NOT NULL,
                not_after timestamptz NOT NULL,
                issued_at timestamptz NOT NULL DEFAULT now(),
                revoked_at timestamptz
            )
            """,
            """
            CREATE TABLE routing_tables (
                cluster text PRIMARY KEY,
                version bigint NOT NULL,
                hash text NOT NULL,
                body text NOT NULL,
                published_at timestamptz NOT NULL DEFAULT clock_timestamp()
            )
            """,
            """
            CREATE TABLE config_status (
                cluster text PRIMARY KEY,
                applied_version bigint NOT NULL,
                applied_hash text,
                applied_at timestamptz NOT NULL,
                convergence_ms double precision
            )
            """,
            """
            CREATE TABLE probes (
                from_cluster text NOT NULL,
                to_cluster text NOT NULL,
                reachable boolean NOT NULL,
                rtt_ms double precision,
                observed_at timestamptz NOT NULL,
                PRIMARY KEY (from_cluster, to_cluster)
            )
            """,
            """
            CREATE TABLE settings (
                key text PRIMARY KEY,
                value text NOT NULL
            )
            """,
        ]),
        Migration(version: 3, name: "sealed-ca", sql: [
            """
            CREATE TABLE mesh_ca (
                id smallint PRIMARY KEY CHECK (id = 1),
                trust_domain text NOT NULL,
                certificate_pem text NOT NULL,
                chain_pem text NOT NULL,
                trust_bundle_pem text NOT NULL,
                sealed_key bytea NOT NULL,
                key_id text NOT NULL,
                created_at timestamptz NOT NULL DEFAULT now()
            )
            """,
        ]),
    ]
}
