"""deploy/: the Dockerfile, docker-compose.yml, the systemd unit and the Postfix
snippet, checked as far as a machine without a Docker engine or systemd allows:
parsed by the parsers the field uses (dockerfile-parse, PyYAML, configparser),
cross-checked against each other and against the settings they feed, which
load through bot.config as the service would load them."""

from __future__ import annotations

import configparser
import ipaddress
import json
import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from dockerfile_parse import DockerfileParser

from bot.config import Settings, load_settings
from bot.store.url import async_url

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
EXAMPLE = ROOT / "config" / "kvm-patchbot.toml"
SECRET_WORDS = ("TOKEN", "PASSWORD", "SECRET", "KEY")


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for key in list(os.environ):
        if key.startswith("KVMBOT_"):
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)


# --- Dockerfile ---------------------------------------------------------------


def _stages() -> list[list[dict[str, Any]]]:
    """The Dockerfile's instructions, one list per stage (FROM starts one)."""
    parser = DockerfileParser(path=str(DEPLOY / "Dockerfile"))
    stages: list[list[dict[str, Any]]] = []
    for ins in parser.structure:
        if ins["instruction"] == "FROM":
            stages.append([])
        if stages:
            stages[-1].append(ins)
    return stages


def _of(stage: list[dict[str, Any]], instruction: str) -> list[str]:
    return [i["value"] for i in stage if i["instruction"] == instruction]


def test_the_image_is_built_in_stages_and_runs_slim() -> None:
    stages = _stages()
    assert len(stages) >= 2
    build, runtime = stages[0], stages[-1]
    assert _of(build, "FROM")[0].endswith(" AS build")
    assert all("-slim" in _of(s, "FROM")[0] for s in stages)
    # The compiler is installed in the build stage only.
    assert any("gcc" in run for run in _of(build, "RUN"))
    assert not any("gcc" in run for run in _of(runtime, "RUN"))


def test_the_wheel_is_built_compiled_and_checked_compiled() -> None:
    build, runtime = _stages()[0], _stages()[-1]
    assert any("KVMBOT_COMPILE=1" in env for env in _of(build, "ENV"))
    assert any(re.search(r"\bpip wheel\b.* \.$", run) for run in _of(build, "RUN"))
    installs = [run for run in _of(runtime, "RUN") if "pip install" in run]
    assert installs and all("--no-index" in run for run in installs), "the runtime installs the built wheels only"
    assert any("bot.mail.parse" in run and ".so" in run for run in installs), "the image checks the parser is compiled"


def test_the_build_copies_what_the_build_backend_reads() -> None:
    """What kvmbot_build copies for a compiled build is what the image needs,
    and every COPY source exists in the repository (the context is its top)."""
    import sys

    sys.path.insert(0, str(ROOT / "build_support"))
    try:
        from kvmbot_build import _BUILD_INPUTS
    finally:
        sys.path.remove(str(ROOT / "build_support"))
    copied: set[str] = set()
    for value in _of(_stages()[0], "COPY"):
        *sources, _dest = shlex.split(value)
        copied.update(s.rstrip("/") for s in sources if not s.startswith("--"))
    assert copied == set(_BUILD_INPUTS)
    assert all((ROOT / s).exists() for s in copied)
    ignore = (DEPLOY / "Dockerfile.dockerignore").read_text().split()
    assert "**" in ignore and all(f"!{s}" in ignore or f"!{s}/" in ignore for s in copied)


