#!/usr/bin/env python3
"""API conformance fuzzing of Shop, CRM and MES against their own `/openapi.json`.

Started by `scripts/conformance.sh` (which prepares the virtualenv and builds the binaries).
On the running infrastructure (PostgreSQL, RabbitMQ with its management API) it:

1. creates a private database per service and a private RabbitMQ vhost (named after this
   process id, so a run never touches another run's or a test's data), and drops the leftovers of
   earlier runs whose process is gone;
2. starts the three service binaries on free loopback ports (telemetry off) and waits for
   `/readyz`;
3. places one real order through Shop (product -> design -> saved version -> order -> MES job),
   so the fuzzer also reaches existing resources, not only 404s;
4. runs schemathesis against each service's served OpenAPI document (once per principal in
   `FUZZ_AS`, with that principal's access token) with a fixed seed, a
   bounded number of examples per operation and one worker (reproducible), with the checks:
   no server error, documented status codes / content types / response schemas, schema-valid
   requests accepted and schema-invalid requests rejected;
5. stops the services, drops the databases and the vhost, and prints one line per service.

Exit status: 0 when every service passed, 1 on any failure (details above the summary and in
the logs under `.data/conformance/`), 2 when the set-up itself failed.

Standard library only (apart from schemathesis, run as the `st` command of the same
virtualenv), so it needs nothing but Python 3.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
SERVICES = ("shop", "crm", "mes")
# Run-specific names start with this, followed by the owning process id.
PREFIX = "conformance_"
VHOST_PREFIX = "conformance-"


def log(msg: str) -> None:
    print(f"==> {msg}", file=sys.stderr, flush=True)


class SetupError(Exception):
    """The environment could not be prepared (not a conformance failure)."""


@dataclass
class Env:
    """Where the infrastructure is (the same variables as scripts/lib.sh)."""

    pg_port: str = os.environ.get("PG_PORT", "5432")
    pg_user: str = os.environ.get("PG_USER", "printflow")
    pg_password: str = os.environ.get("PG_PASSWORD", "printflow")
    amqp_port: str = os.environ.get("RABBITMQ_PORT", "5672")
    rabbit_user: str = os.environ.get("RABBITMQ_ADMIN_USER", "printflow-admin")
    rabbit_password: str = os.environ.get("RABBITMQ_ADMIN_PASSWORD", "rabbit-admin-dev-only")
    rabbit_api: str = (
        f"http://127.0.0.1:{os.environ.get('RABBITMQ_MANAGEMENT_PORT', '15672')}"
    )
    issuer: str = (
        f"http://127.0.0.1:{os.environ.get('KEYCLOAK_PORT', '8180')}/realms/printflow"
    )

    def database_url(self, name: str) -> str:
        return (
            f"postgres://{self.pg_user}:{self.pg_password}@127.0.0.1:{self.pg_port}/{name}"
        )


def psql(env: Env, sql: str) -> str:
    """Runs `sql` on the `postgres` database as the printflow user; returns stdout."""
    out = subprocess.run(
        ["psql", env.database_url("postgres"), "-v", "ON_ERROR_STOP=1", "-qAtc", sql],
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode != 0:
        raise SetupError(f"psql failed ({sql!r}): {out.stderr.strip()}")
    return out.stdout


def http(
    method: str,
    url: str,
    body: object | None = None,
    auth: tuple[str, str] | None = None,
    timeout: float = 10.0,
    bearer: str | None = None,
    form: dict[str, str] | None = None,
) -> tuple[int, object]:
    """One JSON (or form) request; returns (status, parsed body or raw text or None)."""
    data = None if body is None else json.dumps(body).encode()
    if form is not None:
        data = urllib.parse.urlencode(form).encode()
    req = urllib.request.Request(url, data=data, method=method)
    if form is not None:
        req.add_header("content-type", "application/x-www-form-urlencoded")
    elif data is not None:
        req.add_header("content-type", "application/json")
    if auth is not None:
        token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
        req.add_header("authorization", f"Basic {token}")
    if bearer is not None:
        req.add_header("authorization", f"Bearer {bearer}")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            status, raw = resp.status, resp.read()
    except urllib.error.HTTPError as err:
        status, raw = err.code, err.read()
    try:
        return status, json.loads(raw) if raw else None
    except ValueError:
        return status, raw.decode(errors="replace")


# ---- the dev realm (config/keycloak): the same ${VAR:default} placeholders Keycloak resolved

REALM = json.loads((ROOT / "config" / "keycloak" / "printflow-realm.json").read_text())


def placeholder(raw: str) -> str:
    m = re.fullmatch(r"\$\{([A-Z0-9_]+):(.*)\}", raw)
    if not m:
        raise SetupError(f"not a ${{VAR:default}} placeholder in the realm file: {raw}")
    return os.environ.get(m.group(1)) or m.group(2)


def client_secret(client: str) -> str:
    return placeholder(next(c["secret"] for c in REALM["clients"] if c["clientId"] == client))


def token(env: Env, who: str) -> str:
    """An access token of dev user `who` (alice, sam, pat, ...) or service client `who`."""
    users = {u["username"]: u for u in REALM["users"] if "credentials" in u}
    if who in users:
        form = {
            "grant_type": "password",
            "client_id": "printflow-cli",
            "username": who,
            "password": placeholder(users[who]["credentials"][0]["value"]),
        }
    else:
        form = {
            "grant_type": "client_credentials",
            "client_id": who,
            "client_secret": client_secret(who),
        }
    status, body = http("POST", f"{env.issuer}/protocol/openid-connect/token", form=form)
    if status != 200 or not isinstance(body, dict):
        raise SetupError(f"Keycloak refused a token for {who}: {status}")
    return body["access_token"]


# Who the fuzzer acts as against each service, one run each: between them, every operation is
# reached by a principal whose role it accepts (CRM: the Shop records and reads, support cancels
# and reads customers and the reconciliation report), except the admin-only ones (the drill
# faults, CRM's repair), which are reached only as refusals here: arming random faults would
# stall the rest of the run, and the services' and e2e tests cover them as admin.
FUZZ_AS = {"shop": ["alice"], "crm": ["shop-api", "sam"], "mes": ["pat"]}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def poll(deadline_s: float, what: str, probe) -> object:
    """Calls `probe` until it returns something truthy, or raises SetupError at the deadline."""
    end = time.monotonic() + deadline_s
    while True:
        try:
            got = probe()
        except (OSError, urllib.error.URLError):
            got = None
        if got:
            return got
        if time.monotonic() >= end:
            raise SetupError(f"timed out after {deadline_s:.0f}s waiting for {what}")
        time.sleep(0.2)


@dataclass
class Stack:
    """The private databases, vhost and service processes of one run."""

    env: Env
    bin_dir: Path
    log_dir: Path
    run_id: str = field(default_factory=lambda: str(os.getpid()))
    ports: dict[str, int] = field(default_factory=dict)
    procs: dict[str, subprocess.Popen] = field(default_factory=dict)
    databases: list[str] = field(default_factory=list)
    vhost: str | None = None

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.ports[service]}"

    # --- infrastructure -------------------------------------------------------------------

    def remove_leftovers(self) -> None:
        """Drops databases and vhosts of earlier runs whose process no longer exists."""
        names = psql(
            self.env,
            f"SELECT datname FROM pg_database WHERE datname LIKE '{PREFIX}%'",
        ).split()
        for name in names:
            m = re.fullmatch(rf"{PREFIX}(\d+)_\w+", name)
            if m and not pid_alive(int(m.group(1))):
                psql(self.env, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        status, vhosts = http("GET", f"{self.env.rabbit_api}/api/vhosts", auth=(self.env.rabbit_user, self.env.rabbit_password))
        if status == 200 and isinstance(vhosts, list):
            for v in vhosts:
                m = re.fullmatch(rf"{VHOST_PREFIX}(\d+)", v.get("name", ""))
                if m and not pid_alive(int(m.group(1))):
                    self._delete_vhost(v["name"])

    def create_infrastructure(self) -> None:
        for service in SERVICES:
            name = f"{PREFIX}{self.run_id}_{service}"
            psql(self.env, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            psql(self.env, f'CREATE DATABASE "{name}"')
            self.databases.append(name)
        vhost = f"{VHOST_PREFIX}{self.run_id}"
        api = self.env.rabbit_api
        status, body = http("PUT", f"{api}/api/vhosts/{vhost}", auth=(self.env.rabbit_user, self.env.rabbit_password))
        if status not in (201, 204):
            raise SetupError(f"creating RabbitMQ vhost {vhost}: {status} {body}")
        self.vhost = vhost
        status, body = http(
            "PUT",
            f"{api}/api/permissions/{vhost}/{self.env.rabbit_user}",
            {"configure": ".*", "write": ".*", "read": ".*"},
            auth=(self.env.rabbit_user, self.env.rabbit_password),
        )
        if status not in (201, 204):
            raise SetupError(f"granting the admin on vhost {vhost}: {status} {body}")

    def _delete_vhost(self, name: str) -> None:
        http("DELETE", f"{self.env.rabbit_api}/api/vhosts/{name}", auth=(self.env.rabbit_user, self.env.rabbit_password))

    # --- services -------------------------------------------------------------------------

    def start_services(self, model_dir: Path) -> None:
        for service in SERVICES:
            self.ports[service] = free_port()
        amqp = (
            f"amqp://{self.env.rabbit_user}:{self.env.rabbit_password}"
            f"@127.0.0.1:{self.env.amqp_port}/{self.vhost}"
        )
        common = {
            "OTEL_SDK_DISABLED": "true",
            "RUST_LOG": os.environ.get("RUST_LOG", "warn"),
        }
        envs = {
            "shop": {
                "SHOP_HTTP_PORT": str(self.ports["shop"]),
                "SHOP_DATABASE_URL": self.env.database_url(self.databases[0]),
                "SHOP_CRM_URL": self.url("crm"),
                "SHOP_MODEL_STORE_DIR": str(model_dir),
                "SHOP_AUTH_ISSUER_URL": self.env.issuer,
                "SHOP_AUTH_CLIENT_SECRET": client_secret("shop-api"),
            },
            "crm": {
                "CRM_HTTP_PORT": str(self.ports["crm"]),
                "CRM_DATABASE_URL": self.env.database_url(self.databases[1]),
                "CRM_AMQP_URL": amqp,
                "CRM_AUTH_ISSUER_URL": self.env.issuer,
                "CRM_AUTH_CLIENT_SECRET": client_secret("crm-api"),
                "CRM_MES_URL": self.url("mes"),
            },
            "mes": {
                "MES_HTTP_PORT": str(self.ports["mes"]),
                "MES_DATABASE_URL": self.env.database_url(self.databases[2]),
                "MES_AMQP_URL": amqp,
                "MES_SHOP_URL": self.url("shop"),
                # Jobs wait in QUALITY_CHECK for a verdict, so POST /jobs/{id}/qc has one to give.
                "MES_QC_MODE": "manual",
                "MES_AUTH_ISSUER_URL": self.env.issuer,
                "MES_AUTH_CLIENT_SECRET": client_secret("mes-api"),
            },
        }
        # Only what the services read: nothing from the caller's shell (a developer's
        # SHOP_HTTP_PORT, say) leaks into the run.
        base = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "TZ")}
        for service in SERVICES:
            binary = self.bin_dir / f"printflow-{service}"
            if not binary.is_file():
                raise SetupError(f"{binary} is missing (build it with cargo build --bins)")
            logfile = open(self.log_dir / f"{service}.log", "wb")  # noqa: SIM115 (kept open)
            self.procs[service] = subprocess.Popen(
                [str(binary)],
                cwd=ROOT,
                env={**base, **common, **envs[service]},
                stdin=subprocess.DEVNULL,
                stdout=logfile,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        for service in SERVICES:
            proc = self.procs[service]

            def ready(service=service, proc=proc):
                if proc.poll() is not None:
                    raise SetupError(
                        f"{service} exited with {proc.returncode}; see "
                        f"{self.log_dir / (service + '.log')}"
                    )
                return http("GET", f"{self.url(service)}/readyz", timeout=2)[0] == 200

            poll(60, f"{service} /readyz on port {self.ports[service]}", ready)
            log(f"{service} ready on {self.url(service)}")

    def stop_services(self) -> None:
        for service, proc in self.procs.items():
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for service, proc in self.procs.items():
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                log(f"{service} did not stop within 20 s; killing it")
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()

    def drop_infrastructure(self) -> None:
        for name in self.databases:
            try:
                psql(self.env, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            except SetupError as err:
                log(f"warning: {err}")
        if self.vhost:
            self._delete_vhost(self.vhost)


def seed(stack: Stack) -> dict[str, list]:
    """Places one real order; returns the ids the fuzzer should also try."""
    shop, crm, mes = stack.url("shop"), stack.url("crm"), stack.url("mes")
    customer, support, production = (token(stack.env, who) for who in ("alice", "sam", "pat"))

    def ok(resp, what, statuses=(200, 201)):
        status, body = resp
        if status not in statuses:
            raise SetupError(f"seeding: {what} answered {status}: {body}")
        return body

    products = ok(http("GET", f"{shop}/catalog/products?per_page=3"), "product search")
    product_ids = [p["id"] for p in products["items"]]
    design = ok(http("POST", f"{shop}/designs", {"product_id": product_ids[0]}, bearer=customer), "create design")
    design_id = design["design_id"]
    ok(
        http(
            "POST",
            f"{shop}/designs/{design_id}/edits",
            {"operations": [{"op": "set_engraving", "text": "fuzz"}]},
            bearer=customer,
        ),
        "edit design",
    )
    ok(http("POST", f"{shop}/designs/{design_id}/versions", bearer=customer), "save design")
    order = ok(
        http(
            "POST",
            f"{shop}/orders",
            {
                "design_id": design_id,
                "design_version": 1,
                "quantity": 1,
                "shipping": "standard",
                "customer": {"name": "Ada Lovelace", "email": "ada@example.test"},
            },
            bearer=customer,
        ),
        "place order",
    )
    order_id = order["order_id"]
    job = poll(
        60,
        "MES to take the order",
        lambda: (lambda r: r[1] if r[0] == 200 else None)(
            http("GET", f"{mes}/orders/{order_id}/job", bearer=production)
        ),
    )
    crm_order = ok(http("GET", f"{crm}/orders/{order_id}", bearer=support), "read order in CRM")
    printers = ok(http("GET", f"{mes}/printers", bearer=production), "list printers")
    return {
        "product_ids": product_ids,
        "design_ids": [design_id],
        "design_versions": [1],
        "order_ids": [order_id],
        "customer_ids": [crm_order["customer_id"]],
        "job_ids": [job["id"]],
        "printer_ids": [p["id"] for p in printers],
    }


def toml_value(v: object) -> str:
    return json.dumps(v)  # JSON strings, numbers and arrays are valid TOML values


def write_config(path: Path, service: str, ids: dict[str, list]) -> None:
    """The shared settings, the service's own, and dictionaries of this run's real ids."""
    text = (HERE / "schemathesis.toml").read_text()
    text += f"\n# ---- {service}.toml ----\n\n" + (HERE / f"{service}.toml").read_text()
    text += "\n# ---- generated by tools/conformance/run.py: ids that exist in this run ----\n"
    for name, values in ids.items():
        text += f"\n[dictionaries.{name}]\nvalues = {toml_value(values)}\n"
    path.write_text(text)


@dataclass
class Result:
    """What schemathesis reported for one service."""

    service: str
    exit_code: int
    summary: str
    seconds: float


def fuzz(
    stack: Stack, service: str, who: str, config: Path, args: argparse.Namespace
) -> Result:
    st = Path(sys.executable).parent / "st"
    run = f"{service}-as-{who}"
    report_dir = stack.log_dir / f"{run}-report"
    cmd = [
        str(st),
        "--config-file",
        str(config),
        "--no-color",
        "run",
        f"{stack.url(service)}/openapi.json",
        "--workers",
        "1",
        "--seed",
        str(args.seed),
        "--max-examples",
        str(args.max_examples),
        "--generation-database",
        "none",
        "--report",
        "junit",
        "--report-dir",
        str(report_dir),
    ]
    log(f"fuzzing {service} as {who}: {' '.join(cmd[1:])}")
    # Added after the log line: a token is never printed (schemathesis masks it in its output).
    cmd += ["--header", f"Authorization: Bearer {token(stack.env, who)}"]
    started = time.monotonic()
    out_path = stack.log_dir / f"{run}-schemathesis.log"
    with open(out_path, "w") as out:
        proc = subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=stack.log_dir
        )
        assert proc.stdout is not None
        lines = []
        for line in proc.stdout:
            out.write(line)
            lines.append(line)
            if args.verbose:
                sys.stderr.write(line)
        code = proc.wait()
    seconds = time.monotonic() - started
    text = "".join(lines)
    if code != 0 and not args.verbose:
        # The failures with their reproduction commands, as schemathesis printed them.
        sys.stderr.write(text)
    # schemathesis closes with e.g. "==== 1 failure, 1 warning in 22.39s ====" (or "No issues
    # found in ...") and counts its test cases as "Test cases:\n  501 generated, ...".
    summary = ""
    for line in reversed(lines):
        if line.startswith("=") and re.search(r" in [0-9.]+s ", line):
            summary = line.strip("= \n")
            break
    operations = re.search(r"Tested: (\d+)", text)
    cases = re.search(r"^\s*(\d+ generated[^\n]*)", text, re.MULTILINE)
    if operations:
        summary += f"; {operations.group(1)} operations"
    if cases:
        summary += f"; test cases: {cases.group(1).strip()}"
    return Result(f"{service} as {who}", code, summary or f"exit code {code}", seconds)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bin-dir", type=Path, default=ROOT / "target" / "debug")
    parser.add_argument(
        "--data-dir", type=Path, default=Path(os.environ.get("DATA_DIR", ROOT / ".data"))
    )
    parser.add_argument(
        "--max-examples", type=int, default=30, help="test cases per operation and phase"
    )
    parser.add_argument("--seed", type=int, default=20261201, help="schemathesis' random seed")
    parser.add_argument("--verbose", action="store_true", help="stream schemathesis' output")
    parser.add_argument("services", nargs="*", metavar="{shop,crm,mes}", help="default: all three")
    args = parser.parse_args()
    unknown = set(args.services) - set(SERVICES)
    if unknown:
        parser.error(f"unknown services: {', '.join(sorted(unknown))}")
    args.services = args.services or list(SERVICES)

    log_dir = args.data_dir / "conformance"
    shutil.rmtree(log_dir, ignore_errors=True)
    log_dir.mkdir(parents=True)
    stack = Stack(Env(), args.bin_dir.resolve(), log_dir)
    # Stop cleanly on Ctrl-C / TERM: the finally block below still runs.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(130))
    results: list[Result] = []
    try:
        stack.remove_leftovers()
        stack.create_infrastructure()
        stack.start_services(log_dir / "models")
        ids = seed(stack)
        for service in args.services:
            config = log_dir / f"{service}-schemathesis.toml"
            write_config(config, service, ids)
            for who in FUZZ_AS[service]:
                results.append(fuzz(stack, service, who, config, args))
    except SetupError as err:
        log(f"set-up failed: {err}")
        return 2
    finally:
        stack.stop_services()
        stack.drop_infrastructure()
    print("API conformance (schemathesis):", flush=True)
    failed = 0
    for r in results:
        verdict = "ok" if r.exit_code == 0 else "FAILED"
        failed += r.exit_code != 0
        print(f"  {r.service:<16} {verdict:<6} {r.summary} ({r.seconds:.0f}s)", flush=True)
    print(f"conformance: {len(results) - failed} passed, {failed} failed", flush=True)
    if failed:
        print(f"  details: {log_dir}/<service>-schemathesis.log and the service logs there")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
