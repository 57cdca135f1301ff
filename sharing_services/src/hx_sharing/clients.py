"""Client (token) administration, used by the CLI and by tests."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from .auth import hash_token, new_token, validate_scopes, validate_token
from .db import Client, Database, utcnow


class ClientError(Exception):
    pass


@dataclass
class ClientInfo:
    name: str
    scopes: list[str]
    revoked: bool

    def as_dict(self) -> dict:
        return {"name": self.name, "scopes": self.scopes, "revoked": self.revoked}


def _info(c: Client) -> ClientInfo:
    return ClientInfo(c.name, sorted(c.scope_set), c.revoked_at is not None)


def create_client(db: Database, name: str, scopes: list[str], token: str | None = None) -> str:
    """Create a client; returns its token (the given one, or a new random one)."""
    scopes = validate_scopes(scopes)
    if token is None:
        token = new_token()
    validate_token(token)
    with db.session() as s:
        if s.scalar(select(Client).where(Client.name == name)) is not None:
            raise ClientError(f"client {name!r} exists; use `client apply` or `client rotate`")
        if s.scalar(select(Client).where(Client.token_hash == hash_token(token))) is not None:
            raise ClientError("that token is already registered to another client")
        s.add(Client(name=name, scopes=" ".join(scopes), token_hash=hash_token(token)))
        s.commit()
    return token


def apply_client(db: Database, name: str, scopes: list[str], token: str | None = None) -> bool:
    """Make the client exist, active, with these scopes (and this token when given). Returns changed."""
    scopes = validate_scopes(scopes)
    if token is not None:
        validate_token(token)
    with db.session() as s:
        c = s.scalar(select(Client).where(Client.name == name).with_for_update())
        if c is None:
            if token is None:
                raise ClientError(f"client {name!r} does not exist; a token is needed to create it")
            s.add(Client(name=name, scopes=" ".join(scopes), token_hash=hash_token(token)))
            s.commit()
            return True
        changed = False
        if sorted(c.scope_set) != scopes:
            c.scopes, changed = " ".join(scopes), True
        if token is not None and c.token_hash != hash_token(token):
            c.token_hash, changed = hash_token(token), True
        if c.revoked_at is not None:
            c.revoked_at, changed = None, True
        if changed:
            c.updated_at = utcnow()
            s.commit()
        return changed


def rotate_client(db: Database, name: str, token: str | None = None) -> str:
    token = token or new_token()
    validate_token(token)
    with db.session() as s:
        c = s.scalar(select(Client).where(Client.name == name))
        if c is None:
            raise ClientError(f"no client {name!r}")
        c.token_hash, c.updated_at = hash_token(token), utcnow()
        s.commit()
    return token


def revoke_client(db: Database, name: str) -> bool:
    with db.session() as s:
        c = s.scalar(select(Client).where(Client.name == name))
        if c is None:
            raise ClientError(f"no client {name!r}")
        if c.revoked_at is not None:
            return False
        c.revoked_at = utcnow()
        s.commit()
        return True


def list_clients(db: Database) -> list[ClientInfo]:
    with db.session() as s:
        return [_info(c) for c in s.scalars(select(Client).order_by(Client.name))]
