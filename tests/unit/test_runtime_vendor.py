"""The runtime image's boto3 (runtimes/<runtime>/vendor.txt) is copied from
the platform's virtualenv, so its pins must be the ones requirements.txt
installs there, and the build context must hold those packages' files."""

import importlib.metadata
import tempfile
from pathlib import Path

from runtimes import build

ROOT = Path(__file__).resolve().parents[2]


def test_vendored_pins_agree_with_requirements_and_the_virtualenv():
    pins = dict(
        line.split("==", 1) for line in (ROOT / "requirements.txt").read_text().splitlines()
        if "==" in line and not line.startswith("#")
    )
    for runtime in ("python3.11", "python3.13"):
        vendored = dict(build.vendored(runtime))
        assert {"boto3", "botocore", "s3transfer"} <= set(vendored)
        for name in ("boto3", "botocore"):
            assert vendored[name] == pins[name]
        for name, version in vendored.items():
            assert importlib.metadata.version(name) == version


def test_the_build_context_holds_boto3_and_vendor_txt_is_hashed_into_the_tag():
    with tempfile.TemporaryDirectory() as tmp:
        context = build.stage_context("python3.11", Path(tmp))
        assert (context / "lib" / "boto3" / "__init__.py").is_file()
        s3_model = context / "lib" / "botocore" / "data" / "s3" / "2006-03-01"
        assert list(s3_model.glob("service-2.json*"))
        assert (context / "shared" / "python" / "bootstrap.py").is_file()
        assert (context / "Dockerfile").is_file()
        assert not list((context / "lib").rglob("*.pyc"))
    assert "vendor.txt" in {p.name for p in build.runtime_dir("python3.11").iterdir()}
