"""The `git-mv-promote` process and the server hook's run without the cyclic garbage collector
(short processes: its passes were a tenth of a read's time), the former ends without the
interpreter's teardown (its exit handlers still run), and only the former may fork helper
processes (gitmv.ahead); a caller passing arguments from a longer-lived process (a test, a
notebook, a serving job) keeps its collector as it was and forks nothing. Both programs import
pygit2 without its CA bundle (they use no libgit2 transport); a caller of the API keeps it."""

from __future__ import annotations

import gc
import os
import subprocess
import sys

import pytest

from gitmv.cli import main


def program_reports(expression: str) -> str:
    """What `expression` says at the exit of a `git-mv-promote --version` program run."""
    probe = (f"import atexit, gc, sys\nfrom gitmv import proc\nfrom gitmv.cli import main\n"
             f"atexit.register(lambda: print({expression}))\nsys.argv = ['git-mv-promote', '--version']\nmain()\n")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    return done.stdout.splitlines()[-1]


def test_the_program_runs_without_the_cyclic_collector():
    assert program_reports('"collector enabled:", gc.isenabled()') == "collector enabled: False"


def test_the_program_runs_its_exit_work_and_skips_the_teardown():
    """Exit handlers (the record cache's write) run; the interpreter's teardown, which would
    finalize every object still alive, does not."""
    probe = ("import atexit, sys\nfrom gitmv.cli import main\n"
             "class Witness:\n    def __del__(self):\n        print('torn down', flush=True)\n"
             "witness = Witness()\natexit.register(lambda: print('exit work'))\n"
             "sys.argv = ['git-mv-promote', '--version']\nmain()\n")
    buffered = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}  # what an exit handler prints waits in a buffer
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=buffered)
    assert done.returncode == 0
    assert done.stdout.splitlines()[-1] == "exit work" and "torn down" not in done.stdout


def test_a_python_program_without_it_is_torn_down():
    """The witness above does report a teardown (so its silence means something)."""
    probe = "class Witness:\n    def __del__(self):\n        print('torn down', flush=True)\nwitness = Witness()\n"
    assert subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True).stdout == "torn down\n"


def test_a_caller_passing_arguments_keeps_its_collector():
    assert gc.isenabled()
    frozen = gc.get_freeze_count()
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    assert gc.isenabled() and gc.get_freeze_count() == frozen


def test_the_program_may_fork_helpers():
    assert program_reports('"helpers allowed:", proc.may_fork()') == "helpers allowed: True"


def test_a_caller_passing_arguments_forks_no_helper():
    from gitmv import proc

    with pytest.raises(SystemExit):
        main(["--version"])
    assert not proc.may_fork()


HOOK_PROBE = """
import atexit, gc, runpy, sys
atexit.register(lambda: print("collector enabled:", gc.isenabled(), "frozen:", gc.get_freeze_count() > 0))
sys.argv = ["gitmv.hooks"]
runpy.run_module("gitmv.hooks", run_name="__main__")
"""


def test_the_hook_program_runs_without_the_cyclic_collector():
    done = subprocess.run([sys.executable, "-c", HOOK_PROBE], capture_output=True, text=True)
    assert done.returncode == 2 and "usage:" in done.stderr  # no hook named: usage, exit 2
    assert done.stdout.splitlines()[-1] == "collector enabled: False frozen: True"


# ---------------------------------------------------------------- pygit2's TLS set-up

TLS_REPORT = ("import os, gitmv.git.repo as repo, pygit2; s = pygit2.settings; "
              "print('tls:', s.ssl_cert_file, s.ssl_cert_dir == os.path.dirname(repo.__file__), "
              "os.environ.get('SSL_CERT_FILE'), os.environ.get('SSL_CERT_DIR'))")


@pytest.fixture
def ca_file(tmp_path):
    """A CA bundle of one self-signed certificate (what pygit2 would load by default)."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test CA")])
    start = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(start).not_valid_after(start + datetime.timedelta(days=3650))
            .sign(key, hashes.SHA256()))
    path = tmp_path / "ca.pem"
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return path


def tls_seen(probe: str, ca: str) -> str:
    env = {**os.environ, "SSL_CERT_FILE": ca}
    env.pop("SSL_CERT_DIR", None)
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env)
    return done.stdout.splitlines()[-1]


def test_the_programs_pygit2_loads_no_ca_bundle_and_leaves_the_environment_as_it_was(ca_file):
    """The program reaches remotes through git alone: its pygit2 is shown no certificates (libgit2's
    HTTPS would trust nothing), and the caller's OpenSSL variables are what they were."""
    probe = ("import atexit, sys\nfrom gitmv.cli import main\n"
             f"atexit.register(lambda: exec({TLS_REPORT!r}))\nsys.argv = ['git-mv-promote', '--version']\nmain()\n")
    assert tls_seen(probe, str(ca_file)) == f"tls: None True {ca_file} None"


def test_the_hook_programs_pygit2_loads_no_ca_bundle(ca_file):
    probe = ("import atexit, runpy, sys\n"
             f"atexit.register(lambda: exec({TLS_REPORT!r}))\nsys.argv = ['gitmv.hooks']\n"
             "runpy.run_module('gitmv.hooks', run_name='__main__')\n")
    assert tls_seen(probe, str(ca_file)) == f"tls: None True {ca_file} None"


def test_a_caller_of_the_python_api_keeps_pygit2s_certificates(ca_file):
    """A serving job may use pygit2's HTTPS itself: importing gitmv leaves pygit2's default."""
    probe = f"import gitmv.api\n{TLS_REPORT}\n"
    assert tls_seen(probe, str(ca_file)) == f"tls: {ca_file} False {ca_file} None"


def test_a_tls_backend_refusing_the_empty_set_up_leaves_pygit2_imported_as_usual(ca_file):
    """Should pygit2's import fail without the bundle (a TLS backend refusing a directory of no
    certificates), the program imports it as any caller would, and runs."""
    refuse = ("import os, sys\nclass Refuse:\n    def find_spec(self, name, path, target=None):\n"
              "        if name == 'pygit2.settings' and os.environ.get('SSL_CERT_FILE') == '':\n"
              "            raise ImportError('the TLS backend refuses the certificate locations')\n"
              "sys.meta_path.insert(0, Refuse())\n")
    probe = (refuse + "import atexit\nfrom gitmv.cli import main\n"
             f"atexit.register(lambda: exec({TLS_REPORT!r}))\nsys.argv = ['git-mv-promote', '--version']\nmain()\n")
    assert tls_seen(probe, str(ca_file)) == f"tls: {ca_file} False {ca_file} None"
