"""Console forms. They only shape the input; functions.service validates
the values, so the console and the Lambda API give the same answers."""

import json
import secrets

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError

from awsapi import policy
from functions import code_files, lambda_shapes, service
from functions.code import MAX_ZIPPED, CodeError

HELLO_WORLD = '''import json


def lambda_handler(event, context):
    print("Hello from", context.function_name)
    return {
        "statusCode": 200,
        "body": json.dumps({"message": "Hello, world!", "event": event}),
    }
'''

NODE_HELLO_WORLD = """export const handler = async (event, context) => {
  console.log("Hello from", context.functionName);
  return {
    statusCode: 200,
    body: JSON.stringify({ message: "Hello, world!", event }),
  };
};
"""

# Each runtime family's starter, as Lambda's console has them: the
# default handler, the file the inline code is stored as, the code.
STARTERS = {
    "python": {"handler": "lambda_function.lambda_handler", "file": "lambda_function.py",
               "source": HELLO_WORLD},
    "nodejs": {"handler": "index.handler", "file": "index.mjs", "source": NODE_HELLO_WORLD},
}
# A single uploaded file's extensions, per runtime family.
SINGLE_FILE_EXTENSIONS = {"python": (".py",), "nodejs": (".js", ".mjs", ".cjs")}


def family(runtime: str) -> str:
    """"python", "nodejs" or "provided" (the starter and upload rules), from a
    runtime name."""
    runtime = str(runtime)
    if runtime.startswith("nodejs"):
        return "nodejs"
    if runtime.startswith("provided"):
        return "provided"
    return "python"


def starters() -> dict:
    """Each offered runtime's starter (handler, file, source): the create
    page swaps them when the runtime changes (static/js/runtime-starter.js)."""
    return {r: STARTERS[family(r)] for r in settings.STRATUS_RUNTIMES if family(r) in STARTERS}


CODE_SOURCES = [
    ("inline", "Write it here"),
    ("py", "Upload one file (.py, .js, .mjs)"),
    ("zip", "Upload a .zip"),
]


def _runtime_choices():
    return [(r, r) for r in settings.STRATUS_RUNTIMES]


def check_upload_size(upload):
    """The upload, unless it is over Lambda's 50 MB for code uploaded
    directly (checked before anything reads it into memory)."""
    if upload is not None and upload.size > MAX_ZIPPED:
        raise ValidationError(
            f"The file is {upload.size / (1024 * 1024):.1f} MB; the limit for uploaded code is 50 MB."
        )
    return upload


def _checked(rule, value):
    """`value` through one of functions.service's clean_* rules, its
    FunctionError as this field's error."""
    try:
        return rule(value)
    except service.FunctionError as e:
        raise ValidationError(str(e)) from None