def test_the_image_runs_as_a_user_with_a_healthcheck_and_no_secrets() -> None:
    runtime = _stages()[-1]
    users = _of(runtime, "USER")
    assert users and users[-1].split(":")[0] not in ("root", "0")
    order = [i["instruction"] for i in runtime]
    assert order.index("USER") > max(i for i, name in enumerate(order) if name == "RUN"), "USER after the last RUN"
    (health,) = _of(runtime, "HEALTHCHECK")
    assert "/healthz" in health and "KVMBOT_METRICS__PORT" in health
    env = _env_of(runtime)
    assert env["KVMBOT_METRICS__PORT"] in _of(runtime, "EXPOSE")[0].split()
    assert env["KVMBOT_SMTP__PORT"] in _of(runtime, "EXPOSE")[0].split()
    baked = [k for k in env if any(w in k.upper() for w in SECRET_WORDS)]
    assert not baked, f"secrets baked into the image: {baked}"
    for ins in _stages()[0] + runtime:
        if ins["instruction"] in ("COPY", "ADD"):
            assert not re.search(r"secret|token|\.env\b", ins["value"], re.I), ins["value"]
    assert _of(runtime, "ENTRYPOINT") == ['["kvm-patchbot"]']


def _env_of(stage: list[dict[str, Any]]) -> dict[str, str]:
    out: dict[str, str] = {}
    for value in _of(stage, "ENV"):
        for part in shlex.split(value):
            key, _, val = part.partition("=")
            out[key] = val
    return out


def test_the_images_own_settings_load(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in _env_of(_stages()[-1]).items():
        if key.startswith("KVMBOT_"):
            monkeypatch.setenv(key, value)
    s = load_settings()
    assert s.store.url == "sqlite+aiosqlite:////var/lib/kvm-patchbot/kvm-patchbot.db"
    assert str(s.poller.mirror).startswith("/var/lib/kvm-patchbot/")
    assert str(s.discord.preview_file).startswith("/var/lib/kvm-patchbot/")


# --- docker-compose.yml --------------------------------------------------------


def _compose() -> dict[str, Any]:
    data = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())
    assert isinstance(data, dict)
    return data


def test_compose_runs_the_bot_after_a_healthy_postgresql() -> None:
    c = _compose()
    bot, db = c["services"]["bot"], c["services"]["db"]
    assert db["image"].startswith("postgres:")
    assert bot["depends_on"] == {"db": {"condition": "service_healthy"}}
    for service in (bot, db):
        check = service["healthcheck"]
        assert check["test"][0] in ("CMD", "CMD-SHELL")
        assert {"interval", "timeout", "retries", "start_period"} <= set(check)
    assert "pg_isready" in db["healthcheck"]["test"]
    assert any("/healthz" in part and "KVMBOT_METRICS__PORT" in part for part in bot["healthcheck"]["test"])
    assert bot["build"] == {"context": "..", "dockerfile": "deploy/Dockerfile"}


def test_compose_keeps_secrets_in_files_and_ports_on_loopback() -> None:
    c = _compose()
    bot, db = c["services"]["bot"], c["services"]["db"]
    env = {k: str(v) for k, v in bot["environment"].items()}
    literal = [k for k in env if any(w in k for w in SECRET_WORDS) and not k.endswith("_FILE")]
    assert not literal, f"secret values in the compose file: {literal}"
    assert db["environment"].get("POSTGRES_PASSWORD") is None and "POSTGRES_PASSWORD_FILE" in db["environment"]
    declared = c["secrets"]
    for service in (bot, db):
        for name in service.get("secrets", []):
            assert set(declared[name]) == {"file"}
    for key, path in env.items():
        if key.endswith("_FILE"):
            assert path.startswith("/run/secrets/") and path.removeprefix("/run/secrets/") in bot["secrets"]
    assert "@" in env["KVMBOT_STORE__URL"] and ":" not in env["KVMBOT_STORE__URL"].split("//")[1].split("@")[0]
    for mapping in bot["ports"]:
        assert mapping.startswith("127.0.0.1:"), mapping
    assert c["networks"]["store"]["internal"] is True
    assert db["networks"] == ["store"]


