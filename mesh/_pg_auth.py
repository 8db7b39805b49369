"""Who may log in to the mesh's PostgreSQL, and the passwords of the roles that may.

Over TCP every role authenticates with scram-sha-256. The `postgres` superuser
has no password, so it cannot log in over TCP at all; it is reached only over
the unix socket by peer authentication, as the OS user that runs the server
(the `postgres` system user when we are root, else the developer), who owns the
data directory and so could do anything to the cluster anyway.

Each login role's password is random, made on first start and kept in a
libpq password file (`<role>.pgpass`, mode 0600, in a 0700 directory) that the
role's DSN names, so DSNs can be printed and passed around without the secret.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from pathlib import Path

from mesh.process import MeshError

# Written at every start: a data directory from a version that trusted every
# local connection is locked down by its next start.
_HBA = """\
# Written by Model Gateway (mesh/postgres.py) at every start: edits are lost.
# TYPE  DATABASE  USER      ADDRESS         METHOD
local   all       {superuser}                  peer map=bootstrap
local   all       all                       scram-sha-256
host    all       all       127.0.0.1/32    scram-sha-256
"""

_IDENT = """\
# Written by Model Gateway (mesh/postgres.py) at every start: edits are lost.
# MAPNAME    SYSTEM-USERNAME  PG-USERNAME
bootstrap    {os_user}  {superuser}
"""

_SCRAM_ITERATIONS = 4096


def write_hba(pgdata: Path, *, superuser: str, os_user: str) -> None:
    """pg_hba.conf and pg_ident.conf: the superuser by peer over the socket only."""
    (pgdata / "pg_hba.conf").write_text(_HBA.format(superuser=superuser))
    (pgdata / "pg_ident.conf").write_text(_IDENT.format(superuser=superuser, os_user=os_user))


def ensure_passfile(directory: Path, role: str) -> Path:
    """The role's password file, made with a new random password if missing."""
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    directory.chmod(0o700)
    path = directory / f"{role}.pgpass"
    if not path.exists():
        # Written aside and renamed, so a crash never leaves a half-written file.
        draft = path.with_suffix(".tmp")
        draft.unlink(missing_ok=True)
        fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(f"*:*:*:{role}:{secrets.token_urlsafe(32)}\n")
        draft.replace(path)
    path.chmod(0o600)
    return path


def read_password(passfile: Path) -> str:
    """The password in a file written by ensure_passfile."""
    fields = passfile.read_text().strip().split(":")
    if len(fields) != 5 or not fields[4]:
        raise MeshError(f"{passfile} is not a password file: delete it to get a new password")
    return fields[4]


def scram_verifier(password: str) -> str:
    """What PostgreSQL stores for a scram-sha-256 password (RFC 5802, RFC 7677).

    Sent instead of the password, so the server, its logs and the process list
    never see the password itself.
    """
    salt = os.urandom(16)
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, _SCRAM_ITERATIONS)
    client_key = hmac.digest(salted, b"Client Key", "sha256")
    server_key = hmac.digest(salted, b"Server Key", "sha256")
    stored_key = hashlib.sha256(client_key).digest()

    def b64(raw: bytes) -> str:
        return base64.b64encode(raw).decode()

    return (
        f"SCRAM-SHA-256${_SCRAM_ITERATIONS}:{b64(salt)}${b64(stored_key)}:{b64(server_key)}"
    )