class ConfigurationForm(forms.Form):
    """A function's settings. Memory and timeout are shaped into whole
    numbers here; functions.service checks every value's range."""

    handler = forms.CharField(max_length=300, initial="lambda_function.lambda_handler")
    memory_mb = forms.IntegerField(label="Memory (MB)", initial=128)
    timeout_s = forms.IntegerField(label="Timeout (seconds)", initial=3)
    description = forms.CharField(required=False, max_length=1000)
    environment = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 4, "placeholder": "KEY=value, one a line"}),
        help_text="KEY=value, one a line.",
    )

    # Lambda's newer settings (not on the create page, which takes Lambda's
    # defaults): blank leaves a setting as it is.
    architecture = forms.ChoiceField(
        required=False, choices=[(a, a) for a in service.ARCHITECTURES], label="Architecture",
        help_text="The host runs only its own machine's architecture.",
    )
    ephemeral_storage_mb = forms.IntegerField(
        required=False, label="Ephemeral storage /tmp (MB)", help_text="512 to 10,240 MB.",
    )
    log_format = forms.ChoiceField(required=False, choices=[(f, f) for f in service.LOG_FORMATS],
                                   label="Log format")
    application_log_level = forms.ChoiceField(
        required=False, label="Application log level (JSON)",
        choices=[("", "-")] + [(level, level) for level in service.APPLICATION_LOG_LEVELS],
    )
    system_log_level = forms.ChoiceField(
        required=False, label="System log level (JSON)",
        choices=[("", "-")] + [(level, level) for level in service.SYSTEM_LOG_LEVELS],
    )
    log_group = forms.CharField(required=False, max_length=512, label="Log group")
    tracing_mode = forms.ChoiceField(required=False, choices=[(m, m) for m in service.TRACING_MODES],
                                     label="Tracing (X-Ray mode)")

    # Each field is checked here with functions.service's own rule for it,
    # so every bad field is reported at once (the service, which stops at
    # the first bad value, checks them all again before it saves).
    def clean_handler(self) -> str:
        return _checked(service.clean_handler, self.cleaned_data["handler"])

    def clean_memory_mb(self) -> int:
        return _checked(service.clean_memory, self.cleaned_data["memory_mb"])

    def clean_timeout_s(self) -> int:
        return _checked(service.clean_timeout, self.cleaned_data["timeout_s"])

    def clean_description(self) -> str:
        return _checked(service.clean_description, self.cleaned_data["description"])

    def clean_architecture(self) -> str:
        value = self.cleaned_data["architecture"]
        return _checked(service.clean_architectures, [value])[0] if value else ""

    def clean_ephemeral_storage_mb(self):
        value = self.cleaned_data["ephemeral_storage_mb"]
        return None if value is None else _checked(service.clean_ephemeral_storage, value)

    def clean_environment(self) -> str:
        """The KEY=value text as typed, once its variables pass."""
        text = self.cleaned_data["environment"]
        _checked(lambda t: service.clean_environment(service.parse_env_lines(t)), text)
        return text

    @staticmethod
    def initial_for(fn) -> dict:
        logging = lambda_shapes.logging_config(fn)
        return {
            "handler": fn.handler,
            "memory_mb": fn.memory_mb,
            "timeout_s": fn.timeout_s,
            "description": fn.description,
            "environment": "\n".join(f"{k}={v}" for k, v in fn.environment.items()),
            "architecture": (fn.architectures or ["x86_64"])[0],
            "ephemeral_storage_mb": fn.ephemeral_storage_mb,
            "log_format": logging["LogFormat"],
            "application_log_level": logging.get("ApplicationLogLevel", ""),
            "system_log_level": logging.get("SystemLogLevel", ""),
            "log_group": logging["LogGroup"],
            "tracing_mode": fn.tracing_mode,
        }

    def logging_config(self, fn) -> dict | None:
        """The LoggingConfig the form says (a blank log group is Lambda's
        default one), or None when the form has no log format."""
        data = self.cleaned_data
        if not data.get("log_format"):
            return None
        json_format = data["log_format"] == "JSON"
        return {
            "LogFormat": data["log_format"],
            # Text has no levels: blank ones are not sent (the service drops stored ones).
            "ApplicationLogLevel": (data.get("application_log_level") or "INFO") if json_format else None,
            "SystemLogLevel": (data.get("system_log_level") or "INFO") if json_format else None,
            "LogGroup": data.get("log_group") or f"/aws/lambda/{fn.name}",
        }

    def new_settings(self, fn) -> dict:
        """Architectures, EphemeralStorage, LoggingConfig and TracingConfig
        in functions.service.update_configuration's names (None: as is)."""
        data = self.cleaned_data
        return {
            "architectures": [data["architecture"]] if data.get("architecture") else None,
            "ephemeral_storage_mb": data.get("ephemeral_storage_mb"),
            "logging_config": self.logging_config(fn),
            "tracing_mode": data.get("tracing_mode") or None,
        }


POLICY_EXAMPLE = """{
  "Version": "2012-10-17",
  "Statement": [
    {"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject"], "Resource": "arn:aws:s3:::my-bucket/*"}
  ]
}"""


class ExecutionPolicyForm(forms.Form):
    """What the function's own credentials may do inside it: an IAM-shaped
    policy document (awsapi.policy); empty allows nothing."""

    execution_policy = forms.CharField(
        required=False,
        label="Execution policy",
        widget=forms.Textarea(
            attrs={"rows": 10, "class": "code", "placeholder": POLICY_EXAMPLE, "spellcheck": "false"}
        ),
        help_text="IAM policy JSON: Allow and Deny statements of actions (s3:GetObject, sqs:*) "
        "on resource ARNs. Empty: the function's boto3 calls are all denied. An explicit Deny wins.",
    )

    @staticmethod
    def initial_for(fn) -> dict:
        return {"execution_policy": json.dumps(fn.execution_policy, indent=2) if fn.execution_policy else ""}

    def clean_execution_policy(self) -> dict:
        try:
            return policy.parse(self.cleaned_data["execution_policy"])
        except policy.PolicyError as e:
            raise ValidationError(str(e)) from None


