"""Shared pytest setup for the binding's tests.

--qk-repeat N runs every test marked ``spec`` N times in a row (the spec's "100 consecutive
runs"); QK_PY_NO_SKIP=1 (set by ctest) turns a skip into a failure, so a check that could not
run never passes silently.
"""

import os

import pytest


def pytest_addoption(parser):
    parser.addoption("--qk-repeat", type=int, default=1,
                     help="run each spec scenario this many consecutive times")


def pytest_configure(config):
    config.addinivalue_line("markers", "spec: the spec's scenarios, repeated by --qk-repeat")


def pytest_generate_tests(metafunc):
    if "run" in metafunc.fixturenames and metafunc.definition.get_closest_marker("spec"):
        n = metafunc.config.getoption("--qk-repeat")
        impls = getattr(metafunc.function, "impls", None)
        if impls is None:
            metafunc.parametrize("run", range(n), ids=[f"run{i}" for i in range(n)])
        else:  # each implementation's runs back to back: impl0 x n, then impl1 x n
            combos = [(impl, i) for impl in impls for i in range(n)]
            metafunc.parametrize("impl,run", combos, ids=[f"{a}-run{i}" for a, i in combos])


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if os.environ.get("QK_PY_NO_SKIP") == "1" and report.skipped and not hasattr(report,
                                                                                 "wasxfail"):
        report.outcome = "failed"
        report.longrepr = f"skipped under QK_PY_NO_SKIP=1: {report.longrepr}"


@pytest.fixture
def state_path(tmp_path):
    """A fresh state file path in a private directory."""
    return str(tmp_path / "quota.qkstate")


def _server(start, tmp_path_factory, *args):
    import servers  # tests/servers.py: real redis-server and dynalite, stopped by pid

    if start is servers.start_redis and servers.redis_binary() is None:
        pytest.skip("redis-server is not on PATH (scripts/need.sh redis-server)")
    d = str(tmp_path_factory.mktemp("store"))
    return start(d, *args)


@pytest.fixture
def redis_server(tmp_path_factory):
    """A real redis-server on a free loopback port, killed by pid when the test ends."""
    import servers

    srv = _server(servers.start_redis, tmp_path_factory)
    try:
        yield srv
    finally:
        srv.stop()


REDIS_PASSWORD = "pw-S3cret/x?y#z"  # what no message, repr or status may show


@pytest.fixture
def redis_with_password(tmp_path_factory):
    """A real redis-server that requires REDIS_PASSWORD."""
    import servers

    srv = _server(servers.start_redis, tmp_path_factory, REDIS_PASSWORD)
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture
def dynalite_server(tmp_path_factory, monkeypatch):
    """A real dynalite on a free loopback port, with fake AWS credentials in the environment
    (the library signs with them; dynalite accepts any)."""
    import servers

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDQKTEST")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "qk-test-secret")
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    srv = _server(servers.start_dynalite, tmp_path_factory)
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture
def silent_server():
    """A loopback port that accepts and never answers."""
    import servers

    srv = servers.SilentServer()
    try:
        yield srv
    finally:
        srv.close()
