"""The ray engine on a local Ray cluster of 2 CPUs (one per test module), against a loopback server.

Ray starts in seconds, not milliseconds, so these tests are few: the same output as the
local engine (through `qa run`, in a subprocess that joins this module's cluster with
RAY_ADDRESS; Ray's local clusters use token authentication, hence RAY_AUTH_MODE=token), a
resumed run, and the CPU share an embedded-model actor gets.
"""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
import ray

import qa
from qa.backends.backend import open_backend
from qa.bulk import RayEngine, read_results
from qa.errors import ConfigError
from qa.settings import Settings
from qa.testing import FaultServer
from tests.bulk_support import ROOT, cli_env, ids, make_corpus, output_lines, responder, run_qa, server_settings


@pytest.fixture(scope="module")
def cluster() -> Iterator[str]:
    """A local Ray cluster with 2 CPUs, no dashboard; its address."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level=logging.ERROR)
    try:
        yield ray.get_runtime_context().gcs_address
    finally:
        ray.shutdown()


@pytest.mark.subprocess
def test_qa_run_on_ray_writes_exactly_what_the_local_engine_writes(tmp_path: Path, cluster: str) -> None:
    corpus = make_corpus(tmp_path / "articles", 200, poisoned=(11, 150), empty=(42,))
    with FaultServer(responder, fault_rate=0.0) as server:
        env = cli_env(server.base_url)
        local = run_qa(["run", str(corpus), "-o", str(tmp_path / "local.jsonl")], env)
        on_ray = run_qa(["run", str(corpus), "-o", str(tmp_path / "ray.jsonl"), "--engine", "ray", "--workers", "2"],
                        {**env, "RAY_ADDRESS": cluster, "RAY_AUTH_MODE": "token"}, timeout=300)  # fmt: skip
    assert local.returncode == on_ray.returncode == 8, (local.stderr, on_ray.stderr)  # the poisoned and empty ones
    assert "200 items: 197 results, 3 errors (ArticleError 1, OutputValidationError 2)" in on_ray.stdout
    assert output_lines(tmp_path / "ray.jsonl") == output_lines(tmp_path / "local.jsonl")
    assert len(set(ids(tmp_path / "ray.jsonl"))) == 200


def test_a_ray_run_resumes_an_output_and_does_only_what_is_missing(tmp_path: Path, cluster: str) -> None:
    corpus = make_corpus(tmp_path / "articles", 30)
    out = tmp_path / "out.jsonl"
    with FaultServer(responder, fault_rate=0.0) as server:
        settings = server_settings(server.base_url)
        qa.run(corpus, tmp_path / "whole.jsonl", settings=settings)
        # An interrupted run: the first 12 records, and its state file.
        out.write_text("".join((tmp_path / "whole.jsonl").read_text().splitlines(keepends=True)[:12]))
        shutil.copy(tmp_path / "whole.jsonl.state.json", tmp_path / "out.jsonl.state.json")
        requests = server.stats.requests
        report = qa.run(corpus, out, settings=settings, engine=RayEngine(workers=2, concurrency=2, batch_size=3))
        assert server.stats.requests - requests == 18
    assert (report.engine, report.ran, report.skipped, report.results) == ("ray", 18, 12, 30)
    assert output_lines(out) == output_lines(tmp_path / "whole.jsonl")
    assert len(read_results(out).records) == 30


def test_a_key_the_workers_cannot_read_is_refused_before_the_output_is_opened(tmp_path: Path) -> None:
    corpus = make_corpus(tmp_path / "articles", 2)
    settings = server_settings("http://127.0.0.1:9/v1", api_key="sk-test-only-in-settings-0000000000")
    with pytest.raises(ConfigError, match="workers read the API key from OPENAI_API_KEY"):
        qa.run(corpus, tmp_path / "out.jsonl", settings=settings, engine=RayEngine())
    assert not (tmp_path / "out.jsonl").exists()


def test_embedded_actors_get_their_cpu_share_and_network_ones_little() -> None:
    embedded = open_backend(Settings.load(env={}, backend="embedded"))  # the model is not loaded to ask this
    server = open_backend(Settings.load(env={}, backend="server", base_url="http://127.0.0.1:9/v1"))
    assert RayEngine().cpu_share(embedded) == (1.0, 1)
    assert RayEngine(cpus_per_worker=2).cpu_share(embedded) == (2, 2)
    assert RayEngine().cpu_share(server) == (0.25, 0)


@pytest.mark.subprocess
def test_two_actors_claiming_one_cpu_each_get_different_cpus() -> None:
    probe = (
        "import json, os, sys, time; from qa.bulk.ray_engine import claim_cpus; got = claim_cpus(1); "
        "print(json.dumps([got, sorted(os.sched_getaffinity(0))]), flush=True); sys.stdin.read()"
    )
    procs = [subprocess.Popen([sys.executable, "-c", probe], cwd=ROOT, text=True, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
             for _ in range(2)]  # fmt: skip
    try:
        claims = [json.loads(p.stdout.readline()) for p in procs]
    finally:
        for p in procs:
            p.communicate("", timeout=30)  # both hold their slot until now
    (first, first_affinity), (second, second_affinity) = claims
    assert first is not None and second is not None
    assert len(first) == len(second) == 1 and set(first).isdisjoint(second)
    assert first_affinity == first and second_affinity == second  # llama.cpp would start one thread each
