"""Drives a real flagtop control plane through the official OpenFeature Python SDK and its
OFREP provider (tests/ofrep/ runs this). Prints one JSON line per evaluation.

  drive.py evaluate FLAG N [bearer|apikey]   N synthetic users, one evaluation each
  drive.py errors FLAG                       the error codes a client meets

OFREP_ENDPOINT is the server's base URL, OFREP_TOKEN the token (never on the command line).
"""

import json
import os
import sys

from openfeature import api
from openfeature.contrib.provider.ofrep import OFREPProvider
from openfeature.evaluation_context import EvaluationContext

REGIONS = ["eu-west", "us-east", "ap-south"]


def user(i):
    """The i-th synthetic user: 1 % internal, 1 % beta, the rest spread over three regions."""
    attrs = {"region": REGIONS[i % 3]}
    if i % 100 == 0:
        attrs["segments"] = ["internal"]
    elif i % 100 == 1:
        attrs["segments"] = ["beta"]
    return EvaluationContext(f"user-{i}", attrs)


def text(v):
    return None if v is None else str(getattr(v, "value", v))


def client(token, auth):
    headers = {"Authorization": f"Bearer {token}"} if auth == "bearer" else {"X-API-Key": token}
    api.set_provider(OFREPProvider(os.environ["OFREP_ENDPOINT"], headers_factory=lambda: headers))
    return api.get_client()


def line(name, d, extra=None):
    out = {
        "name": name,
        "value": d.value,
        "variant": d.variant,
        "reason": text(d.reason),
        "error": text(d.error_code),
        "cohort": (d.flag_metadata or {}).get("cohort"),
    }
    out.update(extra or {})
    print(json.dumps(out))


def main():
    mode, flag = sys.argv[1], sys.argv[2]
    token = os.environ["OFREP_TOKEN"]
    if mode == "evaluate":
        n, auth = int(sys.argv[3]), sys.argv[4] if len(sys.argv) > 4 else "bearer"
        c = client(token, auth)
        for i in range(n):
            ctx = user(i)
            line(ctx.targeting_key, c.get_boolean_details(flag, False, ctx), {"attributes": ctx.attributes})
    elif mode == "errors":
        c = client(token, "bearer")
        line("unknown_flag", c.get_boolean_details("no-such-flag", False, EvaluationContext("user-1")))
        line("no_targeting_key", c.get_boolean_details(flag, False, EvaluationContext(None, {"region": "eu-west"})))
        line("wrong_type", c.get_string_details(flag, "x", EvaluationContext("user-1")))
    else:
        sys.exit(f"unknown mode {mode}")


if __name__ == "__main__":
    main()
