"""schemathesis hooks for ``generated.py`` (loaded through ``SCHEMATHESIS_HOOKS``).

JSON Schema cannot say that the columns of a columnar body (``inputs``) hold as many values each, so a
schema-valid body may have ragged columns, which the function rightly refuses (400). Cases generated as
valid get their columns cut to the shortest one: they stay schema-valid and become valid requests.
Cases generated as invalid are left as they are.
"""

import schemathesis
from schemathesis import GenerationMode


@schemathesis.hook
def map_case(context, case):
    inputs = case.body.get("inputs") if isinstance(case.body, dict) else None
    positive = case.meta is not None and case.meta.generation.mode == GenerationMode.POSITIVE
    if positive and isinstance(inputs, dict):
        lengths = [len(values) for values in inputs.values() if isinstance(values, list)]
        if lengths and min(lengths) > 0:
            for name, values in inputs.items():
                if isinstance(values, list):
                    inputs[name] = values[: min(lengths)]
    return case
