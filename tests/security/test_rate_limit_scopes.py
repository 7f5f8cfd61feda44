"""Rate limits: off for the local user by default, per principal with keys, shared through Redis
across API processes when Redis is configured (the Redis tests are required when CI=true)."""

from __future__ import annotations

import logging
import uuid

import pytest
from fastapi.testclient import TestClient

from service.api.app import create_app
from service.api.rate_limit import TokenBucketLimiter, build_rate_limits, shared_redis_url
from service.api.shared_rate_limit import RedisTokenBucketLimiter, redact
from service.auth.keys import create_key
from service.config import Settings

SPACE = [{"name": "x", "type": "float", "low": 0.0, "high": 1.0}]
STUDY = {"name": "r", "parameters": SPACE, "objectives": [{"name": "f"}], "surrogate": "random"}


def test_a_local_loop_of_2000_suggest_observe_calls_is_never_limited(client):
    """The defaults (600 suggests a minute, bursts of 100) do not apply to the one local user: 1,000
    suggests and 1,000 observes in a plain loop, far faster than 600 a minute."""
    sid = client.post("/v1/studies", json=STUDY).json()["id"]
    statuses = set()
    for _ in range(1000):
        suggested = client.post(f"/v1/studies/{sid}/suggest", json={})
        statuses.add(suggested.status_code)
        if suggested.status_code != 200:
            break
        trial = suggested.json()["trials"][0]
        observed = client.post(f"/v1/studies/{sid}/observe",
                               json={"trial_id": trial["id"], "values": {"f": trial["params"]["x"]}})
        statuses.add(observed.status_code)
    assert statuses == {200}
    assert client.get(f"/v1/studies/{sid}").json()["trial_counts"]["completed"] == 1000


def test_keyed_principals_are_limited_each_on_their_own(sqlite_database, tmp_path):
    alice, _ = create_key(sqlite_database, "alice")
    bob, _ = create_key(sqlite_database, "bob")
    settings = Settings(data_dir=tmp_path, migrate_on_startup=False, rate_limit_suggest_per_minute=6)
    with TestClient(create_app(settings, database=sqlite_database), raise_server_exceptions=False) as client:
        codes = {}
        for who, key in (("alice", alice), ("bob", bob)):
            headers = {"Authorization": f"Bearer {key}"}
            sid = client.post("/v1/studies", json=STUDY, headers=headers).json()["id"]
            codes[who] = [client.post(f"/v1/studies/{sid}/suggest", json={}, headers=headers).status_code
                          for _ in range(2)]
    assert codes == {"alice": [200, 429], "bob": [200, 429]}  # burst of 1, then wait; bob has his own bucket


def test_redis_is_used_when_configured_or_when_jobs_go_through_it():
    assert shared_redis_url(Settings()) is None
    assert shared_redis_url(Settings(redis_url="redis://cache:6379/2")) == "redis://cache:6379/2"
    celery = Settings(job_backend="celery", broker_url="redis://broker:6379/0")
    assert shared_redis_url(celery) == "redis://broker:6379/0"
    assert isinstance(build_rate_limits(Settings()).limiters["suggest"], TokenBucketLimiter)
    shared = build_rate_limits(Settings(redis_url="redis://:secret@cache:6379/2"))
    assert isinstance(shared.limiters["suggest"], RedisTokenBucketLimiter)
    assert "secret" not in shared.scope and "cache:6379" in shared.scope
    assert redact("redis://u:pw@h:1/0") == "redis://u:***@h:1/0" and redact("redis://h/0") == "redis://h/0"


def test_the_startup_log_says_where_limits_are_counted(sqlite_database, tmp_path, caplog):
    settings = Settings(data_dir=tmp_path, migrate_on_startup=False)
    with caplog.at_level(logging.INFO, logger="service.api.app"):
        with TestClient(create_app(settings, database=sqlite_database)):
            pass
    assert any("rate limits: per process" in r.getMessage() and "off in local mode" in r.getMessage()
               for r in caplog.records)


def test_two_app_processes_share_one_budget_through_redis(redis_url, sqlite_database, tmp_path):
    """Two apps (as two API processes would) draw from one bucket: the second one's first call is 429."""
    name = f"carol-{uuid.uuid4().hex[:8]}"  # a bucket of its own in the shared Redis
    key, _ = create_key(sqlite_database, name)
    headers = {"Authorization": f"Bearer {key}"}
    settings = Settings(data_dir=tmp_path, migrate_on_startup=False, rate_limit_suggest_per_minute=6,
                        redis_url=redis_url)
    first, second = (TestClient(create_app(settings, database=sqlite_database), raise_server_exceptions=False)
                     for _ in range(2))
    with first, second:
        sid = first.post("/v1/studies", json=STUDY, headers=headers).json()["id"]
        assert first.post(f"/v1/studies/{sid}/suggest", json={}, headers=headers).status_code == 200
        limited = second.post(f"/v1/studies/{sid}/suggest", json={}, headers=headers)
        assert limited.status_code == 429 and int(limited.headers["retry-after"]) >= 1


def test_the_redis_bucket_refills_at_the_rate(redis_url):
    limiter = RedisTokenBucketLimiter(redis_url, f"test-{uuid.uuid4().hex[:8]}", 600, burst=2)
    assert [limiter.acquire("p") for _ in range(2)] == [0.0, 0.0]
    wait = limiter.acquire("p")
    assert 0 < wait <= 0.1 + 1e-6  # 10 tokens a second: at most 0.1 s to the next one


def test_an_unreachable_redis_does_not_take_the_api_down(caplog):
    limiter = RedisTokenBucketLimiter("redis://127.0.0.1:1/0", "suggest", 6, burst=1)
    with caplog.at_level(logging.WARNING):
        assert limiter.acquire("p") == 0.0 and limiter.acquire("p") == 0.0
    assert sum("not limited" in r.getMessage() for r in caplog.records) == 1