class CreateFunctionForm(ConfigurationForm):
    """A new function: its settings, its team and its code (written inline,
    or an uploaded .py or .zip of at most 50 MB)."""

    team = forms.ModelChoiceField(queryset=None, empty_label=None)
    name = forms.CharField(max_length=200)
    runtime = forms.ChoiceField(choices=_runtime_choices)
    code_source = forms.ChoiceField(
        choices=CODE_SOURCES, initial="inline", widget=forms.RadioSelect, label="Code"
    )
    source = forms.CharField(
        required=False,
        initial=HELLO_WORLD,
        strip=False,
        widget=forms.Textarea(attrs={"rows": 14, "class": "code", "spellcheck": "false"}),
        label="Source",
    )
    code_file = forms.FileField(required=False, label="File")

    def clean_code_file(self):
        return check_upload_size(self.cleaned_data.get("code_file"))

    def clean_name(self) -> str:
        return _checked(service.clean_name, self.cleaned_data["name"])

    field_order = (
        "team", "name", "runtime", "handler", "memory_mb", "timeout_s",
        "description", "environment", "code_source", "source", "code_file",
    )

    def __init__(self, *args, teams, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["team"].queryset = teams
        if len(teams) == 1:
            self.fields["team"].widget = forms.HiddenInput()
            self.fields["team"].initial = teams[0].pk

    def clean(self):
        data = super().clean()
        source = data.get("code_source")
        upload = data.get("code_file")
        runtime = data.get("runtime") or ""
        if family(runtime) not in SINGLE_FILE_EXTENSIONS and source == "py":
            # A custom runtime runs the code's executable `bootstrap`: written
            # inline (it becomes that file) or in a .zip.
            self.add_error(
                "code_source",
                f"Write the bootstrap inline or upload a .zip holding an executable bootstrap for "
                f"{runtime}; single-file uploads are for the Python and Node.js runtimes.",
            )
        elif source == "inline" and not (data.get("source") or "").strip():
            self.add_error("source", "Write the function's code, or choose an upload.")
        elif source == "py":
            allowed = SINGLE_FILE_EXTENSIONS[family(runtime)]
            if upload is None or not upload.name.endswith(allowed):
                self.add_error(
                    "code_file",
                    f"Choose a {' or '.join(allowed)} file to upload for {data.get('runtime')}.",
                )
        elif source == "zip" and upload is None:
            self.add_error("code_file", "Choose a .zip file to upload.")
        return data


class CodeFileForm(forms.Form):
    """Which file of which code: `path` inside the bundle, `base` the code's
    sha256 the page was opened on (a save on a stale base is refused)."""

    path = forms.CharField(max_length=1024, widget=forms.HiddenInput)
    base = forms.CharField(max_length=64, widget=forms.HiddenInput)


class SourceForm(CodeFileForm):
    """One file's new text from the Code tab's editor (static/js/editor.js
    turns the textarea into CodeMirror; the form works without it)."""

    source = forms.CharField(
        strip=False,
        required=False,
        widget=forms.Textarea(
            attrs={"rows": 22, "class": "code", "spellcheck": "false", "data-editor": "code"}
        ),
    )

    def __init__(self, *args, **kwargs):
        # A fresh id on every page: htmx gives a swapped-in element the
        # attributes of the old element with its id until the swap settles,
        # then puts the new ones back, undoing CodeMirror's hiding of it.
        kwargs.setdefault("auto_id", f"code-{secrets.token_hex(4)}-%s")
        super().__init__(*args, **kwargs)


class NewFileForm(CodeFileForm):
    """A new, empty file at `path` (folders are made by the path: lib/x.py).
    cleaned_data["path"] is the normalised path (code_files.clean_new_path)."""

    path = forms.CharField(
        max_length=1024,
        label="New file",
        # Not `required`: the browser would refuse an empty box before htmx
        # posts it, and the page would say nothing; clean_path says why.
        required=False,
        widget=forms.TextInput(attrs={"placeholder": "helpers/new_module.py", "spellcheck": "false"}),
    )

    def clean_path(self):
        try:
            return code_files.clean_new_path(self.cleaned_data.get("path") or "")
        except CodeError as e:
            raise forms.ValidationError(str(e)) from None


class UploadCodeForm(forms.Form):
    """New code: a .zip, or one .py / .js / .mjs / .cjs file, of at most 50 MB."""

    code_file = forms.FileField(label="New code (.zip, or one .py/.js/.mjs file)")

    def clean_code_file(self):
        return check_upload_size(self.cleaned_data.get("code_file"))


class TestEventForm(forms.Form):
    event = forms.CharField(
        strip=False,
        initial='{\n  "key1": "value1"\n}',
        widget=forms.Textarea(attrs={"rows": 10, "class": "code", "spellcheck": "false"}),
        label="Event JSON",
    )
    save_as = forms.CharField(
        required=False,
        max_length=100,
        label="Save as",
        widget=forms.TextInput(attrs={"placeholder": "Name to save the event as"}),
    )


class FunctionUrlForm(forms.Form):
    """A function URL's settings as the console edits them (Lambda's
    AuthType and Cors; lists are typed comma-separated); the rules are
    functions.function_urls'."""

    auth_type = forms.ChoiceField(choices=[("NONE", "NONE (public)"), ("AWS_IAM", "AWS_IAM (SigV4)")],
                                  label="Auth type")
    allow_origins = forms.CharField(required=False, label="CORS allowed origins",
                                    help_text="Comma-separated, e.g. https://app.example.com or *.")
    allow_methods = forms.CharField(required=False, label="CORS allowed methods", help_text="e.g. GET, POST")
    allow_headers = forms.CharField(required=False, label="CORS allowed headers")
    expose_headers = forms.CharField(required=False, label="CORS exposed headers")
    max_age = forms.IntegerField(required=False, label="CORS max age (s)")
    allow_credentials = forms.BooleanField(required=False, label="Allow credentials")

    @staticmethod
    def _items(text: str) -> list[str]:
        return [item.strip() for item in (text or "").replace("\n", ",").split(",") if item.strip()]

    def cors(self) -> dict:
        """Lambda's Cors shape of the form ({} when no CORS is asked)."""
        data = self.cleaned_data
        cors: dict = {}
        for field, member in (("allow_origins", "AllowOrigins"), ("allow_methods", "AllowMethods"),
                              ("allow_headers", "AllowHeaders"), ("expose_headers", "ExposeHeaders")):
            if items := self._items(data.get(field)):
                cors[member] = items
        if data.get("max_age") is not None:
            cors["MaxAge"] = data["max_age"]
        if data.get("allow_credentials"):
            cors["AllowCredentials"] = True
        return cors

    @staticmethod
    def initial_for(config) -> dict:
        cors = config.cors or {}
        return {
            "auth_type": config.auth_type,
            "allow_origins": ", ".join(cors.get("AllowOrigins", [])),
            "allow_methods": ", ".join(cors.get("AllowMethods", [])),
            "allow_headers": ", ".join(cors.get("AllowHeaders", [])),
            "expose_headers": ", ".join(cors.get("ExposeHeaders", [])),
            "max_age": cors.get("MaxAge"),
            "allow_credentials": bool(cors.get("AllowCredentials")),
        }


class TagsForm(forms.Form):
    """A function's tags as key=value lines (the whole set: a line removed
    is a tag removed); the rules are functions.service.clean_tags."""

    tags = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 4, "placeholder": "key=value"}),
        help_text="key=value, one a line; at most 50.",
    )

    def clean_tags(self) -> dict:
        result: dict[str, str] = {}
        for n, line in enumerate((self.cleaned_data["tags"] or "").splitlines(), 1):
            if not line.strip():
                continue
            if "=" not in line:
                raise ValidationError(f"Line {n} is not key=value.")
            key, _, value = line.partition("=")
            key, value = key.strip(), value.strip()
            if key in result:
                raise ValidationError(f"Line {n} sets the tag {key} again.")
            result[key] = value
        return _checked(service.clean_tags, result)

    @staticmethod
    def initial_for(fn) -> dict:
        return {"tags": "\n".join(f"{k}={v}" for k, v in (fn.tags or {}).items())}
