"""Schemathesis hooks for .ci/schemathesis.

An `Idempotency-Key` makes the server answer a second request with the same key but another
method, path or body with `422 idempotency_key_reused`, which is right, but no JSON Schema can say
"a key you have not used yet". Hypothesis draws short keys ("0", "A") again and again, so each
valid key gets a unique suffix; an invalid key (which the server must refuse) is left as it is.
"""

import itertools
import re

import schemathesis

VALID = re.compile(r"^[!-~]{1,255}$")
COUNTER = itertools.count()


@schemathesis.hook
def before_call(context, case, kwargs):
    headers = case.headers or {}
    for name in list(headers):
        if name.lower() == "idempotency-key":
            value = headers[name]
            if isinstance(value, str) and VALID.match(value):
                headers[name] = f"{value[:200]}-{next(COUNTER)}"
