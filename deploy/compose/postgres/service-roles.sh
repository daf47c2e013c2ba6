#!/bin/bash
# PostgreSQL's first start in a container (/docker-entrypoint-initdb.d, run once on an empty data
# volume): one login role per service owning only its database, as scripts/infra.sh makes them
# natively (docs/security.md). Passwords from PG_SHOP_PASSWORD, PG_CRM_PASSWORD and
# PG_MES_PASSWORD; the admin role is the image's POSTGRES_USER. Also used by the Helm chart's
# in-cluster dev PostgreSQL (deploy/helm/printflow/files/postgres/service-roles.sh links here).

set -euo pipefail

for svc in shop crm mes; do
    pass_var="PG_${svc^^}_PASSWORD"
    [[ -n "${!pass_var:-}" ]] || { echo "service-roles.sh: $pass_var is not set" >&2; exit 1; }
    psql -X -q -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
        -v role="printflow_$svc" -v pass="${!pass_var}" <<'SQL'
SELECT format('CREATE ROLE %I', :'role') WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'role') \gexec
ALTER ROLE :"role" WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE INHERIT PASSWORD :'pass';
SELECT format('CREATE DATABASE %I OWNER %I ENCODING %L', :'role', :'role', 'UTF8')
 WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'role') \gexec
REVOKE ALL ON DATABASE :"role" FROM PUBLIC;
GRANT CONNECT, TEMPORARY ON DATABASE :"role" TO :"role";
SQL
done
