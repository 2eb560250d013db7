"""The push protocol itself, spoken step by step over git:// to a served bare repository with the
pre-receive hook: git hands the hook the old value of each ref as the pusher states it, and
checks it only when it moves that ref, after the hook, one ref at a time. A hook judging the
claimed state could accept a stage tag on notes or on a version tag whose own update then fails.
Each test asserts the correct behaviour (R3 current-state: the whole push is refused).
"""

from __future__ import annotations

import subprocess

import pytest

from conftest import accepted, old_format_eval, push

ZERO = "0" * 40


@pytest.fixture
def server(daemon_server):
    """git:// only: the raw client below speaks the git protocol, not smart HTTP."""
    return daemon_server


NOTES = "refs/notes/mv-promote"




# ---------------------------------------------------------------- the push protocol itself (git://, receive-pack v0)

class RawPush:
    """A receive-pack session on the served repository over git:// (what `git push` does, one step
    at a time): open and read the ref advertisement; later send commands with the old values we
    choose and a pack; read the report. Lets a test interleave another push between the two."""

    def __init__(self, url: str):
        import socket
        from urllib.parse import urlparse

        u = urlparse(url)
        self.sock = socket.create_connection((u.hostname, u.port), timeout=60)
        self.buf = b""
        self._send(self._pkt(f"git-receive-pack {u.path}\0host={u.hostname}:{u.port}\0".encode()))
        self.advertised: dict[str, str] = {}
        for line in self._read_pkts():
            oid, _, ref = line.rstrip(b"\n").split(b"\0")[0].partition(b" ")
            self.advertised[ref.decode()] = oid.decode()

    @staticmethod
    def _pkt(data: bytes) -> bytes:
        return f"{len(data) + 4:04x}".encode() + data

    def _send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def _read(self, n: int) -> bytes:
        while len(self.buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("server closed the connection")
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def _read_pkts(self) -> list[bytes]:
        out = []
        while True:
            size = int(self._read(4), 16)
            if size == 0:
                return out
            out.append(self._read(size - 4))

    def push(self, repo_path, commands: list[tuple[str, str, str]]) -> tuple[dict[str, str], str]:
        """Send `commands` (old, new, ref) and a pack of everything the new values reach that the
        advertised values do not; returns ({ref: "ok" | reason}, the hook's messages)."""
        caps = b"\0report-status side-band-64k"
        for i, (old, new, ref) in enumerate(commands):
            self._send(self._pkt(f"{old} {new} {ref}".encode() + (caps if i == 0 else b"") + b"\n"))
        self._send(b"0000")
        have = [o for o in self.advertised.values()
                if subprocess.run(["git", "cat-file", "-e", o], cwd=repo_path, capture_output=True).returncode == 0]
        revs = "".join(f"{new}\n" for _, new, _ in commands if new != "0" * 40) + "".join(f"^{h}\n" for h in have)
        pack = subprocess.run(["git", "pack-objects", "--stdout", "--revs", "-q"], cwd=repo_path, input=revs.encode(),
                              capture_output=True, check=True).stdout
        self._send(pack)
        report, messages = b"", b""
        for pkt in self._read_pkts():
            band, data = pkt[:1], pkt[1:]
            if band == b"\x01":
                report += data
            elif band in (b"\x02", b"\x03"):
                messages += data
        self.sock.close()
        status: dict[str, str] = {}
        pos = 0
        while pos < len(report):
            size = int(report[pos:pos + 4], 16)
            if size == 0:
                break
            line = report[pos + 4:pos + size].decode().rstrip("\n")
            pos += size
            if line.startswith("ok "):
                status[line[3:]] = "ok"
            elif line.startswith("ng "):
                ref, _, why = line[3:].partition(" ")
                status[ref] = why
        return status, messages.decode(errors="replace")


def test_a_push_whose_old_values_are_stale_is_refused_whole(published_v2, server, tmp_path, keys):
    """alice pushes the notes (holding v2's eval) and production/2 together. Between the server's
    ref advertisement and her commands, bob pushes notes of his own (an ordinary push), so her
    notes update carries a stale old value. Judged on her claimed state, production/2 was
    accepted and created while her notes update failed: production named an eval the server did
    not hold, and every fresh clone's verify failed."""
    from conftest import Clone

    alice = published_v2
    alice.mv("eval", "churn", "v2")
    alice.mv("promote", "churn", "v2", "--stage", "production")
    session = RawPush(server.url)  # alice's push starts: the server advertises its notes tip
    bob = Clone(tmp_path / "bob", server.url, keys)
    bob.git("fetch", "-q", "origin", f"+{NOTES}:{NOTES}")
    bob.git("config", "user.signingkey", str(keys.private("alice")))  # the one allowed signer here
    bob.mv("deprecate", "churn", "v1", "-m", "superseded")  # any new record will do
    accepted(push(bob, NOTES))
    before = server.refs()
    stage = "refs/tags/mv/churn/production/2"
    status, messages = session.push(alice.path, [(session.advertised[NOTES], alice.ref(NOTES), NOTES),
                                                 (ZERO, alice.ref(stage), stage)])
    assert "R3 current-state" in messages, messages
    assert status.get(stage) != "ok" and server.refs() == before


def test_the_notes_are_judged_from_the_servers_tip_not_from_a_claimed_old_value(published_v2, server):
    """No race: alice claims old = new for the notes ref, so the range old..new is empty and no
    notes commit was examined; an eval R9 refuses (no code_commit) then decided the gate for
    production/2, whose update succeeded while the notes update failed."""
    alice = published_v2
    old_format_eval(alice, "v2")
    promoted = alice.mv("promote", "churn", "v2", "--stage", "production", "--json")  # the client gate counts it
    assert promoted.json["record"]["eval_record"]
    stage = "refs/tags/mv/churn/production/2"
    notes = alice.ref(NOTES)
    before = server.refs()
    status, messages = RawPush(server.url).push(alice.path, [(notes, notes, NOTES), (ZERO, alice.ref(stage), stage)])
    assert "R3 current-state" in messages, messages
    assert server.refs() == before


def test_a_create_of_a_version_tag_the_server_has_is_refused_whole(published_v2, server):
    """alice claims to create refs/tags/mv/churn/v2, which the server has, with another tag object
    v2' (another model, another commit), together with production/2 on v2' and its notes. Judged on
    her claim, v2' was laid over the server's view, production/2 passed on it and was created
    while git refused to create the existing v2: production named a version nobody registered."""
    alice = published_v2
    registered = alice.ref("refs/tags/mv/churn/v2")
    alice.git("tag", "-d", "mv/churn/v2")
    alice.write_model(0.95, 0.90)
    alice.commit("another model, registered again as v2")
    assert alice.mv("register", "churn", "--json").json["version"] == "v2"
    alice.mv("eval", "churn", "v2")
    alice.git("remote", "remove", "origin")  # `promote` compares with the remote's v2: not here
    alice.mv("promote", "churn", "v2", "--stage", "production")
    alice.git("remote", "add", "origin", server.url)
    other = alice.ref("refs/tags/mv/churn/v2")
    assert other != registered
    stage = "refs/tags/mv/churn/production/2"
    session = RawPush(server.url)
    before = server.refs()
    status, messages = session.push(alice.path, [(ZERO, other, "refs/tags/mv/churn/v2"),
                                                 (session.advertised[NOTES], alice.ref(NOTES), NOTES),
                                                 (ZERO, alice.ref(stage), stage)])
    assert "R3 current-state" in messages, messages
    assert server.refs() == before