def test_compose_settings_load_and_agree_with_the_compose_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The bot's environment, with the example config as its mounted file, is
    valid for bot.config; the ports it publishes, the URL's host, the networks
    allowed to deliver and the secrets it reads agree with the compose file."""
    c = _compose()
    bot = c["services"]["bot"]
    secrets = {}
    for name in bot["secrets"]:
        secrets[name] = tmp_path / name
        secrets[name].write_text(f"{name}-value\n")
    for key, value in bot["environment"].items():
        if str(value).startswith("/run/secrets/"):
            value = str(secrets[str(value).removeprefix("/run/secrets/")])
        monkeypatch.setenv(key, str(value))
    mounted = {v.split(":")[1]: v.split(":")[0] for v in bot["volumes"] if v.startswith("./")}
    config_arg = bot["command"][bot["command"].index("--config") + 1]
    assert config_arg in mounted
    s = load_settings(EXAMPLE)
    assert isinstance(s, Settings)
    assert s.store.url == "postgresql+asyncpg://kvmbot:db_password-value@db:5432/kvmbot"
    assert s.store.url.split("@")[1].split(":")[0] in c["services"]
    assert s.discord.token is not None and s.discord.token.get_secret_value() == "discord_token-value"
    published = {m.split(":")[-1] for m in bot["ports"]}
    assert str(s.smtp.port) in published
    assert os.environ["KVMBOT_METRICS__PORT"] in published
    subnet = ipaddress.ip_network(c["networks"]["default"]["ipam"]["config"][0]["subnet"])
    assert subnet in s.smtp.client_networks, "the host's MTA arrives through the network's gateway"
    assert async_url(bot["environment"]["KVMBOT_STORE__URL"]).startswith("postgresql+asyncpg://kvmbot@db:")


def test_docker_compose_config_accepts_the_file(tmp_path: Path) -> None:
    """Where `docker compose` exists (the plugin; this machine's client has
    none), it validates the file against the Compose specification."""
    docker = shutil.which("docker")
    if docker is None or subprocess.run([docker, "compose", "version"], capture_output=True).returncode != 0:
        pytest.skip("no `docker compose` here: the structure is checked by the other tests")
    work = tmp_path / "deploy"
    shutil.copytree(DEPLOY, work)
    (work / "secrets").mkdir()
    for name in ("db_password", "discord_token"):
        (work / "secrets" / name).write_text("x\n")
    shutil.copy(EXAMPLE, work / "kvm-patchbot.toml")
    done = subprocess.run([docker, "compose", "-f", str(work / "docker-compose.yml"), "config", "--format", "json"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert set(json.loads(done.stdout)["services"]) == {"bot", "db"}


# --- systemd ------------------------------------------------------------------


def _unit() -> dict[str, dict[str, list[str]]]:
    """Section -> key -> values: systemd keys repeat (SystemCallFilter=...)."""
    out: dict[str, dict[str, list[str]]] = {}
    section = None
    for raw in (DEPLOY / "kvm-patchbot.service").read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            section = line.strip("[]")
            out[section] = {}
            continue
        assert section is not None and "=" in line, raw
        key, _, value = line.partition("=")
        out[section].setdefault(key, []).append(value)
    return out


HARDENING = {
    "NoNewPrivileges": "true",
    "ProtectSystem": "strict",
    "ProtectHome": "true",
    "PrivateTmp": "true",
    "PrivateDevices": "true",
    "ProtectKernelTunables": "true",
    "ProtectKernelModules": "true",
    "ProtectKernelLogs": "true",
    "ProtectControlGroups": "true",
    "ProtectClock": "true",
    "ProtectHostname": "true",
    "RestrictSUIDSGID": "true",
    "RestrictRealtime": "true",
    "RestrictNamespaces": "true",
    "LockPersonality": "true",
    "MemoryDenyWriteExecute": "true",
    "SystemCallArchitectures": "native",
    "CapabilityBoundingSet": "",
}


def test_the_unit_is_hardened() -> None:
    service = _unit()["Service"]
    missing = {k: v for k, v in HARDENING.items() if service.get(k, [None])[-1] != v}
    assert not missing, f"not set as expected: {missing}"
    assert "@system-service" in service["SystemCallFilter"]
    assert service["User"] != ["root"]
    families = service["RestrictAddressFamilies"][-1].split()
    assert set(families) == {"AF_INET", "AF_INET6", "AF_UNIX"}


def test_what_the_service_writes_is_inside_its_writable_paths() -> None:
    """ProtectSystem=strict makes everything read-only but ReadWritePaths and
    the StateDirectory: the example config's store, mirror and preview file
    must be there, or the service cannot write them."""
    service = _unit()["Service"]
    writable = [Path("/var/lib") / d for d in service["StateDirectory"]] + [Path(p) for p in service["ReadWritePaths"]]
    s = load_settings(EXAMPLE)
    store = Path(s.store.url.split(":///", 1)[1])
    for path in (store, s.poller.mirror, s.discord.preview_file):
        assert any(path.is_relative_to(w) for w in writable), path
    config_arg = shlex.split(service["ExecStart"][0])
    assert config_arg[1:3] == ["run", "--config"]


def test_the_unit_reads_the_token_as_a_credential_and_gives_up_on_bad_settings() -> None:
    service = _unit()["Service"]
    (credential,) = service["LoadCredential"]
    name, _, source = credential.partition(":")
    assert source.startswith("/etc/kvm-patchbot/")
    assert f"KVMBOT_DISCORD__TOKEN_FILE=%d/{name}" in service["Environment"]
    # bot.cli exits 2 for a bad configuration: systemd should not restart on it.
    assert service["RestartPreventExitStatus"] == ["2"]
    assert service["Restart"] == ["on-failure"]


def test_systemd_analyze_verifies_the_unit(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("no systemd-analyze here: the unit's keys are checked by the other tests")
    unit = tmp_path / "kvm-patchbot.service"
    unit.write_text((DEPLOY / "kvm-patchbot.service").read_text().replace("/opt/kvm-patchbot/venv/bin/", "/bin/"))
    done = subprocess.run([analyze, "verify", str(unit)], capture_output=True, text=True, timeout=60)
    assert "Unknown key" not in done.stderr and "Invalid" not in done.stderr, done.stderr


def test_configparser_reads_the_unit_too() -> None:
    """The unit is plain INI syntax (repeated keys aside)."""
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # systemd keys are case-sensitive
    parser.read_string((DEPLOY / "kvm-patchbot.service").read_text())
    assert parser.sections() == ["Unit", "Service", "Install"]


# --- Postfix -------------------------------------------------------------------


def _table(name: str) -> dict[str, str]:
    out = {}
    for line in (DEPLOY / "postfix" / name).read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, value = line.split(None, 1)
            out[key] = value.strip()
    return out


def test_the_postfix_transport_hands_the_address_to_the_sink() -> None:
    s = load_settings(EXAMPLE)
    transport = _table("transport")
    (address, nexthop), = transport.items()
    m = re.fullmatch(r"smtp:\[(?P<host>[^\]]+)\]:(?P<port>\d+)", nexthop)
    assert m is not None, nexthop
    assert (m["host"], int(m["port"])) == (s.smtp.host, s.smtp.port)
    assert address in s.smtp.recipients, "the sink must accept the address Postfix hands it"
    assert ipaddress.ip_address(m["host"]) in ipaddress.ip_network("127.0.0.0/8")
    assert any(ipaddress.ip_address(m["host"]) in net for net in s.smtp.client_networks)
    assert _table("relay_recipients") == {address: "OK"}
    main_cf = dict(
        line.split(" = ", 1) for line in (DEPLOY / "postfix" / "main.cf").read_text().splitlines()
        if line and not line.startswith("#")
    )
    assert main_cf["relay_domains"] == address.split("@")[1]
    assert main_cf["transport_maps"] == "hash:/etc/postfix/transport"
    assert main_cf["relay_recipient_maps"] == "hash:/etc/postfix/relay_recipients"
    assert int(main_cf["message_size_limit"]) <= s.smtp.max_message_size
