"""`dependency_build_s`: a requirements.txt with one small package
(tabulate, pure Python), measured end to end from UpdateFunctionCode to
LastUpdateStatus Successful as a boto3 client sees it (GetFunction every
50 ms), with the installer's own time (`dependency_install_s`, the pip run
the build log reports) beside it. Each sample uploads new code (a comment
changes the hash), so every sample is a real build, not the cache; pip's
own download cache is warm after the first."""

import re
import statistics
import time
import uuid

PLAIN = "def handler(event, context):\n    return 'plain'\n"
USES = "import tabulate\n\ndef handler(event, context):\n    return tabulate.tabulate([[1]])\n"
INSTALLER_RAN = re.compile(r"\[Stratus\] The installer ran ([0-9.]+) s\.")


def _zip(files: dict[str, str]) -> bytes:
    from tests.integration.helpers import zip_of

    return zip_of(files)


def _wait_status(client, name: str, timeout: float = 600) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        config = client.get_function(FunctionName=name)["Configuration"]
        if config["LastUpdateStatus"] != "InProgress":
            return config["LastUpdateStatus"]
        time.sleep(0.05)
    raise TimeoutError(f"{name} still InProgress after {timeout} s")


def bench_dependency_build(stack, client, samples: int, results: dict, say) -> None:
    name = "bench-deps-" + uuid.uuid4().hex[:6]
    client.create_function(
        FunctionName=name, Runtime="python3.11", Role="arn:aws:iam::000000000000:role/bench",
        Handler="app.handler", Code={"ZipFile": _zip({"app.py": PLAIN})}, Timeout=10,
    )
    ends, installs = [], []
    for i in range(samples):
        say(f"dependency build {i + 1}/{samples}: UpdateFunctionCode with requirements.txt (tabulate)")
        code = _zip({"app.py": USES, "requirements.txt": f"tabulate==0.9.0\n# sample {uuid.uuid4().hex}\n"})
        began = time.perf_counter()
        client.update_function_code(FunctionName=name, ZipFile=code)
        status = _wait_status(client, name)
        ends.append(time.perf_counter() - began)
        if status != "Successful":
            reason = client.get_function(FunctionName=name)["Configuration"].get("LastUpdateStatusReason")
            raise RuntimeError(f"the dependency build ended {status}: {reason}")
        log = stack.shell(
            "from functions.models import Function\n"
            f"print(Function.objects.get(name={name!r}).last_build.log)"
        )
        found = INSTALLER_RAN.findall(log)
        if found:
            installs.append(float(found[-1]))
    results["dependency_build_s"] = round(statistics.median(ends), 3)
    results["dependency_build_samples_s"] = [round(x, 3) for x in ends]
    results["dependency_install_s"] = round(statistics.median(installs), 3) if installs else None
